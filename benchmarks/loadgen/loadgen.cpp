// herald transport load generator: one lean epoll client (one thread, no Asio)
// that drives any server speaking CONTRACT.md and prints one JSON object per run.
//
//   loadgen --mode MODE --port P [--host 127.0.0.1] [--server-pid PID] [--server NAME]
//           [--conns N] [--rate EV_PER_S] [--payload BYTES] [--duration S] [--warmup S]
//           [--topic T] [--interval-ms MS] [--idle-kind ws|sse] [--src-addrs K]
//           [--publishers P] [--connect-parallel C] [--cdf] [--tls]
//
// Modes
//   ws-echo          N WebSocket clients on /ws/echo, each one message in flight (closed loop)
//   ws-fanout        N subscribers on /ws/topic/T; a publisher POSTs /publish/T at --rate
//   sse-fanout       N subscribers on /sse/T; same publisher
//   longpoll-fanout  N clients looping on /longpoll/T?after=N; same publisher
//   shortpoll        N clients polling /poll/T?after=N every --interval-ms; same publisher
//   idle             hold N WebSocket (--idle-kind ws) or SSE connections, measure server RSS
//
// Every event payload starts with "t=<19-digit CLOCK_MONOTONIC ns>;" so the
// delivery latency is measured at the subscriber (CLOCK_MONOTONIC is one clock
// for every process of the machine). Server CPU is utime+stime of --server-pid
// from /proc over the measuring window; RSS from /proc/PID/status VmRSS.
// Bytes are counted at the client sockets (HTTP/WebSocket bytes, not TCP/IP).
//
// --tls: every connection (subscribers and publishers) speaks TLS 1.3 with
// OpenSSL, non-blocking over the same epoll loop; the bytes counted are then
// the TLS records that cross the socket. Without --tls no SSL object exists
// and the plain path is unchanged.
#include <arpa/inet.h>
#include <dirent.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/epoll.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/timerfd.h>
#include <unistd.h>
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <zlib.h>

#include <algorithm>
#include <cerrno>
#include <cinttypes>
#include <cmath>
#include <csignal>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <ctime>
#include <string>
#include <string_view>
#include <vector>

