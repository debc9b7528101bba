// herald: PollingPolicy: short and long polling over the topic history, with
// cursors (`GET /poll/{topic}?after=N`, `GET /longpoll/{topic}?after=N`).
#pragma once
#include <herald/auth/origin.hpp>
#include <herald/core/broadcaster.hpp>
#include <herald/core/topic.hpp>
#include <herald/http/request_like.hpp>
#include <herald/http/response.hpp>
#include <herald/http/server.hpp>
#include <herald/polling/batch.hpp>

#include <chrono>
#include <cstdint>
#include <memory>
#include <random>
#include <string>
#include <string_view>

namespace herald {

/// Knobs of a polling endpoint. Defaults are CONTRACT.md's and production-safe.
struct PollingOptions {
  /// Events per answer when the request has no `limit`: a batch of 100 small
  /// events stays a few KiB, and a client far behind catches up in a few calls.
  std::uint32_t default_limit = 100;
  /// A larger `limit` is a 400 (the client asked for what it cannot get); it
  /// bounds the bytes one answer builds.
  std::uint32_t max_limit = 1000;
  /// Long poll wait when the request has no `timeout_ms`; 30 s stays under the
  /// 60 s idle timeout common to proxies and load balancers.
  std::chrono::milliseconds long_poll_default{30000};
  /// A larger `timeout_ms` is clamped to this (`--long-poll-max-ms`), not
  /// refused: a client that asks for long waits still gets the longest allowed.
  std::chrono::milliseconds long_poll_max{60000};
  /// Cross-origin access for browsers (`fetch` from another origin); the ETag
  /// is exposed so scripts can send `If-None-Match`.
  auth::OriginPolicy cors{};
  /// BYO Asio only: the topic; empty takes the last segment of the request path.
  std::string topic{};
  /// BYO Asio only: park the request (long poll) instead of answering at once.
  bool long_poll = false;
};

namespace detail {

/// What every request of one polling route shares; lives in the route's
/// handlers, which outlive every session (and so every parked request).
struct PollState {
  Hub& hub;
  PollingOptions opt;
  polling::QueryLimits limits;
  std::uint64_t epoch;
  TransportKind kind;
};

/// Distinguishes this process's ETags from those of an earlier run, whose ids
/// may name other events (CONTRACT.md: a restarted server starts over).
HERALD_DECL std::uint64_t poll_epoch() {
  static const std::uint64_t e = [] {
    std::random_device rd;
    auto t = static_cast<std::uint64_t>(std::chrono::system_clock::now().time_since_epoch().count());
    return (t ^ (static_cast<std::uint64_t>(rd()) << 32 | rd())) & 0xFFFFFFFFFFFFull;  // 48 bits: short tags
  }();
  return e;
}

}  // namespace detail

/// Short and long polling: each answer is one JSON batch read from the topic's
/// history after the client's cursor, so a client that passes back the `next`
/// it was given sees every event once, in order, across any number of calls.
///
/// @par Body
/// `{"events":[{"id":N,"data":"..."},...],"next":M,"reset":false}`.
/// `next` is the `after` of the client's next call:
/// - events returned: the id of the last one (at most `limit` are returned, so
///   a client behind catches up in several calls);
/// - none returned, no reset: the request's `after` (nothing new);
/// - a reset (`after` fell out of history, or is ahead of the head because the
///   server restarted): `"reset":true`, events from `first`, and `next` the id
///   of the last one returned, or `first - 1` (= head) when none is held.
///
/// @par Short polling (`install_short`)
/// Answers at once, 200 `application/json`, `Cache-Control: no-store`, with a
/// weak `ETag` that is a function of the answer: the same cursor, `limit` and
/// `next` give the same events, since ids are immutable. A matching
/// `If-None-Match` (a repeated poll with nothing new) gets 304 with no body.
/// `HEAD` answers the head a `GET` would get.
///
/// @par Long polling (`install_long`)
/// Answers at once when events after the cursor exist (or a reset is due);
/// otherwise the request is parked on its session: no thread, no buffer, one
/// small object (a Subscription and a few words) subscribed on the session's
/// event-loop thread. It is answered with everything after the cursor (one
/// batch, up to `limit`) when the first event arrives, with `"events":[]`
/// when `timeout_ms` passes (default 30 s, clamped to `long_poll_max`), or at
/// server shutdown. A client that disconnects while parked is removed when
/// its session sees the EOF. `HEAD`, and `timeout_ms=0`, answer at once.
/// `If-None-Match` is not consulted: a long poll waits for news instead.
///
/// Bad `after`, `limit` or `timeout_ms`, or a bad topic name: 400.
/// Parked long polls are counted in `Metrics::connections[longpoll]`; events
/// answered in `Metrics::deliveries[poll]` and `[longpoll]`.
///
/// @par Example
/// @code
/// server.poll("/poll/{topic}", hub);
/// server.long_poll("/longpoll/{topic}", hub, {.long_poll_max = std::chrono::seconds(30)});
/// @endcode
class PollingPolicy {
 public:
  /// The options of a route: `server.poll(pattern, hub, {.default_limit = 50})`.
  using options_type = PollingOptions;

