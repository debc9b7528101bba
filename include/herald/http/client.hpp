// herald: herald's own HTTP/1.1 client on Asio, for webhook deliveries: http
// and https (OpenSSL, verification on), connect and total timeouts, a capped
// response body, no redirects, connections kept alive per endpoint.
#pragma once
#include <herald/core/clock.hpp>
#include <herald/core/error.hpp>
#include <herald/http/response_parser.hpp>

#include <asio/any_io_executor.hpp>
#include <asio/associated_executor.hpp>
#include <asio/async_result.hpp>
#include <asio/connect.hpp>
#include <asio/executor_work_guard.hpp>
#include <asio/ip/tcp.hpp>
#include <asio/post.hpp>
#include <asio/read.hpp>
#include <asio/ssl.hpp>
#include <asio/steady_timer.hpp>
#include <asio/write.hpp>

#include <sys/socket.h>

#include <array>
#include <chrono>
#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <system_error>
#include <utility>
#include <vector>

namespace herald::http {

/// Client knobs; every bound is on by default.
struct ClientOptions {
  /// TCP connect plus TLS handshake. 10 s: a healthy endpoint connects in
  /// milliseconds; a black-holed one should not hold a delivery slot long.
  Clock::duration connect_timeout = std::chrono::seconds(10);
  /// The whole exchange, connect included. 30 s: Standard Webhooks senders
  /// (Svix: 15 s) expect receivers to answer fast and process later.
  Clock::duration total_timeout = std::chrono::seconds(30);
  /// Header and body caps on the response (body: 64 KiB).
  ResponseLimits limits{};
  /// Idle connections kept per (scheme, host, port).
  std::size_t max_idle_per_endpoint = 8;
  /// A pooled connection idle longer than this is closed instead of reused:
  /// servers drop idle keep-alive connections after 5 s (Node) to 75 s (nginx),
  /// and a write into one already closed costs a wasted attempt.
  Clock::duration max_idle = std::chrono::seconds(4);
  /// `User-Agent` sent with each request.
  std::string user_agent = "herald/0.1";
  /// TLS context for https. Null: the client's own, trusting the system's CA
  /// store (`set_default_verify_paths`) with peer verification on. Give your
  /// own to add a private CA; verification of the peer's certificate chain and
  /// of the host name is done per connection whatever the context says.
  std::shared_ptr<asio::ssl::context> tls{};
};

/// Where one request goes. The client never resolves names: it connects to
/// one of `addresses` (already resolved and checked by the caller, see
/// webhook/ssrf.hpp), while `host` goes in the Host header, the TLS SNI and
/// the certificate's name check.
struct ClientTarget {
  bool https = false;
  std::string host{};            ///< name or IP literal, without brackets
  std::uint16_t port = 80;
  std::vector<asio::ip::tcp::endpoint> addresses{};  ///< tried in order
};

/// A request. Host, Content-Length and User-Agent are added by the client.
struct ClientRequest {
  std::string method = "POST";
  std::string target = "/";  ///< origin-form: path and query
  std::vector<std::pair<std::string, std::string>> headers{};
  std::string body{};
};

namespace detail {

/// One connection: plain TCP, or TLS over TCP.
struct ClientStream {
  explicit ClientStream(const asio::any_io_executor& ex) : tcp(ex) {}
  asio::ip::tcp::socket tcp;                                     // plain
  std::unique_ptr<asio::ssl::stream<asio::ip::tcp::socket>> tls;  // https
  std::chrono::steady_clock::time_point idle_since{};
  asio::ip::tcp::socket& lowest() { return tls ? tls->next_layer() : tcp; }
  template <class F>
  void with(F&& f) {
    if (tls) f(*tls); else f(tcp);
  }
  void close() {
    std::error_code ec;
    lowest().close(ec);
  }
};

class ClientOpBase;

/// State shared by a Client and its operations in flight, so an operation
/// outliving its Client still completes safely.
struct ClientCore {
  ClientCore(asio::any_io_executor e, ClientOptions o) : ex(std::move(e)), opt(std::move(o)) {
    if (!opt.tls) {
      opt.tls = std::make_shared<asio::ssl::context>(asio::ssl::context::tls_client);
      std::error_code ec;
      opt.tls->set_default_verify_paths(ec);  // no store: every https peer fails verification, as it should
    }
  }
  asio::any_io_executor ex;
  ClientOptions opt;
  std::map<std::string, std::vector<std::unique_ptr<ClientStream>>> idle;
  std::uint64_t opened = 0, reused = 0;
  bool closed = false;
  /// Operations started and not finished, for Client::cancel (by start order).
  std::map<std::uint64_t, std::weak_ptr<ClientOpBase>> live;
  std::uint64_t next_op = 0;

