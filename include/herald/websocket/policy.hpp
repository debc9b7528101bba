// herald: WebSocketPolicy: RFC 6455 (+ RFC 7692) over Connection<WebSocketPolicy, Stream>,
// server and client roles, plain TCP or TLS. The sans-I/O core (frame.hpp,
// handshake.hpp, deflate.hpp) does the protocol; this file does the I/O half.
#pragma once
#include <herald/auth/hook.hpp>
#include <herald/auth/rate_limit.hpp>
#include <herald/core/connection.hpp>
#include <herald/core/json.hpp>
#include <herald/core/topic.hpp>
#include <herald/http/query.hpp>
#include <herald/http/request_like.hpp>
#include <herald/http/server.hpp>
#include <herald/websocket/deflate.hpp>
#include <herald/websocket/frame.hpp>
#include <herald/websocket/handshake.hpp>

#include <asio/write.hpp>

#include <chrono>
#include <deque>
#include <functional>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>

namespace herald {

class WebSocketPolicy;

namespace websocket {
/// A message as a client's `async_receive` hands it out. The last one of a
/// connection has `op == Opcode::close`, the peer's `close_code` (1005: none
/// given, 1006: the connection dropped without a close frame) and its reason in `data`.
struct Message {
  Opcode op = Opcode::text;
  std::string data;
  std::uint16_t close_code = 0;
};
}  // namespace websocket

/// Knobs of a WebSocket endpoint (server) or connection (client).
/// Defaults are production-safe; designated initialisers pick what to change.
struct WebSocketOptions {
  /// Largest incoming message after inflation; past it: close 1009. 32 MiB
  /// (herald-demo's `--max-message` default): large documents pass, a handful
  /// of hostile peers cannot exhaust memory.
  std::size_t max_message_size = 32u << 20;
  /// Outgoing messages larger than this go out as several frames of this
  /// size (0: never split). 1 MiB costs 10 header bytes per MiB and keeps any
  /// one frame within what proxies with a per-frame limit accept.
  std::size_t fragment_size = 1u << 20;
  /// A ping after this long without hearing from the peer (0: never). 15 s:
  /// under the 30-60 s idle timeouts of common proxies and load balancers.
  std::chrono::milliseconds ping_interval{15000};
  /// A peer that sends nothing (not even the pong) this long after our ping is
  /// dead: the TCP connection is dropped without a close frame (what the peer
  /// would see as 1006), counted in `Metrics::ws_dead_peers`. 10 s covers a
  /// congested mobile round trip many times over.
  std::chrono::milliseconds pong_timeout{10000};
  /// After our close frame, how long the peer has to answer and close before
  /// the TCP connection is dropped (RFC 6455 7.1.1).
  std::chrono::milliseconds close_timeout{5000};
  /// permessage-deflate: on by default with no context takeover either way,
  /// so an idle connection holds no zlib state (deflate.hpp states the cost of
  /// takeover). A client offers it when `enabled`.
  websocket::DeflateOptions deflate{};
  /// Messages shorter than this are sent uncompressed even when deflate was
  /// negotiated: deflate adds bytes and a stream reset to tiny payloads.
  std::size_t compress_min_size = 64;
  /// Subprotocols spoken (server: in order of preference; client: offered).
  /// On a topic endpoint `herald.v1` frames events as `{"id":N,"data":"..."}`
  /// and announces resets; list it to allow it.
  std::vector<std::string> subprotocols{};
  /// Server: called with the `Origin` header (empty when absent); false: 403.
  /// Empty: any origin. See `auth::OriginPolicy` for a ready-made allowlist.
  std::function<bool(std::string_view)> check_origin{};
  /// Send queue; the default `close` policy lets a slow subscriber resume
  /// from history with `?after=` and lose nothing within the history window.
  QueueOptions queue{};
  /// Each complete message from the peer, on the connection's thread. The
  /// payload view is valid during the call only. Client without a handler:
  /// messages wait for `Client::async_receive`.
  std::function<void(WebSocketPolicy&, websocket::Opcode, std::string_view)> on_message{};
  /// After the handshake, on the connection's thread (send a greeting, keep a handle).
  std::function<void(WebSocketPolicy&)> on_open{};
  /// Once, when the connection ends, with the peer's close code (1006 if none came).
  std::function<void(WebSocketPolicy&, std::uint16_t)> on_close{};
  /// Server with a hub but no `{topic}` in the route (or BYO accept): the topic
  /// to subscribe to. Empty: none.
  std::string topic{};
  /// When the connection must end (an access token's expiry): close 1008.
  /// `install` also ends each connection when its own token lapses.
  Clock::time_point expires = Clock::time_point::max();
  /// Server: messages a client may send per second, control frames (ping,
  /// pong, close) included; past it close 1008, counted in `Metrics::rate_limited`. 100/s
  /// in bursts of 200 is far above a person typing or a client publishing
  /// state, and keeps one connection from flooding a topic. {0, 0}: no limit.
  /// Not applied to loopback peers unless `ServerOptions::limit_loopback`.
  auth::RateLimit message_rate{100, 200};
};

namespace detail {
/// A client's pending `async_receive`, its handler boxed without std::function
/// (which would lose the handler's executor).
struct WsReceiveOp {
  virtual ~WsReceiveOp() = default;
  virtual void complete(std::error_code ec, websocket::Message m) = 0;
};
template <class Handler, class Executor>
struct WsReceiveOpImpl final : WsReceiveOp {
  WsReceiveOpImpl(Handler h, Executor ex) : handler(std::move(h)), fallback(std::move(ex)) {}
  void complete(std::error_code ec, websocket::Message m) override {
    auto ex = asio::get_associated_executor(handler, fallback);
    asio::post(ex, [h = std::move(handler), ec, m = std::move(m)]() mutable { h(ec, std::move(m)); });
  }
  Handler handler;
  Executor fallback;
};
/// Messages waiting for a client's `async_receive` (client without on_message).
struct WsInbox {
  std::deque<websocket::Message> messages;
  std::unique_ptr<WsReceiveOp> waiting;
  bool ended = false;
};
}  // namespace detail

/// WebSocket over `Connection<WebSocketPolicy, Stream>`, `Stream` being
/// `asio::ip::tcp::socket` (ws://) or `asio::ssl::stream<asio::ip::tcp::socket>`
/// (wss://), in the server or the client role.
///
/// Reading: bytes go to a `websocket::Reader` straight from the loop's shared
/// buffer (unmasked in place); pings are answered with pongs of the same
/// payload; a protocol error is answered with the Reader's close code (1002,
/// 1007, 1009), counted in `Metrics::ws_protocol_errors`. Every close we
/// start is lingering: the TCP connection is half-closed after the close
/// frame and dropped when the peer closes or `close_timeout` passes, so the
/// close frame is not lost to a reset.
///
/// Broadcasting: each event's frame is encoded once per kind (plain or
/// `herald.v1`, compressed or not) in the event's frame cache and queued by
/// reference. Compressed event frames are shared only by connections that
/// negotiated no server context takeover and a 15-bit window; the others get
/// the uncompressed frame (RFC 7692 lets any message go uncompressed).
///
/// The policy object is also the handle the callbacks get: `send_text`,
/// `send_binary`, `close`, ... act on its connection.
/// @par Thread Safety
/// Use the handle on its connection's thread only (inside the callbacks, or
/// after `asio::dispatch` to the connection's executor).
class WebSocketPolicy {
 public:
  static constexpr TransportKind kind = TransportKind::websocket;
  using options_type = WebSocketOptions;
  /// The subprotocol with event ids and reset notices.
  static constexpr std::string_view herald_v1 = "herald.v1";

