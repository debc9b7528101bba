// beast_server: the transport benchmark's endpoints written the way a Boost.Beast
// (1.74, Debian libboost-dev) user would: one io_context on one thread,
// beast::http for requests, beast::websocket for WebSocket (no permessage-deflate).
//   GET /ws/echo, GET /ws/topic/{t}, GET /sse/{t}, GET /longpoll/{t}?after=N&timeout_ms=T,
//   POST /publish/{t}
// Fair to the others: each event is encoded once per transport (the WebSocket
// payload is shared and Beast frames it per connection, as its API does; the
// SSE chunk and the JSON fragment are shared), one write in flight per
// connection with a queue behind it.
//
//   beast_server --port P [--bind 127.0.0.1]     prints "listening on http://ADDR:PORT"
#include <utility>  // Boost 1.74 asio/awaitable.hpp uses std::exchange without it (C++20)
#include <boost/asio.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <boost/beast/websocket.hpp>

#include <sys/resource.h>

#include <csignal>
#include <cstdio>
#include <deque>
#include <iostream>
#include <memory>
#include <string>
#include <unordered_map>
#include <unordered_set>
#include <vector>

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
namespace websocket = beast::websocket;
using tcp = asio::ip::tcp;
using Buf = std::shared_ptr<const std::string>;

namespace {

struct Subscriber {
  virtual ~Subscriber() = default;
  virtual void push(const Buf& ws_payload, const Buf& sse_chunk) = 0;
};

struct LongPoll;

struct Event {
  std::uint64_t id;
  Buf data, sse, json;
};

struct Topic {
  std::uint64_t head = 0;
  std::deque<Event> history;
  std::unordered_set<Subscriber*> subs;
  std::vector<std::shared_ptr<LongPoll>> parked;
};

std::unordered_map<std::string, Topic> topics;

std::string json_escape(std::string_view s) {
  std::string o;
  for (char ch : s) {
    if (ch == '"' || ch == '\\') { o += '\\'; o += ch; }
    else if (ch == '\n') o += "\\n";
    else if (static_cast<unsigned char>(ch) < 0x20) { char b[8]; std::snprintf(b, sizeof b, "\\u%04x", ch); o += b; }
    else o += ch;
  }
  return o;
}

std::string poll_body(Topic& t, std::uint64_t after) {
  std::string body = "{\"events\":[";
  std::uint64_t next = after;
  bool first = true;
  bool reset = after > t.head;
  for (auto& e : t.history)
    if (e.id > after || reset) {
      if (!first) body += ',';
      first = false;
      body += *e.json;
      next = e.id;
    }
  body += "],\"next\":" + std::to_string(next) + ",\"reset\":" + (reset ? "true" : "false") + "}";
  return body;
}

void publish(const std::string& name, std::string data);

// ---------------------------------------------------------------- WebSocket
class WsSession : public Subscriber, public std::enable_shared_from_this<WsSession> {
 public:
  WsSession(tcp::socket s, std::string topic) : ws_(std::move(s)), topic_(std::move(topic)) {}
  ~WsSession() override {
    if (!topic_.empty()) topics[topic_].subs.erase(this);
  }
  void start(http::request<http::string_body> req) {
    ws_.set_option(websocket::stream_base::timeout::suggested(beast::role_type::server));
    ws_.async_accept(req, [self = shared_from_this()](beast::error_code ec) {
      if (ec) return;
      if (!self->topic_.empty()) topics[self->topic_].subs.insert(self.get());
      self->read();
    });
  }
  void push(const Buf& payload, const Buf&) override {
    q_.push_back(payload);
    if (q_.size() == 1) write();
  }

