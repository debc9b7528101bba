// SSEPolicy over real sockets on 127.0.0.1: the response head and framing
// (chunked, close-delimited), retry, resume by header and query, resets,
// heartbeats on the test clock, removal of gone clients, slow consumers,
// CORS and preflight, HEAD, bad topics, shutdown, and bring-your-own Asio.
#include <herald/sse/policy.hpp>

#include <herald/http/parser.hpp>
#include <herald/sse/parser.hpp>

#include "support.hpp"

#include <catch2/catch.hpp>

#include <asio/io_context.hpp>
#include <asio/ip/tcp.hpp>

#include <future>
#include <memory>
#include <string>
#include <thread>
#include <vector>

using namespace std::chrono_literals;

namespace {

constexpr auto kSse = static_cast<std::size_t>(herald::TransportKind::sse);

struct Fixture {
  herald::Metrics metrics;
  herald::Broadcaster<std::string> hub;
  std::unique_ptr<herald::Server> server;

  explicit Fixture(herald::SSEOptions sse = {}, herald::HubOptions h = {}, herald::ServerOptions o = {})
      : hub(h, metrics) {
    o.metrics = &metrics;
    server = std::make_unique<herald::Server>(o);
    server->route("GET", "/healthz", [](herald::Exchange& ex) { ex.respond(200, "text/plain", "ok"); });
    server->sse("/sse/{topic}", hub, std::move(sse));
    server->start();
  }
  unsigned short port() const { return server->port(); }
  std::int64_t sse_connections() const { return metrics.connections[kSse].load(); }
  /// Returns once every loop has run what was posted to it before (twice:
  /// a handler may post a flush that must run too).
  void barrier() {
    for (int round = 0; round < 2; ++round)
      for (std::size_t i = 0; i < server->thread_count(); ++i) {
        std::promise<void> p;
        auto f = p.get_future();
        asio::post(server->context(i), [&p] { p.set_value(); });
        REQUIRE(f.wait_for(5s) == std::future_status::ready);
      }
  }
};

/// An SSE client: sends the request, splits the head, de-chunks the body
/// (when chunked) and parses events with herald's sse::Parser. Raw bytes it
/// has consumed are dropped, so a long stream costs no memory.
class SseClient {
 public:
  SseClient(unsigned short port, const std::string& request) : c_(port) { c_.send(request); }
  SseClient(unsigned short port, std::string_view path, std::string_view extra_headers, bool http10 = false)
      : c_(port) {
    std::string r = "GET " + std::string(path) + (http10 ? " HTTP/1.0\r\n" : " HTTP/1.1\r\n") + "Host: x\r\n" +
                    std::string(extra_headers) + "\r\n";
    c_.send(r);
  }

  bool wait(const std::function<bool()>& done, std::chrono::milliseconds t = 5s) {
    c_.read_until([&](const std::string&) { pump(); return done(); }, t);
    pump();
    return done();
  }
  bool wait_head() { return wait([&] { return head_done_; }); }
  bool wait_events(std::size_t n, std::chrono::milliseconds t = 5s) {
    return wait([&] { return events_.size() >= n; }, t);
  }
  bool wait_eof(std::chrono::milliseconds t = 5s) { return wait([&] { return c_.eof(); }, t); }

  const std::string& head() const { return head_; }
  const std::string& body() const { return body_; }  // de-chunked, kept only when `keep_body`
  std::vector<herald::sse::Event>& events() { return events_; }
  herald::sse::Parser& parser() { return parser_; }
  bool last_chunk() const { return last_chunk_; }
  bool eof() const { return c_.eof(); }
  bool chunk_error() const { return chunk_error_; }
  test::Client& raw() { return c_; }
  bool keep_body = true;

 private:
  void pump() {
    std::string& b = c_.buffer();
    if (!head_done_) {
      auto p = b.find("\r\n\r\n");
      if (p == std::string::npos) return;
      head_ = b.substr(0, p + 4);
      b.erase(0, p + 4);
      head_done_ = true;
      chunked_ = head_.find("\r\nTransfer-Encoding: chunked\r\n") != std::string::npos;
    }
    std::string fresh;
    if (!chunked_) {
      fresh.swap(b);
    } else {
      std::size_t pos = 0;
      while (!last_chunk_ && !chunk_error_) {
        auto crlf = b.find("\r\n", pos);
        if (crlf == std::string::npos) break;
        std::size_t size = 0;
        try {
          size = std::stoul(b.substr(pos, crlf - pos), nullptr, 16);
        } catch (...) {
          chunk_error_ = true;
          break;
        }
        if (b.size() < crlf + 2 + size + 2) break;
        if (b.compare(crlf + 2 + size, 2, "\r\n") != 0) { chunk_error_ = true; break; }
        fresh.append(b, crlf + 2, size);
        pos = crlf + 2 + size + 2;
        if (size == 0) last_chunk_ = true;
      }
      b.erase(0, pos);
    }
    if (fresh.empty()) return;
    if (keep_body) body_ += fresh;
    auto ec = parser_.feed(fresh, [&](const herald::sse::Event& e) { events_.push_back(e); });
    if (ec) chunk_error_ = true;
  }

