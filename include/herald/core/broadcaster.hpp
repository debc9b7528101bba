// herald: topics, per-topic sequence and history, and fan-out to subscribers
// sharded per event-loop thread.
#pragma once
#include <herald/core/codec.hpp>
#include <herald/core/error.hpp>
#include <herald/core/event.hpp>
#include <herald/core/history.hpp>
#include <herald/core/loop.hpp>
#include <herald/core/metrics.hpp>

#include <asio/any_io_executor.hpp>
#include <asio/associated_executor.hpp>
#include <asio/async_result.hpp>
#include <asio/dispatch.hpp>
#include <asio/io_context.hpp>
#include <asio/post.hpp>

#include <array>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <stdexcept>
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
/// thread, so delivery takes no lock. Freed (on that thread) when its last
/// subscriber has left and every delivery already posted to it has run.
struct ShardSubs {
  std::vector<Subscription*> subs;
  Topic* topic = nullptr;
  Hub* hub = nullptr;
  std::size_t count = 0;        // guarded by the topic's lock: tells publish whether to post here
  std::uint64_t posted = 0;     // guarded by the topic's lock: deliveries posted here
  std::uint64_t delivered = 0;  // this thread: deliveries run
  std::uint64_t retire_at = 0;  // this thread: `posted` when the last subscriber left
  bool delivering = false;
  bool holes = false;
  bool dying = false;  // this thread: no subscribers; freed once `delivered` reaches `retire_at`
  void deliver(const EventPtr& ev);
  void compact();
};

/// A topic: its sequence and history, and its subscribers per loop. Listed in
/// the hub while it holds history or subscribers, freed after that; the object
/// itself lives on while a Subscription names it (`refs`), so a subscriber's
/// `topic()` stays valid after it left.
struct Topic {
  explicit Topic(std::string n, HistoryLimits l) : name(std::move(n)), history(l) {}
  std::string name;
  std::mutex mu;
  History history;                                                             // under mu
  std::vector<std::pair<std::uint32_t, std::unique_ptr<ShardSubs>>> shards;    // under mu
  std::size_t subscribers = 0;  // under mu: sum of the shards' counts
  bool listed = true;           // under mu and the hub's stripe lock: in the hub's map
  bool kept = false;            // under mu: holds history, so counts against HubOptions::max_topics
  std::atomic<std::uint32_t> refs{1};  // the hub's map while listed, and each Subscription naming it

  bool idle() const noexcept { return subscribers == 0 && shards.empty() && history.size() == 0; }
};

inline void release(Topic* t) noexcept {
  if (t->refs.fetch_sub(1, std::memory_order_acq_rel) == 1) delete t;
}
}  // namespace detail

/// One subscriber's membership of one topic. Owned by the subscriber; must be
/// unsubscribed (on its own thread) before it is destroyed.
class Subscription {
 public:
  Subscription() = default;
  Subscription(const Subscription&) = delete;
  Subscription& operator=(const Subscription&) = delete;
  ~Subscription() {
    if (topic_) detail::release(topic_);
  }

  bool active() const noexcept { return shard_ != nullptr; }
  /// The id of the newest event delivered (or replayed) on this subscription.
  std::uint64_t cursor() const noexcept { return cursor_; }
  void set_cursor(std::uint64_t c) noexcept { cursor_ = c; }
  /// The topic's name; valid as long as this Subscription, also after unsubscribe.
  const std::string& topic() const noexcept { return topic_->name; }

