// herald: herald::Server: accepts, keeps HTTP/1.1 sessions alive, routes,
// enforces limits, hands sockets to transports, and drains on shutdown.
#pragma once
#include <herald/auth/hook.hpp>
#include <herald/auth/rate_limit.hpp>
#include <herald/core/connection.hpp>
#include <herald/core/log.hpp>
#include <herald/fwd.hpp>
#include <herald/http/parser.hpp>
#include <herald/http/response.hpp>
#include <herald/http/router.hpp>

#include <asio/ip/tcp.hpp>
#include <asio/steady_timer.hpp>

#include <atomic>
#include <cerrno>
#include <functional>
#include <memory>
#include <string>
#include <thread>
#include <vector>

namespace herald {

/// Server knobs. Every limit is on by default.
struct ServerOptions {
  std::string bind = "127.0.0.1";          ///< loopback unless told otherwise
  unsigned short port = 0;                 ///< 0: the OS picks; see Server::port()
  unsigned threads = 1;                    ///< event-loop threads; 0: one per core
  http::Limits limits{};                   ///< request line, headers, body
  std::size_t max_connections = 10000;     ///< past it: 503 with Retry-After
  Clock::duration header_timeout = std::chrono::seconds(10);  ///< a request's head must arrive within (slowloris)
  Clock::duration idle_timeout = std::chrono::seconds(60);    ///< an idle keep-alive session closes after
  Clock::duration shutdown_timeout = std::chrono::seconds(5); ///< in-flight work finishes within, then closes
  /// A connection whose peer reads nothing for this long while bytes wait
  /// for it is closed (counted in `Metrics::write_timeouts`); zero: never.
  /// 30 s: far longer than any live client stalls, short enough that a
  /// peer which stopped reading does not hold its queue for long.
  Clock::duration write_timeout = std::chrono::seconds(30);
  /// Pipelined requests answered but not yet written, per session; past it
  /// the session parses and reads nothing more until they are written (TCP
  /// pushes back on the client), counted in `Metrics::pipeline_limited`.
  /// 8, as Beast's examples: pipelining still pays, a client that never
  /// reads cannot make the server queue its answers. 0: no limit.
  std::size_t max_pipelined = 8;
  Metrics* metrics = &default_metrics();
  /// Access control for every transport (auth/hook.hpp); empty: everything open.
  auth::AnyAuthorizer authorize{};
  /// Connections one client address may hold at once, streams included (0:
  /// no limit); past it 503 with Retry-After, counted in
  /// `Metrics::address_limited`. 1,000 is a tenth of `max_connections`: one
  /// client cannot take the server, a large NAT still fits. Behind a reverse
  /// proxy every client has the proxy's address: set 0 and limit there.
  std::size_t max_connections_per_address = 1000;
  /// Publishes per client address and second, for routes that call
  /// `Exchange::limit_publish` (herald-demo's `POST /publish`); past it 429
  /// with Retry-After, counted in `Metrics::rate_limited`. 1,000/s, bursts of
  /// 2,000: stops a runaway or hostile publisher, not a busy backend.
  auth::RateLimit publish_rate{1000, 2000};
  /// Whether the per-client limits (connections per address, publish rate,
  /// WebSocket message rate) apply to loopback peers. Off: a loopback peer is
  /// the host itself or a local reverse proxy, whose address says nothing
  /// about the client (limit at the proxy), and local benchmarks and tools
  /// are not throttled. Tests turn it on to trip the limits over 127.0.0.1.
  bool limit_loopback = false;
};

/// A request parked for an answer later (long polling). Owned by the session;
/// destroyed when answered or when the session ends.
class Parked {
 public:
  virtual ~Parked() = default;
  /// The deadline passed: answer now.
  virtual void on_deadline() = 0;
  /// The server drains: answer now.
  virtual void on_shutdown() = 0;
  Clock::time_point deadline = Clock::time_point::max();
};

/// One request on a server session, as a route's handler sees it. The handler
/// answers at once (`respond`), later (`park`), or takes the socket away for
/// another transport (`take_socket`).
class Exchange {
 public:
  virtual ~Exchange() = default;
  virtual const http::Request& request() const = 0;
  virtual std::string_view param(std::string_view name) const = 0;
  /// The peer's address, e.g. "127.0.0.1".
  virtual const std::string& peer() const = 0;
  virtual asio::any_io_executor executor() = 0;
  virtual Clock::time_point now() const = 0;
  virtual Metrics& metrics() = 0;
  /// Writes a complete response (head and body). Ends a parked exchange.
  virtual void respond_raw(std::string bytes, bool keep_alive) = 0;
  /// Parks the exchange until `p` answers it or its deadline passes.
  virtual void park(std::unique_ptr<Parked> p) = 0;
  /// Takes the socket: the session ends without closing it. `leftover` gets
  /// the bytes already read past this request.
  virtual Socket take_socket(std::string& leftover) = 0;
  virtual bool shutting_down() const = 0;
  /// The server's authorization hook (empty: open).
  virtual const auth::AnyAuthorizer& authorizer() const = 0;
  /// The server's per-address publish buckets (null: no limit, or a peer the
  /// limits do not apply to: see `ServerOptions::limit_loopback`).
  virtual auth::TokenBucketsPerKey* publish_limiter() { return nullptr; }
  /// Whether per-client limits apply to this peer (`ServerOptions::limit_loopback`).
  virtual bool limited() const { return true; }
  /// After `take_socket`: this connection's place in the per-address count
  /// (null when there is none). The new connection must `hold` it, so the
  /// place is given back when the stream ends, not when the HTTP session does.
  virtual std::shared_ptr<void> take_lease() { return nullptr; }
  /// Ends this exchange after an exception (call inside the catch block):
  /// 500 with `Connection: close` when nothing was answered yet, else the
  /// session closes; counted in `Metrics::handler_exceptions` and logged.
  /// The server does this for what a route's handler throws; call it for
  /// what work finishing a parked exchange later throws. Ends a parked exchange.
  virtual void fail() noexcept {}

