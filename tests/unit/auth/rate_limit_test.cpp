#include <herald/auth/rate_limit.hpp>

#include <catch2/catch.hpp>

#include <string>

using namespace herald::auth;
using namespace std::chrono_literals;
using Steady = std::chrono::steady_clock;

TEST_CASE("token bucket: trips after the burst and recovers with time", "[auth][rate]") {
  TokenBucket b{2.0, 5};  // 2 per second, bursts of 5: one token per 500 ms
  const Steady::time_point t0{1000s};
  CHECK(b.available(t0) == 5);
  for (int i = 0; i < 5; ++i) CHECK(b.try_take(t0));
  CHECK_FALSE(b.try_take(t0));
  CHECK(b.available(t0) == 0);
  CHECK(b.retry_after(t0) == 500ms);
  CHECK_FALSE(b.try_take(t0 + 499ms));
  CHECK(b.try_take(t0 + 500ms));
  CHECK_FALSE(b.try_take(t0 + 500ms));
  CHECK(b.available(t0 + 1500ms) == 2);
  // A long pause refills to the burst, never past it.
  CHECK(b.available(t0 + 1h) == 5);
  for (int i = 0; i < 5; ++i) CHECK(b.try_take(t0 + 1h));
  CHECK_FALSE(b.try_take(t0 + 1h));
}

TEST_CASE("token bucket: taking several at once", "[auth][rate]") {
  TokenBucket b{10.0, 10};
  const Steady::time_point t0{5s};
  CHECK_FALSE(b.try_take(t0, 11));  // more than the burst never fits
  CHECK(b.try_take(t0, 7));
  CHECK_FALSE(b.try_take(t0, 4));   // all or nothing: nothing was taken
  CHECK(b.try_take(t0, 3));
  CHECK_FALSE(b.try_take(t0, 1));
  CHECK(b.retry_after(t0, 2) == 200ms);
  CHECK(b.try_take(t0 + 200ms, 2));
}

TEST_CASE("token bucket: steady rate over a long run has no drift", "[auth][rate]") {
  // 3 per second does not divide a second evenly. Over 1000 s, asking every
  // millisecond, exactly burst + 3000 are granted: the late asks (up to 1 ms
  // after a token is due) lose nothing, and no rounding accumulates.
  TokenBucket b{3.0, 2};
  const Steady::time_point t0{};
  long granted = 0;
  for (long ms = 0; ms <= 1'000'000; ++ms)
    if (b.try_take(t0 + std::chrono::milliseconds(ms))) ++granted;
  CHECK(granted == 3000 + 2);
}

TEST_CASE("token bucket: a slow rate and time going backwards", "[auth][rate]") {
  TokenBucket b{0.5, 1};  // one every 2 s
  const Steady::time_point t0{100s};
  CHECK(b.try_take(t0));
  CHECK_FALSE(b.try_take(t0 - 10s));  // a clock step back grants nothing extra
  CHECK_FALSE(b.try_take(t0 + 1999ms));
  CHECK(b.try_take(t0 + 2s));
  CHECK(b.interval() == 2s);
}

TEST_CASE("token bucket: bad configuration throws", "[auth][rate]") {
  CHECK_THROWS_AS(TokenBucket(0.0, 1), std::invalid_argument);
  CHECK_THROWS_AS(TokenBucket(-1.0, 1), std::invalid_argument);
  CHECK_THROWS_AS(TokenBucket(1.0, 0), std::invalid_argument);
  CHECK_THROWS_AS(TokenBucket(std::numeric_limits<double>::quiet_NaN(), 1), std::invalid_argument);
  CHECK_THROWS_AS(TokenBucket(std::numeric_limits<double>::infinity(), 1), std::invalid_argument);
  CHECK_THROWS_AS(TokenBucket(1e-12, 1000), std::invalid_argument);
  CHECK_NOTHROW(TokenBucket(1e12, 1));  // faster than 1/ns: treated as 1/ns
}

TEST_CASE("connections per address", "[auth][rate]") {
  ConnectionsPerAddress c{{.max_per_address = 2, .max_addresses = 3}};
  CHECK(c.try_add("10.0.0.1"));
  CHECK(c.try_add("10.0.0.1"));
  CHECK_FALSE(c.try_add("10.0.0.1"));
  CHECK(c.count("10.0.0.1") == 2);
  CHECK(c.try_add("10.0.0.2"));
  CHECK(c.try_add("10.0.0.3"));
  CHECK_FALSE(c.try_add("10.0.0.4"));  // table full: bounded memory
  CHECK(c.addresses() == 3);
  c.remove("10.0.0.3");
  CHECK(c.addresses() == 2);
  CHECK(c.try_add("10.0.0.4"));
  c.remove("10.0.0.1");
  CHECK(c.try_add("10.0.0.1"));
  CHECK_FALSE(c.try_add("10.0.0.1"));
  c.remove("never-seen");  // ignored
  c.remove("10.0.0.2");
  c.remove("10.0.0.2");  // once too often: ignored, no underflow
  CHECK(c.count("10.0.0.2") == 0);
  CHECK(c.addresses() == 2);
}

TEST_CASE("token buckets per key: one bucket per key, bounded table", "[auth][rate]") {
  const Steady::time_point t0{1000s};
  TokenBucketsPerKey off{RateLimit{}};
  for (int i = 0; i < 10; ++i) CHECK(off.try_take("a", t0));  // disabled: no limit, nothing stored
  CHECK(off.size() == 0);

  TokenBucketsPerKey b{RateLimit{.per_second = 1, .burst = 2}, 2};
  Steady::duration wait{};
  CHECK(b.try_take("a", t0));
  CHECK(b.try_take("a", t0));
  CHECK_FALSE(b.try_take("a", t0, &wait));
  CHECK(wait == 1s);
  CHECK(b.try_take("b", t0));  // keys do not share
  CHECK_FALSE(b.try_take("c", t0, &wait));  // table full, nobody idle: refused (fail closed)
  CHECK(wait == 1s);
  CHECK(b.size() == 2);
  // Once "a" and "b" are full again they are indistinguishable from new keys: dropped for "c".
  CHECK(b.try_take("c", t0 + 2s));
  CHECK(b.size() == 1);
  CHECK(b.try_take("a", t0 + 2s));
  CHECK(b.size() == 2);
}
