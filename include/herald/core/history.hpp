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
  /// Memory per topic: History::footprint of every event held (data, key, the
  /// topic name's copy, every frame the transports may cache on it, the slot).
  std::size_t max_bytes = 64 * 1024 * 1024;
  /// Zero: no age bound. Applied on publish, read and subscribe, and to idle
  /// topics by the hub's sweep (HubOptions::sweep_interval).
  Clock::duration max_age = std::chrono::hours(24);
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
    const std::size_t b = footprint(*ev);
    bytes_ += b;
    ring_.push_back({std::move(ev), b});
    trim(now);
  }

  /// Drops events past the count, byte and age bounds.
  void trim(Clock::time_point now) {
    while (!ring_.empty() &&
           (ring_.size() > limits_.max_events || bytes_ > limits_.max_bytes ||
            (limits_.max_age.count() > 0 && now - ring_.front().ev->published() > limits_.max_age))) {
      bytes_ -= ring_.front().bytes;
      ring_.pop_front();
    }
  }

  /// An upper bound of the memory one held event costs: the Event and its
  /// control block, its strings (data, key, the topic name's copy), one frame
  /// of every FrameKind a transport may cache on it (encoded lazily, after the
  /// push, so counted in advance from the data: SSE grows by a `data:` prefix
  /// per line, JSON by its escapes, WebSocket by a header per fragment of at
  /// least 126 bytes, deflate by its stored-block worst case), the ring slot,
  /// and an allocator's overhead per block. One pass over the data.
  static std::size_t footprint(const Event& e) noexcept {
    constexpr std::size_t kBlock = 16;  // malloc's header and rounding, per allocation
    auto heap = [](const std::string& s) { return s.capacity() > 15 ? s.capacity() + 1 + kBlock : 0; };
    const std::string& d = e.data();
    std::size_t breaks = 0, escapes = 0;
    for (unsigned char c : d) {
      if (c == '\n' || c == '\r') ++breaks;
      if (c < 0x20) escapes += 5;           // \u00XX
      else if (c == '"' || c == '\\') escapes += 1;
    }
    const std::size_t n = d.size();
    const std::size_t sse = n + 6 * (breaks + 1) + 32 + 20;      // data: lines, id line, chunk framing
    const std::size_t json = n + escapes + 48;                     // {"id":N,"data":"..."}
    auto ws = [](std::size_t p) { return p + 14 * (1 + p / 126); };
    auto zip = [](std::size_t p) { return p + 5 * (1 + p / 16000) + 16; };
    const std::size_t frames = 2 * sse + json + ws(n) + ws(json) + ws(zip(n)) + ws(zip(json));
    const std::size_t kinds = static_cast<std::size_t>(FrameKind::count);
    return sizeof(Event) + 2 * kBlock + sizeof(Slot) + heap(d) + heap(e.key()) + heap(e.topic()) + frames +
           kinds * (1 + kBlock);
  }

  std::uint64_t head() const noexcept { return head_; }
  /// Oldest id held; head + 1 when nothing is held.
  std::uint64_t first() const noexcept { return ring_.empty() ? head_ + 1 : ring_.front().ev->id(); }
  std::size_t size() const noexcept { return ring_.size(); }
  /// The footprint (see footprint()) of everything held.
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
    out.reserve(k);
    for (auto it = ring_.end() - static_cast<std::ptrdiff_t>(k); it != ring_.end(); ++it) out.push_back(it->ev);
    return out;
  }

  const HistoryLimits& limits() const noexcept { return limits_; }
  void set_limits(HistoryLimits l) noexcept { limits_ = l; }

 private:
  void append_from(std::uint64_t from, std::size_t limit, std::vector<EventPtr>& out) const {
    if (ring_.empty() || from > head_) return;
    std::size_t i = static_cast<std::size_t>(from - ring_.front().ev->id());
    std::size_t n = ring_.size() - i;
    if (n > limit) n = limit;
    out.reserve(n);
    for (std::size_t k = 0; k < n; ++k) out.push_back(ring_[i + k].ev);
  }

  struct Slot {
    EventPtr ev;
    std::size_t bytes;  // its footprint, given back when it leaves
  };
  HistoryLimits limits_;
  std::deque<Slot> ring_;
  std::size_t bytes_ = 0;
  std::uint64_t head_ = 0;
};

}  // namespace herald
