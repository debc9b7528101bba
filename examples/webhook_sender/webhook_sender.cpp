// webhook_sender: outbound webhooks with retries, dead letters and replay.
//
// What it shows
//   - herald::webhook::Sender: endpoints subscribe to topics of the hub; every
//     event published after they registered is POSTed to them, signed per
//     Standard Webhooks, at least once: failures are retried on a schedule,
//     and what still fails when the schedule ends becomes a dead letter that
//     can be replayed (same webhook-id, so the receiver can deduplicate)
//   - SenderOptions::on_attempt: every attempt, as it happens (this page's
//     log and this program's output)
//   - two receivers in this same program, so it runs with nothing else:
//       /receiver/flaky  answers 503 to the first two attempts of each
//                        webhook, then 200: the retries deliver it
//       /receiver/down   answers 503 until you bring it up: the schedule
//                        runs out, the events are dead-lettered; bring it up
//                        and replay them
//     Both verify the signature, as a real receiver must.
//
// A real sender keeps the default schedule (0s,5s,5m,30m,2h,5h,10h,10h: a
// receiver down for a day loses nothing) and a SqliteOutbox (what is owed
// survives a restart); this one retries within seconds, in memory, to be watched.
//
// Run
//   build/ex/examples/webhook_sender --port 8080          then open http://127.0.0.1:8080/
//   curl -d 'order 17 shipped' http://127.0.0.1:8080/publish
//   curl http://127.0.0.1:8080/endpoints
//   curl -X POST http://127.0.0.1:8080/receiver/down/up && curl -X POST http://127.0.0.1:8080/endpoints/ep_down/replay
// Flags: --port N (0 picks one), --retry-schedule LIST (default 0s,1s,2s: three attempts)
#include <herald/core/json.hpp>
#include <herald/sse/policy.hpp>
#include <herald/webhook/sender.hpp>
#include <herald/webhook/verifier.hpp>

#include <asio/co_spawn.hpp>
#include <asio/detached.hpp>
#include <asio/signal_set.hpp>
#include <asio/use_awaitable.hpp>

#include <cstdlib>
#include <cstring>
#include <iostream>
#include <map>
#include <span>
#include <string>

