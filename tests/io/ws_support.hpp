// Test support for WebSocket io tests: a raw WebSocket peer over a blocking
// socket (to send what a correct client never would), a client-side
// io_context on its own thread, and bounded receives for herald's client.
#pragma once
#include <herald/websocket/client.hpp>

#include "support.hpp"

#include <asio/io_context.hpp>

#include <deque>
#include <future>
#include <optional>
#include <random>
#include <thread>

namespace test {

namespace ws = herald::websocket;

/// A frame as a client sends it: masked.
inline std::string masked(ws::Opcode op, std::string_view payload, bool fin = true, bool rsv1 = false) {
  ws::MaskKey k{0x11, 0x22, 0x33, 0x44};
  std::string out;
  ws::encode_frame(out, op, payload, fin, rsv1, &k);
  return out;
}

inline std::string upgrade_request(std::string_view path, std::string_view extra = {}) {
  std::string r = "GET ";
  r.append(path).append(" HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
                        "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n");
  r.append(extra).append("\r\n");
  return r;
}

/// What a raw peer received: one message, control frame, or close.
struct Received {
  ws::EventKind kind;
  std::string payload;
  std::uint16_t code = 0;
};

/// A WebSocket client made by hand over a blocking socket; every wait bounded.
class RawWs {
 public:
  RawWs(unsigned short port, std::string_view path, std::string_view extra = {}) : c_(port) {
    c_.send(upgrade_request(path, extra));
    c_.read_contains("\r\n\r\n");
    auto& b = c_.buffer();
    auto end = b.find("\r\n\r\n");
    head = end == std::string::npos ? b : b.substr(0, end + 4);
    status = test::status_of(head);
    off_ = end == std::string::npos ? b.size() : end + 4;
  }
  void send(std::string_view bytes) { c_.send(bytes); }
  /// Raw bytes received after the handshake so far.
  std::string_view raw() { return std::string_view(c_.buffer()).substr(head.size()); }
  Client& socket() { return c_; }

  std::optional<Received> next(std::chrono::milliseconds t = std::chrono::seconds(5)) {
    auto end = std::chrono::steady_clock::now() + t;
    while (got_.empty()) {
      auto& b = c_.buffer();
      if (off_ < b.size()) {
        std::span<std::uint8_t> in(reinterpret_cast<std::uint8_t*>(b.data()) + off_, b.size() - off_);
        off_ = b.size();
        for (ws::Event ev; (ev = reader_.next(in)).kind != ws::EventKind::need_more;) {
          got_.push_back({ev.kind, std::string(ev.payload), ev.close_code});
          if (ev.kind == ws::EventKind::error || ev.kind == ws::EventKind::close) break;
        }
        continue;
      }
      auto left = std::chrono::duration_cast<std::chrono::milliseconds>(end - std::chrono::steady_clock::now());
      if (c_.eof() || left.count() <= 0) return std::nullopt;
      std::size_t have = b.size();
      c_.read_until([have](const std::string& x) { return x.size() > have; }, left);
      if (c_.buffer().size() == have) return std::nullopt;
    }
    Received r = std::move(got_.front());
    got_.pop_front();
    return r;
  }
  /// The close code the server sent (0 if none within the wait).
  std::uint16_t close_code(std::chrono::milliseconds t = std::chrono::seconds(5)) {
    while (auto r = next(t))
      if (r->kind == ws::EventKind::close) return r->code;
    return 0;
  }
  bool eof(std::chrono::milliseconds t = std::chrono::seconds(5)) {
    c_.read_to_eof(t);
    return c_.eof();
  }

  std::string head;
  int status = 0;

 private:
  Client c_;
  ws::Reader reader_{{.role = ws::Role::client, .max_message_size = 64u << 20}};
  std::size_t off_ = 0;
  std::deque<Received> got_;
};

/// An io_context for herald clients, run by its own thread.
struct ClientLoop {
  asio::io_context io{1};
  asio::executor_work_guard<asio::io_context::executor_type> guard = asio::make_work_guard(io);
  std::thread thread{[this] { io.run(); }};
  ~ClientLoop() {
    guard.reset();
    io.stop();
    thread.join();
  }
  ws::Client connect(const std::string& url, ws::ClientOptions o = {}) { return ws::connect(io, url, std::move(o)); }
};

/// The next message of `c`, or nullopt after `t` (or once closed).
inline std::optional<ws::Message> recv(ws::Client& c, std::chrono::milliseconds t = std::chrono::seconds(10)) {
  auto f = c.async_receive(asio::use_future);
  if (f.wait_for(t) != std::future_status::ready) return std::nullopt;
  try {
    return f.get();
  } catch (const std::system_error&) {
    return std::nullopt;
  }
}

/// Valid UTF-8 of exactly `n` bytes, with 2- and 3-byte characters.
inline std::string text_of(std::size_t n) {
  std::string s;
  s.reserve(n);
  static constexpr std::string_view unit = "ab\xc3\xa9\xe2\x82\xac";  // a b é €
  while (s.size() + unit.size() <= n) s.append(unit);
  s.append(n - s.size(), 'x');
  return s;
}

/// `n` incompressible bytes.
inline std::string binary_of(std::size_t n, unsigned seed = 1) {
  std::mt19937_64 rng(seed);
  std::string s(n, '\0');
  for (std::size_t i = 0; i + 8 <= n; i += 8) {
    auto v = rng();
    std::memcpy(s.data() + i, &v, 8);
  }
  for (std::size_t i = n & ~std::size_t{7}; i < n; ++i) s[i] = static_cast<char>(rng());
  return s;
}

}  // namespace test