  static std::string key(const ClientTarget& t) {
    return (t.https ? "https://" : "http://") + t.host + ":" + std::to_string(t.port);
  }
  /// A pooled connection to one of `t.addresses`, still fresh and quiet.
  HERALD_DECL std::unique_ptr<ClientStream> checkout(const ClientTarget& t);
  HERALD_DECL void checkin(const ClientTarget& t, std::unique_ptr<ClientStream> s);
};

/// One request in flight. Non-template: the handler lives in ClientOp<H>.
class ClientOpBase : public std::enable_shared_from_this<ClientOpBase> {
 public:
  ClientOpBase(std::shared_ptr<ClientCore> core, ClientTarget t, ClientRequest r)
      : core_(std::move(core)), target_(std::move(t)), req_(std::move(r)), timer_(core_->ex),
        parser_(core_->opt.limits) {}
  virtual ~ClientOpBase() = default;
  HERALD_DECL void start();
  /// Ends the operation now with asio::error::operation_aborted (its socket
  /// closed, its timer cancelled). No effect once it finished.
  HERALD_DECL void cancel();

 protected:
  virtual void complete(std::error_code ec, Response r) = 0;
  std::shared_ptr<ClientCore> core_;

 private:
  HERALD_DECL void connect();
  HERALD_DECL void handshake();
  HERALD_DECL void write();
  HERALD_DECL void read();
  HERALD_DECL void on_read_error(std::error_code ec);
  HERALD_DECL void arm(Clock::time_point deadline);
  HERALD_DECL void done(std::error_code ec);
  HERALD_DECL std::string serialize() const;

  ClientTarget target_;
  ClientRequest req_;
  asio::steady_timer timer_;
  ResponseParser parser_;
  std::unique_ptr<ClientStream> stream_;
  std::string out_;
  std::array<char, 16 * 1024> buf_{};
  Clock::time_point total_deadline_{};
  std::uint64_t id_ = 0;
  bool reused_ = false, retried_ = false, timed_out_ = false, finished_ = false, no_reuse_ = false;
  bool cancelled_ = false;
};

template <class Handler>
class ClientOp final : public ClientOpBase {
 public:
  ClientOp(Handler h, std::shared_ptr<ClientCore> core, ClientTarget t, ClientRequest r)
      : ClientOpBase(std::move(core), std::move(t), std::move(r)), handler_(std::move(h)),
        work_(asio::get_associated_executor(handler_, core_->ex)) {}