namespace {

// ------------------------------------------------------------------ options
struct Options {
  std::string mode = "sse-fanout";
  std::string host = "127.0.0.1";
  int port = 0;
  int server_pid = 0;
  std::string server = "unknown";
  int conns = 1000;
  double rate = 100;            // events per second (fan-out modes)
  int payload = 64;             // bytes of event data
  double duration = 10;         // measuring window, seconds
  double warmup = 2;            // after all are connected, before measuring
  std::string topic;              // default: "b<pid>", fresh per run
  int interval_ms = 1000;       // shortpoll
  std::string idle_kind = "ws";
  int src_addrs = 1;            // >1: bind sources 127.0.0.2 .. 127.0.0.(1+K)
  int publishers = 4;           // publisher keep-alive connections
  int connect_parallel = 200;   // connects in flight at once
  int longpoll_timeout_ms = 30000;
  bool cdf = false;             // add the latency CDF to the JSON
  double connect_timeout = 60;  // seconds to get every connection up
  bool deflate = false;         // offer permessage-deflate (no context takeover either way)
  bool tls = false;             // TLS 1.3 on every connection
};

[[noreturn]] void die(const char* fmt, const char* a = "") {
  std::fprintf(stderr, "loadgen: ");
  std::fprintf(stderr, fmt, a);
  std::fprintf(stderr, "\n");
  std::exit(2);
}

std::uint64_t now_ns() {
  timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return std::uint64_t(ts.tv_sec) * 1000000000ull + std::uint64_t(ts.tv_nsec);
}

// ------------------------------------------------------------------ /proc
struct ProcSample {
  double cpu_s = 0;   // utime + stime
  long rss_kb = 0;
  unsigned long long ctxsw = 0;     // voluntary + involuntary context switches, all threads
};

ProcSample proc_sample(int pid) {
  ProcSample s;
  if (pid <= 0) return s;
  char path[64];
  std::snprintf(path, sizeof path, "/proc/%d/stat", pid);
  if (FILE* f = std::fopen(path, "r")) {
    char buf[2048];
    size_t n = std::fread(buf, 1, sizeof buf - 1, f);
    buf[n] = 0;
    std::fclose(f);
    const char* p = std::strrchr(buf, ')');
    if (p) {
      // fields after ")": 3 state ... 14 utime 15 stime
      unsigned long long ut = 0, st = 0;
      int field = 2;
      const char* q = p + 1;
      while (*q && field < 15) {
        while (*q == ' ') ++q;
        ++field;
        if (field == 14) ut = std::strtoull(q, nullptr, 10);
        if (field == 15) st = std::strtoull(q, nullptr, 10);
        while (*q && *q != ' ') ++q;
      }
      s.cpu_s = double(ut + st) / double(sysconf(_SC_CLK_TCK));
    }
  }
  std::snprintf(path, sizeof path, "/proc/%d/task", pid);
  if (DIR* d = opendir(path)) {
    while (dirent* e = readdir(d)) {
      if (e->d_name[0] == '.') continue;
      char tp[320];
      std::snprintf(tp, sizeof tp, "/proc/%d/task/%s/status", pid, e->d_name);
      if (FILE* f = std::fopen(tp, "r")) {
        char line[256];
        while (std::fgets(line, sizeof line, f))
          if (std::strstr(line, "ctxt_switches:")) s.ctxsw += std::strtoull(std::strchr(line, ':') + 1, nullptr, 10);
        std::fclose(f);
      }
    }
    closedir(d);
  }
  std::snprintf(path, sizeof path, "/proc/%d/status", pid);
  if (FILE* f = std::fopen(path, "r")) {
    char line[256];
    while (std::fgets(line, sizeof line, f))
      if (std::strncmp(line, "VmRSS:", 6) == 0) s.rss_kb = std::strtol(line + 6, nullptr, 10);
    std::fclose(f);
  }
  return s;
}

std::string loadavg() {
  char b[128] = {0};
  if (FILE* f = std::fopen("/proc/loadavg", "r")) { (void)!std::fgets(b, sizeof b, f); std::fclose(f); }
  std::string s(b);
  return s.substr(0, s.find(' '));
}

double self_cpu_s() {
  rusage ru{};
  getrusage(RUSAGE_SELF, &ru);
  return double(ru.ru_utime.tv_sec + ru.ru_stime.tv_sec) + double(ru.ru_utime.tv_usec + ru.ru_stime.tv_usec) / 1e6;
}

// ------------------------------------------------------------------ latency histogram
// Log-linear buckets over nanoseconds: 64 sub-buckets per power of two (1.6% resolution).
struct Histogram {
  std::vector<std::uint64_t> b = std::vector<std::uint64_t>(64 + 64 * 40, 0);
  std::uint64_t count = 0, max = 0;
  double sum = 0;
  static size_t index(std::uint64_t v) {
    if (v < 64) return size_t(v);
    int e = 63 - __builtin_clzll(v);  // >= 6
    std::uint64_t m = v >> (e - 6);   // [64,128)
    size_t i = 64 + size_t(e - 6) * 64 + size_t(m - 64);
    return std::min(i, size_t(64 + 64 * 40 - 1));
  }
  static std::uint64_t value(size_t i) {  // bucket midpoint
    if (i < 64) return i;
    size_t e = (i - 64) / 64 + 6;
    std::uint64_t m = (i - 64) % 64 + 64;
    return (m << (e - 6)) + ((std::uint64_t(1) << (e - 6)) >> 1);
  }
  void add(std::uint64_t v) {
    ++b[index(v)];
    ++count;
    sum += double(v);
    if (v > max) max = v;
  }
  double quantile(double q) const {
    if (!count) return 0;
    std::uint64_t want = std::uint64_t(std::ceil(q * double(count)));
    if (want == 0) want = 1;
    std::uint64_t acc = 0;
    for (size_t i = 0; i < b.size(); ++i) {
      acc += b[i];
      if (acc >= want) return double(value(i));
    }
    return double(max);
  }
};

// ------------------------------------------------------------------ connections
enum class Kind { ws_sub, sse_sub, lp_sub, sp_sub, publisher, echo };
enum class State { connecting, head, ws_open, stream, body, idle_http, closed };

struct Conn {
  int fd = -1;
  SSL* ssl = nullptr;   // --tls only; while state == connecting: the handshake is under way
  Kind kind{};
  State state = State::connecting;
  std::string in;       // unconsumed input (partial frame / head / body)
  std::string out;      // unsent output
  size_t out_off = 0;
  // HTTP response
  int status = 0;
  bool chunked = false, close_after = false, cl_known = false;
  size_t content_length = 0;
  std::string body;
  // chunked decoder
  int cstate = 0;        // 0 size line, 1 data, 2 crlf after data, 3 trailers
  size_t crem = 0;
  size_t csize = 0;
  bool cdone = false;
  // SSE line scanner
  std::string line;
  bool ev_has_data = false;
  std::uint64_t ev_ts = 0;
  // polling
  std::uint64_t cursor = 0;
  std::uint64_t next_due = 0;
  bool in_flight = false;
  int index = 0;
};

struct Stats {
  std::uint64_t deliveries = 0, sub_rx = 0, sub_tx = 0, pub_rx = 0, pub_tx = 0;
  std::uint64_t requests = 0, published = 0, publish_errors = 0, errors = 0, closed = 0;
  std::uint64_t empty_polls = 0, resets = 0;
};

Options opt;
int ep = -1;
std::vector<Conn*> conns;   // by fd
std::vector<Conn*> subs;
std::vector<Conn*> pubs;
Stats st;
Histogram hist;
bool measuring = false;
std::uint64_t publish_backlog = 0;
std::string payload_pad;
char rbuf[1 << 18];
std::string host_header;
std::uint64_t ws_mask_seed = 0x9E3779B97F4A7C15ull;
SSL_CTX* tls_ctx = nullptr;
std::string tls_cipher;   // as negotiated by the first connection

void ep_mod(Conn& c, bool want_out) {
  epoll_event e{};
  e.events = EPOLLIN | EPOLLRDHUP | (want_out ? EPOLLOUT : 0u);
  e.data.ptr = &c;
  epoll_ctl(ep, EPOLL_CTL_MOD, c.fd, &e);
}

bool is_sub(Kind k) { return k != Kind::publisher; }

void count_tx(Conn& c, size_t n) {
  if (!measuring) return;
  if (c.kind == Kind::publisher) st.pub_tx += n; else st.sub_tx += n;
}
void count_rx(Conn& c, size_t n) {
  if (!measuring) return;
  if (c.kind == Kind::publisher) st.pub_rx += n; else st.sub_rx += n;
}

void flush_tls(Conn& c);

void flush(Conn& c) {
  if (c.ssl) return flush_tls(c);
  while (c.out_off < c.out.size()) {
    ssize_t n = ::send(c.fd, c.out.data() + c.out_off, c.out.size() - c.out_off, MSG_NOSIGNAL);
    if (n > 0) { count_tx(c, size_t(n)); c.out_off += size_t(n); continue; }
    if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) { ep_mod(c, true); return; }
    return;  // error: the read side notices
  }
  c.out.clear();
  c.out_off = 0;
}

// SSL_write takes what fits (partial writes on); WANT_WRITE waits for EPOLLOUT.
// The bytes counted are those the socket BIO wrote: records, not plaintext.
void flush_tls(Conn& c) {
  BIO* wire = SSL_get_wbio(c.ssl);
  while (c.out_off < c.out.size()) {
    std::uint64_t before = BIO_number_written(wire);
    int n = SSL_write(c.ssl, c.out.data() + c.out_off, int(std::min<size_t>(c.out.size() - c.out_off, 1u << 30)));
    count_tx(c, size_t(BIO_number_written(wire) - before));
    if (n > 0) { c.out_off += size_t(n); continue; }
    if (SSL_get_error(c.ssl, n) == SSL_ERROR_WANT_WRITE) { ep_mod(c, true); return; }
    ERR_clear_error();
    return;  // error: the read side notices
  }
  c.out.clear();
  c.out_off = 0;
}

void send_bytes(Conn& c, std::string_view s) {
  bool was_empty = c.out.size() == c.out_off;
  c.out.append(s);
  if (was_empty && c.state != State::connecting) flush(c);
}

int open_socket(int idx) {
  int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  if (fd < 0) return -1;
  int one = 1;
  setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
  if (opt.src_addrs > 1) {
    setsockopt(fd, IPPROTO_IP, IP_BIND_ADDRESS_NO_PORT, &one, sizeof one);
    sockaddr_in src{};
    src.sin_family = AF_INET;
    src.sin_addr.s_addr = htonl(0x7f000002u + unsigned(idx % opt.src_addrs));
    if (::bind(fd, reinterpret_cast<sockaddr*>(&src), sizeof src) != 0) { ::close(fd); return -1; }
  }
  sockaddr_in sa{};
  sa.sin_family = AF_INET;
  sa.sin_port = htons(std::uint16_t(opt.port));
  inet_pton(AF_INET, opt.host.c_str(), &sa.sin_addr);
  int r = ::connect(fd, reinterpret_cast<sockaddr*>(&sa), sizeof sa);
  if (r != 0 && errno != EINPROGRESS) { ::close(fd); return -1; }
  return fd;
}

