// herald-demo: the webhook routes of CONTRACT.md. Sending: POST /hooks/endpoints,
// GET /hooks/endpoints/{id}, PUT /hooks/endpoints/{id}/keys,
// POST /hooks/endpoints/{id}/replay, over a Sender whose outbox is SQLite in
// --data-dir (memory without it). Receiving: POST /hooks/in with
// --webhook-secret (404 without). While the outbox cannot write (disk full,
// read-only...), publishes to the endpoints' topics, registrations, key
// changes and replays answer 503 (Demo::admit, detail::outbox_unavailable).
#pragma once
#include "demo.hpp"

#include <herald/core/json.hpp>
#include <herald/webhook/policy.hpp>

#include <asio/io_context.hpp>
#include <asio/use_future.hpp>

#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <memory>
#include <thread>

namespace demo {

/// The demo's webhook sender, on a loop thread of its own; its SQLite work
/// runs on the sender's store thread, so a slow or failing disk never delays
/// an HTTP loop or this one. Destroying it stops the sender, which commits
/// what was accepted and checkpoints the outbox: herald-demo's exit path
/// after SIGTERM.
class Webhooks {
 public:
  explicit Webhooks(Demo& d) {
    namespace wh = herald::webhook;
    const Config& cfg = d.cfg;
    wh::SenderOptions so;
    std::error_code ec;
    so.schedule = wh::parse_schedule(cfg.webhook_retry_schedule, ec);
    if (ec) die(2, "bad --webhook-retry-schedule (example: 0s,5s,5m,30m,2h)");
    if (cfg.allow_private_webhook_targets) so.ssrf = wh::SsrfPolicy::allow_local();
    so.metrics = &d.server.metrics();
    so.log = [](std::string_view line) { std::fprintf(stderr, "herald-demo: %.*s\n", int(line.size()), line.data()); };
    std::unique_ptr<wh::Outbox> outbox;
    if (!cfg.data_dir.empty()) {
      std::filesystem::create_directories(cfg.data_dir, ec);
      try {
        outbox = std::make_unique<wh::SqliteOutbox>((std::filesystem::path(cfg.data_dir) / "webhooks.sqlite3").string());
      } catch (const std::exception& e) {
        die(1, e.what());
      }
    } else {
      outbox = std::make_unique<wh::MemoryOutbox>();  // lost on exit: CONTRACT.md's "none (memory)"
    }
    sender_ = std::make_unique<wh::Sender>(io_.get_executor(), d.hub, std::move(outbox), std::move(so));
    thread_ = std::thread([this] { io_.run(); });
    auto started = sender_->async_start(asio::use_future);
    try {
      started.get();
    } catch (const std::system_error& e) {
      std::fprintf(stderr, "herald-demo: cannot read the webhook outbox: %s\n", e.code().message().c_str());
      std::_Exit(1);  // the sender's threads are running: leave without unwinding them
    }
  }

  ~Webhooks() {
    sender_->async_stop(asio::use_future).get();
    guard_.reset();
    io_.stop();
    thread_.join();
    sender_.reset();
  }

  herald::webhook::Sender& sender() { return *sender_; }

  [[noreturn]] static void die(int code, const char* why) {
    std::fprintf(stderr, "herald-demo: %s\n", why);
    std::exit(code);
  }

