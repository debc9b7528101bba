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

#include <asio/thread_pool.hpp>

#include <openssl/rand.h>

#include <atomic>
#include <cstdio>
#include <functional>
#include <map>
#include <mutex>
#include <random>
#include <set>
#include <utility>

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
  /// Accepted messages waiting for their commit (in memory) past which
  /// admit() refuses publishes to the endpoints' topics. 10,000: far above
  /// what one loop pass gathers on a healthy disk, small enough (about the
  /// events' size plus 300 B each) to hold while the outbox cannot write.
  std::size_t max_unwritten = 10000;
  /// Longest pause between two tries of a failing commit; the first comes
  /// after 50 ms and each next one waits twice as long, up to this. 2 s: a
  /// disk with room again is used within 2 s, and a failing one costs one
  /// transaction every 2 s.
  std::chrono::milliseconds outbox_retry_max = std::chrono::seconds(2);
  /// One line when the outbox starts failing, when its error changes, and
  /// when it recovers; called on the sender's executor. Empty: standard error.
  std::function<void(std::string_view)> log{};
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
/// **Storage off the loop.** Every outbox call runs on the sender's store
/// thread (one thread of its own), never on `ex` or a caller's thread; its
/// result comes back to `ex`. What changes in one loop pass (new messages,
/// attempt results, deliveries, endpoint rows) is one commit
/// (Outbox::apply), one at a time.
///
/// **When storage fails** (disk full, read-only, locked, corrupt: the
/// `outbox_*` errors): nothing accepted is dropped and nothing is marked
/// delivered that was not. A failed commit is kept whole in memory and tried
/// again (50 ms, doubling to `outbox_retry_max`) until it succeeds; messages
/// accepted meanwhile wait with it (they are attempted once written); a
/// delivery whose mark did not commit stays owed in the outbox, so a restart
/// meanwhile sends it again with the same `webhook-id` (at-least-once; the
/// receiver dedupes). New work is refused with the error instead: admit()
/// (a publisher asks it before publishing: 503 in the demo), endpoint
/// registration and key changes, replay. Each failed commit counts in
/// `webhook_outbox_errors`, each refusal in `webhook_refused`; the first
/// failure, each change of error and the recovery are logged.
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
/// (one post to the sender's thread, or longer while the outbox fails) a kill
/// loses it; a publisher that needs more waits for the endpoint's counts
/// before acknowledging. Deliveries are recorded in batches too (one
/// transaction per loop pass): a kill between a 2xx and that commit means the
/// message is sent again after the restart, with the same `webhook-id`
/// (at-least-once; receivers dedupe on it).
///
/// **Lifetime.** async_stop() unsubscribes, cancels every attempt in flight
/// (its connection closed; it is not counted as an attempt and stays owed),
/// commits what was accepted, and completes only once every handler the
/// sender started (attempts, timers, resolutions, store jobs) has run: a
/// gate counts them. After that the Sender may be destroyed while `ex` keeps
/// running. A DNS look-up in progress cannot be interrupted: stop waits for it.
/// Storage work runs on the Sender's own thread and does not count as work
/// on `ex`: a program that runs its io_context only until it has nothing
/// left to do keeps a work guard until the completions it waits for arrive.
///
/// @par Thread Safety
/// `ex` must be single-threaded (an io_context run by one thread, as each of
/// herald::Server's loops is): the hub shards subscribers per context. Every
/// public function may be called from any thread (a mutex guards the state
/// in memory, never held across storage calls; I/O runs on `ex`, storage on
/// the store thread). Call async_stop() and let it complete before
/// destroying the Sender; call nothing after.
class Sender {
 public:
  HERALD_DECL Sender(asio::any_io_executor ex, Hub& hub, std::unique_ptr<Outbox> outbox, SenderOptions o = {});
  HERALD_DECL ~Sender();
  Sender(const Sender&) = delete;
  Sender& operator=(const Sender&) = delete;

