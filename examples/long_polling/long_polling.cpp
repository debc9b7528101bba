// long_polling: a feed over long polling, the transport that works everywhere.
//
// What it shows
//   - herald::Server with one long-polling route: GET /longpoll/{topic}?after=N
//   - a page whose loop asks with the cursor it was given last (after=next);
//     the server holds each request until an event exists after that cursor
//     (answered at once) or the wait ends (an empty answer), and the page asks
//     again at once: every event arrives once, in order, with no WebSocket,
//     no event stream, nothing a proxy or an old client could refuse
//   - a parked request costs no thread: it is a small object on the event loop
//   - a coroutine that posts to the feed every few seconds
//
// Run
//   build/ex/examples/long_polling --port 8080           then open http://127.0.0.1:8080/
//   curl 'http://127.0.0.1:8080/longpoll/feed?after=0&timeout_ms=20000'   (waits for news)
//   curl -d 'the build is green' http://127.0.0.1:8080/post
// Flags: --port N (0 picks one), --every-ms MS (the coroutine's period; 0: off),
//        --long-poll-max-ms MS (the longest a request is held, default 25000)
#include <herald/polling/policy.hpp>

#include <asio/co_spawn.hpp>
#include <asio/detached.hpp>
#include <asio/experimental/as_tuple.hpp>
#include <asio/signal_set.hpp>
#include <asio/steady_timer.hpp>
#include <asio/use_awaitable.hpp>

#include <cstdlib>
#include <cstring>
#include <iostream>
#include <string>

