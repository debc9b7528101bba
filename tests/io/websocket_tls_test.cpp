// wss://: WebSocketPolicy over asio::ssl::stream through the bring-your-own
// accept (TLS handshake and request parsing done by "your" server), and
// herald's client verifying a self-signed certificate made at test time.
#include <herald/websocket/client.hpp>
#include <herald/websocket/policy.hpp>

#include "tls_support.hpp"
#include "ws_support.hpp"

#include <catch2/catch.hpp>

#include <asio/read_until.hpp>

using namespace std::chrono_literals;
namespace ws = herald::websocket;
using TlsStream = asio::ssl::stream<asio::ip::tcp::socket>;

namespace {

/// A minimal TLS server of "your own": handshake, read the request head,
/// then hand the stream to herald::accept<WebSocketPolicy>.
struct TlsServer {
  test::SelfSigned cert = test::make_self_signed();
  asio::ssl::context ctx = test::server_context(cert);
  herald::Metrics metrics;
  herald::Broadcaster<std::string> hub{{}, metrics};
  asio::io_context io{1};
  asio::ip::tcp::acceptor acceptor{io, {asio::ip::make_address("127.0.0.1"), 0}};
  herald::WebSocketOptions echo{.subprotocols = {"herald.v1"}};
  std::thread thread;

  TlsServer() {
    echo.on_message = [](herald::WebSocketPolicy& w, ws::Opcode op, std::string_view p) { w.send(op, p); };
    accept();
    thread = std::thread([this] { io.run(); });
  }
  ~TlsServer() {
    asio::post(io, [this] { herald::Loop::of(io).shutdown_all(herald::Clock::now()); });
    io.stop();
    thread.join();
  }
  unsigned short port() const { return acceptor.local_endpoint().port(); }

  void accept() {
    acceptor.async_accept([this](std::error_code ec, asio::ip::tcp::socket s) {
      if (ec) return;
      auto stream = std::make_shared<TlsStream>(std::move(s), ctx);
      stream->async_handshake(asio::ssl::stream_base::server, [this, stream](std::error_code ec) {
        if (ec) return;
        auto buf = std::make_shared<std::string>();
        asio::async_read_until(*stream, asio::dynamic_buffer(*buf, 16 * 1024), "\r\n\r\n",
                               [this, stream, buf](std::error_code ec, std::size_t) {
                                 if (!ec) upgrade(std::move(*stream), *buf);
                               });
      });
      accept();
    });
  }
  void upgrade(TlsStream stream, const std::string& bytes) {
    herald::http::RequestParser parser;
    auto r = parser.feed(bytes);
    if (r.status != herald::http::RequestParser::Status::complete) return;
    herald::http::Request req = parser.take();
    std::string_view leftover = std::string_view(bytes).substr(r.consumed);
    if (req.path().starts_with("/topic/"))
      herald::accept<herald::WebSocketPolicy>(std::move(stream), req, leftover, hub, echo);
    else
      herald::accept<herald::WebSocketPolicy>(std::move(stream), req, leftover, nullptr, echo);
  }
};

}  // namespace

TEST_CASE("wss: echo, compression, topics and certificate checks over TLS", "[io][websocket][tls]") {
  TlsServer server;
  test::ClientLoop loop;
  auto trusted = test::client_context(server.cert);
  std::string base = "wss://127.0.0.1:" + std::to_string(server.port());

  SECTION("echo 0 B..16 MiB, with and without permessage-deflate") {
    for (bool deflate : {false, true}) {
      ws::ClientOptions o{.tls = &trusted};
      o.ws.deflate.enabled = deflate;
      auto c = loop.connect(base + "/echo", o);
      REQUIRE(c.is_tls());
      CHECK(c.compressed() == deflate);
      for (std::size_t n : {0u, 125u, 70000u, 1u << 20, 16u << 20}) {
        std::string t = test::text_of(n), b = test::binary_of(n);
        c.send_text(t);
        c.send_binary(b);
        auto rt = test::recv(c, 60s), rb = test::recv(c, 60s);
        REQUIRE(rt);
        REQUIRE(rb);
        CHECK((rt->data == t));
        CHECK((rb->data == b));
      }
      c.close();
      auto last = test::recv(c);
      REQUIRE(last);
      CHECK(last->close_code == 1000);
    }
  }
  SECTION("a topic with herald.v1, published from outside") {
    ws::ClientOptions o{.tls = &trusted};
    o.ws.subprotocols = {"herald.v1"};
    auto c = loop.connect(base + "/topic/secure", o);
    REQUIRE(c.subprotocol() == "herald.v1");
    auto id = server.hub.publish("secure", "over tls");
    auto r = test::recv(c);
    REQUIRE(r);
    CHECK(r->data == "{\"id\":" + std::to_string(id) + ",\"data\":\"over tls\"}");
  }
  SECTION("an untrusted certificate is refused") {
    auto other = test::make_self_signed();
    auto untrusted = test::client_context(other);
    CHECK_THROWS_AS(loop.connect(base + "/echo", {.tls = &untrusted}), std::system_error);
    CHECK_THROWS_AS(loop.connect(base + "/echo"), std::system_error);  // system trust store
  }
  SECTION("a refused handshake over TLS is answered and closed") {
    CHECK_THROWS_AS(loop.connect(base + "/topic/bad%20topic", {.tls = &trusted}), std::system_error);
    auto c = loop.connect(base + "/echo", {.tls = &trusted});  // the server is unharmed
    CHECK(c);
  }
}