  /// Asks the authorization hook whether this request may `action` `topic`.
  /// Denied: answers 401/403/429 with the reason (and `WWW-Authenticate`),
  /// counts it, and returns false. Allowed: `expires` (when given) receives
  /// when the permission lapses on the loop's clock, max() for never.
  /// `extra_headers` (`Name: value\r\n` lines, e.g. CORS) go on a denial, so
  /// a cross-origin script can read why it was refused.
  bool authorize(std::string_view topic, auth::Action action, Clock::time_point* expires = nullptr,
                 std::string_view extra_headers = {}) {
    if (expires) *expires = Clock::time_point::max();
    const auto& hook = authorizer();
    if (!hook) return true;
    auto d = decide(hook, topic, action);
    if (!d.allowed) {
      deny(d, extra_headers);
      return false;
    }
    if (expires) *expires = lapse_time(d);
    return true;
  }

  /// When the permission of decision `d` lapses, on the loop's clock (the
  /// hook speaks wall-clock time; deadlines run on the loop's, which tests drive).
  Clock::time_point lapse_time(const auth::AuthDecision& d) const {
    if (!d.allowed || !d.expires) return Clock::time_point::max();
    auto left = *d.expires - std::chrono::system_clock::now();
    return now() + std::chrono::duration_cast<Clock::duration>(left);
  }

  /// Answers the denial `d` (its status, reason and `WWW-Authenticate`) and counts it.
  void deny(const auth::AuthDecision& d, std::string_view extra_headers = {}) {
    Metrics::add(metrics().auth_denied);
    std::string www = auth::www_authenticate(d);
    bool ka = keep_alive();
    std::string out = www.empty() ? http::make_error_response(d.status, d.reason, ka)
                                  : http::make_error_response(d.status, d.reason, ka, {{"WWW-Authenticate", www}});
    if (!extra_headers.empty()) out.insert(out.find("\r\n\r\n") + 2, extra_headers);
    respond_raw(std::move(out), ka);
  }

  /// Takes a publish token from this client address's bucket
  /// (`ServerOptions::publish_rate`). Over the limit: answers 429 with
  /// `Retry-After` (and `extra_headers`), counts `rate_limited`, returns false.
  bool limit_publish(std::string_view extra_headers = {}) {
    auto* limiter = publish_limiter();
    Clock::duration wait{};
    if (!limiter || limiter->try_take(peer(), now(), &wait)) return true;
    Metrics::add(metrics().rate_limited);
    // Whole seconds, rounded up: a client that waits that long gets a token.
    auto secs = std::chrono::ceil<std::chrono::seconds>(wait).count();
    std::string retry = std::to_string(secs < 1 ? 1 : secs);
    bool ka = keep_alive();
    std::string out = http::make_error_response(429, "publish rate limit exceeded", ka, {{"Retry-After", retry}});
    if (!extra_headers.empty()) out.insert(out.find("\r\n\r\n") + 2, extra_headers);
    respond_raw(std::move(out), ka);
    return false;
  }

