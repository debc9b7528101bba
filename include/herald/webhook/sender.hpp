// herald: the webhook sender: endpoints subscribed to the hub, an outbox of
// what is owed, signed POSTs over herald's client, retries on the schedule.
#pragma once
#include <herald/core/broadcaster.hpp>
#include <herald/core/clock.hpp>
#include <herald/core/metrics.hpp>
#include <herald/core/topic.hpp>
#include <herald/http/client.hpp>
#include <herald/webhook/delivery.hpp>
#include <herald/webhook/outbox.hpp>
#include <herald/webhook/resolver.hpp>
#include <herald/webhook/retry.hpp>
#include <herald/webhook/signature.hpp>
#include <herald/webhook/ssrf.hpp>

#include <openssl/rand.h>

#include <functional>
#include <map>
#include <mutex>
#include <random>
#include <set>

namespace herald::webhook {

/// Per-endpoint delivery knobs.
struct EndpointOptions {
  /// Attempts in flight at once. 4: enough to keep a slow receiver busy
  /// without opening a connection storm against it.
  std::uint32_t max_in_flight = 4;
  /// Strict order: one attempt at a time, and a message is not attempted
  /// before every earlier one of the endpoint is delivered or dead-lettered
  /// (a failing head blocks the rest: that is the price of order).
  bool ordered = false;
};

/// What registering an endpoint takes.
///
/// Signing keys: `secret` and `keys` together, at least one. Each is a v1
/// secret (`whsec_<base64>`) or a v1a ed25519 key (`whsk_<base64>`), and each
/// signs every delivery: `webhook-signature` carries one entry per key
/// (`v1,<base64> v1a,<base64>`). Rotate with Sender::set_signing_keys.
struct EndpointConfig {
  std::string url{};                ///< `http(s)://host[:port]/path`
  std::string secret{};             ///< a signing key, usually `whsec_<base64>`; may be empty if `keys` is not
  std::vector<std::string> topics{};  ///< at least one valid topic
  EndpointOptions options{};
  std::string id{};                 ///< empty: a random `ep_...` id
  std::vector<std::string> keys{};  ///< more signing keys (`whsec_...` / `whsk_...`), after `secret`
};

/// An endpoint as reported (GET /hooks/endpoints/{id}).
struct EndpointStats {
  std::string id, url;
  std::vector<std::string> topics;
  std::uint64_t delivered = 0, pending = 0, retrying = 0, dead = 0, in_flight = 0;
  bool disabled = false;
};

/// One attempt's result, for observers (tests, logs).
struct AttemptReport {
  std::string endpoint_id, msg_id, topic;
  std::uint64_t event_id = 0;
  std::uint32_t attempt = 0;       ///< 1 for the first
  int status = 0;                  ///< 0: no response (ec says why)
  std::error_code ec;
  Outcome outcome = Outcome::retry;
  MessageState state = MessageState::pending;  ///< after the attempt
  std::int64_t next_attempt_ms = 0;            ///< when retrying
};

/// Sender knobs.
struct SenderOptions {
  Schedule schedule = default_schedule();  ///< delay before each attempt (retry.hpp)
  SsrfPolicy ssrf{};                       ///< refuses every non-global address by default
  ClassifyOptions classify{};
  http::ClientOptions client{};
  /// An endpoint failing without a success for this long is disabled. 5 days,
  /// as Svix: long enough to outlast a weekend outage, short enough that a
  /// dead endpoint stops costing attempts.
  std::chrono::milliseconds disable_after = std::chrono::hours(24 * 5);
  /// Where the schedule reads the time. Tests: a ManualClock with `manual`.
  TimeSource* time = &SteadyTimeSource::instance();
  /// No timer: due attempts start only on tick() (tests).
  bool manual = false;
  std::shared_ptr<Resolver> resolver{};  ///< null: AsioResolver (getaddrinfo)
  std::uint64_t seed = 0;                ///< jitter RNG seed; 0: random
  std::function<void(const AttemptReport&)> on_attempt{};  ///< called on the sender's executor
  Metrics* metrics = &default_metrics();
};

/// Sends the events of a hub's topics to webhook endpoints, at least once.
///
/// **Shape.** DESIGN.md calls an outbound endpoint `Connection<WebhookPolicy>`.
/// `core/connection.hpp` is one long-lived stream with a send queue; an
/// endpoint is not: it is a queue that outlives the process, drained by
/// short HTTP exchanges that may run several at once, each over a pooled
/// connection. So an endpoint here is a Subscriber on the hub (one per
/// endpoint, all on the sender's executor) plus its slice of the outbox, and
/// the Sender is the write loop they share: it schedules attempts, signs,
/// sends with herald's http::Client and records each result.
///
/// **Life of a message.** An event of one of the endpoint's topics reaches
/// the endpoint's on_event; it becomes a Message (body of CONTRACT.md,
/// `webhook-id` fixed now) and is committed to the outbox in a batch with the
/// others of that loop pass; only then is it attempted. Each attempt: resolve
/// the host (the Resolver seam), check every address (SsrfPolicy), connect to
/// those addresses only, POST with `webhook-id`, `webhook-timestamp` (now) and
/// `webhook-signature`. The answer is classified (retry.hpp): 2xx delivered;
/// 408, 429 and 5xx, 3xx, timeouts, network errors and refused addresses are
/// retried after `delay_before` (full jitter, Retry-After as a floor); 410
/// disables the endpoint (its messages stay owed); another 4xx dead-letters;
/// the end of the schedule dead-letters. Dead letters are listed and replayed.
///
/// **Time.** The schedule runs on `SenderOptions::time`, mapped to wall-clock
/// milliseconds for the outbox (so a restart keeps due times). Signature
/// timestamps use the real system clock: they are about the receiver's now.
///
/// **Message ids.** `message_id(endpoint + epoch, topic, event id)`: stable
/// across attempts and replays (it is stored), and different for every
/// (endpoint, topic, id) and every process lifetime of a durable outbox
/// (event ids restart at 1 after a restart).
///
/// **Durability window.** An event is owed once its batch is committed: from
/// then it survives SIGKILL (SqliteOutbox). Between `publish` and that commit
/// (one post to the sender's thread) a kill loses it; a publisher that needs
/// more waits for the endpoint's counts before acknowledging. Deliveries are
/// recorded in batches too (one transaction per loop pass, 6x the throughput
/// of one per delivery): a kill between a 2xx and that commit means the
/// message is sent again after the restart, with the same `webhook-id`
/// (at-least-once; receivers dedupe on it).
///
/// @par Thread Safety
/// `ex` must be single-threaded (an io_context run by one thread, as each of
/// herald::Server's loops is): the hub shards subscribers per context. Every
/// public function is thread-safe (one mutex; I/O runs on `ex`).
/// Call async_stop() and let it complete before destroying the Sender.
class Sender {
 public:
  HERALD_DECL Sender(asio::any_io_executor ex, Hub& hub, std::unique_ptr<Outbox> outbox, SenderOptions o = {});
  HERALD_DECL ~Sender();
  Sender(const Sender&) = delete;
  Sender& operator=(const Sender&) = delete;