 private:
  friend class Hub;
  friend struct detail::ShardSubs;
  Subscriber* subscriber_ = nullptr;
  detail::Topic* topic_ = nullptr;  // holds one of its refs
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

/// The hub's bounds.
///
/// @par Topic lifecycle and the two caps
/// A topic exists while it holds history or subscribers: when its last
/// subscriber leaves and it holds no history (or its history has expired), it
/// is freed on every loop, and a later publish starts it again at id 1 (a
/// client's old cursor then resolves as a reset, CONTRACT.md). Subscribing to a
/// topic never published thus leaves nothing behind. Topics are counted in two
/// pools so that anonymous subscribers cannot refuse publishes:
/// - `max_topics` counts topics that hold history. Only a publish takes a place
///   (a subscription never does); past it, a publish to a topic without history
///   is refused (`publish` returns 0: the demo answers 503 "too many topics").
/// - `max_subscribed_topics` counts topics held only by subscribers. Past it,
///   subscribing to a topic that does not exist is refused (`SubscribeResult::ec`;
///   WebSocket closes 1013, long polling answers 503). Every such topic needs a
///   live subscriber (a connection, a parked poll), so the connection limits
///   bound it first; the default is well above them.
///
/// Both refusals are counted (`herald_topics_refused_total{side=...}`) and
/// logged (`log`, at most one line per 10 s per side); the live counts are the
/// gauge `herald_topics{held_by="history"|"subscribers"}`. The caps are checked
/// without a global lock: concurrent creations may pass one by a few.
struct HubOptions {
  HistoryLimits history{};                 ///< per topic
  std::size_t max_topics = 100000;         ///< topics holding history; bounds publishers inventing topics
  std::size_t max_subscribed_topics = 1000000;  ///< topics held only by subscribers
  /// How often a loop's sweep applies the history's age bound to every topic,
  /// freeing those left empty (only topics that hold history are touched).
  Clock::duration sweep_interval = std::chrono::seconds(5);
  /// Where a refusal at a cap is logged (one line, no newline). Empty: stderr.
  std::function<void(std::string_view)> log{};
};

/// The non-template heart of Broadcaster: topics, sequence, history, shards.
/// Transports hold a `Hub&`, so they do not depend on the published type.
///
/// @par Thread Safety
/// `commit`, `read`, `head`, `sweep` and `topics` may be called from any
/// thread. `subscribe` and `unsubscribe` are called on the thread that runs
/// the subscriber's executor. Topics live in 64 lock stripes; a topic's own
/// lock is taken while its stripe's is held (stripe, then topic), never the
/// other way round, so a topic is never freed under a caller that found it.
class Hub {
 public:
  explicit Hub(HubOptions o = {}, Metrics& m = default_metrics())
      : opt_(std::move(o)), metrics_(&m), sweeper_(std::make_shared<Sweeper>(this)) {
    executors_.reserve(kMaxShards);
  }
  Hub(const Hub&) = delete;
  Hub& operator=(const Hub&) = delete;
  virtual ~Hub() {
    {
      std::lock_guard lk(sweeper_->mu);
      sweeper_->hub = nullptr;
    }
    for (auto& s : stripes_) {
      for (auto& [name, t] : s.map) {
        std::lock_guard tl(t->mu);
        t->listed = false;
      }
      std::vector<detail::Topic*> all;
      for (auto& [name, t] : s.map) all.push_back(t);
      s.map.clear();
      for (auto* t : all) detail::release(t);
    }
    Metrics::add(metrics_->topics, -static_cast<std::int64_t>(topics_.load()));
    Metrics::add(metrics_->topics_with_history, -static_cast<std::int64_t>(kept_.load()));
  }

  static constexpr std::size_t kMaxShards = 256;

  /// Appends an event with the topic's next id, stores it in the history and
  /// posts it once to every event-loop thread that has subscribers of the topic.
  /// Returns the id, or 0 when the topic holds no history and `max_topics`
  /// topics already do. Called by the backplane; users call Broadcaster::publish.
  std::uint64_t commit(std::string_view topic, std::string data, std::string key = {}) {
    auto ev = std::make_shared<Event>(std::string(topic), 0, std::move(data), std::move(key));
    std::unique_lock<std::mutex> tl;
    detail::Topic* t = acquire(topic, Create::publish, tl);
    if (!t) {
      refuse(Create::publish);
      return 0;
    }
    if (!t->kept) [[unlikely]] {
      if (kept_.fetch_add(1, std::memory_order_relaxed) >= opt_.max_topics) {
        kept_.fetch_sub(1, std::memory_order_relaxed);
        const bool idle = t->idle();
        tl.unlock();
        if (idle) erase_if_idle(topic);  // created just now for this publish
        refuse(Create::publish);
        return 0;
      }
      t->kept = true;
      Metrics::add(metrics_->topics_with_history, 1);
    }
    const std::uint64_t id = t->history.head() + 1;
    ev->set_id(id);
    EventPtr shared = std::move(ev);
    t->history.push(shared, Clock::now());
    for (auto& [shard, ss] : t->shards) {
      if (ss->count == 0) continue;
      ++ss->posted;
      asio::post(executors_[shard], [shared, s = ss.get()] { s->deliver(shared); });
    }
    if (t->history.size() == 0) [[unlikely]] {  // limits that keep nothing (or an event past max_bytes)
      unkeep(t);
      const bool idle = t->idle();
      tl.unlock();
      if (idle) erase_if_idle(topic);
    }
    Metrics::add(metrics_->events_published);
    return id;
  }

