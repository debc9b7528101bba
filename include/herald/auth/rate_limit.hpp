// herald: abuse limits that need no I/O: a token bucket for publishes and
// WebSocket client messages, and a cap on connections per client address.
// Time is always a parameter, so tests drive it and the server can pass the
// core's clock.
#pragma once
#include <herald/config.hpp>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <limits>
#include <mutex>
#include <stdexcept>
#include <string>
#include <string_view>
#include <unordered_map>

namespace herald::auth {

/// A token bucket: `burst` tokens at most, refilled at `rate_per_second`.
///
/// Implemented as GCRA (the "virtual scheduling" form of a token bucket): the
/// whole state is one integer, the theoretical arrival time in nanoseconds, so
/// there is no accumulated floating-point drift however often it is asked.
/// The only rounding is of the refill interval (1 s / rate) to whole
/// nanoseconds, done once at construction.
///
/// @par Thread Safety
/// None: keep one bucket per connection (on its event-loop thread) or guard it.
///
/// @par Example
/// @code
/// TokenBucket bucket{10.0, 20};            // 10 publishes/s, bursts of 20
/// if (!bucket.try_take(clock.now())) { /* 429, or close 1008 */ }
/// @endcode
class TokenBucket {
 public:
  using clock = std::chrono::steady_clock;

  /// @throws std::invalid_argument when `rate_per_second` is not positive and
  /// finite, `burst` is 0, or burst / rate is too long to represent (centuries).
  TokenBucket(double rate_per_second, std::uint32_t burst) : burst_(burst) {
    if (!(rate_per_second > 0) || !std::isfinite(rate_per_second) || burst == 0)
      throw std::invalid_argument("herald::auth::TokenBucket: rate must be > 0 and burst >= 1");
    const double interval = std::round(1e9 / rate_per_second);
    // Faster than one token per nanosecond cannot be told apart from unlimited.
    interval_ns_ = interval < 1 ? 1 : static_cast<std::int64_t>(std::min(interval, 9.2e18));
    if (interval_ns_ > std::numeric_limits<std::int64_t>::max() / 4 / static_cast<std::int64_t>(burst))
      throw std::invalid_argument("herald::auth::TokenBucket: burst / rate out of range");
  }

  /// Takes `n` tokens if they are available at `now`; otherwise takes none.
  /// A request larger than `burst` never succeeds. `now` should not go
  /// backwards; if it does, the bucket just refills no faster.
  bool try_take(clock::time_point now, std::uint32_t n = 1) noexcept {
    if (n > burst_) return false;
    const std::int64_t t = ns(now);
    const std::int64_t base = started_ && tat_ > t ? tat_ : t;
    const std::int64_t new_tat = base + static_cast<std::int64_t>(n) * interval_ns_;
    // Allowed while the schedule runs at most `burst` intervals ahead of now.
    if (new_tat - t > static_cast<std::int64_t>(burst_) * interval_ns_) return false;
    tat_ = new_tat;
    started_ = true;
    return true;
  }

  /// Whole tokens available at `now` (0..burst).
  std::uint32_t available(clock::time_point now) const noexcept {
    const std::int64_t t = ns(now);
    if (!started_ || tat_ <= t) return burst_;
    const std::int64_t ahead = tat_ - t;
    const std::int64_t cap = static_cast<std::int64_t>(burst_) * interval_ns_;
    return static_cast<std::uint32_t>((cap - ahead) / interval_ns_);
  }

  /// How long until `n` tokens are available (zero when they are now); for a
  /// `Retry-After` header. Meaningless for `n > burst` (returns max).
  clock::duration retry_after(clock::time_point now, std::uint32_t n = 1) const noexcept {
    if (n > burst_) return clock::duration::max();
    const std::int64_t t = ns(now);
    const std::int64_t base = started_ && tat_ > t ? tat_ : t;
    const std::int64_t over = base + static_cast<std::int64_t>(n) * interval_ns_ - t -
                              static_cast<std::int64_t>(burst_) * interval_ns_;
    if (over <= 0) return clock::duration::zero();
    return std::chrono::duration_cast<clock::duration>(std::chrono::nanoseconds(over));
  }

  std::uint32_t burst() const noexcept { return burst_; }
  /// The refill interval: one token per this many nanoseconds.
  std::chrono::nanoseconds interval() const noexcept { return std::chrono::nanoseconds(interval_ns_); }

 private:
  static std::int64_t ns(clock::time_point tp) noexcept {
    return std::chrono::duration_cast<std::chrono::nanoseconds>(tp.time_since_epoch()).count();
  }