  /// Everything a connection starts with; made by `install`, `accept` and `connect`.
  struct Setup {
    websocket::Role role = websocket::Role::server;
    std::shared_ptr<const WebSocketOptions> options;
    Metrics* metrics = &default_metrics();
    Hub* hub = nullptr;                           ///< subscribe to `topic` on it
    std::string topic{};
    std::optional<std::uint64_t> after{};         ///< resume cursor (`?after=N`)
    std::string subprotocol{};                    ///< negotiated
    std::optional<websocket::DeflateParams> deflate{};  ///< negotiated
    std::string response{};                       ///< server: the 101 to write first
    /// Server: when this connection's permission lapses (close 1008).
    Clock::time_point expires = Clock::time_point::max();
    /// Server with an authorization hook: the handshake request's publish
    /// decision for `topic`, kept for the messages (which publish). Empty:
    /// no hook, messages are not checked.
    std::optional<auth::AuthDecision> publish{};
    Clock::time_point publish_expires = Clock::time_point::max();  ///< its lapse on the loop's clock
    bool limit_messages = true;                   ///< apply `message_rate` (false: exempt peer)
  };

  HERALD_DECL explicit WebSocketPolicy(Setup s);

  Metrics& metrics() noexcept { return *metrics_; }

  // ---- the handle ----------------------------------------------------------
  /// Queues a message (compressed when negotiated and worth it, fragmented
  /// past `fragment_size`). Ignored once closing.
  HERALD_DECL void send(websocket::Opcode op, std::string_view payload);
  void send_text(std::string_view s) { send(websocket::Opcode::text, s); }
  void send_binary(std::string_view s) { send(websocket::Opcode::binary, s); }
  /// Sends a ping (payload up to 125 bytes).
  HERALD_DECL void ping(std::string_view payload = {});
  /// Starts the close handshake with `code` (and a reason of up to 123 bytes).
  HERALD_DECL void close(std::uint16_t code = 1000, std::string_view reason = {});
  /// True until the close handshake starts or the connection ends.
  bool is_open() const noexcept { return conn_ && !closing_ && ops_->is_open(conn_); }
  websocket::Role role() const noexcept { return role_; }
  const std::string& subprotocol() const noexcept { return subprotocol_ ? *subprotocol_ : no_string(); }
  const std::string& topic() const noexcept { return topic_ ? *topic_ : no_string(); }
  /// True when permessage-deflate was negotiated.
  bool compressed() const noexcept { return deflate_.has_value(); }
  /// The peer's close code once it sent one (0 before).
  std::uint16_t peer_close_code() const noexcept { return peer_code_; }
  const WebSocketOptions& options() const noexcept { return *opt_; }

