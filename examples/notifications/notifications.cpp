// notifications: a notification feed over Server-Sent Events, with resume.
//
// What it shows
//   - herald::Server with one SSE route: GET /sse/{topic}
//   - a browser page that uses plain EventSource; the browser itself resumes
//     with Last-Event-ID after a dropped connection, and the page keeps the
//     last id in localStorage so a reload continues where it left off
//     (?lastEventId=N) instead of showing everything again
//   - a coroutine that publishes a notification every few seconds
//
// Run
//   build/ex/examples/notifications --port 8080        then open http://127.0.0.1:8080/
//   curl -d 'Ada commented on your post' http://127.0.0.1:8080/notify
//   curl -N http://127.0.0.1:8080/sse/notifications -H 'Last-Event-ID: 2'
// Flags: --port N (0 picks one), --every-ms MS (the coroutine's period; 0: off)
#include <herald/sse/policy.hpp>

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
<html lang="en"><head><meta charset="utf-8"><title>herald · notifications</title>
<style>
  body { font: 15px/1.45 system-ui, sans-serif; max-width: 640px; margin: 32px auto; color: #1d2330; background: #f4f5f7; }
  h1 { font-size: 20px; } .muted { color: #6b7280; font-size: 13px; }
  ol { list-style: none; padding: 0; background: #fff; border: 1px solid #e3e6ea; border-radius: 10px; min-height: 120px; }
  li { padding: 8px 12px; border-bottom: 1px solid #eef0f3; display: flex; gap: 10px; }
  li .id { color: #6b7280; font: 12px monospace; min-width: 36px; } li.note { color: #c77c02; font-style: italic; }
  form { display: flex; gap: 8px; } input { flex: 1; padding: 7px; border: 1px solid #cfd4da; border-radius: 7px; }
  button { padding: 7px 14px; border: 0; border-radius: 7px; background: #0f8a6a; color: #fff; font-weight: 600; }
</style></head><body>
<h1>Notifications <span class="muted" id="state">connecting…</span></h1>
<p class="muted">Server-Sent Events from <code>/sse/notifications</code>. Reload the page: it resumes after the last id it showed.</p>
<ol id="list"></ol>
<form id="f"><input name="text" value="Grace mentioned you" aria-label="notification"><button>Notify</button></form>
<script>
  const list = document.getElementById('list'), state = document.getElementById('state');
  const add = (cls, id, text) => {
    const li = document.createElement('li'); li.className = cls; if (id) li.dataset.id = id;
    li.innerHTML = '<span class="id"></span><span class="text"></span>';
    li.querySelector('.id').textContent = id ? '#' + id : '';
    li.querySelector('.text').textContent = text;
    list.append(li);
  };
  // Resume across reloads: EventSource resumes by itself after a network
  // error (Last-Event-ID), but a new page starts from what we remember.
  const last = localStorage.getItem('notifications-last') || '0';
  if (last !== '0') add('note', null, `resumed after #${last}`);
  const es = new EventSource(`/sse/notifications?lastEventId=${last}`);
  es.onopen = () => { state.textContent = 'live'; };
  es.onerror = () => { state.textContent = 'reconnecting…'; };
  es.onmessage = (e) => { add('', e.lastEventId, e.data); localStorage.setItem('notifications-last', e.lastEventId); };
  es.addEventListener('reset', (e) => { add('note', null, 'some notifications expired before you came back'); });
  document.getElementById('f').onsubmit = (e) => {
    e.preventDefault();
    fetch('/notify', { method: 'POST', body: e.target.text.value });
  };
</script></body></html>)html";

// Publishes a notification every `period`, on the server's event loop, for as
// long as the server runs: the way a background job feeds a topic.
asio::awaitable<void> sample_notifications(herald::Broadcaster<std::string>& hub, asio::steady_timer& timer,
                                           std::chrono::milliseconds period) {
  const char* who[] = {"Ada", "Grace", "Linus", "Barbara"};
  for (unsigned n = 0;; ++n) {
    timer.expires_after(period);
    auto [ec] = co_await timer.async_wait(asio::experimental::as_tuple(asio::use_awaitable));
    if (ec) co_return;  // cancelled: the server is stopping
    hub.publish("notifications", std::string(who[n % 4]) + " liked your post");
  }
}

}  // namespace

int main(int argc, char** argv) {
  unsigned short port = 8080;
  long every_ms = 5000;
  for (int i = 1; i + 1 < argc; i += 2) {
    if (!std::strcmp(argv[i], "--port")) port = static_cast<unsigned short>(std::atoi(argv[i + 1]));
    else if (!std::strcmp(argv[i], "--every-ms")) every_ms = std::atol(argv[i + 1]);
  }

  // Topics, ids and history: a client that comes back within the last 1000
  // events gets exactly what it missed.
  herald::HubOptions ho;
  ho.history.max_events = 1000;
  herald::Broadcaster<std::string> hub(ho);

  herald::Server server({.port = port, .threads = 1});
  server.sse("/sse/{topic}", hub, {.heartbeat = std::chrono::seconds(15)});
  server.route("POST", "/notify", [&](herald::Exchange& ex) {
    auto id = hub.publish("notifications", ex.request().body());
    ex.respond(202, "application/json", "{\"id\":" + std::to_string(id) + "}");
  });
  server.route("GET", "/", [](herald::Exchange& ex) { ex.respond(200, "text/html; charset=utf-8", page); });

  server.start();
  asio::steady_timer timer(server.context());
  if (every_ms > 0)
    asio::co_spawn(server.context(), sample_notifications(hub, timer, std::chrono::milliseconds(every_ms)), asio::detached);
  // Ctrl-C / SIGTERM: stop the publisher, drain the server (streams end cleanly).
  asio::signal_set signals(server.context(), SIGINT, SIGTERM);
  signals.async_wait([&](std::error_code, int) {
    timer.cancel();
    server.stop();
  });
  std::cout << "notifications listening on http://127.0.0.1:" << server.port() << std::endl;
  server.join();
}
