// herald: SSEPolicy: Server-Sent Events over Connection<SSEPolicy>.
#pragma once
#include <herald/auth/origin.hpp>
#include <herald/core/connection.hpp>
#include <herald/core/topic.hpp>
#include <herald/http/query.hpp>
#include <herald/http/request_like.hpp>
#include <herald/http/server.hpp>
#include <herald/sse/encoder.hpp>

#include <chrono>
#include <optional>
#include <string>
#include <vector>

namespace herald {

/// Knobs of an SSE endpoint. Defaults are production-safe.
struct SSEOptions {
  /// A comment line after this much silence keeps proxies and load
  /// balancers from timing the stream out (15 s: under every common 30-60 s idle timeout).
  std::chrono::milliseconds heartbeat{15000};
  /// `retry:` sent on connect: the browser's reconnect delay. Unset: not sent.
  std::optional<std::chrono::milliseconds> retry{std::chrono::milliseconds(2000)};
  /// Send queue; the default `close` policy lets a slow client resume from
  /// history with nothing lost, as long as its gap fits the history.
  QueueOptions queue{};
  /// Cross-origin access for browsers (EventSource with a URL on another origin).
  auth::OriginPolicy cors{};
  /// BYO Asio: the topic; empty takes the last segment of the request path.
  std::string topic{};
  /// When the stream must end (a token's expiry); max(): never.
  Clock::time_point expires = Clock::time_point::max();
};

/// Server-Sent Events: one `text/event-stream` response per subscriber,
/// chunked over HTTP/1.1 and close-delimited over HTTP/1.0, resumable with
/// `Last-Event-ID` (or `?lastEventId=`; the header wins).
///
/// @par Example
/// @code
/// server.sse("/sse/{topic}", hub, {.heartbeat = std::chrono::seconds(10)});
/// @endcode
class SSEPolicy {
 public:
  static constexpr TransportKind kind = TransportKind::sse;
  using options_type = SSEOptions;

  /// `expires`: when the subscriber's permission lapses (the stream ends then).
  SSEPolicy(Hub& hub, std::string topic, std::optional<std::uint64_t> cursor, bool chunked,
            std::string head, const SSEOptions& o, Clock::time_point expires = Clock::time_point::max())
      : hub_(hub), metrics_(&hub.metrics()), topic_(std::move(topic)), cursor_(cursor), head_(std::move(head)),
        heartbeat_(o.heartbeat), expires_(std::min(o.expires, expires)), chunked_(chunked) {}

  // Its own pointer: counted after the connection left the hub, which may be gone by then.
  Metrics& metrics() { return *metrics_; }

  template <class C>
  void on_start(C& c) {
    std::string out = std::move(head_);
    head_ = {};
    auto r = c.subscribe(hub_, topic_, sub_, {.after = cursor_, .last = 0});
    std::string body;
    if (r.reset) sse::append_reset(body, r.next);
    frame(out, body);
    c.send(std::move(out));
    Metrics::add(metrics().replayed[Metrics::idx(kind)], r.replay.size());
    backlog_ = std::move(r.replay);
    feed_backlog(c);
    next_tick(c, c.now());
  }

  /// The queue was written out: the replay continues.
  template <class C>
  void on_drained(C& c) { feed_backlog(c); }

  template <class C>
  void on_read(C&, std::span<const char>) {}  // a client sends nothing; EOF is noticed by the connection

  template <class C>
  void on_event(C& c, const EventPtr& ev, Subscription&) {
    if (backlog_pos_ < backlog_.size()) return hold(c, ev);
    send(c, ev);
  }

  template <class C>
  void on_tick(C& c, Clock::time_point now) {
    if (now >= expires_) return end(c);
    if (!active_) {
      std::string hb;
      frame(hb, sse::heartbeat_comment);
      c.send(std::move(hb));
    }
    active_ = false;
    next_tick(c, now);
  }

  template <class C>
  void on_shutdown(C& c) { end(c); }

  template <class C>
  void on_close(C&, std::error_code) { hub_.unsubscribe(sub_); }

  /// The policy's routes on a herald::Server: `GET`/`HEAD` streams, `OPTIONS` preflight.
  static void install(Server& server, std::string_view pattern, Hub& hub, SSEOptions o = {});