  /// Client without `on_message`: completes with the next message (then the
  /// final close message, then `error::closed`). Call on the connection's thread.
  template <class Handler>
  void receive(Handler&& h, asio::any_io_executor fallback) {
    using H = std::decay_t<Handler>;
    auto op = std::make_unique<detail::WsReceiveOpImpl<H, asio::any_io_executor>>(std::forward<Handler>(h),
                                                                                  std::move(fallback));
    inbox().waiting = std::move(op);
    pump_inbox();
  }

  // ---- the policy hooks (Connection calls these) ---------------------------
  template <class C>
  void on_start(C& c) {
    bind(c);
    start();
  }
  template <class C>
  void on_read(C&, std::span<char> bytes) { read(bytes); }
  template <class C>
  void on_event(C& c, const EventPtr& ev, Subscription&) {
    if (!closing_) c.send_event(ev, frame_for(ev));
  }
  template <class C>
  void on_tick(C&, Clock::time_point now) { tick(now); }
  template <class C>
  void on_shutdown(C&) {
    start_close(1001, role_ == websocket::Role::server ? "server shutting down" : "going away",
                make_error_code(error::shutting_down));
  }
  template <class C>
  void on_close(C&, std::error_code ec) { ended(ec); }
  /// A server stops reading while its queue is full (what it queues answers
  /// the peer); a client's queue holds its own sends, and a client that
  /// stopped reading the server's answers until those are written could
  /// deadlock with a server doing the same.
  bool pause_reads_when_full() const noexcept { return role_ == websocket::Role::server; }
  /// A callback (ours, a codec, `on_message`, ...) threw: close 1011.
  template <class C>
  void on_failure(C&) {
    start_close(static_cast<std::uint16_t>(websocket::CloseCode::internal_error), "internal error",
                make_error_code(error::internal_error));
  }