 private:
  void read() {
    ws_.async_read(buf_, [self = shared_from_this()](beast::error_code ec, std::size_t) {
      if (ec) return;
      if (self->topic_.empty()) {  // echo
        self->echo_text_.push_back(self->ws_.got_text());
        self->q_.push_back(std::make_shared<const std::string>(beast::buffers_to_string(self->buf_.data())));
        self->buf_.consume(self->buf_.size());
        if (self->q_.size() == 1) self->write();
      } else {
        std::string msg = beast::buffers_to_string(self->buf_.data());
        self->buf_.consume(self->buf_.size());
        publish(self->topic_, std::move(msg));
      }
      self->read();
    });
  }
  void write() {
    bool text = true;
    if (topic_.empty() && !echo_text_.empty()) text = echo_text_.front();
    ws_.text(text);
    ws_.async_write(asio::buffer(*q_.front()), [self = shared_from_this()](beast::error_code ec, std::size_t) {
      if (ec) return;
      self->q_.pop_front();
      if (self->topic_.empty() && !self->echo_text_.empty()) self->echo_text_.pop_front();
      if (!self->q_.empty()) self->write();
    });
  }
  websocket::stream<tcp::socket> ws_;
  std::string topic_;
  beast::flat_buffer buf_;
  std::deque<Buf> q_;
  std::deque<bool> echo_text_;
};

// ---------------------------------------------------------------- SSE
class SseSession : public Subscriber, public std::enable_shared_from_this<SseSession> {
 public:
  SseSession(tcp::socket s, std::string topic) : sock_(std::move(s)), topic_(std::move(topic)) {}
  ~SseSession() override { topics[topic_].subs.erase(this); }
  void start() {
    auto res = std::make_shared<http::response<http::empty_body>>(http::status::ok, 11);
    res->set(http::field::content_type, "text/event-stream; charset=utf-8");
    res->set(http::field::cache_control, "no-cache");
    res->set("X-Accel-Buffering", "no");
    res->chunked(true);
    auto sr = std::make_shared<http::response_serializer<http::empty_body>>(*res);
    http::async_write_header(sock_, *sr, [self = shared_from_this(), res, sr](beast::error_code ec, std::size_t) {
      if (ec) return;
      topics[self->topic_].subs.insert(self.get());
      self->push(nullptr, std::make_shared<const std::string>("d\r\nretry: 2000\n\n\r\n"));
      self->watch();
    });
  }
  void push(const Buf&, const Buf& chunk) override {
    q_.push_back(chunk);
    if (q_.size() == 1) write();
  }

 private:
  void watch() {  // notice the peer leaving
    sock_.async_read_some(asio::buffer(scratch_), [self = shared_from_this()](beast::error_code ec, std::size_t) {
      if (ec) { self->sock_.close(ec); return; }
      self->watch();
    });
  }
  void write() {
    asio::async_write(sock_, asio::buffer(*q_.front()), [self = shared_from_this()](beast::error_code ec, std::size_t) {
      if (ec) return;
      self->q_.pop_front();
      if (!self->q_.empty()) self->write();
    });
  }
  tcp::socket sock_;
  std::string topic_;
  std::deque<Buf> q_;
  char scratch_[64];
};

// ---------------------------------------------------------------- HTTP
class HttpSession;
struct LongPoll {
  std::weak_ptr<HttpSession> session;
  std::uint64_t after;
  std::string topic;
  std::unique_ptr<asio::steady_timer> timer;
  bool done = false;
};

class HttpSession : public std::enable_shared_from_this<HttpSession> {
 public:
  explicit HttpSession(tcp::socket s) : sock_(std::move(s)) {}
  void start() { read(); }
  void answer_poll(const std::string& topic, std::uint64_t after) {
    auto res = std::make_shared<http::response<http::string_body>>(http::status::ok, 11);
    res->set(http::field::cache_control, "no-store");
    res->set(http::field::content_type, "application/json");
    res->body() = poll_body(topics[topic], after);
    res->prepare_payload();
    send(res);
  }