  /// Loads endpoints and owed messages from the outbox and subscribes. Completion `void(std::error_code)`.
  template <class Token>
  auto async_start(Token&& token) {
    return asio::async_initiate<Token, void(std::error_code)>(
        [this](auto h) {
          asio::post(ex_, [this, h = std::move(h)]() mutable {
            std::error_code ec;
            try {
              start_on_loop();
            } catch (const std::exception&) {
              ec = make_error_code(error::invalid_argument);
            }
            auto hex = asio::get_associated_executor(h, ex_);
            asio::post(hex, [h = std::move(h), ec]() mutable { h(ec); });
          });
        },
        token);
  }

  /// Registers an endpoint. Checks the URL, secret and topics
  /// (error::webhook_bad_url, webhook_bad_secret, invalid_topic), resolves the
  /// host and checks it against the SSRF policy (webhook_forbidden_address),
  /// then stores and subscribes it. Every event of its topics published after
  /// the completion is delivered. Completion `void(std::error_code, std::string id)`.
  template <class Token>
  auto async_add_endpoint(EndpointConfig cfg, Token&& token) {
    return asio::async_initiate<Token, void(std::error_code, std::string)>(
        [this](auto h, EndpointConfig c) {
          auto hp = std::make_shared<decltype(h)>(std::move(h));
          add_endpoint_impl(std::move(c), [this, hp](std::error_code ec, std::string id) {
            auto hex = asio::get_associated_executor(*hp, ex_);
            asio::post(hex, [hp, ec, id = std::move(id)]() mutable { std::move (*hp)(ec, std::move(id)); });
          });
        },
        token, std::move(cfg));
  }

  /// Runs the due attempts now, on the executor. Completion `void(std::size_t started)`.
  template <class Token>
  auto async_tick(Token&& token) {
    return asio::async_initiate<Token, void(std::size_t)>(
        [this](auto h) {
          asio::post(ex_, [this, h = std::move(h)]() mutable {
            std::size_t n;
            {
              std::lock_guard lk(mu_);
              n = run_due_locked();
            }
            auto hex = asio::get_associated_executor(h, ex_);
            asio::post(hex, [h = std::move(h), n]() mutable { h(n); });
          });
        },
        token);
  }