  /// The hook's decision, without answering: for checks after the handshake
  /// (a WebSocket message that publishes).
  auth::AuthDecision decide(const auth::AnyAuthorizer& hook, std::string_view topic, auth::Action action) const {
    const auto& req = request();
    auth::HeaderLookup headers(req);
    return hook(auth::AuthRequest{req.method(), req.target(), headers, peer(), topic, action,
                                  std::chrono::system_clock::now()});
  }

  bool keep_alive() const { return request().keep_alive() && !shutting_down(); }
  bool is_head() const { return request().method() == "HEAD"; }

  /// A response with a body (omitted for HEAD), keep-alive as the request asks.
  void respond(int status, std::string_view content_type, std::string_view body,
               std::initializer_list<std::pair<std::string_view, std::string_view>> extra = {}) {
    bool ka = keep_alive();
    http::ResponseHead h;
    h.status = status;
    h.keep_alive = ka;
    h.version_minor = request().version_minor();
    if (!content_type.empty()) h.headers.emplace_back("Content-Type", content_type);
    for (auto& kv : extra) h.headers.push_back(kv);
    h.content_length = body.size();
    std::string out;
    out.reserve(128 + body.size());
    http::write_head(out, h);
    if (!is_head()) out.append(body);
    respond_raw(std::move(out), ka);
  }
  void respond_error(int status, std::string_view reason,
                     std::initializer_list<std::pair<std::string_view, std::string_view>> extra = {}) {
    bool ka = keep_alive();
    respond_raw(http::make_error_response(status, reason, ka, extra), ka);
  }
};

/// A route's handler. What it throws is contained: its request gets 500
/// with `Connection: close` (if it answered nothing yet), the exception is
/// counted in `Metrics::handler_exceptions` and logged; other requests and
/// connections go on.
using Handler = std::function<void(Exchange&)>;

namespace detail {

struct ServerShared {
  ServerOptions opt;
  http::Router<Handler> router;
  std::atomic<bool> stopping{false};
  std::shared_ptr<auth::ConnectionsPerAddress> per_address;  ///< null: no per-address limit
  std::unique_ptr<auth::TokenBucketsPerKey> publish_buckets; ///< null: publishes not limited
};

/// A connection's place in the per-address count, given back when the last
/// holder (the HTTP session, then the stream it became) lets go.
struct AddressLease {
  std::shared_ptr<auth::ConnectionsPerAddress> table;
  std::string address;
  AddressLease(std::shared_ptr<auth::ConnectionsPerAddress> t, std::string a) : table(std::move(t)), address(std::move(a)) {}
  AddressLease(const AddressLease&) = delete;
  AddressLease& operator=(const AddressLease&) = delete;
  ~AddressLease() { table->remove(address); }
};

/// The transport of a plain HTTP/1.1 session: parses requests one at a time
/// (pipelined ones wait their turn) and dispatches them to routes.
class HttpTransport final : public Exchange {
 public:
  static constexpr TransportKind kind = TransportKind::http;
  using Conn = Connection<HttpTransport>;

  HttpTransport(std::shared_ptr<ServerShared> s, std::string peer, std::shared_ptr<void> lease = nullptr,
                bool limited = true)
      : shared_(std::move(s)), parser_(shared_->opt.limits), peer_(std::move(peer)), lease_(std::move(lease)),
        limited_(limited) {}

  Metrics& metrics() override { return *shared_->opt.metrics; }

  void on_start(Conn& c) {
    conn_ = &c;
    c.set_deadline(c.now() + shared_->opt.header_timeout);
  }

  void on_read(Conn& c, std::span<const char> bytes) {
    if (parked_ || taken_ || !pending_.empty()) {  // (held_: reading pauses; this is the rest of a read)
      // Pipelined bytes behind a parked request wait, within the head limits.
      if (pending_.size() + bytes.size() > shared_->opt.limits.max_request_line + shared_->opt.limits.max_header_bytes +
                                               shared_->opt.limits.max_body) {
        return c.close({}, false);
      }
      pending_.append(bytes.data(), bytes.size());
      if (parked_ || taken_) return;
      std::string data = std::move(pending_);
      pending_.clear();
      return process(c, data);
    }
    process(c, std::string_view(bytes.data(), bytes.size()));
  }

