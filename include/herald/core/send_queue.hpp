// herald: a connection's bounded send queue (sans-I/O).
#pragma once
#include <herald/core/metrics.hpp>

#include <cassert>
#include <cstddef>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

namespace herald {

/// Knobs of a send queue. Defaults suit a push stream of small events.
///
/// One byte budget covers everything queued on a connection: events, control
/// frames, the application's own sends and HTTP responses. Past the high
/// watermark an event meets the overflow policy, and the connection stops
/// reading from its socket (TCP pushes back on the peer) until the queue is
/// below the low watermark, so bytes produced in answer to the peer (pongs,
/// echoes, responses) stay bounded without being dropped.
struct QueueOptions {
  std::size_t high_watermark = 1024 * 1024;  ///< past it the overflow policy acts and reading pauses (1 MiB ~ seconds of a busy feed)
  std::size_t low_watermark = 256 * 1024;    ///< `wait` resumes, and reading resumes, at or below it
  OverflowPolicy policy = OverflowPolicy::close;
  /// Hard cap on bytes queued that no policy may drop and that do not answer
  /// the peer's input: the application's own sends (a WebSocket `send` from a
  /// timer or another connection's handler, SSE heartbeats) and, under
  /// `wait`, events from a plain `publish` (which, unlike `async_publish`,
  /// does not wait for room). A push that would take a non-empty queue past
  /// it closes the connection (the peer sees the TCP connection drop),
  /// counted in `Metrics::queue_limit_closes` (sends) or `closed_slow`
  /// (`wait` events). 64 MiB: two messages of the largest default size in a
  /// row still fit. Bytes sent in answer to the peer's input are not capped
  /// here: reading pauses instead.
  std::size_t max_bytes = 64u << 20;
};

/// One queued piece of bytes. `owner` keeps them alive: the shared Event (one
/// reference count per delivery, no copy) or a std::string of protocol bytes.
struct Chunk {
  std::shared_ptr<const void> owner;
  std::string_view bytes;
  std::string_view key;        ///< conflation key, empty for none
  bool droppable = false;      ///< events may be dropped; protocol bytes never are

  static Chunk owned(std::string s) {
    auto p = std::make_shared<const std::string>(std::move(s));
    std::string_view v(*p);
    return Chunk{std::move(p), v, {}, false};
  }
};

/// What happened to a pushed chunk.
/// What happened to a pushed chunk. `full`: queued past the high watermark
/// under the `wait` policy; the publisher should wait for room.
enum class PushResult { queued, conflated, dropped_new, dropped_old, overflow, full };

/// Spare rings of `RingStock::kCapacity` chunks, all slots default, kept by a
/// loop for its connections: a queue that drains gives its ring back here and
/// the next event takes it again, so subscribers that keep up cost no
/// allocation per delivery while idle connections still hold no ring.
/// Rings enter only from queues, so the stock never holds more than were in
/// use at once; `trim()`, called from the loop's periodic sweep, frees those
/// that stayed unused for a whole interval (the low-water mark since the last
/// trim), so after traffic stops the memory goes back within two intervals.
/// Not thread-safe: one per loop.
class RingStock {
 public:
  using Ring = std::unique_ptr<Chunk[]>;
  static constexpr std::uint32_t kCapacity = 8;  ///< a queue's first ring

  /// A spare ring, or a new one.
  Ring take() {
    if (spare_.empty()) return std::make_unique<Chunk[]>(kCapacity);
    Ring r = std::move(spare_.back());
    spare_.pop_back();
    if (spare_.size() < low_) low_ = spare_.size();
    return r;
  }
  /// Keeps `r` (kCapacity slots, all `Chunk{}`) for the next `take()`.
  void give(Ring r) {
    if (!r) return;
#ifndef NDEBUG
    for (std::uint32_t i = 0; i < kCapacity; ++i) assert(!r[i].owner && r[i].bytes.empty());
#endif
    spare_.push_back(std::move(r));
  }
  /// Frees the rings no `take()` reached since the last trim.
  void trim() {
    spare_.resize(spare_.size() - low_);
    if (spare_.size() * 4 <= spare_.capacity()) spare_.shrink_to_fit();
    low_ = spare_.size();
  }
  std::size_t size() const noexcept { return spare_.size(); }
  bool empty() const noexcept { return spare_.empty(); }