std::string ws_key() {  // base64 of 16 random bytes (canonical: servers may check)
  static const char* b64 = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
  unsigned char raw[18] = {};
  for (int i = 0; i < 16; ++i) {
    ws_mask_seed = ws_mask_seed * 6364136223846793005ull + 1442695040888963407ull;
    raw[i] = std::uint8_t(ws_mask_seed >> 40);
  }
  std::string k;
  for (int i = 0; i < 18; i += 3) {
    std::uint32_t v = std::uint32_t(raw[i]) << 16 | std::uint32_t(raw[i + 1]) << 8 | raw[i + 2];
    k += b64[(v >> 18) & 63];
    k += b64[(v >> 12) & 63];
    k += b64[(v >> 6) & 63];
    k += b64[v & 63];
  }
  k.resize(22);
  return k + "==";
}

std::string make_payload(std::uint64_t ts) {
  char head[32];
  int n = std::snprintf(head, sizeof head, "t=%019" PRIu64 ";", ts);
  std::string p(head, size_t(n));
  if (int(p.size()) < opt.payload) p.append(payload_pad, 0, size_t(opt.payload) - p.size());
  return p;
}

// Masked client frame (RFC 6455 5.3): FIN + opcode, MASK bit, length, key, payload ^ key.
std::string ws_frame(int opcode, std::string_view data) {
  std::string f;
  f.push_back(char(0x80 | opcode));
  size_t n = data.size();
  if (n < 126) f.push_back(char(0x80 | n));
  else if (n < 65536) { f.push_back(char(0x80 | 126)); f.push_back(char(n >> 8)); f.push_back(char(n)); }
  else { f.push_back(char(0x80 | 127)); for (int i = 7; i >= 0; --i) f.push_back(char(std::uint64_t(n) >> (8 * i))); }
  ws_mask_seed = ws_mask_seed * 6364136223846793005ull + 1442695040888963407ull;
  unsigned char key[4] = {std::uint8_t(ws_mask_seed >> 24), std::uint8_t(ws_mask_seed >> 32),
                          std::uint8_t(ws_mask_seed >> 40), std::uint8_t(ws_mask_seed >> 48)};
  f.append(reinterpret_cast<char*>(key), 4);
  size_t off = f.size();
  f.append(data);
  for (size_t i = 0; i < n; ++i) f[off + i] = char(f[off + i] ^ key[i & 3]);
  return f;
}

void start_request(Conn& c);

Conn* new_conn(Kind k, int idx) {
  int fd = open_socket(idx);
  if (fd < 0) { ++st.errors; return nullptr; }
  auto* c = new Conn;
  c->fd = fd;
  c->kind = k;
  c->index = idx;
  if (size_t(fd) >= conns.size()) conns.resize(size_t(fd) + 1024, nullptr);
  conns[size_t(fd)] = c;
  epoll_event e{};
  e.events = EPOLLIN | EPOLLOUT | EPOLLRDHUP;
  e.data.ptr = c;
  epoll_ctl(ep, EPOLL_CTL_ADD, fd, &e);
  // First request, queued until the connect completes.
  start_request(*c);
  return c;
}

void start_request(Conn& c) {
  c.status = 0; c.chunked = false; c.close_after = false; c.cl_known = false; c.content_length = 0;
  c.body.clear(); c.cstate = 0; c.crem = 0; c.cdone = false;
  std::string req;
  switch (c.kind) {
    case Kind::ws_sub:
    case Kind::echo: {
      std::string path = c.kind == Kind::echo ? "/ws/echo" : "/ws/topic/" + opt.topic;
      req = "GET " + path + " HTTP/1.1\r\nHost: " + host_header +
            "\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: " + ws_key() +
            "\r\nSec-WebSocket-Version: 13\r\n" +
            (opt.deflate ? "Sec-WebSocket-Extensions: permessage-deflate; client_no_context_takeover; server_no_context_takeover\r\n"
                         : "") + "\r\n";
      break;
    }
    case Kind::sse_sub:
      req = "GET /sse/" + opt.topic + " HTTP/1.1\r\nHost: " + host_header + "\r\nAccept: text/event-stream\r\n\r\n";
      break;
    case Kind::lp_sub:
      req = "GET /longpoll/" + opt.topic + "?after=" + std::to_string(c.cursor) +
            "&timeout_ms=" + std::to_string(opt.longpoll_timeout_ms) + " HTTP/1.1\r\nHost: " + host_header + "\r\n\r\n";
      break;
    case Kind::sp_sub:
      req = "GET /poll/" + opt.topic + "?after=" + std::to_string(c.cursor) + " HTTP/1.1\r\nHost: " + host_header + "\r\n\r\n";
      break;
    case Kind::publisher:
      return;  // requests are made by the pacer
  }
  if (measuring && (c.kind == Kind::lp_sub || c.kind == Kind::sp_sub)) ++st.requests;
  c.in_flight = true;
  c.state = c.state == State::connecting ? State::connecting : State::head;
  send_bytes(c, req);
}

void send_publish(Conn& c) {
  c.status = 0; c.chunked = false; c.close_after = false; c.cl_known = false; c.content_length = 0;
  c.body.clear(); c.cstate = 0; c.crem = 0; c.cdone = false;
  std::string body = make_payload(now_ns());
  std::string req = "POST /publish/" + opt.topic + " HTTP/1.1\r\nHost: " + host_header +
                    "\r\nContent-Type: text/plain\r\nContent-Length: " + std::to_string(body.size()) + "\r\n\r\n" + body;
  c.in_flight = true;
  if (c.state != State::connecting) c.state = State::head;
  send_bytes(c, req);
  if (measuring) ++st.published;
}

std::uint64_t parse_ts(const char* p, size_t n) {
  // "t=" + 19 digits
  if (n < 21 || p[0] != 't' || p[1] != '=') return 0;
  std::uint64_t v = 0;
  for (int i = 2; i < 21; ++i) {
    unsigned d = unsigned(p[i] - '0');
    if (d > 9) return 0;
    v = v * 10 + d;
  }
  return v;
}

void deliver(std::uint64_t ts, std::uint64_t now) {
  if (!measuring) return;
  ++st.deliveries;
  if (ts && now >= ts) hist.add(now - ts);
}

