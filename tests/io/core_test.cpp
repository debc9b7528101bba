// Core over real sockets on 127.0.0.1: the server's limits and bad input, the
// broadcaster's ordering under concurrency, and one encode per event.
#include <herald/core/broadcaster.hpp>
#include <herald/http/server.hpp>

#include "support.hpp"

#include <catch2/catch.hpp>

#include <asio/io_context.hpp>

#include <atomic>
#include <future>
#include <map>
#include <thread>

using namespace std::chrono_literals;

namespace {

struct Fixture {
  herald::Metrics metrics;
  herald::Broadcaster<std::string> hub{{}, metrics};
  std::unique_ptr<herald::Server> server;

  explicit Fixture(herald::ServerOptions o = {}) {
    o.metrics = &metrics;
    server = std::make_unique<herald::Server>(o);
    server->route("GET", "/healthz", [](herald::Exchange& ex) { ex.respond(200, "text/plain", "ok"); });
    server->route("POST", "/publish/{topic}", [this](herald::Exchange& ex) {
      auto id = hub.publish(ex.param("topic"), ex.request().body());
      ex.respond(202, "application/json", "{\"id\":" + std::to_string(id) + "}");
    });
    server->start();
  }
  unsigned short port() const { return server->port(); }
  bool healthy() { return test::status_of(test::request(port(), "GET /healthz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")) == 200; }
};

}  // namespace

TEST_CASE("server: routes, keep-alive and pipelining", "[io][server]") {
  Fixture f;
  test::Client c(f.port());
  c.send("GET /healthz HTTP/1.1\r\nHost: x\r\n\r\nPOST /publish/a HTTP/1.1\r\nHost: x\r\nContent-Length: 3\r\n\r\nabc"
         "GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n");
  auto r = c.read_until([](const std::string& b) {
    std::size_t n = 0, p = 0;
    while ((p = b.find("HTTP/1.1 ", p)) != std::string::npos) ++n, ++p;
    return n == 3 && b.size() > 10 && b.substr(b.size() - 2) == "ok";
  });
  CHECK(r.find("HTTP/1.1 202") != std::string::npos);
  CHECK(r.find("{\"id\":1}") != std::string::npos);
  CHECK(r.rfind("HTTP/1.1 200") > r.find("HTTP/1.1 202"));  // answered in order
  CHECK(f.hub.read("a", 0).events.at(0)->data() == "abc");
}

TEST_CASE("server: 404 and 405 with Allow", "[io][server]") {
  Fixture f;
  auto r = test::request(f.port(), "GET /nope HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n");
  CHECK(test::status_of(r) == 404);
  r = test::request(f.port(), "DELETE /healthz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n");
  CHECK(test::status_of(r) == 405);
  CHECK(r.find("Allow: GET, HEAD") != std::string::npos);
}

TEST_CASE("server: every limit answers, closes, and spares other clients", "[io][server][bad-input]") {
  herald::ServerOptions o;
  o.limits.max_request_line = 256;
  o.limits.max_header_bytes = 512;
  o.limits.max_header_count = 8;
  o.limits.max_body = 64;
  Fixture f(o);
  // Accepted data before the bad input must survive it.
  REQUIRE(test::status_of(test::request(f.port(), "POST /publish/keep HTTP/1.1\r\nHost: x\r\nContent-Length: 4\r\nConnection: close\r\n\r\nsafe")) == 202);

  auto check = [&](const std::string& raw, int status) {
    test::Client c(f.port());
    c.send(raw);
    auto r = c.read_to_eof();
    INFO(raw.substr(0, 80));
    CHECK(test::status_of(r) == status);
    CHECK(c.eof());  // closed after the answer
    CHECK(f.healthy());
  };
  check("GET /" + std::string(300, 'a') + " HTTP/1.1\r\nHost: x\r\n\r\n", 414);
  check("GET / HTTP/1.1\r\nHost: x\r\nX-Big: " + std::string(600, 'b') + "\r\n\r\n", 431);
  std::string many = "GET / HTTP/1.1\r\n";
  for (int i = 0; i < 10; ++i) many += "X-" + std::to_string(i) + ": v\r\n";
  check(many + "\r\n", 431);
  check("POST /publish/t HTTP/1.1\r\nHost: x\r\nContent-Length: 65\r\n\r\n" + std::string(65, 'c'), 413);
  check("POST /publish/t HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n40\r\n" + std::string(64, 'c') +
            "\r\n1\r\nc\r\n0\r\n\r\n", 413);
  check("GET / HTTP/1.1\r\nHost: x\r\nContent-Length: 1\r\nTransfer-Encoding: chunked\r\n\r\n", 400);
  check("BR@KEN / HTTP/1.1\r\n\r\n", 400);
  check("GET / HTTP/9.9\r\nHost: x\r\n\r\n", 400);
  CHECK(f.metrics.bad_requests.load() >= 8);
  auto kept = f.hub.read("keep", 0);
  REQUIRE(kept.events.size() == 1);
  CHECK(kept.events[0]->data() == "safe");
}