  void on_event(Conn&, const EventPtr&, Subscription&) {}

  /// Past `max_pipelined` unwritten responses the connection reads nothing
  /// (nor once a handler took the socket: its new owner reads).
  bool hold_reads() const noexcept { return held_ || taken_; }
  /// The responses were written: parse the pipelined requests that waited.
  void on_drained(Conn& c) {
    if (!held_ || parked_ || taken_) return;
    held_ = false;
    std::string data = std::move(pending_);
    pending_.clear();
    process(c, data);
  }

  void on_tick(Conn& c, Clock::time_point now) {
    if (parked_) {
      if (now >= parked_->deadline) return parked_->on_deadline();
      return c.set_deadline(parked_->deadline);
    }
    if (parser_.headers_complete() || in_request_) {
      Metrics::add(metrics().bad_requests);
      respond_raw(http::make_error_response(408, "request not received in time", false), false);
      return;
    }
    c.close();  // idle keep-alive session
  }

  void on_shutdown(Conn& c) {
    if (parked_) return parked_->on_shutdown();
    if (!in_request_) c.close();
  }

  /// Something on this session threw outside a handler (the parser, a
  /// parked request's answer): as a handler's exception.
  void on_failure(Conn&) { end_failed_request(); }  // counted and logged by the connection

  void on_close(Conn&, std::error_code) {
    parked_.reset();
    conn_ = nullptr;
    lease_.reset();  // a taken socket's lease moved to taken_lease_ first
  }

  // Exchange
  const http::Request& request() const override { return request_; }
  std::string_view param(std::string_view name) const override {
    if (!params_) return {};
    auto v = params_->value(name);
    return v ? *v : std::string_view{};
  }
  const std::string& peer() const override { return peer_; }
  asio::any_io_executor executor() override { return conn_->get_executor(); }
  Clock::time_point now() const override { return conn_->now(); }
  bool shutting_down() const override { return shared_->stopping.load(std::memory_order_relaxed); }
  const auth::AnyAuthorizer& authorizer() const override { return shared_->opt.authorize; }
  auth::TokenBucketsPerKey* publish_limiter() override { return limited_ ? shared_->publish_buckets.get() : nullptr; }
  bool limited() const override { return limited_; }
  std::shared_ptr<void> take_lease() override { return std::move(taken_lease_); }

  void fail() noexcept override {
    Metrics::add(metrics().handler_exceptions);
    try {
      detail::log_exception("handler of " + std::string(request_.method()) + " " + std::string(request_.path()));
    } catch (...) {
    }
    end_failed_request();
  }

 private:
  void end_failed_request() noexcept {
    if (!conn_ || taken_ || !conn_->is_open()) return;  // the socket is another connection's, or closing
    Conn& c = *conn_;
    try {
      if (in_request_ || parked_) {
        // Nothing of this request was answered: say so, then close (what the
        // handler left behind is in an unknown state).
        respond_raw(http::make_error_response(500, "internal server error", false), false);
        return;
      }
    } catch (...) {
    }
    c.close(make_error_code(error::internal_error));  // answered already, or the 500 failed
  }

 public:
  void respond_raw(std::string bytes, bool keep_alive) override {
    if (!conn_) return;
    Conn& c = *conn_;
    parked_.reset();
    in_request_ = false;
    c.send(std::move(bytes));
    if (!keep_alive || shutting_down()) return c.close();
    c.set_deadline(c.now() + shared_->opt.idle_timeout);
    if (!pending_.empty()) {
      std::string data = std::move(pending_);
      pending_.clear();
      process(c, data);
    }
  }

  void park(std::unique_ptr<Parked> p) override {
    parked_ = std::move(p);
    if (conn_) conn_->set_deadline(parked_->deadline);
  }

  Socket take_socket(std::string& leftover) override {
    Conn& c = *conn_;
    taken_ = true;
    c.flush();
    leftover = std::move(pending_);
    pending_.clear();
    leftover.append(unread_);  // pipelined bytes read with this request
    unread_ = {};
    taken_lease_ = std::move(lease_);  // for the stream this socket becomes (take_lease)
    Socket s(std::move(c.stream()));
    c.close({}, false);
    return s;
  }