void close_conn(Conn& c, bool count = true);
void reconnect_publisher(Conn& c);

// ---- SSE line scanner over decoded bytes
void sse_line(Conn& c, const char* p, size_t n, std::uint64_t now) {
  if (n && p[n - 1] == '\r') --n;
  if (n == 0) {
    if (c.ev_has_data) deliver(c.ev_ts, now);
    c.ev_has_data = false;
    c.ev_ts = 0;
    return;
  }
  if (n >= 5 && std::memcmp(p, "data:", 5) == 0) {
    const char* v = p + 5;
    size_t vn = n - 5;
    if (vn && *v == ' ') { ++v; --vn; }
    if (!c.ev_has_data) c.ev_ts = parse_ts(v, vn);
    c.ev_has_data = true;
  } else if (n >= 6 && std::memcmp(p, "event:", 6) == 0) {
    if (std::string_view(p, n).find("reset") != std::string_view::npos && measuring) ++st.resets;
  }
}

void sse_bytes(Conn& c, const char* p, size_t n, std::uint64_t now) {
  const char* end = p + n;
  while (p < end) {
    const char* nl = static_cast<const char*>(std::memchr(p, '\n', size_t(end - p)));
    if (!nl) { c.line.append(p, size_t(end - p)); return; }
    if (c.line.empty()) sse_line(c, p, size_t(nl - p), now);
    else { c.line.append(p, size_t(nl - p)); sse_line(c, c.line.data(), c.line.size(), now); c.line.clear(); }
    p = nl + 1;
  }
}

// ---- chunked decoder: calls sink(data, len) for payload bytes; returns true when the last chunk ended.
template <class Sink>
bool dechunk(Conn& c, const char* p, size_t n, Sink&& sink) {
  const char* end = p + n;
  while (p < end && !c.cdone) {
    switch (c.cstate) {
      case 0: {  // size line
        char ch = *p++;
        if (ch == '\n') {
          if (c.csize == 0) { c.cstate = 3; c.crem = 0; }
          else { c.crem = c.csize; c.cstate = 1; }
          c.csize = 0;
        } else if (c.cstate == 0) {
          int d = -1;
          if (ch >= '0' && ch <= '9') d = ch - '0';
          else if (ch >= 'a' && ch <= 'f') d = ch - 'a' + 10;
          else if (ch >= 'A' && ch <= 'F') d = ch - 'A' + 10;
          if (d >= 0 && c.crem == 0) c.csize = c.csize * 16 + size_t(d);
          else if (ch == ';') c.crem = 1;  // extension: ignore the rest of the line
        }
        break;
      }
      case 1: {
        size_t take = std::min(c.crem, size_t(end - p));
        sink(p, take);
        p += take;
        c.crem -= take;
        if (c.crem == 0) c.cstate = 2;
        break;
      }
      case 2:  // CRLF after the data
        if (*p++ == '\n') { c.cstate = 0; c.crem = 0; c.csize = 0; }
        break;
      case 3:  // trailers: an empty line ends
        if (*p == '\n') { if (c.crem == 0) c.cdone = true; c.crem = 0; }
        else if (*p != '\r') c.crem = 1;
        ++p;
        break;
    }
  }
  return c.cdone;
}

// ---- polling body: {"events":[{"id":N,"data":"t=..."}...],"next":M,"reset":...}
void poll_body(Conn& c, std::uint64_t now) {
  std::string_view b = c.body;
  size_t pos = 0;
  size_t got = 0;
  static constexpr std::string_view key = "\"data\":\"";
  while ((pos = b.find(key, pos)) != std::string_view::npos) {
    pos += key.size();
    deliver(parse_ts(b.data() + pos, b.size() - pos), now);
    ++got;
  }
  size_t np = b.find("\"next\":");
  if (np != std::string_view::npos) c.cursor = std::strtoull(b.data() + np + 7, nullptr, 10);
  if (b.find("\"reset\":true") != std::string_view::npos && measuring) ++st.resets;
  if (!got && measuring) ++st.empty_polls;
}

void response_done(Conn& c, std::uint64_t now) {
  c.in_flight = false;
  c.state = State::idle_http;
  switch (c.kind) {
    case Kind::publisher:
      if (c.status < 200 || c.status >= 300) ++st.publish_errors;
      if (c.close_after) { reconnect_publisher(c); return; }
      if (publish_backlog) { --publish_backlog; send_publish(c); }
      return;
    case Kind::lp_sub:
      if (c.status == 200) poll_body(c, now);
      else ++st.errors;
      if (c.close_after) { close_conn(c); return; }
      start_request(c);
      return;
    case Kind::sp_sub:
      if (c.status == 200) poll_body(c, now);
      else if (c.status != 304) ++st.errors;
      if (c.close_after) { close_conn(c); return; }
      return;  // the pacer sends the next one
    default:
      return;
  }
}

// Parses a response head at p (n bytes); returns its length, or 0 when incomplete.
size_t parse_head(Conn& c, const char* p, size_t n) {
  std::string_view s(p, n);
  size_t e = s.find("\r\n\r\n");
  if (e == std::string_view::npos) return 0;
  std::string_view h = s.substr(0, e + 2);
  if (h.size() < 12) { c.status = 0; return e + 4; }
  c.status = std::atoi(std::string(h.substr(9, 3)).c_str());
  bool http10 = h.substr(0, 8) == "HTTP/1.0";
  c.close_after = http10;
  size_t pos = h.find("\r\n") + 2;
  while (pos < h.size()) {
    size_t le = h.find("\r\n", pos);
    std::string_view line = h.substr(pos, le - pos);
    pos = le + 2;
    size_t colon = line.find(':');
    if (colon == std::string_view::npos) continue;
    std::string name(line.substr(0, colon));
    for (auto& ch : name) ch = char(std::tolower(static_cast<unsigned char>(ch)));
    std::string_view v = line.substr(colon + 1);
    while (!v.empty() && v.front() == ' ') v.remove_prefix(1);
    std::string val(v);
    for (auto& ch : val) ch = char(std::tolower(static_cast<unsigned char>(ch)));
    if (name == "content-length") { c.content_length = std::strtoull(val.c_str(), nullptr, 10); c.cl_known = true; }
    else if (name == "transfer-encoding" && val.find("chunked") != std::string::npos) c.chunked = true;
    else if (name == "connection") {
      if (val.find("close") != std::string::npos) c.close_after = true;
      if (val.find("keep-alive") != std::string::npos && http10) c.close_after = false;
    }
  }
  return e + 4;
}