  // ---- assembly -------------------------------------------------------------
  /// Serves WebSocket on `pattern`; with `{topic}` in it (or `o.topic`), each
  /// connection subscribes to that topic of `hub` and resumes after `?after=N`.
  static void install(Server& server, std::string_view pattern, Hub& hub, WebSocketOptions o = {});
  /// Serves WebSocket on `pattern` without a hub (messages go to `o.on_message`).
  static void install(Server& server, std::string_view pattern, WebSocketOptions o = {});

  /// The handshake verdict for `req` under `o` (the 101 or the refusal to write).
  template <http::RequestLike Req>
  static websocket::HandshakeResult check(const Req& req, const WebSocketOptions& o) {
    websocket::HandshakeOptions h{.subprotocols = o.subprotocols, .check_origin = o.check_origin, .deflate = o.deflate};
    return websocket::check_request(req, h);
  }

  /// The frame of `ev` for this connection, from the event's cache.
  HERALD_DECL const std::string& frame_for(const EventPtr& ev) const;
  /// Encodes `e` as one text message (`v1`: `{"id":N,"data":"..."}`),
  /// compressed with a fresh per-message deflate stream when `deflate`.
  HERALD_DECL static std::string encode_event(const Event& e, bool v1, bool deflate, std::size_t fragment_size);

 private:
  /// What the policy needs of its connection, erased so the protocol code
  /// below is compiled once, not once per stream type.
  struct ConnOps {
    void (*send)(void*, std::string);
    bool (*send_event)(void*, const EventPtr&, const std::string&);
    void (*send_ref)(void*, const EventPtr&, const std::string&);
    void (*close)(void*, std::error_code, bool graceful, Clock::duration, bool linger);
    void (*set_deadline)(void*, Clock::time_point);
    Clock::time_point (*now)(void*);
    bool (*is_open)(void*);
    SubscribeResult (*subscribe)(void*, Hub&, std::string_view, Subscription&, const SubscribeOptions&);
  };
  template <class C>
  static const ConnOps& ops_for() {
    static constexpr ConnOps ops{
        [](void* c, std::string s) { static_cast<C*>(c)->send(std::move(s)); },
        [](void* c, const EventPtr& ev, const std::string& f) { return static_cast<C*>(c)->send_event(ev, f); },
        [](void* c, const EventPtr& ev, const std::string& f) {
          static_cast<C*>(c)->send(Chunk{std::shared_ptr<const void>(ev, &f), f, {}, false});
        },
        [](void* c, std::error_code ec, bool g, Clock::duration d, bool l) { static_cast<C*>(c)->close(ec, g, d, l); },
        [](void* c, Clock::time_point t) { static_cast<C*>(c)->set_deadline(t); },
        [](void* c) { return static_cast<C*>(c)->now(); },
        [](void* c) { return static_cast<C*>(c)->is_open(); },
        [](void* c, Hub& h, std::string_view t, Subscription& s, const SubscribeOptions& o) {
          return static_cast<C*>(c)->subscribe(h, t, s, o);
        },
    };
    return ops;
  }
  template <class C>
  void bind(C& c) {
    conn_ = &c;
    ops_ = &ops_for<C>();
  }

  HERALD_DECL void start();
  HERALD_DECL void read(std::span<char> bytes);
  HERALD_DECL void tick(Clock::time_point now);
  HERALD_DECL void ended(std::error_code ec);
  HERALD_DECL void schedule();
  HERALD_DECL void send_control(websocket::Opcode op, std::string_view payload);
  HERALD_DECL void peer_closed(std::uint16_t code, std::string_view reason);
  HERALD_DECL void start_close(std::uint16_t code, std::string_view reason, std::error_code ec);
  HERALD_DECL void deliver(websocket::Opcode op, std::string_view payload);
  /// Takes a token of `message_rate` (when limited); false: closing with 1008.
  HERALD_DECL bool within_rate();
  HERALD_DECL void pump_inbox();