 private:
  std::vector<Ring> spare_;
  std::size_t low_ = 0;  // fewest spare rings since the last trim
};

/// A FIFO ring of chunks bounded in bytes, with the overflow policies of
/// DESIGN.md. Not thread-safe: a connection's queue lives on its loop.
/// Growing the ring is amortised: in steady state a push allocates nothing.
class SendQueue {
 public:
  explicit SendQueue(QueueOptions o = {}) : opt_(o) {}

  const QueueOptions& options() const noexcept { return opt_; }
  void set_options(QueueOptions o) noexcept { opt_ = o; }
  std::size_t bytes() const noexcept { return bytes_; }
  std::size_t size() const noexcept { return count_; }
  bool empty() const noexcept { return count_ == 0; }
  bool below_low_watermark() const noexcept { return bytes_ <= opt_.low_watermark; }
  /// Past the high watermark: the connection stops reading until below the low one.
  bool full() const noexcept { return bytes_ > opt_.high_watermark; }
  /// Whether `n` more bytes from the application would pass `max_bytes`
  /// (a first chunk always fits: it is one message the application chose).
  bool over_limit(std::size_t n) const noexcept { return count_ != 0 && bytes_ + n > opt_.max_bytes; }
  /// Chunks dropped since the last call (for counting by the owner).
  std::size_t take_dropped() noexcept { std::size_t d = dropped_; dropped_ = 0; return d; }

  /// Queue `c`. Protocol bytes (not droppable) always go in: the connection
  /// bounds them (it stops reading past the high watermark; `over_limit`
  /// for the application's). Events past the high watermark meet the policy.
  PushResult push(Chunk c) {
    std::size_t n = c.bytes.size();
    if (!c.droppable || bytes_ + n <= opt_.high_watermark) {
      append(std::move(c));
      return PushResult::queued;
    }
    switch (opt_.policy) {
      case OverflowPolicy::close: return PushResult::overflow;
      case OverflowPolicy::wait:
        // Never drop: queue it and tell the caller to slow down (the gate
        // paces `async_publish`). A plain `publish` is not paced: an event
        // that would take the queue past `max_bytes` makes this a slow
        // consumer (closed, counted in `closed_slow`), as under `close`, so
        // the queue never grows past the same hard cap as the application's
        // own sends.
        if (over_limit(n)) return PushResult::overflow;
        append(std::move(c));
        return PushResult::full;
      case OverflowPolicy::drop_newest: ++dropped_; return PushResult::dropped_new;
      case OverflowPolicy::drop_oldest: {
        std::size_t freed = 0;
        while (bytes_ + n > opt_.high_watermark && drop_oldest_droppable()) ++freed;
        if (bytes_ + n > opt_.high_watermark) { ++dropped_; return PushResult::dropped_new; }
        append(std::move(c));
        return freed ? PushResult::dropped_old : PushResult::queued;
      }
      case OverflowPolicy::conflate: {
        if (!c.key.empty()) {
          // The newest queued event of the key is replaced, so per key the
          // order stays oldest-first.
          for (std::size_t i = count_; i-- > first_replaceable();) {
            Chunk& q = at(i);
            if (q.droppable && q.key == c.key) {
              bytes_ = bytes_ - q.bytes.size() + n;
              q = std::move(c);
              ++dropped_;
              return PushResult::conflated;
            }
          }
        }
        // A new key: the queue stays bounded by twice the watermark.
        if (bytes_ + n > 2 * opt_.high_watermark) return PushResult::overflow;
        append(std::move(c));
        return PushResult::queued;
      }
      case OverflowPolicy::count: break;
    }
    return PushResult::overflow;
  }