 private:
  asio::io_context io_{1};
  asio::executor_work_guard<asio::io_context::executor_type> guard_{io_.get_executor()};
  std::unique_ptr<herald::webhook::Sender> sender_;
  std::thread thread_;
};

namespace detail {

/// An exchange waiting for the sender's answer. If the session ends first
/// the Parked object dies with it and the late answer is dropped.
struct Awaiting final : herald::Parked {
  struct Slot {
    herald::Exchange* ex = nullptr;  // touched on the exchange's loop only
  };
  explicit Awaiting(std::shared_ptr<Slot> s, herald::Clock::time_point until) : slot(std::move(s)) { deadline = until; }
  ~Awaiting() override { slot->ex = nullptr; }
  void on_deadline() override { slot->ex->respond_error(504, "the webhook sender took too long"); }
  void on_shutdown() override { slot->ex->respond_error(503, "server is shutting down", {{"Retry-After", "1"}}); }
  std::shared_ptr<Slot> slot;
};

/// Parks `ex` until the sender answers; the returned function answers it on
/// its own loop, from any thread, with `f` (dropped if the session ended).
inline std::function<void(std::function<void(herald::Exchange&)>)> park(herald::Exchange& ex) {
  auto slot = std::make_shared<Awaiting::Slot>();
  slot->ex = &ex;
  auto executor = ex.executor();
  ex.park(std::make_unique<Awaiting>(slot, ex.now() + std::chrono::seconds(15)));
  return [slot, executor](std::function<void(herald::Exchange&)> f) {
    asio::post(executor, [slot, f = std::move(f)] {
      if (slot->ex) f(*slot->ex);
    });
  };
}

/// The answer while the outbox cannot write: 503, nothing accepted.
inline void outbox_unavailable(herald::Exchange& ex, std::error_code ec) {
  ex.respond_error(503, "webhook outbox unavailable (" + ec.message() + "): nothing was accepted, try again later",
                   {{"Retry-After", "1"}});
}

/// Whether `ec` is one of the outbox's storage errors.
inline bool outbox_failure(std::error_code ec) {
  return ec.category() == herald::error_category() && ec.value() >= static_cast<int>(herald::error::outbox_full) &&
         ec.value() <= static_cast<int>(herald::error::outbox_io);
}

inline std::string stats_json(const herald::webhook::EndpointStats& s) {
  std::string o = "{\"id\":\"";
  herald::json::append_escaped(o, s.id);
  o += "\",\"url\":\"";
  herald::json::append_escaped(o, s.url);
  o += "\",\"topics\":[";
  for (std::size_t i = 0; i < s.topics.size(); ++i) {
    o += i ? ",\"" : "\"";
    herald::json::append_escaped(o, s.topics[i]);
    o += "\"";
  }
  o += "],\"delivered\":" + std::to_string(s.delivered) + ",\"pending\":" + std::to_string(s.pending) +
       ",\"retrying\":" + std::to_string(s.retrying) + ",\"dead\":" + std::to_string(s.dead) +
       ",\"disabled\":" + (s.disabled ? "true" : "false") + "}";
  return o;
}

inline constexpr const char* keys_error =
    "\"keys\" must be a non-empty array of signing keys (whsec_... for v1, whsk_... for v1a)";

/// Reads the optional `"keys"` array of strings into `out`; false if malformed.
inline bool read_keys(const herald::json::Value& doc, std::vector<std::string>& out) {
  const auto* keys = doc.find("keys");
  if (!keys) return true;
  if (!keys->as_array() || keys->as_array()->empty()) return false;
  for (const auto& k : *keys->as_array()) {
    if (!k.as_string() || k.as_string()->empty()) return false;
    out.push_back(*k.as_string());
  }
  return true;
}

}  // namespace detail

/// Adds the webhook routes to the demo's server; the returned object owns
/// the sender and must outlive the server's run (main keeps it to the end).
inline std::unique_ptr<Webhooks> add_webhook_routes(Demo& d) {
  namespace wh = herald::webhook;
  auto hooks = std::make_unique<Webhooks>(d);
  Webhooks* w = hooks.get();
  auto& s = d.server;

  if (!d.cfg.webhook_secret.empty()) {
    herald::WebhookReceiverOptions ro;
    std::error_code ec;
    ro.secrets.push_back(wh::Secret::parse(d.cfg.webhook_secret, ec));
    if (ec) Webhooks::die(2, "bad --webhook-secret (expected whsec_<base64>)");
    herald::WebhookPolicy::install_receiver(s, "/hooks/in", d.hub, std::move(ro));
  }

  s.route("POST", "/hooks/endpoints", [w](herald::Exchange& ex) {
    auto doc = herald::json::parse(ex.request().body());
    if (!doc || !doc->is_object()) return ex.respond_error(400, "body must be a JSON object");
    const auto* url = doc->find("url");
    const auto* secret = doc->find("secret");
    const auto* topics = doc->find("topics");
    if (!url || !url->as_string()) return ex.respond_error(400, "\"url\" must be a string");
    if (secret && !secret->as_string()) return ex.respond_error(400, "\"secret\" must be a whsec_ string");
    if (!topics || !topics->as_array() || topics->as_array()->empty())
      return ex.respond_error(400, "\"topics\" must be a non-empty array of topic names");
    wh::EndpointConfig cfg{.url = *url->as_string(), .secret = secret ? *secret->as_string() : std::string()};
    if (!detail::read_keys(*doc, cfg.keys)) return ex.respond_error(400, detail::keys_error);
    if (cfg.secret.empty() && cfg.keys.empty())
      return ex.respond_error(400, "give \"secret\" or \"keys\": at least one signing key");
    for (const auto& t : *topics->as_array()) {
      if (!t.as_string() || !herald::valid_topic(*t.as_string()))
        return ex.respond_error(400, "topic must be 1-128 of A-Za-z0-9_.-");
      cfg.topics.push_back(*t.as_string());
    }
    for (const auto& t : cfg.topics)
      if (!ex.authorize(t, herald::auth::Action::subscribe)) return;
    // Resolving the host and storing the endpoint take a while: park the
    // exchange, answer from its own loop when the sender is done.
    auto answer = detail::park(ex);
    w->sender().async_add_endpoint(std::move(cfg), [answer](std::error_code ec, std::string id) {
      answer([ec, id = std::move(id)](herald::Exchange& e) {
        if (!ec) return e.respond(201, "application/json", "{\"id\":\"" + id + "\"}");
        if (detail::outbox_failure(ec)) return detail::outbox_unavailable(e, ec);
        if (ec == herald::error::webhook_forbidden_address)
          return e.respond_error(400, "target address not allowed (private, loopback, link-local, metadata...)");
        if (ec == herald::error::shutting_down) return e.respond_error(503, "server is shutting down", {{"Retry-After", "1"}});
        if (ec.category() == herald::error_category()) return e.respond_error(400, ec.message());
        e.respond_error(400, "cannot resolve the URL's host: " + ec.message());
      });
    });
  });

  s.route("GET", "/hooks/endpoints/{id}", [w](herald::Exchange& ex) {
    auto st = w->sender().stats(ex.param("id"));
    if (!st) return ex.respond_error(404, "no such endpoint");
    ex.respond(200, "application/json", detail::stats_json(*st));
  });

  // Rotation: PUT {old, new}, later PUT {new}. Attempts started after the
  // answer are signed with the new list.
  s.route("PUT", "/hooks/endpoints/{id}/keys", [w](herald::Exchange& ex) {
    auto doc = herald::json::parse(ex.request().body());
    std::vector<std::string> keys;
    if (!doc || !doc->is_object() || !doc->find("keys") || !detail::read_keys(*doc, keys) || keys.empty())
      return ex.respond_error(400, detail::keys_error);
    // Who may register an endpoint for its topics may change its keys.
    auto st = w->sender().stats(ex.param("id"));
    if (!st) return ex.respond_error(404, "no such endpoint");
    for (const auto& t : st->topics)
      if (!ex.authorize(t, herald::auth::Action::subscribe)) return;
    const std::size_t n = keys.size();
    auto answer = detail::park(ex);
    w->sender().async_set_signing_keys(std::string(ex.param("id")), std::move(keys), [answer, n](std::error_code ec) {
      answer([ec, n](herald::Exchange& e) {
        if (ec == herald::error::not_found) return e.respond_error(404, "no such endpoint");
        if (detail::outbox_failure(ec)) return detail::outbox_unavailable(e, ec);
        if (ec) return e.respond_error(400, ec.message());
        e.respond(200, "application/json", "{\"keys\":" + std::to_string(n) + "}");
      });
    });
  });

  s.route("POST", "/hooks/endpoints/{id}/replay", [w](herald::Exchange& ex) {
    auto answer = detail::park(ex);
    w->sender().async_replay(std::string(ex.param("id")), [answer](std::error_code ec, std::size_t n) {
      answer([ec, n](herald::Exchange& e) {
        if (ec == herald::error::not_found) return e.respond_error(404, "no such endpoint");
        if (ec) return detail::outbox_unavailable(e, ec);
        e.respond(202, "application/json", "{\"requeued\":" + std::to_string(n) + "}");
      });
    });
  });

  // Publishes to a topic an endpoint takes are refused while the outbox
  // cannot write (main.cpp's POST /publish and the WebSocket topics ask).
  d.admit = [w](std::string_view topic) { return w->sender().admit(topic); };
  return hooks;
}

}  // namespace demo