  /// The response head for `req`, or an error status with its reason.
  template <http::RequestLike Req>
  static std::string response_head(const Req& req, const SSEOptions& o, bool chunked) {
    std::string h = chunked ? "HTTP/1.1 200 OK\r\n" : "HTTP/1.0 200 OK\r\n";
    h += "Content-Type: text/event-stream; charset=utf-8\r\nCache-Control: no-cache\r\nX-Accel-Buffering: no\r\n";
    if (auto origin = req.header("Origin")) h += o.cors.cors_headers(*origin, req.method(), false);
    h += chunked ? "Transfer-Encoding: chunked\r\n\r\n" : "Connection: close\r\n\r\n";
    if (o.retry) {
      std::string r;
      sse::append_retry(r, static_cast<std::uint64_t>(o.retry->count()));
      if (chunked) sse::append_chunk(h, r); else h += r;
    }
    return h;
  }

  /// The resume cursor of a request: `Last-Event-ID` wins over `?lastEventId=`.
  /// A value that is not a number is ignored (the stream starts live), as a
  /// browser's id can be any string.
  template <http::RequestLike Req>
  static std::optional<std::uint64_t> cursor_of(const Req& req) {
    if (auto h = req.header("Last-Event-ID")) {
      if (auto n = http::parse_uint64(*h)) return n;
      return std::nullopt;
    }
    if (auto q = http::query_param(req.target(), "lastEventId")) return http::parse_uint64(*q);
    return std::nullopt;
  }

 private:
  const std::string& frame_of(const EventPtr& ev) const {
    if (chunked_)
      return ev->frame(FrameKind::sse_chunked, [](const Event& e) {
        return sse::encode_frame(e.id(), e.data(), sse::Framing::chunked);
      });
    return ev->frame(FrameKind::sse_raw, [](const Event& e) {
      return sse::encode_frame(e.id(), e.data(), sse::Framing::close_delimited);
    });
  }
  template <class C>
  void send(C& c, const EventPtr& ev) {
    active_ = true;
    c.send_event(ev, frame_of(ev));
  }
  // The replay of a resume goes out as the socket takes it, up to the high
  // watermark at a time: queued all at once, a client that resumes further
  // behind than the watermark was closed as slow by its own replay, before
  // reading a byte, on every reconnect (found by the slow-consumer io test).
  // The events are shared with the history, so holding them copies nothing.
  template <class C>
  void feed_backlog(C& c) {
    const std::size_t limit = c.queue().options().high_watermark;
    while (backlog_pos_ < backlog_.size() && c.is_open()) {
      const EventPtr& ev = backlog_[backlog_pos_];
      if (!c.queue().empty() && c.queue().bytes() + frame_of(ev).size() > limit) return;  // on_drained goes on
      ++backlog_pos_;
      send(c, ev);
    }
    backlog_.clear();
    backlog_.shrink_to_fit();
    backlog_pos_ = 0;
    held_bytes_ = 0;
  }
  // A live event while the replay is still going out waits behind it, in
  // order. Those waiting live events are the client's lag: past the high
  // watermark it is a slow consumer, closed (and counted) whatever the queue
  // policy, and resumes later from its Last-Event-ID.
  template <class C>
  void hold(C& c, const EventPtr& ev) {
    backlog_.push_back(ev);
    held_bytes_ += ev->data().size();
    if (held_bytes_ > c.queue().options().high_watermark) {
      Metrics::add(metrics().closed_slow[Metrics::idx(kind)]);
      c.close(make_error_code(error::queue_overflow), false);
    }
  }
  void frame(std::string& out, std::string_view bytes) const {
    if (chunked_) sse::append_chunk(out, bytes); else out.append(bytes);
  }
  template <class C>
  void next_tick(C& c, Clock::time_point now) {
    auto t = now + heartbeat_;
    c.set_deadline(t < expires_ ? t : expires_);
  }
  template <class C>
  void end(C& c) {
    if (chunked_) c.send(std::string(sse::last_chunk));
    c.close();
  }