// Consumes WebSocket frames from the server; returns bytes consumed.
size_t ws_frames(Conn& c, const char* p, size_t n, std::uint64_t now) {
  size_t off = 0;
  while (n - off >= 2) {
    const unsigned char* f = reinterpret_cast<const unsigned char*>(p + off);
    int op = f[0] & 0x0f;
    bool masked = f[1] & 0x80;
    std::uint64_t len = f[1] & 0x7f;
    size_t hl = 2;
    if (len == 126) { if (n - off < 4) break; len = (std::uint64_t(f[2]) << 8) | f[3]; hl = 4; }
    else if (len == 127) {
      if (n - off < 10) break;
      len = 0;
      for (int i = 0; i < 8; ++i) len = (len << 8) | f[2 + i];
      hl = 10;
    }
    if (masked) hl += 4;  // servers must not mask; tolerate
    if (n - off < hl + len) break;
    const char* pl = p + off + hl;
    if ((f[0] & 0x40) && len) {  // RSV1: permessage-deflate; inflate the head (the timestamp is there)
      static z_stream z{};
      static bool init = false;
      static char tail[] = {0, 0, char(0xff), char(0xff)};
      static char head[64];
      if (!init) { inflateInit2(&z, -15); init = true; }
      inflateReset(&z);
      z.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(pl));
      z.avail_in = unsigned(len);
      z.next_out = reinterpret_cast<Bytef*>(head);
      z.avail_out = sizeof head;
      inflate(&z, Z_SYNC_FLUSH);
      if (z.avail_out && z.avail_in == 0) {
        z.next_in = reinterpret_cast<Bytef*>(tail);
        z.avail_in = 4;
        inflate(&z, Z_SYNC_FLUSH);
      }
      if (op == 0x1 || op == 0x2) { deliver(parse_ts(head, sizeof head - z.avail_out), now); off += hl + size_t(len); continue; }
    }
    switch (op) {
      case 0x1: case 0x2: case 0x0:
        if (c.kind == Kind::echo) {
          deliver(parse_ts(pl, size_t(len)), now);
          if (c.state == State::ws_open) send_bytes(c, ws_frame(0x1, make_payload(now_ns())));
        } else {
          deliver(parse_ts(pl, size_t(len)), now);
        }
        break;
      case 0x9:  // ping: pong with the same payload
        send_bytes(c, ws_frame(0xA, std::string_view(pl, size_t(len))));
        break;
      case 0x8:
        if (c.state == State::ws_open) send_bytes(c, ws_frame(0x8, std::string_view(pl, std::min<size_t>(2, size_t(len)))));
        c.state = State::closed;
        break;
      default:
        break;
    }
    off += hl + size_t(len);
  }
  return off;
}

// Consumes bytes in the connection's current state; returns bytes consumed (the rest waits for more).
size_t consume(Conn& c, const char* p, size_t n, std::uint64_t now) {
  size_t used = 0;
  while (used < n) {
    switch (c.state) {
      case State::connecting:
      case State::idle_http:
        if (c.kind == Kind::publisher || c.kind == Kind::sp_sub || c.kind == Kind::lp_sub) return n;  // stray bytes
        c.state = State::head;
        [[fallthrough]];
      case State::head: {
        size_t h = parse_head(c, p + used, n - used);
        if (!h) return used;
        used += h;
        if (c.kind == Kind::ws_sub || c.kind == Kind::echo) {
          if (c.status != 101) { ++st.errors; c.state = State::closed; return n; }
          c.state = State::ws_open;
          if (c.kind == Kind::echo) send_bytes(c, ws_frame(0x1, make_payload(now_ns())));
        } else if (c.kind == Kind::sse_sub) {
          if (c.status != 200) { ++st.errors; c.state = State::closed; return n; }
          c.state = State::stream;
        } else {
          c.state = State::body;
          if (!c.chunked && c.cl_known && c.content_length == 0) response_done(c, now);
        }
        break;
      }
      case State::ws_open:
      case State::closed: {
        if (c.state == State::closed) return n;
        size_t k = ws_frames(c, p + used, n - used, now);
        used += k;
        return used;
      }
      case State::stream:
        if (c.chunked) dechunk(c, p + used, n - used, [&](const char* d, size_t k) { sse_bytes(c, d, k, now); });
        else sse_bytes(c, p + used, n - used, now);
        return n;
      case State::body: {
        if (c.chunked) {
          // dechunk byte-wise so that we stop exactly at the end of this response
          const char* q = p + used;
          size_t k = 0;
          while (k < n - used && !c.cdone) {
            dechunk(c, q + k, 1, [&](const char* d, size_t m) { c.body.append(d, m); });
            ++k;
          }
          used += k;
          if (c.cdone) response_done(c, now);
          else return used;
        } else if (c.cl_known) {
          size_t need = c.content_length - c.body.size();
          size_t take = std::min(need, n - used);
          c.body.append(p + used, take);
          used += take;
          if (c.body.size() == c.content_length) response_done(c, now);
          else return used;
        } else {  // close-delimited
          c.body.append(p + used, n - used);
          return n;
        }
        break;
      }
    }
  }
  return used;
}

int connected_count = 0, connecting_count = 0;

void close_conn(Conn& c, bool count) {
  if (c.fd < 0) return;
  if (count) ++st.closed;
  if (c.state == State::connecting) --connecting_count;
  else if (is_sub(c.kind)) --connected_count;
  epoll_ctl(ep, EPOLL_CTL_DEL, c.fd, nullptr);
  if (c.ssl) { SSL_free(c.ssl); c.ssl = nullptr; }
  ::close(c.fd);
  conns[size_t(c.fd)] = nullptr;
  c.fd = -1;
  c.state = State::closed;
}

void reconnect_publisher(Conn& c) {
  close_conn(c, false);
  int fd = open_socket(c.index);
  if (fd < 0) { ++st.errors; return; }
  c.fd = fd;
  c.state = State::connecting;
  c.in.clear(); c.out.clear(); c.out_off = 0;
  if (size_t(fd) >= conns.size()) conns.resize(size_t(fd) + 1024, nullptr);
  conns[size_t(fd)] = &c;
  epoll_event e{};
  e.events = EPOLLIN | EPOLLOUT | EPOLLRDHUP;
  e.data.ptr = &c;
  epoll_ctl(ep, EPOLL_CTL_ADD, fd, &e);
  ++connecting_count;
  if (publish_backlog) { --publish_backlog; send_publish(c); }
}