  /// Joins `sub` to `topic` for `subscriber`, on the calling thread's shard
  /// (`ex` is the executor the subscriber runs on). The replay comes back in
  /// the result, computed under the topic's sequence: nothing slips between it
  /// and the live events, and nothing is delivered twice. Refused (`ec`) when
  /// the topic does not exist and `max_subscribed_topics` are held by subscribers.
  SubscribeResult subscribe(std::string_view topic, Subscriber& subscriber, Subscription& sub,
                            const asio::any_io_executor& ex, const SubscribeOptions& o = {}) {
    SubscribeResult r;
    std::uint32_t shard = shard_index(ex);
    std::unique_lock<std::mutex> tl;
    detail::Topic* t = acquire(topic, Create::subscribe, tl);
    if (!t) {
      refuse(Create::subscribe);
      r.ec = make_error_code(error::invalid_argument);
      return r;
    }
    if (t->history.size()) {
      t->history.trim(Clock::now());  // nothing past its age is replayed
      if (t->history.size() == 0) unkeep(t);
    }
    detail::ShardSubs* ss = nullptr;
    for (auto& [s, p] : t->shards) if (s == shard) ss = p.get();
    if (!ss) {
      ss = t->shards.emplace_back(shard, std::make_unique<detail::ShardSubs>()).second.get();
      ss->topic = t;
      ss->hub = this;
    }
    ss->dying = false;  // a delivery still in flight to it finds it alive again
    if (o.after) {
      Replay rp = t->history.after(*o.after);
      r.reset = rp.reset;
      r.next = rp.next;
      r.replay = std::move(rp.events);
    } else if (o.last) {
      r.replay = t->history.last(o.last);
    }
    detail::Topic* previous = sub.topic_;
    if (previous != t) t->refs.fetch_add(1, std::memory_order_relaxed);
    sub.subscriber_ = &subscriber;
    sub.topic_ = t;
    sub.shard_ = ss;
    sub.cursor_ = t->history.head();
    sub.index_ = static_cast<std::uint32_t>(ss->subs.size());
    ss->subs.push_back(&sub);
    ++ss->count;
    ++t->subscribers;
    tl.unlock();
    if (previous && previous != t) detail::release(previous);
    return r;
  }