 private:
  void process(Conn& c, std::string_view data) {
    while (!data.empty() && c.is_open() && !parked_ && !taken_) {
      if (!in_request_ && shared_->opt.max_pipelined && c.queue().size() >= shared_->opt.max_pipelined) {
        // Enough answers wait for the client to read: the rest waits, unparsed,
        // and the connection stops reading (hold_reads) until they are written.
        if (!held_) Metrics::add(metrics().pipeline_limited);
        held_ = true;
        pending_.append(data.data(), data.size());
        return;
      }
      auto r = parser_.feed(data);
      if (r.status == http::RequestParser::Status::error) {
        Metrics::add(metrics().bad_requests);
        c.send(http::make_error_response(r.http_status, r.ec.message(), false));
        return c.close();
      }
      in_request_ = true;
      if (r.status == http::RequestParser::Status::need_more) {
        if (parser_.expects_continue() && !sent_continue_) {
          sent_continue_ = true;
          c.send(std::string("HTTP/1.1 100 Continue\r\n\r\n"));
        }
        if (!head_deadline_set_) {
          head_deadline_set_ = true;
          c.set_deadline(c.now() + shared_->opt.header_timeout);
        }
        return;
      }
      data.remove_prefix(r.consumed);
      request_ = parser_.take();
      parser_.reset();
      sent_continue_ = false;
      head_deadline_set_ = false;
      unread_ = data;  // a handler that takes the socket gets these bytes as leftover
      dispatch(c);
      unread_ = {};
      if (taken_) return;
      // Answered: an idle keep-alive session keeps nothing of the request.
      if (!parked_) {
        request_ = {};
        params_.reset();
      }
      if (parked_ && !data.empty()) pending_.append(data.data(), data.size());
      // A response still being written keeps the next request waiting its turn
      // only when parked or taken; otherwise responses queue in order.
    }
  }

  void dispatch(Conn& c) {
    Metrics::add(metrics().http_requests);
    auto m = shared_->router.match(request_.method(), request_.path());
    if (m.status == 404) return respond_error(404, "no route for this path");
    if (m.status == 405) {
      std::string allow = m.allow;
      bool ka = keep_alive();
      return respond_raw(http::make_error_response(405, "method not allowed", ka, {{"Allow", allow}}), ka);
    }
    // Held only by a request whose route has parameters (8 pairs of views:
    // 264 B a session would otherwise carry while idle or parked).
    if (m.params.empty()) params_.reset();
    else if (params_) *params_ = m.params;
    else params_ = std::make_unique<typename http::Router<Handler>::Params>(m.params);
    try {
      (*m.handler)(*this);
    } catch (...) {
      fail();
    }
  }

  std::shared_ptr<ServerShared> shared_;
  http::RequestParser parser_;
  http::Request request_;
  std::unique_ptr<typename http::Router<Handler>::Params> params_;
  std::string peer_;
  std::string pending_;
  std::string_view unread_;  // during dispatch: the bytes after the current request
  std::unique_ptr<Parked> parked_;
  std::shared_ptr<void> lease_, taken_lease_;  // per-address count: this session's, then the taken socket's
  Conn* conn_ = nullptr;
  bool in_request_ = false, sent_continue_ = false, head_deadline_set_ = false, taken_ = false;
  bool held_ = false;    // past max_pipelined: pending_ waits for the responses to be written
  bool limited_ = true;  // per-client limits apply (not an exempt loopback peer)
};

}  // namespace detail

/// herald's own server: routes for each transport, N event-loop threads.
///
/// @par Example
/// @code
/// herald::Broadcaster<std::string> hub;
/// herald::Server server({.port = 8080, .threads = 2});
/// server.sse("/sse/{topic}", hub);
/// server.websocket("/ws/topic/{topic}", hub);
/// server.run();   // until stop() or a signal handler calls it
/// @endcode
///
/// @par Thread Safety
/// Configure it (`route`, `serve`, the transports, `set_time_source`) before
/// `start()`, on one thread. `stop()` may be called from any thread, a signal
/// handler's loop or a route handler included; `join()` and the destructor
/// from any thread but the server's own. Each event-loop thread runs its own
/// io_context; route handlers run on the thread of their connection, and
/// several of them at once on a server with `threads > 1`: what they share
/// must be thread-safe (a `Broadcaster` is).
///
/// @par Failures
/// What a route handler throws answers its request with 500 (see `Handler`);
/// an exception in a connection's callbacks closes that connection; one that
/// still reaches an event-loop thread's `run()` is counted
/// (`Metrics::loop_exceptions`), logged, and the loop runs on. When accepting
/// fails for lack of descriptors or memory (EMFILE, ENFILE, ENOBUFS, ENOMEM)
/// the server stops accepting for 50 ms, doubling up to 1 s while it lasts,
/// counted in `Metrics::accept_backoffs`: waiting connections stay in the
/// listen backlog and are served once descriptors are free.
///
/// @par Lifetime
/// The destructor stops and joins. After `join()` every connection has ended
/// (those left when `shutdown_timeout` passed are aborted): none is still
/// subscribed to a `Broadcaster`, so hubs may be destroyed in any order after it.
class Server {
 public:
  explicit Server(ServerOptions o = {}) : shared_(std::make_shared<detail::ServerShared>()) {
    if (o.threads == 0) o.threads = std::max(1u, std::thread::hardware_concurrency());
    shared_->opt = std::move(o);
    if (shared_->opt.max_connections_per_address > 0)
      shared_->per_address = std::make_shared<auth::ConnectionsPerAddress>(
          auth::ConnectionsPerAddress::Options{.max_per_address = shared_->opt.max_connections_per_address});
    if (shared_->opt.publish_rate.enabled()) {
      // Throws std::invalid_argument now, not on the first publish, for a rate it cannot represent.
      auth::TokenBucket check(shared_->opt.publish_rate.per_second, shared_->opt.publish_rate.burst);
      shared_->publish_buckets = std::make_unique<auth::TokenBucketsPerKey>(shared_->opt.publish_rate);
    }
    for (unsigned i = 0; i < shared_->opt.threads; ++i) {
      contexts_.push_back(std::make_unique<asio::io_context>(1));
      Loop::of(*contexts_.back()).set_write_timeout(shared_->opt.write_timeout);
    }
    acceptor_ = std::make_unique<asio::ip::tcp::acceptor>(*contexts_[0]);
    accept_timer_ = std::make_unique<asio::steady_timer>(*contexts_[0]);
  }
  ~Server() {
    stop();
    join();
  }