// Bytes read (rbuf[0..n)) go to the connection's parser, after any partial input.
void feed(Conn& c, size_t n, std::uint64_t now) {
  if (c.in.empty()) {
    size_t used = consume(c, rbuf, n, now);
    if (used < n) c.in.assign(rbuf + used, n - used);
  } else {
    c.in.append(rbuf, n);
    size_t used = consume(c, c.in.data(), c.in.size(), now);
    c.in.erase(0, used);
  }
}

void on_eof(Conn& c, std::uint64_t now) {
  if (c.state == State::body && !c.chunked && !c.cl_known) { c.close_after = true; response_done(c, now); }
  if (c.kind == Kind::publisher && c.fd >= 0) {
    // A server that closes after each response (websocketpp) may close
    // before our next request reached it: resend that one, not an error.
    if (c.in_flight && c.state == State::head && c.in.empty() && c.status == 0) {
      ++publish_backlog;
      if (measuring && st.published) --st.published;
    } else if (c.in_flight) {
      ++st.publish_errors;
    }
    c.in_flight = false;
    reconnect_publisher(c);
    return;
  }
  if (c.fd >= 0) close_conn(c);
}

void on_readable_tls(Conn& c, std::uint64_t now);

void on_readable(Conn& c, std::uint64_t now) {
  if (c.ssl) return on_readable_tls(c, now);
  for (int round = 0; round < 4 && c.fd >= 0; ++round) {
    ssize_t n = ::recv(c.fd, rbuf, sizeof rbuf, 0);
    if (n > 0) {
      count_rx(c, size_t(n));
      feed(c, size_t(n), now);
      if (size_t(n) < sizeof rbuf) return;
      continue;
    }
    if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) return;
    return on_eof(c, now);  // EOF or error
  }
}

// Reads until OpenSSL wants more from the socket: records it has already
// pulled in (read-ahead) raise no epoll event of their own.
void on_readable_tls(Conn& c, std::uint64_t now) {
  SSL* ssl = c.ssl;
  BIO* wire = SSL_get_rbio(ssl);
  for (;;) {
    std::uint64_t before = BIO_number_read(wire);
    int n = SSL_read(ssl, rbuf, int(sizeof rbuf));
    count_rx(c, size_t(BIO_number_read(wire) - before));
    if (n > 0) {
      feed(c, size_t(n), now);
      if (c.ssl != ssl) return;  // closed, or a publisher reconnected
      continue;
    }
    int e = SSL_get_error(ssl, n);
    if (e == SSL_ERROR_WANT_READ) return;
    if (e == SSL_ERROR_WANT_WRITE) { ep_mod(c, true); return; }
    ERR_clear_error();
    return on_eof(c, now);  // close_notify, EOF or error
  }
}

// TCP (and TLS) is up: the queued request goes out.
void connected(Conn& c) {
  --connecting_count;
  if (c.kind == Kind::publisher) {
    c.state = c.in_flight ? State::head : State::idle_http;
  } else {
    c.state = (c.kind == Kind::sp_sub && !c.in_flight) ? State::idle_http : State::head;
    ++connected_count;
  }
  ep_mod(c, false);
  flush(c);
  if (c.kind == Kind::publisher && !c.in_flight && publish_backlog) { --publish_backlog; send_publish(c); }
}

// A failed TCP connect or TLS handshake (the connection is still "connecting").
void connect_failed(Conn& c) {
  ++st.errors;
  if (c.kind == Kind::publisher) reconnect_publisher(c);
  else close_conn(c, false);
}

void tls_handshake(Conn& c) {
  int r = SSL_do_handshake(c.ssl);
  if (r == 1) {
    if (tls_cipher.empty()) tls_cipher = std::string(SSL_get_version(c.ssl)) + " " + SSL_get_cipher_name(c.ssl);
    return connected(c);
  }
  int e = SSL_get_error(c.ssl, r);
  if (e == SSL_ERROR_WANT_READ) return ep_mod(c, false);
  if (e == SSL_ERROR_WANT_WRITE) return ep_mod(c, true);
  ERR_clear_error();
  connect_failed(c);
}

void tls_start(Conn& c) {
  c.ssl = SSL_new(tls_ctx);
  if (!c.ssl || SSL_set_fd(c.ssl, c.fd) != 1) { ERR_clear_error(); return connect_failed(c); }
  SSL_set_connect_state(c.ssl);
  tls_handshake(c);
}

void tls_init() {
  tls_ctx = SSL_CTX_new(TLS_client_method());
  if (!tls_ctx) die("cannot make an SSL_CTX");
  SSL_CTX_set_min_proto_version(tls_ctx, TLS1_3_VERSION);
  // No certificate verification: the benchmark's servers make a self-signed
  // certificate at startup, and trust is not what is measured. (The server
  // still signs the handshake and the client still checks that signature.)
  SSL_CTX_set_verify(tls_ctx, SSL_VERIFY_NONE, nullptr);
  // Read-ahead: one recv per burst of records, not two per record.
  SSL_CTX_set_read_ahead(tls_ctx, 1);
  // c.out may grow (and move) between a WANT_WRITE and the retry.
  SSL_CTX_set_mode(tls_ctx, SSL_MODE_ENABLE_PARTIAL_WRITE | SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER);
}

void raise_nofile() {
  rlimit r{};
  getrlimit(RLIMIT_NOFILE, &r);
  r.rlim_cur = r.rlim_max;
  setrlimit(RLIMIT_NOFILE, &r);
}

void usage() {
  std::fprintf(stderr,
               "usage: loadgen --mode ws-echo|ws-fanout|sse-fanout|longpoll-fanout|shortpoll|idle --port P\n"
               "  [--host 127.0.0.1] [--server-pid PID] [--server NAME] [--conns N] [--rate EV/S]\n"
               "  [--payload B] [--duration S] [--warmup S] [--topic T] [--interval-ms MS]\n"
               "  [--idle-kind ws|sse] [--src-addrs K] [--publishers P] [--connect-parallel C] [--cdf] [--tls]\n");
  std::exit(2);
}

