// Access control over real sockets on 127.0.0.1: the one hook in front of SSE,
// short and long polling and publishing (no token, forged, expired, `alg`
// changed, another topic; a valid token in the header, the query and a
// cookie), tokens lapsing on open streams and parked polls (driven by the
// test clock), CORS on refusals, the publish rate limit and the cap on
// connections per client address, each counted in the metrics. The same for
// WebSocket: the handshake subscribes, each message publishes (refused:
// close 1008), a lapsing token closes 1008, Origin allowlist, message rate.
#include <herald/auth/authorizer.hpp>

#include <herald/core/base64.hpp>
#include <herald/polling/policy.hpp>
#include <herald/sse/policy.hpp>
#include <herald/websocket/policy.hpp>

#include "support.hpp"
#include "ws_support.hpp"

#include <catch2/catch.hpp>

#include <asio/post.hpp>

#include <future>
#include <memory>
#include <string>
#include <vector>

using namespace std::chrono_literals;
namespace auth = herald::auth;

namespace {

const auth::Key kKey{auth::Algorithm::hs256, "io test secret: 32 bytes or more, really"};
const auth::Key kOtherKey{auth::Algorithm::hs256, "somebody else's secret, as long as ours"};

std::string token(auth::Permissions p, std::chrono::system_clock::duration ttl = 5min, const auth::Key& key = kKey) {
  return auth::issue_token(key, {.permissions = std::move(p), .expires = std::chrono::system_clock::now() + ttl});
}
/// A valid token with its header replaced by one naming `alg` (signature kept).
std::string with_alg(const std::string& tok, std::string_view alg) {
  std::string header = herald::base64url_encode("{\"alg\":\"" + std::string(alg) + "\",\"typ\":\"JWT\"}");
  return header + tok.substr(tok.find('.'));
}

bool has(const std::string& s, std::string_view needle) { return s.find(needle) != std::string::npos; }

/// A server with the JWT hook, SSE, polling and a publish route shaped like
/// herald-demo's (rate limit, then the hook), on a ManualClock.
struct Fixture {
  herald::ManualClock clock;  // outlives the server, whose loops read it until they stop
  herald::Metrics metrics;
  herald::Broadcaster<std::string> hub;
  std::unique_ptr<herald::Server> server;
  auth::OriginPolicy cors{.allowed = {"http://app.example"}, .allow_credentials = true};

