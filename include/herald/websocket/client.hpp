// herald: the WebSocket client: ws:// and wss:// (TLS with peer and host name
// verification, SNI), giving a client-role Connection<WebSocketPolicy, Stream>.
#pragma once
#include <herald/websocket/policy.hpp>

#include <asio/co_spawn.hpp>
#include <asio/connect.hpp>
#include <asio/experimental/as_tuple.hpp>
#include <asio/ip/tcp.hpp>
#include <asio/read_until.hpp>
#include <asio/ssl.hpp>
#include <asio/steady_timer.hpp>
#include <asio/use_awaitable.hpp>
#include <asio/use_future.hpp>

#include <openssl/ssl.h>

#include <variant>

namespace herald::websocket {

/// A parsed `ws://` or `wss://` URL.
struct Url {
  bool tls = false;
  std::string host;    ///< without brackets for IPv6
  std::string port;    ///< "80"/"443" when absent
  std::string target;  ///< path and query, "/" at least
  bool default_port = true;
};

/// Parses `ws[s]://host[:port][/path][?query]`; nullopt if it is not one.
HERALD_DECL std::optional<Url> parse_url(std::string_view s) {
  Url u;
  if (s.starts_with("ws://")) s.remove_prefix(5);
  else if (s.starts_with("wss://")) { s.remove_prefix(6); u.tls = true; }
  else return std::nullopt;
  const std::size_t slash = s.find_first_of("/?");
  std::string_view authority = s.substr(0, slash);
  u.target = slash == std::string_view::npos ? "/" : std::string(s.substr(slash));
  if (u.target.front() == '?') u.target.insert(0, "/");
  std::string_view port;
  if (authority.starts_with("[")) {
    const std::size_t close = authority.find(']');
    if (close == std::string_view::npos) return std::nullopt;
    u.host = authority.substr(1, close - 1);
    authority.remove_prefix(close + 1);
    if (!authority.empty()) {
      if (authority.front() != ':') return std::nullopt;
      port = authority.substr(1);
    }
  } else {
    const std::size_t colon = authority.find(':');
    u.host = authority.substr(0, colon);
    if (colon != std::string_view::npos) port = authority.substr(colon + 1);
  }
  if (u.host.empty() || u.host.find('@') != std::string::npos) return std::nullopt;
  if (!port.empty()) {
    auto n = http::parse_uint64(port);
    if (!n || *n == 0 || *n > 65535) return std::nullopt;
    u.port = port;
    u.default_port = false;
  } else {
    u.port = u.tls ? "443" : "80";
  }
  return u;
}

/// How a client connects (designated initialisers).
struct ClientOptions {
  /// Extra request headers: Origin, Authorization, Cookie...
  std::vector<std::pair<std::string, std::string>> headers{};
  /// wss:// trust settings. Null: the system's trust store, peer verified.
  /// The context must outlive the connection.
  asio::ssl::context* tls = nullptr;
  /// TCP connect, TLS and the opening handshake must finish within this.
  std::chrono::milliseconds handshake_timeout{10000};
  /// The connection's knobs: `subprotocols` offered, `deflate.enabled` to offer
  /// permessage-deflate, `on_message` (else use `Client::async_receive`), pings...
  WebSocketOptions ws{};
};

/// An open client connection over ws:// or wss://. Copies share it.
/// @par Thread Safety
/// Every member may be called from any thread: work is dispatched to the
/// connection's executor.
class Client {
 public:
  using Plain = Connection<WebSocketPolicy, asio::ip::tcp::socket>;
  using Tls = Connection<WebSocketPolicy, asio::ssl::stream<asio::ip::tcp::socket>>;

  Client() = default;
  Client(std::shared_ptr<Plain> c, std::string sub, bool z) : conn_(std::move(c)), subprotocol_(std::move(sub)), deflate_(z) {}
  Client(std::shared_ptr<Tls> c, std::string sub, bool z) : conn_(std::move(c)), subprotocol_(std::move(sub)), deflate_(z) {}

  explicit operator bool() const noexcept { return conn_.index() != 0; }
  bool is_tls() const noexcept { return conn_.index() == 2; }
  /// The subprotocol the server chose (empty: none).
  const std::string& subprotocol() const noexcept { return subprotocol_; }
  /// True when permessage-deflate was negotiated.
  bool compressed() const noexcept { return deflate_; }

  void send_text(std::string s) { send(Opcode::text, std::move(s)); }
  void send_binary(std::string s) { send(Opcode::binary, std::move(s)); }
  void send(Opcode op, std::string s) {
    with([op, s = std::move(s)](WebSocketPolicy& p) { p.send(op, s); });
  }
  void ping(std::string s = {}) {
    with([s = std::move(s)](WebSocketPolicy& p) { p.ping(s); });
  }
  /// Starts the close handshake; `async_receive` then yields the server's close.
  void close(std::uint16_t code = 1000, std::string reason = {}) {
    with([code, r = std::move(reason)](WebSocketPolicy& p) { p.close(code, r); });
  }

