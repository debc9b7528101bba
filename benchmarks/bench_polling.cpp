// bench_polling: load for the polling transport against an in-process
// herald::Server on 127.0.0.1 (one event-loop thread), over real sockets.
//   (a) short-poll requests per second (keep-alive clients, nothing new / 10 events);
//   (b) wire bytes and requests per delivered event for short polling every
//       1 s and 5 s and for long polling, at a publish rate of 2 events/s
//       (measured over a bounded run, steady clock);
//   (c) server RSS growth over 10,000 idle sessions, then over 10,000 parked
//       long polls on them (the client runs in a forked process, so each
//       process stays under the 20,000 open-file hard limit).
// Usage: bench_polling [a|b|c]... [--seconds S] [--parked N]   (default: all, S=20, N=10000)
// Not a Google Benchmark program: it has its own main.
#include <herald/polling/policy.hpp>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <string>
#include <thread>
#include <vector>

using namespace std::chrono_literals;
using SteadyClock = std::chrono::steady_clock;

namespace {

int connect_to(unsigned short port) {
  int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  if (fd < 0) return -1;
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_port = htons(port);
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (::connect(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) != 0) { ::close(fd); return -1; }
  int one = 1;
  ::setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
  return fd;
}

bool send_all(int fd, const std::string& s) {
  std::size_t off = 0;
  while (off < s.size()) {
    ssize_t n = ::send(fd, s.data() + off, s.size() - off, MSG_NOSIGNAL);
    if (n <= 0) return false;
    off += static_cast<std::size_t>(n);
  }
  return true;
}

std::size_t complete(const std::string& b) {
  auto e = b.find("\r\n\r\n");
  if (e == std::string::npos) return 0;
  std::size_t len = 0;
  auto p = b.find("\r\nContent-Length: ");
  if (p != std::string::npos && p < e) len = std::strtoul(b.c_str() + p + 18, nullptr, 10);
  return b.size() >= e + 4 + len ? e + 4 + len : 0;
}

/// Reads one response (bounded by `timeout`) into `out`; keeps extra bytes in `buf`.
bool read_response(int fd, std::string& buf, std::string& out, std::chrono::milliseconds timeout) {
  auto end = SteadyClock::now() + timeout;
  std::size_t n;
  while ((n = complete(buf)) == 0) {
    auto left = std::chrono::duration_cast<std::chrono::milliseconds>(end - SteadyClock::now()).count();
    if (left <= 0) return false;
    pollfd p{fd, POLLIN, 0};
    if (::poll(&p, 1, static_cast<int>(left)) <= 0) return false;
    char tmp[16384];
    ssize_t r = ::recv(fd, tmp, sizeof tmp, 0);
    if (r <= 0) return false;
    buf.append(tmp, static_cast<std::size_t>(r));
  }
  out = buf.substr(0, n);
  buf.erase(0, n);
  return true;
}

long rss_kib() {
  std::ifstream f("/proc/self/status");
  std::string line;
  while (std::getline(f, line))
    if (line.rfind("VmRSS:", 0) == 0) return std::strtol(line.c_str() + 6, nullptr, 10);
  return -1;
}

// A browser-like request head, so the bytes per request are realistic
// (curl's is ~90 B, a browser's fetch 300-500 B with its Accept/UA/Sec-* lines).
std::string request(const std::string& target) {
  return "GET " + target +
         " HTTP/1.1\r\nHost: 127.0.0.1:8080\r\nUser-Agent: Mozilla/5.0 (X11; Linux x86_64) Chrome/120.0\r\n"
         "Accept: */*\r\nAccept-Encoding: gzip, deflate\r\nAccept-Language: en\r\n\r\n";
}

struct Bench {
  herald::Metrics metrics;
  herald::Broadcaster<std::string> hub{{}, metrics};
  std::unique_ptr<herald::Server> server;
  explicit Bench(herald::ServerOptions o = {}) {
    o.metrics = &metrics;
    o.threads = 1;
    server = std::make_unique<herald::Server>(o);
    server->poll("/poll/{topic}", hub);
    server->long_poll("/longpoll/{topic}", hub);
    server->start();
  }
  std::int64_t parked() const {
    return metrics.connections[herald::Metrics::idx(herald::TransportKind::longpoll)].load();
  }
};

// (a) requests per second: 2 client threads x 8 keep-alive connections; each
// round sends one request on every connection, then reads every answer.
void bench_rps(double seconds) {
  Bench b;
  for (int i = 0; i < 10; ++i) b.hub.publish("t", std::string(64, 'x'));
  for (const char* target : {"/poll/t?after=10", "/poll/t?after=0"}) {
    std::atomic<std::uint64_t> done{0};
    std::atomic<bool> stop{false}, failed{false};
    std::vector<std::thread> ts;
    auto t0 = SteadyClock::now();
    for (int t = 0; t < 2; ++t)
      ts.emplace_back([&] {
        std::vector<int> fds;
        std::vector<std::string> bufs(8);
        for (int i = 0; i < 8; ++i) fds.push_back(connect_to(b.server->port()));
        std::string req = request(target), resp;
        while (!stop.load(std::memory_order_relaxed)) {
          for (int fd : fds) if (!send_all(fd, req)) { failed = true; return; }
          for (int i = 0; i < 8; ++i)
            if (!read_response(fds[i], bufs[i], resp, 5s) || resp.compare(9, 3, "200") != 0) { failed = true; return; }
          done.fetch_add(8, std::memory_order_relaxed);
        }
        for (int fd : fds) ::close(fd);
      });
    std::this_thread::sleep_for(std::chrono::duration<double>(seconds));  // the measuring window, not synchronisation
    stop = true;
    for (auto& t : ts) t.join();
    double s = std::chrono::duration<double>(SteadyClock::now() - t0).count();
    std::printf("(a) short poll %-22s %9.0f requests/s%s\n", target, static_cast<double>(done.load()) / s,
                failed ? "  (a client failed)" : "");
  }
}

// (b) wire cost per delivered event at 2 events/s, three clients at once on
// one topic; each stops once it has received all K = 2 x seconds events, so
// "requests per event" is what receiving every event took.
void bench_wire(double seconds) {
  Bench b;
  const auto total = static_cast<std::uint64_t>(seconds * 2);
  struct Result { const char* name; std::uint64_t requests = 0, bytes_out = 0, bytes_in = 0, events = 0; double lat_sum = 0; };
  std::vector<Result> results = {{"short poll, every 1 s"}, {"short poll, every 5 s"}, {"long poll (30 s)"}};
  std::vector<std::atomic<std::int64_t>> published(total + 2);  // publish time of each id, ns
  auto client = [&](Result& r, int mode) {
    int fd = connect_to(b.server->port());
    std::string buf, resp;
    std::uint64_t cursor = 0;
    auto next_poll = SteadyClock::now();
    while (cursor < total) {
      if (mode < 2) {
        auto interval = mode == 0 ? 1s : 5s;
        std::this_thread::sleep_until(next_poll);  // the poll interval
        next_poll += interval;
      }
      std::string target = (mode < 2 ? "/poll/w?after=" : "/longpoll/w?after=") + std::to_string(cursor);
      std::string req = request(target);
      if (!send_all(fd, req) || !read_response(fd, buf, resp, 40s)) break;
      auto now = SteadyClock::now().time_since_epoch().count();
      r.requests++;
      r.bytes_out += req.size();
      r.bytes_in += resp.size();
      auto body = resp.substr(resp.find("\r\n\r\n") + 4);
      for (std::size_t p = 0; (p = body.find("{\"id\":", p)) != std::string::npos; p += 6) {
        std::uint64_t id = std::strtoull(body.c_str() + p + 6, nullptr, 10);
        r.events++;
        r.lat_sum += double(now - published[id].load()) / 1e9;
      }
      auto np = body.rfind("\"next\":");
      cursor = std::strtoull(body.c_str() + np + 7, nullptr, 10);
    }
    ::close(fd);
  };
  std::vector<std::thread> ts;
  for (int m = 0; m < 3; ++m) ts.emplace_back(client, std::ref(results[m]), m);
  auto next = SteadyClock::now();
  for (std::uint64_t i = 1; i <= total; ++i) {
    next += 500ms;  // the publish rate: 2 events/s
    std::this_thread::sleep_until(next);
    published[i] = SteadyClock::now().time_since_epoch().count();
    b.hub.publish("w", R"({"sym":"ACME","px":12.5})");
  }
  for (auto& t : ts) t.join();
  std::printf("(b) %llu events published at 2/s; event data 25 B; request head %zu B (browser-like)\n",
              static_cast<unsigned long long>(total), request("/poll/w?after=10").size());
  for (auto& r : results) {
    if (r.events == 0) { std::printf("    %-22s no events\n", r.name); continue; }
    std::printf("    %-22s %5llu requests %5llu events  %.2f requests/event  %6.0f B/event (up %4.0f, down %4.0f)  mean delay %.3f s\n",
                r.name, static_cast<unsigned long long>(r.requests), static_cast<unsigned long long>(r.events),
                double(r.requests) / double(r.events), double(r.bytes_out + r.bytes_in) / double(r.events),
                double(r.bytes_out) / double(r.events), double(r.bytes_in) / double(r.events), r.lat_sum / double(r.events));
  }
}

// (c) RSS of the server over N idle sessions, then N parked long polls.
void bench_rss(int n) {
  rlimit rl{};
  ::getrlimit(RLIMIT_NOFILE, &rl);
  rl.rlim_cur = rl.rlim_max;  // inherited by the client
  ::setrlimit(RLIMIT_NOFILE, &rl);
  std::printf("(c) open files: soft = hard = %llu per process\n", static_cast<unsigned long long>(rl.rlim_cur));
  if (static_cast<long long>(rl.rlim_cur) < n + 100) { std::printf("    limit too low for %d\n", n); return; }
  int to_child[2], to_parent[2];
  if (::pipe(to_child) || ::pipe(to_parent)) return;
  pid_t pid = ::fork();  // before any thread exists
  if (pid == 0) {
    unsigned short port = 0;
    char cmd;
    if (::read(to_child[0], &port, sizeof port) != sizeof port) _exit(1);
    std::vector<int> fds;
    for (int i = 0; i < n; ++i) {
      int fd = connect_to(port);
      if (fd < 0) break;
      fds.push_back(fd);
    }
    char ok = fds.size() == static_cast<std::size_t>(n) ? 'c' : 'x';
    (void)!::write(to_parent[1], &ok, 1);
    if (::read(to_child[0], &cmd, 1) != 1) _exit(1);  // 'p': park
    std::string req = "GET /longpoll/parked?after=0&timeout_ms=60000 HTTP/1.1\r\nHost: x\r\n\r\n";
    for (int fd : fds) send_all(fd, req);
    ok = 'p';
    (void)!::write(to_parent[1], &ok, 1);
    (void)!::read(to_child[0], &cmd, 1);  // 'q': quit
    for (int fd : fds) ::close(fd);
    _exit(0);
  }
  herald::ServerOptions o;
  o.header_timeout = 10min;  // idle sessions must survive the measurement
  o.idle_timeout = 10min;
  o.max_connections = static_cast<std::size_t>(n) + 100;
  Bench b(o);
  {  // warm the loop's per-thread buffers and allocator before the baseline
    int fd = connect_to(b.server->port());
    std::string buf, resp;
    send_all(fd, "GET /longpoll/warm?after=0&timeout_ms=0 HTTP/1.1\r\nHost: x\r\n\r\n");
    read_response(fd, buf, resp, 5s);
    ::close(fd);
  }
  std::this_thread::sleep_for(200ms);
  long r0 = rss_kib();
  unsigned short port = b.server->port();
  (void)!::write(to_child[1], &port, sizeof port);
  char c = 0;
  (void)!::read(to_parent[0], &c, 1);
  auto deadline = SteadyClock::now() + 60s;
  while (b.server->connections() < n && SteadyClock::now() < deadline) std::this_thread::sleep_for(20ms);
  long r1 = rss_kib();
  auto conns = b.server->connections();
  (void)!::write(to_child[1], "p", 1);
  (void)!::read(to_parent[0], &c, 1);
  while (b.parked() < n && SteadyClock::now() < deadline) std::this_thread::sleep_for(20ms);
  long r2 = rss_kib();
  auto parked = b.parked();
  std::printf("    baseline RSS %ld KiB; %lld idle sessions: +%ld KiB (%.0f B each); %lld parked long polls on them: +%ld KiB more (%.0f B each); total %.0f B per parked request\n",
              r0, static_cast<long long>(conns), r1 - r0, double(r1 - r0) * 1024 / double(n),
              static_cast<long long>(parked), r2 - r1, double(r2 - r1) * 1024 / double(n), double(r2 - r0) * 1024 / double(n));
  (void)!::write(to_child[1], "q", 1);
  int st = 0;
  ::waitpid(pid, &st, 0);
  b.server->stop();
  b.server->join();
}

}  // namespace

int main(int argc, char** argv) {
  std::string which;
  double seconds = 20;
  int parked = 10000;
  for (int i = 1; i < argc; ++i) {
    std::string a = argv[i];
    if (a == "--seconds" && i + 1 < argc) seconds = std::atof(argv[++i]);
    else if (a == "--parked" && i + 1 < argc) parked = std::atoi(argv[++i]);
    else which += a;
  }
  if (which.empty()) which = "abc";
  // (c) forks: run it first, before this process has any thread.
  if (which.find('c') != std::string::npos) bench_rss(parked);
  if (which.find('a') != std::string::npos) bench_rps(3);
  if (which.find('b') != std::string::npos) bench_wire(seconds);
  return 0;
}
