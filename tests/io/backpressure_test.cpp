// Slow consumers over a real socket: the `wait` policy paces async_publish,
// the dropping policies count what they drop, per connection and in metrics.
#include <herald/core/connection.hpp>

#include "support.hpp"

#include <catch2/catch.hpp>

#include <asio/bind_executor.hpp>

#include <atomic>
#include <future>
#include <thread>

namespace {
struct PushPolicy {
  static constexpr herald::TransportKind kind = herald::TransportKind::sse;
  herald::Hub& hub;
  herald::QueueOptions queue;
  herald::Subscription sub{};
  herald::Metrics& metrics() { return hub.metrics(); }
  template <class C> void on_start(C& c) { c.queue().set_options(queue); c.subscribe(hub, "p", sub, {}); }
  template <class C> void on_read(C&, std::span<const char>) {}
  template <class C> void on_event(C& c, const herald::EventPtr& ev, herald::Subscription&) { c.send_event(ev, ev->data()); }
  template <class C> void on_tick(C&, herald::Clock::time_point) {}
  template <class C> void on_shutdown(C& c) { c.close(); }
  template <class C> void on_close(C&, std::error_code) { hub.unsubscribe(sub); }
};
using PushConnection = herald::Connection<PushPolicy>;

struct Rig {
  herald::Metrics metrics;
  herald::Broadcaster<std::string> hub{{.history = {.max_events = 16}}, metrics};
  asio::io_context io{1};
  asio::ip::tcp::acceptor acceptor{io, {asio::ip::make_address("127.0.0.1"), 0}};
  std::shared_ptr<PushConnection> conn;  // touched on the loop thread only
  std::atomic<bool> ready{false};
  std::thread thread;
  explicit Rig(herald::QueueOptions q) {
    acceptor.async_accept([this, q](std::error_code ec, asio::ip::tcp::socket s) {
      if (ec) return;
      // Fixed kernel buffers: once full, only the client's reading frees room
      // (autotuning could otherwise drain the queue while the test looks away).
      s.set_option(asio::socket_base::send_buffer_size(64 * 1024), ec);
      conn = PushConnection::create(std::move(s), hub, q);
      conn->start();
      ready = true;
    });
    thread = std::thread([this] { io.run(); });
  }
  ~Rig() {
    asio::post(io, [this] { if (conn) conn->close({}, false); });
    thread.join();
  }
  unsigned short port() const { return acceptor.local_endpoint().port(); }
  std::size_t sse_gauge() const { return static_cast<std::size_t>(metrics.connections[herald::Metrics::idx(herald::TransportKind::sse)].load()); }
};
}  // namespace

TEST_CASE("wait policy: async_publish completes only when the slow reader catches up", "[io][backpressure]") {
  Rig rig({.high_watermark = 64 * 1024, .low_watermark = 16 * 1024, .policy = herald::OverflowPolicy::wait});
  test::Client client(rig.port(), 64 * 1024);
  REQUIRE(test::eventually([&] { return rig.sse_gauge() == 1 && rig.ready; }));
  const std::string big(256 * 1024, 'w');
  int published = 0;
  // The client reads nothing: kernel buffers fill, then the queue passes its watermark.
  while (rig.hub.gate_holders() == 0 && published < 400) {
    rig.hub.publish("p", big);
    ++published;
    test::eventually([&] { return rig.hub.gate_holders() > 0; }, std::chrono::milliseconds(20));
  }
  REQUIRE(rig.hub.gate_holders() == 1);

  asio::io_context pub;
  int completed = 0;
  std::uint64_t id = 0;
  rig.hub.async_publish("p", std::string("last"), asio::bind_executor(pub, [&](std::error_code ec, std::uint64_t i) {
    CHECK_FALSE(ec);
    id = i;
    ++completed;
  }));
  pub.poll();
  CHECK(completed == 0);  // paced: the gate is held

  std::size_t expected = static_cast<std::size_t>(published) * big.size() + 4;
  auto got = client.read_until([&](const std::string& b) { return b.size() >= expected; }, std::chrono::seconds(20));
  REQUIRE(got.size() == expected);  // nothing was dropped
  CHECK(got.substr(got.size() - 4) == "last");
  REQUIRE(test::eventually([&] { return rig.hub.gate_holders() == 0; }));
  pub.restart();
  pub.run_for(std::chrono::seconds(5));
  CHECK(completed == 1);
  CHECK(id == static_cast<std::uint64_t>(published) + 1);
}

TEST_CASE("drop_newest and drop_oldest count every drop, per connection and in metrics", "[io][backpressure]") {
  auto policy = GENERATE(herald::OverflowPolicy::drop_newest, herald::OverflowPolicy::drop_oldest);
  Rig rig({.high_watermark = 64 * 1024, .low_watermark = 16 * 1024, .policy = policy});
  test::Client client(rig.port());
  REQUIRE(test::eventually([&] { return rig.sse_gauge() == 1 && rig.ready; }));
  const std::string big(128 * 1024, 'd');
  for (int i = 0; i < 200; ++i) rig.hub.publish("p", big);  // far past socket buffers + watermark
  auto dropped_metric = [&] {
    return rig.metrics.dropped[herald::Metrics::idx(herald::TransportKind::sse)][static_cast<std::size_t>(policy)].load();
  };
  REQUIRE(test::eventually([&] { return dropped_metric() > 0; }, std::chrono::seconds(10)));
  std::promise<std::uint64_t> per_conn;
  asio::post(rig.io, [&] { per_conn.set_value(rig.conn->stats().dropped); });
  auto d = per_conn.get_future().get();
  CHECK(d > 0);
  CHECK(rig.sse_gauge() == 1);  // still connected: dropping policies never close
}

TEST_CASE("close policy: a slow consumer is closed and counted", "[io][backpressure]") {
  Rig rig({.high_watermark = 64 * 1024, .low_watermark = 16 * 1024, .policy = herald::OverflowPolicy::close});
  test::Client client(rig.port());
  REQUIRE(test::eventually([&] { return rig.sse_gauge() == 1 && rig.ready; }));
  const std::string big(128 * 1024, 'c');
  for (int i = 0; i < 200 && rig.sse_gauge() == 1; ++i) rig.hub.publish("p", big);
  REQUIRE(test::eventually([&] { return rig.sse_gauge() == 0; }, std::chrono::seconds(10)));
  CHECK(rig.metrics.closed_slow[herald::Metrics::idx(herald::TransportKind::sse)].load() == 1);
}