  /// Fills `out` with up to `max` buffers from the front, for one scatter write.
  /// `Buffer` is constructible from (const void*, std::size_t).
  template <class Buffer>
  std::size_t gather(Buffer* out, std::size_t max) const {
    std::size_t n = count_ < max ? count_ : max;
    for (std::size_t i = 0; i < n; ++i) {
      const Chunk& c = at(i);
      std::size_t skip = i == 0 ? offset_ : 0;
      out[i] = Buffer(c.bytes.data() + skip, c.bytes.size() - skip);
    }
    return n;
  }

  /// Removes `written` bytes from the front (after a write).
  void consume(std::size_t written) {
    while (written > 0 && count_ > 0) {
      Chunk& c = at(0);
      std::size_t left = c.bytes.size() - offset_;
      if (written < left) { offset_ += written; bytes_ -= written; return; }
      written -= left;
      bytes_ -= left;
      pop_front();
    }
  }

  void clear() {
    while (count_) pop_front();
    bytes_ = 0;
  }

  /// Slots in the ring (0: it holds none).
  std::size_t capacity() const noexcept { return cap_; }

  /// Give back the ring's memory (an idle connection should hold none).
  void shrink() {
    if (count_ == 0) { ring_.reset(); cap_ = 0; head_ = 0; }
  }
  /// Like shrink(), but a first-size ring goes to `stock` for reuse; a grown
  /// one is freed (rare, and it would pin more memory).
  void shrink(RingStock& stock) {
    if (count_ != 0 || cap_ == 0) return;
    if (cap_ == RingStock::kCapacity) stock.give(std::move(ring_));
    shrink();
  }
  /// Before a push: a queue holding no ring takes one from `stock`.
  void borrow(RingStock& stock) {
    if (cap_ == 0) { ring_ = stock.take(); cap_ = RingStock::kCapacity; head_ = 0; }
  }

 private:
  Chunk& at(std::size_t i) { return ring_[(head_ + i) & (cap_ - 1)]; }
  const Chunk& at(std::size_t i) const { return ring_[(head_ + i) & (cap_ - 1)]; }
  // The front chunk, once partly written, must go out whole.
  std::size_t first_replaceable() const noexcept { return offset_ > 0 ? 1 : 0; }

  void append(Chunk c) {
    if (count_ == cap_) grow();
    bytes_ += c.bytes.size();
    at(count_) = std::move(c);
    ++count_;
  }
  void grow() {
    const std::uint32_t cap = cap_ == 0 ? RingStock::kCapacity : cap_ * 2;
    auto next = std::make_unique<Chunk[]>(cap);
    for (std::size_t i = 0; i < count_; ++i) next[i] = std::move(at(i));
    ring_ = std::move(next);
    cap_ = cap;
    head_ = 0;
  }
  void pop_front() {
    at(0) = Chunk{};
    head_ = (head_ + 1) & (cap_ - 1);
    --count_;
    offset_ = 0;
  }
  bool drop_oldest_droppable() {
    for (std::size_t i = first_replaceable(); i < count_; ++i) {
      if (at(i).droppable) {
        bytes_ -= at(i).bytes.size();
        for (std::size_t k = i; k + 1 < count_; ++k) at(k) = std::move(at(k + 1));
        at(count_ - 1) = Chunk{};
        --count_;
        ++dropped_;
        return true;
      }
    }
    return false;
  }

  // Compact: every connection has one, idle or not.
  QueueOptions opt_;
  std::unique_ptr<Chunk[]> ring_;
  std::uint32_t cap_ = 0;  // 0 or a power of two
  std::uint32_t head_ = 0, count_ = 0, dropped_ = 0;
  std::size_t offset_ = 0, bytes_ = 0;
};

}  // namespace herald