  test::Client c_;
  std::string head_, body_;
  bool head_done_ = false, chunked_ = false, last_chunk_ = false, chunk_error_ = false;
  herald::sse::Parser parser_;
  std::vector<herald::sse::Event> events_;
};

bool has(const std::string& s, std::string_view needle) { return s.find(needle) != std::string::npos; }

std::vector<std::uint64_t> ids_of(const std::vector<herald::sse::Event>& evs, std::string_view type = "message") {
  std::vector<std::uint64_t> ids;
  for (auto& e : evs)
    if (e.type == type) ids.push_back(std::stoull(e.last_event_id));
  return ids;
}

std::vector<std::uint64_t> range(std::uint64_t from, std::uint64_t to) {
  std::vector<std::uint64_t> v;
  for (auto i = from; i <= to; ++i) v.push_back(i);
  return v;
}

}  // namespace

TEST_CASE("sse: response head and chunked framing over HTTP/1.1, retry on connect", "[io][sse]") {
  Fixture f;
  SseClient c(f.port(), "/sse/news", "");
  REQUIRE(c.wait_head());
  const auto& h = c.head();
  CHECK(h.rfind("HTTP/1.1 200 OK\r\n", 0) == 0);
  CHECK(has(h, "\r\nContent-Type: text/event-stream; charset=utf-8\r\n"));
  CHECK(has(h, "\r\nCache-Control: no-cache\r\n"));
  CHECK(has(h, "\r\nX-Accel-Buffering: no\r\n"));
  CHECK(has(h, "\r\nTransfer-Encoding: chunked\r\n"));
  CHECK_FALSE(has(h, "Content-Length"));
  REQUIRE(c.wait([&] { return c.parser().retry_ms().has_value(); }));
  CHECK(*c.parser().retry_ms() == 2000);
  CHECK(c.body().rfind("retry: 2000\n", 0) == 0);
  CHECK(f.sse_connections() == 1);

  f.hub.publish("news", "line one\nline two\r\nthird\rfourth");
  f.hub.publish("news", "caf\xc3\xa9 \xe2\x9c\x93");
  REQUIRE(c.wait_events(2));
  CHECK(c.events()[0].data == "line one\nline two\nthird\nfourth");
  CHECK(c.events()[0].last_event_id == "1");
  CHECK(c.events()[1].data == "caf\xc3\xa9 \xe2\x9c\x93");
  CHECK(has(c.body(), "id: 1\ndata: line one\ndata: line two\ndata: third\ndata: fourth\n\n"));
  CHECK_FALSE(c.chunk_error());
}

TEST_CASE("sse: close-delimited over HTTP/1.0", "[io][sse]") {
  Fixture f;
  f.hub.publish("old", "before");
  SseClient c(f.port(), "/sse/old?lastEventId=0", "", /*http10=*/true);
  REQUIRE(c.wait_head());
  CHECK(c.head().rfind("HTTP/1.0 200 OK\r\n", 0) == 0);
  CHECK(has(c.head(), "\r\nContent-Type: text/event-stream; charset=utf-8\r\n"));
  CHECK(has(c.head(), "\r\nConnection: close\r\n"));
  CHECK_FALSE(has(c.head(), "Transfer-Encoding"));
  CHECK_FALSE(has(c.head(), "Content-Length"));
  REQUIRE(c.wait_events(1));
  f.hub.publish("old", "after");
  REQUIRE(c.wait_events(2));
  CHECK(c.body() == "retry: 2000\nid: 1\ndata: before\n\nid: 2\ndata: after\n\n");  // raw, no chunk framing
  f.server->stop();
  CHECK(c.wait_eof());  // the close ends the body
  f.server->join();
  CHECK(c.body() == "retry: 2000\nid: 1\ndata: before\n\nid: 2\ndata: after\n\n");
}

