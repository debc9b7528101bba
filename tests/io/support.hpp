// Test support: a blocking client over a real socket with bounded waits, and a
// server fixture on 127.0.0.1 with an OS-chosen port.
#pragma once
#include <herald/http/server.hpp>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <chrono>
#include <functional>
#include <stdexcept>
#include <string>

namespace test {

/// A client socket whose every wait is bounded (default 5 s).
class Client {
 public:
  /// `rcvbuf` > 0 fixes the receive buffer (no autotuning), so a client that
  /// stops reading stops the flow at a known point.
  explicit Client(unsigned short port, int rcvbuf = 0) {
    fd_ = ::socket(AF_INET, SOCK_STREAM, 0);
    if (rcvbuf > 0) ::setsockopt(fd_, SOL_SOCKET, SO_RCVBUF, &rcvbuf, sizeof rcvbuf);
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_port = htons(port);
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (::connect(fd_, reinterpret_cast<sockaddr*>(&a), sizeof a) != 0) throw std::runtime_error("connect failed");
  }
  ~Client() { if (fd_ >= 0) ::close(fd_); }
  Client(const Client&) = delete;

  void send(std::string_view s) {
    while (!s.empty()) {
      ssize_t n = ::send(fd_, s.data(), s.size(), MSG_NOSIGNAL);
      if (n <= 0) throw std::runtime_error("send failed");
      s.remove_prefix(static_cast<std::size_t>(n));
    }
  }
  /// Reads until `done(buffer)` or EOF or the timeout. Returns what was read.
  std::string read_until(const std::function<bool(const std::string&)>& done,
                         std::chrono::milliseconds timeout = std::chrono::seconds(5)) {
    auto end = std::chrono::steady_clock::now() + timeout;
    while (!done(buf_)) {
      auto left = std::chrono::duration_cast<std::chrono::milliseconds>(end - std::chrono::steady_clock::now());
      if (left.count() <= 0) break;
      pollfd p{fd_, POLLIN, 0};
      if (::poll(&p, 1, static_cast<int>(left.count())) <= 0) break;
      char tmp[65536];
      ssize_t n = ::recv(fd_, tmp, sizeof tmp, 0);
      if (n <= 0) { eof_ = true; break; }
      buf_.append(tmp, static_cast<std::size_t>(n));
    }
    return buf_;
  }
  std::string read_contains(std::string_view needle, std::chrono::milliseconds t = std::chrono::seconds(5)) {
    return read_until([&](const std::string& b) { return b.find(needle) != std::string::npos; }, t);
  }
  /// Reads to EOF (bounded).
  std::string read_to_eof(std::chrono::milliseconds t = std::chrono::seconds(5)) {
    return read_until([this](const std::string&) { return eof_; }, t);
  }
  bool eof() const { return eof_; }
  std::string& buffer() { return buf_; }
  int fd() const { return fd_; }

 private:
  int fd_ = -1;
  bool eof_ = false;
  std::string buf_;
};

/// One request/response on a fresh connection (Connection: close).
inline std::string request(unsigned short port, const std::string& raw) {
  Client c(port);
  c.send(raw);
  return c.read_to_eof();
}

inline int status_of(const std::string& response) {
  if (response.size() < 12 || response.compare(0, 5, "HTTP/") != 0) return 0;
  return std::stoi(response.substr(9, 3));
}

/// Waits (bounded) for a condition that another thread makes true.
inline bool eventually(const std::function<bool()>& f, std::chrono::milliseconds t = std::chrono::seconds(5)) {
  auto end = std::chrono::steady_clock::now() + t;
  while (!f()) {
    if (std::chrono::steady_clock::now() > end) return false;
    std::this_thread::yield();
  }
  return true;
}

}  // namespace test
