// herald: WebhookPolicy: webhooks in (a verified route that publishes to the
// hub) and out (the Sender: endpoints as hub subscribers, durable outbox).
#pragma once
#include <herald/core/broadcaster.hpp>
#include <herald/http/server.hpp>
#include <herald/webhook/sender.hpp>
#include <herald/webhook/verifier.hpp>

#include <asio/post.hpp>

#include <chrono>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

namespace herald {

/// Knobs of a webhook receiving route.
struct WebhookReceiverOptions {
  std::vector<webhook::Secret> secrets;             ///< `v1` keys; several during a rotation
  std::vector<webhook::VerifyingKey> public_keys;   ///< `v1a` keys
  /// 5 minutes both ways (Standard Webhooks' reference libraries).
  std::chrono::seconds tolerance = webhook::default_tolerance;
  /// Where verified bodies are published.
  std::string topic = "webhooks";
  /// Replay cache bounds: 10,000 ids, 10 minutes (twice the tolerance).
  webhook::RecentIds::Options recent{};
  /// The receiver's clock (tests); empty: the system clock.
  std::function<std::chrono::system_clock::time_point()> now{};
};

/// Webhooks, both ways.
///
/// **Out**: see webhook::Sender. DESIGN.md's `Connection<WebhookPolicy>` is,
/// in code, a Sender endpoint: a hub Subscriber with its slice of the outbox,
/// not a stream Connection (the class notes of Sender say why).
///
/// **In**: install_receiver() adds `POST pattern` that verifies Standard
/// Webhooks signatures (`v1` and `v1a`, several entries per header, unknown
/// schemes skipped, constant-time comparison), refuses timestamps further
/// than the tolerance from now, and remembers recent `webhook-id`s:
/// - valid and new: 200 `{"duplicate":false}` at once, then the raw body is
///   published to `topic` (posted after the answer, so a slow hub never holds
///   the sender's connection: answer fast, process after);
/// - valid but seen before: 200 `{"duplicate":true}`, not published again;
/// - headers missing: 400 (the request is not a webhook at all);
/// - bad signature, malformed or stale timestamp: 401 (it claims to be one
///   and cannot prove it). Either way nothing is published; a Standard
///   Webhooks sender does not retry a 4xx, so the split is for humans reading
///   logs. Counted in `webhooks_received` / `webhooks_rejected`.
///
/// The id is remembered only after the signature verified, so forged
/// requests cannot fill the replay cache. The cache is shared by the server's
/// threads behind a mutex (RecentIds itself is single-threaded).
///
/// Stripe and GitHub signatures: use webhook::verify_stripe / verify_github
/// (verifier.hpp) in a route of your own, the same way.
///
/// @par Example
/// @code
/// herald::WebhookReceiverOptions o;
/// o.secrets.push_back(herald::webhook::Secret::parse("whsec_...", ec));
/// herald::WebhookPolicy::install_receiver(server, "/hooks/in", hub, std::move(o));
/// @endcode
class WebhookPolicy {
 public:
  static constexpr TransportKind kind = TransportKind::webhook;

  /// The receiving route (see the class notes). `hub` must outlive the server.
  template <class HubT>
  static void install_receiver(Server& server, std::string_view pattern, HubT& hub, WebhookReceiverOptions o);

  /// `server.serve<WebhookPolicy>(pattern, hub, options)`: install_receiver.
  template <class HubT>
  static void install(Server& server, std::string_view pattern, HubT& hub, WebhookReceiverOptions o) {
    install_receiver(server, pattern, hub, std::move(o));
  }
};

/// The sending side under its DESIGN.md name.
using WebhookSender = webhook::Sender;

template <class HubT>
void WebhookPolicy::install_receiver(Server& server, std::string_view pattern, HubT& hub, WebhookReceiverOptions o) {
  struct State {
    explicit State(WebhookReceiverOptions opt) : o(std::move(opt)), recent(o.recent) {}
    WebhookReceiverOptions o;
    std::mutex mu;
    webhook::RecentIds recent;
  };
  auto st = std::make_shared<State>(std::move(o));
  server.route("POST", pattern, [st, &hub](Exchange& ex) {
    const auto& req = ex.request();
    const auto now = st->o.now ? st->o.now() : std::chrono::system_clock::now();
    const auto h = webhook::StandardHeaders::from(req);
    if (auto ec = webhook::verify_standard(h, req.body(), st->o.secrets, st->o.public_keys, now, st->o.tolerance)) {
      Metrics::add(ex.metrics().webhooks_rejected);
      return ex.respond_error(ec == error::webhook_missing_header ? 400 : 401, ec.message());
    }
    bool dup;
    {
      std::lock_guard lk(st->mu);
      dup = st->recent.seen_or_insert(*h.id, now);
    }
    Metrics::add(ex.metrics().webhooks_received);
    // Taken before answering: answering may close the session or start the
    // next pipelined request on this same Exchange.
    auto executor = ex.executor();
    std::string body = dup ? std::string() : req.body();
    ex.respond(200, "application/json", dup ? R"({"duplicate":true})" : R"({"duplicate":false})");
    if (dup) return;
    asio::post(executor, [st, &hub, body = std::move(body)]() {
      if constexpr (requires { hub.publish(st->o.topic, body); }) hub.publish(st->o.topic, body);
      else hub.commit(st->o.topic, body);
    });
  });
}

}  // namespace herald
