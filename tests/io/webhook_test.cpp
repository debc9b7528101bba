// Webhooks over real sockets on 127.0.0.1: the sender against a scripted
// (flaky) receiver, the schedule driven by a ManualClock, the SSRF guard
// through a replaceable resolver, the SQLite outbox across a restart, and the
// receiving route.
#include <herald/webhook/policy.hpp>

#include "support.hpp"

#include <catch2/catch.hpp>

#include <asio/io_context.hpp>
#include <asio/read_until.hpp>
#include <asio/use_future.hpp>

#include <openssl/pem.h>
#include <openssl/x509v3.h>

#include <sqlite3.h>

#include <atomic>
#include <condition_variable>
#include <deque>
#include <fstream>
#include <filesystem>
#include <future>
#include <thread>

using namespace std::chrono_literals;
namespace wh = herald::webhook;

namespace {

constexpr const char* kSecret = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";

/// A receiver that answers from a script: the next Action per request, 200 when it is empty.
struct Receiver {
  struct Action {
    int status = 200;
    std::string retry_after{};
    bool hang = false;  ///< never answer (the sender's timeout fires)
  };
  struct Got {
    std::string id, timestamp, signature, host, body;
  };
  struct Hang final : herald::Parked {
    explicit Hang(herald::Exchange& e) : ex(e) {}
    void on_deadline() override { ex.respond_error(503, "hung"); }
    void on_shutdown() override { ex.respond_error(503, "hung"); }
    herald::Exchange& ex;
  };

  herald::Metrics metrics;
  std::unique_ptr<herald::Server> server;
  std::mutex mu;
  std::condition_variable cv;
  std::deque<Action> script;
  std::vector<Got> got;

  Receiver() {
    server = std::make_unique<herald::Server>(herald::ServerOptions{.metrics = &metrics});
    server->route("POST", "/hook", [this](herald::Exchange& ex) {
      const auto& r = ex.request();
      Action a;
      {
        std::lock_guard lk(mu);
        got.push_back({std::string(r.header("webhook-id").value_or("")),
                       std::string(r.header("webhook-timestamp").value_or("")),
                       std::string(r.header("webhook-signature").value_or("")),
                       std::string(r.header("host").value_or("")), r.body()});
        if (!script.empty()) {
          a = script.front();
          script.pop_front();
        }
      }
      cv.notify_all();
      if (a.hang) return ex.park(std::make_unique<Hang>(ex));
      if (!a.retry_after.empty()) return ex.respond(a.status, "text/plain", "x", {{"Retry-After", a.retry_after}});
      ex.respond(a.status, "text/plain", "ok");
    });
    server->route("GET", "/redirected", [this](herald::Exchange& ex) {
      {
        std::lock_guard lk(mu);
        got.push_back({"redirect-followed", "", "", "", ""});
      }
      ex.respond(200, "text/plain", "should not be here");
    });
    server->start();
  }
  ~Receiver() { server->stop(); }
  unsigned short port() const { return server->port(); }
  std::string url() const { return "http://127.0.0.1:" + std::to_string(port()) + "/hook"; }
  void push(std::initializer_list<Action> as) {
    std::lock_guard lk(mu);
    script.insert(script.end(), as);
  }
  std::size_t count() {
    std::lock_guard lk(mu);
    return got.size();
  }
  bool wait_count(std::size_t n, std::chrono::milliseconds t = 5s) {
    std::unique_lock lk(mu);
    return cv.wait_for(lk, t, [&] { return got.size() >= n; });
  }
  Got at(std::size_t i) {
    std::lock_guard lk(mu);
    return got.at(i);
  }
};

/// True if `g` carries a valid Standard Webhooks signature under kSecret.
bool verifies(const Receiver::Got& g) {
  std::error_code ec;
  std::vector<wh::Secret> s{wh::Secret::parse(kSecret, ec)};
  wh::StandardHeaders h{.id = g.id, .timestamp = g.timestamp, .signature = g.signature};
  return !wh::verify_standard(h, g.body, s, std::chrono::system_clock::now());
}

/// A sender on its own loop thread with a ManualClock and a report queue.
struct Rig {
  asio::io_context io{1};
  asio::executor_work_guard<asio::io_context::executor_type> guard{io.get_executor()};
  herald::ManualClock clock;
  herald::Metrics metrics;
  herald::Broadcaster<std::string> hub{{}, metrics};
  std::shared_ptr<wh::StaticResolver> resolver = std::make_shared<wh::StaticResolver>();
  std::unique_ptr<wh::Sender> sender;
  std::mutex mu;
  std::condition_variable cv;
  std::deque<wh::AttemptReport> reports;
  std::vector<std::string> logs;                    // the sender's log lines
  std::function<void(const wh::AttemptReport&)> also;  // called first on each report (sender's thread)
  std::thread thread;

  explicit Rig(wh::SenderOptions o = {}, std::unique_ptr<wh::Outbox> outbox = nullptr) {
    if (o.schedule == wh::default_schedule()) o.schedule = {0ms, 10s, 20s, 40s, 40s};
    o.time = &clock;
    o.manual = true;
    o.seed = 42;
    o.metrics = &metrics;
    if (!o.resolver) o.resolver = resolver;
    o.client.total_timeout = 500ms;  // the "times out once" case waits this long, in real time
    if (!o.log)
      o.log = [this](std::string_view line) {
        std::lock_guard lk(mu);
        logs.emplace_back(line);
      };
    o.on_attempt = [this](const wh::AttemptReport& r) {
      if (also) also(r);
      {
        std::lock_guard lk(mu);
        reports.push_back(r);
      }
      cv.notify_all();
    };
    sender = std::make_unique<wh::Sender>(io.get_executor(), hub, std::move(outbox), std::move(o));
    thread = std::thread([this] { io.run(); });
    sender->async_start(asio::use_future).get();
  }
  ~Rig() {
    sender->async_stop(asio::use_future).get();
    guard.reset();
    io.stop();
    thread.join();
    sender.reset();
  }
  /// Registers an endpoint; returns (error, id).
  std::pair<std::error_code, std::string> add(wh::EndpointConfig c) {
    std::promise<std::pair<std::error_code, std::string>> p;
    auto f = p.get_future();
    sender->async_add_endpoint(std::move(c), [&p](std::error_code ec, std::string id) { p.set_value({ec, id}); });
    REQUIRE(f.wait_for(5s) == std::future_status::ready);
    return f.get();
  }
  std::string add_ok(std::string url, wh::EndpointOptions eo = {}) {
    auto [ec, id] = add({.url = std::move(url), .secret = kSecret, .topics = {"t"}, .options = eo});
    REQUIRE_FALSE(ec);
    return id;
  }
  wh::AttemptReport next_report(std::chrono::milliseconds t = 5s) {
    std::unique_lock lk(mu);
    if (!cv.wait_for(lk, t, [&] { return !reports.empty(); })) FAIL("no attempt report in time");
    auto r = reports.front();
    reports.pop_front();
    return r;
  }
  std::size_t tick() { return sender->async_tick(asio::use_future).get(); }
  /// Moves the clock to `ms` (wall-clock ms as the sender sees them).
  void advance_to(std::int64_t ms) {
    const auto d = ms - sender->now_ms();
    if (d > 0) clock.advance(std::chrono::milliseconds(d));
  }
  wh::EndpointStats stats(const std::string& id) { return sender->stats(id).value(); }
  std::string log_text() {
    std::lock_guard lk(mu);
    std::string all;
    for (const auto& l : logs) all += l + "\n";
    return all;
  }
  /// Dead letters, replay and key changes complete on the sender's executor
  /// once the store thread has answered.
  std::pair<std::error_code, std::vector<wh::Message>> dead_letters(const std::string& id) {
    std::promise<std::pair<std::error_code, std::vector<wh::Message>>> p;
    auto f = p.get_future();
    sender->async_dead_letters(id, [&p](std::error_code ec, std::vector<wh::Message> v) { p.set_value({ec, std::move(v)}); });
    REQUIRE(f.wait_for(5s) == std::future_status::ready);
    return f.get();
  }
  std::pair<std::error_code, std::size_t> replay(const std::string& id) {
    std::promise<std::pair<std::error_code, std::size_t>> p;
    auto f = p.get_future();
    sender->async_replay(id, [&p](std::error_code ec, std::size_t n) { p.set_value({ec, n}); });
    REQUIRE(f.wait_for(5s) == std::future_status::ready);
    return f.get();
  }
  std::error_code set_keys(const std::string& id, std::vector<std::string> keys) {
    std::promise<std::error_code> p;
    auto f = p.get_future();
    sender->async_set_signing_keys(id, std::move(keys), [&p](std::error_code ec) { p.set_value(ec); });
    REQUIRE(f.wait_for(5s) == std::future_status::ready);
    return f.get();
  }
};

}  // namespace