TEST_CASE("server: Expect 100-continue and chunked bodies", "[io][server]") {
  Fixture f;
  test::Client c(f.port());
  c.send("POST /publish/c HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\nExpect: 100-continue\r\n\r\n");
  auto r = c.read_contains("100 Continue");
  REQUIRE(r.find("HTTP/1.1 100 Continue") == 0);
  c.send("hello");
  c.read_contains("{\"id\":1}");
  c.send("POST /publish/c HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n2\r\nde\r\n0\r\n\r\n");
  c.read_contains("{\"id\":2}");
  auto rp = f.hub.read("c", 0);
  REQUIRE(rp.events.size() == 2);
  CHECK(rp.events[0]->data() == "hello");
  CHECK(rp.events[1]->data() == "abcde");
}

TEST_CASE("server: connection limit answers 503 with Retry-After", "[io][server][bad-input]") {
  herald::ServerOptions o;
  o.max_connections = 2;
  Fixture f(o);
  test::Client a(f.port()), b(f.port());
  a.send("GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n");
  b.send("GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n");
  a.read_contains("ok");
  b.read_contains("ok");
  test::Client c(f.port());
  auto r = c.read_to_eof();
  CHECK(test::status_of(r) == 503);
  CHECK(r.find("Retry-After: 1") != std::string::npos);
  CHECK(f.metrics.rejected_connections.load() == 1);
  a.send("GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n");  // the admitted ones still work
  CHECK(a.read_until([](const std::string& s) { return s.rfind("ok") > s.find("ok"); }).size() > 0);
}

TEST_CASE("server: header and idle timeouts, driven by the test clock", "[io][server][bad-input]") {
  herald::ServerOptions o;
  o.header_timeout = 10s;
  o.idle_timeout = 30s;
  Fixture f(o);
  herald::ManualClock clock;
  f.server->set_time_source(clock);

  test::Client slow(f.port());
  slow.send("GET /healthz HTTP/1.1\r\nHost: x\r\n");  // never finishes its head
  test::Client idle(f.port());
  idle.send("GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n");
  idle.read_contains("ok");
  REQUIRE(test::eventually([&] { return f.metrics.http_requests.load() >= 1; }));

  clock.advance(11s);
  f.server->sweep_now();
  auto r = slow.read_to_eof();
  CHECK(test::status_of(r) == 408);
  CHECK_FALSE(idle.read_until([](const std::string&) { return false; }, 100ms).find("408") != std::string::npos);
  CHECK_FALSE(idle.eof());  // idle deadline (30 s) not reached yet

  clock.advance(25s);
  f.server->sweep_now();
  idle.read_to_eof();
  CHECK(idle.eof());
  CHECK(f.healthy());
}

TEST_CASE("server: graceful stop lets in-flight requests finish", "[io][server]") {
  Fixture f;
  test::Client c(f.port());
  const std::string head = "POST /publish/s HTTP/1.1\r\nHost: x\r\nContent-Length: 4\r\n\r\nab";
  c.send(head);  // half a body in flight
  // Stop only once the server has read it: a request still in the kernel's
  // buffer when the drain starts is, rightly, not in flight yet.
  REQUIRE(test::eventually([&] {
    return f.metrics.bytes_in[herald::Metrics::idx(herald::TransportKind::http)].load() >= head.size();
  }));
  f.server->stop();
  c.send("cd");
  auto r = c.read_to_eof();
  CHECK(test::status_of(r) == 202);
  CHECK(r.find("Connection: close") != std::string::npos);
  f.server->join();
  CHECK(f.hub.read("s", 0).events.size() == 1);
}

namespace {
// A subscriber that records ids and checks order on its own loop thread.
struct Recorder : herald::Subscriber {
  std::vector<std::uint64_t> ids;
  bool reset = false;
  std::vector<const std::string*> frames;
  herald::Subscription sub;
  void on_event(const herald::EventPtr& ev, herald::Subscription&) override {
    ids.push_back(ev->id());
    frames.push_back(&ev->frame(herald::FrameKind::sse_raw, [](const herald::Event& e) { return "data:" + e.data(); }));
  }
};
}  // namespace

