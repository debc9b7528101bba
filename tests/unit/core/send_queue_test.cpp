#include <herald/core/send_queue.hpp>

#include <catch2/catch.hpp>

#include <string>
#include <utility>

using namespace herald;

namespace {
struct Buf {
  const void* p = nullptr;
  std::size_t n = 0;
  Buf() = default;
  Buf(const void* p, std::size_t n) : p(p), n(n) {}
};
Chunk event_chunk(const std::string& s, std::string_view key = {}) {
  auto owner = std::make_shared<const std::string>(s);
  std::string_view k = key;
  return Chunk{owner, *owner, k, true};
}
std::string contents(const SendQueue& q) {
  Buf b[64];
  std::size_t n = q.gather(b, 64);
  std::string out;
  for (std::size_t i = 0; i < n; ++i) out.append(static_cast<const char*>(b[i].p), b[i].n);
  return out;
}
}  // namespace

TEST_CASE("send queue: gathers in order and consumes partial writes", "[core][queue]") {
  SendQueue q;
  for (int i = 0; i < 20; ++i) q.push(Chunk::owned(std::to_string(i % 10)));  // forces ring growth
  CHECK(q.size() == 20);
  CHECK(contents(q) == "01234567890123456789");
  q.consume(3);
  CHECK(contents(q) == "34567890123456789");
  q.push(Chunk::owned("ab"));
  q.consume(17);
  CHECK(contents(q) == "ab");
  q.consume(1);
  CHECK(contents(q) == "b");
  CHECK(q.bytes() == 1);
}

TEST_CASE("send queue: overflow policies", "[core][queue]") {
  QueueOptions o{.high_watermark = 10, .low_watermark = 4, .policy = OverflowPolicy::close};
  SECTION("close") {
    SendQueue q(o);
    CHECK(q.push(event_chunk("12345678")) == PushResult::queued);
    CHECK(q.push(event_chunk("abc")) == PushResult::overflow);
    CHECK(q.push(Chunk::owned("protocol bytes are never refused")) == PushResult::queued);
  }
  SECTION("drop_newest") {
    o.policy = OverflowPolicy::drop_newest;
    SendQueue q(o);
    q.push(event_chunk("12345678"));
    CHECK(q.push(event_chunk("abc")) == PushResult::dropped_new);
    CHECK(contents(q) == "12345678");
    CHECK(q.take_dropped() == 1);
  }
  SECTION("drop_oldest keeps the partly written front") {
    o.policy = OverflowPolicy::drop_oldest;
    SendQueue q(o);
    q.push(event_chunk("aaaa"));
    q.push(event_chunk("bbbb"));
    q.consume(1);  // "aaa" must still go out whole
    CHECK(q.push(event_chunk("cccccc")) == PushResult::dropped_old);
    CHECK(contents(q) == "aaacccccc");
    CHECK(q.take_dropped() == 1);
  }
  SECTION("conflate keeps the newest per key, in place") {
    o.policy = OverflowPolicy::conflate;
    SendQueue q(o);
    q.push(event_chunk("A1;", "A"));
    q.push(event_chunk("B1;", "B"));
    q.push(event_chunk("A2;", "A"));
    CHECK(q.push(event_chunk("A3;", "A")) == PushResult::conflated);
    CHECK(q.push(event_chunk("B2;", "B")) == PushResult::conflated);
    CHECK(contents(q) == "A1;B2;A3;");
    CHECK(q.bytes() == 9);
    CHECK(q.take_dropped() == 2);
  }
  SECTION("wait reports full, drops nothing") {
    o.policy = OverflowPolicy::wait;
    SendQueue q(o);
    q.push(event_chunk("12345678"));
    CHECK(q.push(event_chunk("abc")) == PushResult::full);
    CHECK(contents(q) == "12345678abc");  // kept: wait never drops
    CHECK(q.take_dropped() == 0);
  }
}

TEST_CASE("send queue: one byte budget: full past the high watermark, max_bytes caps what is not answered",
          "[core][queue][budget]") {
  QueueOptions o{.high_watermark = 10, .low_watermark = 4, .policy = OverflowPolicy::close, .max_bytes = 20};
  SendQueue q(o);
  CHECK_FALSE(q.full());
  CHECK_FALSE(q.over_limit(100));  // a first chunk always fits: one message the application chose
  q.push(Chunk::owned("0123456789"));
  CHECK_FALSE(q.full());           // at the watermark, not past it
  q.push(Chunk::owned("a"));
  CHECK(q.full());                 // reading pauses
  CHECK_FALSE(q.below_low_watermark());
  CHECK_FALSE(q.over_limit(9));    // 11 + 9 = 20: at the cap
  CHECK(q.over_limit(10));         // past it
  // Protocol bytes still go in (the connection decides whether to send them).
  CHECK(q.push(Chunk::owned("protocol")) == PushResult::queued);
  q.consume(15);
  CHECK_FALSE(q.full());
  CHECK(q.below_low_watermark());  // 4 left: reading resumes
}

TEST_CASE("send queue: a plain publish under wait is capped by max_bytes", "[core][queue][budget]") {
  QueueOptions o{.high_watermark = 10, .low_watermark = 4, .policy = OverflowPolicy::wait, .max_bytes = 30};
  SendQueue q(o);
  CHECK(q.push(event_chunk(std::string(40, 'x'))) == PushResult::full);  // one event larger than the cap: kept
  q.consume(40);
  CHECK(q.push(event_chunk("12345678")) == PushResult::queued);
  CHECK(q.push(event_chunk("abcdefgh")) == PushResult::full);    // 16: past the watermark, the publisher should wait
  CHECK(q.push(event_chunk("ABCDEFGH")) == PushResult::full);    // 24: kept, never dropped
  CHECK(q.push(event_chunk("--------")) == PushResult::overflow); // 32 > max_bytes: a slow consumer
  CHECK(q.bytes() == 24);
  CHECK(q.take_dropped() == 0);
}