TEST_CASE("webhook sender: signed delivery, stable ids, connection reuse", "[io][webhook]") {
  Receiver rx;
  Rig rig({.ssrf = wh::SsrfPolicy::allow_local()});
  const std::string id = rig.add_ok(rx.url());

  rig.hub.publish("t", "hello \"world\"\n");
  auto r1 = rig.next_report();
  CHECK(r1.outcome == wh::Outcome::delivered);
  CHECK(r1.status == 200);
  rig.hub.publish("t", "second");
  auto r2 = rig.next_report();
  CHECK(r2.outcome == wh::Outcome::delivered);
  REQUIRE(rx.count() == 2);

  auto g1 = rx.at(0), g2 = rx.at(1);
  CHECK(verifies(g1));
  CHECK(verifies(g2));
  CHECK(g1.id == r1.msg_id);
  CHECK(g1.id != g2.id);
  CHECK(g1.id.starts_with("msg_"));
  CHECK(g1.host == "127.0.0.1:" + std::to_string(rx.port()));
  auto body = herald::json::parse(g1.body);
  REQUIRE(body);
  CHECK(*body->find("type")->as_string() == "herald.event");
  CHECK(body->find("timestamp")->as_string()->size() == 24);
  CHECK(*body->find("data")->find("topic")->as_string() == "t");
  CHECK(body->find("data")->find("id")->as_int64() == 1);
  CHECK(*body->find("data")->find("payload")->as_string() == "hello \"world\"\n");

  // One connection, kept alive and reused for the second delivery.
  CHECK(rig.sender->client().connections_opened() == 1);
  CHECK(rig.sender->client().connections_reused() == 1);
  auto s = rig.stats(id);
  CHECK(s.delivered == 2);
  CHECK(s.pending + s.retrying + s.dead == 0);
  CHECK(rig.metrics.webhook_attempts_ok == 2);
}

