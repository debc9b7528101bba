// PollingPolicy over real sockets on 127.0.0.1: short poll body, ETag/304,
// limit, reset and 400s; long poll answered on publish, on its deadline (test
// clock), on shutdown; a parked client that leaves is removed; and no loss, no
// duplicate while events are published concurrently to many pollers.
#include <herald/polling/policy.hpp>

#include <herald/core/broadcaster.hpp>
#include <herald/http/server.hpp>

#include "support.hpp"

#include <catch2/catch.hpp>

#include <atomic>
#include <optional>
#include <thread>

using namespace std::chrono_literals;

namespace {

struct Fixture {
  herald::Metrics metrics;
  herald::Broadcaster<std::string> hub;
  std::unique_ptr<herald::Server> server;

  explicit Fixture(herald::HubOptions ho = {}, herald::PollingOptions po = {}, unsigned threads = 1)
      : hub(ho, metrics) {
    herald::ServerOptions o;
    o.metrics = &metrics;
    o.threads = threads;
    o.shutdown_timeout = 2s;
    server = std::make_unique<herald::Server>(o);
    server->poll("/poll/{topic}", hub, po);
    server->long_poll("/longpoll/{topic}", hub, po);
    server->route("GET", "/healthz", [](herald::Exchange& ex) { ex.respond(200, "text/plain", "ok"); });
    server->route("GET", "/byo/{x}", [this](herald::Exchange& ex) {
      // Another server's route handing its socket over: BYO accept.
      herald::http::Request req = ex.request();
      std::string leftover;
      auto s = ex.take_socket(leftover);
      herald::accept<herald::PollingPolicy>(std::move(s), req, leftover, hub,
                                            {.topic = "byo", .long_poll = req.target().find("long") != std::string::npos});
    });
    server->start();
  }
  unsigned short port() const { return server->port(); }
  std::int64_t parked() const {
    return metrics.connections[herald::Metrics::idx(herald::TransportKind::longpoll)].load();
  }
};

struct Response {
  int status = 0;
  std::string head;
  std::string body;
  std::string header(std::string_view name) const {
    auto p = head.find("\r\n" + std::string(name) + ": ");
    if (p == std::string::npos) return {};
    p += name.size() + 4;
    return head.substr(p, head.find("\r\n", p) - p);
  }
};

/// Bytes of the first complete response in `b` (Content-Length framed), or 0.
std::size_t complete(const std::string& b) {
  auto e = b.find("\r\n\r\n");
  if (e == std::string::npos) return 0;
  std::size_t len = 0;
  auto p = b.find("\r\nContent-Length: ");
  if (p != std::string::npos && p < e) len = std::stoul(b.substr(p + 18, b.find("\r\n", p + 18) - p - 18));
  return b.size() >= e + 4 + len ? e + 4 + len : 0;
}

/// Reads one response from `c` (bounded) and removes it from the buffer.
std::optional<Response> read_response(test::Client& c, std::chrono::milliseconds t = 5s, bool head_only = false) {
  auto need = [&](const std::string& b) -> std::size_t {
    if (!head_only) return complete(b);
    auto e = b.find("\r\n\r\n");
    return e == std::string::npos ? 0 : e + 4;
  };
  c.read_until([&](const std::string& b) { return need(b) != 0; }, t);
  std::size_t n = need(c.buffer());
  if (n == 0) return std::nullopt;
  Response r;
  std::string all = c.buffer().substr(0, n);
  c.buffer().erase(0, n);
  r.status = test::status_of(all);
  auto e = all.find("\r\n\r\n");
  r.head = all.substr(0, e + 2);
  r.body = all.substr(e + 4);
  return r;
}

struct Batch {
  std::vector<std::uint64_t> ids;
  std::vector<std::string> data;
  std::uint64_t next = 0;
  bool reset = false;
  bool ok = false;
};

/// Parses `{"events":[{"id":N,"data":"..."}...],"next":M,"reset":B}` (data without escapes but \").
Batch parse(const std::string& body) {
  Batch b;
  if (body.rfind("{\"events\":[", 0) != 0) return b;
  std::size_t p = 11;
  while (body.compare(p, 6, "{\"id\":") == 0) {
    p += 6;
    std::size_t q = body.find(',', p);
    b.ids.push_back(std::stoull(body.substr(p, q - p)));
    p = body.find("\"data\":\"", q) + 8;
    std::string d;
    while (p < body.size() && body[p] != '"') {
      if (body[p] == '\\') ++p;
      d += body[p++];
    }
    b.data.push_back(d);
    p += 2;  // "}
    if (body[p] == ',') ++p;
  }
  if (body.compare(p, 9, "],\"next\":") != 0) return b;
  p += 9;
  std::size_t q = body.find(',', p);
  b.next = std::stoull(body.substr(p, q - p));
  b.reset = body.compare(q, 14, ",\"reset\":true}") == 0;
  b.ok = b.reset || body.compare(q, 15, ",\"reset\":false}") == 0;
  return b;
}

std::string get(const std::string& target, const std::string& extra = "") {
  return "GET " + target + " HTTP/1.1\r\nHost: x\r\n" + extra + "\r\n";
}

}  // namespace

