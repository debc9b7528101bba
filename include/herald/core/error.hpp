// herald: error codes. Async paths report std::error_code in herald's own
// category, as Asio does; nothing from the network throws across a loop.
#pragma once
#include <herald/config.hpp>

#include <string>
#include <system_error>

namespace herald {

/// Every error herald reports. Grouped by layer; values are stable.
enum class error {
  ok = 0,
  // core
  queue_overflow = 1,   ///< a send queue passed its limit under the `close` policy
  closed,               ///< the connection or hub was closed
  timeout,              ///< an idle, header or operation deadline passed
  shutting_down,        ///< the server is draining
  invalid_topic,        ///< topic name outside 1..128 of [A-Za-z0-9_.-]
  invalid_argument,     ///< a parameter outside its domain (misuse)
  internal_error,       ///< an exception inside a handler, codec or callback: 500 / close 1011
  // http
  bad_request = 100,    ///< malformed request: 400
  uri_too_long,         ///< request line past the limit: 414
  headers_too_large,    ///< header bytes or count past the limit: 431
  body_too_large,       ///< body past the limit: 413
  not_found,            ///< 404
  method_not_allowed,   ///< 405
  too_many_connections, ///< 503
  bad_response,         ///< a peer's HTTP response did not parse (client side)
  // websocket
  ws_protocol_error = 200, ///< RFC 6455 violation: close 1002
  ws_invalid_utf8,         ///< text or close reason not UTF-8: close 1007
  ws_message_too_big,      ///< message past the limit: close 1009
  ws_unsupported_data,     ///< e.g. binary where text is expected: close 1003
  ws_policy_violation,     ///< close 1008
  ws_bad_handshake,        ///< handshake request invalid: 400
  ws_bad_version,          ///< Sec-WebSocket-Version not 13: 426
  ws_deflate_error,        ///< permessage-deflate stream corrupt: close 1002/1007
  // sse
  sse_invalid_field = 300, ///< id or event name with CR, LF or NUL
  // webhook
  webhook_missing_header = 400, ///< a required signature header is absent
  webhook_bad_signature,        ///< no signature matched
  webhook_stale_timestamp,      ///< timestamp outside the tolerance
  webhook_bad_secret,           ///< secret or key malformed
  webhook_forbidden_address,    ///< target refused by the SSRF guard
  webhook_bad_url,              ///< URL not http(s) or unparsable
  webhook_duplicate,            ///< message id already processed
  // webhook outbox (its storage failed; what was accepted is kept and written later)
  outbox_full = 450,            ///< no space: disk full, quota, file size limit (SQLITE_FULL, ENOSPC, EFBIG)
  outbox_read_only,             ///< storage refuses writes (SQLITE_READONLY, EROFS, EACCES)
  outbox_busy,                  ///< database locked by another writer past the busy timeout
  outbox_corrupt,               ///< not a database, or a damaged one (SQLITE_CORRUPT, SQLITE_NOTADB)
  outbox_io,                    ///< any other storage failure (SQLITE_IOERR, SQLITE_CANTOPEN, out of memory...)
  // auth
  auth_missing_token = 500, ///< 401
  auth_invalid_token,       ///< malformed, forged, wrong alg: 401
  auth_expired,             ///< exp/nbf outside leeway: 401
  auth_forbidden,           ///< valid but not for this topic/action: 403
  auth_rate_limited,        ///< 429 / close 1008
};

namespace detail {
class error_category final : public std::error_category {
 public:
  const char* name() const noexcept override { return "herald"; }
  std::string message(int ev) const override {
    switch (static_cast<error>(ev)) {
      case error::ok: return "success";
      case error::queue_overflow: return "send queue overflow";
      case error::closed: return "closed";
      case error::timeout: return "timeout";
      case error::shutting_down: return "server shutting down";
      case error::invalid_topic: return "invalid topic name";
      case error::invalid_argument: return "invalid argument";
      case error::internal_error: return "internal error";
      case error::bad_request: return "bad request";
      case error::uri_too_long: return "request line too long";
      case error::headers_too_large: return "request headers too large";
      case error::body_too_large: return "request body too large";
      case error::not_found: return "not found";
      case error::method_not_allowed: return "method not allowed";
      case error::too_many_connections: return "too many connections";
      case error::bad_response: return "malformed HTTP response";
      case error::ws_protocol_error: return "WebSocket protocol error";
      case error::ws_invalid_utf8: return "invalid UTF-8 in WebSocket text";
      case error::ws_message_too_big: return "WebSocket message too big";
      case error::ws_unsupported_data: return "unsupported WebSocket data";
      case error::ws_policy_violation: return "WebSocket policy violation";
      case error::ws_bad_handshake: return "bad WebSocket handshake";
      case error::ws_bad_version: return "unsupported WebSocket version";
      case error::ws_deflate_error: return "permessage-deflate error";
      case error::sse_invalid_field: return "SSE id or event name contains CR, LF or NUL";
      case error::webhook_missing_header: return "webhook signature header missing";
      case error::webhook_bad_signature: return "webhook signature mismatch";
      case error::webhook_stale_timestamp: return "webhook timestamp outside tolerance";
      case error::webhook_bad_secret: return "webhook secret malformed";
      case error::webhook_forbidden_address: return "webhook target address not allowed";
      case error::webhook_bad_url: return "webhook URL invalid";
      case error::webhook_duplicate: return "webhook message already processed";
      case error::outbox_full: return "webhook outbox storage full";
      case error::outbox_read_only: return "webhook outbox storage read-only";
      case error::outbox_busy: return "webhook outbox database locked";
      case error::outbox_corrupt: return "webhook outbox database corrupt";
      case error::outbox_io: return "webhook outbox storage I/O error";
      case error::auth_missing_token: return "missing access token";
      case error::auth_invalid_token: return "invalid access token";
      case error::auth_expired: return "access token expired or not yet valid";
      case error::auth_forbidden: return "access token does not allow this";
      case error::auth_rate_limited: return "rate limit exceeded";
    }
    return "herald error " + std::to_string(ev);
  }
};
}  // namespace detail

/// The category of herald's error codes.
HERALD_DECL const std::error_category& error_category() noexcept {
  static const detail::error_category cat;
  return cat;
}

inline std::error_code make_error_code(error e) noexcept {
  return {static_cast<int>(e), error_category()};
}

}  // namespace herald

template <>
struct std::is_error_code_enum<herald::error> : std::true_type {};
