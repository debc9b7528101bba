// limit_server: the least work a server can do for the wire bytes of the
// transport benchmark, so every other server is stated as a ratio to it.
// One thread, one epoll loop, level-triggered. Speaks just enough of
// CONTRACT.md for benchmarks/loadgen:
//   GET /ws/echo            WebSocket echo (same opcode)
//   GET /ws/topic/{t}       WebSocket subscriber (text messages from it are published)
//   GET /sse/{t}            SSE, chunked HTTP/1.1 (close-delimited for HTTP/1.0), "retry:" on connect
//   GET /longpoll/{t}?after=N[&timeout_ms=T]   long polling, JSON body as herald's
//   POST /publish/{t}       202 {"id":N}
// Each event is encoded once per transport (WebSocket frame, SSE chunk, JSON
// fragment) into a shared immutable buffer; a subscriber queues a reference;
// every connection gets at most one writev per loop pass. Request parsing is
// a search for the end of the head and the few fields needed; no validation
// beyond what keeps the server alive. Not a product: a yardstick.
//
//   limit_server --port P [--bind 127.0.0.1]     prints "listening on http://ADDR:PORT"
#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <openssl/sha.h>
#include <sys/epoll.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/timerfd.h>
#include <sys/uio.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <csignal>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <deque>
#include <memory>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

