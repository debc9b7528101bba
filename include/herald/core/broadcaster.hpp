// herald: topics, per-topic sequence and history, and fan-out to subscribers
// sharded per event-loop thread.
#pragma once
#include <herald/core/codec.hpp>
#include <herald/core/error.hpp>
#include <herald/core/event.hpp>
#include <herald/core/history.hpp>
#include <herald/core/metrics.hpp>

#include <asio/any_io_executor.hpp>
#include <asio/associated_executor.hpp>
#include <asio/async_result.hpp>
#include <asio/dispatch.hpp>
#include <asio/post.hpp>

#include <atomic>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <shared_mutex>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

namespace herald {

class Hub;
class Subscription;

/// Receives events. Implemented by connections (and by parked long polls and
/// webhook endpoints). Called on the thread of the executor it subscribed from.
class Subscriber {
 public:
  virtual ~Subscriber() = default;
  /// A live event; `ev->id()` is greater than any delivered before on `sub`.
  virtual void on_event(const EventPtr& ev, Subscription& sub) = 0;
};

namespace detail {
struct Topic;

/// The subscribers of one topic on one event-loop thread. Touched only on that
/// thread, so delivery takes no lock.
struct ShardSubs {
  std::vector<Subscription*> subs;
  std::size_t count = 0;   // guarded by the topic's lock: tells publish whether to post here
  bool delivering = false;
  bool holes = false;
  void deliver(const EventPtr& ev);
  void compact();
};

struct Topic {
  explicit Topic(std::string n, HistoryLimits l) : name(std::move(n)), history(l) {}
  std::string name;
  std::mutex mu;
  History history;
  std::vector<std::pair<std::uint32_t, std::unique_ptr<ShardSubs>>> shards;
};
}  // namespace detail

/// One subscriber's membership of one topic. Owned by the subscriber; must be
/// unsubscribed (on its own thread) before it is destroyed.
class Subscription {
 public:
  Subscription() = default;
  Subscription(const Subscription&) = delete;
  Subscription& operator=(const Subscription&) = delete;
  ~Subscription() = default;

  bool active() const noexcept { return shard_ != nullptr; }
  /// The id of the newest event delivered (or replayed) on this subscription.
  std::uint64_t cursor() const noexcept { return cursor_; }
  void set_cursor(std::uint64_t c) noexcept { cursor_ = c; }
  const std::string& topic() const noexcept { return topic_->name; }

 private:
  friend class Hub;
  friend struct detail::ShardSubs;
  Subscriber* subscriber_ = nullptr;
  detail::Topic* topic_ = nullptr;
  detail::ShardSubs* shard_ = nullptr;
  std::uint32_t index_ = 0;
  std::uint64_t cursor_ = 0;
};

/// Where to start a subscription.
struct SubscribeOptions {
  std::optional<std::uint64_t> after;  ///< a cursor (CONTRACT.md rules); none: live only
  std::size_t last = 0;                ///< without a cursor: replay the newest `last` first
};

/// What a subscription starts with: deliver `replay` (after a reset notice if
/// `reset`) before anything else. Live events follow on the same thread.
struct SubscribeResult {
  std::error_code ec;
  bool reset = false;
  std::uint64_t next = 0;  ///< on reset: F = first - 1
  std::vector<EventPtr> replay;
};

struct HubOptions {
  HistoryLimits history{};        ///< per topic
  std::size_t max_topics = 100000;///< bounds memory against clients inventing topics
};

/// The non-template heart of Broadcaster: topics, sequence, history, shards.
/// Transports hold a `Hub&`, so they do not depend on the published type.
///
/// @par Thread Safety
/// `commit`, `read` and `head` may be called from any thread. `subscribe` and
/// `unsubscribe` are called on the thread that runs the subscriber's executor.
class Hub {
 public:
  explicit Hub(HubOptions o = {}, Metrics& m = default_metrics()) : opt_(o), metrics_(&m) {
    executors_.reserve(kMaxShards);
  }
  Hub(const Hub&) = delete;
  Hub& operator=(const Hub&) = delete;
  virtual ~Hub() = default;

  static constexpr std::size_t kMaxShards = 256;

  /// Appends an event with the topic's next id, stores it in the history and
  /// posts it once to every event-loop thread that has subscribers of the topic.
  /// Returns the id. Called by the backplane; users call Broadcaster::publish.
  std::uint64_t commit(std::string_view topic, std::string data, std::string key = {}) {
    detail::Topic* t = find_or_create(topic);
    if (!t) return 0;
    auto ev = std::make_shared<Event>(t->name, 0, std::move(data), std::move(key));
    std::lock_guard lk(t->mu);
    ev->set_id(t->history.head() + 1);
    EventPtr shared = ev;
    t->history.push(shared, Clock::now());
    for (auto& [shard, ss] : t->shards) {
      if (ss->count == 0) continue;
      asio::post(executors_[shard], [shared, s = ss.get()] { s->deliver(shared); });
    }
    Metrics::add(metrics_->events_published);
    return shared->id();
  }