TEST_CASE("sse: retry is configurable and can be left out", "[io][sse]") {
  {
    Fixture f({.retry = 500ms});
    SseClient c(f.port(), "/sse/r", "");
    REQUIRE(c.wait([&] { return c.parser().retry_ms().has_value(); }));
    CHECK(*c.parser().retry_ms() == 500);
  }
  {
    Fixture f({.retry = std::nullopt});
    SseClient c(f.port(), "/sse/r", "");
    REQUIRE(c.wait_head());
    f.hub.publish("r", "x");
    REQUIRE(c.wait_events(1));
    CHECK(c.body() == "id: 1\ndata: x\n\n");
    CHECK_FALSE(c.parser().retry_ms());
  }
}

TEST_CASE("sse: resume by Last-Event-ID header and by query, the header wins", "[io][sse][resume]") {
  Fixture f;
  for (int i = 1; i <= 5; ++i) f.hub.publish("t", "e" + std::to_string(i));

  SseClient header(f.port(), "/sse/t", "Last-Event-ID: 2\r\n");
  REQUIRE(header.wait_events(3));
  CHECK(ids_of(header.events()) == range(3, 5));

  SseClient query(f.port(), "/sse/t?lastEventId=3", "");
  REQUIRE(query.wait_events(2));
  CHECK(ids_of(query.events()) == range(4, 5));

  SseClient both(f.port(), "/sse/t?lastEventId=1", "Last-Event-ID: 4\r\n");
  REQUIRE(both.wait_events(1));
  CHECK(ids_of(both.events()) == range(5, 5));

  SseClient zero(f.port(), "/sse/t?lastEventId=0", "");
  REQUIRE(zero.wait_events(5));
  CHECK(ids_of(zero.events()) == range(1, 5));
  CHECK(ids_of(zero.events(), "reset").empty());

  SseClient live(f.port(), "/sse/t", "");
  REQUIRE(live.wait_head());

  // Then live events follow the replay, on every stream, in order.
  f.hub.publish("t", "e6");
  for (auto* c : {&header, &query, &both, &zero, &live}) {
    REQUIRE(c->wait([&] { return !c->events().empty() && c->events().back().last_event_id == "6"; }));
    CHECK(c->events().back().data == "e6");
  }
  CHECK(ids_of(live.events()) == range(6, 6));  // no cursor: live only
  CHECK(ids_of(header.events()) == range(3, 6));
  CHECK(ids_of(both.events()) == range(5, 6));
}

TEST_CASE("sse: a cursor too old or ahead of the head gets a reset with id first-1, then the events from first",
          "[io][sse][resume]") {
  Fixture f({}, {.history = {.max_events = 5}});
  for (int i = 1; i <= 10; ++i) f.hub.publish("t", "e" + std::to_string(i));  // held: 6..10

  for (std::string cursor : {"2", "50"}) {
    INFO("cursor " << cursor);
    SseClient c(f.port(), "/sse/t", "Last-Event-ID: " + cursor + "\r\n");
    REQUIRE(c.wait_events(6));
    CHECK(c.events()[0].type == "reset");
    CHECK(c.events()[0].last_event_id == "5");
    CHECK(c.events()[0].data == "{\"next\":5}");
    CHECK(has(c.body(), "event: reset\nid: 5\ndata: {\"next\":5}\n\n"));
    CHECK(c.body().find("event: reset") < c.body().find("id: 6\n"));
    CHECK(ids_of(c.events()) == range(6, 10));
  }
  SseClient edge(f.port(), "/sse/t?lastEventId=5", "");  // exactly first-1: no reset
  REQUIRE(edge.wait_events(5));
  CHECK(ids_of(edge.events(), "reset").empty());
  CHECK(ids_of(edge.events()) == range(6, 10));
}

