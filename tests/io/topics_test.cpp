// Topic lifecycle (issue 13, point 2): topics are freed when nothing holds them,
// the two caps, the history's age bound applied by the sweep, the byte bound's
// honesty, and freeing under concurrent publishers and subscribers.
#include <herald/core/broadcaster.hpp>
#include <herald/http/server.hpp>
#include <herald/polling/batch.hpp>
#include <herald/sse.hpp>
#include <herald/sse/encoder.hpp>
#include <herald/websocket/policy.hpp>

#include "support.hpp"

#include <catch2/catch.hpp>

#include <asio/io_context.hpp>

#include <atomic>
#include <future>
#include <random>
#include <thread>

using namespace std::chrono_literals;

namespace {

struct Rec : herald::Subscriber {
  std::vector<std::uint64_t> ids;
  std::uint64_t start = 0;
  herald::Subscription sub;
  void on_event(const herald::EventPtr& ev, herald::Subscription&) override { ids.push_back(ev->id()); }
  bool contiguous() const {
    for (std::size_t i = 0; i < ids.size(); ++i)
      if (ids[i] != start + 1 + i) return false;
    return true;
  }
};

/// Loops on threads of their own, with work guards; `run_on(l, fn)` runs fn there and waits.
struct Loops {
  std::vector<std::unique_ptr<asio::io_context>> ctx;
  std::vector<asio::executor_work_guard<asio::io_context::executor_type>> guards;
  std::vector<std::thread> threads;
  explicit Loops(int n) {
    for (int i = 0; i < n; ++i) {
      ctx.push_back(std::make_unique<asio::io_context>(1));
      guards.emplace_back(asio::make_work_guard(*ctx.back()));
    }
    for (auto& c : ctx) threads.emplace_back([p = c.get()] { p->run(); });
  }
  template <class Fn>
  auto run_on(int l, Fn fn) {
    std::packaged_task<decltype(fn())()> task(std::move(fn));
    auto f = task.get_future();
    asio::post(*ctx[l], [&task] { task(); });
    REQUIRE(f.wait_for(10s) == std::future_status::ready);
    return f.get();
  }
  /// Everything posted to every loop so far has run.
  void drain() {
    for (int l = 0; l < static_cast<int>(ctx.size()); ++l) run_on(l, [] { return 0; });
  }
  ~Loops() {
    guards.clear();
    for (auto& t : threads) t.join();
  }
};

}  // namespace

TEST_CASE("topics: a topic held only by subscribers is freed on every loop when the last one leaves",
          "[io][broadcaster][topics]") {
  herald::Metrics m;
  herald::Broadcaster<std::string> hub({}, m);
  Loops loops(2);
  Rec a, b;
  loops.run_on(0, [&] { return hub.subscribe("t", a, a.sub, loops.ctx[0]->get_executor()).ec; });
  loops.run_on(1, [&] { return hub.subscribe("t", b, b.sub, loops.ctx[1]->get_executor()).ec; });
  CHECK(hub.topics() == 1);
  CHECK(hub.topics_with_history() == 0);  // subscribing takes no place of max_topics
  CHECK(m.topics.load() == 1);
  hub.publish("t", "x");  // retained: now held by its history too
  CHECK(hub.topics_with_history() == 1);
  loops.drain();
  CHECK(a.ids == std::vector<std::uint64_t>{1});

  herald::Broadcaster<std::string> live({.history = {.max_events = 0}}, m);  // keeps no history
  Rec c, d;
  loops.run_on(0, [&] { return live.subscribe("u", c, c.sub, loops.ctx[0]->get_executor()).ec; });
  loops.run_on(1, [&] { return live.subscribe("u", d, d.sub, loops.ctx[1]->get_executor()).ec; });
  CHECK(live.publish("u", "y") == 1);
  CHECK(live.topics() == 1);
  CHECK(live.topics_with_history() == 0);
  loops.run_on(0, [&] { live.unsubscribe(c.sub); return 0; });
  CHECK(live.topics() == 1);  // still held on loop 1
  loops.run_on(1, [&] { live.unsubscribe(d.sub); return 0; });
  CHECK(live.topics() == 0);
  CHECK(c.sub.topic() == "u");  // the name outlives the topic's listing
  CHECK(live.head("u") == 0);
  CHECK(live.publish("u", "z") == 1);  // a new topic, ids from 1 (a stale cursor resolves as a reset)
  CHECK(live.topics() == 0);           // kept nothing, held by no one
  loops.run_on(0, [&] { hub.unsubscribe(a.sub); return 0; });
  loops.run_on(1, [&] { hub.unsubscribe(b.sub); return 0; });
  CHECK(hub.topics() == 1);  // its history keeps it: a client resumes later
  Rec e;
  auto r = loops.run_on(0, [&] { return hub.subscribe("t", e, e.sub, loops.ctx[0]->get_executor(), {.after = 0}); });
  CHECK(r.replay.size() == 1);
  loops.run_on(0, [&] { hub.unsubscribe(e.sub); return 0; });
}