namespace {

const char* page = R"html(<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>herald · long polling</title>
<style>
  body { font: 15px/1.45 system-ui, sans-serif; max-width: 640px; margin: 32px auto; color: #1d2330; background: #f4f5f7; }
  h1 { font-size: 20px; } .muted { color: #6b7280; font-size: 13px; }
  ol { list-style: none; padding: 0; background: #fff; border: 1px solid #e3e6ea; border-radius: 10px; min-height: 120px; }
  li { padding: 8px 12px; border-bottom: 1px solid #eef0f3; display: flex; gap: 10px; }
  li .id { color: #6b7280; font: 12px monospace; min-width: 36px; } li .at { margin-left: auto; color: #9aa1ab; font: 12px monospace; }
  .stats { font: 13px monospace; display: flex; gap: 18px; } .stats b { font-size: 15px; }
  form { display: flex; gap: 8px; } input { flex: 1; padding: 7px; border: 1px solid #cfd4da; border-radius: 7px; }
  button { padding: 7px 14px; border: 0; border-radius: 7px; background: #0f8a6a; color: #fff; font-weight: 600; }
</style></head><body>
<h1>Feed <span class="muted" id="state">connecting…</span></h1>
<p class="muted">Long polling of <code>/longpoll/feed?after=N</code>: each answer carries <code>next</code>, the page asks again with it at once.</p>
<div class="stats">
  <div>requests: <b id="asked">0</b></div>
  <div>answered with events: <b id="withEvents">0</b></div>
  <div>empty (the wait ended): <b id="empty">0</b></div>
  <div>cursor: <b id="cursor">0</b></div>
</div>
<ol id="list"></ol>
<form id="f"><input name="text" value="Deploy finished" aria-label="post"><button>Post</button></form>
<script>
  const $ = (id) => document.getElementById(id);
  const stats = { asked: 0, withEvents: 0, empty: 0 };
  const bump = (k) => { $(k).textContent = ++stats[k]; };
  let after = 0;   // the cursor: everything up to this id has been shown
  async function loop() {
    let backoff = 500;
    for (;;) {
      bump('asked');
      $('state').textContent = 'waiting for news…';
      try {
        // The server holds this until an event after `after` exists, or
        // answers {"events":[]} when the wait ends (the server clamps it).
        const r = await fetch(`/longpoll/feed?after=${after}&timeout_ms=25000`, { cache: 'no-store' });
        if (!r.ok) throw new Error(`HTTP ${r.status}`);
        const body = await r.json();
        if (body.reset) add('', null, 'the server restarted or history moved on: starting from what it holds');
        for (const ev of body.events) add('', ev.id, ev.data);
        bump(body.events.length ? 'withEvents' : 'empty');
        after = body.next;
        $('cursor').textContent = after;
        backoff = 500;
      } catch (e) {
        // Server down or network gone: wait, growing up to 10 s, then ask
        // again with the same cursor: nothing is lost, nothing repeated.
        $('state').textContent = 'offline, retrying…';
        await new Promise((r) => setTimeout(r, backoff * (0.5 + Math.random() / 2)));
        backoff = Math.min(backoff * 2, 10000);
      }
    }
  }
  function add(cls, id, text) {
    const li = document.createElement('li'); li.className = cls; if (id) li.dataset.id = id;
    li.innerHTML = '<span class="id"></span><span class="text"></span><span class="at"></span>';
    li.querySelector('.id').textContent = id ? '#' + id : '';
    li.querySelector('.text').textContent = text;
    li.querySelector('.at').textContent = new Date().toLocaleTimeString();
    $('list').append(li);
  }
  $('f').onsubmit = (e) => { e.preventDefault(); fetch('/post', { method: 'POST', body: e.target.text.value }); };
  loop();
</script></body></html>)html";

// Posts to the feed every `period` for as long as the server runs.
asio::awaitable<void> post_news(herald::Broadcaster<std::string>& hub, asio::steady_timer& timer,
                                std::chrono::milliseconds period) {
  const char* news[] = {"CI: main is green", "Ada merged #412", "Release 1.4 tagged", "Grace opened an issue"};
  for (unsigned n = 0;; ++n) {
    timer.expires_after(period);
    auto [ec] = co_await timer.async_wait(asio::experimental::as_tuple(asio::use_awaitable));
    if (ec) co_return;  // cancelled: the server is stopping
    hub.publish("feed", news[n % 4]);
  }
}

}  // namespace

int main(int argc, char** argv) {
  unsigned short port = 8080;
  long every_ms = 7000, max_ms = 25000;
  for (int i = 1; i + 1 < argc; i += 2) {
    if (!std::strcmp(argv[i], "--port")) port = static_cast<unsigned short>(std::atoi(argv[i + 1]));
    else if (!std::strcmp(argv[i], "--every-ms")) every_ms = std::atol(argv[i + 1]);
    else if (!std::strcmp(argv[i], "--long-poll-max-ms")) max_ms = std::atol(argv[i + 1]);
  }

  herald::HubOptions ho;
  ho.history.max_events = 1000;  // a client back within 1000 events misses nothing
  herald::Broadcaster<std::string> hub(ho);

  herald::Server server({.port = port, .threads = 1});
  // Held at most 25 s by default: under the 30-60 s idle timeouts of common
  // proxies and load balancers, which would otherwise cut the wait short.
  server.long_poll("/longpoll/{topic}", hub, {.long_poll_max = std::chrono::milliseconds(max_ms)});
  server.route("POST", "/post", [&](herald::Exchange& ex) {
    auto id = hub.publish("feed", ex.request().body());  // answers every parked request of the topic
    ex.respond(202, "application/json", "{\"id\":" + std::to_string(id) + "}");
  });
  server.route("GET", "/", [](herald::Exchange& ex) { ex.respond(200, "text/html; charset=utf-8", page); });

  server.start();
  asio::steady_timer timer(server.context());
  if (every_ms > 0)
    asio::co_spawn(server.context(), post_news(hub, timer, std::chrono::milliseconds(every_ms)), asio::detached);
  // Ctrl-C / SIGTERM: stop posting; the server answers parked requests and drains.
  asio::signal_set signals(server.context(), SIGINT, SIGTERM);
  signals.async_wait([&](std::error_code, int) {
    timer.cancel();
    server.stop();
  });
  std::cout << "long_polling listening on http://127.0.0.1:" << server.port() << std::endl;
  server.join();
}