 private:
  void complete(std::error_code ec, Response r) override {
    auto ex = work_.get_executor();
    asio::post(ex, [h = std::move(handler_), ec, r = std::move(r)]() mutable { h(ec, std::move(r)); });
    work_.reset();
  }
  Handler handler_;
  asio::executor_work_guard<asio::associated_executor_t<Handler, asio::any_io_executor>> work_;
};

}  // namespace detail

/// herald's HTTP/1.1 client.
///
/// What it does, and why, for webhook deliveries:
/// - **No name resolution.** The caller resolves, checks the addresses (the
///   SSRF guard) and passes them in ClientTarget: the connection goes to an
///   address that was checked, never to a second resolution of the name.
/// - **https**: certificate chain and host-name verification are always on
///   (`asio::ssl::host_name_verification`, IP literals checked against the
///   certificate's IP entries); SNI carries the name (not for IP literals, as
///   RFC 6066 requires).
/// - **Timeouts**: connect (TCP + TLS) and total, both real time (an Asio
///   timer): they bound how long a socket is held. The webhook retry schedule,
///   which tests drive, runs on herald's TimeSource instead.
/// - **Bounded reads**: headers and body are capped (ResponseLimits); a longer
///   body completes the response `truncated` and closes the connection.
/// - **No redirects**: a 3xx is returned as it is; following it would connect
///   to a target nobody checked.
/// - **Keep-alive**: a connection whose response allowed it is kept per
///   (scheme, host, port) and reused, if idle less than `max_idle`, quiet (no
///   unread bytes, no EOF) and connected to one of the target's addresses. A
///   reused connection that fails before any response byte (the server closed
///   it meanwhile) is retried once on a fresh one.
///
/// Completion signature `void(std::error_code, herald::http::Response)`; any
/// Asio completion token (a callback, `asio::use_awaitable`, `use_future`).
/// Errors: herald::error::timeout, error::bad_response, error::invalid_argument
/// (no address), or the socket's / OpenSSL's error code.
///
/// @par Example
/// @code
/// herald::http::Client client(io.get_executor());
/// herald::http::ClientTarget t{.https = false, .host = "127.0.0.1", .port = 8080,
///                              .addresses = {{asio::ip::make_address("127.0.0.1"), 8080}}};
/// client.async_request(t, {.target = "/hook", .body = "{}"},
///                      [](std::error_code ec, herald::http::Response r) { /* r.status */ });
/// @endcode
/// @par Thread Safety
/// Call a Client from its executor's thread only (or through a strand).
/// Operations may outlive the Client; they then complete normally, unless
/// cancel() ended them first.
class Client {
 public:
  explicit Client(asio::any_io_executor ex, ClientOptions o = {})
      : core_(std::make_shared<detail::ClientCore>(std::move(ex), std::move(o))) {}
  ~Client() {
    core_->closed = true;
    close_idle();
  }
  Client(const Client&) = delete;
  Client& operator=(const Client&) = delete;

  /// Sends `req` to `target` and reads the response.
  template <class Token>
  auto async_request(ClientTarget target, ClientRequest req, Token&& token) {
    return asio::async_initiate<Token, void(std::error_code, Response)>(
        [core = core_](auto handler, ClientTarget t, ClientRequest r) {
          using H = std::decay_t<decltype(handler)>;
          auto op = std::make_shared<detail::ClientOp<H>>(std::move(handler), core, std::move(t), std::move(r));
          op->start();
        },
        token, std::move(target), std::move(req));
  }

  /// Ends every request in flight: each completes (through its handler, as
  /// always posted) with asio::error::operation_aborted, its connection
  /// closed, not pooled. What an owner calls before it goes away while the
  /// executor keeps running.
  void cancel() {
    std::vector<std::shared_ptr<detail::ClientOpBase>> ops;
    for (auto& [id, w] : core_->live)
      if (auto op = w.lock()) ops.push_back(std::move(op));
    for (auto& op : ops) op->cancel();
  }
  /// Requests started and not completed yet.
  std::size_t in_flight() const noexcept { return core_->live.size(); }

  /// Closes every pooled idle connection.
  void close_idle() {
    for (auto& [k, v] : core_->idle)
      for (auto& s : v) s->close();
    core_->idle.clear();
  }

  /// Connections opened so far (TCP connects that succeeded).
  std::uint64_t connections_opened() const noexcept { return core_->opened; }
  /// Requests sent on a pooled connection.
  std::uint64_t connections_reused() const noexcept { return core_->reused; }
  const ClientOptions& options() const noexcept { return core_->opt; }
  asio::any_io_executor get_executor() const noexcept { return core_->ex; }