TEST_CASE("topics: a loop's entry is freed only after the deliveries already posted to it have run",
          "[io][broadcaster][topics]") {
  asio::io_context ctx(1);  // not running: deliveries stay queued
  herald::Broadcaster<std::string> hub({.history = {.max_events = 0}});
  Rec a, b;
  hub.subscribe("t", a, a.sub, ctx.get_executor());
  hub.subscribe("t", b, b.sub, ctx.get_executor());
  for (int i = 0; i < 3; ++i) hub.publish("t", "e");
  hub.unsubscribe(a.sub);
  hub.unsubscribe(b.sub);
  CHECK(hub.topics() == 1);  // three deliveries still point at it
  ctx.run();
  CHECK(a.ids.empty());
  CHECK(hub.topics() == 0);

  // Leaving from inside a delivery, then joining again before the next one runs.
  struct Leaver : Rec {
    herald::Hub* hub = nullptr;
    void on_event(const herald::EventPtr& ev, herald::Subscription& s) override {
      Rec::on_event(ev, s);
      hub->unsubscribe(s);
    }
  } l;
  l.hub = &hub;
  ctx.restart();
  hub.subscribe("t", l, l.sub, ctx.get_executor());
  hub.publish("t", "1");
  hub.publish("t", "2");
  ctx.run_one();  // l leaves during the first delivery
  CHECK(l.ids == std::vector<std::uint64_t>{1});
  hub.subscribe("t", l, l.sub, ctx.get_executor());  // rejoins: cursor 2, so 2 is skipped
  hub.publish("t", "3");
  ctx.run();
  CHECK(l.ids == std::vector<std::uint64_t>{1, 3});
  CHECK_FALSE(l.sub.active());
  CHECK(hub.topics() == 0);
}