  explicit Fixture(herald::ServerOptions o = {}, bool with_auth = true, herald::WebSocketOptions ws = {},
                   bool limit_loopback = true)
      : hub({}, metrics) {
    o.metrics = &metrics;
    o.limit_loopback = limit_loopback;  // every client here is 127.0.0.1
    if (with_auth) o.authorize = auth::JwtAuthorizer(auth::JwtVerifier({kKey}));
    server = std::make_unique<herald::Server>(o);
    server->route("GET", "/healthz", [](herald::Exchange& ex) { ex.respond(200, "text/plain", "ok"); });
    server->route("POST", "/publish/{topic}", [this](herald::Exchange& ex) {
      std::string_view topic = ex.param("topic");
      if (!ex.limit_publish()) return;
      if (!ex.authorize(topic, auth::Action::publish)) return;
      hub.publish(topic, ex.request().body());
      ex.respond(202, "application/json", "{}");
    });
    server->sse("/sse/{topic}", hub, herald::SSEOptions{.cors = cors});
    server->poll("/poll/{topic}", hub, herald::PollingOptions{.cors = cors});
    server->long_poll("/longpoll/{topic}", hub,
                      herald::PollingOptions{.long_poll_max = std::chrono::minutes(10), .cors = cors});
    ws.on_message = [this](herald::WebSocketPolicy& c, herald::websocket::Opcode, std::string_view payload) {
      hub.publish(c.topic(), std::string(payload));  // as herald-demo's /ws/topic does
    };
    server->websocket("/ws/topic/{topic}", hub, ws);
    herald::WebSocketOptions echo = ws;
    echo.on_message = [](herald::WebSocketPolicy& c, herald::websocket::Opcode op, std::string_view payload) {
      c.send(op, payload);
    };
    server->websocket("/ws/echo", echo);
    server->set_time_source(clock);
    server->start();
  }
  unsigned short port() const { return server->port(); }
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
  void advance(herald::Clock::duration d) {
    clock.advance(d);
    server->sweep_now();
    barrier();
  }
};

enum class Where { header, query, cookie };

/// The request line and headers for `path` with `tok` placed as `where` says.
std::string request_for(std::string_view method, std::string path, const std::string& tok, Where where,
                        std::string_view extra = {}, std::string_view body = {}) {
  std::string h;
  if (!tok.empty()) {
    if (where == Where::header) h += "Authorization: Bearer " + tok + "\r\n";
    if (where == Where::query) path += (path.find('?') == std::string::npos ? "?" : "&") + ("access_token=" + tok);
    if (where == Where::cookie) h += "Cookie: theme=dark; herald_token=" + tok + "\r\n";
  }
  std::string r = std::string(method) + " " + path + " HTTP/1.1\r\nHost: x\r\nConnection: close\r\n" + h +
                  std::string(extra);
  if (method == "POST") r += "Content-Length: " + std::to_string(body.size()) + "\r\n";
  return r + "\r\n" + std::string(body);
}

/// Sends `raw` on a new connection and returns what came back once the
/// response head is complete (a stream stays open: the head is enough).
std::string head_of(unsigned short port, const std::string& raw) {
  test::Client c(port);
  c.send(raw);
  return c.read_contains("\r\n\r\n");
}

struct Transport {
  const char* name;
  const char* method;
  const char* path;  // for topic "chat.room1"
  int ok;
  auth::Action action;
};

const Transport kTransports[] = {
    {"sse", "GET", "/sse/chat.room1", 200, auth::Action::subscribe},
    {"short poll", "GET", "/poll/chat.room1?after=0", 200, auth::Action::subscribe},
    {"long poll", "GET", "/longpoll/chat.room1?after=0&timeout_ms=0", 200, auth::Action::subscribe},
    {"publish", "POST", "/publish/chat.room1", 202, auth::Action::publish},
};

}  // namespace

TEST_CASE("auth: every HTTP transport refuses bad tokens with 401 and other topics with 403", "[io][auth]") {
  Fixture f;
  const auth::Permissions right{.subscribe = {"chat.*"}, .publish = {"chat.*"}};
  const auth::Permissions elsewhere{.subscribe = {"news"}, .publish = {"news"}};
  const std::string good = token(right);
  struct Case {
    const char* what;
    std::string tok;
    int status;
    const char* www;
  };
  const std::vector<Case> cases = {
      {"no token", "", 401, "WWW-Authenticate: Bearer\r\n"},
      {"forged", token(right, 5min, kOtherKey), 401, "error=\"invalid_token\""},
      {"expired", token(right, -5min), 401, "error=\"invalid_token\""},
      {"alg none", with_alg(good, "none"), 401, "error=\"invalid_token\""},
      {"alg HS512", with_alg(good, "HS512"), 401, "error=\"invalid_token\""},
      {"another topic", token(elsewhere), 403, "error=\"insufficient_scope\""},
  };
  std::uint64_t refusals = 0;
  for (const auto& t : kTransports) {
    for (const auto& c : cases) {
      INFO(t.name << ": " << c.what);
      const std::string r = head_of(f.port(), request_for(t.method, t.path, c.tok, Where::header, {}, "x"));
      CHECK(test::status_of(r) == c.status);
      CHECK(has(r, c.www));
      ++refusals;
    }
    for (Where w : {Where::header, Where::query, Where::cookie}) {
      INFO(t.name << ": valid token, place " << static_cast<int>(w));
      CHECK(test::status_of(head_of(f.port(), request_for(t.method, t.path, good, w, {}, "x"))) == t.ok);
    }
  }
  CHECK(f.metrics.auth_denied.load() == refusals);
  CHECK(has(f.metrics.prometheus(), "herald_auth_denied_total " + std::to_string(refusals)));
}