TEST_CASE("short poll: body, next, limit, ETag/304, Cache-Control, HEAD", "[io][polling]") {
  Fixture f;
  test::Client c(f.port());
  c.send(get("/poll/t?after=0"));
  auto r = read_response(c);
  REQUIRE(r);
  CHECK(r->status == 200);
  CHECK(r->header("Content-Type") == "application/json");
  CHECK(r->header("Cache-Control") == "no-store");
  CHECK(r->body == R"({"events":[],"next":0,"reset":false})");

  for (int i = 1; i <= 5; ++i) f.hub.publish("t", "e\"" + std::to_string(i));
  c.send(get("/poll/t?after=0&limit=2"));
  r = read_response(c);
  REQUIRE(r);
  CHECK(r->body == R"({"events":[{"id":1,"data":"e\"1"},{"id":2,"data":"e\"2"}],"next":2,"reset":false})");
  c.send(get("/poll/t?after=2"));
  auto b = parse(read_response(c)->body);
  CHECK(b.ids == std::vector<std::uint64_t>{3, 4, 5});
  CHECK(b.next == 5);

  // Nothing new: next stays at after, and the same ETag revalidates to 304.
  c.send(get("/poll/t?after=5"));
  r = read_response(c);
  REQUIRE(r);
  CHECK(r->body == R"({"events":[],"next":5,"reset":false})");
  std::string tag = r->header("ETag");
  REQUIRE(tag.rfind("W/\"", 0) == 0);
  c.send(get("/poll/t?after=5", "If-None-Match: " + tag + "\r\n"));
  r = read_response(c);
  REQUIRE(r);
  CHECK(r->status == 304);
  CHECK(r->body.empty());
  CHECK(r->header("ETag") == tag);
  CHECK(r->header("Cache-Control") == "no-store");
  // Something new: the old tag no longer matches.
  f.hub.publish("t", "six");
  c.send(get("/poll/t?after=5", "If-None-Match: " + tag + "\r\n"));
  r = read_response(c);
  REQUIRE(r);
  CHECK(r->status == 200);
  CHECK(parse(r->body).ids == std::vector<std::uint64_t>{6});
  CHECK(r->header("ETag") != tag);

  // HEAD: the head a GET gets, no body.
  c.send("HEAD /poll/t?after=0 HTTP/1.1\r\nHost: x\r\n\r\n");
  r = read_response(c, 5s, true);
  REQUIRE(r);
  CHECK(r->status == 200);
  CHECK(r->header("Content-Length") != "0");
  c.send(get("/poll/t?after=6"));  // the session is still in step
  r = read_response(c);
  REQUIRE(r);
  CHECK(r->body == R"({"events":[],"next":6,"reset":false})");
  CHECK(f.metrics.deliveries[herald::Metrics::idx(herald::TransportKind::poll)].load() == 2 + 3 + 1);
}