TEST_CASE("broadcaster: subscribers joining with cursors under concurrent publishing see a gapless, ordered, duplicate-free sequence",
          "[io][broadcaster]") {
  constexpr int kPublishers = 3, kPerPublisher = 400, kLoops = 2, kSubsPerLoop = 20;
  constexpr std::uint64_t kTotal = kPublishers * kPerPublisher;
  herald::Metrics m;
  herald::Broadcaster<std::string> hub({}, m);
  std::vector<std::unique_ptr<asio::io_context>> loops;
  std::vector<std::unique_ptr<Recorder>> recs;
  std::vector<std::thread> threads;
  std::vector<asio::executor_work_guard<asio::io_context::executor_type>> guards;
  for (int l = 0; l < kLoops; ++l) {
    loops.push_back(std::make_unique<asio::io_context>(1));
    guards.emplace_back(asio::make_work_guard(*loops.back()));
  }
  for (auto& l : loops) threads.emplace_back([c = l.get()] { c->run(); });

  std::atomic<int> joined{0};
  std::vector<std::thread> pubs;
  for (int p = 0; p < kPublishers; ++p)
    pubs.emplace_back([&hub, p] {
      for (int i = 0; i < kPerPublisher; ++i) hub.publish("t", std::to_string(p) + ":" + std::to_string(i));
    });
  // Subscribers join while publishing runs, each with the cursor it "saw".
  for (int s = 0; s < kLoops * kSubsPerLoop; ++s) {
    auto r = std::make_unique<Recorder>();
    Recorder* rp = r.get();
    recs.push_back(std::move(r));
    auto& ctx = *loops[s % kLoops];
    asio::post(ctx, [&hub, &ctx, rp, &joined] {
      std::uint64_t cursor = hub.head("t") / 2;  // behind the head: must replay then go live
      auto res = hub.subscribe("t", *rp, rp->sub, ctx.get_executor(), {.after = cursor});
      rp->reset = res.reset;  // checked on the main thread: Catch2 is not thread-safe
      for (auto& e : res.replay) rp->ids.push_back(e->id());
      rp->ids.insert(rp->ids.begin(), cursor);  // remember where it started
      joined.fetch_add(1);
    });
  }
  for (auto& t : pubs) t.join();
  REQUIRE(test::eventually([&] { return joined.load() == kLoops * kSubsPerLoop; }));
  // Wait until every subscriber has received the last event.
  std::atomic<int> done{0};
  REQUIRE(test::eventually([&] {
    done = 0;
    for (int l = 0; l < kLoops; ++l) {
      std::promise<int> pr;
      auto fut = pr.get_future();
      asio::post(*loops[l], [&, l] {
        int n = 0;
        for (std::size_t s = l; s < recs.size(); s += kLoops) n += !recs[s]->ids.empty() && recs[s]->ids.back() == kTotal;
        pr.set_value(n);
      });
      done += fut.get();
    }
    return done.load() == kLoops * kSubsPerLoop;
  }, 10s));
  for (auto& l : loops) asio::post(*l, [&, c = l.get()] {
    for (std::size_t s = 0; s < recs.size(); ++s)
      if (&loops[s % kLoops]->get_executor().context() == c) hub.unsubscribe(recs[s]->sub);
  });
  guards.clear();
  for (auto& t : threads) t.join();

  for (auto& r : recs) {
    CHECK_FALSE(r->reset);
    std::uint64_t start = r->ids.front();
    REQUIRE(r->ids.size() == kTotal - start + 1);
    for (std::size_t i = 1; i < r->ids.size(); ++i) REQUIRE(r->ids[i] == start + i);
  }
  CHECK(m.events_published.load() == kTotal);
}

TEST_CASE("broadcaster: one encode per event per transport, the same buffer for every subscriber", "[io][broadcaster]") {
  asio::io_context ctx(1);
  herald::Broadcaster<std::string> hub;
  std::vector<std::unique_ptr<Recorder>> recs;
  for (int i = 0; i < 1000; ++i) {
    recs.push_back(std::make_unique<Recorder>());
    hub.subscribe("fan", *recs.back(), recs.back()->sub, ctx.get_executor());
  }
  auto before = herald::Event::encodes_total().load();
  for (int i = 0; i < 10; ++i) hub.publish("fan", "e" + std::to_string(i));
  ctx.run();
  CHECK(herald::Event::encodes_total().load() - before == 10);
  for (auto& r : recs) {
    REQUIRE(r->ids.size() == 10);
    CHECK(r->frames[3] == recs[0]->frames[3]);  // same bytes, by address
    hub.unsubscribe(r->sub);
  }
  CHECK(*recs[0]->frames[9] == "data:e9");
}