TEST_CASE("auth: a subscribe-only token cannot publish, a publish-only one cannot subscribe", "[io][auth]") {
  Fixture f;
  const std::string reader = token({.subscribe = {"chat.*"}});
  const std::string writer = token({.publish = {"chat.room1"}});
  CHECK(test::status_of(head_of(f.port(), request_for("POST", "/publish/chat.room1", reader, Where::header, {}, "x"))) == 403);
  CHECK(test::status_of(head_of(f.port(), request_for("POST", "/publish/chat.room1", writer, Where::header, {}, "x"))) == 202);
  CHECK(test::status_of(head_of(f.port(), request_for("GET", "/poll/chat.room1?after=0", writer, Where::header))) == 403);
  CHECK(test::status_of(head_of(f.port(), request_for("GET", "/poll/chat.room1?after=0", reader, Where::header))) == 200);
}

TEST_CASE("auth: an SSE stream ends when its token lapses, on the test clock", "[io][auth][sse]") {
  Fixture f;
  // exp in 60 s; with the 30 s leeway the permission lapses 90 s from now.
  const std::string tok = token({.subscribe = {"chat.*"}}, 60s);
  test::Client c(f.port());
  c.send(request_for("GET", "/sse/chat.room1", tok, Where::query));
  REQUIRE(test::status_of(c.read_contains("\r\n\r\n")) == 200);
  f.hub.publish("chat.room1", "before");
  REQUIRE(has(c.read_contains("data: before"), "data: before"));

  f.advance(60s);  // still within exp + leeway
  c.read_until([](const std::string&) { return false; }, 50ms);
  CHECK_FALSE(c.eof());
  f.hub.publish("chat.room1", "still");
  REQUIRE(has(c.read_contains("data: still"), "data: still"));

  f.advance(40s);  // 100 s: lapsed
  const std::string all = c.read_to_eof();
  CHECK(c.eof());
  CHECK(all.size() >= 5);
  CHECK(all.substr(all.size() - 5) == "0\r\n\r\n");  // the chunked body ends properly
}

TEST_CASE("auth: a long poll parked past its token's expiry is answered 401", "[io][auth][longpoll]") {
  Fixture f;
  const std::string tok = token({.subscribe = {"chat.*"}}, 60s);
  test::Client c(f.port());
  c.send(request_for("GET", "/longpoll/chat.room1?after=0&timeout_ms=300000", tok, Where::header));
  REQUIRE(test::eventually([&] {
    return f.metrics.connections[herald::Metrics::idx(herald::TransportKind::longpoll)].load() == 1;
  }));
  f.advance(60s);
  c.read_until([](const std::string&) { return false; }, 50ms);
  CHECK(c.buffer().empty());

  f.advance(40s);  // past exp + leeway, before the 300 s timeout
  const std::string r = c.read_to_eof();
  CHECK(test::status_of(r) == 401);
  CHECK(has(r, "expired"));
  CHECK(has(r, "WWW-Authenticate: Bearer error=\"invalid_token\""));

  // A token that outlives the timeout gets the ordinary empty answer.
  const std::string lasting = token({.subscribe = {"chat.*"}}, 30min);
  test::Client d(f.port());
  d.send(request_for("GET", "/longpoll/chat.room1?after=0&timeout_ms=5000", lasting, Where::header));
  REQUIRE(test::eventually([&] {
    return f.metrics.connections[herald::Metrics::idx(herald::TransportKind::longpoll)].load() == 1;
  }));
  f.advance(6s);
  const std::string ok = d.read_to_eof();
  CHECK(test::status_of(ok) == 200);
  CHECK(has(ok, "\"events\":[]"));
}