TEST_CASE("short poll: reset when the cursor fell out of history or is ahead of the head", "[io][polling]") {
  Fixture f({.history = {.max_events = 3}});
  for (int i = 1; i <= 10; ++i) f.hub.publish("r", std::to_string(i));  // holds 8..10
  test::Client c(f.port());
  c.send(get("/poll/r?after=2"));
  auto b = parse(read_response(c)->body);
  CHECK(b.reset);
  CHECK(b.ids == std::vector<std::uint64_t>{8, 9, 10});
  CHECK(b.next == 10);
  c.send(get("/poll/r?after=7"));  // first - 1: no reset
  b = parse(read_response(c)->body);
  CHECK_FALSE(b.reset);
  CHECK(b.ids == std::vector<std::uint64_t>{8, 9, 10});
  c.send(get("/poll/r?after=99"));  // ahead: the server restarted
  b = parse(read_response(c)->body);
  CHECK(b.reset);
  CHECK(b.ids.front() == 8);
  c.send(get("/poll/r?after=1&limit=1"));  // reset with a limit: next is the last returned
  b = parse(read_response(c)->body);
  CHECK(b.reset);
  CHECK(b.ids == std::vector<std::uint64_t>{8});
  CHECK(b.next == 8);
  c.send(get("/poll/empty?after=4"));  // nothing held, ahead: reset to first - 1 = 0
  auto r = read_response(c);
  CHECK(r->body == R"({"events":[],"next":0,"reset":true})");
  c.send(get("/poll/r?after=0"));  // 0: everything held, never a reset
  b = parse(read_response(c)->body);
  CHECK_FALSE(b.reset);
  CHECK(b.ids.size() == 3);
}

TEST_CASE("polling: bad after, limit, timeout_ms and topic get 400, the session goes on", "[io][polling][bad-input]") {
  Fixture f;
  test::Client c(f.port());
  for (std::string t : std::vector<std::string>{"/poll/t", "/poll/t?after=", "/poll/t?after=-1", "/poll/t?after=1x", "/poll/t?after=0x1",
                        "/poll/t?after=99999999999999999999", "/poll/t?after=0&limit=0", "/poll/t?after=0&limit=1001",
                        "/poll/t?after=0&limit=a", "/longpoll/t?after=0&timeout_ms=-5", "/longpoll/t?after=0&timeout_ms=1.5",
                        "/longpoll/t", "/poll/a%20b?after=0", "/poll/a:b?after=0", "/longpoll/a*?after=0",
                        "/poll/" + std::string(129, 'x') + "?after=0"}) {
    c.send(get(t));
    auto r = read_response(c);
    INFO(t);
    REQUIRE(r);
    CHECK(r->status == 400);
  }
  c.send(get("/poll/" + std::string(128, 'x') + "?after=0&limit=1000"));
  CHECK(read_response(c)->status == 200);
  c.send("POST /poll/t?after=0 HTTP/1.1\r\nHost: x\r\nContent-Length: 0\r\n\r\n");
  auto r = read_response(c);
  CHECK(r->status == 405);
  CHECK(r->header("Allow").find("GET") != std::string::npos);
  CHECK(f.parked() == 0);
}