  std::int64_t interval_ns_ = 1;
  std::int64_t tat_ = 0;  ///< theoretical arrival time: when the bucket is full again
  std::uint32_t burst_;
  bool started_ = false;  ///< false until the first take: the bucket starts full
};

/// A rate limit's two numbers, for the options aggregates: `per_second`
/// tokens refill a bucket of `burst`. Either 0: no limit.
struct RateLimit {
  double per_second = 0;
  std::uint32_t burst = 0;
  bool enabled() const noexcept { return per_second > 0 && burst > 0; }
};

/// One TokenBucket per key (a client address), for limits that must hold
/// across connections (HTTP publishes: a client could open a new connection
/// per request).
///
/// Memory is bounded: at most `max_keys` buckets. When the table is full,
/// buckets that are full again (their key has been quiet long enough to be
/// indistinguishable from a new one) are dropped; if none is, the new key is
/// refused (fail closed), so a flood of addresses cannot grow the table.
///
/// @par Thread Safety
/// Safe: shared by every event-loop thread (a short mutex).
class TokenBucketsPerKey {
 public:
  /// `limit` disabled: every take succeeds and nothing is stored.
  explicit TokenBucketsPerKey(RateLimit limit, std::size_t max_keys = 100000) : limit_(limit), max_keys_(max_keys) {}

  /// Takes one token from `key`'s bucket at `now`. When refused,
  /// `retry_after` (if given) receives how long until one is available.
  bool try_take(std::string_view key, TokenBucket::clock::time_point now,
                TokenBucket::clock::duration* retry_after = nullptr) {
    if (!limit_.enabled()) return true;
    std::lock_guard lock(mutex_);
    auto it = buckets_.find(std::string(key));
    if (it == buckets_.end()) {
      if (buckets_.size() >= max_keys_) {
        std::erase_if(buckets_, [&](const auto& kv) { return kv.second.available(now) == kv.second.burst(); });
        if (buckets_.size() >= max_keys_) {
          if (retry_after) *retry_after = std::chrono::seconds(1);
          return false;
        }
      }
      it = buckets_.emplace(std::string(key), TokenBucket(limit_.per_second, limit_.burst)).first;
    }
    if (it->second.try_take(now)) return true;
    if (retry_after) *retry_after = it->second.retry_after(now);
    return false;
  }

  /// Keys currently holding a bucket.
  std::size_t size() const {
    std::lock_guard lock(mutex_);
    return buckets_.size();
  }

 private:
  RateLimit limit_;
  std::size_t max_keys_;
  mutable std::mutex mutex_;
  std::unordered_map<std::string, TokenBucket> buckets_;
};

/// Counts open connections per client address and refuses past a maximum.
///
/// Memory is bounded: at most `max_addresses` distinct addresses are tracked
/// at once. When the table is full a new address is refused (fail closed), so
/// a flood from many addresses cannot grow it; the server's global
/// `--max-connections` limit bounds the total anyway. Entries disappear when
/// their count drops to zero.
///
/// The key is whatever the caller passes: normally the peer IP without the
/// port. IPv6 clients often own a whole /64, so a server may pass the /64
/// prefix instead.
///
/// @par Thread Safety
/// Safe: one instance is shared by every accepting thread (a short mutex).
///
/// @par Example
/// @code
/// ConnectionsPerAddress per_ip{{.max_per_address = 100}};
/// if (!per_ip.try_add(ip)) { /* 503 or 429 with Retry-After */ }
/// ...                      // when the connection ends:
/// per_ip.remove(ip);
/// @endcode
class ConnectionsPerAddress {
 public:
  /// Limits; defaults suit a public server behind no proxy.
  struct Options {
    std::size_t max_per_address = 256;   ///< connections one address may hold (NAT puts many users behind one)
    std::size_t max_addresses = 100000;  ///< distinct addresses tracked at once (bounds memory)
  };

  ConnectionsPerAddress() : ConnectionsPerAddress(Options{}) {}
  explicit ConnectionsPerAddress(Options opts) : opts_(opts) {}

  /// Counts one more connection from `address`; false (and nothing counted)
  /// when that address is at its maximum or the table is full.
  bool try_add(std::string_view address) {
    std::lock_guard lock(mutex_);
    auto it = counts_.find(std::string(address));
    if (it == counts_.end()) {
      if (opts_.max_per_address == 0 || counts_.size() >= opts_.max_addresses) return false;
      counts_.emplace(std::string(address), 1);
      return true;
    }
    if (it->second >= opts_.max_per_address) return false;
    ++it->second;
    return true;
  }

  /// Counts one connection from `address` as gone. Call exactly once per
  /// successful try_add; an unknown address is ignored.
  void remove(std::string_view address) {
    std::lock_guard lock(mutex_);
    auto it = counts_.find(std::string(address));
    if (it == counts_.end()) return;
    if (--it->second == 0) counts_.erase(it);
  }

  /// Connections currently counted for `address`.
  std::size_t count(std::string_view address) const {
    std::lock_guard lock(mutex_);
    auto it = counts_.find(std::string(address));
    return it == counts_.end() ? 0 : it->second;
  }

  /// Distinct addresses currently tracked.
  std::size_t addresses() const {
    std::lock_guard lock(mutex_);
    return counts_.size();
  }

 private:
  Options opts_;
  mutable std::mutex mutex_;
  std::unordered_map<std::string, std::size_t> counts_;
};

}  // namespace herald::auth