  /// Unsubscribes, commits what is accepted, checkpoints the outbox, and
  /// closes idle connections. Attempts in flight still record their result
  /// if the executor keeps running. Completion `void()`.
  template <class Token>
  auto async_stop(Token&& token) {
    return asio::async_initiate<Token, void()>(
        [this](auto h) {
          asio::post(ex_, [this, h = std::move(h)]() mutable {
            stop_on_loop();
            auto hex = asio::get_associated_executor(h, ex_);
            asio::post(hex, std::move(h));
          });
        },
        token);
  }

  /// The endpoint's counts, or nullopt for an unknown id.
  HERALD_DECL std::optional<EndpointStats> stats(std::string_view id) const;
  /// The endpoint's dead letters, oldest first.
  HERALD_DECL std::vector<Message> dead_letters(std::string_view id);
  /// Re-queues the endpoint's dead letters (attempts start again at the top of
  /// the schedule, same `webhook-id`); returns how many, or nullopt for an unknown id.
  HERALD_DECL std::optional<std::size_t> replay(std::string_view id);
  /// Re-enables a disabled endpoint; its owed messages are attempted again.
  HERALD_DECL bool enable(std::string_view id);
  /// Replaces the endpoint's signing keys (`whsec_...` / `whsk_...`, as in
  /// EndpointConfig) and stores them; attempts started from now on are signed
  /// with them. A rotation is two calls: `{old, new}` (every delivery carries
  /// both signatures while receivers switch), later `{new}`.
  /// @return error::not_found for an unknown id, error::webhook_bad_secret if
  /// `keys` is empty or a key is malformed (the old keys stay), else success.
  HERALD_DECL std::error_code set_signing_keys(std::string_view id, const std::vector<std::string>& keys);
  /// Runs due attempts soon (posts to the executor).
  HERALD_DECL void tick();
  /// Wall-clock milliseconds as the schedule sees them.
  HERALD_DECL std::int64_t now_ms() const;
  http::Client& client() noexcept { return client_; }
  asio::any_io_executor get_executor() const noexcept { return ex_; }

 private:
  struct Endpoint;
  using Done = std::function<void(std::error_code, std::string)>;
  HERALD_DECL void add_endpoint_impl(EndpointConfig c, Done done);
  HERALD_DECL void start_on_loop();
  HERALD_DECL void stop_on_loop();
  HERALD_DECL Endpoint& attach(EndpointRecord rec, Url url, SigningKeys keys);
  HERALD_DECL void on_event(Endpoint& ep, const EventPtr& ev);
  HERALD_DECL void commit_batch_locked();
  HERALD_DECL void schedule_commit_locked();
  HERALD_DECL std::size_t run_due_locked();
  HERALD_DECL void arm_locked();
  HERALD_DECL void start_attempt_locked(Endpoint& ep, std::int64_t seq);
  HERALD_DECL void send(Endpoint& ep, std::int64_t seq, const Resolved& r);
  HERALD_DECL void finish(Endpoint& ep, std::int64_t seq, int status, std::optional<std::string> retry_after,
                          std::error_code ec);
  HERALD_DECL void mark_failing_locked(Endpoint& ep, std::int64_t now);
  HERALD_DECL void post_run();

  struct Endpoint final : Subscriber {
    Endpoint(Sender& s, EndpointRecord r, Url u, SigningKeys k)
        : sender(s), rec(std::move(r)), url(std::move(u)), keys(std::move(k)) {}
    void on_event(const EventPtr& ev, Subscription&) override { sender.on_event(*this, ev); }
    Sender& sender;
    EndpointRecord rec;
    Url url;
    SigningKeys keys;  // parsed from rec.secret; guarded by the sender's mutex
    std::vector<std::unique_ptr<Subscription>> subs;  // touched on the executor only
    std::map<std::int64_t, Message> owed;             // pending and retrying, by seq
    std::set<std::pair<std::int64_t, std::int64_t>> due;  // (next_attempt_ms, seq), not in flight
    std::uint64_t pending = 0, retrying = 0, dead = 0;
    std::uint32_t in_flight = 0;
    std::uint32_t limit() const { return rec.ordered ? 1 : std::max<std::uint32_t>(1, rec.max_in_flight); }
  };

  asio::any_io_executor ex_;
  Hub& hub_;
  std::unique_ptr<Outbox> outbox_;
  SenderOptions opt_;
  http::Client client_;
  asio::steady_timer timer_;
  mutable std::mutex mu_;
  std::map<std::string, std::unique_ptr<Endpoint>, std::less<>> endpoints_;
  std::vector<Message> batch_;
  std::vector<Endpoint*> batch_eps_;
  std::vector<Message> delivered_;  // delivered, recorded in the outbox with the next batch
  std::mt19937_64 rng_;
  std::string epoch_;
  std::int64_t anchor_wall_ms_;
  Clock::time_point anchor_;
  bool batch_posted_ = false, stopped_ = false;
};

}  // namespace herald::webhook

#include <herald/webhook/impl/sender.hpp>
