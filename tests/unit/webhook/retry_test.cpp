#include <herald/webhook/retry.hpp>

#include <catch2/catch.hpp>

#include <random>

using namespace herald::webhook;
using namespace std::chrono_literals;
using std::chrono::milliseconds;
using std::chrono::system_clock;

namespace {
// A generator that always answers the same value: pins full jitter to an end.
struct Fixed {
  using result_type = std::uint32_t;
  result_type v;
  static constexpr result_type min() { return 0; }
  static constexpr result_type max() { return 0xFFFFFFFF; }
  result_type operator()() { return v; }
};
system_clock::time_point at(std::int64_t s) { return system_clock::time_point(std::chrono::seconds(s)); }
}  // namespace

TEST_CASE("retry: the default schedule", "[webhook][retry]") {
  const Schedule s = default_schedule();
  REQUIRE(s.size() == 8);
  CHECK(s[0] == 0ms);
  CHECK(s[1] == 5s);
  CHECK(s[2] == 5min);
  CHECK(s[3] == 30min);
  CHECK(s[4] == 2h);
  CHECK(s[5] == 5h);
  CHECK(s[6] == 10h);
  CHECK(s[7] == 10h);
}

TEST_CASE("retry: schedule parsing", "[webhook][retry]") {
  std::error_code ec;
  CHECK(parse_schedule("0s,1s,2s,4s", ec) == Schedule{0ms, 1s, 2s, 4s});
  CHECK_FALSE(ec);
  CHECK(parse_schedule(" 250ms , 1m,\t2h ", ec) == Schedule{250ms, 1min, 2h});
  CHECK_FALSE(ec);
  CHECK(parse_schedule("7s", ec) == Schedule{7s});
  CHECK(parse_schedule("000001ms", ec) == Schedule{1ms});
  CHECK(parse_schedule("999999999h", ec) == Schedule{std::chrono::hours(999999999)});
  CHECK_FALSE(ec);
  for (const char* bad : {"", " ", ",", "0s,", ",0s", "0s,,1s", "5", "s", "5 s", "5S", "5sec", "1d", "-1s", "+1s",
                          "1.5s", "0x10s", "1000000000s", "5s;6s", "5s 6s"}) {
    CAPTURE(bad);
    CHECK(parse_schedule(bad, ec).empty());
    CHECK(ec == herald::error::invalid_argument);
  }
}

TEST_CASE("retry: full jitter stays within [0, ceiling] and reaches both ends", "[webhook][retry]") {
  Fixed lo{0}, hi{0xFFFFFFFF}, mid{0x80000000};
  CHECK(full_jitter(10s, lo) == 0ms);
  CHECK(full_jitter(10s, hi) == 10s);
  CHECK(full_jitter(10s, mid) == 5000ms);
  CHECK(full_jitter(0ms, hi) == 0ms);
  struct Max64 {
    using result_type = std::uint64_t;
    static constexpr result_type min() { return 0; }
    static constexpr result_type max() { return ~result_type{0}; }
    result_type operator()() { return max(); }
  } m;
  CHECK(full_jitter(10h, m) == 10h);  // rounding to 1.0 is clamped

  std::mt19937 rng(42);
  milliseconds lowest = 1h, highest = 0ms;
  for (int i = 0; i < 10'000; ++i) {
    const auto d = full_jitter(1000ms, rng);
    REQUIRE(d >= 0ms);
    REQUIRE(d <= 1000ms);
    lowest = std::min(lowest, d);
    highest = std::max(highest, d);
  }
  CHECK(lowest < 20ms);  // spread over the whole interval
  CHECK(highest > 980ms);
  // Same seed, same delays.
  std::mt19937 a(7), b(7);
  for (int i = 0; i < 100; ++i) CHECK(full_jitter(5min, a) == full_jitter(5min, b));
}