TEST_CASE("topics: subscribers cannot use up the publish cap, and both caps are counted and logged",
          "[io][broadcaster][topics]") {
  herald::Metrics m;
  std::vector<std::string> log;
  std::mutex log_mu;
  herald::HubOptions o{.max_topics = 2, .max_subscribed_topics = 3};
  o.log = [&](std::string_view l) { std::lock_guard lk(log_mu); log.emplace_back(l); };
  herald::Broadcaster<std::string> hub(o, m);
  asio::io_context ctx(1);
  std::vector<std::unique_ptr<Rec>> subs;
  for (int i = 0; i < 3; ++i) {
    subs.push_back(std::make_unique<Rec>());
    CHECK_FALSE(hub.subscribe("s" + std::to_string(i), *subs.back(), subs.back()->sub, ctx.get_executor()).ec);
  }
  Rec refused;
  CHECK(hub.subscribe("s3", refused, refused.sub, ctx.get_executor()).ec);
  CHECK(m.topics_refused_subscribe.load() == 1);
  CHECK(hub.subscribe("s0", refused, refused.sub, ctx.get_executor()).ec == std::error_code{});  // existing: fine
  hub.unsubscribe(refused.sub);

  // Publishes to new topics still succeed: subscriptions hold no place of max_topics.
  CHECK(hub.publish("p0", "x") == 1);
  CHECK(hub.publish("p1", "x") == 1);
  CHECK(hub.topics_with_history() == 2);
  CHECK(hub.publish("p2", "x") == 0);  // past max_topics
  CHECK(hub.publish("s0", "x") == 0);  // a subscribed topic needs a place to keep history too
  CHECK(m.topics_refused_publish.load() == 2);
  CHECK(hub.publish("p0", "y") == 2);  // topics that hold history go on
  {
    std::lock_guard lk(log_mu);
    REQUIRE(log.size() == 2);  // one line per side (then at most one per 10 s)
    CHECK(log[0].find("max_subscribed_topics=3") != std::string::npos);
    CHECK(log[1].find("max_topics=2") != std::string::npos);
  }
  auto text = m.prometheus();
  CHECK(text.find("herald_topics{held_by=\"history\"} 2\n") != std::string::npos);
  CHECK(text.find("herald_topics{held_by=\"subscribers\"} 3\n") != std::string::npos);
  CHECK(text.find("herald_topics_refused_total{side=\"publish\"} 2\n") != std::string::npos);
  CHECK(text.find("herald_topics_refused_total{side=\"subscribe\"} 1\n") != std::string::npos);

  // Subscribers leaving free their places; expired history frees the publish side.
  for (auto& s : subs) hub.unsubscribe(s->sub);
  CHECK(hub.topics() == 2);
  hub.sweep(herald::Clock::now() + hub.options().history.max_age + 1s);
  CHECK(hub.topics() == 0);
  CHECK(hub.topics_with_history() == 0);
  CHECK(hub.publish("p2", "x") == 1);
  ctx.run();
}

TEST_CASE("topics: history without subscribers is kept within its bounds, and the sweep expires it",
          "[io][broadcaster][topics]") {
  herald::Broadcaster<std::string> hub({.history = {.max_events = 3, .max_age = 1h}});
  for (int i = 0; i < 5; ++i) hub.publish("h", std::to_string(i));
  CHECK(hub.topics() == 1);
  auto r = hub.read("h", 0);
  REQUIRE(r.events.size() == 3);  // count bound
  CHECK(r.events.front()->id() == 3);
  hub.sweep(herald::Clock::now() + 30min);  // not yet
  CHECK(hub.head("h") == 5);
  hub.sweep(herald::Clock::now() + 1h + 1s);
  CHECK(hub.topics() == 0);
  CHECK(hub.head("h") == 0);
  CHECK(hub.read("h", 5).reset);  // a client resuming from 5 starts over

  // Bytes: the footprint of what is held, not the data alone.
  const std::size_t one = herald::History::footprint(herald::Event("b", 1, std::string(100, 'x')));
  herald::Broadcaster<std::string> small({.history = {.max_bytes = 2 * one + one / 2}});
  for (int i = 0; i < 4; ++i) small.publish("b", std::string(100, 'x'));
  CHECK(small.read("b", 0).events.size() == 2);
}

TEST_CASE("topics: the loop's sweep runs the hub's expiry", "[io][broadcaster][topics]") {
  asio::io_context ctx(1);
  herald::Broadcaster<std::string> hub({.history = {.max_age = 1ms}, .sweep_interval = 0s});
  Rec a;
  hub.subscribe("keep", a, a.sub, ctx.get_executor());  // registers the hub with this loop
  hub.publish("gone", "x");
  ctx.poll();
  CHECK(hub.topics() == 2);
  auto& loop = herald::Loop::of(ctx);
  CHECK(test::eventually([&] {
    loop.sweep();
    return hub.topics() == 1;
  }));
  hub.unsubscribe(a.sub);
  CHECK(hub.topics() == 0);
}