TEST_CASE("webhook sender: a flaky receiver, retried on the schedule (ManualClock)", "[io][webhook]") {
  Receiver rx;
  Rig rig({.ssrf = wh::SsrfPolicy::allow_local()});  // schedule 0, 10 s, 20 s, 40 s, 40 s
  const std::string id = rig.add_ok(rx.url());
  rx.push({{.status = 500}, {.hang = true}, {.status = 429, .retry_after = "15"}, {.status = 302}, {.status = 200}});

  rig.hub.publish("t", "payload");
  auto a1 = rig.next_report();  // attempt 1 at once: 500
  CHECK(a1.status == 500);
  CHECK(a1.outcome == wh::Outcome::retry);
  CHECK(a1.state == wh::MessageState::retrying);
  auto wait1 = a1.next_attempt_ms - rig.sender->now_ms();
  CHECK(wait1 >= 0);
  CHECK(wait1 <= 10'000);  // full jitter: anywhere in [0, 10 s]
  CHECK(rig.stats(id).retrying == 1);

  // Nothing goes out before the chosen time, and it goes out at that time.
  if (wait1 > 0) {
    rig.advance_to(a1.next_attempt_ms - 1);
    CHECK(rig.tick() == 0);
  }
  rig.advance_to(a1.next_attempt_ms);
  CHECK(rig.tick() == 1);
  auto a2 = rig.next_report();  // attempt 2: the receiver hangs, the client times out
  CHECK(a2.status == 0);
  CHECK(a2.ec == herald::error::timeout);
  CHECK(a2.outcome == wh::Outcome::retry);
  CHECK(a2.next_attempt_ms - rig.sender->now_ms() <= 20'000);

  rig.advance_to(a2.next_attempt_ms);
  CHECK(rig.tick() == 1);
  auto a3 = rig.next_report();  // attempt 3: 429 with Retry-After: 15 is a floor
  CHECK(a3.status == 429);
  const auto wait3 = a3.next_attempt_ms - rig.sender->now_ms();
  CHECK(wait3 >= 15'000);
  CHECK(wait3 <= 40'000);
  rig.advance_to(a3.next_attempt_ms - 1);
  CHECK(rig.tick() == 0);
  rig.advance_to(a3.next_attempt_ms);
  CHECK(rig.tick() == 1);

  auto a4 = rig.next_report();  // attempt 4: 302 is a failure, not followed
  CHECK(a4.status == 302);
  CHECK(a4.outcome == wh::Outcome::retry);
  rig.advance_to(a4.next_attempt_ms);
  CHECK(rig.tick() == 1);
  auto a5 = rig.next_report();
  CHECK(a5.outcome == wh::Outcome::delivered);
  CHECK(a5.attempt == 5);

  REQUIRE(rx.count() == 5);  // the redirect target was never asked
  for (std::size_t i = 0; i < 5; ++i) {
    CHECK(rx.at(i).id == a1.msg_id);  // one webhook-id for every attempt
    CHECK(rx.at(i).body == rx.at(0).body);
    CHECK(verifies(rx.at(i)));
  }
  CHECK(rig.metrics.webhook_attempts_retry == 4);
  CHECK(rig.metrics.webhook_attempts_ok == 1);
  CHECK(rig.stats(id).delivered == 1);
}

TEST_CASE("webhook sender: 4xx dead-letters, replay re-queues, 410 disables, schedule end dead-letters",
          "[io][webhook]") {
  Receiver rx;
  Rig rig({.schedule = {0ms, 1s}, .ssrf = wh::SsrfPolicy::allow_local()});
  const std::string id = rig.add_ok(rx.url());

  rx.push({{.status = 400}});
  rig.hub.publish("t", "refused");
  auto a = rig.next_report();
  CHECK(a.outcome == wh::Outcome::dead_letter);
  CHECK(a.state == wh::MessageState::dead);
  CHECK(rig.stats(id).dead == 1);
  auto [dead_ec, dead] = rig.dead_letters(id);
  CHECK_FALSE(dead_ec);
  REQUIRE(dead.size() == 1);
  CHECK(dead[0].msg_id == a.msg_id);
  CHECK(rig.metrics.webhook_dead_letters == 1);

  CHECK(rig.replay(id) == std::pair<std::error_code, std::size_t>{{}, 1u});  // same message, same id, now accepted
  auto b = rig.next_report();
  CHECK(b.outcome == wh::Outcome::delivered);
  CHECK(b.msg_id == a.msg_id);
  CHECK(rig.stats(id).dead == 0);
  CHECK(rig.stats(id).delivered == 1);
  CHECK(rig.replay("ep_unknown").first == herald::error::not_found);

  // Schedule end: two attempts (0 s, 1 s), both 503, then dead.
  rx.push({{.status = 503}, {.status = 503}});
  rig.hub.publish("t", "unlucky");
  auto c1 = rig.next_report();
  CHECK(c1.outcome == wh::Outcome::retry);
  rig.advance_to(c1.next_attempt_ms);
  CHECK(rig.tick() == 1);
  auto c2 = rig.next_report();
  CHECK(c2.state == wh::MessageState::dead);
  CHECK(rig.stats(id).dead == 1);

  // 410 Gone disables the endpoint; what it is owed stays, nothing new queues.
  rx.push({{.status = 410}});
  rig.hub.publish("t", "gone");
  auto d = rig.next_report();
  CHECK(d.outcome == wh::Outcome::disable);
  auto s = rig.stats(id);
  CHECK(s.disabled);
  CHECK(s.retrying == 1);
  const auto before = rx.count();
  rig.hub.publish("t", "while disabled");
  rig.clock.advance(1h);
  CHECK(rig.tick() == 0);
  CHECK(rx.count() == before);
  CHECK(rig.stats(id).pending == 0);

  CHECK(rig.sender->enable(id));  // an operator brings it back: the owed message goes
  auto e = rig.next_report();
  CHECK(e.outcome == wh::Outcome::delivered);
  CHECK(e.msg_id == d.msg_id);
}

TEST_CASE("webhook sender: an endpoint failing for the configured period is disabled", "[io][webhook]") {
  Receiver rx;
  Rig rig({.schedule = {0ms, 10s, 10s, 10s, 10s, 10s, 10s},
           .ssrf = wh::SsrfPolicy::allow_local(),
           .disable_after = 25s});
  const std::string id = rig.add_ok(rx.url());
  for (int i = 0; i < 7; ++i) rx.push({{.status = 500}});
  rig.hub.publish("t", "x");
  auto r = rig.next_report();
  const auto first = rig.sender->now_ms();
  int attempts = 1;
  while (!rig.stats(id).disabled && attempts < 7) {
    rig.advance_to(r.next_attempt_ms);
    REQUIRE(rig.tick() == 1);
    r = rig.next_report();
    ++attempts;
  }
  CHECK(rig.stats(id).disabled);
  CHECK(rig.sender->now_ms() - first >= 25'000);  // not before the period
  CHECK(rig.stats(id).retrying == 1);             // still owed
}

TEST_CASE("webhook sender: strict ordering and the concurrency limit", "[io][webhook]") {
  Receiver rx;
  Rig rig({.ssrf = wh::SsrfPolicy::allow_local()});

  SECTION("ordered: a failing head blocks the rest") {
    const std::string id = rig.add_ok(rx.url(), {.ordered = true});
    rx.push({{.status = 500}});
    rig.hub.publish("t", "one");
    rig.hub.publish("t", "two");
    auto r = rig.next_report();
    CHECK(r.event_id == 1);
    CHECK(r.outcome == wh::Outcome::retry);
    CHECK(rig.tick() == 0);  // "two" is due but waits behind "one"
    CHECK(rx.count() == 1);
    rig.advance_to(r.next_attempt_ms);
    CHECK(rig.tick() == 1);
    CHECK(rig.next_report().event_id == 1);
    CHECK(rig.next_report().event_id == 2);  // started when "one" was delivered
    REQUIRE(rx.count() == 3);
    CHECK(rx.at(2).body.find("\"payload\":\"two\"") != std::string::npos);
    CHECK(rig.stats(id).delivered == 2);
  }
  SECTION("at most max_in_flight attempts at once") {
    const std::string id = rig.add_ok(rx.url(), {.max_in_flight = 2});
    rx.push({{.hang = true}, {.hang = true}, {.hang = true}, {.hang = true}});
    for (int i = 0; i < 4; ++i) rig.hub.publish("t", "p" + std::to_string(i));
    REQUIRE(rx.wait_count(2));
    auto s = rig.stats(id);
    CHECK(s.in_flight == 2);
    CHECK(rx.count() == 2);  // the other two wait for a slot
    CHECK(rig.next_report().ec == herald::error::timeout);  // a slot frees up: the next one goes
    REQUIRE(rx.wait_count(3));
  }
}

TEST_CASE("webhook sender: SSRF guard on every address class, through the resolver seam", "[io][webhook][ssrf]") {
  Receiver rx;
  Rig rig;  // default policy: only global addresses
  const char* forbidden[] = {"10.0.0.1",       "172.16.5.4",     "192.168.1.1",  "127.0.0.1",   "169.254.1.1",
                             "169.254.169.254", "100.64.0.1",     "224.0.0.1",    "0.0.0.0",     "255.255.255.255",
                             "240.0.0.1",       "::1",            "::",           "fe80::1",     "fc00::1",
                             "fd00:ec2::254",   "ff02::1",        "::ffff:127.0.0.1", "::ffff:10.0.0.1", "64:ff9b::a9fe:a9fe"};
  const auto port = std::to_string(rx.port());
  int i = 0;
  for (const char* a : forbidden) {
    const std::string host = "h" + std::to_string(i++) + ".test";
    rig.resolver->set(host, {*wh::Address::parse(a)});
    auto [ec, id] = rig.add({.url = "http://" + host + ":" + port + "/hook", .secret = kSecret, .topics = {"t"}});
    INFO(a);
    CHECK(ec == herald::error::webhook_forbidden_address);
    // The same address as a URL literal is refused without any look-up.
    const std::string lit = std::string(a).find(':') != std::string::npos ? "[" + std::string(a) + "]" : a;
    CHECK(rig.add({.url = "http://" + lit + ":" + port + "/hook", .secret = kSecret, .topics = {"t"}}).first ==
          herald::error::webhook_forbidden_address);
  }
  // A name that resolves to a public and a private address is refused whole.
  rig.resolver->set("mixed.test", {*wh::Address::parse("93.184.216.34"), *wh::Address::parse("10.1.2.3")});
  CHECK(rig.add({.url = "http://mixed.test/hook", .secret = kSecret, .topics = {"t"}}).first ==
        herald::error::webhook_forbidden_address);
  CHECK(rx.count() == 0);
  CHECK(rig.sender->client().connections_opened() == 0);
}

TEST_CASE("webhook sender: connects to the checked address, a rebinding to a forbidden one is refused",
          "[io][webhook][ssrf]") {
  Receiver rx;
  wh::SsrfPolicy loopback_only{.allow_loopback = true};
  Rig rig({.ssrf = loopback_only});
  // hook.test does not exist in any DNS: the connection can only go to the
  // address the resolver seam returned and the guard checked.
  rig.resolver->set("hook.test", {*wh::Address::parse("127.0.0.1")});
  const std::string id = rig.add_ok("http://hook.test:" + std::to_string(rx.port()) + "/hook");
  rig.hub.publish("t", "via name");
  CHECK(rig.next_report().outcome == wh::Outcome::delivered);
  REQUIRE(rx.count() == 1);
  CHECK(rx.at(0).host == "hook.test:" + std::to_string(rx.port()));

  for (const char* a : {"10.0.0.1", "169.254.169.254", "::ffff:192.168.0.1"}) {
    rig.resolver->set("hook.test", {*wh::Address::parse(a)});  // DNS rebinding after registration
    rig.hub.publish("t", "rebound");
    auto r = rig.next_report();
    INFO(a);
    CHECK(r.ec == herald::error::webhook_forbidden_address);
    CHECK(r.outcome == wh::Outcome::retry);
  }
  CHECK(rx.count() == 1);
  CHECK(rig.sender->client().connections_opened() == 1);
  CHECK(rig.resolver->lookups() == 5);  // once at registration, once per attempt
}

TEST_CASE("webhook sender: the SQLite outbox survives a restart", "[io][webhook][outbox]") {
  Receiver rx;
  const auto dir = std::filesystem::temp_directory_path() / ("herald-wh-" + std::to_string(::getpid()));
  std::filesystem::remove_all(dir);
  std::filesystem::create_directories(dir);
  const std::string db = (dir / "webhooks.sqlite3").string();
  std::string id, first_msg;
  {
    Rig rig({.ssrf = wh::SsrfPolicy::allow_local()}, std::make_unique<wh::SqliteOutbox>(db));
    id = rig.add_ok(rx.url());
    rx.push({{.status = 500}, {.status = 400}});
    rig.hub.publish("t", "keep me");
    auto r = rig.next_report();
    first_msg = r.msg_id;
    CHECK(r.state == wh::MessageState::retrying);
    rig.hub.publish("t", "dead one");
    CHECK(rig.next_report().state == wh::MessageState::dead);
  }
  std::error_code ec;
  CHECK((std::filesystem::status(db).permissions() & std::filesystem::perms::others_read) ==
        std::filesystem::perms::none);
  {
    Rig rig({.ssrf = wh::SsrfPolicy::allow_local()}, std::make_unique<wh::SqliteOutbox>(db));
    auto s = rig.stats(id);  // the endpoint and what it is owed came back
    CHECK(s.retrying == 1);
    CHECK(s.dead == 1);
    rig.clock.advance(1min);
    CHECK(rig.tick() == 1);
    auto r = rig.next_report();
    CHECK(r.outcome == wh::Outcome::delivered);
    CHECK(r.msg_id == first_msg);  // same webhook-id across the restart
    CHECK(rig.replay(id).second == 1u);
    CHECK(rig.next_report().outcome == wh::Outcome::delivered);
    // Event ids restart at 1 in a new process; the webhook-id does not repeat.
    rig.hub.publish("t", "new life");
    auto n = rig.next_report();
    CHECK(n.event_id == 1);
    CHECK(n.msg_id != first_msg);
    CHECK(rig.stats(id).delivered == 3);
  }
  std::filesystem::remove_all(dir);
}

namespace {
/// Whether `g`'s signature verifies with exactly these keys (and no others).
bool verifies_with(const Receiver::Got& g, std::vector<wh::Secret> secrets, std::vector<wh::VerifyingKey> pubs = {}) {
  wh::StandardHeaders h{.id = g.id, .timestamp = g.timestamp, .signature = g.signature};
  return !wh::verify_standard(h, g.body, secrets, pubs, std::chrono::system_clock::now());
}
wh::Secret secret_of(const std::string& s) {
  std::error_code ec;
  auto k = wh::Secret::parse(s, ec);
  REQUIRE_FALSE(ec);
  return k;
}
}  // namespace

TEST_CASE("webhook sender: several signing keys, each verifies alone, and rotation", "[io][webhook]") {
  Receiver rx;
  Rig rig({.ssrf = wh::SsrfPolicy::allow_local()});
  const std::string fresh = wh::Secret::generate().to_string();
  const wh::SigningKey ed = wh::SigningKey::generate();
  auto [ec, id] = rig.add({.url = rx.url(), .secret = kSecret, .topics = {"t"}, .keys = {fresh, ed.to_string()}});
  REQUIRE_FALSE(ec);

  rig.hub.publish("t", "rotating");
  CHECK(rig.next_report().outcome == wh::Outcome::delivered);
  REQUIRE(rx.count() == 1);
  const auto g = rx.at(0);
  CHECK(std::count(g.signature.begin(), g.signature.end(), ' ') == 2);  // "v1,... v1,... v1a,..."
  CHECK(verifies_with(g, {secret_of(kSecret)}));
  CHECK(verifies_with(g, {secret_of(fresh)}));
  CHECK(verifies_with(g, {}, {ed.public_key()}));
  CHECK_FALSE(verifies_with(g, {wh::Secret::generate()}));

  // The end of the rotation: the old secret goes.
  CHECK_FALSE(rig.set_keys(id, {fresh}));
  rig.hub.publish("t", "rotated");
  CHECK(rig.next_report().outcome == wh::Outcome::delivered);
  REQUIRE(rx.count() == 2);
  CHECK(rx.at(1).signature.starts_with("v1,"));
  CHECK(rx.at(1).signature.find(' ') == std::string::npos);
  CHECK(verifies_with(rx.at(1), {secret_of(fresh)}));
  CHECK_FALSE(verifies_with(rx.at(1), {secret_of(kSecret)}));

  // Refused changes leave the keys as they were.
  CHECK(rig.set_keys("ep_nope", {fresh}) == herald::error::not_found);
  CHECK(rig.set_keys(id, {}) == herald::error::webhook_bad_secret);
  CHECK(rig.set_keys(id, {fresh, "whsec_!!"}) == herald::error::webhook_bad_secret);
  CHECK(rig.set_keys(id, {ed.public_key().to_string()}) == herald::error::webhook_bad_secret);
  rig.hub.publish("t", "still fresh");
  CHECK(rig.next_report().outcome == wh::Outcome::delivered);
  REQUIRE(rx.count() == 3);
  CHECK(verifies_with(rx.at(2), {secret_of(fresh)}));

  // Registration needs at least one key, and valid ones.
  CHECK(rig.add({.url = rx.url(), .topics = {"t"}}).first == herald::error::webhook_bad_secret);
  CHECK(rig.add({.url = rx.url(), .topics = {"t"}, .keys = {"whsec_!!"}}).first == herald::error::webhook_bad_secret);
  auto [ec2, id2] = rig.add({.url = rx.url(), .topics = {"t"}, .keys = {ed.to_string()}});  // v1a only
  CHECK_FALSE(ec2);
}

TEST_CASE("webhook sender: the SQLite outbox keeps the signing keys, and old rows still load", "[io][webhook][outbox]") {
  Receiver rx;
  const auto dir = std::filesystem::temp_directory_path() / ("herald-whk-" + std::to_string(::getpid()));
  std::filesystem::remove_all(dir);
  std::filesystem::create_directories(dir);
  const std::string db = (dir / "webhooks.sqlite3").string();
  const std::string fresh = wh::Secret::generate().to_string();
  {
    // A row as every earlier version wrote it: one whsec_ in `secret`, same schema.
    wh::SqliteOutbox o(db);
    wh::EndpointRecord rec{.id = "ep_old", .url = rx.url(), .secret = kSecret, .topics = {"t"}};
    o.put_endpoint(rec);
  }
  {
    Rig rig({.ssrf = wh::SsrfPolicy::allow_local()}, std::make_unique<wh::SqliteOutbox>(db));
    REQUIRE(rig.sender->stats("ep_old"));
    rig.hub.publish("t", "old row");
    CHECK(rig.next_report().outcome == wh::Outcome::delivered);
    REQUIRE(rx.count() == 1);
    CHECK(verifies_with(rx.at(0), {secret_of(kSecret)}));
    CHECK_FALSE(rig.set_keys("ep_old", {kSecret, fresh}));  // rotation starts
  }
  {
    Rig rig({.ssrf = wh::SsrfPolicy::allow_local()}, std::make_unique<wh::SqliteOutbox>(db));
    CHECK(rig.stats("ep_old").delivered == 1);
    rig.hub.publish("t", "after restart");
    CHECK(rig.next_report().outcome == wh::Outcome::delivered);
    REQUIRE(rx.count() == 2);
    CHECK(verifies_with(rx.at(1), {secret_of(kSecret)}));
    CHECK(verifies_with(rx.at(1), {secret_of(fresh)}));
  }
  std::filesystem::remove_all(dir);
}

TEST_CASE("webhook receiver: verified, deduplicated, published after the answer", "[io][webhook][receiver]") {
  herald::Metrics metrics;
  herald::Broadcaster<std::string> hub{{}, metrics};
  herald::Server server({.metrics = &metrics});
  herald::WebhookReceiverOptions o;
  std::error_code ec;
  o.secrets.push_back(wh::Secret::parse(kSecret, ec));
  // The receiver's clock is fixed: "301 s off" is 301 s off however long the
  // machine takes between building a request and checking it (with the real
  // clock, a scheduler pause of a second turned "now + 301" into an accepted
  // "now + 300" under load).
  const auto fixed = std::chrono::system_clock::time_point(std::chrono::seconds(1'760'000'000));
  o.now = [fixed] { return fixed; };
  herald::WebhookPolicy::install_receiver(server, "/hooks/in", hub, std::move(o));
  server.start();

  const auto now = std::chrono::duration_cast<std::chrono::seconds>(fixed.time_since_epoch()).count();
  auto post = [&](std::string id, std::int64_t ts, std::string body, std::string sig_body = {}, bool headers = true) {
    if (sig_body.empty()) sig_body = body;
    std::string req = "POST /hooks/in HTTP/1.1\r\nHost: x\r\nConnection: close\r\nContent-Length: " +
                      std::to_string(body.size()) + "\r\n";
    if (headers) {
      std::error_code e;
      req += "webhook-id: " + id + "\r\nwebhook-timestamp: " + std::to_string(ts) +
             "\r\nwebhook-signature: " + wh::sign(id, ts, sig_body, wh::Secret::parse(kSecret, e)) + "\r\n";
    }
    return test::status_of(test::request(server.port(), req + "\r\n" + body));
  };
  CHECK(post("msg_1", now, R"({"a":1})") == 200);
  REQUIRE(test::eventually([&] { return hub.head("webhooks") == 1; }));
  CHECK(post("msg_1", now, R"({"a":1})") == 200);  // a repeat: acknowledged
  CHECK(post("msg_2", now, "tampered", "original") == 401);
  CHECK(post("msg_3", now - 301, "stale") == 401);
  CHECK(post("msg_4", now + 301, "future") == 401);
  CHECK(post("msg_5", now, "no headers", {}, false) == 400);
  CHECK(post("msg_6", now, "sentinel") == 200);
  REQUIRE(test::eventually([&] { return hub.head("webhooks") == 2; }));
  auto evs = hub.read("webhooks", 0).events;
  REQUIRE(evs.size() == 2);
  CHECK(evs[0]->data() == R"({"a":1})");
  CHECK(evs[1]->data() == "sentinel");
  CHECK(metrics.webhooks_received == 3);
  CHECK(metrics.webhooks_rejected == 4);
  server.stop();
}

TEST_CASE("http client: body cap, no redirects, errors", "[io][http][client]") {
  herald::Server server;
  server.route("GET", "/big", [](herald::Exchange& ex) { ex.respond(200, "text/plain", std::string(100000, 'b')); });
  server.route("GET", "/moved", [](herald::Exchange& ex) {
    ex.respond(301, "text/plain", "", {{"Location", "/big"}});
  });
  server.start();
  asio::io_context io;
  herald::http::ClientOptions co;
  co.limits.max_body = 1000;
  herald::http::Client client(io.get_executor(), co);
  herald::http::ClientTarget t{.host = "127.0.0.1", .port = server.port(),
                               .addresses = {{asio::ip::make_address("127.0.0.1"), server.port()}}};
  auto fut = client.async_request(t, {.method = "GET", .target = "/big"}, asio::use_future);
  io.run();
  auto big = fut.get();
  CHECK(big.status == 200);
  CHECK(big.truncated);
  CHECK(big.body.size() == 1000);

  io.restart();
  fut = client.async_request(t, {.method = "GET", .target = "/moved"}, asio::use_future);
  io.run();
  auto moved = fut.get();
  CHECK(moved.status == 301);  // returned as is
  CHECK(moved.header("location") == "/big");

  io.restart();
  herald::http::ClientTarget none{.host = "127.0.0.1", .port = 1};
  auto f2 = client.async_request(none, {}, asio::use_future);
  io.run();
  CHECK_THROWS(f2.get());
  server.stop();
}

// ------------------------------------------------------------------ https

namespace {

/// A self-signed certificate for `hook.test` and 127.0.0.1, made at run time.
struct TestCert {
  std::string cert_pem, key_pem;
  TestCert() {
    EVP_PKEY* key = EVP_EC_gen("P-256");
    X509* x = X509_new();
    X509_set_version(x, 2);
    ASN1_INTEGER_set(X509_get_serialNumber(x), 1);
    X509_gmtime_adj(X509_getm_notBefore(x), -60);
    X509_gmtime_adj(X509_getm_notAfter(x), 3600);
    X509_set_pubkey(x, key);
    X509_NAME* name = X509_get_subject_name(x);
    X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_ASC, reinterpret_cast<const unsigned char*>("hook.test"), -1, -1, 0);
    X509_set_issuer_name(x, name);
    X509V3_CTX ctx;
    X509V3_set_ctx_nodb(&ctx);
    X509V3_set_ctx(&ctx, x, x, nullptr, nullptr, 0);
    for (auto [nid, value] : {std::pair{NID_subject_alt_name, "DNS:hook.test,IP:127.0.0.1"},
                              std::pair{NID_basic_constraints, "critical,CA:TRUE"}}) {
      X509_EXTENSION* ext = X509V3_EXT_conf_nid(nullptr, &ctx, nid, value);
      X509_add_ext(x, ext, -1);
      X509_EXTENSION_free(ext);
    }
    X509_sign(x, key, EVP_sha256());
    auto pem = [](auto write) {
      BIO* b = BIO_new(BIO_s_mem());
      write(b);
      char* p = nullptr;
      const long n = BIO_get_mem_data(b, &p);
      std::string s(p, static_cast<std::size_t>(n));
      BIO_free(b);
      return s;
    };
    cert_pem = pem([&](BIO* b) { PEM_write_bio_X509(b, x); });
    key_pem = pem([&](BIO* b) { PEM_write_bio_PrivateKey(b, key, nullptr, nullptr, 0, nullptr, nullptr); });
    X509_free(x);
    EVP_PKEY_free(key);
  }
};

/// A TLS server answering every request with 200, recording the SNI it saw.
struct TlsReceiver {
  asio::io_context io{1};
  asio::ssl::context ctx{asio::ssl::context::tls_server};
  asio::ip::tcp::acceptor acceptor{io, {asio::ip::make_address("127.0.0.1"), 0}};
  std::thread thread;
  std::mutex mu;
  std::vector<std::string> sni;

  explicit TlsReceiver(const TestCert& c) {
    ctx.use_certificate_chain(asio::buffer(c.cert_pem));
    ctx.use_private_key(asio::buffer(c.key_pem), asio::ssl::context::pem);
    accept();
    thread = std::thread([this] { io.run(); });
  }
  ~TlsReceiver() {
    asio::post(io, [this] { acceptor.close(); });
    io.stop();
    thread.join();
  }
  unsigned short port() const { return acceptor.local_endpoint().port(); }
  void accept() {
    acceptor.async_accept([this](std::error_code ec, asio::ip::tcp::socket s) {
      if (ec) return;
      auto st = std::make_shared<asio::ssl::stream<asio::ip::tcp::socket>>(std::move(s), ctx);
      st->async_handshake(asio::ssl::stream_base::server, [this, st](std::error_code ec) {
        if (ec) return;
        {
          std::lock_guard lk(mu);
          const char* n = SSL_get_servername(st->native_handle(), TLSEXT_NAMETYPE_host_name);
          sni.emplace_back(n ? n : "");
        }
        auto buf = std::make_shared<std::string>();
        asio::async_read_until(*st, asio::dynamic_buffer(*buf), "\r\n\r\n", [st, buf](std::error_code ec, std::size_t) {
          if (ec) return;
          auto out = std::make_shared<std::string>("HTTP/1.1 200 OK\r\nContent-Length: 2\r\nConnection: close\r\n\r\nok");
          asio::async_write(*st, asio::buffer(*out), [st, out](std::error_code, std::size_t) {});
        });
      });
      accept();
    });
  }
};

}  // namespace

TEST_CASE("http client: https verifies the certificate and the host name, sends SNI", "[io][http][client][tls]") {
  TestCert cert;
  TlsReceiver rx(cert);
  asio::io_context io;
  auto request = [&](herald::http::Client& c, std::string host) {
    herald::http::ClientTarget t{.https = true, .host = std::move(host), .port = rx.port(),
                                 .addresses = {{asio::ip::make_address("127.0.0.1"), rx.port()}}};
    std::error_code ec;
    herald::http::Response res;
    c.async_request(t, {.target = "/hook", .body = "{}"}, [&](std::error_code e, herald::http::Response r) {
      ec = e;
      res = std::move(r);
    });
    io.restart();
    io.run_for(5s);
    return std::pair{ec, res.status};
  };

  herald::http::Client system_trust(io.get_executor());  // the system store does not know our certificate
  CHECK(request(system_trust, "hook.test").first);

  auto trusting = std::make_shared<asio::ssl::context>(asio::ssl::context::tls_client);
  trusting->add_certificate_authority(asio::buffer(cert.cert_pem));
  herald::http::Client client(io.get_executor(), {.tls = trusting});
  auto ok = request(client, "hook.test");
  CHECK_FALSE(ok.first);
  CHECK(ok.second == 200);
  auto wrong = request(client, "other.test");  // trusted chain, wrong name
  CHECK(wrong.first);
  auto by_ip = request(client, "127.0.0.1");  // IP literal: checked against the IP SAN, no SNI
  CHECK_FALSE(by_ip.first);
  std::lock_guard lk(rx.mu);
  REQUIRE(rx.sni.size() >= 2);
  CHECK(std::find(rx.sni.begin(), rx.sni.end(), "hook.test") != rx.sni.end());
  CHECK(rx.sni.back().empty());
}

// ----------------------------------------------------------- a failing outbox

namespace {

/// An outbox that fails on demand, around a real one: the store thread's
/// calls throw the error set in `fail` (0: none) and can be slowed by `delay`.
struct FlakyOutbox final : wh::Outbox {
  explicit FlakyOutbox(std::unique_ptr<wh::Outbox> in) : inner(std::move(in)) {}
  std::unique_ptr<wh::Outbox> inner;
  std::atomic<int> fail{0};
  std::atomic<int> delay_ms{0};
  std::atomic<int> applies{0}, failures{0};
  std::atomic<std::thread::id> store_thread{};

  void gate() {
    store_thread = std::this_thread::get_id();
    if (int d = delay_ms.load()) std::this_thread::sleep_for(std::chrono::milliseconds(d));  // slow disk, on the store thread
    if (int e = fail.load()) {
      ++failures;
      throw std::system_error(make_error_code(herald::error(e)), "injected");
    }
  }
  std::uint64_t epoch() override { return inner->epoch(); }
  void put_endpoint(const wh::EndpointRecord& e) override { gate(); inner->put_endpoint(e); }
  void set_endpoint_status(std::string_view id, bool d, std::int64_t f) override {
    gate();
    inner->set_endpoint_status(id, d, f);
  }
  std::vector<wh::EndpointRecord> endpoints() override { gate(); return inner->endpoints(); }
  void enqueue(std::span<wh::Message> m) override { gate(); inner->enqueue(m); }
  void update(const wh::Message& m) override { gate(); inner->update(m); }
  void delivered(std::span<const wh::Message> m) override { gate(); inner->delivered(m); }
  std::vector<wh::Message> owed() override { gate(); return inner->owed(); }
  std::vector<wh::Message> dead_letters(std::string_view ep) override { gate(); return inner->dead_letters(ep); }
  std::vector<wh::Message> requeue_dead(std::string_view ep, std::int64_t now) override {
    gate();
    return inner->requeue_dead(ep, now);
  }
  wh::MessageCounts counts(std::string_view ep) override { gate(); return inner->counts(ep); }
  void flush() override { inner->flush(); }
  void apply(wh::OutboxChanges& c) override {
    ++applies;
    gate();
    inner->apply(c);
  }
};

/// A fresh temporary directory, removed at the end.
struct TempDir {
  std::filesystem::path path;
  explicit TempDir(const std::string& tag) {
    path = std::filesystem::temp_directory_path() / ("herald-" + tag + "-" + std::to_string(::getpid()));
    std::filesystem::remove_all(path);
    std::filesystem::create_directories(path);
  }
  ~TempDir() {
    std::error_code ec;
    std::filesystem::remove_all(path, ec);
  }
  std::string db() const { return (path / "webhooks.sqlite3").string(); }
};

}  // namespace

TEST_CASE("webhook sender: a failing outbox loses nothing, refuses new work, and catches up", "[io][webhook][outbox]") {
  Receiver rx;
  TempDir dir("whfail");
  auto flaky_owner = std::make_unique<FlakyOutbox>(std::make_unique<wh::SqliteOutbox>(dir.db()));
  FlakyOutbox* flaky = flaky_owner.get();
  std::string id, second_msg, third_msg;
  {
    Rig rig({.ssrf = wh::SsrfPolicy::allow_local()}, std::move(flaky_owner));
    id = rig.add_ok(rx.url());
    rig.hub.publish("t", "one");
    CHECK(rig.next_report().outcome == wh::Outcome::delivered);
    CHECK(rig.sender->admit("t") == std::error_code{});

    // The disk fills: an event already published (accepted) waits in memory.
    flaky->fail = static_cast<int>(herald::error::outbox_full);
    rig.hub.publish("t", "two");
    REQUIRE(test::eventually([&] { return rig.sender->outbox_error() == herald::error::outbox_full; }));
    CHECK(rig.metrics.webhook_outbox_errors >= 1);
    CHECK(rig.metrics.webhook_outbox_failing == 1);
    CHECK(rig.metrics.webhook_unwritten == 1);
    CHECK(rig.stats(id).pending == 0);  // accepted, in memory: counted once written
    CHECK(rx.count() == 1);             // not attempted before it is written
    // New work is refused with the error, and counted.
    CHECK(rig.sender->admit("t") == herald::error::outbox_full);
    CHECK(rig.sender->admit("no-endpoint-takes-this") == std::error_code{});  // nothing to write for it
    CHECK(rig.metrics.webhook_refused == 1);
    CHECK(rig.add({.url = rx.url(), .secret = kSecret, .topics = {"t"}}).first == herald::error::outbox_full);
    CHECK(rig.set_keys(id, {kSecret}) == herald::error::outbox_full);
    CHECK(rig.replay(id).first == herald::error::outbox_full);
    CHECK(rig.dead_letters(id).first == herald::error::outbox_full);
    CHECK(rig.metrics.webhook_refused == 4);
    // The commit is tried again and again, not once per event.
    const int tries = flaky->applies;
    REQUIRE(test::eventually([&] { return flaky->applies >= tries + 2; }));

    // Room again: the accepted event is written, then delivered.
    flaky->fail = 0;
    auto r2 = rig.next_report();
    CHECK(r2.outcome == wh::Outcome::delivered);
    CHECK(r2.event_id == 2);
    second_msg = r2.msg_id;
    REQUIRE(test::eventually([&] { return !rig.sender->outbox_error(); }));
    CHECK(rig.sender->admit("t") == std::error_code{});
    CHECK(rig.metrics.webhook_outbox_failing == 0);
    CHECK(rig.metrics.webhook_unwritten == 0);
    const auto log = rig.log_text();
    CHECK(log.find("commit failed (webhook outbox storage full)") != std::string::npos);
    CHECK(log.find("writing again") != std::string::npos);
    CHECK(flaky->store_thread.load() != rig.thread.get_id());  // storage never ran on the loop

    // A delivery whose mark cannot be committed stays owed in the outbox.
    rig.also = [&](const wh::AttemptReport& r) {
      if (r.outcome == wh::Outcome::delivered) flaky->fail = static_cast<int>(herald::error::outbox_io);
    };
    rig.hub.publish("t", "three");
    auto r3 = rig.next_report();
    CHECK(r3.outcome == wh::Outcome::delivered);
    third_msg = r3.msg_id;
    REQUIRE(test::eventually([&] { return rig.sender->outbox_error() == herald::error::outbox_io; }));
    CHECK(rig.stats(id).delivered == 3);  // in memory; the mark waits for the outbox
    CHECK(flaky->failures > 0);
    // Stopping now cannot write the mark: it is logged, and the message stays owed.
  }  // the Rig owns (and frees) the outbox: `flaky` dangles from here
  {
    // The same database without the failure: "three" is owed again (its
    // delivery mark never committed) and goes out with the same webhook-id;
    // "one" and "two" were marked and do not.
    Rig rig({.ssrf = wh::SsrfPolicy::allow_local()}, std::make_unique<wh::SqliteOutbox>(dir.db()));
    auto r = rig.next_report();
    CHECK(r.outcome == wh::Outcome::delivered);
    CHECK(r.msg_id == third_msg);
    CHECK(r.event_id == 3);
    CHECK(rig.stats(id).delivered == 3);
  }
  std::size_t seen_third = 0, seen_second = 0;
  for (std::size_t i = 0; i < rx.count(); ++i) {
    seen_third += rx.at(i).id == third_msg;
    seen_second += rx.at(i).id == second_msg;
  }
  CHECK(seen_second == 1);
  CHECK(seen_third == 2);  // at least once: the receiver dedupes on webhook-id
}

TEST_CASE("webhook sender: a database locked by another writer (real SQLite) refuses, then catches up",
          "[io][webhook][outbox]") {
  Receiver rx;
  TempDir dir("whbusy");
  auto outbox = std::make_unique<wh::SqliteOutbox>(dir.db(), wh::SqliteOutbox::Options{.busy_timeout = 20ms});
  Rig rig({.ssrf = wh::SsrfPolicy::allow_local()}, std::move(outbox));
  const std::string id = rig.add_ok(rx.url());

  // Another process's connection takes the write lock and keeps it.
  sqlite3* other = nullptr;
  REQUIRE(sqlite3_open(dir.db().c_str(), &other) == SQLITE_OK);
  REQUIRE(sqlite3_exec(other, "BEGIN IMMEDIATE", nullptr, nullptr, nullptr) == SQLITE_OK);

  rig.hub.publish("t", "while locked");
  REQUIRE(test::eventually([&] { return rig.sender->outbox_error() == herald::error::outbox_busy; }));
  CHECK(rig.sender->admit("t") == herald::error::outbox_busy);
  CHECK(rig.metrics.webhook_unwritten == 1);
  CHECK(rx.count() == 0);

  REQUIRE(sqlite3_exec(other, "ROLLBACK", nullptr, nullptr, nullptr) == SQLITE_OK);
  sqlite3_close(other);
  auto r = rig.next_report();
  CHECK(r.outcome == wh::Outcome::delivered);
  CHECK(r.event_id == 1);
  REQUIRE(test::eventually([&] { return !rig.sender->outbox_error(); }));
  CHECK(rig.sender->admit("t") == std::error_code{});
  CHECK(rig.metrics.webhook_outbox_errors >= 1);
}

TEST_CASE("webhook outbox: SQLite failures are herald error codes", "[io][webhook][outbox]") {
  TempDir dir("whcorrupt");
  {
    std::ofstream f(dir.db(), std::ios::binary);
    f << std::string(8192, 'x');  // not a database
  }
  try {
    wh::SqliteOutbox o(dir.db());
    FAIL("opened a corrupt database");
  } catch (const std::system_error& e) {
    CHECK(e.code() == herald::error::outbox_corrupt);
  }
  try {
    wh::SqliteOutbox o((dir.path / "no" / "such" / "dir" / "x.sqlite3").string());
    FAIL("opened a database in a missing directory");
  } catch (const std::system_error& e) {
    CHECK(e.code() == herald::error::outbox_io);
  }
  // The mapping, including the errno behind an I/O error (a file size limit
  // is EFBIG, which SQLite reports as SQLITE_IOERR_WRITE).
  using wh::detail::outbox_error;
  CHECK(outbox_error(SQLITE_FULL, 0) == herald::error::outbox_full);
  CHECK(outbox_error(SQLITE_IOERR_WRITE, EFBIG) == herald::error::outbox_full);
  CHECK(outbox_error(SQLITE_IOERR_WRITE, ENOSPC) == herald::error::outbox_full);
  CHECK(outbox_error(SQLITE_IOERR_WRITE, EIO) == herald::error::outbox_io);
  CHECK(outbox_error(SQLITE_READONLY, 0) == herald::error::outbox_read_only);
  CHECK(outbox_error(SQLITE_CANTOPEN, EROFS) == herald::error::outbox_read_only);
  CHECK(outbox_error(SQLITE_BUSY, ENOSPC) == herald::error::outbox_busy);  // a stale errno does not count
  CHECK(outbox_error(SQLITE_LOCKED, 0) == herald::error::outbox_busy);
  CHECK(outbox_error(SQLITE_NOTADB, 0) == herald::error::outbox_corrupt);
  CHECK(outbox_error(SQLITE_CORRUPT, 0) == herald::error::outbox_corrupt);
  CHECK(outbox_error(SQLITE_NOMEM, 0) == herald::error::outbox_io);
}

// ------------------------------------------------------------------ lifetimes

namespace {

/// Accepts connections and never answers (keeps them open).
struct BlackHole {
  asio::io_context io{1};
  asio::ip::tcp::acceptor acceptor{io, {asio::ip::make_address("127.0.0.1"), 0}};
  std::vector<std::shared_ptr<asio::ip::tcp::socket>> held;
  std::atomic<int> accepted{0};
  std::thread thread;
  BlackHole() {
    accept();
    thread = std::thread([this] { io.run(); });
  }
  ~BlackHole() {
    asio::post(io, [this] {
      acceptor.close();
      held.clear();
    });
    io.stop();
    thread.join();
  }
  void accept() {
    auto s = std::make_shared<asio::ip::tcp::socket>(io);
    acceptor.async_accept(*s, [this, s](std::error_code ec) {
      if (ec) return;
      held.push_back(s);
      ++accepted;
      accept();
    });
  }
  std::string url() const { return "http://127.0.0.1:" + std::to_string(acceptor.local_endpoint().port()) + "/hook"; }
};

/// Answers 200, 300 ms after each request arrives.
struct SlowReceiver {
  struct Later final : herald::Parked {
    explicit Later(herald::Exchange& e) : ex(e) {}
    void on_deadline() override { ex.respond(200, "text/plain", "late"); }
    void on_shutdown() override { ex.respond_error(503, "bye"); }
    herald::Exchange& ex;
  };
  std::unique_ptr<herald::Server> server;
  std::atomic<int> requests{0};
  herald::Metrics metrics;
  SlowReceiver() {
    server = std::make_unique<herald::Server>(herald::ServerOptions{.threads = 1, .metrics = &metrics});
    server->route("POST", "/hook", [this](herald::Exchange& ex) {
      ++requests;
      auto p = std::make_unique<Later>(ex);
      p->deadline = ex.now() + 300ms;
      ex.park(std::move(p));
    });
    server->start();
  }
  ~SlowReceiver() { server->stop(); }
  std::string url() const { return "http://127.0.0.1:" + std::to_string(server->port()) + "/hook"; }
};

}  // namespace

TEST_CASE("webhook sender: stop waits for attempts in flight, and destroying it after is safe while the loop runs",
          "[io][webhook][lifetime]") {
  BlackHole hole;
  SlowReceiver slow;
  asio::io_context io{1};
  auto guard = asio::make_work_guard(io);
  std::thread loop([&] { io.run(); });
  herald::Metrics metrics;
  herald::Broadcaster<std::string> hub{{}, metrics};
  auto flaky_owner = std::make_unique<FlakyOutbox>(std::make_unique<wh::MemoryOutbox>());
  FlakyOutbox* flaky = flaky_owner.get();
  std::atomic<int> attempts_after_stop{0};
  std::atomic<bool> stopped{false};
  wh::SenderOptions o{.schedule = {0ms, 10ms, 10ms},
                      .ssrf = wh::SsrfPolicy::allow_local(),
                      .on_attempt = [&](const wh::AttemptReport&) { attempts_after_stop += stopped.load(); },
                      .metrics = &metrics,
                      .log = [](std::string_view) {}};
  o.client.total_timeout = 1s;
  auto sender = std::make_unique<wh::Sender>(io.get_executor(), hub, std::move(flaky_owner), std::move(o));
  sender->async_start(asio::use_future).get();
  auto add = [&](std::string url) {
    auto f = sender->async_add_endpoint({.url = std::move(url), .secret = kSecret, .topics = {"t"}}, asio::use_future);
    REQUIRE(f.wait_for(5s) == std::future_status::ready);
    return f.get();
  };
  add(hole.url());
  add(slow.url());
  for (int i = 0; i < 6; ++i) hub.publish("t", "in flight " + std::to_string(i));
  auto in_flight = [&] {  // read on the sender's loop, where the client lives
    std::promise<std::size_t> p;
    asio::post(io, [&] { p.set_value(sender->client().in_flight()); });
    return p.get_future().get();
  };
  // Both targets hold requests: the hole never answers, the slow one not yet.
  REQUIRE(test::eventually([&] { return hole.accepted >= 4 && slow.requests >= 1; }));
  CHECK(in_flight() >= 4);
  // A commit on a slow disk is on the store thread when stop comes.
  flaky->delay_ms = 100;
  hub.publish("t", "being written");

  auto t0 = std::chrono::steady_clock::now();
  auto stop = sender->async_stop(asio::use_future);
  REQUIRE(stop.wait_for(5s) == std::future_status::ready);
  stop.get();
  stopped = true;
  const auto took = std::chrono::steady_clock::now() - t0;
  CHECK(took < 900ms);  // the attempts were cancelled, not waited out (their timeout is 1 s)
  CHECK(in_flight() == 0);
  sender.reset();  // while `io` keeps running

  // Past the attempt timeout and the slow answers: nothing of the sender's runs any more.
  std::promise<void> later;
  asio::steady_timer t(io, 1200ms);
  t.async_wait([&](std::error_code) { later.set_value(); });
  REQUIRE(later.get_future().wait_for(5s) == std::future_status::ready);
  CHECK(attempts_after_stop == 0);
  guard.reset();
  io.stop();
  loop.join();
}