namespace {

namespace wh = herald::webhook;

const char* page = R"html(<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>herald · webhook sender</title>
<style>
  body { font: 15px/1.45 system-ui, sans-serif; max-width: 860px; margin: 32px auto; color: #1d2330; background: #f4f5f7; }
  h1 { font-size: 20px; } h2 { font-size: 15px; margin: 20px 0 8px; } .muted { color: #6b7280; font-size: 13px; }
  .eps { display: grid; grid-template-columns: 1fr 1fr; gap: 12px; }
  .ep { background: #fff; border: 1px solid #e3e6ea; border-radius: 10px; padding: 10px 14px; }
  .ep h3 { margin: 0 0 4px; font-size: 14px; } .ep code { font-size: 12px; color: #6b7280; }
  .counts { display: flex; gap: 14px; margin: 8px 0; font-size: 13px; } .counts b { display: block; font-size: 20px; }
  .delivered b { color: #0b6b52; } .retrying b { color: #8a5a00; } .dead b { color: #b42318; }
  ol { list-style: none; padding: 0; margin: 0; background: #fff; border: 1px solid #e3e6ea; border-radius: 10px; font: 12px monospace; }
  ol li { padding: 5px 12px; border-bottom: 1px solid #eef0f3; display: grid; grid-template-columns: 70px 110px 70px 60px 1fr; gap: 8px; }
  li.delivered .st { color: #0b6b52; } li.retrying .st { color: #8a5a00; } li.dead .st { color: #b42318; font-weight: 700; }
  button { padding: 6px 12px; border: 0; border-radius: 7px; background: #0f8a6a; color: #fff; font-weight: 600; cursor: pointer; }
  button.alt { background: #e6f4ef; color: #0b6b52; }
</style></head><body>
<h1>Webhook sender <span class="muted" id="state">connecting…</span></h1>
<p class="muted">Events of topic <code>orders</code> go to two receivers in this program. Retry schedule: <code id="schedule"></code>.</p>
<p><button id="publish">Publish an event</button></p>
<div class="eps">
  <div class="ep" id="ep_flaky"><h3>flaky</h3><code>/receiver/flaky</code> · 503 to the first two attempts of each webhook
    <div class="counts"></div></div>
  <div class="ep" id="ep_down"><h3>down <span class="muted" id="downState"></span></h3><code>/receiver/down</code> · 503 until brought up
    <div class="counts"></div>
    <button class="alt" id="up">Bring it up</button> <button class="alt" id="replay">Replay dead letters</button> <span class="muted" id="requeued"></span></div>
</div>
<h2>Attempts</h2>
<ol id="attempts"></ol>
<script>
  const $ = (id) => document.getElementById(id);
  async function refresh() {
    const r = await fetch('/endpoints'); const body = await r.json();
    $('schedule').textContent = body.schedule;
    $('downState').textContent = body.down_is_up ? '(up now)' : '(down)';
    for (const ep of body.endpoints) {
      const box = document.querySelector(`#${ep.id} .counts`);
      box.innerHTML = '';
      for (const k of ['delivered', 'pending', 'retrying', 'dead']) {
        const d = document.createElement('div'); d.className = k; d.dataset.k = k;
        d.innerHTML = `<b>${ep[k]}</b>${k}`; box.append(d);
      }
    }
  }
  const es = new EventSource('/log/attempts?lastEventId=0');
  es.onopen = () => { $('state').textContent = 'live'; };
  es.onmessage = (e) => {
    const a = JSON.parse(e.data), li = document.createElement('li');
    li.className = a.state; li.dataset.id = e.lastEventId; li.dataset.endpoint = a.endpoint; li.dataset.event = a.event_id;
    const cells = [a.endpoint.replace('ep_', ''), `event #${a.event_id}`, `try ${a.attempt}`, a.status || '-',
                   a.state + (a.state === 'retrying' ? ` (next in ${a.next_in_ms} ms)` : '')];
    for (const c of cells) { const s = document.createElement('span'); s.textContent = c; li.append(s); }
    li.lastChild.className = 'st';
    $('attempts').prepend(li);
    refresh();
  };
  $('publish').onclick = () => fetch('/publish', { method: 'POST', body: 'order shipped at ' + new Date().toLocaleTimeString() });
  $('up').onclick = async () => { await fetch('/receiver/down/up', { method: 'POST' }); refresh(); };
  $('replay').onclick = async () => {
    const r = await (await fetch('/endpoints/ep_down/replay', { method: 'POST' })).json();
    $('requeued').textContent = `requeued ${r.requeued}`; refresh();
  };
  refresh();
</script></body></html>)html";

const char* state_name(wh::MessageState s) {
  switch (s) {
    case wh::MessageState::pending: return "pending";
    case wh::MessageState::retrying: return "retrying";
    case wh::MessageState::delivered: return "delivered";
    case wh::MessageState::dead: return "dead";
  }
  return "?";
}

/// The two receivers. A real receiver is another service; these live in
/// this program so the example needs nothing else. Touched on the server's
/// one event-loop thread only.
struct Receivers {
  wh::Secret secret = wh::Secret::generate();  // given to the sender with each endpoint
  std::map<std::string, int, std::less<>> attempts_seen;  // flaky: attempts per webhook-id
  bool down_is_up = false;

  /// Checks the signature, then `ok()` decides: 200, or 503 (try again later).
  template <class Ok>
  void receive(herald::Exchange& ex, Ok ok) {
    const auto& req = ex.request();
    if (wh::verify_standard(wh::StandardHeaders::from(req), req.body(), std::span(&secret, 1),
                            std::chrono::system_clock::now()))
      return ex.respond_error(401, "bad signature");
    if (!ok(*req.header("webhook-id"))) return ex.respond_error(503, "try again later");
    ex.respond(200, "application/json", "{}");
  }
};

// An exchange waiting for the sender; the slot is cleared if it ends first.
struct Waiting final : herald::Parked {
  explicit Waiting(std::shared_ptr<herald::Exchange*> s) : slot(std::move(s)) {}
  ~Waiting() override { *slot = nullptr; }
  void on_deadline() override { (*slot)->respond_error(504, "the sender took too long"); }
  void on_shutdown() override { (*slot)->respond_error(503, "shutting down"); }
  std::shared_ptr<herald::Exchange*> slot;
};

// Starts the sender, then registers the two receivers as endpoints of topic
// "orders"; prints the listening line once events can flow.
asio::awaitable<void> setup(wh::Sender& sender, unsigned short port, const wh::Secret& secret) {
  co_await sender.async_start(asio::use_awaitable);
  const std::string base = "http://127.0.0.1:" + std::to_string(port);
  // (Filled member by member: g++ 12 rejects braced lists of strings inside a
  // coroutine with "array used as initializer".)
  static constexpr const char* names[] = {"flaky", "down"};
  for (const char* name : names) {
    wh::EndpointConfig cfg;
    cfg.url = base + "/receiver/" + name;
    cfg.secret = secret.to_string();
    cfg.topics.push_back("orders");
    cfg.id = std::string("ep_") + name;  // chosen ids; empty: a random ep_...
    co_await sender.async_add_endpoint(std::move(cfg), asio::use_awaitable);
  }
  std::cout << "webhook_sender listening on " << base << std::endl;
}

}  // namespace

int main(int argc, char** argv) {
  unsigned short port = 8080;
  std::string schedule_text = "0s,1s,2s";
  for (int i = 1; i + 1 < argc; i += 2) {
    if (!std::strcmp(argv[i], "--port")) port = static_cast<unsigned short>(std::atoi(argv[i + 1]));
    else if (!std::strcmp(argv[i], "--retry-schedule")) schedule_text = argv[i + 1];
  }

  herald::Broadcaster<std::string> hub;  // the events: topic "orders"
  herald::Broadcaster<std::string> log;  // the page's attempt log: topic "attempts"
  Receivers receivers;
  herald::Server server({.port = port, .threads = 1});

  wh::SenderOptions so;
  std::error_code ec;
  so.schedule = wh::parse_schedule(schedule_text, ec);
  if (ec) {
    std::cerr << "webhook_sender: bad --retry-schedule (example: 0s,1s,2s)\n";
    return 2;
  }
  // The receivers are on loopback, which the sender refuses by default (SSRF:
  // a registered URL must not reach into your own network). Allowed here.
  so.ssrf = wh::SsrfPolicy::allow_local();
  so.on_attempt = [&](const wh::AttemptReport& a) {
    auto next_in = a.next_attempt_ms ? a.next_attempt_ms - std::chrono::duration_cast<std::chrono::milliseconds>(
                                           std::chrono::system_clock::now().time_since_epoch()).count()
                                     : 0;
    std::string line = "{\"endpoint\":\"" + a.endpoint_id + "\",\"msg_id\":\"" + a.msg_id +
                       "\",\"event_id\":" + std::to_string(a.event_id) + ",\"attempt\":" + std::to_string(a.attempt) +
                       ",\"status\":" + std::to_string(a.status) + ",\"state\":\"" + state_name(a.state) +
                       "\",\"next_in_ms\":" + std::to_string(next_in < 0 ? 0 : next_in) + "}";
    std::cout << line << std::endl;
    log.publish("attempts", line);
  };
  // The sender runs on the server's event loop (one thread, as it requires).
  wh::Sender sender(server.context().get_executor(), hub, std::make_unique<wh::MemoryOutbox>(), std::move(so));

  server.route("POST", "/publish", [&](herald::Exchange& ex) {
    auto id = hub.publish("orders", ex.request().body());  // every endpoint of "orders" owes it now
    ex.respond(202, "application/json", "{\"id\":" + std::to_string(id) + "}");
  });
  server.route("GET", "/endpoints", [&](herald::Exchange& ex) {
    std::string out = "{\"schedule\":\"" + schedule_text + "\",\"down_is_up\":" +
                      (receivers.down_is_up ? "true" : "false") + ",\"endpoints\":[";
    for (const char* id : {"ep_flaky", "ep_down"}) {
      auto s = sender.stats(id);
      if (!s) continue;
      out += std::string(out.back() == '[' ? "" : ",") + "{\"id\":\"" + s->id + "\",\"delivered\":" +
             std::to_string(s->delivered) + ",\"pending\":" + std::to_string(s->pending) +
             ",\"retrying\":" + std::to_string(s->retrying) + ",\"dead\":" + std::to_string(s->dead) + "}";
    }
    ex.respond(200, "application/json", out + "]}");
  });
  server.route("POST", "/endpoints/{id}/replay", [&](herald::Exchange& ex) {
    // Replay reads and writes the outbox, on the sender's store thread: park
    // the exchange, answer when it is done. The sender runs on this server's
    // only loop, so the answer comes back on the exchange's thread.
    auto slot = std::make_shared<herald::Exchange*>(&ex);
    auto wait = std::make_unique<Waiting>(slot);
    wait->deadline = ex.now() + std::chrono::seconds(10);
    ex.park(std::move(wait));
    sender.async_replay(std::string(ex.param("id")), [slot](std::error_code ec, std::size_t n) {
      herald::Exchange* e = *slot;
      if (!e) return;  // the client went away
      if (ec == herald::error::not_found) return e->respond_error(404, "no such endpoint");
      if (ec) return e->respond_error(503, ec.message());
      // dead letters back in the queue, same webhook-ids
      e->respond(202, "application/json", "{\"requeued\":" + std::to_string(n) + "}");
    });
  });
  server.route("POST", "/receiver/flaky", [&](herald::Exchange& ex) {
    receivers.receive(ex, [&](std::string_view id) { return ++receivers.attempts_seen[std::string(id)] > 2; });
  });
  server.route("POST", "/receiver/down", [&](herald::Exchange& ex) {
    receivers.receive(ex, [&](std::string_view) { return receivers.down_is_up; });
  });
  server.route("POST", "/receiver/down/up", [&](herald::Exchange& ex) {
    receivers.down_is_up = true;
    ex.respond(200, "application/json", "{}");
  });
  server.sse("/log/{topic}", log, {});
  server.route("GET", "/", [](herald::Exchange& ex) { ex.respond(200, "text/html; charset=utf-8", page); });

  server.start();
  asio::co_spawn(server.context(), setup(sender, server.port(), receivers.secret), asio::detached);
  // Ctrl-C / SIGTERM: stop the sender first (it commits what it accepted),
  // then drain the server.
  asio::signal_set signals(server.context(), SIGINT, SIGTERM);
  signals.async_wait([&](std::error_code, int) { sender.async_stop([&] { server.stop(); }); });
  server.join();
}
