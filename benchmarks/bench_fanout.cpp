// Publish-to-queue fan-out: the cost of one event reaching N subscribers'
// send queues through the Hub, on one event-loop thread. Each subscriber does
// what a Connection does on delivery (cached frame, one Chunk by reference into
// its SendQueue); the socket write is not part of this measurement.
// Heap allocations are counted by replacing operator new, not guessed.
#include <herald/core/broadcaster.hpp>
#include <herald/core/loop.hpp>
#include <herald/core/send_queue.hpp>
#include <herald/sse/encoder.hpp>

#include <asio/io_context.hpp>
#include <benchmark/benchmark.h>

#include <atomic>
#include <cstdlib>
#include <new>

namespace {
std::atomic<std::uint64_t> g_allocs{0};
}
void* operator new(std::size_t n) {
  g_allocs.fetch_add(1, std::memory_order_relaxed);
  if (void* p = std::malloc(n ? n : 1)) return p;
  throw std::bad_alloc();
}
void operator delete(void* p) noexcept { std::free(p); }
void operator delete(void* p, std::size_t) noexcept { std::free(p); }

namespace {
struct QueueSubscriber final : herald::Subscriber {
  herald::SendQueue queue;
  herald::Subscription sub;
  void on_event(const herald::EventPtr& ev, herald::Subscription&) override {
    const std::string& frame = ev->frame(herald::FrameKind::sse_chunked, [](const herald::Event& e) {
      return herald::sse::encode_frame(e.id(), e.data(), herald::sse::Framing::chunked);
    });
    queue.push(herald::Chunk{std::shared_ptr<const void>(ev, &frame), frame, ev->key(), true});
  }
};

void BM_fanout(benchmark::State& state) {
  const auto n = static_cast<std::size_t>(state.range(0));
  asio::io_context ctx(1);
  herald::Metrics metrics;
  herald::Broadcaster<std::string> hub({.history = {.max_events = 64}}, metrics);
  std::vector<std::unique_ptr<QueueSubscriber>> subs;
  subs.reserve(n);
  for (std::size_t i = 0; i < n; ++i) {
    subs.push_back(std::make_unique<QueueSubscriber>());
    hub.subscribe("fan", *subs.back(), subs.back()->sub, ctx.get_executor());
  }
  const std::string payload(64, 'x');
  // Warm: queues reach their steady capacity, so growth is not counted.
  for (int i = 0; i < 4; ++i) {
    hub.publish("fan", payload);
    ctx.poll();
    ctx.restart();
    for (auto& s : subs) s->queue.consume(s->queue.bytes());
  }
  std::uint64_t deliveries = 0, delivery_allocs = 0;
  for (auto _ : state) {
    hub.publish("fan", payload);  // one Event, one history slot, one post
    std::uint64_t before = g_allocs.load(std::memory_order_relaxed);
    ctx.poll();                   // the delivery task: every subscriber
    delivery_allocs += g_allocs.load(std::memory_order_relaxed) - before;
    ctx.restart();
    deliveries += n;
    state.PauseTiming();
    for (auto& s : subs) s->queue.consume(s->queue.bytes());  // the write, elsewhere
    state.ResumeTiming();
  }
  for (auto& s : subs) hub.unsubscribe(s->sub);
  state.counters["subscribers"] = static_cast<double>(n);
  state.counters["ns_per_delivery"] = benchmark::Counter(
      static_cast<double>(deliveries), benchmark::Counter::kIsRate | benchmark::Counter::kInvert);
  // The delivery task allocates once per event at most (the frame encode, on
  // the first subscriber): per delivery this must go to zero as N grows.
  state.counters["allocs_per_delivery"] = static_cast<double>(delivery_allocs) / static_cast<double>(deliveries);
  state.counters["allocs_per_event"] = static_cast<double>(delivery_allocs) / static_cast<double>(state.iterations());
}

// Subscribers that keep up: each delivery is written at once and the queue
// drains, as Connection::push and Connection::drained do it (the socket write
// itself left out). A drained queue gives back its ring, so this is where a
// per-delivery ring allocation shows. Written against either side of the
// ring-stock change (`if constexpr` on the API), so one file measures both.
// Templates, so that the parent commit's API (no stock) compiles too.
template <class Q, class L>
void take_ring(Q& q, L& loop) {
  if constexpr (requires { q.borrow(loop.rings()); }) q.borrow(loop.rings());
}
template <class Q, class L>
void give_ring(Q& q, L& loop) {
  if constexpr (requires { q.shrink(loop.rings()); }) q.shrink(loop.rings());
  else q.shrink();
}

struct DrainingSubscriber final : herald::Subscriber {
  herald::SendQueue queue;
  herald::Subscription sub;
  herald::Loop* loop = nullptr;
  void on_event(const herald::EventPtr& ev, herald::Subscription&) override {
    const std::string& frame = ev->frame(herald::FrameKind::sse_chunked, [](const herald::Event& e) {
      return herald::sse::encode_frame(e.id(), e.data(), herald::sse::Framing::chunked);
    });
    take_ring(queue, *loop);
    queue.push(herald::Chunk{std::shared_ptr<const void>(ev, &frame), frame, ev->key(), true});
  }
  void drain() {
    queue.consume(queue.bytes());
    give_ring(queue, *loop);
  }
};

void BM_fanout_drain(benchmark::State& state) {
  const auto n = static_cast<std::size_t>(state.range(0));
  asio::io_context ctx(1);
  herald::Loop& loop = herald::Loop::of(ctx);
  herald::Metrics metrics;
  herald::Broadcaster<std::string> hub({.history = {.max_events = 64}}, metrics);
  std::vector<std::unique_ptr<DrainingSubscriber>> subs;
  subs.reserve(n);
  for (std::size_t i = 0; i < n; ++i) {
    subs.push_back(std::make_unique<DrainingSubscriber>());
    subs.back()->loop = &loop;
    hub.subscribe("fan", *subs.back(), subs.back()->sub, ctx.get_executor());
  }
  const std::string payload(64, 'x');
  auto event = [&] {
    hub.publish("fan", payload);
    ctx.poll();
    ctx.restart();
    for (auto& s : subs) s->drain();
  };
  for (int i = 0; i < 4; ++i) event();
  std::uint64_t allocs = 0;
  for (auto _ : state) {
    std::uint64_t before = g_allocs.load(std::memory_order_relaxed);
    event();  // publish, deliver to every queue, write and drain every queue
    allocs += g_allocs.load(std::memory_order_relaxed) - before;
  }
  for (auto& s : subs) hub.unsubscribe(s->sub);
  const double deliveries = static_cast<double>(state.iterations()) * static_cast<double>(n);
  state.counters["subscribers"] = static_cast<double>(n);
  state.counters["ns_per_delivery"] =
      benchmark::Counter(deliveries, benchmark::Counter::kIsRate | benchmark::Counter::kInvert);
  state.counters["allocs_per_delivery"] = static_cast<double>(allocs) / deliveries;
  state.counters["allocs_per_event"] = static_cast<double>(allocs) / static_cast<double>(state.iterations());
}
}  // namespace

BENCHMARK(BM_fanout)->Arg(1)->Arg(1000)->Arg(100000)->Unit(benchmark::kMicrosecond);
BENCHMARK(BM_fanout_drain)->Arg(1)->Arg(1000)->Arg(100000)->Unit(benchmark::kMicrosecond);
BENCHMARK_MAIN();