TEST_CASE("topics: the byte bound is an upper bound of what an event really holds, every frame cached",
          "[io][broadcaster][topics]") {
  std::mt19937 rng(7);
  std::vector<std::string> payloads = {"", "x", std::string(100, 'a'), std::string(1000, '\n'),
                                       std::string(500, '"'), std::string(300, '\x01'), std::string(64, '\\')};
  std::string random(100000, ' ');
  for (auto& c : random) c = static_cast<char>(rng() % 128);
  payloads.push_back(random);
  std::string mixed;
  for (int i = 0; i < 2000; ++i) mixed += (i % 3 ? "ab" : "\r\n");
  payloads.push_back(mixed);
  for (const auto& p : payloads) {
    for (std::size_t frag : {std::size_t{126}, std::size_t{1} << 20}) {
      herald::Event e(std::string(128, 't'), 18446744073709551615ull, p, "key-longer-than-sso");
      const std::size_t bound = herald::History::footprint(e);
      using herald::FrameKind;
      using WS = herald::WebSocketPolicy;
      std::size_t real = sizeof(herald::Event) + e.data().capacity() + e.key().capacity() + e.topic().capacity();
      auto add = [&](FrameKind k, auto enc) { real += e.frame(k, enc).capacity(); };
      add(FrameKind::sse_chunked, [](const herald::Event& x) { return herald::sse::encode_frame(x.id(), x.data(), herald::sse::Framing::chunked); });
      add(FrameKind::sse_raw, [](const herald::Event& x) { return herald::sse::encode_frame(x.id(), x.data(), herald::sse::Framing::close_delimited); });
      add(FrameKind::json, [](const herald::Event& x) { return herald::polling::event_json(x.id(), x.data()); });
      add(FrameKind::ws_text, [frag](const herald::Event& x) { return WS::encode_event(x, false, false, frag); });
      add(FrameKind::ws_v1, [frag](const herald::Event& x) { return WS::encode_event(x, true, false, frag); });
      add(FrameKind::ws_text_deflate, [frag](const herald::Event& x) { return WS::encode_event(x, false, true, frag); });
      add(FrameKind::ws_v1_deflate, [frag](const herald::Event& x) { return WS::encode_event(x, true, true, frag); });
      INFO("payload of " << p.size() << " bytes, fragments of " << frag);
      CHECK(real <= bound);
      CHECK(bound <= 8 * real + 2048);  // and not absurdly above it
    }
  }
}