  /// Joins `sub` to `topic` for `subscriber`, on the calling thread's shard
  /// (`ex` is the executor the subscriber runs on). The replay comes back in
  /// the result, computed under the topic's sequence: nothing slips between it
  /// and the live events, and nothing is delivered twice.
  SubscribeResult subscribe(std::string_view topic, Subscriber& subscriber, Subscription& sub,
                            const asio::any_io_executor& ex, const SubscribeOptions& o = {}) {
    SubscribeResult r;
    detail::Topic* t = find_or_create(topic);
    if (!t) { r.ec = make_error_code(error::invalid_argument); return r; }
    std::uint32_t shard = shard_index(ex);
    std::lock_guard lk(t->mu);
    detail::ShardSubs* ss = nullptr;
    for (auto& [s, p] : t->shards) if (s == shard) ss = p.get();
    if (!ss) ss = t->shards.emplace_back(shard, std::make_unique<detail::ShardSubs>()).second.get();
    if (o.after) {
      Replay rp = t->history.after(*o.after);
      r.reset = rp.reset;
      r.next = rp.next;
      r.replay = std::move(rp.events);
    } else if (o.last) {
      r.replay = t->history.last(o.last);
    }
    sub.subscriber_ = &subscriber;
    sub.topic_ = t;
    sub.shard_ = ss;
    sub.cursor_ = t->history.head();
    sub.index_ = static_cast<std::uint32_t>(ss->subs.size());
    ss->subs.push_back(&sub);
    ++ss->count;
    return r;
  }

  /// Leaves the topic. Call on the subscriber's thread. Idempotent.
  void unsubscribe(Subscription& sub) {
    if (!sub.shard_) return;
    detail::ShardSubs* ss = sub.shard_;
    {
      std::lock_guard lk(sub.topic_->mu);
      --ss->count;
    }
    if (ss->delivering) {
      ss->subs[sub.index_] = nullptr;  // compacted after the delivery loop
      ss->holes = true;
    } else {
      Subscription* last = ss->subs.back();
      ss->subs[sub.index_] = last;
      last->index_ = sub.index_;
      ss->subs.pop_back();
    }
    sub.shard_ = nullptr;
  }

  /// The events after `cursor` (at most `limit`), with the reset rule, for
  /// polling. An unknown topic reads as empty and is not created.
  Replay read(std::string_view topic, std::uint64_t cursor, std::size_t limit = SIZE_MAX) {
    detail::Topic* t = find(topic);
    if (!t) {
      History empty;
      return empty.after(cursor, limit);
    }
    std::lock_guard lk(t->mu);
    t->history.trim(Clock::now());
    return t->history.after(cursor, limit);
  }

  /// The newest id of `topic` (0 when none).
  std::uint64_t head(std::string_view topic) {
    detail::Topic* t = find(topic);
    if (!t) return 0;
    std::lock_guard lk(t->mu);
    return t->history.head();
  }

  Metrics& metrics() const noexcept { return *metrics_; }
  const HubOptions& options() const noexcept { return opt_; }

  /// Backpressure for the `wait` overflow policy: a connection whose queue
  /// passed its high watermark holds the hub's gate until it drains below its
  /// low watermark; `async_publish` completes only when no one holds it.
  void hold_gate() { gate_.fetch_add(1, std::memory_order_acq_rel); }
  void release_gate() {
    if (gate_.fetch_sub(1, std::memory_order_acq_rel) != 1) return;
    std::vector<std::pair<asio::any_io_executor, std::function<void()>>> ready;
    {
      std::lock_guard lk(gate_mu_);
      if (gate_.load(std::memory_order_acquire) != 0) return;
      ready.swap(gate_waiters_);
    }
    for (auto& [ex, fn] : ready) asio::post(ex, std::move(fn));
  }
  /// Connections currently pacing `async_publish`.
  int gate_holders() const noexcept { return gate_.load(std::memory_order_acquire); }

  /// The shard of an event-loop thread, registered on first use.
  std::uint32_t shard_index(const asio::any_io_executor& ex) {
    const void* ctx = &ex.context();
    std::lock_guard lk(shards_mu_);
    for (std::uint32_t i = 0; i < contexts_.size(); ++i)
      if (contexts_[i] == ctx) return i;
    if (contexts_.size() == kMaxShards) throw std::length_error("herald::Hub: too many event loops");
    contexts_.push_back(ctx);
    executors_.push_back(ex);
    return static_cast<std::uint32_t>(contexts_.size() - 1);
  }