TEST_CASE("retry: delay_before walks the schedule, then ends", "[webhook][retry]") {
  std::error_code ec;
  const Schedule s = parse_schedule("0s,1s,2s,4s", ec);
  Fixed hi{0xFFFFFFFF}, lo{0};
  CHECK(delay_before(s, 0, hi) == 0ms);
  CHECK(delay_before(s, 1, hi) == 1s);
  CHECK(delay_before(s, 3, hi) == 4s);
  CHECK(delay_before(s, 3, lo) == 0ms);
  CHECK_FALSE(delay_before(s, 4, hi));  // dead-letter
  CHECK_FALSE(delay_before(Schedule{}, 0, hi));
  // Retry-After is a floor, capped by the longest step of the schedule.
  CHECK(delay_before(s, 1, lo, milliseconds(3s)) == 3s);
  CHECK(delay_before(s, 3, hi, milliseconds(1s)) == 4s);
  CHECK(delay_before(s, 1, lo, milliseconds(1h)) == 4s);
  CHECK(delay_before(s, 1, lo, milliseconds(0)) == 0ms);
  CHECK_FALSE(delay_before(s, 4, lo, milliseconds(1s)));
}

TEST_CASE("retry: Retry-After delta-seconds and IMF-fixdate", "[webhook][retry]") {
  const auto now = at(1445412480);  // Wed, 21 Oct 2015 07:28:00 GMT
  CHECK(parse_retry_after("120", now) == std::chrono::seconds(120));
  CHECK(parse_retry_after("0", now) == std::chrono::seconds(0));
  CHECK(parse_retry_after(" 5 ", now) == std::chrono::seconds(5));
  CHECK(parse_retry_after("99999999999999999999999", now) == std::chrono::seconds(999'999'999));
  CHECK(parse_retry_after("Wed, 21 Oct 2015 07:28:00 GMT", now) == std::chrono::seconds(0));
  CHECK(parse_retry_after("Wed, 21 Oct 2015 07:29:30 GMT", now) == std::chrono::seconds(90));
  CHECK(parse_retry_after("Thu, 22 Oct 2015 07:28:00 GMT", now) == std::chrono::seconds(86400));
  CHECK(parse_retry_after("Sun, 06 Nov 1994 08:49:37 GMT", now) == std::chrono::seconds(0));  // past
  CHECK(parse_retry_after("Thu, 29 Feb 2024 00:00:00 GMT", at(1709164800 - 10)) == std::chrono::seconds(10));
  for (const char* bad : {"", "-1", "1.5", "12abc", "soon", "Sunday, 06-Nov-94 08:49:37 GMT",
                          "Sun Nov  6 08:49:37 1994", "Wed, 21 Oct 2015 07:28:00 UTC", "Xyz, 21 Oct 2015 07:28:00 GMT",
                          "Wed, 21 Foo 2015 07:28:00 GMT", "Wed, 31 Feb 2015 07:28:00 GMT",
                          "Wed, 21 Oct 2015 24:28:00 GMT", "Wed, 21 Oct 2015 07:60:00 GMT", "Wed, 21 Oct 2015 07:28:00"}) {
    CAPTURE(bad);
    CHECK_FALSE(parse_retry_after(bad, now));
  }
}

TEST_CASE("retry: classify per CONTRACT.md", "[webhook][retry]") {
  for (int s : {200, 201, 202, 204, 299}) CHECK(classify(s) == Outcome::delivered);
  for (int s : {300, 301, 302, 304, 307, 308}) CHECK(classify(s) == Outcome::retry);
  for (int s : {408, 429, 500, 502, 503, 504, 599}) CHECK(classify(s) == Outcome::retry);
  CHECK(classify(410) == Outcome::disable);
  for (int s : {400, 401, 403, 404, 405, 409, 413, 422, 499}) CHECK(classify(s) == Outcome::dead_letter);
  for (int s : {0, 99, 100, 101, 199, 600, -1}) CHECK(classify(s) == Outcome::retry);
  const ClassifyOptions lenient{.dead_letter_client_errors = false};
  CHECK(classify(404, lenient) == Outcome::retry);
  CHECK(classify(410, lenient) == Outcome::disable);
  CHECK(classify(200, lenient) == Outcome::delivered);
  CHECK(honours_retry_after(429));
  CHECK(honours_retry_after(503));
  CHECK_FALSE(honours_retry_after(500));
  CHECK_FALSE(honours_retry_after(408));
}