 private:
  void read() {
    req_ = {};
    http::async_read(sock_, buf_, req_, [self = shared_from_this()](beast::error_code ec, std::size_t) {
      if (ec) return;
      self->handle();
    });
  }
  template <class Res>
  void send(std::shared_ptr<Res> res) {
    http::async_write(sock_, *res, [self = shared_from_this(), res](beast::error_code ec, std::size_t) {
      if (ec) return;
      if (res->need_eof()) { self->sock_.shutdown(tcp::socket::shutdown_send, ec); return; }
      self->read();
    });
  }
  void simple(http::status st, std::string body, const char* type = "text/plain") {
    auto res = std::make_shared<http::response<http::string_body>>(st, req_.version());
    res->set(http::field::content_type, type);
    res->keep_alive(req_.keep_alive());
    res->body() = std::move(body);
    res->prepare_payload();
    send(res);
  }
  void handle() {
    std::string target(req_.target());
    std::string path = target.substr(0, target.find('?'));
    if (websocket::is_upgrade(req_)) {
      std::string topic;
      if (path.rfind("/ws/topic/", 0) == 0) topic = path.substr(10);
      else if (path != "/ws/echo") return simple(http::status::not_found, "not found\n");
      std::make_shared<WsSession>(std::move(sock_), topic)->start(std::move(req_));
      return;
    }
    if (req_.method() == http::verb::post && path.rfind("/publish/", 0) == 0) {
      std::string topic = path.substr(9);
      publish(topic, std::move(req_.body()));
      return simple(http::status::accepted, "{\"id\":" + std::to_string(topics[topic].head) + "}", "application/json");
    }
    if (req_.method() != http::verb::get) return simple(http::status::method_not_allowed, "method\n");
    if (path.rfind("/sse/", 0) == 0) {
      std::make_shared<SseSession>(std::move(sock_), path.substr(5))->start();
      return;
    }
    if (path.rfind("/longpoll/", 0) == 0) {
      std::string topic = path.substr(10);
      auto num = [&](const char* key) -> std::uint64_t {
        size_t p = target.find(std::string(key) + "=");
        return p == std::string::npos ? 0 : std::strtoull(target.c_str() + p + std::strlen(key) + 1, nullptr, 10);
      };
      std::uint64_t after = num("after"), timeout = num("timeout_ms");
      if (!timeout) timeout = 30000;
      Topic& t = topics[topic];
      if (after != t.head) return answer_poll(topic, after);
      auto lp = std::make_shared<LongPoll>();
      lp->session = shared_from_this();
      lp->after = after;
      lp->topic = topic;
      lp->timer = std::make_unique<asio::steady_timer>(sock_.get_executor(), std::chrono::milliseconds(timeout));
      lp->timer->async_wait([lp](beast::error_code ec) {
        if (ec || lp->done) return;
        lp->done = true;
        auto& v = topics[lp->topic].parked;
        std::erase(v, lp);
        if (auto s = lp->session.lock()) s->answer_poll(lp->topic, lp->after);
      });
      t.parked.push_back(lp);
      self_hold_ = shared_from_this();  // parked: the poll keeps the session
      return;
    }
    if (path == "/healthz") return simple(http::status::ok, "ok\n");
    simple(http::status::not_found, "not found\n");
  }
  tcp::socket sock_;
  beast::flat_buffer buf_;
  http::request<http::string_body> req_;
  std::shared_ptr<HttpSession> self_hold_;
  friend void publish(const std::string&, std::string);
};

void publish(const std::string& name, std::string data) {
  Topic& t = topics[name];
  Event e;
  e.id = ++t.head;
  std::string ev = "id: " + std::to_string(e.id) + "\ndata: " + data + "\n\n";
  char hex[20];
  std::snprintf(hex, sizeof hex, "%zx\r\n", ev.size());
  e.sse = std::make_shared<const std::string>(hex + ev + "\r\n");
  e.json = std::make_shared<const std::string>("{\"id\":" + std::to_string(e.id) + ",\"data\":\"" + json_escape(data) + "\"}");
  e.data = std::make_shared<const std::string>(std::move(data));
  t.history.push_back(e);
  if (t.history.size() > 1024) t.history.pop_front();
  for (Subscriber* s : t.subs) s->push(e.data, e.sse);
  if (!t.parked.empty()) {
    auto parked = std::move(t.parked);
    t.parked.clear();
    for (auto& lp : parked) {
      lp->done = true;
      lp->timer->cancel();
      if (auto s = lp->session.lock()) {
        s->self_hold_.reset();
        s->answer_poll(name, lp->after);
      }
    }
  }
}

void accept(tcp::acceptor& acc) {
  acc.async_accept([&acc](beast::error_code ec, tcp::socket s) {
    if (!ec) {
      s.set_option(tcp::no_delay(true));
      std::make_shared<HttpSession>(std::move(s))->start();
    }
    accept(acc);
  });
}

}  // namespace

int main(int argc, char** argv) {
  unsigned short port = 0;
  std::string bind = "127.0.0.1";
  for (int i = 1; i + 1 < argc; i += 2) {
    std::string a = argv[i];
    if (a == "--port") port = static_cast<unsigned short>(std::atoi(argv[i + 1]));
    else if (a == "--bind") bind = argv[i + 1];
  }
  rlimit r{};
  getrlimit(RLIMIT_NOFILE, &r);
  r.rlim_cur = r.rlim_max;
  setrlimit(RLIMIT_NOFILE, &r);
  std::signal(SIGPIPE, SIG_IGN);
  asio::io_context ioc(1);
  tcp::acceptor acc(ioc);
  tcp::endpoint ep(asio::ip::make_address(bind), port);
  acc.open(ep.protocol());
  acc.set_option(asio::socket_base::reuse_address(true));
  acc.bind(ep);
  acc.listen(4096);
  std::cout << "beast_server listening on http://" << bind << ":" << acc.local_endpoint().port() << std::endl;
  asio::signal_set sig(ioc, SIGTERM, SIGINT);
  sig.async_wait([](beast::error_code, int) { std::_Exit(0); });
  accept(acc);
  ioc.run();
}