  /// Adds a route; `pattern` segments like `{topic}` become parameters.
  void route(std::string_view method, std::string_view pattern, Handler h) {
    shared_->router.add(method, pattern, std::move(h));
  }

  /// Serves `Policy` on `pattern`; each policy header defines `install`.
  /// @code
  /// server.serve<herald::SSEPolicy>("/sse/{topic}", hub);
  /// @endcode
  template <class Policy, class... Args>
  void serve(std::string_view pattern, Args&&... args) {
    Policy::install(*this, pattern, std::forward<Args>(args)...);
  }
  // The transports' routes: each policy header defines `install` (and
  // `options_type`, so the options can be a braced list:
  // `server.sse("/sse/{topic}", hub, {.heartbeat = 10s})`).

  /// Server-Sent Events on `pattern` (include herald/sse/policy.hpp).
  template <class Policy = SSEPolicy, class... Args>
  void sse(std::string_view pattern, Args&&... args) { Policy::install(*this, pattern, std::forward<Args>(args)...); }
  template <class Policy = SSEPolicy, class H>
  void sse(std::string_view pattern, H& hub, typename Policy::options_type opts) { Policy::install(*this, pattern, hub, std::move(opts)); }
  /// WebSocket on `pattern` (include herald/websocket/policy.hpp).
  template <class Policy = WebSocketPolicy, class... Args>
  void websocket(std::string_view pattern, Args&&... args) { Policy::install(*this, pattern, std::forward<Args>(args)...); }
  template <class Policy = WebSocketPolicy, class H>
  void websocket(std::string_view pattern, H& hub, typename Policy::options_type opts) { Policy::install(*this, pattern, hub, std::move(opts)); }
  /// Short polling on `pattern` (include herald/polling/policy.hpp).
  template <class Policy = PollingPolicy, class... Args>
  void poll(std::string_view pattern, Args&&... args) { Policy::install_short(*this, pattern, std::forward<Args>(args)...); }
  template <class Policy = PollingPolicy, class H>
  void poll(std::string_view pattern, H& hub, typename Policy::options_type opts) { Policy::install_short(*this, pattern, hub, std::move(opts)); }
  /// Long polling on `pattern` (include herald/polling/policy.hpp).
  template <class Policy = PollingPolicy, class... Args>
  void long_poll(std::string_view pattern, Args&&... args) { Policy::install_long(*this, pattern, std::forward<Args>(args)...); }
  template <class Policy = PollingPolicy, class H>
  void long_poll(std::string_view pattern, H& hub, typename Policy::options_type opts) { Policy::install_long(*this, pattern, hub, std::move(opts)); }

