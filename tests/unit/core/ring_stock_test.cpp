// The loop's stock of spare send-queue rings: a queue that drains gives its
// ring back and the next event takes it again (no allocation per delivery),
// the sweep frees rings left unused for a whole interval, and an idle
// connection still holds none.
#include <herald/core/clock.hpp>
#include <herald/core/connection.hpp>
#include <herald/core/loop.hpp>
#include <herald/core/send_queue.hpp>

#include <catch2/catch.hpp>

#include <asio/io_context.hpp>
#include <asio/local/connect_pair.hpp>
#include <asio/local/stream_protocol.hpp>

#include <string>
#include <vector>

using namespace herald;

namespace {
Chunk event_chunk(const std::string& s) {
  auto owner = std::make_shared<const std::string>(s);
  return Chunk{owner, *owner, {}, true};
}
// One delivery to a subscriber that keeps up: take a ring, queue, write it all, drain.
void deliver(SendQueue& q, RingStock& stock, const std::string& s) {
  q.borrow(stock);
  q.push(event_chunk(s));
  q.consume(q.bytes());
  q.shrink(stock);
}
}  // namespace

TEST_CASE("ring stock: a queue that keeps up reuses one ring", "[core][queue]") {
  RingStock stock;
  SendQueue q;
  deliver(q, stock, "first");
  REQUIRE(stock.size() == 1);
  CHECK(q.capacity() == 0);  // drained: the queue holds no ring
  auto r = stock.take();
  const Chunk* ring = r.get();
  stock.give(std::move(r));
  for (int i = 0; i < 100; ++i) {
    q.borrow(stock);
    CHECK(stock.empty());
    CHECK(q.capacity() == RingStock::kCapacity);
    q.push(event_chunk("a"));
    q.push(Chunk::owned("b"));
    q.consume(1);  // pop_front
    q.clear();     // clear
    q.shrink(stock);
    CHECK(q.capacity() == 0);
    CHECK(stock.size() == 1);
  }
  CHECK(stock.take().get() == ring);  // the same ring every time
}

TEST_CASE("ring stock: slots come back default from every removal path", "[core][queue]") {
  RingStock stock;
  QueueOptions o{.high_watermark = 10, .low_watermark = 4, .policy = OverflowPolicy::drop_oldest};
  SendQueue q(o);
  q.borrow(stock);
  q.push(event_chunk("12345"));
  q.push(Chunk::owned("p"));
  q.push(event_chunk("67890"));  // drops the oldest droppable
  q.consume(3);                  // partly written front
  q.clear();
  q.shrink(stock);
  REQUIRE(stock.size() == 1);
  auto r = stock.take();
  for (std::uint32_t i = 0; i < RingStock::kCapacity; ++i) {
    CHECK(r[i].owner == nullptr);
    CHECK(r[i].bytes.empty());
  }
}

TEST_CASE("ring stock: a grown ring is freed, not kept", "[core][queue]") {
  RingStock stock;
  SendQueue q;
  q.borrow(stock);
  for (int i = 0; i < 9; ++i) q.push(event_chunk("x"));  // 8 -> 16 slots
  CHECK(q.capacity() == 16);
  q.consume(q.bytes());
  q.shrink(stock);
  CHECK(q.capacity() == 0);
  CHECK(stock.empty());
  q.shrink();  // the stock-less API still works
  SendQueue alone;
  alone.push(event_chunk("y"));
  CHECK(alone.capacity() == RingStock::kCapacity);
  alone.consume(1);
  alone.shrink();
  CHECK(alone.capacity() == 0);
}

TEST_CASE("ring stock: the sweep frees rings unused for a whole interval", "[core][queue][loop]") {
  asio::io_context ctx(1);
  ManualClock clock;
  Loop& loop = Loop::of(ctx);
  loop.set_time_source(clock);
  loop.set_manual_sweep(true);
  RingStock& stock = loop.rings();

  // A burst: five queues in use at once, then all drained.
  std::vector<SendQueue> qs(5);
  for (auto& q : qs) { q.borrow(stock); q.push(event_chunk("e")); }
  for (auto& q : qs) { q.consume(q.bytes()); q.shrink(stock); }
  CHECK(stock.size() == 5);

  clock.advance(std::chrono::milliseconds(250));
  loop.sweep();
  CHECK(stock.size() == 5);  // used during this interval: kept

  // Next interval: at most two in use at once. Three stay unused throughout.
  for (int round = 0; round < 3; ++round) {
    deliver(qs[0], stock, "a");
    qs[1].borrow(stock);
    qs[1].push(event_chunk("b"));
    deliver(qs[2], stock, "c");
    qs[1].consume(1);
    qs[1].shrink(stock);
  }
  clock.advance(std::chrono::milliseconds(250));
  loop.sweep();
  CHECK(stock.size() == 2);

  // Traffic stops: one idle interval later the loop holds no ring.
  clock.advance(std::chrono::milliseconds(250));
  loop.sweep();
  CHECK(stock.empty());
  loop.sweep();
  CHECK(stock.empty());
}

namespace {
// The least a transport needs: it queues what it is given and reads nothing.
struct NullPolicy {
  static constexpr TransportKind kind = TransportKind::sse;
  Metrics* m;
  Metrics& metrics() { return *m; }
  template <class C> void on_start(C&) {}
  template <class C> void on_read(C&, std::span<char>) {}
  template <class C> void on_event(C&, const EventPtr&, Subscription&) {}
  template <class C> void on_tick(C&, Clock::time_point) {}
  template <class C> void on_shutdown(C& c) { c.close(); }
  template <class C> void on_close(C&, std::error_code) {}
};
}  // namespace

TEST_CASE("ring stock: an idle connection holds no ring, its loop keeps it", "[core][queue][loop]") {
  // A socket pair, not the network: the Connection's drain path end to end.
  asio::io_context ctx(1);
  Loop& loop = Loop::of(ctx);
  loop.set_manual_sweep(true);
  Metrics metrics;
  using Stream = asio::local::stream_protocol::socket;
  Stream a(ctx), b(ctx);
  asio::local::connect_pair(a, b);
  auto c = Connection<NullPolicy, Stream>::create(std::move(a), &metrics);
  c->start();

  c->send(std::string("hello"));
  CHECK(c->queue().capacity() == RingStock::kCapacity);
  ctx.poll();  // flush, write, drain
  CHECK(c->queue().empty());
  CHECK(c->queue().capacity() == 0);
  CHECK(loop.rings().size() == 1);

  c->send(std::string("again"));  // takes the ring back
  CHECK(loop.rings().empty());
  CHECK(c->queue().capacity() == RingStock::kCapacity);
  ctx.restart();
  ctx.poll();
  CHECK(c->queue().capacity() == 0);
  CHECK(loop.rings().size() == 1);

  c->close({}, false);
  loop.sweep();
  loop.sweep();
  CHECK(loop.rings().empty());
  b.close();
  ctx.restart();
  ctx.poll();
}
