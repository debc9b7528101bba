// herald-demo: the webhook routes of CONTRACT.md. Sending: POST /hooks/endpoints,
// GET /hooks/endpoints/{id}, POST /hooks/endpoints/{id}/replay, over a Sender
// whose outbox is SQLite in --data-dir (memory without it). Receiving:
// POST /hooks/in with --webhook-secret (404 without).
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

/// The demo's webhook sender, on a loop thread of its own (so a slow SQLite
/// commit never delays an HTTP loop). Destroying it stops the sender, which
/// commits what was accepted and checkpoints the outbox: herald-demo's exit
/// path after SIGTERM.
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
    sender_->async_start(asio::use_future).get();
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
  void on_deadline() override { slot->ex->respond_error(504, "webhook registration took too long"); }
  void on_shutdown() override { slot->ex->respond_error(503, "server is shutting down", {{"Retry-After", "1"}}); }
  std::shared_ptr<Slot> slot;
};

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
    // Resolving the host may take a while: park the exchange, answer from
    // its own loop when the sender is done.
    auto slot = std::make_shared<detail::Awaiting::Slot>();
    slot->ex = &ex;
    auto executor = ex.executor();
    ex.park(std::make_unique<detail::Awaiting>(slot, ex.now() + std::chrono::seconds(15)));
    w->sender().async_add_endpoint(std::move(cfg), [slot, executor](std::error_code ec, std::string id) {
      asio::post(executor, [slot, ec, id = std::move(id)] {
        herald::Exchange* e = slot->ex;
        if (!e) return;
        if (!ec) return e->respond(201, "application/json", "{\"id\":\"" + id + "\"}");
        if (ec == herald::error::webhook_forbidden_address)
          return e->respond_error(400, "target address not allowed (private, loopback, link-local, metadata...)");
        if (ec.category() == herald::error_category()) return e->respond_error(400, ec.message());
        e->respond_error(400, "cannot resolve the URL's host: " + ec.message());
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
    auto ec = w->sender().set_signing_keys(ex.param("id"), keys);
    if (ec == herald::error::not_found) return ex.respond_error(404, "no such endpoint");
    if (ec) return ex.respond_error(400, ec.message());
    ex.respond(200, "application/json", "{\"keys\":" + std::to_string(keys.size()) + "}");
  });

  s.route("POST", "/hooks/endpoints/{id}/replay", [w](herald::Exchange& ex) {
    auto n = w->sender().replay(ex.param("id"));
    if (!n) return ex.respond_error(404, "no such endpoint");
    ex.respond(202, "application/json", "{\"requeued\":" + std::to_string(*n) + "}");
  });
  return hooks;
}

}  // namespace demo