  /// The next message: `void(std::error_code, Message)`. The last message
  /// has `op == Opcode::close`; after it, `error::closed`. Only without an
  /// `on_message` handler. One receive at a time.
  template <class Token>
  auto async_receive(Token&& token) {
    return asio::async_initiate<Token, void(std::error_code, Message)>(
        [this](auto handler) {
          std::visit(
              [&](auto& c) {
                if constexpr (std::is_same_v<std::decay_t<decltype(c)>, std::monostate>) {
                  auto ex = asio::get_associated_executor(handler);
                  asio::post(ex, [h = std::move(handler)]() mutable { h(make_error_code(error::closed), Message{}); });
                } else {
                  asio::any_io_executor ex = c->get_executor();
                  asio::dispatch(ex, [c, ex, h = std::move(handler)]() mutable {
                    c->transport().receive(std::move(h), ex);
                  });
                }
              },
              conn_);
        },
        token);
  }

  std::shared_ptr<Plain> plain() const { return conn_.index() == 1 ? std::get<1>(conn_) : nullptr; }
  std::shared_ptr<Tls> tls() const { return conn_.index() == 2 ? std::get<2>(conn_) : nullptr; }

 private:
  template <class F>
  void with(F f) {
    std::visit(
        [&](auto& c) {
          if constexpr (!std::is_same_v<std::decay_t<decltype(c)>, std::monostate>)
            asio::dispatch(c->get_executor(), [c, f = std::move(f)]() mutable { f(c->transport()); });
        },
        conn_);
  }