void parse_args(int argc, char** argv) {
  for (int i = 1; i < argc; ++i) {
    std::string a = argv[i];
    auto v = [&]() -> std::string { if (i + 1 >= argc) usage(); return argv[++i]; };
    if (a == "--mode") opt.mode = v();
    else if (a == "--host") opt.host = v();
    else if (a == "--port") opt.port = std::stoi(v());
    else if (a == "--server-pid") opt.server_pid = std::stoi(v());
    else if (a == "--server") opt.server = v();
    else if (a == "--conns") opt.conns = std::stoi(v());
    else if (a == "--rate") opt.rate = std::stod(v());
    else if (a == "--payload") opt.payload = std::stoi(v());
    else if (a == "--duration") opt.duration = std::stod(v());
    else if (a == "--warmup") opt.warmup = std::stod(v());
    else if (a == "--topic") opt.topic = v();
    else if (a == "--interval-ms") opt.interval_ms = std::stoi(v());
    else if (a == "--idle-kind") opt.idle_kind = v();
    else if (a == "--src-addrs") opt.src_addrs = std::stoi(v());
    else if (a == "--publishers") opt.publishers = std::stoi(v());
    else if (a == "--connect-parallel") opt.connect_parallel = std::stoi(v());
    else if (a == "--longpoll-timeout-ms") opt.longpoll_timeout_ms = std::stoi(v());
    else if (a == "--connect-timeout") opt.connect_timeout = std::stod(v());
    else if (a == "--cdf") opt.cdf = true;
    else if (a == "--deflate") opt.deflate = true;
    else if (a == "--tls") opt.tls = true;
    else usage();
  }
  if (!opt.port) usage();
  if (opt.payload < 24) opt.payload = 24;
}

std::string jnum(double v) {
  char b[64];
  if (!std::isfinite(v)) return "null";
  std::snprintf(b, sizeof b, "%.6g", v);
  return b;
}

}  // namespace