  /// Loads endpoints and owed messages from the outbox (on the store thread)
  /// and subscribes. Completion `void(std::error_code)`: an `outbox_*` error
  /// if the outbox cannot be read.
  template <class Token>
  auto async_start(Token&& token) {
    return asio::async_initiate<Token, void(std::error_code)>(
        [this](auto h) {
          auto hp = std::make_shared<decltype(h)>(std::move(h));
          auto hex = asio::get_associated_executor(*hp, ex_);
          start_impl([hp, hex](std::error_code ec) { asio::post(hex, [hp, ec]() mutable { std::move(*hp)(ec); }); });
        },
        token);
  }

  /// Registers an endpoint. Checks the URL, secret and topics
  /// (error::webhook_bad_url, webhook_bad_secret, invalid_topic), resolves the
  /// host and checks it against the SSRF policy (webhook_forbidden_address),
  /// then stores and subscribes it; an `outbox_*` error if it cannot be
  /// stored (nothing registered). Every event of its topics published after
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
          asio::post(ex_, [this, h = std::move(h), g = hold()]() mutable {
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

  /// Unsubscribes, cancels the attempts in flight, commits what is accepted,
  /// checkpoints the outbox and closes idle connections. Completes when every
  /// handler the sender started has run (see Lifetime above). Completion `void()`.
  template <class Token>
  auto async_stop(Token&& token) {
    return asio::async_initiate<Token, void()>(
        [this](auto h) {
          auto hp = std::make_shared<decltype(h)>(std::move(h));
          auto hex = asio::get_associated_executor(*hp, ex_);
          stop_impl([hp, hex] { asio::post(hex, [hp]() mutable { std::move(*hp)(); }); });
        },
        token);
  }

  /// Whether a publish to `topic` may be accepted now: success, or the
  /// outbox's error while it cannot write (or error::outbox_busy while more
  /// than `max_unwritten` accepted messages wait for their commit), if an
  /// endpoint takes `topic`. Ask before publishing and refuse the publish
  /// (the demo answers 503) on an error: what is published is accepted and
  /// kept in memory until written, so this is what bounds that memory.
  /// Each refusal counts in `webhook_refused`. Lock-free while the outbox is healthy.
  HERALD_DECL std::error_code admit(std::string_view topic) const;

  /// The endpoint's counts, or nullopt for an unknown id (from memory).
  HERALD_DECL std::optional<EndpointStats> stats(std::string_view id) const;

  /// The endpoint's dead letters, oldest first (read on the store thread).
  /// Completion `void(std::error_code, std::vector<Message>)`: error::not_found
  /// for an unknown id, an `outbox_*` error if the outbox cannot be read.
  template <class Token>
  auto async_dead_letters(std::string id, Token&& token) {
    return asio::async_initiate<Token, void(std::error_code, std::vector<Message>)>(
        [this](auto h, std::string id) {
          auto hp = std::make_shared<decltype(h)>(std::move(h));
          auto hex = asio::get_associated_executor(*hp, ex_);
          dead_letters_impl(std::move(id), [hp, hex](std::error_code ec, std::vector<Message> v) {
            asio::post(hex, [hp, ec, v = std::move(v)]() mutable { std::move(*hp)(ec, std::move(v)); });
          });
        },
        token, std::move(id));
  }

  /// Re-queues the endpoint's dead letters (attempts start again at the top
  /// of the schedule, same `webhook-id`). Completion `void(std::error_code,
  /// std::size_t requeued)`: error::not_found for an unknown id, an
  /// `outbox_*` error if the outbox cannot write (nothing re-queued).
  template <class Token>
  auto async_replay(std::string id, Token&& token) {
    return asio::async_initiate<Token, void(std::error_code, std::size_t)>(
        [this](auto h, std::string id) {
          auto hp = std::make_shared<decltype(h)>(std::move(h));
          auto hex = asio::get_associated_executor(*hp, ex_);
          replay_impl(std::move(id), [hp, hex](std::error_code ec, std::size_t n) {
            asio::post(hex, [hp, ec, n]() mutable { std::move(*hp)(ec, n); });
          });
        },
        token, std::move(id));
  }

  /// Replaces the endpoint's signing keys (`whsec_...` / `whsk_...`, as in
  /// EndpointConfig) and stores them; attempts started after the completion
  /// are signed with them. A rotation is two calls: `{old, new}` (every
  /// delivery carries both signatures while receivers switch), later `{new}`.
  /// Completion `void(std::error_code)`: error::not_found for an unknown id,
  /// error::webhook_bad_secret if `keys` is empty or a key is malformed, an
  /// `outbox_*` error if they cannot be stored (the old keys stay in every
  /// case but success).
  template <class Token>
  auto async_set_signing_keys(std::string id, std::vector<std::string> keys, Token&& token) {
    return asio::async_initiate<Token, void(std::error_code)>(
        [this](auto h, std::string id, std::vector<std::string> keys) {
          auto hp = std::make_shared<decltype(h)>(std::move(h));
          auto hex = asio::get_associated_executor(*hp, ex_);
          set_keys_impl(std::move(id), std::move(keys), [hp, hex](std::error_code ec) {
            asio::post(hex, [hp, ec]() mutable { std::move(*hp)(ec); });
          });
        },
        token, std::move(id), std::move(keys));
  }

  /// Re-enables a disabled endpoint; its owed messages are attempted again.
  HERALD_DECL bool enable(std::string_view id);
  /// Runs due attempts soon (posts to the executor).
  HERALD_DECL void tick();
  /// Wall-clock milliseconds as the schedule sees them.
  HERALD_DECL std::int64_t now_ms() const;
  /// The outbox's last error (success while it writes).
  HERALD_DECL std::error_code outbox_error() const;
  http::Client& client() noexcept { return client_; }
  asio::any_io_executor get_executor() const noexcept { return ex_; }

 private:
  struct Endpoint;
  struct WriteJob;
  using Done = std::function<void(std::error_code, std::string)>;

  /// One operation the sender started (a post, a timer wait, an attempt, a
  /// store job): counted while its handler is alive. async_stop completes
  /// when the count is zero (Seastar's gate).
  class Hold {
   public:
    explicit Hold(Sender* s) noexcept : s_(s) { s_->ops_.fetch_add(1, std::memory_order_relaxed); }
    Hold(const Hold& o) noexcept : s_(o.s_) {
      if (s_) s_->ops_.fetch_add(1, std::memory_order_relaxed);
    }
    Hold(Hold&& o) noexcept : s_(std::exchange(o.s_, nullptr)) {}
    Hold& operator=(const Hold&) = delete;
    Hold& operator=(Hold&&) = delete;
    ~Hold() {
      if (s_) s_->release();
    }

   private:
    Sender* s_;
  };
  Hold hold() noexcept { return Hold(this); }
  HERALD_DECL void release() noexcept;

  /// An endpoint registration or a key change, answered when its commit is done.
  struct Request {
    bool add = false;       // true: a new endpoint; false: new keys for an existing one
    EndpointRecord rec;     // add: the endpoint; keys: its id, and `secret` the new list
    Url url;
    SigningKeys keys;
    std::function<void(std::error_code)> done;  // called on the executor, outside the lock
  };

  HERALD_DECL void start_impl(std::function<void(std::error_code)> done);
  HERALD_DECL void stop_impl(std::function<void()> done);
  HERALD_DECL void add_endpoint_impl(EndpointConfig c, Done done);
  HERALD_DECL void dead_letters_impl(std::string id, std::function<void(std::error_code, std::vector<Message>)> done);
  HERALD_DECL void replay_impl(std::string id, std::function<void(std::error_code, std::size_t)> done);
  HERALD_DECL void set_keys_impl(std::string id, std::vector<std::string> keys, std::function<void(std::error_code)> done);
  HERALD_DECL void stop_on_loop();
  HERALD_DECL Endpoint& attach(EndpointRecord rec, Url url, SigningKeys keys);
  HERALD_DECL void on_event(Endpoint& ep, const EventPtr& ev);
  HERALD_DECL void schedule_commit_locked();
  HERALD_DECL void write_locked();
  HERALD_DECL void on_written(WriteJob& job);
  HERALD_DECL void arm_retry_locked();
  HERALD_DECL void checkpoint_locked();
  HERALD_DECL void account_locked();
  HERALD_DECL void log(const std::string& line);
  template <class F>
  std::error_code store_call(F&& f, std::string* what = nullptr) noexcept;
  HERALD_DECL std::size_t run_due_locked();
  HERALD_DECL void arm_locked();
  HERALD_DECL void start_attempt_locked(Endpoint& ep, std::int64_t seq);
  HERALD_DECL void send(Endpoint& ep, std::int64_t seq, const Resolved& r, const Hold& h);
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
    std::map<std::int64_t, Message> owed;             // pending and retrying, by seq (written ones)
    std::set<std::pair<std::int64_t, std::int64_t>> due;  // (next_attempt_ms, seq), not in flight
    std::uint64_t pending = 0, retrying = 0, dead = 0;  // of the written messages (unwritten: the metrics gauge)
    std::uint32_t in_flight = 0;
    std::uint32_t limit() const { return rec.ordered ? 1 : std::max<std::uint32_t>(1, rec.max_in_flight); }
  };

  /// One commit on the store thread, and what to do with its result.
  struct WriteJob {
    OutboxChanges changes;
    std::vector<Endpoint*> eps;         // the endpoint of each of changes.enqueue
    std::set<std::string, std::less<>> dirty;  // endpoint rows in changes.endpoints (not requests')
    std::vector<Request> requests;
    std::error_code ec;
    std::string what;
  };

  asio::any_io_executor ex_;
  Hub& hub_;
  std::unique_ptr<Outbox> outbox_;  // touched on the store thread only, after construction
  SenderOptions opt_;
  http::Client client_;
  asio::steady_timer timer_;        // the next due attempt
  asio::steady_timer retry_timer_;  // the next try of a failing commit
  asio::thread_pool store_{1};      // SQLite (every Outbox call) runs here, never on ex_
  mutable std::mutex mu_;
  std::map<std::string, std::unique_ptr<Endpoint>, std::less<>> endpoints_;
  std::map<std::string, std::size_t, std::less<>> topic_refs_;  // topic -> endpoints taking it
  // What the next commit writes (the journal):
  std::vector<Message> batch_;      // accepted, not written: no seq yet, not attempted
  std::vector<Endpoint*> batch_eps_;
  std::map<std::int64_t, Message> updates_;  // attempt results (no body), by seq; the newest wins
  std::vector<Message> delivered_;           // delivered (no body), forgotten and counted by the next commit
  std::set<std::string, std::less<>> dirty_; // endpoint rows to write whole (status, counts)
  std::vector<Request> requests_;
  std::size_t writing_enqueued_ = 0;  // messages in the commit on the store thread
  bool writing_ = false, retry_armed_ = false, checkpointed_ = false;
  std::error_code outbox_ec_;       // the last commit's error; empty while the outbox writes
  std::chrono::milliseconds retry_delay_{0};
  std::int64_t unwritten_reported_ = 0;  // this sender's share of the metrics gauge
  std::atomic<bool> refusing_{false};    // admit() takes the lock only when set
  std::mt19937_64 rng_;
  std::string epoch_;
  std::int64_t anchor_wall_ms_;
  Clock::time_point anchor_;
  bool batch_posted_ = false, stopped_ = false;
  // The gate.
  std::atomic<std::size_t> ops_{0};
  std::mutex stop_mu_;
  bool stopping_ = false;
  std::vector<std::function<void()>> stop_waiters_;
};

}  // namespace herald::webhook

#include <herald/webhook/impl/sender.hpp>