  Hub& hub_;
  Metrics* metrics_;
  std::string topic_;
  std::optional<std::uint64_t> cursor_;
  std::string head_;
  Subscription sub_;
  std::vector<EventPtr> backlog_;  // replay (then live events behind it) not yet queued
  std::size_t backlog_pos_ = 0;    // next to queue
  std::size_t held_bytes_ = 0;     // data bytes of the live events in backlog_
  std::chrono::milliseconds heartbeat_;
  Clock::time_point expires_;
  bool chunked_;
  bool active_ = false;  // something was sent since the last tick: no heartbeat due
};

/// Bring your own Asio: serve SSE on a stream your server accepted (a TCP
/// socket, or a TLS stream after its handshake) and whose request it parsed.
/// `leftover` (bytes read past the request) is ignored: an SSE client sends
/// nothing more.
template <class Policy, class Stream, http::RequestLike Req>
  requires std::same_as<Policy, SSEPolicy>
std::shared_ptr<Connection<SSEPolicy, detail::adopted_t<Stream>>> accept(Stream socket, const Req& req,
                                                                        std::string_view leftover, Hub& hub,
                                                                        SSEOptions o = {}) {
  std::string topic = o.topic;
  if (topic.empty()) {
    std::string_view path = req.target();
    path = path.substr(0, path.find('?'));
    topic = std::string(path.substr(path.rfind('/') + 1));
  }
  (void)leftover;
  // HTTP/1.0 clients get a close-delimited stream; a request type that cannot
  // say its version is taken as HTTP/1.1.
  bool chunked = true;
  if constexpr (requires { req.version_minor(); }) chunked = req.version_minor() >= 1;
  auto conn = Connection<SSEPolicy, detail::adopted_t<Stream>>::create(
      detail::adopt(std::move(socket)), hub, topic, SSEPolicy::cursor_of(req), chunked,
      SSEPolicy::response_head(req, o, chunked), o);
  conn->queue().set_options(o.queue);
  conn->start();
  return conn;
}

inline void SSEPolicy::install(Server& server, std::string_view pattern, Hub& hub, SSEOptions o) {
  auto opt = std::make_shared<const SSEOptions>(std::move(o));
  auto stream = [&hub, opt](Exchange& ex) {
    std::string_view topic = ex.param("topic");
    if (!valid_topic(topic)) return ex.respond_error(400, "topic must be 1-128 of A-Za-z0-9_.-");
    const auto& req = ex.request();
    Clock::time_point expires;
    // CORS on a denial too: a cross-origin page can then tell 401 from 403.
    std::string cors;
    if (auto origin = req.header("Origin")) cors = opt->cors.cors_headers(*origin, req.method(), false);
    if (!ex.authorize(topic, auth::Action::subscribe, &expires, cors)) return;
    bool chunked = req.version_minor() >= 1;
    if (ex.is_head()) {
      std::string h = response_head(req, *opt, chunked);
      h.resize(h.find("\r\n\r\n") + 4);
      return ex.respond_raw(std::move(h), ex.keep_alive());
    }
    if (ex.shutting_down()) return ex.respond_error(503, "server is shutting down", {{"Retry-After", "1"}});
    std::string head = response_head(req, *opt, chunked);
    auto cursor = cursor_of(req);
    std::string leftover;
    auto socket = ex.take_socket(leftover);
    auto conn = Connection<SSEPolicy>::create(std::move(socket), hub, std::string(topic), cursor, chunked,
                                              std::move(head), *opt, expires);
    conn->queue().set_options(opt->queue);
    conn->hold(ex.take_lease());
    conn->start();
  };
  server.route("GET", pattern, stream);
  server.route("HEAD", pattern, stream);
  server.route("OPTIONS", pattern, [opt](Exchange& ex) {
    const auto& req = ex.request();
    auto origin = req.header("Origin").value_or("");
    std::string h = opt->cors.cors_headers(origin, req.header("Access-Control-Request-Method").value_or("GET"), true,
                                           req.header("Access-Control-Request-Headers").value_or(""));
    std::string out = "HTTP/1.1 204 No Content\r\n" + h + (ex.keep_alive() ? "" : "Connection: close\r\n") + "\r\n";
    ex.respond_raw(std::move(out), ex.keep_alive());
  });
}

}  // namespace herald