TEST_CASE("auth: refusals carry CORS for allowed origins, foreign origins get none", "[io][auth][cors]") {
  Fixture f;
  const std::string app = "Origin: http://app.example\r\n";
  const std::string evil = "Origin: http://evil.example\r\n";
  const std::string tok = token({.subscribe = {"chat.*"}, .publish = {"chat.*"}});
  for (const char* path : {"/sse/chat.room1", "/poll/chat.room1?after=0", "/longpoll/chat.room1?after=0&timeout_ms=0"}) {
    INFO(path);
    const std::string denied = head_of(f.port(), request_for("GET", path, "", Where::header, app));
    CHECK(test::status_of(denied) == 401);
    CHECK(has(denied, "Access-Control-Allow-Origin: http://app.example\r\n"));
    CHECK(has(denied, "Access-Control-Allow-Credentials: true\r\n"));
    CHECK(has(denied, "Vary: Origin\r\n"));

    const std::string foreign = head_of(f.port(), request_for("GET", path, tok, Where::cookie, evil));
    CHECK(test::status_of(foreign) == 200);  // served, but the browser keeps it from the page:
    CHECK_FALSE(has(foreign, "Access-Control-Allow-Origin"));
    CHECK(has(foreign, "Vary: Origin\r\n"));
  }
}

TEST_CASE("auth: the publish rate limit answers 429 with Retry-After and recovers on the test clock",
          "[io][auth][ratelimit]") {
  herald::ServerOptions o;
  o.publish_rate = {.per_second = 1, .burst = 2};
  Fixture f(o, false);
  auto publish = [&] {
    return head_of(f.port(), request_for("POST", "/publish/t", "", Where::header, {}, "x"));
  };
  CHECK(test::status_of(publish()) == 202);
  CHECK(test::status_of(publish()) == 202);
  const std::string refused = publish();
  CHECK(test::status_of(refused) == 429);
  CHECK(has(refused, "Retry-After: 1\r\n"));
  CHECK(f.metrics.rate_limited.load() == 1);
  CHECK(f.hub.metrics().events_published.load() == 2);

  f.advance(500ms);  // half a token: still refused
  CHECK(test::status_of(publish()) == 429);
  f.advance(600ms);
  CHECK(test::status_of(publish()) == 202);
  CHECK(test::status_of(publish()) == 429);
  CHECK(f.metrics.rate_limited.load() == 3);
  CHECK(has(f.metrics.prometheus(), "herald_rate_limited_total 3"));
}

TEST_CASE("auth: connections per client address are capped, streams included", "[io][auth][limits]") {
  herald::ServerOptions o;
  o.max_connections_per_address = 2;
  Fixture f(o, false);
  const std::string healthz = "GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n";
  const std::string healthz_close = "GET /healthz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n";

  SECTION("keep-alive sessions") {
    auto a = std::make_unique<test::Client>(f.port());
    test::Client b(f.port());
    for (test::Client* c : {a.get(), &b}) {
      c->send(healthz);
      REQUIRE(has(c->read_contains("ok"), "200 OK"));
    }
    const std::string refused = test::request(f.port(), healthz_close);
    CHECK(test::status_of(refused) == 503);
    CHECK(has(refused, "Retry-After: 1\r\n"));
    CHECK(f.metrics.address_limited.load() == 1);
    CHECK(f.metrics.rejected_connections.load() == 0);  // that counter is the global limit's

    a.reset();  // one place frees up once the server sees the EOF
    CHECK(test::eventually([&] { return test::status_of(test::request(f.port(), healthz_close)) == 200; }));
  }
  SECTION("an SSE stream keeps its place after its HTTP session hands the socket over") {
    auto a = std::make_unique<test::Client>(f.port());
    test::Client b(f.port());
    for (test::Client* c : {a.get(), &b}) {
      c->send("GET /sse/s HTTP/1.1\r\nHost: x\r\n\r\n");
      REQUIRE(test::status_of(c->read_contains("\r\n\r\n")) == 200);
    }
    f.barrier();
    CHECK(test::status_of(test::request(f.port(), healthz_close)) == 503);
    a.reset();
    CHECK(test::eventually([&] { return test::status_of(test::request(f.port(), healthz_close)) == 200; }));
    CHECK(has(f.metrics.prometheus(), "herald_address_limited_total "));
  }
}