  /// `GET`/`HEAD /pattern?after=N[&limit=L]` answered at once; `OPTIONS` preflight.
  static void install_short(Server& server, std::string_view pattern, Hub& hub, PollingOptions o = {});
  /// `GET /pattern?after=N[&timeout_ms=T][&limit=L]`, parked until news; `HEAD`; `OPTIONS` preflight.
  static void install_long(Server& server, std::string_view pattern, Hub& hub, PollingOptions o = {});

  /// The routes' handlers: a topic from `{topic}` (or `st.opt.topic` when set).
  static void handle_short(Exchange& ex, const detail::PollState& st);
  static void handle_long(Exchange& ex, const detail::PollState& st);
  static void handle_preflight(Exchange& ex, const detail::PollState& st);

  /// Answers `ex` with `r` read after `after`: 200 with the batch (or 304 when
  /// `revalidate` and `If-None-Match` matches). Ends a parked exchange, which
  /// destroys the parked object: callers touch nothing of theirs afterwards.
  static void respond_batch(Exchange& ex, const detail::PollState& st, std::uint64_t after, std::uint32_t limit,
                            const Replay& r, bool revalidate);

  /// `next` of an answer (see the class documentation).
  static std::uint64_t next_of(std::uint64_t after, const Replay& r) noexcept {
    if (!r.events.empty()) return r.events.back()->id();
    return r.reset ? r.next : after;
  }

  /// The state a route's handlers share (`kind`: poll or longpoll, for metrics).
  static std::shared_ptr<const detail::PollState> make_state(Hub& hub, PollingOptions o, TransportKind kind);

 private:
  class LongPoll;
  static void respond_error(Exchange& ex, const detail::PollState& st, int status, std::string_view reason);
  static std::string_view topic_of(Exchange& ex, const detail::PollState& st) {
    return st.opt.topic.empty() ? ex.param("topic") : std::string_view(st.opt.topic);
  }
  /// The CORS header lines for `ex` (empty without `Origin`).
  static std::string cors_of(Exchange& ex, const detail::PollState& st) {
    auto origin = ex.request().header("Origin");
    return origin ? st.opt.cors.cors_headers(*origin, ex.request().method(), false) : std::string();
  }
};

/// A parked long poll: a Subscriber on the session's thread, and the Parked
/// hook its session sweeps. Holds no buffer: it answers by reading the history.
class PollingPolicy::LongPoll final : public Parked, public Subscriber {
 public:
  /// `expires`: when the client's permission lapses (its token's expiry).
  LongPoll(Exchange& ex, const detail::PollState& st, std::uint64_t after, std::uint32_t limit,
           Clock::time_point expires = Clock::time_point::max())
      : ex_(ex), st_(st), after_(after), limit_(limit), expires_(expires) {}
  LongPoll(const LongPoll&) = delete;
  LongPoll& operator=(const LongPoll&) = delete;
  ~LongPoll() override {
    if (counted_) Metrics::add(st_.hub.metrics().connections[Metrics::idx(TransportKind::longpoll)], -1);
    st_.hub.unsubscribe(sub_);  // the session ended (EOF, close) while parked; last: the hub may go after it
  }

  Subscription& subscription() noexcept { return sub_; }
  void count() noexcept {
    counted_ = true;
    Metrics::add(st_.hub.metrics().connections[Metrics::idx(TransportKind::longpoll)], 1);
  }

  void on_event(const EventPtr&, Subscription&) override { guarded_answer(); }
  void on_deadline() override { guarded_answer(); }
  void on_shutdown() override { guarded_answer(); }