namespace {

using Buf = std::shared_ptr<const std::string>;

enum class Kind : std::uint8_t { http, ws_echo, ws_sub, sse, longpoll };

struct Topic;

struct Conn {
  int fd = -1;
  Kind kind = Kind::http;
  bool dirty = false;         // in the flush list
  bool closing = false;       // close once the queue is written
  bool http10 = false;
  bool want_out = false;
  Topic* topic = nullptr;
  std::uint32_t slot = 0;     // index in the topic's subscriber vector
  std::uint64_t after = 0;    // long poll cursor
  std::uint64_t deadline = 0; // long poll deadline (ms, monotonic)
  std::string in;             // only while a request or frame is partial
  std::vector<Buf> q;         // queued shared buffers (a vector: no allocation while idle)
  size_t q_head = 0;          // first unsent entry of q
  size_t q_off = 0;           // bytes of q[q_head] already written
};

struct Event {
  std::uint64_t id;
  Buf ws, sse, json;  // encoded once each
};

struct Topic {
  std::string name;
  std::uint64_t head = 0;
  std::deque<Event> history;  // long polling needs the events after a cursor
  std::vector<Conn*> ws, sse, lp;
};

int ep = -1;
std::unordered_map<std::string, std::unique_ptr<Topic>> topics;
std::vector<Conn*> dirty;
std::vector<Conn*> graveyard;
char rbuf[1 << 16];
constexpr size_t kHistory = 1024;

std::uint64_t now_ms() {
  timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return std::uint64_t(ts.tv_sec) * 1000 + std::uint64_t(ts.tv_nsec) / 1000000;
}

Buf make(std::string s) { return std::make_shared<const std::string>(std::move(s)); }

void mark(Conn& c) {
  if (!c.dirty) { c.dirty = true; dirty.push_back(&c); }
}
void queue(Conn& c, Buf b) {
  c.q.push_back(std::move(b));
  mark(c);
}

void detach(Conn& c) {
  if (!c.topic) return;
  std::vector<Conn*>* v = c.kind == Kind::ws_sub ? &c.topic->ws : c.kind == Kind::sse ? &c.topic->sse : &c.topic->lp;
  if (c.slot < v->size() && (*v)[c.slot] == &c) {
    (*v)[c.slot] = v->back();
    (*v)[c.slot]->slot = c.slot;
    v->pop_back();
  }
  c.topic = nullptr;
}

void destroy(Conn* c) {
  detach(*c);
  epoll_ctl(ep, EPOLL_CTL_DEL, c->fd, nullptr);
  ::close(c->fd);
  c->fd = -1;
  graveyard.push_back(c);  // freed after this loop pass: later events may still name it
}

Topic& topic(std::string_view name) {
  auto it = topics.find(std::string(name));
  if (it != topics.end()) return *it->second;
  auto t = std::make_unique<Topic>();
  t->name = name;
  Topic& r = *t;
  topics.emplace(std::string(name), std::move(t));
  return r;
}

std::string ws_header(int op, size_t n) {
  std::string h;
  h.push_back(char(0x80 | op));
  if (n < 126) h.push_back(char(n));
  else if (n < 65536) { h.push_back(char(126)); h.push_back(char(n >> 8)); h.push_back(char(n)); }
  else { h.push_back(char(127)); for (int i = 7; i >= 0; --i) h.push_back(char(std::uint64_t(n) >> (8 * i))); }
  return h;
}

std::string json_escape(std::string_view s) {
  std::string o;
  o.reserve(s.size() + 8);
  for (char ch : s) {
    switch (ch) {
      case '"': o += "\\\""; break;
      case '\\': o += "\\\\"; break;
      case '\n': o += "\\n"; break;
      case '\r': o += "\\r"; break;
      case '\t': o += "\\t"; break;
      default:
        if (static_cast<unsigned char>(ch) < 0x20) { char b[8]; std::snprintf(b, sizeof b, "\\u%04x", ch); o += b; }
        else o += ch;
    }
  }
  return o;
}

std::string hex(size_t n) { char b[20]; std::snprintf(b, sizeof b, "%zx", n); return b; }

Buf longpoll_body(Topic& t, std::uint64_t after) {
  std::string body = "{\"events\":[";
  bool first = true;
  std::uint64_t next = after;
  bool reset = false;
  std::uint64_t first_id = t.history.empty() ? t.head + 1 : t.history.front().id;
  if (after > t.head || (after + 1 < first_id && after != 0)) reset = true;
  for (auto& e : t.history)
    if (e.id > after || reset) {
      if (!first) body += ',';
      first = false;
      body += *e.json;
      next = e.id;
    }
  if (reset && t.history.empty()) next = t.head;
  body += "],\"next\":" + std::to_string(next) + ",\"reset\":" + (reset ? "true" : "false") + "}";
  return make("HTTP/1.1 200 OK\r\nCache-Control: no-store\r\nContent-Type: application/json\r\nContent-Length: " +
              std::to_string(body.size()) + "\r\n\r\n" + body);
}

void publish(Topic& t, std::string_view data) {
  Event e;
  e.id = ++t.head;
  e.ws = make(ws_header(0x1, data.size()) + std::string(data));
  // One "data:" line per payload line.
  std::string ev = "id: " + std::to_string(e.id) + "\n";
  size_t pos = 0;
  while (true) {
    size_t nl = data.find('\n', pos);
    ev += "data: ";
    ev.append(data.substr(pos, nl == std::string_view::npos ? std::string_view::npos : nl - pos));
    ev += '\n';
    if (nl == std::string_view::npos) break;
    pos = nl + 1;
  }
  ev += '\n';
  e.sse = make(hex(ev.size()) + "\r\n" + ev + "\r\n");
  e.json = make("{\"id\":" + std::to_string(e.id) + ",\"data\":\"" + json_escape(data) + "\"}");
  t.history.push_back(e);
  if (t.history.size() > kHistory) t.history.pop_front();
  for (Conn* c : t.ws) queue(*c, e.ws);
  for (Conn* c : t.sse) queue(*c, c->http10 ? make(ev) : e.sse);  // HTTP/1.0: rare, not shared
  if (!t.lp.empty()) {
    std::vector<Conn*> parked;
    parked.swap(t.lp);
    for (Conn* c : parked) {
      c->topic = nullptr;
      c->kind = Kind::http;
      queue(*c, longpoll_body(t, c->after));
    }
  }
}

std::string_view header(std::string_view head, std::string_view name) {
  // case-insensitive search for "\r\nName:"
  size_t pos = 0;
  while ((pos = head.find("\r\n", pos)) != std::string_view::npos) {
    pos += 2;
    if (head.size() - pos > name.size() && head[pos + name.size()] == ':' &&
        strncasecmp(head.data() + pos, name.data(), name.size()) == 0) {
      size_t v = pos + name.size() + 1;
      while (v < head.size() && head[v] == ' ') ++v;
      size_t e = head.find("\r\n", v);
      return head.substr(v, e - v);
    }
  }
  return {};
}

std::string base64(const unsigned char* p, size_t n) {
  static const char* t = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
  std::string o;
  for (size_t i = 0; i < n; i += 3) {
    std::uint32_t v = std::uint32_t(p[i]) << 16 | (i + 1 < n ? std::uint32_t(p[i + 1]) << 8 : 0) | (i + 2 < n ? p[i + 2] : 0);
    o += t[(v >> 18) & 63];
    o += t[(v >> 12) & 63];
    o += i + 1 < n ? t[(v >> 6) & 63] : '=';
    o += i + 2 < n ? t[v & 63] : '=';
  }
  return o;
}

void respond(Conn& c, int status, std::string_view reason, std::string_view type, std::string_view body) {
  queue(c, make("HTTP/1.1 " + std::to_string(status) + " " + std::string(reason) + "\r\nContent-Type: " +
                std::string(type) + "\r\nContent-Length: " + std::to_string(body.size()) + "\r\n\r\n" + std::string(body)));
}

std::uint64_t query_num(std::string_view target, std::string_view key) {
  size_t q = target.find('?');
  if (q == std::string_view::npos) return 0;
  std::string_view qs = target.substr(q + 1);
  size_t pos = 0;
  while (pos < qs.size()) {
    size_t amp = qs.find('&', pos);
    std::string_view kv = qs.substr(pos, amp == std::string_view::npos ? std::string_view::npos : amp - pos);
    if (kv.size() > key.size() && kv.substr(0, key.size()) == key && kv[key.size()] == '=')
      return std::strtoull(std::string(kv.substr(key.size() + 1)).c_str(), nullptr, 10);
    if (amp == std::string_view::npos) break;
    pos = amp + 1;
  }
  return 0;
}

// One complete request head (and body for POST). Returns false to close.
bool on_request(Conn& c, std::string_view head, std::string_view body) {
  size_t sp1 = head.find(' ');
  size_t sp2 = head.find(' ', sp1 + 1);
  if (sp1 == std::string_view::npos || sp2 == std::string_view::npos) return false;
  std::string_view method = head.substr(0, sp1);
  std::string_view target = head.substr(sp1 + 1, sp2 - sp1 - 1);
  c.http10 = head.substr(sp2 + 1, 8) == "HTTP/1.0";
  std::string_view path = target.substr(0, target.find('?'));
  if (method == "POST" && path.rfind("/publish/", 0) == 0) {
    Topic& t = topic(path.substr(9));
    publish(t, body);
    respond(c, 202, "Accepted", "application/json", "{\"id\":" + std::to_string(t.head) + "}");
    return true;
  }
  if (method != "GET") { respond(c, 405, "Method Not Allowed", "text/plain", "method\n"); return true; }
  if (path == "/ws/echo" || path.rfind("/ws/topic/", 0) == 0) {
    std::string key(header(head, "Sec-WebSocket-Key"));
    key += "258EAFA5-E914-47DA-95CA-C5AB0DC85B11";
    unsigned char digest[20];
    SHA1(reinterpret_cast<const unsigned char*>(key.data()), key.size(), digest);
    queue(c, make("HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: " +
                  base64(digest, 20) + "\r\n\r\n"));
    if (path == "/ws/echo") c.kind = Kind::ws_echo;
    else {
      Topic& t = topic(path.substr(10));
      c.kind = Kind::ws_sub;
      c.topic = &t;
      c.slot = std::uint32_t(t.ws.size());
      t.ws.push_back(&c);
    }
    return true;
  }
  if (path.rfind("/sse/", 0) == 0) {
    Topic& t = topic(path.substr(5));
    if (c.http10)
      queue(c, make("HTTP/1.0 200 OK\r\nContent-Type: text/event-stream; charset=utf-8\r\nCache-Control: no-cache\r\n\r\nretry: 2000\n\n"));
    else
      queue(c, make("HTTP/1.1 200 OK\r\nContent-Type: text/event-stream; charset=utf-8\r\nCache-Control: no-cache\r\n"
                    "X-Accel-Buffering: no\r\nTransfer-Encoding: chunked\r\n\r\nd\r\nretry: 2000\n\n\r\n"));
    c.kind = Kind::sse;
    c.topic = &t;
    c.slot = std::uint32_t(t.sse.size());
    t.sse.push_back(&c);
    return true;
  }
  if (path.rfind("/longpoll/", 0) == 0) {
    Topic& t = topic(path.substr(10));
    std::uint64_t after = query_num(target, "after");
    std::uint64_t timeout = query_num(target, "timeout_ms");
    if (!timeout) timeout = 30000;
    if (after < t.head || after > t.head) { queue(c, longpoll_body(t, after)); return true; }
    c.kind = Kind::longpoll;
    c.after = after;
    c.deadline = now_ms() + timeout;
    c.topic = &t;
    c.slot = std::uint32_t(t.lp.size());
    t.lp.push_back(&c);
    return true;
  }
  if (path == "/healthz") { respond(c, 200, "OK", "text/plain", "ok\n"); return true; }
  respond(c, 404, "Not Found", "text/plain", "not found\n");
  return true;
}

// WebSocket frames from a client (masked). Returns bytes consumed, or -1 to close.
long on_ws(Conn& c, char* p, size_t n) {
  size_t off = 0;
  while (n - off >= 6) {
    unsigned char* f = reinterpret_cast<unsigned char*>(p + off);
    int op = f[0] & 0x0f;
    std::uint64_t len = f[1] & 0x7f;
    size_t hl = 2;
    if (len == 126) { if (n - off < 8) break; len = (std::uint64_t(f[2]) << 8) | f[3]; hl = 4; }
    else if (len == 127) {
      if (n - off < 14) break;
      len = 0;
      for (int i = 0; i < 8; ++i) len = (len << 8) | f[2 + i];
      hl = 10;
    }
    if (!(f[1] & 0x80)) return -1;  // clients must mask
    if (n - off < hl + 4 + len) break;
    unsigned char* key = f + hl;
    char* pl = p + off + hl + 4;
    for (size_t i = 0; i < len; ++i) pl[i] = char(pl[i] ^ key[i & 3]);
    std::string_view payload(pl, size_t(len));
    if (op == 0x8) {
      queue(c, make(ws_header(0x8, std::min<size_t>(2, payload.size())) + std::string(payload.substr(0, 2))));
      c.closing = true;
      return long(n);
    }
    if (op == 0x9) queue(c, make(ws_header(0xA, payload.size()) + std::string(payload)));
    else if (op == 0x1 || op == 0x2 || op == 0x0) {
      if (c.kind == Kind::ws_echo) queue(c, make(ws_header(op ? op : 0x1, payload.size()) + std::string(payload)));
      else if (c.topic) publish(*c.topic, payload);
    }
    off += hl + 4 + size_t(len);
  }
  return long(off);
}

// HTTP requests; returns bytes consumed or -1 to close.
long on_http(Conn& c, char* p, size_t n) {
  size_t off = 0;
  while (off < n && c.kind == Kind::http) {
    std::string_view s(p + off, n - off);
    size_t e = s.find("\r\n\r\n");
    if (e == std::string_view::npos) { if (s.size() > 16384) return -1; break; }
    std::string_view head = s.substr(0, e + 2);
    size_t body_len = 0;
    std::string_view cl = header(head, "Content-Length");
    if (!cl.empty()) body_len = std::strtoull(std::string(cl).c_str(), nullptr, 10);
    if (s.size() < e + 4 + body_len) break;
    if (!on_request(c, head, s.substr(e + 4, body_len))) return -1;
    off += e + 4 + body_len;
  }
  if (c.kind == Kind::ws_echo || c.kind == Kind::ws_sub) {
    long k = on_ws(c, p + off, n - off);
    if (k < 0) return -1;
    off += size_t(k);
  }
  return long(off);
}

void on_readable(Conn* c) {
  ssize_t n = ::recv(c->fd, rbuf, sizeof rbuf, 0);
  if (n <= 0) {
    if (n < 0 && (errno == EAGAIN || errno == EINTR)) return;
    destroy(c);
    return;
  }
  char* p = rbuf;
  size_t len = size_t(n);
  if (!c->in.empty()) { c->in.append(rbuf, len); p = c->in.data(); len = c->in.size(); }
  long used;
  if (c->kind == Kind::ws_echo || c->kind == Kind::ws_sub) used = on_ws(*c, p, len);
  else if (c->kind == Kind::http) used = on_http(*c, p, len);
  else used = long(len);  // SSE / parked long poll: ignore what the client sends
  if (used < 0) { destroy(c); return; }
  if (c->in.empty()) { if (size_t(used) < len) c->in.assign(p + used, len - size_t(used)); }
  else { c->in.erase(0, size_t(used)); if (c->in.empty()) std::string().swap(c->in); }
}

void set_out(Conn& c, bool on) {
  if (c.want_out == on) return;
  c.want_out = on;
  epoll_event e{};
  e.events = EPOLLIN | (on ? EPOLLOUT : 0u);
  e.data.ptr = &c;
  epoll_ctl(ep, EPOLL_CTL_MOD, c.fd, &e);
}

// One writev per dirty connection per loop pass.
void flush_all() {
  std::vector<Conn*> list;
  list.swap(dirty);
  iovec iov[64];
  for (Conn* c : list) {
    c->dirty = false;
    if (c->fd < 0) continue;
    int k = 0;
    size_t off = c->q_off;
    for (size_t j = c->q_head; j < c->q.size() && k < 64; ++j, ++k) {
      iov[k].iov_base = const_cast<char*>(c->q[j]->data()) + off;
      iov[k].iov_len = c->q[j]->size() - off;
      off = 0;
    }
    if (k == 0) { if (c->closing) destroy(c); continue; }
    ssize_t w = ::writev(c->fd, iov, k);
    if (w < 0) {
      if (errno == EAGAIN) { set_out(*c, true); continue; }
      destroy(c);
      continue;
    }
    size_t left = size_t(w);
    while (left && c->q_head < c->q.size()) {
      size_t avail = c->q[c->q_head]->size() - c->q_off;
      if (left >= avail) { left -= avail; c->q[c->q_head++].reset(); c->q_off = 0; }
      else { c->q_off += left; left = 0; }
    }
    if (c->q_head == c->q.size()) { c->q.clear(); c->q_head = 0; }
    if (!c->q.empty()) set_out(*c, true);
    else {
      set_out(*c, false);
      if (c->closing) destroy(c);
    }
  }
}

void expire_longpolls() {
  std::uint64_t now = now_ms();
  for (auto& [name, t] : topics) {
    for (size_t i = 0; i < t->lp.size();) {
      Conn* c = t->lp[i];
      if (c->deadline <= now) {
        detach(*c);
        c->kind = Kind::http;
        queue(*c, longpoll_body(*t, c->after));
      } else {
        ++i;
      }
    }
  }
}

}  // namespace