TEST_CASE("topics: churned topics under concurrent publishers and subscribers on several loops (run under TSan)",
          "[io][broadcaster][topics][churn]") {
  constexpr int kLoops = 3, kTopics = 8, kRounds = 300;
  herald::Metrics m;
  // No history: every topic exists only while subscribed, so it is freed and
  // created again all the time, while publishers publish to it.
  herald::Broadcaster<std::string> hub({.history = {.max_events = 0}}, m);
  herald::Broadcaster<std::string> kept({.history = {.max_events = 4}}, m);
  Loops loops(kLoops);
  std::atomic<bool> stop{false};
  std::vector<std::thread> pubs;
  for (int p = 0; p < 2; ++p)
    pubs.emplace_back([&, p] {
      std::uint32_t i = static_cast<std::uint32_t>(p);
      while (!stop.load(std::memory_order_relaxed)) {
        const std::string t = "c" + std::to_string(i++ % kTopics);
        hub.publish(t, "e");
        kept.publish(t, "e");
        hub.publish("feed", "f");
      }
    });
  // A steady subscriber of `feed` on each loop, gapless throughout.
  std::vector<std::unique_ptr<Rec>> feed;
  for (int l = 0; l < kLoops; ++l) {
    feed.push_back(std::make_unique<Rec>());
    auto* f = feed.back().get();
    loops.run_on(l, [&, f, l] {
      hub.subscribe("feed", *f, f->sub, loops.ctx[l]->get_executor());
      f->start = f->sub.cursor();
      return 0;
    });
  }
  // Each loop joins and leaves churned topics on both hubs; every membership
  // must see a contiguous run of ids after its starting cursor.
  struct Member {
    std::unique_ptr<Rec> a = std::make_unique<Rec>(), b = std::make_unique<Rec>();
  };
  std::vector<std::vector<std::unique_ptr<Member>>> done(kLoops);
  std::atomic<int> finished{0};
  std::vector<std::function<void(int)>> steps(kLoops);
  for (int l = 0; l < kLoops; ++l) {
    auto ex = loops.ctx[l]->get_executor();
    steps[l] = [&, l, ex](int round) {
      auto mem = std::make_unique<Member>();
      const std::string t = "c" + std::to_string((round * 7 + l) % kTopics);
      hub.subscribe(t, *mem->a, mem->a->sub, ex);
      mem->a->start = mem->a->sub.cursor();
      kept.subscribe(t, *mem->b, mem->b->sub, ex, {.after = 0});
      mem->b->start = mem->b->sub.cursor();
      done[l].push_back(std::move(mem));
      // Leave an earlier membership (sometimes the one just made).
      auto& v = done[l];
      auto& old = v[(round * 13) % v.size()];
      hub.unsubscribe(old->a->sub);
      kept.unsubscribe(old->b->sub);
      if (round + 1 < kRounds) asio::post(ex, [&steps, l, round] { steps[l](round + 1); });
      else finished.fetch_add(1);
    };
    asio::post(ex, [&steps, l] { steps[l](0); });
  }
  REQUIRE(test::eventually([&] { return finished.load() == kLoops; }, 60s));
  stop = true;
  for (auto& t : pubs) t.join();
  for (int l = 0; l < kLoops; ++l)
    loops.run_on(l, [&, l] {
      for (auto& mem : done[l]) {
        hub.unsubscribe(mem->a->sub);
        kept.unsubscribe(mem->b->sub);
      }
      hub.unsubscribe(feed[l]->sub);
      return 0;
    });
  loops.drain();  // deliveries posted before the last leave have run: entries retired
  std::size_t memberships = 0, events = 0;
  bool ordered = true;
  for (int l = 0; l < kLoops; ++l) {
    for (auto& mem : done[l]) {
      ++memberships;
      events += mem->a->ids.size();
      ordered = ordered && mem->a->contiguous();
      ordered = ordered && mem->b->contiguous();  // live after its replay, from its cursor
    }
    ordered = ordered && feed[l]->contiguous() && !feed[l]->ids.empty();
  }
  CHECK(ordered);
  CHECK(memberships == kLoops * kRounds);
  INFO("events delivered to churned memberships: " << events);
  CHECK(hub.topics() == 0);  // nothing holds them any more
  CHECK(kept.topics() == kept.topics_with_history());
  kept.sweep(herald::Clock::now() + 25h);
  CHECK(kept.topics() == 0);
  CHECK(m.topics.load() == 0);
}

TEST_CASE("topics: SSE subscribers of distinct topics closed after the head leave nothing behind",
          "[io][sse][topics]") {
  herald::Metrics m;
  herald::Broadcaster<std::string> hub({.max_topics = 10}, m);
  herald::ServerOptions so;
  so.metrics = &m;
  so.threads = 2;
  herald::Server server(so);
  server.sse("/sse/{topic}", hub);
  server.start();
  constexpr int kClients = 300;
  for (int i = 0; i < kClients; i += 50) {
    std::vector<std::unique_ptr<test::Client>> batch;
    for (int k = i; k < i + 50; ++k) {
      batch.push_back(std::make_unique<test::Client>(server.port()));
      batch.back()->send("GET /sse/x" + std::to_string(k) + " HTTP/1.1\r\nHost: x\r\n\r\n");
    }
    for (auto& c : batch) REQUIRE(c->read_contains("\r\n\r\n").find("200 OK") != std::string::npos);
  }  // closed here, right after the head
  CHECK(test::eventually([&] { return hub.topics() == 0; }, 10s));
  CHECK(m.topics_refused_subscribe.load() == 0);
  for (int i = 0; i < 10; ++i) CHECK(hub.publish("new" + std::to_string(i), "x") == 1);  // the publish side is whole
  server.stop();
  server.join();
}