  /// State an idle default connection does not need, in one block made on
  /// first use and dropped after start when nothing in it is needed any more:
  /// most idle subscribers hold none (see benchmarks/RESULTS.md, memory per
  /// idle connection).
  struct Cold {
    std::string response;                       // server: the 101, until written by start()
    std::optional<std::uint64_t> after;         // resume cursor, until start() subscribes
    std::string topic;                          // until subscribed (then the hub's name is used)
    std::string subprotocol;                    // only if not one of the options' (never, in practice)
    std::optional<auth::AuthDecision> publish;  // server with a hook: may messages publish?
    Clock::time_point publish_expires = Clock::time_point::max();
    std::optional<auth::TokenBucket> bucket;    // server: message_rate, from the first message on
    std::optional<websocket::Deflater> deflater;  // negotiated: from the first compressed send on
    std::string peer_reason;                    // the peer's close reason
    std::unique_ptr<detail::WsInbox> inbox;     // client without on_message only
    bool needed() const noexcept {
      return !response.empty() || after || !topic.empty() || !subprotocol.empty() || publish || bucket || deflater ||
             !peer_reason.empty() || inbox;
    }
  };
  Cold& cold() {
    if (!cold_) cold_ = std::make_unique<Cold>();
    return *cold_;
  }
  detail::WsInbox& inbox() {
    auto& in = cold().inbox;
    if (!in) in = std::make_unique<detail::WsInbox>();
    return *in;
  }
  void trim_cold() noexcept {
    if (cold_ && !cold_->needed()) cold_.reset();
  }
  static const std::string& no_string() noexcept {
    static const std::string none;
    return none;
  }

  std::shared_ptr<const WebSocketOptions> opt_;
  Metrics* metrics_;
  Hub* hub_;
  void* conn_ = nullptr;
  const ConnOps* ops_ = nullptr;
  websocket::Reader reader_;
  // Views of immutable strings that outlive the connection: an element of
  // opt_->subprotocols, the hub's topic name (topics are never erased) or
  // opt_->topic; else cold_->subprotocol / cold_->topic. Null: none.
  const std::string* topic_ = nullptr;
  const std::string* subprotocol_ = nullptr;
  std::unique_ptr<Cold> cold_;
  Subscription sub_;
  Clock::time_point expires_;                 // min(options' expires, the token's lapse)
  // When a byte last arrived; once a ping is sent (awaiting_pong_), when it
  // was sent: any byte heard after it ends the wait.
  Clock::time_point last_heard_{};
  std::optional<websocket::DeflateParams> deflate_;
  websocket::Role role_;
  std::uint16_t peer_code_ = 0;
  bool v1_ = false;
  bool cache_deflate_ = false;  // compressed event frames from the shared cache fit this peer
  bool awaiting_pong_ = false;
  bool closing_ = false;        // our close frame is queued: read nothing more
  bool limit_ = false;          // server: apply message_rate (the bucket is made on the first message)
};

/// Bring your own Asio: serve WebSocket on a stream (a TCP socket, or a TLS
/// stream after its handshake) whose upgrade request your server parsed.
/// `leftover` are bytes read past the request. With a `hub` the connection
/// subscribes to `o.topic` (or the last path segment) and resumes after `?after=N`.
/// A refused handshake is answered (400/403/426) and the stream closed;
/// the result is then null.
template <class Policy, class Stream, http::RequestLike Req>
  requires std::same_as<Policy, WebSocketPolicy>
std::shared_ptr<Connection<WebSocketPolicy, detail::adopted_t<Stream>>> accept(Stream stream, const Req& req,
                                                                              std::string_view leftover, Hub* hub,
                                                                              WebSocketOptions o = {});

/// @copydoc accept
template <class Policy, class Stream, http::RequestLike Req>
  requires std::same_as<Policy, WebSocketPolicy>
std::shared_ptr<Connection<WebSocketPolicy, detail::adopted_t<Stream>>> accept(Stream stream, const Req& req,
                                                                              std::string_view leftover, Hub& hub,
                                                                              WebSocketOptions o = {}) {
  return accept<Policy>(std::move(stream), req, leftover, &hub, std::move(o));
}

}  // namespace herald

#include <herald/websocket/impl/policy.hpp>