 private:
  // Called from a hub's delivery, not from a handler the server guards: what
  // answering throws ends this exchange (500), not the delivery or the loop.
  void guarded_answer() noexcept {
    Exchange& ex = ex_;  // answering destroys `this`
    try {
      answer();
    } catch (...) {
      ex.fail();
    }
  }

  // Reads everything after the cursor now, so events published since the one
  // that woke us go in the same batch. respond_batch destroys `this`.
  void answer() {
    st_.hub.unsubscribe(sub_);
    if (ex_.now() >= expires_) {
      // The token lapsed while parked: what was published since is not the
      // client's to read. A 401 tells it to fetch a new token now, rather
      // than after one more empty answer.
      return ex_.deny(auth::AuthDecision::deny(401, "access token expired", make_error_code(error::auth_expired)),
                      cors_of(ex_, st_));
    }
    Replay r = st_.hub.read(sub_.topic(), after_, limit_);
    respond_batch(ex_, st_, after_, limit_, r, false);
  }

  Exchange& ex_;
  const detail::PollState& st_;
  Subscription sub_;
  std::uint64_t after_;
  std::uint32_t limit_;
  Clock::time_point expires_;
  bool counted_ = false;
};

HERALD_DECL std::shared_ptr<const detail::PollState> PollingPolicy::make_state(Hub& hub, PollingOptions o,
                                                                             TransportKind kind) {
  polling::QueryLimits l;
  l.default_limit = o.default_limit;
  l.max_limit = o.max_limit;
  l.default_timeout_ms = static_cast<std::uint64_t>(o.long_poll_default.count());
  l.max_timeout_ms = static_cast<std::uint64_t>(o.long_poll_max.count());
  return std::make_shared<const detail::PollState>(detail::PollState{hub, std::move(o), l, detail::poll_epoch(), kind});
}

HERALD_DECL void PollingPolicy::respond_error(Exchange& ex, const detail::PollState& st, int status,
                                              std::string_view reason) {
  bool ka = ex.keep_alive();
  std::string out = http::make_error_response(status, reason, ka, {}, ex.request().version_minor());
  // CORS on errors too, so a cross-origin script can read why it was refused.
  if (auto origin = ex.request().header("Origin"))
    out.insert(out.find("\r\n\r\n") + 2, st.opt.cors.cors_headers(*origin, ex.request().method(), false));
  ex.respond_raw(std::move(out), ka);
}

// The session counts these bytes under `http` too; per transport they make
// the "bytes on the wire per delivered event" of polling comparable.
namespace detail {
inline void count_poll_bytes(const PollState& st, const std::string& out) {
  Metrics::add(st.hub.metrics().bytes_out[Metrics::idx(st.kind)], out.size());
}
}  // namespace detail

HERALD_DECL void PollingPolicy::respond_batch(Exchange& ex, const detail::PollState& st, std::uint64_t after,
                                              std::uint32_t limit, const Replay& r, bool revalidate) {
  const auto& req = ex.request();
  const std::uint64_t next = next_of(after, r);
  // A reset answer does not depend on `after` (it starts at `first`), so the
  // tag names F = first - 1 instead: it then tells apart answers whose
  // `first` moved while `next` stayed.
  const std::string tag = polling::etag(st.epoch, r.reset ? r.next : after, next, limit, r.reset);
  const bool ka = ex.keep_alive();
  std::string cors;
  if (auto origin = req.header("Origin")) cors = st.opt.cors.cors_headers(*origin, req.method(), false);

  http::ResponseHead h;
  h.keep_alive = ka;
  h.version_minor = req.version_minor();
  h.headers.emplace_back("Cache-Control", "no-store");
  h.headers.emplace_back("ETag", tag);
  std::string out;
  if (revalidate) {
    if (auto inm = req.header("If-None-Match"); inm && polling::if_none_match(*inm, tag)) {
      h.status = 304;
      http::write_head(out, h);
      out.insert(out.size() - 2, cors);
      detail::count_poll_bytes(st, out);
      return ex.respond_raw(std::move(out), ka);
    }
  }
  std::string body;
  polling::build_body(body, r.events, next, r.reset, [](const EventPtr& e) -> const std::string& {
    return e->frame(FrameKind::json, [](const Event& ev) { return polling::event_json(ev.id(), ev.data()); });
  });
  if (!ex.is_head()) Metrics::add(st.hub.metrics().deliveries[Metrics::idx(st.kind)], r.events.size());
  h.status = 200;
  h.headers.emplace_back("Content-Type", "application/json");
  h.content_length = body.size();
  out.reserve(256 + cors.size() + body.size());
  http::write_head(out, h);
  out.insert(out.size() - 2, cors);
  if (!ex.is_head()) out.append(body);
  detail::count_poll_bytes(st, out);
  ex.respond_raw(std::move(out), ka);
}

HERALD_DECL void PollingPolicy::handle_short(Exchange& ex, const detail::PollState& st) {
  std::string_view topic = topic_of(ex, st);
  if (!valid_topic(topic)) return respond_error(ex, st, 400, "topic must be 1-128 of A-Za-z0-9_.-");
  if (!ex.authorize(topic, auth::Action::subscribe, nullptr, cors_of(ex, st))) return;
  polling::Query q;
  if (polling::parse_query(ex.request().target(), q, st.limits))
    return respond_error(ex, st, 400, "after (required) must be a decimal id; limit 1..max; timeout_ms decimal");
  Replay r = st.hub.read(topic, q.after, q.limit);
  respond_batch(ex, st, q.after, q.limit, r, true);
}

HERALD_DECL void PollingPolicy::handle_long(Exchange& ex, const detail::PollState& st) {
  std::string_view topic = topic_of(ex, st);
  if (!valid_topic(topic)) return respond_error(ex, st, 400, "topic must be 1-128 of A-Za-z0-9_.-");
  Clock::time_point expires;
  if (!ex.authorize(topic, auth::Action::subscribe, &expires, cors_of(ex, st))) return;
  polling::Query q;
  if (polling::parse_query(ex.request().target(), q, st.limits))
    return respond_error(ex, st, 400, "after (required) must be a decimal id; limit 1..max; timeout_ms decimal");
  // Fast path, bounded by `limit`: a client that is behind is answered without
  // subscribing (a subscribe replay would copy its whole backlog).
  Replay r = st.hub.read(topic, q.after, q.limit);
  if (!r.events.empty() || r.reset || q.timeout_ms == 0 || ex.is_head() || ex.shutting_down())
    return respond_batch(ex, st, q.after, q.limit, r, false);

  auto p = std::make_unique<LongPoll>(ex, st, q.after, q.limit, expires);
  // The replay is computed under the topic's lock, together with joining it:
  // an event published since the read above is in it, or is delivered live.
  SubscribeResult s = st.hub.subscribe(topic, *p, p->subscription(), ex.executor(), {.after = q.after});
  if (s.ec) return respond_error(ex, st, 503, "too many topics");
  if (s.reset || !s.replay.empty()) {
    st.hub.unsubscribe(p->subscription());
    Replay now{s.reset, s.next, std::move(s.replay)};
    if (now.events.size() > q.limit) now.events.resize(q.limit);
    return respond_batch(ex, st, q.after, q.limit, now, false);
  }
  // A token that lapses before the timeout ends the wait then (with a 401).
  p->deadline = std::min(ex.now() + std::chrono::milliseconds(q.timeout_ms), expires);
  p->count();
  ex.park(std::move(p));
}

HERALD_DECL void PollingPolicy::handle_preflight(Exchange& ex, const detail::PollState& st) {
  const auto& req = ex.request();
  std::string h = st.opt.cors.cors_headers(req.header("Origin").value_or(""),
                                           req.header("Access-Control-Request-Method").value_or("GET"), true,
                                           req.header("Access-Control-Request-Headers").value_or(""));
  std::string out = "HTTP/1.1 204 No Content\r\n" + h + (ex.keep_alive() ? "" : "Connection: close\r\n") + "\r\n";
  ex.respond_raw(std::move(out), ex.keep_alive());
}

HERALD_DECL void PollingPolicy::install_short(Server& server, std::string_view pattern, Hub& hub, PollingOptions o) {
  auto st = make_state(hub, std::move(o), TransportKind::poll);
  server.route("GET", pattern, [st](Exchange& ex) { handle_short(ex, *st); });
  server.route("OPTIONS", pattern, [st](Exchange& ex) { handle_preflight(ex, *st); });
}

HERALD_DECL void PollingPolicy::install_long(Server& server, std::string_view pattern, Hub& hub, PollingOptions o) {
  auto st = make_state(hub, std::move(o), TransportKind::longpoll);
  server.route("GET", pattern, [st](Exchange& ex) { handle_long(ex, *st); });
  server.route("OPTIONS", pattern, [st](Exchange& ex) { handle_preflight(ex, *st); });
}

namespace detail {
/// Appends `name: value\r\n` when `value` is present and cannot split the head.
template <http::RequestLike Req>
void copy_header(std::string& out, const Req& req, std::string_view name) {
  auto v = req.header(name);
  if (!v) return;
  std::string_view s = *v;
  if (s.find_first_of(std::string_view("\r\n\0", 3)) != std::string_view::npos) return;
  out.append(name).append(": ").append(s).append("\r\n");
}
}  // namespace detail

/// Bring your own Asio: serve a polling request on a socket your server
/// accepted and whose request it parsed, and the rest of that keep-alive
/// session (pipelined `leftover` bytes included), short or long as
/// `o.long_poll` says.
///
/// @note herald's HTTP session (detail::HttpTransport) starts from bytes, not
/// from a parsed request, so the request is re-serialised from what polling
/// reads (method, target, version, `Host`, `Origin`, `If-None-Match`,
/// `Connection` and the preflight headers) and fed to a private session
/// before `leftover`. Later requests on that session are served by the same
/// route: the same path polls again; another path gets 404. Parked polls are
/// answered at shutdown when the io_context's `Loop::shutdown_all` runs.
/// @returns the session, or null when the path cannot be routed (it holds `{`
/// or `}`), in which case a 400 was written and the socket closed.
template <class Policy, class TcpSocket, http::RequestLike Req>
  requires std::same_as<Policy, PollingPolicy> && detail::is_tcp_socket<TcpSocket>::value
std::shared_ptr<detail::HttpTransport::Conn> accept(TcpSocket tcp_socket, const Req& req, std::string_view leftover,
                                                    Hub& hub, PollingOptions o = {}) {
  Socket socket = detail::to_socket(std::move(tcp_socket));
  std::string_view target = req.target();
  std::string_view path = target.substr(0, target.find('?'));
  if (o.topic.empty()) o.topic = std::string(path.substr(path.rfind('/') + 1));
  std::error_code ec;
  if (path.empty() || path.front() != '/' || path.find_first_of("{}") != std::string_view::npos) {
    std::string r = http::make_error_response(400, "unroutable path", false);
    socket.write_some(asio::buffer(r), ec);
    socket.close(ec);
    return nullptr;
  }
  auto shared = std::make_shared<detail::ServerShared>();
  shared->opt.metrics = &hub.metrics();
  const bool long_poll = o.long_poll;
  auto st = PollingPolicy::make_state(hub, std::move(o), long_poll ? TransportKind::longpoll : TransportKind::poll);
  if (long_poll) shared->router.add("GET", path, [st](Exchange& ex) { PollingPolicy::handle_long(ex, *st); });
  else shared->router.add("GET", path, [st](Exchange& ex) { PollingPolicy::handle_short(ex, *st); });
  shared->router.add("OPTIONS", path, [st](Exchange& ex) { PollingPolicy::handle_preflight(ex, *st); });

  unsigned minor = 1;
  if constexpr (requires { req.version_minor(); }) minor = req.version_minor() == 0 ? 0 : 1;
  std::string bytes;
  bytes.reserve(256 + target.size() + leftover.size());
  bytes.append(std::string_view(req.method())).append(" ").append(target).append(minor ? " HTTP/1.1\r\n" : " HTTP/1.0\r\n");
  if (req.header("Host")) detail::copy_header(bytes, req, "Host");
  else bytes.append("Host: herald\r\n");
  for (std::string_view h : {"Origin", "If-None-Match", "Connection", "Access-Control-Request-Method",
                             "Access-Control-Request-Headers"})
    detail::copy_header(bytes, req, h);
  bytes.append("\r\n").append(leftover);

  auto ep = socket.remote_endpoint(ec);
  std::string peer = ec ? std::string() : ep.address().to_string();
  auto conn = detail::HttpTransport::Conn::create(std::move(socket), shared, std::move(peer));
  conn->start(bytes);
  return conn;
}

}  // namespace herald