TEST_CASE("polling: CORS for configured origins, preflight, exposed ETag", "[io][polling][cors]") {
  herald::PollingOptions po;
  po.cors.allowed = {"https://app.example"};
  Fixture f({}, po);
  test::Client c(f.port());
  c.send(get("/poll/t?after=0", "Origin: https://app.example\r\n"));
  auto r = read_response(c);
  CHECK(r->header("Access-Control-Allow-Origin") == "https://app.example");
  CHECK(r->header("Access-Control-Expose-Headers").find("ETag") != std::string::npos);
  c.send(get("/poll/t?after=0", "Origin: https://evil.example\r\n"));
  r = read_response(c);
  CHECK(r->header("Access-Control-Allow-Origin").empty());
  CHECK(r->header("Vary") == "Origin");
  c.send(get("/poll/t?after=bad", "Origin: https://app.example\r\n"));  // errors carry CORS too
  r = read_response(c);
  CHECK(r->status == 400);
  CHECK(r->header("Access-Control-Allow-Origin") == "https://app.example");
  c.send("OPTIONS /longpoll/t HTTP/1.1\r\nHost: x\r\nOrigin: https://app.example\r\n"
         "Access-Control-Request-Method: GET\r\nAccess-Control-Request-Headers: if-none-match\r\n\r\n");
  r = read_response(c);
  CHECK(r->status == 204);
  CHECK(r->header("Access-Control-Allow-Origin") == "https://app.example");
  CHECK(r->header("Access-Control-Allow-Headers") == "If-None-Match");
}

TEST_CASE("long poll: answers at once when events exist, else on the first publish with one batch", "[io][polling][long]") {
  Fixture f;
  f.hub.publish("l", "a");
  test::Client c(f.port());
  c.send(get("/longpoll/l?after=0"));
  auto b = parse(read_response(c)->body);
  CHECK(b.ids == std::vector<std::uint64_t>{1});

  c.send(get("/longpoll/l?after=1"));
  REQUIRE(test::eventually([&] { return f.parked() == 1; }));
  CHECK_FALSE(read_response(c, 100ms));  // parked: no answer yet
  f.hub.publish("l", "b");
  auto r = read_response(c);
  REQUIRE(r);
  CHECK(r->status == 200);
  CHECK(r->header("Cache-Control") == "no-store");
  b = parse(r->body);
  CHECK(b.ids == std::vector<std::uint64_t>{2});
  CHECK(b.data == std::vector<std::string>{"b"});
  CHECK(b.next == 2);
  CHECK(f.parked() == 0);

  // Keep-alive goes on; a wake-up answers with everything published by then.
  c.send(get("/longpoll/l?after=2"));
  REQUIRE(test::eventually([&] { return f.parked() == 1; }));
  std::thread burst([&] { for (int i = 0; i < 50; ++i) f.hub.publish("l", "x"); });
  burst.join();
  r = read_response(c);
  REQUIRE(r);
  b = parse(r->body);
  REQUIRE_FALSE(b.ids.empty());
  CHECK(b.ids.front() == 3);
  CHECK(b.next == b.ids.back());
  CHECK(f.metrics.deliveries[herald::Metrics::idx(herald::TransportKind::longpoll)].load() == 2 + b.ids.size());

  // A reset is answered at once.
  c.send(get("/longpoll/l?after=1000"));
  b = parse(read_response(c)->body);
  CHECK(b.reset);
  CHECK(b.ids.front() == 1);
}

TEST_CASE("long poll: answered with no events when timeout_ms passes on the test clock, clamped to the max",
          "[io][polling][long]") {
  herald::PollingOptions po;
  po.long_poll_max = 10s;
  Fixture f({}, po);
  herald::ManualClock clock;
  f.server->set_time_source(clock);
  f.hub.publish("d", "one");

  test::Client a(f.port()), b(f.port()), d(f.port());
  a.send(get("/longpoll/d?after=1&timeout_ms=5000"));
  b.send(get("/longpoll/d?after=1&timeout_ms=3600000"));  // clamped to 10 s
  d.send(get("/longpoll/d?after=1"));                      // default 30 s, clamped to 10 s too
  REQUIRE(test::eventually([&] { return f.parked() == 3; }));

  clock.advance(4s);
  f.server->sweep_now();
  CHECK_FALSE(read_response(a, 200ms));
  clock.advance(1500ms);
  f.server->sweep_now();
  auto r = read_response(a);
  REQUIRE(r);
  CHECK(r->status == 200);
  CHECK(r->body == R"({"events":[],"next":1,"reset":false})");
  CHECK_FALSE(read_response(b, 100ms));

  clock.advance(5s);  // 10.5 s
  f.server->sweep_now();
  r = read_response(b);
  REQUIRE(r);
  CHECK(r->body == R"({"events":[],"next":1,"reset":false})");
  r = read_response(d);
  REQUIRE(r);
  CHECK(r->body == R"({"events":[],"next":1,"reset":false})");
  CHECK(f.parked() == 0);

  a.send(get("/longpoll/d?after=1&timeout_ms=0"));  // 0: answer at once
  CHECK(read_response(a)->body == R"({"events":[],"next":1,"reset":false})");
}