  std::variant<std::monostate, std::shared_ptr<Plain>, std::shared_ptr<Tls>> conn_;
  std::string subprotocol_;
  bool deflate_ = false;
};

namespace detail {

/// Status and headers of an HTTP response head (up to the blank line).
struct ResponseHead {
  int status = 0;
  std::vector<std::pair<std::string_view, std::string_view>> headers;
  std::optional<std::string_view> header(std::string_view name) const {
    for (const auto& [n, v] : headers)
      if (iequals(n, name)) return v;
    return std::nullopt;
  }
};

HERALD_DECL std::optional<ResponseHead> parse_response_head(std::string_view head) {
  ResponseHead r;
  std::size_t eol = head.find("\r\n");
  std::string_view line = head.substr(0, eol);
  if (!line.starts_with("HTTP/1.") || line.size() < 12 || line[8] != ' ') return std::nullopt;
  auto code = http::parse_uint64(line.substr(9, 3));
  if (!code) return std::nullopt;
  r.status = static_cast<int>(*code);
  while (eol != std::string_view::npos) {
    head.remove_prefix(eol + 2);
    eol = head.find("\r\n");
    line = head.substr(0, eol);
    if (line.empty()) break;
    const std::size_t colon = line.find(':');
    if (colon == std::string_view::npos || colon == 0) return std::nullopt;
    r.headers.emplace_back(line.substr(0, colon), trim_ows(line.substr(colon + 1)));
  }
  return r;
}

/// The system trust store, verifying peers: the default for wss://.
inline asio::ssl::context& default_client_tls() {
  static asio::ssl::context ctx = [] {
    asio::ssl::context c(asio::ssl::context::tls_client);
    c.set_default_verify_paths();
    c.set_verify_mode(asio::ssl::verify_peer);
    return c;
  }();
  return ctx;
}

template <class Stream>
asio::awaitable<std::pair<std::error_code, Client>> ws_connect(asio::any_io_executor ex, Url u, ClientOptions o) {
  using asio::ip::tcp;
  constexpr auto tok = asio::experimental::as_tuple(asio::use_awaitable);
  constexpr bool tls = !std::is_same_v<Stream, tcp::socket>;
  std::unique_ptr<Stream> stream;
  if constexpr (tls) stream = std::make_unique<Stream>(ex, o.tls ? *o.tls : default_client_tls());
  else stream = std::make_unique<Stream>(ex);
  auto& sock = stream->lowest_layer();

  // One deadline for the whole handshake: closing the socket ends whatever waits.
  auto timed_out = std::make_shared<bool>(false);
  asio::steady_timer timer(ex);
  timer.expires_after(o.handshake_timeout);
  timer.async_wait([timed_out, &sock](std::error_code ec) {
    if (ec) return;
    *timed_out = true;
    std::error_code ignored;
    sock.close(ignored);
  });
  auto fail = [&](std::error_code ec) {
    timer.cancel();
    if (*timed_out) ec = make_error_code(error::timeout);
    return std::pair<std::error_code, Client>{ec, Client{}};
  };

  tcp::resolver resolver(ex);
  auto [rec, endpoints] = co_await resolver.async_resolve(u.host, u.port, tok);
  if (rec) co_return fail(rec);
  auto [cec, ep] = co_await asio::async_connect(sock, endpoints, tok);
  if (cec) co_return fail(cec);
  if constexpr (tls) {
    std::error_code ignored;
    asio::ip::make_address(u.host, ignored);
    if (ignored)  // SNI carries names only, never addresses (RFC 6066 3)
      SSL_set_tlsext_host_name(stream->native_handle(), u.host.c_str());
    stream->set_verify_mode(asio::ssl::verify_peer);
    stream->set_verify_callback(asio::ssl::host_name_verification(u.host));
    auto [hec] = co_await stream->async_handshake(asio::ssl::stream_base::client, tok);
    if (hec) co_return fail(hec);
  }

  std::string host = u.host.find(':') != std::string::npos ? "[" + u.host + "]" : u.host;
  if (!u.default_port) host += ":" + u.port;
  const std::string key = make_client_key();
  std::vector<std::string_view> protocols(o.ws.subprotocols.begin(), o.ws.subprotocols.end());
  std::vector<HeaderField> extra(o.headers.begin(), o.headers.end());
  const bool offer = o.ws.deflate.enabled;
  std::string request = build_client_request(host, u.target, key, protocols, offer, extra);
  auto [wec, wn] = co_await asio::async_write(*stream, asio::buffer(request), tok);
  if (wec) co_return fail(wec);
  std::string in;
  auto [rdec, head_size] = co_await asio::async_read_until(*stream, asio::dynamic_buffer(in, 16 * 1024), "\r\n\r\n", tok);
  if (rdec) co_return fail(rdec);
  timer.cancel();
  if (*timed_out) co_return fail(make_error_code(error::timeout));
  auto head = parse_response_head(std::string_view(in).substr(0, head_size));
  if (!head) co_return fail(make_error_code(error::bad_response));
  auto verdict = check_response(head->status, [&](std::string_view n) { return head->header(n); }, key, protocols, offer);
  if (!verdict) co_return fail(verdict.error);

  auto opt = std::make_shared<const WebSocketOptions>(std::move(o.ws));
  WebSocketPolicy::Setup s{.role = Role::client,
                           .options = opt,
                           .metrics = &default_metrics(),
                           .subprotocol = verdict.subprotocol,
                           .deflate = verdict.deflate};
  auto conn = Connection<WebSocketPolicy, Stream>::create(std::move(*stream), std::move(s));
  conn->queue().set_options(opt->queue);
  conn->start(std::string_view(in).substr(head_size));
  co_return std::pair<std::error_code, Client>{std::error_code{},
                                               Client(conn, verdict.subprotocol, verdict.deflate.has_value())};
}

}  // namespace detail

/// Opens a WebSocket to `url` (`ws://` or `wss://`): TCP, TLS with peer and
/// host name verification and SNI, the opening handshake, all within
/// `o.handshake_timeout`. Completes with `void(std::error_code, Client)`.
/// `ex` must be an io_context's executor; the connection lives there.
/// @par Example
/// @code
/// auto [ec, ws] = co_await herald::websocket::async_connect(ex, "ws://127.0.0.1:8080/ws/echo", {},
///                                                         asio::experimental::as_tuple(asio::use_awaitable));
/// ws.send_text("hi");
/// auto [ec2, msg] = co_await ws.async_receive(asio::experimental::as_tuple(asio::use_awaitable));
/// @endcode
template <class Token>
auto async_connect(asio::any_io_executor ex, std::string_view url, ClientOptions o, Token&& token) {
  return asio::async_initiate<Token, void(std::error_code, Client)>(
      [](auto handler, asio::any_io_executor ex, std::optional<Url> u, ClientOptions o) {
        auto done = [h = std::move(handler)](std::exception_ptr e, std::pair<std::error_code, Client> r) mutable {
          if (e) r.first = make_error_code(error::closed);  // only allocation can throw in there
          h(r.first, std::move(r.second));
        };
        if (!u) {
          return asio::post(ex, [d = std::move(done)]() mutable {
            d(nullptr, {make_error_code(error::invalid_argument), Client{}});
          });
        }
        if (u->tls)
          asio::co_spawn(ex, detail::ws_connect<asio::ssl::stream<asio::ip::tcp::socket>>(ex, std::move(*u), std::move(o)),
                         std::move(done));
        else
          asio::co_spawn(ex, detail::ws_connect<asio::ip::tcp::socket>(ex, std::move(*u), std::move(o)), std::move(done));
      },
      token, std::move(ex), parse_url(url), std::move(o));
}

/// Blocking `async_connect`: throws `std::system_error` on failure.
/// @note `ctx` must be run by another thread meanwhile.
inline Client connect(asio::io_context& ctx, std::string_view url, ClientOptions o = {}) {
  return async_connect(ctx.get_executor(), url, std::move(o), asio::use_future).get();
}

}  // namespace herald::websocket