namespace {
struct Tick { int n; };
struct Counting {
  static inline std::atomic<int> calls{0};
  static std::string encode(const Tick& t) { ++calls; return "tick " + std::to_string(t.n); }
};
}  // namespace
namespace shop {
struct Order { int id; std::string state; };
std::string herald_encode(const Order& o) { return "{\"id\":" + std::to_string(o.id) + ",\"state\":\"" + o.state + "\"}"; }
}  // namespace shop

TEST_CASE("codec: user types by a codec type and by ADL, encoded once per publish", "[io][codec]") {
  asio::io_context ctx(1);
  herald::Broadcaster<Tick, Counting> ticks;
  std::vector<std::unique_ptr<Recorder>> recs;
  for (int i = 0; i < 50; ++i) {
    recs.push_back(std::make_unique<Recorder>());
    ticks.subscribe("t", *recs.back(), recs.back()->sub, ctx.get_executor());
  }
  ticks.publish("t", Tick{7});
  ctx.run();
  CHECK(Counting::calls == 1);
  CHECK(ticks.read("t", 0).events.at(0)->data() == "tick 7");
  for (auto& r : recs) ticks.unsubscribe(r->sub);

  herald::Broadcaster<shop::Order> orders;
  orders.publish("orders", shop::Order{42, "paid"});
  CHECK(orders.read("orders", 0).events.at(0)->data() == R"({"id":42,"state":"paid"})");
}

TEST_CASE("broadcaster: snapshot of the last N before going live, and resets", "[io][broadcaster]") {
  asio::io_context ctx(1);
  herald::Broadcaster<std::string> hub({.history = {.max_events = 5}});
  for (int i = 1; i <= 8; ++i) hub.publish("s", std::to_string(i));
  Recorder r;
  auto res = hub.subscribe("s", r, r.sub, ctx.get_executor(), {.after = std::nullopt, .last = 2});
  REQUIRE(res.replay.size() == 2);
  CHECK(res.replay[0]->id() == 7);
  hub.publish("s", "9");
  ctx.run();
  CHECK(r.ids == std::vector<std::uint64_t>{9});
  hub.unsubscribe(r.sub);

  Recorder old;
  auto rs = hub.subscribe("s", old, old.sub, ctx.get_executor(), {.after = 2});  // fell out: first is 5
  CHECK(rs.reset);
  CHECK(rs.next == 4);
  CHECK(rs.replay.front()->id() == 5);
  hub.unsubscribe(old.sub);
  Recorder ahead;
  auto ra = hub.subscribe("s", ahead, ahead.sub, ctx.get_executor(), {.after = 100});
  CHECK(ra.reset);
  hub.unsubscribe(ahead.sub);
}

TEST_CASE("broadcaster: one post per event-loop thread per event, whatever the subscribers", "[io][broadcaster]") {
  asio::io_context a(1), b(1);
  herald::Broadcaster<std::string> hub;
  std::vector<std::unique_ptr<Recorder>> recs;
  for (int i = 0; i < 200; ++i) {
    recs.push_back(std::make_unique<Recorder>());
    auto& ctx = i % 2 ? a : b;
    hub.subscribe("shard", *recs.back(), recs.back()->sub, ctx.get_executor());
  }
  hub.publish("shard", "one");
  CHECK(a.poll() == 1);  // one handler delivered to all 100 subscribers of this loop
  CHECK(b.poll() == 1);
  for (auto& r : recs) {
    CHECK(r->ids == std::vector<std::uint64_t>{1});
    hub.unsubscribe(r->sub);
  }
  hub.publish("shard", "nobody listens");
  a.restart();
  CHECK(a.poll() == 0);  // no subscribers left on this loop: no post at all
}

namespace {
// A backplane that stands for an external engine: it sees every publish and
// decides when (and whether) the hub commits it. Transports are unchanged.
struct RecordingBackplane {
  std::vector<std::string>* seen;
  std::uint64_t publish(herald::Hub& hub, std::string_view topic, std::string data, std::string key) {
    seen->push_back(std::string(topic) + ":" + data);
    return hub.commit(topic, std::move(data), std::move(key));
  }
};
}  // namespace

TEST_CASE("backplane: a seam between publish and commit", "[io][broadcaster]") {
  std::vector<std::string> seen;
  herald::Broadcaster<std::string, herald::codec<std::string>, RecordingBackplane> hub({}, herald::default_metrics(),
                                                                                       RecordingBackplane{&seen});
  CHECK(hub.publish("x", "1") == 1);
  CHECK(seen == std::vector<std::string>{"x:1"});
  CHECK(hub.read("x", 0).events.size() == 1);
}