TEST_CASE("long poll: server shutdown answers every parked request", "[io][polling][long]") {
  Fixture f({}, {}, 2);
  std::vector<std::unique_ptr<test::Client>> cs;
  for (int i = 0; i < 6; ++i) {
    cs.push_back(std::make_unique<test::Client>(f.port()));
    cs.back()->send(get("/longpoll/s?after=0&timeout_ms=60000"));
  }
  REQUIRE(test::eventually([&] { return f.parked() == 6; }));
  f.server->stop();
  for (auto& c : cs) {
    auto r = read_response(*c);
    REQUIRE(r);
    CHECK(r->status == 200);
    CHECK(r->body == R"({"events":[],"next":0,"reset":false})");
    CHECK(r->header("Connection") == "close");
    c->read_to_eof();
    CHECK(c->eof());
  }
  f.server->join();
  CHECK(f.parked() == 0);
}

TEST_CASE("long poll: a client that disconnects while parked is removed at once", "[io][polling][long]") {
  Fixture f({}, {}, 2);
  std::vector<std::unique_ptr<test::Client>> cs;
  for (int i = 0; i < 20; ++i) {
    cs.push_back(std::make_unique<test::Client>(f.port()));
    cs.back()->send(get("/longpoll/gone?after=0&timeout_ms=60000"));
  }
  REQUIRE(test::eventually([&] { return f.parked() == 20; }));
  CHECK(f.server->connections() == 20);
  cs.resize(5);  // 15 leave, with no clock advance and no publish
  REQUIRE(test::eventually([&] { return f.parked() == 5; }));
  REQUIRE(test::eventually([&] { return f.server->connections() == 5; }));
  cs.clear();
  REQUIRE(test::eventually([&] { return f.parked() == 0 && f.server->connections() == 0; }));
  // Their subscriptions are gone: a publish is delivered to nobody.
  auto before = f.metrics.deliveries[herald::Metrics::idx(herald::TransportKind::longpoll)].load();
  f.hub.publish("gone", "late");
  test::Client c(f.port());
  c.send(get("/longpoll/gone?after=0"));
  CHECK(parse(read_response(c)->body).ids == std::vector<std::uint64_t>{1});
  CHECK(f.metrics.deliveries[herald::Metrics::idx(herald::TransportKind::longpoll)].load() == before + 1);
}

TEST_CASE("polling: BYO accept serves the handed-over request and the rest of its session", "[io][polling][byo]") {
  Fixture f;
  f.hub.publish("byo", "1");
  test::Client c(f.port());
  c.send(get("/byo/short?after=0") + get("/byo/short?after=1"));  // pipelined
  auto r = read_response(c);
  REQUIRE(r);
  CHECK(parse(r->body).ids == std::vector<std::uint64_t>{1});
  r = read_response(c);
  REQUIRE(r);
  CHECK(r->body == R"({"events":[],"next":1,"reset":false})");
  c.send(get("/elsewhere"));
  CHECK(read_response(c)->status == 404);

  test::Client l(f.port());
  l.send(get("/byo/long?after=1"));
  REQUIRE(test::eventually([&] { return f.parked() == 1; }));
  f.hub.publish("byo", "2");
  r = read_response(l);
  REQUIRE(r);
  CHECK(parse(r->body).ids == std::vector<std::uint64_t>{2});
}