  /// Binds and listens (throws std::system_error on failure), then starts the
  /// event-loop threads. Returns once accepting.
  void start() {
    auto& o = shared_->opt;
    asio::ip::tcp::endpoint ep(asio::ip::make_address(o.bind), o.port);
    acceptor_->open(ep.protocol());
    acceptor_->set_option(asio::socket_base::reuse_address(true));
    acceptor_->bind(ep);
    acceptor_->listen(asio::socket_base::max_listen_connections);
    port_ = acceptor_->local_endpoint().port();
    for (auto& ctx : contexts_) {
      guards_.emplace_back(asio::make_work_guard(*ctx));
    }
    accept();
    for (auto& ctx : contexts_) threads_.emplace_back([this, c = ctx.get()] { run_loop(*c); });
  }

  /// start(), then blocks until the server has stopped.
  void run() {
    start();
    join();
  }

  /// Graceful stop: no new connections; sessions and streams are told to
  /// finish (WebSockets close 1001, streams end, parked polls are answered);
  /// whatever remains after `shutdown_timeout` is closed. Thread-safe; returns
  /// at once (join() waits).
  void stop() {
    if (shared_->stopping.exchange(true) || contexts_.empty() || threads_.empty()) return;
    asio::post(*contexts_[0], [this] {
      std::error_code ec;
      acceptor_->close(ec);
      accept_timer_->cancel();
    });
    auto deadline = Clock::now() + shared_->opt.shutdown_timeout;
    for (auto& ctx : contexts_) {
      asio::post(*ctx, [this, c = ctx.get(), deadline] {
        Loop::of(*c).shutdown_all(deadline);
        wait_drained(*c, deadline);
      });
    }
    guards_.clear();
  }

  /// Waits for the event-loop threads to end.
  void join() {
    for (auto& t : threads_) if (t.joinable()) t.join();
    threads_.clear();
  }

  /// Serves an HTTP session on `s`, a stream socket already connected on one
  /// of this server's contexts, as if the server had accepted it: the
  /// connection limits apply and the session starts on the socket's context.
  /// For an accept loop of your own, tests, and the connection fuzzer (which
  /// hands over one end of a `socketpair`); the server need not be started.
  void accept_socket(Socket s) { hand_over(std::move(s)); }

  unsigned short port() const noexcept { return port_; }
  Metrics& metrics() const noexcept { return *shared_->opt.metrics; }
  const ServerOptions& options() const noexcept { return shared_->opt; }
  std::size_t thread_count() const noexcept { return contexts_.size(); }
  asio::io_context& context(std::size_t i = 0) { return *contexts_[i]; }

  /// Installs a time source on every loop (tests: a ManualClock) and, when
  /// `manual`, turns the sweep timer off so only sweep_now() sweeps.
  void set_time_source(TimeSource& t, bool manual = true) {
    for (auto& ctx : contexts_) {
      Loop::of(*ctx).set_time_source(t);
      Loop::of(*ctx).set_manual_sweep(manual);
    }
  }
  /// Sweeps every loop's deadlines once, on the loops' threads.
  void sweep_now() {
    for (auto& ctx : contexts_) asio::post(*ctx, [c = ctx.get()] { Loop::of(*c).sweep(); });
  }

  /// Open server-side connections (HTTP sessions, streams, WebSockets).
  std::int64_t connections() const noexcept {
    auto& m = metrics();
    auto g = [&](TransportKind k) { return m.connections[Metrics::idx(k)].load(std::memory_order_relaxed); };
    return g(TransportKind::http) + g(TransportKind::sse) + g(TransportKind::websocket);
  }

 private:
  // An event-loop thread: what escapes a handler is counted and logged, and
  // the loop goes on (Asio allows run() again after an exception).
  void run_loop(asio::io_context& c) {
    for (;;) {
      try {
        c.run();
        return;
      } catch (...) {
        Metrics::add(metrics().loop_exceptions);
        detail::log_exception("event loop");
      }
    }
  }

  static bool out_of_resources(const std::error_code& ec) {
    return ec == asio::error::no_descriptors ||                            // EMFILE
           ec == std::error_code(ENFILE, asio::error::get_system_category()) ||
           ec == asio::error::no_buffer_space || ec == asio::error::no_memory;  // ENOBUFS, ENOMEM
  }