TEST_CASE("sse: heartbeat comment while idle, driven by the test clock", "[io][sse][liveness]") {
  herald::ManualClock clock;  // outlives the server, whose loops read it until they stop
  Fixture f({.heartbeat = 10s});
  f.server->set_time_source(clock);
  SseClient c(f.port(), "/sse/hb", "");
  REQUIRE(c.wait_head());
  REQUIRE(c.wait([&] { return c.parser().retry_ms().has_value(); }));
  CHECK(c.parser().comments() == 0);

  clock.advance(9s);  // not yet due
  f.server->sweep_now();
  f.barrier();
  c.wait([] { return false; }, 50ms);
  CHECK(c.parser().comments() == 0);

  clock.advance(2s);  // 11 s of silence
  f.server->sweep_now();
  REQUIRE(c.wait([&] { return c.parser().comments() == 1; }));
  CHECK(has(c.body(), "\n:\n"));

  // An event counts as activity: the next due tick sends no comment.
  f.hub.publish("hb", "busy");
  REQUIRE(c.wait_events(1));
  clock.advance(11s);
  f.server->sweep_now();
  f.barrier();
  c.wait([] { return false; }, 50ms);
  CHECK(c.parser().comments() == 1);

  clock.advance(11s);  // silent again
  f.server->sweep_now();
  REQUIRE(c.wait([&] { return c.parser().comments() == 2; }));
  CHECK_FALSE(c.eof());
}

TEST_CASE("sse: a client that goes away is removed at once", "[io][sse][liveness]") {
  Fixture f;
  {
    SseClient a(f.port(), "/sse/gone", "");
    SseClient b(f.port(), "/sse/gone", "");
    REQUIRE(a.wait_head());
    REQUIRE(b.wait_head());
    REQUIRE(test::eventually([&] { return f.sse_connections() == 2; }));
  }  // both close their sockets
  CHECK(test::eventually([&] { return f.sse_connections() == 0; }));
  CHECK(test::eventually([&] { return f.server->connections() == 0; }));
  // Publishing to the topic afterwards reaches nobody and harms nothing.
  f.hub.publish("gone", "x");
  f.barrier();
  SseClient c(f.port(), "/sse/gone?lastEventId=0", "");
  REQUIRE(c.wait_events(1));
  CHECK(c.events()[0].data == "x");
  CHECK(f.metrics.deliveries[kSse].load() == 0);  // the replay is not a delivery; nobody was left to deliver to
}

TEST_CASE("sse: a slow consumer is closed by the default policy, others are unaffected, and it resumes with nothing lost",
          "[io][sse][slow]") {
  // History large enough for everything this test publishes.
  Fixture f({}, {.history = {.max_events = 100000, .max_bytes = 512u * 1024 * 1024}});
  REQUIRE(f.hub.options().history.max_events == 100000);
  SseClient good(f.port(), "/sse/big", "");
  SseClient slow(f.port(), "/sse/big", "");
  good.keep_body = slow.keep_body = false;
  REQUIRE(good.wait_head());
  REQUIRE(slow.wait_head());  // then it stops reading

  const std::string blob(64 * 1024, 'z');
  auto payload = [&](std::uint64_t i) { return std::to_string(i) + ":" + blob; };
  std::uint64_t published = 0;
  // Publish 64 KiB events while `good` keeps up (at most 8 behind, well under
  // the 1 MiB queue) and `slow` reads nothing, until the server closes `slow`.
  constexpr std::uint64_t kMax = 3000;  // bound: ~190 MiB would be far past any socket buffer
  while (published < kMax && f.metrics.closed_slow[kSse].load() == 0) {
    published = f.hub.publish("big", payload(published + 1));
    REQUIRE(published > 0);
    if (published > 8) REQUIRE(good.wait_events(published - 8, 10s));
  }
  INFO("published " << published);
  REQUIRE(f.metrics.closed_slow[kSse].load() == 1);
  // A few more after the close: these the slow client misses while away.
  for (int i = 0; i < 20; ++i) {
    published = f.hub.publish("big", payload(published + 1));
    REQUIRE(good.wait_events(published - 8, 10s));
  }
  REQUIRE(good.wait_events(published, 10s));
  CHECK(ids_of(good.events()) == range(1, published));
  bool intact = true;
  for (auto& e : good.events()) intact = intact && e.data == payload(std::stoull(e.last_event_id));
  CHECK(intact);
  CHECK_FALSE(good.eof());
  CHECK(f.metrics.closed_slow[kSse].load() == 1);  // only the slow one
  CHECK(f.metrics.replayed[kSse].load() == 0);
  CHECK(has(f.metrics.prometheus(), "herald_slow_closes_total{transport=\"sse\"} 1"));
  CHECK(f.sse_connections() == 1);

  // The slow client drains what reached it, then sees the end of the stream.
  REQUIRE(slow.wait_eof(10s));
  auto got = ids_of(slow.events());
  REQUIRE_FALSE(got.empty());
  CHECK(got == range(1, got.back()));
  CHECK(got.back() < published);
  std::string last = slow.parser().last_event_id();
  CHECK(last == std::to_string(got.back()));

  // It comes back with its Last-Event-ID and gets exactly what it missed.
  SseClient back(f.port(), "/sse/big", "Last-Event-ID: " + last + "\r\n");
  back.keep_body = false;
  REQUIRE(back.wait_head());
  // One more live event while its replay is still going out: it must wait
  // behind the replay, in order.
  published = f.hub.publish("big", payload(published + 1));
  REQUIRE(good.wait_events(published, 10s));
  bool resumed = back.wait_events(published - got.back(), 10s);
  INFO("slow got up to " << got.back() << ", back got " << back.events().size() << ", eof " << back.eof()
       << ", slow closes " << f.metrics.closed_slow[kSse].load());
  REQUIRE(resumed);
  CHECK(ids_of(back.events(), "reset").empty());
  auto rest = ids_of(back.events());
  CHECK(rest == range(got.back() + 1, published));
  bool back_intact = true;
  for (auto& e : back.events()) back_intact = back_intact && e.data == payload(std::stoull(e.last_event_id));
  CHECK(back_intact);
  CHECK(f.metrics.closed_slow[kSse].load() == 1);  // the resume was not closed by its own replay
  CHECK(f.sse_connections() == 2);
}