TEST_CASE("polling: no loss, no duplicate while events are published concurrently to many pollers",
          "[io][polling][concurrency]") {
  constexpr int kPublishers = 4, kPerPublisher = 150;  // 600 events
  constexpr std::uint64_t kTotal = kPublishers * kPerPublisher;
  constexpr int kShort = 8, kLong = 8;
  Fixture f({}, {}, 2);

  std::atomic<bool> go{false};
  std::vector<std::string> failures(kShort + kLong);
  std::vector<std::uint64_t> reached(kShort + kLong, 0);
  std::vector<std::thread> pollers;
  for (int p = 0; p < kShort + kLong; ++p) {
    pollers.emplace_back([&, p] {
      const bool lp = p >= kShort;
      const std::string limit = std::to_string(1 + p % 7);  // small limits: many batch boundaries
      auto deadline = std::chrono::steady_clock::now() + 30s;
      try {
        test::Client c(f.port());
        std::uint64_t cursor = 0;
        while (!go.load()) std::this_thread::yield();
        while (cursor < kTotal && std::chrono::steady_clock::now() < deadline) {
          std::string t = std::string(lp ? "/longpoll/c" : "/poll/c") + "?after=" + std::to_string(cursor) +
                          "&limit=" + limit + (lp ? "&timeout_ms=2000" : "");
          c.send(get(t));
          auto r = read_response(c, 5s);
          if (!r || r->status != 200) { failures[p] = "no answer at " + std::to_string(cursor); return; }
          Batch b = parse(r->body);
          if (!b.ok || b.reset) { failures[p] = "bad body or reset: " + r->body; return; }
          for (std::size_t i = 0; i < b.ids.size(); ++i) {
            if (b.ids[i] != cursor + 1) {
              failures[p] = "expected " + std::to_string(cursor + 1) + " got " + std::to_string(b.ids[i]);
              return;
            }
            cursor = b.ids[i];
          }
          if (b.next != cursor) { failures[p] = "next " + std::to_string(b.next) + " != " + std::to_string(cursor); return; }
        }
        reached[p] = cursor;
      } catch (const std::exception& e) {
        failures[p] = e.what();
      }
    });
  }
  std::vector<std::thread> pubs;
  std::atomic<int> woke_parked{0};
  for (int i = 0; i < kPublishers; ++i)
    pubs.emplace_back([&, i] {
      while (!go.load()) std::this_thread::yield();
      for (int k = 0; k < kPerPublisher; ++k) {
        // Now and then wait (bounded) until a long poll is parked, so the
        // parked path races with publishing, not only the at-once path.
        if (k % 25 == 0 && test::eventually([&] { return f.parked() > 0; }, 2s)) ++woke_parked;
        f.hub.publish("c", std::to_string(i) + ":" + std::to_string(k));
      }
    });
  go = true;
  for (auto& t : pubs) t.join();
  for (auto& t : pollers) t.join();
  CHECK(woke_parked.load() > 0);
  for (int p = 0; p < kShort + kLong; ++p) {
    INFO("poller " << p);
    CHECK(failures[p].empty());
    CHECK(reached[p] == kTotal);
  }
  // Every event once, in order, per publisher too.
  auto all = f.hub.read("c", 0).events;
  REQUIRE(all.size() == kTotal);
  std::vector<int> seen(kPublishers, -1);
  for (auto& e : all) {
    auto colon = e->data().find(':');
    int pub = std::stoi(e->data().substr(0, colon)), k = std::stoi(e->data().substr(colon + 1));
    CHECK(k == seen[pub] + 1);
    seen[pub] = k;
  }
  REQUIRE(test::eventually([&] { return f.parked() == 0; }));
}
