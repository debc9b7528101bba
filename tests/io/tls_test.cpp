// Connection<Transport, asio::ssl::stream<tcp::socket>>: the same policy hooks
// over TLS, with a self-signed certificate made at test time.
#include <herald/core/connection.hpp>

#include "support.hpp"
#include "tls_support.hpp"

#include <catch2/catch.hpp>

#include <asio/connect.hpp>
#include <asio/read.hpp>
#include <asio/ssl.hpp>

#include <atomic>
#include <thread>

namespace {
// Echoes what it reads and forwards hub events verbatim.
struct EchoPolicy {
  static constexpr herald::TransportKind kind = herald::TransportKind::websocket;
  herald::Hub& hub;
  herald::Subscription sub{};
  herald::Metrics& metrics() { return hub.metrics(); }
  template <class C> void on_start(C& c) { c.subscribe(hub, "t", sub, {}); c.send(std::string("hello\n")); }
  template <class C> void on_read(C& c, std::span<const char> b) { c.send(std::string(b.data(), b.size())); }
  template <class C> void on_event(C& c, const herald::EventPtr& ev, herald::Subscription&) { c.send_event(ev, ev->data()); }
  template <class C> void on_tick(C&, herald::Clock::time_point) {}
  template <class C> void on_shutdown(C& c) { c.close(); }
  template <class C> void on_close(C&, std::error_code) { hub.unsubscribe(sub); }
};
using TlsStream = asio::ssl::stream<asio::ip::tcp::socket>;
}  // namespace

TEST_CASE("connection over TLS: handshake, echo, and hub events", "[io][tls]") {
  auto cert = test::make_self_signed();
  auto server_ctx = test::server_context(cert);
  herald::Metrics metrics;
  herald::Broadcaster<std::string> hub({}, metrics);
  asio::io_context io(1);
  asio::ip::tcp::acceptor acceptor(io, {asio::ip::make_address("127.0.0.1"), 0});
  auto port = acceptor.local_endpoint().port();
  std::atomic<bool> server_failed{false};  // Catch2 asserts only on the main thread
  acceptor.async_accept([&](std::error_code ec, asio::ip::tcp::socket s) {
    if (ec) return server_failed.store(true);
    auto stream = std::make_shared<TlsStream>(std::move(s), server_ctx);
    stream->async_handshake(asio::ssl::stream_base::server, [&, stream](std::error_code ec) {
      if (ec) return server_failed.store(true);
      herald::Connection<EchoPolicy, TlsStream>::create(std::move(*stream), hub)->start();
    });
  });
  auto guard = asio::make_work_guard(io);
  std::thread t([&] { io.run(); });

  asio::io_context cio;
  auto client_ctx = test::client_context(cert);
  TlsStream client(cio, client_ctx);
  client.set_verify_callback(asio::ssl::host_name_verification("localhost"));
  client.next_layer().connect({asio::ip::make_address("127.0.0.1"), port});
  timeval tv{5, 0};  // every read below is bounded
  setsockopt(client.next_layer().native_handle(), SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
  client.handshake(asio::ssl::stream_base::client);

  std::string buf(6, '\0');
  asio::read(client, asio::buffer(buf));
  CHECK(buf == "hello\n");
  asio::write(client, asio::buffer(std::string("ping")));
  buf.assign(4, '\0');
  asio::read(client, asio::buffer(buf));
  CHECK(buf == "ping");
  REQUIRE(test::eventually([&] { return metrics.connections[herald::Metrics::idx(herald::TransportKind::websocket)] == 1; }));
  hub.publish("t", std::string("event over tls"));
  buf.assign(14, '\0');
  asio::read(client, asio::buffer(buf));
  CHECK(buf == "event over tls");

  CHECK_FALSE(server_failed.load());
  std::error_code ec;
  client.lowest_layer().close(ec);
  REQUIRE(test::eventually([&] { return metrics.connections[herald::Metrics::idx(herald::TransportKind::websocket)] == 0; }));
  guard.reset();
  io.stop();
  t.join();
}