 protected:
  detail::Topic* find(std::string_view name) {
    std::shared_lock lk(topics_mu_);
    auto it = topics_.find(std::string(name));
    return it == topics_.end() ? nullptr : it->second.get();
  }
  detail::Topic* find_or_create(std::string_view name) {
    if (auto* t = find(name)) return t;
    std::unique_lock lk(topics_mu_);
    auto it = topics_.find(std::string(name));
    if (it != topics_.end()) return it->second.get();
    if (topics_.size() >= opt_.max_topics) return nullptr;
    auto t = std::make_unique<detail::Topic>(std::string(name), opt_.history);
    auto* raw = t.get();
    topics_.emplace(raw->name, std::move(t));
    return raw;
  }

  template <class Fn>
  void when_gate_open(asio::any_io_executor ex, Fn fn) {
    {
      std::lock_guard lk(gate_mu_);
      if (gate_.load(std::memory_order_acquire) != 0) {
        gate_waiters_.emplace_back(std::move(ex), std::move(fn));
        return;
      }
    }
    asio::post(ex, std::move(fn));
  }

 private:
  HubOptions opt_;
  Metrics* metrics_;
  std::atomic<int> gate_{0};
  std::mutex gate_mu_;
  std::vector<std::pair<asio::any_io_executor, std::function<void()>>> gate_waiters_;
  std::shared_mutex topics_mu_;
  std::unordered_map<std::string, std::unique_ptr<detail::Topic>> topics_;
  std::mutex shards_mu_;
  std::vector<const void*> contexts_;
  std::vector<asio::any_io_executor> executors_;  // reserved: never reallocates
};

inline void detail::ShardSubs::deliver(const EventPtr& ev) {
  delivering = true;
  // Subscribers may join during the loop (they start past this event) or
  // leave (their slot becomes a hole): iterate by index over the current size.
  for (std::size_t i = 0; i < subs.size(); ++i) {
    Subscription* s = subs[i];
    if (!s || ev->id() <= s->cursor_) continue;  // already replayed at subscribe
    s->cursor_ = ev->id();
    s->subscriber_->on_event(ev, *s);
  }
  delivering = false;
  if (holes) compact();
}

inline void detail::ShardSubs::compact() {
  std::size_t w = 0;
  for (std::size_t r = 0; r < subs.size(); ++r) {
    if (!subs[r]) continue;
    subs[w] = subs[r];
    subs[w]->index_ = static_cast<std::uint32_t>(w);
    ++w;
  }
  subs.resize(w);
  holes = false;
}

/// Where published events travel. The in-process backplane commits at once;
/// one over an external engine (Redis) would publish there and commit what it
/// receives, with ids assigned by the engine, without changing anything above.
struct LocalBackplane {
  std::uint64_t publish(Hub& hub, std::string_view topic, std::string data, std::string key) {
    return hub.commit(topic, std::move(data), std::move(key));
  }
};

/// Publishes values of type `T` to topics and fans them out.
///
/// @tparam T the published type
/// @tparam Codec turns a `T` into bytes, once per publish (`codec<T>` by default)
/// @tparam Backplane where events travel (in process by default)
///
/// @par Example
/// @code
/// herald::Broadcaster<std::string> hub;
/// hub.publish("prices", R"({"sym":"ACME","px":12.5})", "ACME");  // key: conflation
/// @endcode
/// @par Thread Safety
/// `publish` may be called from any thread and never blocks on subscribers.
template <class T, class Codec = codec<T>, class Backplane = LocalBackplane>
class Broadcaster : public Hub {
 public:
  explicit Broadcaster(HubOptions o = {}, Metrics& m = default_metrics(), Backplane b = {})
      : Hub(o, m), backplane_(std::move(b)) {}

  /// Encodes `value` once and publishes it; returns its id (0 if the topic
  /// could not be created, or the backplane assigns ids elsewhere).
  std::uint64_t publish(std::string_view topic, const T& value, std::string_view key = {}) {
    return backplane_.publish(*this, topic, std::string(Codec::encode(value)), std::string(key));
  }

  /// Publishes, then completes once no `wait`-policy subscriber is past its
  /// high watermark: for lossless internal pipelines. One slow subscriber then
  /// paces this publisher, by design. Completion: `void(std::error_code, std::uint64_t id)`.
  /// @par Example
  /// @code
  /// auto [ec, id] = co_await hub.async_publish("jobs", job, asio::experimental::as_tuple(asio::use_awaitable));
  /// @endcode
  template <class Token>
  auto async_publish(std::string_view topic, const T& value, Token&& token) {
    return asio::async_initiate<Token, void(std::error_code, std::uint64_t)>(
        [this](auto handler, std::string t, std::string data) {
          std::uint64_t id = backplane_.publish(*this, t, std::move(data), std::string());
          auto ex = asio::get_associated_executor(handler, asio::system_executor());
          auto h = std::make_shared<decltype(handler)>(std::move(handler));
          this->when_gate_open(asio::any_io_executor(ex), [h, id] { (*h)(std::error_code{}, id); });
        },
        token, std::string(topic), std::string(Codec::encode(value)));
  }

  Backplane& backplane() noexcept { return backplane_; }

 private:
  Backplane backplane_;
};

}  // namespace herald
