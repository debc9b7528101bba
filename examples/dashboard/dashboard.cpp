// dashboard: a live metrics dashboard over short polling, with ETag.
//
// What it shows
//   - herald::Server with one short-polling route: GET /poll/{topic}?after=N
//   - a coroutine on the server's event loop that samples this process's real
//     metrics from /proc (CPU, resident memory, threads, open files, load)
//     every second and publishes each sample as one JSON event
//   - a page that asks every 250 ms with the cursor it was given (after=next)
//     and the ETag of its last answer in If-None-Match: while nothing is new,
//     the server answers 304 with no body, and the page counts them
//
// Short polling is the simplest transport: plain GETs, any proxy, any cache
// rule, no connection held. Its cost is the requests that find nothing; the
// ETag makes those cheap (a 304 is a head, no body). Note that each new
// cursor is a new URL: the first ask after a sample is a 200 with no events,
// the following ones are 304s.
//
// Run
//   build/ex/examples/dashboard --port 8080                then open http://127.0.0.1:8080/
//   curl -i 'http://127.0.0.1:8080/poll/metrics?after=0&limit=2'
//   curl -i 'http://127.0.0.1:8080/poll/metrics?after=5' -H 'If-None-Match: W/"..."'
// Flags: --port N (0 picks one), --every-ms MS (sampling period, default 1000)
#include <herald/polling/policy.hpp>

#include <asio/co_spawn.hpp>
#include <asio/detached.hpp>
#include <asio/experimental/as_tuple.hpp>
#include <asio/signal_set.hpp>
#include <asio/steady_timer.hpp>
#include <asio/use_awaitable.hpp>

#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <sstream>
#include <string>

