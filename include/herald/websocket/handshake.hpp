// herald: the WebSocket opening handshake (RFC 6455 section 4), sans-I/O.
// Server: check a parsed upgrade request and write the 101 (or the refusal).
// Client: build the upgrade request and check the server's answer.
#pragma once
#include <herald/config.hpp>
#include <herald/core/base64.hpp>
#include <herald/core/error.hpp>
#include <herald/http/request_like.hpp>
#include <herald/websocket/deflate.hpp>

#include <openssl/evp.h>
#include <openssl/rand.h>

#include <functional>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <system_error>
#include <utility>
#include <vector>

namespace herald::websocket {

/// A header to add to a request or response: name, value.
using HeaderField = std::pair<std::string_view, std::string_view>;

/// `Sec-WebSocket-Accept` for a client's `Sec-WebSocket-Key`:
/// base64(SHA-1(key + "258EAFA5-E914-47DA-95CA-C5AB0DC85B11")).
HERALD_DECL std::string accept_key(std::string_view client_key) {
  static constexpr std::string_view guid = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11";
  std::string input;
  input.reserve(client_key.size() + guid.size());
  input.append(client_key).append(guid);
  unsigned char digest[EVP_MAX_MD_SIZE];
  unsigned int len = 0;
  if (EVP_Digest(input.data(), input.size(), digest, &len, EVP_sha1(), nullptr) != 1) return {};
  return herald::base64_encode(std::string_view(reinterpret_cast<const char*>(digest), len));
}

namespace detail {
/// True if the comma-separated header value holds `token` (case-insensitive),
/// as `Connection: keep-alive, Upgrade` holds `upgrade`.
inline bool has_token(std::string_view value, std::string_view token) {
  bool found = false;
  split_unquoted(value, ',', [&](std::string_view t) {
    found = iequals(trim_ows(t), token);
    return !found;
  });
  return found;
}
inline bool is_valid_key(std::string_view key) {
  auto raw = herald::base64_decode(key);
  return raw && raw->size() == 16;
}
}  // namespace detail

/// Server handshake settings (designated initialisers).
struct HandshakeOptions {
  /// Subprotocols this endpoint speaks, in the server's order of preference;
  /// the first one the client also offers is chosen. Empty: none.
  std::vector<std::string> subprotocols{};
  /// Origin check: called with the `Origin` header (empty if absent, as for
  /// non-browser clients); false refuses the handshake with 403. Empty: any
  /// origin. Browsers send Origin, so this is the defence against
  /// cross-site WebSocket hijacking when cookies authenticate.
  std::function<bool(std::string_view)> check_origin{};
  /// permessage-deflate; on by default with no context takeover either way,
  /// so an idle connection holds no zlib state.
  DeflateOptions deflate{};
};

/// The verdict on an upgrade request.
struct HandshakeResult {
  /// 101 if accepted; otherwise 400, 403 or 426.
  int status = 101;
  /// `ws_bad_handshake` (400), `ws_bad_version` (426), `auth_forbidden` (403).
  std::error_code error{};
  /// Why it was refused, for the response body and logs.
  std::string_view reason{};
  /// `Sec-WebSocket-Accept` value.
  std::string accept{};
  /// Chosen subprotocol; empty if none.
  std::string subprotocol{};
  /// Negotiated permessage-deflate, if any: give it to `ReaderOptions::deflate`
  /// and compress outgoing messages with `Deflater(p.server_max_window_bits,
  /// !p.server_no_context_takeover)`.
  std::optional<DeflateParams> deflate{};
  /// True if the handshake is accepted.
  explicit operator bool() const noexcept { return !error; }
};

/// Checks a client's upgrade request (RFC 6455 section 4.2.1): GET, `Upgrade:
/// websocket`, `Connection` holding `upgrade`, a `Host`, a
/// `Sec-WebSocket-Key` of 16 base64 bytes, `Sec-WebSocket-Version: 13`; then
/// the Origin hook, the subprotocol and the extensions.
/// @note `RequestLike::header` yields the first value of a header only; a
/// client that splits `Sec-WebSocket-Protocol` or `-Extensions` over several
/// lines is read from the first.
template <herald::http::RequestLike R>
HandshakeResult check_request(const R& req, const HandshakeOptions& opts) {
  HandshakeResult r;
  auto refuse = [&r](int status, herald::error e, std::string_view why) {
    r.status = status;
    r.error = e;
    r.reason = why;
    return r;
  };
  const std::string_view method = req.method();
  if (method != "GET") return refuse(400, herald::error::ws_bad_handshake, "WebSocket upgrade must be a GET");
  auto upgrade = req.header("Upgrade");
  if (!upgrade || !detail::has_token(*upgrade, "websocket"))
    return refuse(400, herald::error::ws_bad_handshake, "missing Upgrade: websocket");
  auto connection = req.header("Connection");
  if (!connection || !detail::has_token(*connection, "upgrade"))
    return refuse(400, herald::error::ws_bad_handshake, "missing Connection: Upgrade");
  auto version = req.header("Sec-WebSocket-Version");
  if (!version || detail::trim_ows(*version) != "13")
    return refuse(426, herald::error::ws_bad_version, "unsupported Sec-WebSocket-Version; this server speaks 13");
  auto key = req.header("Sec-WebSocket-Key");
  if (!key || !detail::is_valid_key(detail::trim_ows(*key)))
    return refuse(400, herald::error::ws_bad_handshake, "Sec-WebSocket-Key missing or not 16 base64 bytes");
  if (!req.header("Host")) return refuse(400, herald::error::ws_bad_handshake, "missing Host");
  if (opts.check_origin && !opts.check_origin(req.header("Origin").value_or(std::string_view{})))
    return refuse(403, herald::error::auth_forbidden, "origin not allowed");

  if (auto offered = req.header("Sec-WebSocket-Protocol"); offered && !opts.subprotocols.empty()) {
    for (const auto& mine : opts.subprotocols) {
      bool match = false;
      detail::split_unquoted(*offered, ',', [&](std::string_view t) {
        match = detail::trim_ows(t) == mine;
        return !match;
      });
      if (match) {
        r.subprotocol = mine;
        break;
      }
    }
  }
  if (auto ext = req.header("Sec-WebSocket-Extensions")) r.deflate = negotiate_deflate(*ext, opts.deflate);
  r.accept = accept_key(detail::trim_ows(*key));
  return r;
}

/// Appends the `101 Switching Protocols` response for an accepted handshake,
/// with `extra` headers (e.g. Set-Cookie) before the blank line.
HERALD_DECL void write_accept_response(std::string& out, const HandshakeResult& r,
                                       std::span<const HeaderField> extra = {}) {
  out += "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: ";
  out += r.accept;
  out += "\r\n";
  if (!r.subprotocol.empty()) out.append("Sec-WebSocket-Protocol: ").append(r.subprotocol).append("\r\n");
  if (r.deflate)
    out.append("Sec-WebSocket-Extensions: ").append(format_deflate_response(*r.deflate)).append("\r\n");
  for (const auto& [name, value] : extra) out.append(name).append(": ").append(value).append("\r\n");
  out += "\r\n";
}

/// Appends the refusal for a failed handshake: its status, the reason as a
/// text body, `Connection: close`, and for 426 `Sec-WebSocket-Version: 13`
/// (RFC 6455 section 4.4) so the client knows what to retry with.
HERALD_DECL void write_reject_response(std::string& out, const HandshakeResult& r) {
  const char* phrase = r.status == 426 ? "Upgrade Required" : r.status == 403 ? "Forbidden" : "Bad Request";
  out.append("HTTP/1.1 ").append(std::to_string(r.status)).append(" ").append(phrase).append("\r\n");
  if (r.status == 426) out += "Sec-WebSocket-Version: 13\r\nUpgrade: websocket\r\n";
  out += "Content-Type: text/plain; charset=utf-8\r\nConnection: close\r\nContent-Length: ";
  out += std::to_string(r.reason.size());
  out += "\r\n\r\n";
  out += r.reason;
}

// ---- client ----------------------------------------------------------------

/// A fresh `Sec-WebSocket-Key`: 16 random bytes (OpenSSL RAND_bytes), base64.
/// Returns an empty string if the random generator fails.
HERALD_DECL std::string make_client_key() {
  unsigned char raw[16];
  if (RAND_bytes(raw, sizeof raw) != 1) return {};
  return herald::base64_encode(std::string_view(reinterpret_cast<const char*>(raw), sizeof raw));
}

/// The upgrade request a client sends. `offer_deflate` offers permessage-deflate
/// as `format_deflate_offer(DeflateOptions{})` writes it (no context takeover
/// both ways); `extra_headers` go before the blank line (Origin, Cookie, ...).
HERALD_DECL std::string build_client_request(std::string_view host, std::string_view target,
                                             std::string_view key,
                                             std::span<const std::string_view> subprotocols = {},
                                             bool offer_deflate = false,
                                             std::span<const HeaderField> extra_headers = {}) {
  std::string s;
  s.append("GET ").append(target.empty() ? "/" : target).append(" HTTP/1.1\r\nHost: ").append(host);
  s.append("\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: ").append(key);
  s.append("\r\nSec-WebSocket-Version: 13\r\n");
  if (!subprotocols.empty()) {
    s += "Sec-WebSocket-Protocol: ";
    for (std::size_t i = 0; i < subprotocols.size(); ++i) s.append(i ? ", " : "").append(subprotocols[i]);
    s += "\r\n";
  }
  if (offer_deflate) s.append("Sec-WebSocket-Extensions: ").append(format_deflate_offer(DeflateOptions{})).append("\r\n");
  for (const auto& [name, value] : extra_headers) s.append(name).append(": ").append(value).append("\r\n");
  s += "\r\n";
  return s;
}

/// The verdict on a server's handshake response.
struct ClientHandshakeResult {
  std::error_code error{};       ///< `ws_bad_handshake` if refused or invalid
  std::string_view reason{};     ///< why
  std::string subprotocol{};     ///< chosen by the server; empty if none
  std::optional<DeflateParams> deflate{};  ///< agreed permessage-deflate
  explicit operator bool() const noexcept { return !error; }
};

/// Checks the server's response (RFC 6455 section 4.1): status 101, `Upgrade:
/// websocket`, `Connection: upgrade`, the accept key for our `key`, a
/// subprotocol among those offered, and extensions only as offered.
/// `header(name)` returns `std::optional<std::string_view>`, the header's
/// value (name compared case-insensitively), as `RequestLike::header` does.
template <class HeaderLookup>
ClientHandshakeResult check_response(int status, HeaderLookup&& header, std::string_view key,
                                     std::span<const std::string_view> offered_subprotocols = {},
                                     bool offered_deflate = false) {
  ClientHandshakeResult r;
  auto refuse = [&r](std::string_view why) {
    r.error = herald::error::ws_bad_handshake;
    r.reason = why;
    return r;
  };
  if (status != 101) return refuse("server did not switch protocols");
  std::optional<std::string_view> v = header("Upgrade");
  if (!v || !detail::has_token(*v, "websocket")) return refuse("missing Upgrade: websocket");
  v = header("Connection");
  if (!v || !detail::has_token(*v, "upgrade")) return refuse("missing Connection: Upgrade");
  v = header("Sec-WebSocket-Accept");
  if (!v || detail::trim_ows(*v) != accept_key(key)) return refuse("wrong Sec-WebSocket-Accept");
  if ((v = header("Sec-WebSocket-Protocol"))) {
    const std::string_view chosen = detail::trim_ows(*v);
    bool ok = false;
    for (auto p : offered_subprotocols) ok = ok || p == chosen;
    if (!ok) return refuse("server chose a subprotocol we did not offer");
    r.subprotocol = chosen;
  }
  if ((v = header("Sec-WebSocket-Extensions")) && !detail::trim_ows(*v).empty()) {
    if (!offered_deflate) return refuse("server chose an extension we did not offer");
    r.deflate = parse_deflate_response(detail::trim_ows(*v), DeflateOptions{});
    if (!r.deflate) return refuse("invalid permessage-deflate response");
  }
  return r;
}

}  // namespace herald::websocket
