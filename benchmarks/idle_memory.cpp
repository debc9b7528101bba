// Memory per idle connection: server RSS growth while N clients hold an idle
// SSE stream, WebSocket subscriber (or an idle keep-alive HTTP session) open.
// The clients are raw sockets in this process, so they add kernel memory only, not RSS.
// Usage: idle_memory [N=10000] [sse|ws|http]   Prints one JSON object.
#include <herald/sse/policy.hpp>
#include <herald/websocket/policy.hpp>

#include <sys/resource.h>

#include <cstdio>
#include <fstream>
#include <string>
#include <vector>

namespace {
long rss_kib() {
  std::ifstream f("/proc/self/status");
  std::string line;
  while (std::getline(f, line))
    if (line.rfind("VmRSS:", 0) == 0) return std::stol(line.substr(6));
  return -1;
}
int dial(unsigned short port) {
  int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_port = htons(port);
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (::connect(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) != 0) { ::close(fd); return -1; }
  return fd;
}
bool read_head(int fd) {  // until the end of the response head, bounded
  std::string buf;
  char tmp[4096];
  for (int i = 0; i < 100 && buf.find("\r\n\r\n") == std::string::npos; ++i) {
    pollfd p{fd, POLLIN, 0};
    if (::poll(&p, 1, 5000) <= 0) return false;
    ssize_t n = ::recv(fd, tmp, sizeof tmp, 0);
    if (n <= 0) return false;
    buf.append(tmp, static_cast<std::size_t>(n));
  }
  return true;
}
}  // namespace

int main(int argc, char** argv) {
  std::size_t n = argc > 1 ? std::stoul(argv[1]) : 10000;
  std::string mode = argc > 2 ? argv[2] : "sse";
  rlimit rl{};
  getrlimit(RLIMIT_NOFILE, &rl);
  rl.rlim_cur = rl.rlim_max;
  setrlimit(RLIMIT_NOFILE, &rl);
  if (2 * n + 64 > rl.rlim_cur) {
    std::fprintf(stderr, "idle_memory: %zu connections need %zu files; the hard limit is %llu\n", n, 2 * n + 64,
                 static_cast<unsigned long long>(rl.rlim_cur));
    return 2;
  }
  herald::Broadcaster<std::string> hub;
  herald::Server server({.threads = 1, .max_connections = n + 100, .idle_timeout = std::chrono::hours(1)});
  server.sse("/sse/{topic}", hub, {.heartbeat = std::chrono::hours(1)});
  server.websocket("/ws/{topic}", hub, {.ping_interval = std::chrono::hours(1)});
  server.route("GET", "/healthz", [](herald::Exchange& ex) { ex.respond(200, "text/plain", "ok"); });
  server.start();
  std::string req = mode == "sse" ? "GET /sse/idle HTTP/1.1\r\nHost: x\r\n\r\n"
                    : mode == "ws"
                        ? "GET /ws/idle HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
                          "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n"
                        : "GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n";
  // Warm up allocator arenas and the loop's buffers with a first batch, then measure.
  std::vector<int> fds;
  auto open_batch = [&](std::size_t k) {
    for (std::size_t i = 0; i < k; ++i) {
      int fd = dial(server.port());
      if (fd < 0 || ::send(fd, req.data(), req.size(), 0) < 0 || !read_head(fd)) return false;
      fds.push_back(fd);
    }
    return true;
  };
  if (!open_batch(200)) return 1;
  long before = rss_kib();
  if (!open_batch(n)) { std::fprintf(stderr, "idle_memory: could not open %zu connections\n", n); return 1; }
  long after = rss_kib();
  double per = (after - before) * 1024.0 / static_cast<double>(n);
  std::printf("{\"mode\":\"%s\",\"connections\":%zu,\"rss_before_kib\":%ld,\"rss_after_kib\":%ld,\"bytes_per_connection\":%.0f}\n",
              mode.c_str(), n, before, after, per);
  for (int fd : fds) ::close(fd);
  server.stop();
  server.join();
  return 0;
}
