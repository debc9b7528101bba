// herald: the log sink. herald logs only what an operator must know about and
// cannot see otherwise: an exception contained at one of its boundaries, an
// accept that ran out of descriptors, a refused thread model.
#pragma once
#include <herald/config.hpp>

#include <chrono>
#include <cstdio>
#include <exception>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>

namespace herald {

/// How much a log line matters.
enum class LogLevel : unsigned char { debug, info, warning, error };

inline constexpr std::string_view log_level_name(LogLevel l) noexcept {
  constexpr std::string_view names[] = {"debug", "info", "warning", "error"};
  return names[static_cast<unsigned>(l)];
}

/// Receives herald's log lines: a level and one line of text (no newline).
/// Called on whichever thread logs (an event-loop thread, usually); it must
/// not block for long and should not throw (what it throws is discarded).
using LogSink = std::function<void(LogLevel, std::string_view)>;

namespace detail {
struct LogState {
  std::mutex mu;
  std::shared_ptr<const LogSink> sink;  // null: the default (stderr_log_sink)
  // The default sink's rate limit: a token bucket of kBurst lines, refilled
  // at kPerSecond, so a flood of failures costs a few lines a second, not a
  // write per failure.
  static constexpr double kPerSecond = 10, kBurst = 20;
  double tokens = kBurst;
  std::chrono::steady_clock::time_point last{};
  unsigned long long suppressed = 0;
};
HERALD_DECL LogState& log_state() noexcept {
  static LogState s;
  return s;
}
}  // namespace detail

/// The default sink: `herald: <level>: <message>` on stderr, one write per
/// line, at most 10 lines a second in bursts of 20; lines over the limit are
/// dropped and counted, and the next line written says how many were.
HERALD_DECL void stderr_log_sink(LogLevel level, std::string_view message) {
  auto& s = detail::log_state();
  unsigned long long dropped = 0;
  {
    std::lock_guard lk(s.mu);
    auto now = std::chrono::steady_clock::now();
    if (s.last != std::chrono::steady_clock::time_point{}) {
      s.tokens += std::chrono::duration<double>(now - s.last).count() * detail::LogState::kPerSecond;
      if (s.tokens > detail::LogState::kBurst) s.tokens = detail::LogState::kBurst;
    }
    s.last = now;
    if (s.tokens < 1) {
      ++s.suppressed;
      return;
    }
    s.tokens -= 1;
    dropped = s.suppressed;
    s.suppressed = 0;
  }
  std::string line = "herald: ";
  line.append(log_level_name(level)).append(": ").append(message);
  if (dropped) line.append(" (").append(std::to_string(dropped)).append(" earlier lines suppressed)");
  line.push_back('\n');
  std::fwrite(line.data(), 1, line.size(), stderr);
}

/// Replaces the sink for the whole process (thread-safe). An empty function
/// restores the default, `stderr_log_sink`.
/// @code
/// herald::set_log_sink([](herald::LogLevel l, std::string_view msg) {
///   spdlog::log(l == herald::LogLevel::error ? spdlog::level::err : spdlog::level::warn, "{}", msg);
/// });
/// @endcode
/// A replacement gets every line (no rate limit): limit it there if needed.
HERALD_DECL void set_log_sink(LogSink sink) {
  auto p = sink ? std::make_shared<const LogSink>(std::move(sink)) : nullptr;
  auto& s = detail::log_state();
  std::lock_guard lk(s.mu);
  s.sink = std::move(p);
}

/// Logs one line through the current sink. Never throws (called from catch blocks).
HERALD_DECL void log(LogLevel level, std::string_view message) noexcept {
  try {
    std::shared_ptr<const LogSink> sink;
    {
      auto& s = detail::log_state();
      std::lock_guard lk(s.mu);
      sink = s.sink;
    }
    if (sink) (*sink)(level, message);
    else stderr_log_sink(level, message);
  } catch (...) {
  }
}

namespace detail {
/// `what()` of the exception being handled ("unknown exception" for others).
/// Call inside a catch block.
HERALD_DECL std::string current_exception_text() noexcept {
  try {
    throw;
  } catch (const std::exception& e) {
    try { return e.what(); } catch (...) { return {}; }
  } catch (...) {
    return "unknown exception";
  }
}

/// Logs the exception being handled as `<where>: <what>`. Call inside a catch block.
HERALD_DECL void log_exception(std::string_view where) noexcept {
  try {
    std::string m(where);
    m.append(": ").append(current_exception_text());
    log(LogLevel::error, m);
  } catch (...) {
  }
}
}  // namespace detail

}  // namespace herald
