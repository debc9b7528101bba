// herald: the per-topic ring of recent events, and the cursor rules of CONTRACT.md.
#pragma once
#include <herald/core/event.hpp>

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <deque>
#include <vector>

namespace herald {

/// How much history a topic keeps. An event leaves when any bound is passed.
struct HistoryLimits {
  std::size_t max_events = 10000;          ///< the demo's --history default
  std::size_t max_bytes = 64 * 1024 * 1024;///< data bytes; caps memory per topic
  Clock::duration max_age = std::chrono::hours(24);  ///< zero: no age bound
};

/// What a cursor resolves to.
struct Replay {
  bool reset = false;        ///< the cursor was older than the ring or ahead of its head
  std::uint64_t next = 0;    ///< on reset: F = first - 1, the cursor to move to
  std::vector<EventPtr> events;
};

/// A ring of the newest events of one topic. Ids in the ring are contiguous, so
/// the event after cursor N is found by arithmetic. Not thread-safe: the hub
/// guards it with the topic's lock.
class History {
 public:
  explicit History(HistoryLimits limits = {}) : limits_(limits) {}

  void push(EventPtr ev, Clock::time_point now) {
    head_ = ev->id();
    bytes_ += ev->data().size();
    ring_.push_back(std::move(ev));
    trim(now);
  }

  /// Drops events past the count, byte and age bounds.
  void trim(Clock::time_point now) {
    while (!ring_.empty() &&
           (ring_.size() > limits_.max_events || bytes_ > limits_.max_bytes ||
            (limits_.max_age.count() > 0 && now - ring_.front()->published() > limits_.max_age))) {
      bytes_ -= ring_.front()->data().size();
      ring_.pop_front();
    }
  }

  std::uint64_t head() const noexcept { return head_; }
  /// Oldest id held; head + 1 when nothing is held.
  std::uint64_t first() const noexcept { return ring_.empty() ? head_ + 1 : ring_.front()->id(); }
  std::size_t size() const noexcept { return ring_.size(); }
  std::size_t bytes() const noexcept { return bytes_; }

  /// Is `cursor` a reset per CONTRACT.md? (0 never is.)
  bool is_reset(std::uint64_t cursor) const noexcept {
    return cursor != 0 && (cursor + 1 < first() || cursor > head_);
  }

  /// The events after `cursor`, at most `limit`, applying the reset rule.
  Replay after(std::uint64_t cursor, std::size_t limit = SIZE_MAX) const {
    Replay r;
    std::uint64_t from = first();
    if (is_reset(cursor)) {
      r.reset = true;
      r.next = from - 1;
    } else if (cursor >= from) {
      from = cursor + 1;
    }
    append_from(from, limit, r.events);
    return r;
  }

  /// The newest `n` events (a snapshot before going live).
  std::vector<EventPtr> last(std::size_t n) const {
    std::vector<EventPtr> out;
    std::size_t k = n < ring_.size() ? n : ring_.size();
    out.assign(ring_.end() - static_cast<std::ptrdiff_t>(k), ring_.end());
    return out;
  }

  const HistoryLimits& limits() const noexcept { return limits_; }
  void set_limits(HistoryLimits l) noexcept { limits_ = l; }

 private:
  void append_from(std::uint64_t from, std::size_t limit, std::vector<EventPtr>& out) const {
    if (ring_.empty() || from > head_) return;
    std::size_t i = static_cast<std::size_t>(from - ring_.front()->id());
    std::size_t n = ring_.size() - i;
    if (n > limit) n = limit;
    out.reserve(n);
    for (std::size_t k = 0; k < n; ++k) out.push_back(ring_[i + k]);
  }

  HistoryLimits limits_;
  std::deque<EventPtr> ring_;
  std::size_t bytes_ = 0;
  std::uint64_t head_ = 0;
};

}  // namespace herald
