// herald: the time source behind every deadline, so tests drive time instead of sleeping.
#pragma once
#include <herald/config.hpp>

#include <atomic>
#include <chrono>

namespace herald {

using Clock = std::chrono::steady_clock;

/// Where heartbeats, idle deadlines and retry schedules read the time.
/// The default is the steady clock; tests install a ManualClock.
class TimeSource {
 public:
  virtual ~TimeSource() = default;
  virtual Clock::time_point now() const noexcept = 0;
};

/// The steady clock, as a TimeSource.
class SteadyTimeSource final : public TimeSource {
 public:
  Clock::time_point now() const noexcept override { return Clock::now(); }
  static SteadyTimeSource& instance() noexcept {
    static SteadyTimeSource s;
    return s;
  }
};

/// A clock that moves only when told to. Thread-safe.
/// @par Example
/// @code
/// herald::ManualClock clock;
/// server.set_time_source(clock);
/// clock.advance(std::chrono::seconds(15));
/// server.sweep_now();   // heartbeats due at +15 s are sent now
/// @endcode
class ManualClock final : public TimeSource {
 public:
  explicit ManualClock(Clock::time_point start = Clock::time_point{} + std::chrono::hours(1)) noexcept
      : ns_(start.time_since_epoch().count()) {}
  Clock::time_point now() const noexcept override {
    return Clock::time_point(Clock::duration(ns_.load(std::memory_order_acquire)));
  }
  void advance(Clock::duration d) noexcept { ns_.fetch_add(d.count(), std::memory_order_acq_rel); }

 private:
  std::atomic<Clock::rep> ns_;
};

}  // namespace herald