  void accept() {
    asio::io_context& target = *contexts_[next_++ % contexts_.size()];
    acceptor_->async_accept(target, [this](std::error_code ec, Socket s) {
      if (ec == asio::error::operation_aborted || !acceptor_->is_open()) return;
      if (!ec) {
        accept_delay_ = {};
        try {
          hand_over(std::move(s));
        } catch (...) {  // the socket closes with it; the server goes on
          Metrics::add(metrics().connection_exceptions);
          detail::log_exception("accept");
        }
      } else if (out_of_resources(ec)) {
        // The listening socket stays readable while the backlog holds a
        // connection we cannot take: accepting again at once would spin.
        return back_off(ec);
      }
      accept();
    });
  }

  void back_off(const std::error_code& ec) {
    using namespace std::chrono_literals;
    accept_delay_ = accept_delay_ == Clock::duration{} ? Clock::duration(50ms) : std::min<Clock::duration>(accept_delay_ * 2, 1s);
    Metrics::add(metrics().accept_backoffs);
    log(LogLevel::warning, "accept: " + ec.message() + "; pausing accepts for " +
                               std::to_string(std::chrono::duration_cast<std::chrono::milliseconds>(accept_delay_).count()) +
                               " ms");
    accept_timer_->expires_after(accept_delay_);
    accept_timer_->async_wait([this](std::error_code ec) {
      if (ec || !acceptor_->is_open()) return;
      accept();
    });
  }

  static bool is_loopback(const asio::ip::address& a) {
    if (a.is_v6() && a.to_v6().is_v4_mapped())
      return asio::ip::make_address_v4(asio::ip::v4_mapped, a.to_v6()).is_loopback();
    return a.is_loopback();
  }

  static void refuse(Socket& s, std::string_view reason) {
    std::string r = http::make_error_response(503, reason, false, {{"Retry-After", "1"}});
    std::error_code ec;
    s.non_blocking(true, ec);
    s.write_some(asio::buffer(r), ec);  // best effort: a refused peer gets no queue of its own
    s.shutdown(asio::socket_base::shutdown_both, ec);
    s.close(ec);
  }

  void hand_over(Socket s) {
    auto& o = shared_->opt;
    if (connections() >= static_cast<std::int64_t>(o.max_connections)) {
      Metrics::add(metrics().rejected_connections);
      return refuse(s, "too many connections");
    }
    std::error_code ec;
    auto ep = s.remote_endpoint(ec);
    std::string peer = ec ? std::string() : ep.address().to_string();
    const bool limited = o.limit_loopback || ec || !is_loopback(ep.address());
    std::shared_ptr<void> lease;
    if (shared_->per_address && limited) {
      // 503 like the global limit (CONTRACT.md): the client may come back
      // once one of its connections ends; 429 would blame its request rate.
      if (!shared_->per_address->try_add(peer)) {
        Metrics::add(metrics().address_limited);
        return refuse(s, "too many connections from this address");
      }
      lease = std::make_shared<detail::AddressLease>(shared_->per_address, peer);
    }
    // The socket was accepted on its target loop; start it there.
    auto ex = s.get_executor();
    asio::post(ex, [sh = shared_, s = std::move(s), peer = std::move(peer), lease = std::move(lease), limited]() mutable {
      detail::HttpTransport::Conn::create(std::move(s), sh, std::move(peer), std::move(lease), limited)->start();
    });
  }

  void wait_drained(asio::io_context& c, Clock::time_point deadline) {
    auto t = std::make_shared<asio::steady_timer>(c);
    t->expires_after(std::chrono::milliseconds(20));
    t->async_wait([this, &c, deadline, t](std::error_code) {
      auto& loop = Loop::of(c);
      if (loop.size() != 0 && Clock::now() >= deadline) loop.abort_all();  // nothing outlives the server's loops
      if (loop.size() == 0 || Clock::now() >= deadline) return c.stop();
      loop.sweep();
      wait_drained(c, deadline);
    });
  }

  std::shared_ptr<detail::ServerShared> shared_;
  std::vector<std::unique_ptr<asio::io_context>> contexts_;
  std::vector<asio::executor_work_guard<asio::io_context::executor_type>> guards_;
  std::unique_ptr<asio::ip::tcp::acceptor> acceptor_;
  std::unique_ptr<asio::steady_timer> accept_timer_;  // accept back-off (EMFILE)
  Clock::duration accept_delay_{};                     // the current back-off; zero after a success
  std::vector<std::thread> threads_;
  std::size_t next_ = 0;
  unsigned short port_ = 0;
};

}  // namespace herald