TEST_CASE("auth: without a hook everything is open", "[io][auth]") {
  Fixture f({}, false);
  for (const auto& t : kTransports) {
    INFO(t.name);
    CHECK(test::status_of(head_of(f.port(), request_for(t.method, t.path, "", Where::header, {}, "x"))) == t.ok);
  }
  CHECK(f.metrics.auth_denied.load() == 0);
}

// ---- WebSocket ---------------------------------------------------------------

namespace {

std::string ws_extra(const std::string& tok, Where where, std::string_view more = {}) {
  std::string h(more);
  if (!tok.empty() && where == Where::header) h += "Authorization: Bearer " + tok + "\r\n";
  if (!tok.empty() && where == Where::cookie) h += "Cookie: herald_token=" + tok + "\r\n";
  return h;
}
std::string ws_path(std::string path, const std::string& tok, Where where) {
  if (!tok.empty() && where == Where::query) path += "?access_token=" + tok;
  return path;
}
std::string text(std::string_view s) { return test::masked(herald::websocket::Opcode::text, s); }

}  // namespace

TEST_CASE("auth: websocket handshake subscribes: 401/403 as for HTTP, a valid token anywhere works", "[io][auth][websocket]") {
  Fixture f;
  const auth::Permissions right{.subscribe = {"chat.*"}};
  const std::string good = token(right);
  const std::pair<std::string, int> cases[] = {
      {"", 401},
      {token(right, 5min, kOtherKey), 401},
      {token(right, -5min), 401},
      {with_alg(good, "none"), 401},
      {with_alg(good, "HS384"), 401},
      {token({.subscribe = {"news"}}), 403},
  };
  for (const auto& [tok, status] : cases) {
    test::RawWs ws(f.port(), "/ws/topic/chat.room1", ws_extra(tok, Where::header));
    CHECK(ws.status == status);
    CHECK(has(ws.head, "WWW-Authenticate: Bearer"));
  }
  CHECK(f.metrics.auth_denied.load() == 6);
  for (Where w : {Where::header, Where::query, Where::cookie}) {
    INFO("place " << static_cast<int>(w));
    test::RawWs ws(f.port(), ws_path("/ws/topic/chat.room1", good, w), ws_extra(good, w));
    REQUIRE(ws.status == 101);
    f.hub.publish("chat.room1", "hello");
    auto m = ws.next();
    REQUIRE(m);
    CHECK(m->payload == "hello");
  }
  // /ws/echo stays open (CONTRACT.md): no token needed.
  test::RawWs echo(f.port(), "/ws/echo");
  REQUIRE(echo.status == 101);
  echo.send(text("ping me"));
  auto m = echo.next();
  REQUIRE(m);
  CHECK(m->payload == "ping me");
}

TEST_CASE("auth: a websocket message publishes only with a publish grant, else close 1008", "[io][auth][websocket]") {
  Fixture f;
  SECTION("subscribe-only token") {
    const std::string tok = token({.subscribe = {"chat.*"}, .publish = {"chat.other"}});
    test::RawWs ws(f.port(), "/ws/topic/chat.room1", ws_extra(tok, Where::header));
    REQUIRE(ws.status == 101);
    ws.send(text("spam"));
    CHECK(ws.close_code() == 1008);
    CHECK(f.metrics.auth_denied.load() == 1);
    CHECK(f.metrics.events_published.load() == 0);
  }
  SECTION("publish grant") {
    const std::string tok = token({.subscribe = {"chat.*"}, .publish = {"chat.room1"}});
    test::RawWs ws(f.port(), ws_path("/ws/topic/chat.room1", tok, Where::query), "");
    REQUIRE(ws.status == 101);
    ws.send(text("mine"));
    auto m = ws.next();  // our own message, back as an event of the topic
    REQUIRE(m);
    CHECK(m->payload == "mine");
    CHECK(f.metrics.auth_denied.load() == 0);
  }
}