namespace {

const char* page = R"html(<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>herald · dashboard</title>
<style>
  body { font: 15px/1.45 system-ui, sans-serif; max-width: 760px; margin: 32px auto; color: #1d2330; background: #f4f5f7; }
  h1 { font-size: 20px; } .muted { color: #6b7280; font-size: 13px; }
  .tiles { display: grid; grid-template-columns: repeat(3, 1fr); gap: 10px; }
  .tile { background: #fff; border: 1px solid #e3e6ea; border-radius: 10px; padding: 10px 14px; }
  .tile b { display: block; font-size: 22px; } .tile span { color: #6b7280; font-size: 12px; }
  .http { display: flex; gap: 16px; margin: 14px 0; font: 13px monospace; }
  .http b { font-size: 16px; } .s304 { color: #0f8a6a; }
  table { width: 100%; border-collapse: collapse; background: #fff; border: 1px solid #e3e6ea; font: 12px monospace; }
  td, th { padding: 4px 8px; border-bottom: 1px solid #eef0f3; text-align: right; } th { color: #6b7280; font-weight: 500; }
</style></head><body>
<h1>Process dashboard <span class="muted" id="state">connecting…</span></h1>
<p class="muted">Short polling of <code>/poll/metrics</code> every 250 ms with <code>If-None-Match</code>; the server samples <code>/proc</code> once a second.</p>
<div class="tiles">
  <div class="tile"><span>CPU</span><b id="cpu">–</b></div>
  <div class="tile"><span>resident memory</span><b id="rss">–</b></div>
  <div class="tile"><span>threads · open files</span><b id="tf">–</b></div>
  <div class="tile"><span>load (1 min)</span><b id="load">–</b></div>
  <div class="tile"><span>host memory available</span><b id="avail">–</b></div>
  <div class="tile"><span>samples</span><b id="n">0</b></div>
</div>
<div class="http">
  <div>200 with news: <b id="c200">0</b></div>
  <div>200, nothing new: <b id="cempty">0</b></div>
  <div class="s304">304 Not Modified: <b id="c304">0</b></div>
</div>
<table><thead><tr><th>#</th><th>time</th><th>cpu %</th><th>rss MiB</th><th>threads</th><th>fds</th><th>load1</th></tr></thead>
<tbody id="samples"></tbody></table>
<script>
  const $ = (id) => document.getElementById(id);
  const counts = { news: 0, empty: 0, notModified: 0 };
  let after = 0;      // the cursor: "I have seen everything up to this id"
  let etag = null;    // {url, tag} of the last 200: an ETag belongs to its URL
  const show = (id, s) => {
    $('cpu').textContent = s.cpu.toFixed(1) + ' %';
    $('rss').textContent = (s.rss_kib / 1024).toFixed(1) + ' MiB';
    $('tf').textContent = s.threads + ' · ' + s.fds;
    $('load').textContent = s.load1.toFixed(2);
    $('avail').textContent = (s.mem_available_kib / 1048576).toFixed(1) + ' GiB';
    const tr = document.createElement('tr'); tr.dataset.id = id;
    for (const v of [id, new Date(s.t).toLocaleTimeString(), s.cpu.toFixed(1), (s.rss_kib / 1024).toFixed(1), s.threads, s.fds, s.load1.toFixed(2)]) {
      const td = document.createElement('td'); td.textContent = v; tr.append(td);
    }
    $('samples').prepend(tr);
    while ($('samples').children.length > 15) $('samples').lastChild.remove();
    $('n').textContent = id;
  };
  async function poll() {
    const url = `/poll/metrics?after=${after}`;
    // A conditional request: the browser hands the 304 to us as it is.
    const headers = etag && etag.url === url ? { 'If-None-Match': etag.tag } : {};
    try {
      const r = await fetch(url, { headers, cache: 'no-store' });
      $('state').textContent = 'live';
      if (r.status === 304) {
        $('c304').textContent = ++counts.notModified;
      } else if (r.ok) {
        const body = await r.json();
        etag = { url, tag: r.headers.get('ETag') };
        if (body.events.length) $('c200').textContent = ++counts.news; else $('cempty').textContent = ++counts.empty;
        for (const ev of body.events) show(ev.id, JSON.parse(ev.data));
        after = body.next;   // a reset (server restarted) moves the cursor too
      }
    } catch (e) {
      $('state').textContent = 'offline, retrying…';
    }
    setTimeout(poll, 250);
  }
  poll();
</script></body></html>)html";

/// One reading of /proc for this process and host.
struct Sample {
  double cpu_seconds = 0;  // user + system time used so far
  long rss_kib = 0, threads = 0, fds = 0, mem_available_kib = 0;
  double load1 = 0;
};

Sample read_proc() {
  Sample s;
  // /proc/self/stat: the fields after the command name (which may hold
  // spaces, hence the last ')'): state is field 3, utime 14, stime 15,
  // num_threads 20, rss (pages) 24.
  std::ifstream stat("/proc/self/stat");
  std::string line;
  std::getline(stat, line);
  if (auto close = line.rfind(')'); close != std::string::npos) {
    std::istringstream in(line.substr(close + 2));
    std::string f[22];
    for (auto& x : f) in >> x;
    const double tick = static_cast<double>(sysconf(_SC_CLK_TCK));
    s.cpu_seconds = (std::atof(f[11].c_str()) + std::atof(f[12].c_str())) / tick;
    s.threads = std::atol(f[17].c_str());
    s.rss_kib = std::atol(f[21].c_str()) * (sysconf(_SC_PAGESIZE) / 1024);
  }
  std::error_code ec;
  for (auto it = std::filesystem::directory_iterator("/proc/self/fd", ec); !ec && it != std::filesystem::directory_iterator();
       it.increment(ec))
    ++s.fds;
  std::ifstream("/proc/loadavg") >> s.load1;
  std::ifstream meminfo("/proc/meminfo");
  for (std::string key; meminfo >> key;) {
    if (key == "MemAvailable:") { meminfo >> s.mem_available_kib; break; }
    std::getline(meminfo, line);
  }
  return s;
}

// Samples /proc every `period` and publishes one event per sample, on the
// server's event loop, until the timer is cancelled at shutdown.
asio::awaitable<void> sample_metrics(herald::Broadcaster<std::string>& hub, asio::steady_timer& timer,
                                     std::chrono::milliseconds period) {
  using clock = std::chrono::steady_clock;
  Sample last = read_proc();
  auto last_at = clock::now();
  for (;;) {
    timer.expires_after(period);
    auto [ec] = co_await timer.async_wait(asio::experimental::as_tuple(asio::use_awaitable));
    if (ec) co_return;  // cancelled: the server is stopping
    Sample s = read_proc();
    auto now = clock::now();
    // CPU share since the previous sample: CPU seconds used / seconds passed.
    double cpu = 100.0 * (s.cpu_seconds - last.cpu_seconds) / std::chrono::duration<double>(now - last_at).count();
    last = s;
    last_at = now;
    auto wall_ms = std::chrono::duration_cast<std::chrono::milliseconds>(
                       std::chrono::system_clock::now().time_since_epoch()).count();
    char json[256];
    std::snprintf(json, sizeof json,
                  R"({"t":%lld,"cpu":%.2f,"rss_kib":%ld,"threads":%ld,"fds":%ld,"load1":%.2f,"mem_available_kib":%ld})",
                  static_cast<long long>(wall_ms), cpu, s.rss_kib, s.threads, s.fds, s.load1, s.mem_available_kib);
    hub.publish("metrics", json);
  }
}

}  // namespace

int main(int argc, char** argv) {
  unsigned short port = 8080;
  long every_ms = 1000;
  for (int i = 1; i + 1 < argc; i += 2) {
    if (!std::strcmp(argv[i], "--port")) port = static_cast<unsigned short>(std::atoi(argv[i + 1]));
    else if (!std::strcmp(argv[i], "--every-ms")) every_ms = std::atol(argv[i + 1]);
  }

  // An hour of samples: a page opened later (after=0) draws what is held.
  herald::HubOptions ho;
  ho.history.max_events = 3600;
  herald::Broadcaster<std::string> hub(ho);

  herald::Server server({.port = port, .threads = 1});
  server.poll("/poll/{topic}", hub);
  server.route("GET", "/", [](herald::Exchange& ex) { ex.respond(200, "text/html; charset=utf-8", page); });

  server.start();
  asio::steady_timer timer(server.context());
  if (every_ms > 0)
    asio::co_spawn(server.context(), sample_metrics(hub, timer, std::chrono::milliseconds(every_ms)), asio::detached);
  // Ctrl-C / SIGTERM: stop sampling, drain the server.
  asio::signal_set signals(server.context(), SIGINT, SIGTERM);
  signals.async_wait([&](std::error_code, int) {
    timer.cancel();
    server.stop();
  });
  std::cout << "dashboard listening on http://127.0.0.1:" << server.port() << std::endl;
  server.join();
}