int main(int argc, char** argv) {
  int port = 0;
  std::string bind_addr = "127.0.0.1";
  for (int i = 1; i + 1 < argc; i += 2) {
    std::string a = argv[i];
    if (a == "--port") port = std::atoi(argv[i + 1]);
    else if (a == "--bind") bind_addr = argv[i + 1];
  }
  std::signal(SIGPIPE, SIG_IGN);
  rlimit r{};
  getrlimit(RLIMIT_NOFILE, &r);
  r.rlim_cur = r.rlim_max;
  setrlimit(RLIMIT_NOFILE, &r);

  int lfd = ::socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  int one = 1;
  setsockopt(lfd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
  sockaddr_in sa{};
  sa.sin_family = AF_INET;
  sa.sin_port = htons(std::uint16_t(port));
  inet_pton(AF_INET, bind_addr.c_str(), &sa.sin_addr);
  if (::bind(lfd, reinterpret_cast<sockaddr*>(&sa), sizeof sa) != 0 || ::listen(lfd, 4096) != 0) {
    std::perror("limit_server: listen");
    return 1;
  }
  socklen_t sl = sizeof sa;
  getsockname(lfd, reinterpret_cast<sockaddr*>(&sa), &sl);
  std::printf("limit_server listening on http://%s:%d\n", bind_addr.c_str(), ntohs(sa.sin_port));
  std::fflush(stdout);

  ep = epoll_create1(EPOLL_CLOEXEC);
  epoll_event le{};
  le.events = EPOLLIN;
  le.data.ptr = nullptr;
  epoll_ctl(ep, EPOLL_CTL_ADD, lfd, &le);
  int tfd = timerfd_create(CLOCK_MONOTONIC, TFD_NONBLOCK | TFD_CLOEXEC);
  itimerspec its{};
  its.it_interval.tv_nsec = 100000000;  // 100 ms: long-poll deadlines
  its.it_value.tv_nsec = 100000000;
  timerfd_settime(tfd, 0, &its, nullptr);
  epoll_event tev{};
  tev.events = EPOLLIN;
  static int timer_tag;
  tev.data.ptr = &timer_tag;
  epoll_ctl(ep, EPOLL_CTL_ADD, tfd, &tev);

  std::signal(SIGTERM, [](int) { std::_Exit(0); });
  std::signal(SIGINT, [](int) { std::_Exit(0); });
  std::vector<epoll_event> evs(1024);
  while (true) {
    int n = epoll_wait(ep, evs.data(), int(evs.size()), -1);
    for (int i = 0; i < n; ++i) {
      void* ptr = evs[size_t(i)].data.ptr;
      if (ptr == nullptr) {
        for (int k = 0; k < 64; ++k) {
          int fd = ::accept4(lfd, nullptr, nullptr, SOCK_NONBLOCK | SOCK_CLOEXEC);
          if (fd < 0) break;
          setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
          Conn* c = new Conn;
          c->fd = fd;
          epoll_event e{};
          e.events = EPOLLIN;
          e.data.ptr = c;
          epoll_ctl(ep, EPOLL_CTL_ADD, fd, &e);
        }
        continue;
      }
      if (ptr == &timer_tag) {
        std::uint64_t x;
        (void)!::read(tfd, &x, sizeof x);
        expire_longpolls();
        continue;
      }
      Conn* c = static_cast<Conn*>(ptr);
      if (c->fd < 0) continue;
      std::uint32_t ev = evs[size_t(i)].events;
      if (ev & EPOLLOUT) mark(*c);
      if (ev & (EPOLLIN | EPOLLHUP | EPOLLERR)) on_readable(c);
    }
    flush_all();
    for (Conn* c : graveyard) delete c;
    graveyard.clear();
  }
}