TEST_CASE("auth: a websocket closes 1008 when its token lapses, on the test clock", "[io][auth][websocket]") {
  herald::WebSocketOptions wso;
  wso.ping_interval = std::chrono::milliseconds(0);  // only the token's deadline here
  Fixture f({}, true, wso);
  const std::string tok = token({.subscribe = {"chat.*"}, .publish = {"chat.*"}}, 60s);
  test::RawWs ws(f.port(), "/ws/topic/chat.room1", ws_extra(tok, Where::header));
  REQUIRE(ws.status == 101);
  f.advance(60s);  // within exp + leeway
  CHECK_FALSE(ws.next(50ms));
  ws.send(text("still allowed"));
  auto m = ws.next();
  REQUIRE(m);
  CHECK(m->payload == "still allowed");

  f.advance(40s);  // lapsed
  auto close = ws.next();
  REQUIRE(close);
  CHECK(close->kind == herald::websocket::EventKind::close);
  CHECK(close->code == 1008);
}

TEST_CASE("auth: websocket Origin allowlist: a foreign origin gets 403", "[io][auth][websocket][origin]") {
  const auth::OriginPolicy origins{.allowed = {"http://127.0.0.1:8080"}};
  herald::WebSocketOptions wso;
  wso.check_origin = [origins](std::string_view o) { return origins.allows_handshake(o); };
  Fixture f({}, false, wso);
  test::RawWs evil(f.port(), "/ws/topic/t", "Origin: http://localhost:8080\r\n");
  CHECK(evil.status == 403);
  test::RawWs evil_echo(f.port(), "/ws/echo", "Origin: http://evil.example\r\n");
  CHECK(evil_echo.status == 403);
  test::RawWs ok(f.port(), "/ws/topic/t", "Origin: http://127.0.0.1:8080\r\n");
  CHECK(ok.status == 101);
  test::RawWs tool(f.port(), "/ws/topic/t");  // no Origin: not a browser
  CHECK(tool.status == 101);
}

TEST_CASE("auth: websocket message rate: close 1008 past the burst, refills on the test clock", "[io][auth][websocket][ratelimit]") {
  herald::WebSocketOptions wso;
  wso.message_rate = {.per_second = 1, .burst = 2};
  wso.ping_interval = std::chrono::milliseconds(0);
  Fixture f({}, false, wso);
  test::RawWs ws(f.port(), "/ws/echo");
  REQUIRE(ws.status == 101);
  auto echo = [&](std::string_view s) {
    ws.send(text(s));
    auto m = ws.next();
    return m && m->kind == herald::websocket::EventKind::text && m->payload == s;
  };
  CHECK(echo("1"));
  CHECK(echo("2"));
  f.advance(1s);  // one token back
  CHECK(echo("3"));
  CHECK(f.metrics.rate_limited.load() == 0);
  ws.send(text("4"));
  CHECK(ws.close_code() == 1008);
  CHECK(f.metrics.rate_limited.load() == 1);
}

TEST_CASE("auth: loopback peers are exempt from per-client limits unless limit_loopback", "[io][auth][limits]") {
  herald::ServerOptions o;
  o.max_connections_per_address = 1;
  o.publish_rate = {.per_second = 1, .burst = 1};
  herald::WebSocketOptions wso;
  wso.message_rate = {.per_second = 1, .burst = 1};
  Fixture f(o, false, wso, false);
  test::Client a(f.port());
  a.send("GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n");
  REQUIRE(has(a.read_contains("ok"), "200 OK"));
  for (int i = 0; i < 3; ++i)
    CHECK(test::status_of(head_of(f.port(), request_for("POST", "/publish/t", "", Where::header, {}, "x"))) == 202);
  test::RawWs ws(f.port(), "/ws/echo");
  REQUIRE(ws.status == 101);
  for (int i = 0; i < 3; ++i) {
    ws.send(text("m"));
    auto m = ws.next();
    CHECK((m && m->kind == herald::websocket::EventKind::text));
  }
  CHECK(f.metrics.rate_limited.load() == 0);
  CHECK(f.metrics.address_limited.load() == 0);
}