 private:
  std::shared_ptr<detail::ClientCore> core_;
};

// ------------------------------------------------------------------ definitions

namespace detail {

HERALD_DECL std::unique_ptr<ClientStream> ClientCore::checkout(const ClientTarget& t) {
  auto it = idle.find(key(t));
  if (it == idle.end()) return nullptr;
  auto& v = it->second;
  const auto now = std::chrono::steady_clock::now();
  while (!v.empty()) {
    std::unique_ptr<ClientStream> s = std::move(v.back());
    v.pop_back();
    std::error_code ec;
    const auto peer = s->lowest().remote_endpoint(ec);
    bool ok = !ec && now - s->idle_since < opt.max_idle;
    bool listed = false;
    for (const auto& a : t.addresses) listed |= a == peer;
    ok = ok && listed;
    if (ok) {
      // Anything readable on an idle connection (EOF, a stray byte, a TLS
      // close_notify) means it cannot carry a new request cleanly.
      char c;
      const auto n = ::recv(s->lowest().native_handle(), &c, 1, MSG_PEEK | MSG_DONTWAIT);
      ok = n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK);
    }
    if (ok) return s;
    s->close();
  }
  return nullptr;
}

HERALD_DECL void ClientCore::checkin(const ClientTarget& t, std::unique_ptr<ClientStream> s) {
  if (closed) return s->close();
  auto& v = idle[key(t)];
  if (v.size() >= opt.max_idle_per_endpoint) return s->close();
  s->idle_since = std::chrono::steady_clock::now();
  v.push_back(std::move(s));
}

HERALD_DECL void ClientOpBase::start() {
  id_ = ++core_->next_op;
  core_->live.emplace(id_, weak_from_this());
  if (target_.addresses.empty() || target_.host.empty()) return done(make_error_code(error::invalid_argument));
  total_deadline_ = Clock::now() + core_->opt.total_timeout;
  out_ = serialize();
  if (auto s = core_->checkout(target_)) {
    stream_ = std::move(s);
    reused_ = true;
    ++core_->reused;
    arm(total_deadline_);
    return write();
  }
  connect();
}

HERALD_DECL void ClientOpBase::cancel() {
  if (finished_ || cancelled_) return;
  cancelled_ = true;
  timer_.cancel();
  // Every pending operation on the stream completes with operation_aborted,
  // and async_connect does not go on to the next address of a closed socket.
  if (stream_) stream_->close();
  else done(asio::error::operation_aborted);
}

HERALD_DECL void ClientOpBase::arm(Clock::time_point deadline) {
  timer_.expires_at(deadline);
  timer_.async_wait([self = shared_from_this(), this](std::error_code ec) {
    if (ec || finished_) return;
    timed_out_ = true;
    if (stream_) stream_->close();  // every pending operation completes with operation_aborted
  });
}

HERALD_DECL void ClientOpBase::connect() {
  reused_ = false;
  stream_ = std::make_unique<ClientStream>(core_->ex);
  if (target_.https) stream_->tls = std::make_unique<asio::ssl::stream<asio::ip::tcp::socket>>(core_->ex, *core_->opt.tls);
  const auto connect_deadline = std::min(total_deadline_, Clock::now() + core_->opt.connect_timeout);
  arm(connect_deadline);
  asio::async_connect(stream_->lowest(), target_.addresses,
                      [self = shared_from_this(), this](std::error_code ec, const asio::ip::tcp::endpoint&) {
                        if (cancelled_) return done(asio::error::operation_aborted);
                        if (timed_out_) return done(make_error_code(error::timeout));
                        if (ec) return done(ec);
                        ++core_->opened;
                        std::error_code ignored;
                        stream_->lowest().set_option(asio::ip::tcp::no_delay(true), ignored);
                        if (stream_->tls) return handshake();
                        arm(total_deadline_);
                        write();
                      });
}

HERALD_DECL void ClientOpBase::handshake() {
  auto& tls = *stream_->tls;
  std::error_code ec;
  asio::ip::make_address(target_.host, ec);
  const bool is_ip = !ec;
  // SNI names the host; RFC 6066 forbids IP literals there.
  if (!is_ip && SSL_set_tlsext_host_name(tls.native_handle(), target_.host.c_str()) != 1)
    return done(make_error_code(error::invalid_argument));
  tls.set_verify_mode(asio::ssl::verify_peer);
  tls.set_verify_callback(asio::ssl::host_name_verification(target_.host));
  tls.async_handshake(asio::ssl::stream_base::client, [self = shared_from_this(), this](std::error_code ec) {
    if (cancelled_) return done(asio::error::operation_aborted);
    if (timed_out_) return done(make_error_code(error::timeout));
    if (ec) return done(ec);
    arm(total_deadline_);
    write();
  });
}

HERALD_DECL std::string ClientOpBase::serialize() const {
  std::string o;
  o.reserve(256 + req_.body.size());
  o.append(req_.method).append(" ").append(req_.target).append(" HTTP/1.1\r\nHost: ");
  const bool v6 = target_.host.find(':') != std::string::npos;
  if (v6) o.append("[");
  o.append(target_.host);
  if (v6) o.append("]");
  if (target_.port != (target_.https ? 443 : 80)) o.append(":").append(std::to_string(target_.port));
  o.append("\r\nUser-Agent: ").append(core_->opt.user_agent);
  o.append("\r\nContent-Length: ").append(std::to_string(req_.body.size())).append("\r\n");
  for (const auto& [k, v] : req_.headers) o.append(k).append(": ").append(v).append("\r\n");
  o.append("\r\n").append(req_.body);
  return o;
}

HERALD_DECL void ClientOpBase::write() {
  stream_->with([&](auto& s) {
    asio::async_write(s, asio::buffer(out_), [self = shared_from_this(), this](std::error_code ec, std::size_t) {
      if (cancelled_) return done(asio::error::operation_aborted);
      if (timed_out_) return done(make_error_code(error::timeout));
      if (ec) return on_read_error(ec);
      read();
    });
  });
}

HERALD_DECL void ClientOpBase::read() {
  stream_->with([&](auto& s) {
    s.async_read_some(asio::buffer(buf_), [self = shared_from_this(), this](std::error_code ec, std::size_t n) {
      if (cancelled_) return done(asio::error::operation_aborted);
      if (timed_out_) return done(make_error_code(error::timeout));
      if (ec) return on_read_error(ec);
      auto r = parser_.feed({buf_.data(), n});
      if (r.status == ResponseParser::Status::error) return done(r.ec);
      if (r.status == ResponseParser::Status::complete) {
        // Bytes past the response on a keep-alive connection: the peer is
        // out of step with us; do not reuse it.
        if (r.consumed != n) no_reuse_ = true;
        return done({});
      }
      read();
    });
  });
}

HERALD_DECL void ClientOpBase::on_read_error(std::error_code ec) {
  if (ec == asio::error::eof || ec == asio::ssl::error::stream_truncated) {
    if (reused_ && !retried_ && !parser_.started()) {
      // The server closed the pooled connection while it was idle: try once
      // on a fresh one (the request never reached an application).
      retried_ = true;
      stream_->close();
      parser_.reset();
      return connect();
    }
    auto r = parser_.finish();
    return done(r.status == ResponseParser::Status::complete ? std::error_code{} : r.ec);
  }
  if (reused_ && !retried_ && !parser_.started() &&
      (ec == asio::error::connection_reset || ec == asio::error::broken_pipe)) {
    retried_ = true;
    stream_->close();
    parser_.reset();
    return connect();
  }
  done(ec);
}

HERALD_DECL void ClientOpBase::done(std::error_code ec) {
  if (finished_) return;
  finished_ = true;
  core_->live.erase(id_);
  timer_.cancel();
  Response r;
  if (!ec && !cancelled_) {
    r = parser_.take();
    if (r.keep_alive && !r.truncated && !no_reuse_ && stream_) core_->checkin(target_, std::move(stream_));
  }
  if (stream_) stream_->close();
  complete(ec, std::move(r));
}

}  // namespace detail
}  // namespace herald::http