  /// Leaves the topic. Call on the subscriber's thread. Idempotent. The last
  /// subscriber of a topic without history frees it (on this loop at once, on
  /// the others once the deliveries already posted there have run).
  void unsubscribe(Subscription& sub) {
    if (!sub.shard_) return;
    detail::ShardSubs* ss = sub.shard_;
    detail::Topic* t = sub.topic_;
    bool retire_now = false;
    {
      std::lock_guard lk(t->mu);
      --ss->count;
      --t->subscribers;
      if (ss->count == 0) {
        if (!ss->delivering && ss->posted == ss->delivered) {
          retire_now = true;
        } else {
          ss->dying = true;
          ss->retire_at = ss->posted;
        }
      }
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
    if (retire_now) retire(ss);
  }

  /// The events after `cursor` (at most `limit`), with the reset rule, for
  /// polling. An unknown topic reads as empty and is not created.
  Replay read(std::string_view topic, std::uint64_t cursor, std::size_t limit = SIZE_MAX) {
    std::unique_lock<std::mutex> tl;
    detail::Topic* t = acquire(topic, Create::no, tl);
    if (!t) {
      History empty;
      return empty.after(cursor, limit);
    }
    if (t->history.size()) {
      t->history.trim(Clock::now());
      if (t->history.size() == 0) unkeep(t);
    }
    Replay r = t->history.after(cursor, limit);
    const bool idle = t->idle();
    tl.unlock();
    if (idle) erase_if_idle(topic);
    return r;
  }

  /// The newest id of `topic` (0 when none).
  std::uint64_t head(std::string_view topic) {
    std::unique_lock<std::mutex> tl;
    detail::Topic* t = acquire(topic, Create::no, tl);
    return t ? t->history.head() : 0;
  }

  /// Topics that exist now (held by history or subscribers), and of them those
  /// holding history.
  std::size_t topics() const noexcept { return topics_.load(std::memory_order_relaxed); }
  std::size_t topics_with_history() const noexcept { return kept_.load(std::memory_order_relaxed); }

  /// Applies the history's age bound to every topic and frees those left
  /// without history or subscribers. Loops run it from their sweep (every
  /// `sweep_interval`, once for all loops); tests call it with a time.
  void sweep(Clock::time_point now) {
    if (opt_.history.max_age.count() <= 0) return;
    std::vector<detail::Topic*> dead;
    for (auto& s : stripes_) {
      {
        std::lock_guard sl(s.mu);
        for (auto it = s.map.begin(); it != s.map.end();) {
          detail::Topic* t = it->second;
          std::lock_guard tl(t->mu);
          if (t->history.size()) {
            t->history.trim(now);
            if (t->history.size() == 0) unkeep(t);
          }
          if (t->idle()) {
            t->listed = false;
            it = s.map.erase(it);
            forget_topic();
            dead.push_back(t);
          } else {
            ++it;
          }
        }
      }
      for (auto* t : dead) detail::release(t);
      dead.clear();
    }
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

  /// The shard of an event-loop thread, registered on first use (the loop's
  /// sweep then also runs the hub's, when the executor is an io_context's).
  /// Call on the thread that runs `ex`.
  std::uint32_t shard_index(const asio::any_io_executor& ex) {
    const void* ctx = &ex.context();
    std::lock_guard lk(shards_mu_);
    for (std::uint32_t i = 0; i < contexts_.size(); ++i)
      if (contexts_[i] == ctx) return i;
    if (contexts_.size() == kMaxShards) throw std::length_error("herald::Hub: too many event loops");
    contexts_.push_back(ctx);
    executors_.push_back(ex);
    // Called from subscribe, on that loop's thread: its Loop may be touched.
    if (auto* io = ex.target<asio::io_context::executor_type>())
      Loop::of(io->context()).add_hook(sweeper_);
    return static_cast<std::uint32_t>(contexts_.size() - 1);
  }

 protected:
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
  friend struct detail::ShardSubs;
  enum class Create { no, publish, subscribe };

  struct alignas(64) Stripe {
    std::mutex mu;
    std::unordered_map<std::string_view, detail::Topic*> map;  // keys view the topics' names
  };
  static constexpr std::size_t kStripes = 64;

  struct Sweeper final : detail::SweepHook {
    explicit Sweeper(Hub* h) : hub(h) {}
    std::mutex mu;
    Hub* hub;
    bool run() override {
      std::lock_guard lk(mu);
      if (!hub) return false;
      hub->sweep_if_due(Clock::now());
      return true;
    }
  };

  Stripe& stripe_of(std::string_view name) noexcept {
    return stripes_[(std::hash<std::string_view>{}(name) >> 7) % kStripes];
  }

  /// Finds `name` (creating it for a publish or a subscribe, within the caps)
  /// and returns it with its lock held in `tl`; nullptr when absent or refused.
  detail::Topic* acquire(std::string_view name, Create c, std::unique_lock<std::mutex>& tl) {
    Stripe& s = stripe_of(name);
    std::unique_lock sl(s.mu);
    auto it = s.map.find(name);
    detail::Topic* t;
    if (it != s.map.end()) [[likely]] {
      t = it->second;
    } else {
      if (c == Create::no) return nullptr;
      if (c == Create::publish && kept_.load(std::memory_order_relaxed) >= opt_.max_topics) return nullptr;
      if (c == Create::subscribe &&
          topics_.load(std::memory_order_relaxed) - kept_.load(std::memory_order_relaxed) >= opt_.max_subscribed_topics)
        return nullptr;
      t = new detail::Topic(std::string(name), opt_.history);
      s.map.emplace(t->name, t);
      topics_.fetch_add(1, std::memory_order_relaxed);
      Metrics::add(metrics_->topics, 1);
    }
    tl = std::unique_lock(t->mu);
    return t;
  }

  /// Under the topic's lock: its history emptied, so it gives its place back.
  void unkeep(detail::Topic* t) noexcept {
    if (!t->kept) return;
    t->kept = false;
    kept_.fetch_sub(1, std::memory_order_relaxed);
    Metrics::add(metrics_->topics_with_history, -1);
  }

  void forget_topic() noexcept {
    topics_.fetch_sub(1, std::memory_order_relaxed);
    Metrics::add(metrics_->topics, -1);
  }

  /// Frees `name` if it is idle. By name: the caller no longer holds it.
  void erase_if_idle(std::string_view name) {
    Stripe& s = stripe_of(name);
    detail::Topic* dead = nullptr;
    {
      std::lock_guard sl(s.mu);
      auto it = s.map.find(name);
      if (it == s.map.end()) return;
      detail::Topic* t = it->second;
      std::lock_guard tl(t->mu);
      if (!t->idle()) return;
      t->listed = false;
      s.map.erase(it);
      forget_topic();
      dead = t;
    }
    detail::release(dead);
  }

  /// On `ss`'s own thread, once nothing more can reach it: frees it, and its
  /// topic if that was the last thing holding it. `ss` is alive until here
  /// (only this thread removes it), and so is its topic (which holds it).
  void retire(detail::ShardSubs* ss) {
    detail::Topic* t = ss->topic;
    Stripe& s = stripe_of(t->name);
    std::unique_ptr<detail::ShardSubs> gone;
    bool drop = false;
    {
      std::lock_guard sl(s.mu);
      std::lock_guard tl(t->mu);
      if (ss->count != 0) return;
      for (auto& e : t->shards) {
        if (e.second.get() != ss) continue;
        gone = std::move(e.second);
        e = std::move(t->shards.back());
        t->shards.pop_back();
        break;
      }
      if (t->listed && t->idle()) {
        t->listed = false;
        s.map.erase(std::string_view(t->name));
        forget_topic();
        drop = true;
      }
    }
    gone.reset();
    if (drop) detail::release(t);
  }

  void sweep_if_due(Clock::time_point now) {
    auto due = next_sweep_.load(std::memory_order_relaxed);
    if (now.time_since_epoch().count() < due) return;
    if (!next_sweep_.compare_exchange_strong(due, (now + opt_.sweep_interval).time_since_epoch().count(),
                                             std::memory_order_relaxed))
      return;
    sweep(now);
  }

  /// Counts a refusal at a cap, and logs it (at most once per 10 s per side).
  void refuse(Create c) {
    const bool pub = c == Create::publish;
    Metrics::add(pub ? metrics_->topics_refused_publish : metrics_->topics_refused_subscribe);
    auto& refused = pub ? refused_publish_ : refused_subscribe_;
    auto& last = pub ? logged_publish_ : logged_subscribe_;
    const std::uint64_t n = refused.fetch_add(1, std::memory_order_relaxed) + 1;
    const auto now = Clock::now().time_since_epoch().count();
    auto prev = last.load(std::memory_order_relaxed);
    if (prev != 0 && now - prev < std::chrono::duration_cast<Clock::duration>(std::chrono::seconds(10)).count()) return;
    if (!last.compare_exchange_strong(prev, now, std::memory_order_relaxed)) return;
    std::string line = pub ? "herald: topic cap reached: a publish to a new topic was refused (max_topics="
                               + std::to_string(opt_.max_topics)
                           : "herald: topic cap reached: a subscribe to a new topic was refused (max_subscribed_topics="
                               + std::to_string(opt_.max_subscribed_topics);
    line += ", " + std::to_string(n) + " refused so far)";
    if (opt_.log) opt_.log(line);
    else std::fprintf(stderr, "%s\n", line.c_str());
  }

  HubOptions opt_;
  Metrics* metrics_;
  std::atomic<int> gate_{0};
  std::mutex gate_mu_;
  std::vector<std::pair<asio::any_io_executor, std::function<void()>>> gate_waiters_;
  std::array<Stripe, kStripes> stripes_;
  std::atomic<std::size_t> topics_{0}, kept_{0};
  std::atomic<Clock::rep> next_sweep_{0};
  std::atomic<std::uint64_t> refused_publish_{0}, refused_subscribe_{0};
  std::atomic<Clock::rep> logged_publish_{0}, logged_subscribe_{0};
  std::shared_ptr<Sweeper> sweeper_;
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
  ++delivered;
  if (holes) compact();
  if (dying && delivered == retire_at) [[unlikely]] hub->retire(this);  // frees this
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
