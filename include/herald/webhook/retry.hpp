// herald: webhook retry policy, sans-I/O. The schedule and its text form, full
// jitter, Retry-After, and what a response status means for a delivery.
#pragma once
#include <herald/config.hpp>
#include <herald/core/error.hpp>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <concepts>
#include <cstdint>
#include <optional>
#include <random>
#include <string_view>
#include <system_error>
#include <vector>

namespace herald::webhook {

/// The delay before each attempt of one delivery: entry 0 before the first
/// attempt, entry i before attempt i. Its length is the number of attempts;
/// after the last one fails the message is dead-lettered.
using Schedule = std::vector<std::chrono::milliseconds>;

/// The default schedule, in the `--webhook-retry-schedule` syntax: at once,
/// then growing roughly exponentially to 10 h, about 28 h in all, close to what
/// Standard Webhooks senders (Svix) use: a receiver down for a day loses nothing.
inline constexpr std::string_view default_schedule_text = "0s,5s,5m,30m,2h,5h,10h,10h";

/// Parses a schedule: comma-separated entries, each a decimal integer (at most
/// 9 digits) and a unit `ms`, `s`, `m` or `h`, whitespace allowed around
/// entries (`0s, 5s, 5m`). An empty list, an empty entry, a missing or unknown
/// unit, a sign or a fraction is error::invalid_argument (a configuration
/// error: report it at start-up), and an empty Schedule is returned.
HERALD_DECL Schedule parse_schedule(std::string_view text, std::error_code& ec) {
  using namespace std::chrono;
  ec = error::invalid_argument;
  Schedule s;
  auto is_space = [](char c) { return c == ' ' || c == '\t'; };
  std::size_t pos = 0;
  while (true) {
    const std::size_t comma = text.find(',', pos);
    std::string_view item = text.substr(pos, comma == std::string_view::npos ? comma : comma - pos);
    while (!item.empty() && is_space(item.front())) item.remove_prefix(1);
    while (!item.empty() && is_space(item.back())) item.remove_suffix(1);
    std::size_t digits = 0;
    std::int64_t v = 0;
    while (digits < item.size() && item[digits] >= '0' && item[digits] <= '9') {
      v = v * 10 + (item[digits] - '0');
      ++digits;
    }
    if (digits == 0 || digits > 9) return {};
    const std::string_view unit = item.substr(digits);
    if (unit == "ms") s.emplace_back(v);
    else if (unit == "s") s.emplace_back(duration_cast<milliseconds>(seconds(v)));
    else if (unit == "m") s.emplace_back(duration_cast<milliseconds>(minutes(v)));
    else if (unit == "h") s.emplace_back(duration_cast<milliseconds>(hours(v)));
    else return {};
    if (comma == std::string_view::npos) break;
    pos = comma + 1;
  }
  ec = {};
  return s;
}

/// default_schedule_text, parsed.
HERALD_DECL Schedule default_schedule() {
  std::error_code ec;
  return parse_schedule(default_schedule_text, ec);
}

/// Full jitter: a delay drawn uniformly from [0, ceiling], in milliseconds.
///
/// Why full jitter (the delay anywhere between zero and the scheduled value)
/// rather than the scheduled value plus a little noise: after an outage every
/// sender's messages fail together, and full jitter spreads their retries over
/// the whole interval instead of bunching them at its end (the AWS
/// "Exponential Backoff and Jitter" analysis). The cost is that a retry may
/// come earlier than the schedule says, never later.
///
/// `rng` is any uniform random bit generator, passed in so tests are
/// deterministic (a generator that always returns its max gives `ceiling`, its
/// min gives zero). The mapping is our own, not std::uniform_int_distribution,
/// so the same generator gives the same delays with every standard library.
template <std::uniform_random_bit_generator G>
std::chrono::milliseconds full_jitter(std::chrono::milliseconds ceiling, G& rng) {
  if (ceiling.count() <= 0) return std::chrono::milliseconds(0);
  const double span = static_cast<double>(G::max() - G::min()) + 1.0;
  const double u = static_cast<double>(rng() - G::min()) / span;  // [0, 1], 1 only by rounding
  const auto d = static_cast<std::int64_t>(std::floor(u * (static_cast<double>(ceiling.count()) + 1.0)));
  return std::chrono::milliseconds(std::clamp<std::int64_t>(d, 0, ceiling.count()));
}

/// The delay before attempt `attempt` (0 = the first), jittered; nullopt when
/// the schedule has no such attempt (the message is then dead-lettered).
///
/// `retry_after`, from a 429 or 503 response (parse_retry_after), is a floor:
/// the receiver asked us to wait at least that long. It is capped at the
/// longest entry of the schedule, so a receiver cannot park a message for
/// longer than the operator's own schedule ever would.
template <std::uniform_random_bit_generator G>
std::optional<std::chrono::milliseconds> delay_before(const Schedule& schedule, std::size_t attempt, G& rng,
                                                      std::optional<std::chrono::milliseconds> retry_after = {}) {
  if (attempt >= schedule.size()) return std::nullopt;
  auto d = full_jitter(schedule[attempt], rng);
  if (retry_after && retry_after->count() > 0) {
    const auto cap = *std::max_element(schedule.begin(), schedule.end());
    d = std::max(d, std::min(*retry_after, cap));
  }
  return d;
}

namespace detail {

HERALD_DECL int parse_fixed_digits(std::string_view s, std::size_t at, std::size_t n) noexcept {
  if (at + n > s.size()) return -1;
  int v = 0;
  for (std::size_t i = at; i < at + n; ++i) {
    if (s[i] < '0' || s[i] > '9') return -1;
    v = v * 10 + (s[i] - '0');
  }
  return v;
}

/// IMF-fixdate (RFC 9110 section 5.6.7): `Sun, 06 Nov 1994 08:49:37 GMT`.
HERALD_DECL std::optional<std::chrono::sys_seconds> parse_imf_fixdate(std::string_view s) noexcept {
  using namespace std::chrono;
  if (s.size() != 29 || s[3] != ',' || s[4] != ' ' || s[7] != ' ' || s[11] != ' ' || s[16] != ' ' ||
      s[19] != ':' || s[22] != ':' || s.substr(25) != " GMT")
    return std::nullopt;
  static constexpr std::string_view days[] = {"Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun"};
  if (std::find(std::begin(days), std::end(days), s.substr(0, 3)) == std::end(days)) return std::nullopt;
  static constexpr std::string_view months[] = {"Jan", "Feb", "Mar", "Apr", "May", "Jun",
                                                "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"};
  const auto m = std::find(std::begin(months), std::end(months), s.substr(8, 3));
  if (m == std::end(months)) return std::nullopt;
  const int day = parse_fixed_digits(s, 5, 2), year = parse_fixed_digits(s, 12, 4);
  const int hh = parse_fixed_digits(s, 17, 2), mm = parse_fixed_digits(s, 20, 2), ss = parse_fixed_digits(s, 23, 2);
  if (day < 0 || year < 0 || hh < 0 || hh > 23 || mm < 0 || mm > 59 || ss < 0 || ss > 60) return std::nullopt;
  const year_month_day ymd{std::chrono::year(year), month(static_cast<unsigned>(m - std::begin(months) + 1)),
                           std::chrono::day(static_cast<unsigned>(day))};
  if (!ymd.ok()) return std::nullopt;
  return sys_days(ymd) + hours(hh) + minutes(mm) + seconds(ss);
}

}  // namespace detail

/// Parses a `Retry-After` value into a delay from `now`: delta-seconds
/// (`120`) or an HTTP-date in IMF-fixdate form (`Wed, 21 Oct 2015 07:28:00
/// GMT`); a date in the past is zero. The obsolete RFC 850 and asctime date
/// forms are not accepted (nullopt), nor is anything else malformed; a
/// sender then falls back to its schedule. Huge delta-seconds saturate at
/// about 31 years, which delay_before caps anyway.
HERALD_DECL std::optional<std::chrono::seconds> parse_retry_after(std::string_view value,
                                                                  std::chrono::system_clock::time_point now) {
  using namespace std::chrono;
  while (!value.empty() && (value.front() == ' ' || value.front() == '\t')) value.remove_prefix(1);
  while (!value.empty() && (value.back() == ' ' || value.back() == '\t')) value.remove_suffix(1);
  if (value.empty()) return std::nullopt;
  if (value.front() >= '0' && value.front() <= '9') {
    std::int64_t v = 0;
    for (const char c : value) {
      if (c < '0' || c > '9') return std::nullopt;
      v = std::min<std::int64_t>(v * 10 + (c - '0'), 999'999'999);
    }
    return seconds(v);
  }
  const auto at = detail::parse_imf_fixdate(value);
  if (!at) return std::nullopt;
  const auto d = duration_cast<seconds>(*at - now);
  return d.count() > 0 ? d : seconds(0);
}

/// What a delivery attempt's answer means.
enum class Outcome : std::uint8_t {
  delivered,    ///< 2xx
  retry,        ///< try again on the schedule (dead-letter when it ends)
  dead_letter,  ///< give up on this message now; it can be replayed later
  disable,      ///< 410 Gone: stop delivering to this endpoint; keep its messages
};

/// Knobs of classify().
struct ClassifyOptions {
  /// A 4xx other than 408, 410 and 429 dead-letters at once (default): the
  /// receiver says the request itself is wrong, so sending it again is the same
  /// mistake. Set false to retry those on the schedule too.
  bool dead_letter_client_errors = true;
};

/// Maps a response status to what the sender does, per CONTRACT.md:
/// - 2xx: delivered;
/// - 3xx: a failure, retried on the schedule. Redirects are never followed
///   (following one would bypass the SSRF check of the new target), and a 3xx
///   is most often a moved or misconfigured endpoint that its owner fixes,
///   so later attempts can succeed; the schedule bounds the cost;
/// - 408, 429 and 5xx: retry (429 and 503 honouring Retry-After, see
///   honours_retry_after);
/// - 410: disable the endpoint;
/// - another 4xx: dead-letter (see ClassifyOptions);
/// - 1xx or a status outside 100..599 (a broken peer): retry.
/// Timeouts and network errors have no status: the sender treats them as retry.
HERALD_DECL Outcome classify(int status, const ClassifyOptions& opt = {}) noexcept {
  if (status >= 200 && status <= 299) return Outcome::delivered;
  if (status == 410) return Outcome::disable;
  if (status == 408 || status == 429) return Outcome::retry;
  if (status >= 400 && status <= 499) return opt.dead_letter_client_errors ? Outcome::dead_letter : Outcome::retry;
  return Outcome::retry;  // 3xx, 5xx, 1xx, nonsense
}

/// True for the statuses whose `Retry-After` the sender honours: 429 and 503,
/// the two where RFC 9110 and RFC 6585 give it that meaning.
HERALD_DECL bool honours_retry_after(int status) noexcept { return status == 429 || status == 503; }

}  // namespace herald::webhook