TEST_CASE("sse: CORS for a configured origin, and the preflight", "[io][sse][cors]") {
  Fixture f({.cors = {.allowed = {"https://app.example"}}});
  SseClient ok(f.port(), "/sse/c", "Origin: https://app.example\r\n");
  REQUIRE(ok.wait_head());
  CHECK(has(ok.head(), "\r\nAccess-Control-Allow-Origin: https://app.example\r\n"));
  CHECK(has(ok.head(), "\r\nVary: Origin\r\n"));
  CHECK(has(ok.head(), "\r\nContent-Type: text/event-stream; charset=utf-8\r\n"));

  SseClient other(f.port(), "/sse/c", "Origin: https://evil.example\r\n");
  REQUIRE(other.wait_head());
  CHECK_FALSE(has(other.head(), "Access-Control-Allow-Origin"));

  SseClient none(f.port(), "/sse/c", "");
  REQUIRE(none.wait_head());
  CHECK_FALSE(has(none.head(), "Access-Control-"));

  auto r = test::request(f.port(),
                         "OPTIONS /sse/c HTTP/1.1\r\nHost: x\r\nOrigin: https://app.example\r\n"
                         "Access-Control-Request-Method: GET\r\nAccess-Control-Request-Headers: last-event-id\r\n"
                         "Connection: close\r\n\r\n");
  CHECK(test::status_of(r) == 204);
  CHECK(has(r, "\r\nAccess-Control-Allow-Origin: https://app.example\r\n"));
  CHECK(has(r, "Access-Control-Allow-Methods: "));
  CHECK(has(r, "GET"));
  CHECK((has(r, "Access-Control-Allow-Headers: Last-Event-ID") || has(r, "Access-Control-Allow-Headers: last-event-id")));
  CHECK(has(r, "\r\nAccess-Control-Max-Age: 600\r\n"));

  auto bad = test::request(f.port(),
                           "OPTIONS /sse/c HTTP/1.1\r\nHost: x\r\nOrigin: https://evil.example\r\n"
                           "Access-Control-Request-Method: GET\r\nConnection: close\r\n\r\n");
  CHECK_FALSE(has(bad, "Access-Control-Allow-Origin"));
}

TEST_CASE("sse: HEAD answers the head only and keeps the session", "[io][sse]") {
  Fixture f;
  test::Client c(f.port());
  c.send("HEAD /sse/h HTTP/1.1\r\nHost: x\r\n\r\nGET /healthz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n");
  auto r = c.read_to_eof();
  REQUIRE(test::status_of(r) == 200);
  auto end = r.find("\r\n\r\n");
  REQUIRE(end != std::string::npos);
  std::string head = r.substr(0, end + 4);
  CHECK(has(head, "\r\nContent-Type: text/event-stream; charset=utf-8\r\n"));
  CHECK_FALSE(has(head, "Content-Length"));
  CHECK(r.substr(end + 4).rfind("HTTP/1.1 200 OK\r\n", 0) == 0);  // no body, the next response follows
  CHECK(has(r.substr(end + 4), "ok"));
  CHECK_FALSE(has(r, "retry:"));
  CHECK(f.sse_connections() == 0);
}