int main(int argc, char** argv) {
  parse_args(argc, argv);
  std::signal(SIGPIPE, SIG_IGN);
  raise_nofile();
  payload_pad.assign(size_t(opt.payload), 'x');
  if (opt.topic.empty()) opt.topic = "b" + std::to_string(getpid());
  host_header = opt.host + ":" + std::to_string(opt.port);
  ep = epoll_create1(EPOLL_CLOEXEC);
  if (opt.tls) tls_init();

  Kind sub_kind;
  bool needs_publisher = true;
  if (opt.mode == "ws-echo") { sub_kind = Kind::echo; needs_publisher = false; }
  else if (opt.mode == "ws-fanout") sub_kind = Kind::ws_sub;
  else if (opt.mode == "sse-fanout") sub_kind = Kind::sse_sub;
  else if (opt.mode == "longpoll-fanout") sub_kind = Kind::lp_sub;
  else if (opt.mode == "shortpoll") sub_kind = Kind::sp_sub;
  else if (opt.mode == "idle") { sub_kind = opt.idle_kind == "sse" ? Kind::sse_sub : Kind::ws_sub; needs_publisher = false; }
  else usage();

  // Long/short polling clients start from the current head (no history replay in the window).
  ProcSample base = proc_sample(opt.server_pid);

  // Idle: a warm-up batch first (allocator arenas, first pages), then the baseline.
  int warm = opt.mode == "idle" ? std::min(200, opt.conns / 10) : 0;

  int timer = timerfd_create(CLOCK_MONOTONIC, TFD_NONBLOCK | TFD_CLOEXEC);
  itimerspec its{};
  its.it_interval.tv_nsec = 1000000;  // 1 ms tick for pacing
  its.it_value.tv_nsec = 1000000;
  timerfd_settime(timer, 0, &its, nullptr);
  epoll_event te{};
  te.events = EPOLLIN;
  te.data.ptr = nullptr;
  epoll_ctl(ep, EPOLL_CTL_ADD, timer, &te);

  if (needs_publisher)
    for (int i = 0; i < opt.publishers; ++i) {
      Conn* c = new_conn(Kind::publisher, i);
      if (!c) die("cannot open publisher connection");
      ++connecting_count;
      pubs.push_back(c);
    }

  // Phases: 0 connecting, 1 warm-up, 2 measuring, 3 done
  int phase = 0;
  int next_sub = 0;
  ProcSample rss_base{}, s0{}, s1{};
  double self0 = 0, self1 = 0;
  std::uint64_t t_start = now_ns(), t_phase = t_start, t0 = 0, t1 = 0;
  std::uint64_t pub_origin = 0, pub_due_done = 0;
  bool rss_base_taken = warm == 0;
  if (rss_base_taken) rss_base = base;
  int subs_open_target = opt.conns;
  std::vector<epoll_event> evs(4096);
  std::uint64_t sp_phase_step = opt.conns ? std::uint64_t(opt.interval_ms) * 1000000ull / std::uint64_t(opt.conns) : 0;

  while (phase < 3) {
    std::uint64_t now = now_ns();
    // Open more subscribers, a bounded number in flight.
    while (phase == 0 && next_sub < opt.conns && connecting_count < opt.connect_parallel) {
      Conn* c = new_conn(sub_kind, next_sub);
      if (!c) { ++next_sub; continue; }
      ++connecting_count;
      subs.push_back(c);
      ++next_sub;
    }
    if (!rss_base_taken && connected_count >= warm) {
      // settle briefly so the warm batch is fully accounted
      rss_base = proc_sample(opt.server_pid);
      rss_base_taken = true;
    }
    if (phase == 0 && next_sub >= opt.conns && connecting_count == 0) {
      phase = 1;
      t_phase = now;
      if (sub_kind == Kind::sp_sub)
        for (size_t i = 0; i < subs.size(); ++i) subs[i]->next_due = now + i * sp_phase_step;
      pub_origin = now;
      pub_due_done = 0;
    }
    if (phase == 0 && double(now - t_start) / 1e9 > opt.connect_timeout) {
      std::fprintf(stderr, "loadgen: connect timeout with %d of %d up\n", connected_count, opt.conns);
      phase = 1;
      t_phase = now;
      pub_origin = now;
    }
    if (phase == 1 && double(now - t_phase) / 1e9 >= opt.warmup) {
      phase = 2;
      measuring = true;
      s0 = proc_sample(opt.server_pid);
      self0 = self_cpu_s();
      t0 = now;
      subs_open_target = connected_count;
    }
    if (phase == 2 && double(now - t0) / 1e9 >= opt.duration) {
      t1 = now;
      s1 = proc_sample(opt.server_pid);
      self1 = self_cpu_s();
      measuring = false;
      phase = 3;
      break;
    }

    int n = epoll_wait(ep, evs.data(), int(evs.size()), 5);
    now = now_ns();
    for (int i = 0; i < n; ++i) {
      Conn* c = static_cast<Conn*>(evs[size_t(i)].data.ptr);
      if (!c) {  // pacing tick
        std::uint64_t exp;
        (void)!::read(timer, &exp, sizeof exp);
        if (phase >= 1 && needs_publisher && opt.rate > 0) {
          std::uint64_t due = std::uint64_t(double(now - pub_origin) / 1e9 * opt.rate);
          while (pub_due_done < due) {
            ++pub_due_done;
            Conn* free_pub = nullptr;
            for (Conn* p : pubs)
              if (!p->in_flight && p->fd >= 0 && p->state != State::connecting) { free_pub = p; break; }
            if (free_pub) send_publish(*free_pub);
            else ++publish_backlog;
          }
        }
        if (phase >= 1 && sub_kind == Kind::sp_sub) {
          std::uint64_t step = std::uint64_t(opt.interval_ms) * 1000000ull;
          for (Conn* s : subs)
            if (s->fd >= 0 && !s->in_flight && s->state == State::idle_http && now >= s->next_due) {
              s->next_due += step;
              if (s->next_due < now) s->next_due = now + step;
              start_request(*s);
            }
        }
        continue;
      }
      if (c->fd < 0) continue;
      std::uint32_t ev = evs[size_t(i)].events;
      if (c->state == State::connecting && c->ssl) {
        tls_handshake(*c);
        if (c->state == State::connecting) continue;
      } else if (c->state == State::connecting && (ev & (EPOLLOUT | EPOLLERR | EPOLLHUP))) {
        int err = 0;
        socklen_t len = sizeof err;
        getsockopt(c->fd, SOL_SOCKET, SO_ERROR, &err, &len);
        if (err) { connect_failed(*c); continue; }
        if (opt.tls) { tls_start(*c); continue; }  // still "connecting" until the handshake ends
        connected(*c);
      } else if (ev & EPOLLOUT) {
        ep_mod(*c, false);
        flush(*c);
      }
      if (c->fd >= 0 && (ev & (EPOLLIN | EPOLLRDHUP | EPOLLHUP | EPOLLERR))) on_readable(*c, now);
    }
  }

  // Idle and fan-out: RSS with everything connected.
  ProcSample rss_full = s1.rss_kb ? s1 : proc_sample(opt.server_pid);
  double secs = double(t1 - t0) / 1e9;
  double cpu = s1.cpu_s - s0.cpu_s;
  double d = double(st.deliveries);
  int counted = std::max(0, subs_open_target - (rss_base_taken && warm ? warm : 0));
  double rss_per_conn = counted > 0 ? (double(rss_full.rss_kb - rss_base.rss_kb) * 1024.0 / counted) : NAN;

  std::string o = "{";
  auto kv = [&](const char* k, const std::string& v, bool str = false) {
    if (o.size() > 1) o += ",";
    o += "\""; o += k; o += "\":";
    if (str) { o += "\""; o += v; o += "\""; } else o += v;
  };
  kv("mode", opt.mode, true);
  kv("server", opt.server, true);
  if (opt.mode == "idle") kv("idle_kind", opt.idle_kind, true);
  if (opt.deflate) kv("deflate", "true");
  kv("tls", opt.tls ? "true" : "false");
  if (opt.tls) kv("tls_cipher", tls_cipher, true);
  kv("conns", std::to_string(opt.conns));
  kv("connected", std::to_string(subs_open_target));
  kv("rate", jnum(opt.rate));
  if (opt.mode == "shortpoll") kv("interval_ms", std::to_string(opt.interval_ms));
  kv("payload", std::to_string(opt.payload));
  kv("seconds", jnum(secs));
  kv("published", std::to_string(st.published));
  kv("deliveries", std::to_string(st.deliveries));
  kv("expected_deliveries", std::to_string(st.published * std::uint64_t(std::max(0, subs_open_target))));
  kv("deliveries_per_s", jnum(d / secs));
  o += ",\"latency_us\":{";
  o += "\"p50\":" + jnum(hist.quantile(0.5) / 1e3) + ",\"p90\":" + jnum(hist.quantile(0.9) / 1e3) +
       ",\"p99\":" + jnum(hist.quantile(0.99) / 1e3) + ",\"p999\":" + jnum(hist.quantile(0.999) / 1e3) +
       ",\"max\":" + jnum(double(hist.max) / 1e3) + ",\"mean\":" + jnum(hist.count ? hist.sum / double(hist.count) / 1e3 : 0) +
       ",\"samples\":" + std::to_string(hist.count) + "}";
  kv("server_pid", std::to_string(opt.server_pid));
  kv("server_cpu_s", jnum(cpu));
  kv("server_cpu_util", jnum(cpu / secs));
  kv("server_cpu_ns_per_delivery", d > 0 ? jnum(cpu * 1e9 / d) : "null");
  kv("server_ctxsw_per_delivery", d > 0 ? jnum(double(s1.ctxsw - s0.ctxsw) / d) : "null");
  kv("server_rss_base_kb", std::to_string(rss_base.rss_kb));
  kv("server_rss_kb", std::to_string(rss_full.rss_kb));
  kv("server_rss_per_conn_b", jnum(rss_per_conn));
  kv("bytes_down_per_delivery", d > 0 ? jnum(double(st.sub_rx) / d) : "null");
  kv("bytes_up_per_delivery", d > 0 ? jnum(double(st.sub_tx) / d) : "null");
  kv("publish_bytes_up_per_event", st.published ? jnum(double(st.pub_tx) / double(st.published)) : "null");
  kv("publish_bytes_down_per_event", st.published ? jnum(double(st.pub_rx) / double(st.published)) : "null");
  kv("requests_per_delivery", d > 0 ? jnum(double(st.requests) / d) : "null");
  kv("empty_polls", std::to_string(st.empty_polls));
  kv("publish_errors", std::to_string(st.publish_errors));
  kv("publish_backlog", std::to_string(publish_backlog));
  kv("errors", std::to_string(st.errors));
  kv("closed_by_server", std::to_string(st.closed));
  kv("resets", std::to_string(st.resets));
  kv("loadavg_1m", loadavg());
  kv("loadgen_cpu_s", jnum(self1 - self0));
  kv("loadgen_cpu_util", jnum((self1 - self0) / secs));
  if (opt.cdf) {
    o += ",\"cdf_us\":[";
    std::uint64_t acc = 0;
    bool first = true;
    for (size_t i = 0; i < hist.b.size(); ++i) {
      if (!hist.b[i]) continue;
      acc += hist.b[i];
      if (!first) o += ",";
      first = false;
      o += "[" + jnum(double(Histogram::value(i)) / 1e3) + "," + jnum(double(acc) / double(hist.count)) + "]";
    }
    o += "]";
  }
  o += "}";
  std::puts(o.c_str());
  std::fflush(stdout);
  // Exit without closing sockets one by one (the kernel does it).
  std::_Exit(0);
}
