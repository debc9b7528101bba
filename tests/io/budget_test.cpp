// One byte budget per connection, over real sockets: reading pauses past the
// high watermark and resumes when the peer reads (nothing lost), a peer that
// reads nothing is closed by the write timeout (ManualClock), the
// application's sends past max_bytes close, so does a plain publish to a
// `wait` subscriber, HTTP pipelining stops at
// max_pipelined, and WebSocket control frames count against the message rate.
#include <herald/core/connection.hpp>
#include <herald/websocket/policy.hpp>

#include "support.hpp"
#include "ws_support.hpp"

#include <catch2/catch.hpp>

#include <asio/post.hpp>

#include <fcntl.h>

#include <future>
#include <memory>
#include <string>

using namespace std::chrono_literals;
namespace ws = herald::websocket;

namespace {

constexpr std::size_t kPingFrame = 2 + 4 + 125;  // a masked 125-byte ping on the wire

struct WsServer {
  herald::ManualClock clock;
  herald::Metrics metrics;
  std::unique_ptr<herald::Server> server;
  explicit WsServer(herald::ServerOptions so = {}, herald::WebSocketOptions wo = {}, bool manual = false) {
    so.metrics = &metrics;
    server = std::make_unique<herald::Server>(so);
    if (manual) server->set_time_source(clock);
    wo.on_message = [](herald::WebSocketPolicy& w, ws::Opcode op, std::string_view p) { w.send(op, p); };
    wo.ping_interval = 0ms;
    server->websocket("/ws/echo", wo);
    server->route("GET", "/echo", [](herald::Exchange& ex) { ex.respond(200, "text/plain", ex.request().target()); });
    server->start();
  }
  unsigned short port() const { return server->port(); }
  std::int64_t ws_open() const { return metrics.connections[herald::Metrics::idx(herald::TransportKind::websocket)].load(); }
  /// Waits until every loop has run what was posted before (a sweep_now, say).
  void settle() {
    std::promise<void> p;
    asio::post(server->context(), [&] { p.set_value(); });
    p.get_future().wait();
  }
};

/// A raw client with a 4 KiB receive buffer, upgraded by hand.
struct Flooder {
  test::Client c;
  std::string out;       // what a partial send left of the frames
  std::size_t frames = 0;  // whole frames handed to send (or left in `out`)
  explicit Flooder(unsigned short port, std::string_view path = "/ws/echo") : c(port, 4096) {
    c.send(test::upgrade_request(path));
    c.read_until([](const std::string& b) { return b.find("\r\n\r\n") != std::string::npos; });
    c.buffer().erase(0, c.buffer().find("\r\n\r\n") + 4);
    ::fcntl(c.fd(), F_SETFL, ::fcntl(c.fd(), F_GETFL) | O_NONBLOCK);
  }
  /// Sends pings until the kernel refuses more for a while (the server paused).
  void flood(std::chrono::milliseconds limit = 10s) {
    const std::string ping = test::masked(ws::Opcode::ping, std::string(125, 'p'));
    auto end = std::chrono::steady_clock::now() + limit;
    int refused = 0;
    while (std::chrono::steady_clock::now() < end && refused < 50) {
      if (out.empty()) {
        for (int i = 0; i < 64; ++i) out += ping;
        frames += 64;
      }
      ssize_t n = ::send(c.fd(), out.data(), out.size(), MSG_NOSIGNAL);
      if (n > 0) { out.erase(0, static_cast<std::size_t>(n)); refused = 0; continue; }
      ++refused;
      pollfd p{c.fd(), POLLOUT, 0};
      ::poll(&p, 1, 20);  // bounded: 50 refusals in a row, 20 ms apart, is a stopped reader
    }
  }
  /// Reads (and sends what is left) until `want` pongs arrived; returns how many did.
  std::size_t drain_pongs(std::size_t want, std::chrono::milliseconds limit = 20s) {
    ws::Reader reader({.role = ws::Role::client, .max_message_size = 1 << 20});
    std::size_t pongs = 0;
    auto end = std::chrono::steady_clock::now() + limit;
    std::string in = std::move(c.buffer());
    while (pongs < want && std::chrono::steady_clock::now() < end) {
      std::span<std::uint8_t> s(reinterpret_cast<std::uint8_t*>(in.data()), in.size());
      for (ws::Event ev; (ev = reader.next(s)).kind != ws::EventKind::need_more;)
        if (ev.kind == ws::EventKind::pong) ++pongs;
        else return pongs;  // anything else is wrong here
      in.clear();
      pollfd p{c.fd(), static_cast<short>(POLLIN | (out.empty() ? 0 : POLLOUT)), 0};
      if (::poll(&p, 1, 100) <= 0) continue;
      if (p.revents & POLLOUT) {
        ssize_t n = ::send(c.fd(), out.data(), out.size(), MSG_NOSIGNAL);
        if (n > 0) out.erase(0, static_cast<std::size_t>(n));
      }
      if (p.revents & POLLIN) {
        char buf[65536];
        ssize_t n = ::recv(c.fd(), buf, sizeof buf, 0);
        if (n <= 0) break;
        in.assign(buf, static_cast<std::size_t>(n));
      }
    }
    return pongs;
  }
};

// A transport that sends only what the test tells it to, from outside any read.
struct AppPolicy {
  static constexpr herald::TransportKind kind = herald::TransportKind::websocket;
  herald::Metrics& m;
  herald::QueueOptions queue;
  herald::Metrics& metrics() { return m; }
  template <class C> void on_start(C& c) { c.queue().set_options(queue); }
  template <class C> void on_read(C&, std::span<const char>) {}
  template <class C> void on_event(C&, const herald::EventPtr&, herald::Subscription&) {}
  template <class C> void on_tick(C&, herald::Clock::time_point) {}
  template <class C> void on_shutdown(C& c) { c.close(); }
  template <class C> void on_close(C&, std::error_code) {}
};

struct WaitPolicy {
  static constexpr herald::TransportKind kind = herald::TransportKind::sse;
  herald::Hub& hub;
  herald::Subscription sub{};
  herald::Metrics& metrics() { return hub.metrics(); }
  template <class C> void on_start(C& c) {
    c.queue().set_options({.high_watermark = 64 * 1024, .low_watermark = 16 * 1024, .policy = herald::OverflowPolicy::wait,
                           .max_bytes = 256 * 1024});
    c.subscribe(hub, "w", sub, {});
  }
  template <class C> void on_read(C&, std::span<const char>) {}
  template <class C> void on_event(C& c, const herald::EventPtr& ev, herald::Subscription&) { c.send_event(ev, ev->data()); }
  template <class C> void on_tick(C&, herald::Clock::time_point) {}
  template <class C> void on_shutdown(C& c) { c.close(); }
  template <class C> void on_close(C&, std::error_code) { hub.unsubscribe(sub); }
};

/// One connection of transport `P` on its own loop thread, accepted from a raw client.
template <class P>
struct Rig {
  asio::io_context io{1};
  asio::ip::tcp::acceptor acceptor{io, {asio::ip::make_address("127.0.0.1"), 0}};
  std::shared_ptr<herald::Connection<P>> conn;
  std::atomic<bool> ready{false};
  std::thread thread;
  template <class... Args>
  explicit Rig(Args&... args) {
    acceptor.async_accept([this, &args...](std::error_code ec, asio::ip::tcp::socket s) {
      if (ec) return;
      s.set_option(asio::socket_base::send_buffer_size(64 * 1024), ec);
      conn = herald::Connection<P>::create(std::move(s), args...);
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
  template <class F>
  auto on_loop(F f) {
    std::promise<decltype(f())> p;
    asio::post(io, [&] {
      if constexpr (std::is_void_v<decltype(f())>) { f(); p.set_value(); }
      else p.set_value(f());
    });
    return p.get_future().get();
  }
};

}  // namespace

TEST_CASE("budget: a ping flood that never reads pauses reading, and every pong arrives once it reads",
          "[io][budget][websocket]") {
  herald::WebSocketOptions wo;
  wo.queue = {.high_watermark = 64 * 1024, .low_watermark = 16 * 1024};
  WsServer s({}, wo);
  Flooder f(s.port());
  REQUIRE(test::eventually([&] { return s.ws_open() == 1; }));
  f.flood();
  REQUIRE(test::eventually([&] { return s.metrics.reads_paused.load() == 1; }));
  CHECK(s.metrics.read_pauses.load() >= 1);
  // Bounded: the watermark plus what one readiness can read (4 x 64 KiB) answered.
  CHECK(s.metrics.queue_bytes.load() < static_cast<std::int64_t>(64 * 1024 + 4 * 64 * 1024 + kPingFrame));
  const std::size_t sent = f.frames;
  INFO("pings sent: " << sent);
  CHECK(sent > 1000);
  // The client reads: the server resumes and answers every ping.
  CHECK(f.drain_pongs(sent) == sent);
  CHECK(test::eventually([&] { return s.metrics.reads_paused.load() == 0; }));
  CHECK(s.ws_open() == 1);
  CHECK(s.metrics.ws_protocol_errors.load() == 0);
}

TEST_CASE("budget: a peer that reads nothing is closed after write_timeout (ManualClock)", "[io][budget][timeout]") {
  herald::WebSocketOptions wo;
  wo.queue = {.high_watermark = 64 * 1024, .low_watermark = 16 * 1024};
  WsServer s({.write_timeout = 30s}, wo, true);
  Flooder f(s.port());
  REQUIRE(test::eventually([&] { return s.ws_open() == 1; }));
  f.flood();
  REQUIRE(test::eventually([&] { return s.metrics.reads_paused.load() == 1; }));
  s.clock.advance(29s);
  s.server->sweep_now();
  s.settle();
  CHECK(s.ws_open() == 1);
  CHECK(s.metrics.write_timeouts.load() == 0);
  s.clock.advance(2s);
  s.server->sweep_now();
  // The kernel may still move a few queued bytes to the peer after the 29 s
  // sweep (progress restarts the deadline): give it a few more whole timeouts.
  for (int i = 0; i < 3 && !test::eventually([&] { return s.ws_open() == 0; }, 1s); ++i) {
    s.clock.advance(31s);
    s.server->sweep_now();
  }
  REQUIRE(test::eventually([&] { return s.ws_open() == 0; }));
  CHECK(s.metrics.write_timeouts.load() == 1);
  CHECK(s.metrics.reads_paused.load() == 0);
  CHECK(s.metrics.queue_bytes.load() == 0);
}

TEST_CASE("budget: a peer that keeps reading is not closed by write_timeout (ManualClock)", "[io][budget][timeout]") {
  WsServer s({.write_timeout = 30s}, {}, true);
  test::RawWs w(s.port(), "/ws/echo");
  REQUIRE(w.status == 101);
  for (int i = 0; i < 3; ++i) {
    w.send(test::masked(ws::Opcode::text, "hi"));
    auto r = w.next();
    REQUIRE(r);
    s.clock.advance(20s);
    s.server->sweep_now();
    s.settle();
  }
  CHECK(s.ws_open() == 1);
  CHECK(s.metrics.write_timeouts.load() == 0);
}

TEST_CASE("budget: the application's sends past max_bytes close the connection, counted", "[io][budget]") {
  herald::Metrics m;
  herald::QueueOptions q{.high_watermark = 64 * 1024, .low_watermark = 16 * 1024, .max_bytes = 512 * 1024};
  Rig<AppPolicy> rig(m, q);
  test::Client client(rig.port(), 4096);
  REQUIRE(test::eventually([&] { return rig.ready.load(); }));
  const std::string block(64 * 1024, 'a');
  // A single chunk larger than max_bytes into an empty queue still goes (one message the app chose).
  bool open = rig.on_loop([&] { rig.conn->send(std::string(600 * 1024, 'b')); return rig.conn->is_open(); });
  CHECK(open);
  int sent = 0;
  while (sent < 100 && rig.on_loop([&] { return rig.conn->is_open(); })) {
    rig.on_loop([&] { rig.conn->send(block); });
    ++sent;
  }
  CHECK(sent < 100);
  CHECK(m.queue_limit_closes.load() == 1);
  CHECK(m.queue_bytes.load() == 0);
}

TEST_CASE("budget: a plain publish past max_bytes closes a wait subscriber as slow", "[io][budget][backpressure]") {
  herald::Metrics m;
  herald::Broadcaster<std::string> hub({.history = {.max_events = 16}}, m);
  herald::Hub& h = hub;
  Rig<WaitPolicy> rig(h);
  test::Client client(rig.port(), 4096);
  REQUIRE(test::eventually([&] { return rig.ready.load(); }));
  const std::string big(32 * 1024, 'w');
  const auto sse = herald::Metrics::idx(herald::TransportKind::sse);
  for (int i = 0; i < 400 && m.closed_slow[sse].load() == 0; ++i) {
    hub.publish("w", big);
    test::eventually([&] { return m.deliveries[sse].load() == static_cast<std::uint64_t>(i + 1) || m.closed_slow[sse].load(); });
  }
  REQUIRE(test::eventually([&] { return m.connections[sse].load() == 0; }));
  CHECK(m.closed_slow[sse].load() == 1);
  CHECK(h.gate_holders() == 0);  // released when it closed
}

TEST_CASE("budget: pipelined requests are answered in order, max_pipelined at a time", "[io][budget][http]") {
  WsServer s;
  test::Client c(s.port());
  std::string reqs;
  for (int i = 0; i < 100; ++i) reqs += "GET /echo?i=" + std::to_string(i) + " HTTP/1.1\r\nHost: x\r\n\r\n";
  c.send(reqs);
  auto got = c.read_until([](const std::string& b) { return b.find("/echo?i=99") != std::string::npos; }, 10s);
  std::size_t at = 0;
  for (int i = 0; i < 100; ++i) {
    auto p = got.find("/echo?i=" + std::to_string(i), at);
    REQUIRE(p != std::string::npos);
    at = p;
  }
  CHECK(s.metrics.pipeline_limited.load() >= 1);
}

TEST_CASE("budget: a pipelining client that never reads stops the session reading, and nothing is lost", "[io][budget][http]") {
  WsServer s;
  test::Client c(s.port(), 4096);
  ::fcntl(c.fd(), F_SETFL, ::fcntl(c.fd(), F_GETFL) | O_NONBLOCK);
  const std::string req = "GET /echo?x HTTP/1.1\r\nHost: x\r\n\r\n";
  std::string batch;
  for (int i = 0; i < 256; ++i) batch += req;
  std::string out;
  std::size_t requests = 0;
  int refused = 0;
  auto end = std::chrono::steady_clock::now() + 10s;
  while (refused < 50 && std::chrono::steady_clock::now() < end) {
    if (out.empty()) { out = batch; requests += 256; }
    ssize_t n = ::send(c.fd(), out.data(), out.size(), MSG_NOSIGNAL);
    if (n > 0) { out.erase(0, static_cast<std::size_t>(n)); refused = 0; continue; }
    ++refused;
    pollfd p{c.fd(), POLLOUT, 0};
    ::poll(&p, 1, 20);
  }
  REQUIRE(test::eventually([&] { return s.metrics.reads_paused.load() == 1; }));
  CHECK(s.metrics.queue_bytes.load() < 8 * 256);  // at most max_pipelined answers wait in the queue
  // It reads: every request it sent is answered.
  std::size_t answers = 0;
  std::string tail;
  end = std::chrono::steady_clock::now() + 20s;
  while (answers < requests && std::chrono::steady_clock::now() < end) {
    pollfd p{c.fd(), static_cast<short>(POLLIN | (out.empty() ? 0 : POLLOUT)), 0};
    if (::poll(&p, 1, 100) <= 0) continue;
    if (p.revents & POLLOUT) {
      ssize_t n = ::send(c.fd(), out.data(), out.size(), MSG_NOSIGNAL);
      if (n > 0) out.erase(0, static_cast<std::size_t>(n));
    }
    if (p.revents & POLLIN) {
      char buf[65536];
      ssize_t n = ::recv(c.fd(), buf, sizeof buf, 0);
      if (n <= 0) break;
      tail.append(buf, static_cast<std::size_t>(n));
      for (std::size_t k; (k = tail.find("HTTP/1.1 200 ")) != std::string::npos;) {
        ++answers;
        tail.erase(0, k + 13);
      }
    }
  }
  CHECK(answers == requests);
  CHECK(s.metrics.reads_paused.load() == 0);
}

TEST_CASE("budget: WebSocket control frames count against the message rate", "[io][budget][websocket][ratelimit]") {
  herald::WebSocketOptions wo;
  wo.message_rate = {.per_second = 1, .burst = 3};
  WsServer s({.limit_loopback = true}, wo, true);
  test::RawWs w(s.port(), "/ws/echo");
  REQUIRE(w.status == 101);
  for (int i = 0; i < 3; ++i) {
    w.send(test::masked(ws::Opcode::ping, "p"));
    auto r = w.next();
    REQUIRE(r);
    CHECK(r->kind == ws::EventKind::pong);
  }
  w.send(test::masked(ws::Opcode::ping, "p"));
  CHECK(w.close_code() == 1008);
  CHECK(s.metrics.rate_limited.load() == 1);
}