TEST_CASE("sse: a bad topic is 400", "[io][sse][bad-input]") {
  Fixture f;
  for (std::string path : std::vector<std::string>{"/sse/a$b", "/sse/" + std::string(129, 'a'), "/sse/a%20b", "/sse/a:b"}) {
    INFO(path);
    auto r = test::request(f.port(), "GET " + path + " HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n");
    CHECK(test::status_of(r) == 400);
  }
  CHECK(f.sse_connections() == 0);
  SseClient c(f.port(), "/sse/" + std::string(128, 'a'), "");
  REQUIRE(c.wait_head());
  CHECK(test::status_of(c.head()) == 200);
}

TEST_CASE("sse: server shutdown ends the stream with the last chunk", "[io][sse]") {
  Fixture f;
  SseClient c(f.port(), "/sse/s", "");
  REQUIRE(c.wait_head());
  f.hub.publish("s", "one");
  REQUIRE(c.wait_events(1));
  f.server->stop();
  REQUIRE(c.wait_eof());
  CHECK(c.last_chunk());
  CHECK_FALSE(c.chunk_error());
  f.server->join();
  CHECK(f.sse_connections() == 0);
}

TEST_CASE("sse: bring your own Asio accept loop, hand the socket to herald::accept<SSEPolicy>", "[io][sse][byo]") {
  herald::Metrics metrics;
  herald::Broadcaster<std::string> hub({}, metrics);
  hub.publish("byo", "held");
  asio::io_context ctx(1);
  asio::ip::tcp::acceptor acceptor(ctx, {asio::ip::make_address("127.0.0.1"), 0});
  unsigned short port = acceptor.local_endpoint().port();

  // The user's own server: accept, read the request, parse it, hand over.
  struct Session : std::enable_shared_from_this<Session> {
    asio::ip::tcp::socket socket;
    herald::Broadcaster<std::string>& hub;
    herald::http::RequestParser parser;
    std::string buf;
    char tmp[4096];
    Session(asio::ip::tcp::socket s, herald::Broadcaster<std::string>& h) : socket(std::move(s)), hub(h) {}
    void read() {
      socket.async_read_some(asio::buffer(tmp), [self = shared_from_this()](std::error_code ec, std::size_t n) {
        if (ec) return;
        self->buf.append(self->tmp, n);
        auto r = self->parser.feed(self->buf);
        if (r.status == herald::http::RequestParser::Status::need_more) {
          self->buf.clear();
          return self->read();
        }
        if (r.status != herald::http::RequestParser::Status::complete) return;
        std::string leftover = self->buf.substr(r.consumed);
        herald::http::Request req = self->parser.take();
        herald::accept<herald::SSEPolicy>(std::move(self->socket), req, leftover, self->hub,
                                          {.retry = 1000ms});
      });
    }
  };
  std::function<void()> accept_loop = [&] {
    acceptor.async_accept([&](std::error_code ec, asio::ip::tcp::socket s) {
      if (ec) return;
      std::make_shared<Session>(std::move(s), hub)->read();
      accept_loop();
    });
  };
  accept_loop();
  auto guard = asio::make_work_guard(ctx);
  std::thread t([&] { ctx.run(); });

  {
    SseClient c(port, "/sse/byo?lastEventId=0", "");
    REQUIRE(c.wait_head());
    CHECK(c.head().rfind("HTTP/1.1 200 OK\r\n", 0) == 0);
    CHECK(has(c.head(), "\r\nTransfer-Encoding: chunked\r\n"));
    REQUIRE(c.wait_events(1));
    CHECK(c.events()[0].data == "held");
    CHECK(*c.parser().retry_ms() == 1000);
    hub.publish("byo", "live\nand multi-line");
    REQUIRE(c.wait_events(2));
    CHECK(c.events()[1].data == "live\nand multi-line");
    CHECK(c.events()[1].last_event_id == "2");
    CHECK(metrics.connections[kSse].load() == 1);

    SseClient old(port, "/sse/byo", "Last-Event-ID: 1\r\n", /*http10=*/true);
    REQUIRE(old.wait_events(1));
    CHECK(old.head().rfind("HTTP/1.0 200 OK\r\n", 0) == 0);
    CHECK(ids_of(old.events()) == range(2, 2));
  }
  // The clients left: their connections end and unsubscribe on the loop.
  CHECK(test::eventually([&] { return metrics.connections[kSse].load() == 0; }));
  asio::post(ctx, [&] { acceptor.close(); });
  guard.reset();
  t.join();
}
