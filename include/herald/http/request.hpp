// herald: an owning HTTP/1.x request and the limits the parser enforces.
// Sans-I/O: no Asio, no sockets.
#pragma once
#include <herald/config.hpp>
#include <herald/core/ascii.hpp>
#include <herald/http/request_like.hpp>

#include <cstddef>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace herald::http {

/// Limits on one request, enforced by `RequestParser` while the bytes arrive,
/// so nothing grows past them. Every limit is on by default; use designated
/// initialisers to change one: `Limits{.max_body = 64 * 1024}`.
///
/// How bytes are counted (so "exactly at the limit" is well defined):
/// - request line: `method SP target SP HTTP/x.y`, without the CRLF;
/// - header bytes: for each header line `name ": " value CRLF`, i.e. name + value + 4,
///   where value is as received after the leading whitespace llhttp skips;
///   trailers of a chunked body count against the same budget;
/// - the whole head (request line, header lines, CRLFs and any whitespace) may not
///   exceed `max_request_line + max_header_bytes + 4` raw bytes, so padding that
///   llhttp skips without reporting it is bounded too;
/// - body: decoded body bytes (chunk framing not counted).
struct Limits {
  /// 8 KiB: what nginx and most proxies accept; longer request lines are 414.
  std::size_t max_request_line = 8 * 1024;
  /// 16 KiB: big cookies and tokens fit; all header lines together, else 431.
  std::size_t max_header_bytes = 16 * 1024;
  /// 100: as nginx/Node; a real client sends 10 to 30. Past it: 431.
  std::size_t max_header_count = 100;
  /// 1 MiB (the demo's `--max-body` default): Content-Length checked up front,
  /// chunked bodies as they arrive. Past it: 413.
  std::size_t max_body = 1024 * 1024;
};

namespace detail {

using herald::detail::iequals;
using herald::detail::trim_ows;

/// Whether the comma-separated token list `list` (e.g. a Connection value)
/// contains `token`, compared case-insensitively; empty elements are skipped.
HERALD_DECL bool has_token(std::string_view list, std::string_view token) noexcept {
  while (!list.empty()) {
    std::size_t comma = list.find(',');
    std::string_view item = trim_ows(list.substr(0, comma));
    if (iequals(item, token)) return true;
    if (comma == std::string_view::npos) break;
    list.remove_prefix(comma + 1);
  }
  return false;
}

}  // namespace detail

/// An HTTP/1.x request that owns its bytes: what `RequestParser` produces, and
/// what a test builds by hand with the setters.
///
/// Header names keep the case the client sent; look-ups ignore case. Values are
/// trimmed of surrounding whitespace. Nothing is percent-decoded.
///
/// `clear()` keeps the capacity of every string (header strings included, through
/// a small pool), so a parser that reuses one `Request` per connection stops
/// allocating once it has seen the connection's largest request.
///
/// @par Thread Safety
/// Distinct objects: safe. Shared objects: unsafe.
class Request {
 public:
  using Header = std::pair<std::string, std::string>;

  Request() = default;

  /// `"GET"`, `"POST"`, ... as sent (methods are case-sensitive).
  std::string_view method() const noexcept { return method_; }
  /// The request target as sent: origin-form `/path?query` for normal requests.
  std::string_view target() const noexcept { return target_; }
  /// The target up to the first `?` (the whole target if there is none). No decoding.
  std::string_view path() const noexcept {
    std::string_view t = target_;
    return t.substr(0, t.find('?'));
  }
  /// What follows the first `?`, without it; empty if there is none. No decoding.
  std::string_view query() const noexcept {
    std::string_view t = target_;
    std::size_t q = t.find('?');
    return q == std::string_view::npos ? std::string_view{} : t.substr(q + 1);
  }
  /// The first value of header `name`, compared case-insensitively.
  std::optional<std::string_view> header(std::string_view name) const noexcept {
    for (const auto& h : headers_)
      if (detail::iequals(h.first, name)) return std::string_view{h.second};
    return std::nullopt;
  }
  /// All headers in arrival order, repeated names included.
  const std::vector<Header>& headers() const noexcept { return headers_; }
  /// The decoded body (chunk framing removed).
  const std::string& body() const noexcept { return body_; }
  std::string& body() noexcept { return body_; }
  unsigned version_major() const noexcept { return major_; }
  unsigned version_minor() const noexcept { return minor_; }

  /// Whether the connection stays open after this request: HTTP/1.1 (and later)
  /// unless a `Connection` header lists `close`; HTTP/1.0 only if one lists
  /// `keep-alive` (and none lists `close`). Every `Connection` header is read as
  /// a comma-separated token list, case-insensitively.
  bool keep_alive() const noexcept {
    bool close = false, keep = false;
    for (const auto& h : headers_) {
      if (!detail::iequals(h.first, "connection")) continue;
      close = close || detail::has_token(h.second, "close");
      keep = keep || detail::has_token(h.second, "keep-alive");
    }
    if (close) return false;
    if (major_ > 1 || (major_ == 1 && minor_ >= 1)) return true;
    return keep;
  }

  /// A protocol upgrade is asked for: a `Connection` header lists `upgrade` and a
  /// non-empty `Upgrade` header is present (as for a WebSocket handshake).
  bool upgrade() const noexcept {
    bool conn = false;
    for (const auto& h : headers_)
      if (detail::iequals(h.first, "connection") && detail::has_token(h.second, "upgrade")) conn = true;
    if (!conn) return false;
    auto u = header("upgrade");
    return u && !u->empty();
  }

  // --- building by hand (tests, adapters); the parser uses the same storage ---

  void set_method(std::string_view m) { method_.assign(m); }
  void set_target(std::string_view t) { target_.assign(t); }
  void set_version(unsigned major, unsigned minor) noexcept { major_ = major; minor_ = minor; }
  /// Appends a header; `value` is stored trimmed of surrounding whitespace.
  void add_header(std::string_view name, std::string_view value) {
    Header& h = new_header();
    h.first.assign(name);
    h.second.assign(detail::trim_ows(value));
  }
  void set_body(std::string_view b) { body_.assign(b); }

  /// Empties the request (version back to 1.1), keeping every buffer's capacity.
  void clear() {
    method_.clear();
    target_.clear();
    body_.clear();
    // Moves keep the heap buffers; the pool is a stack, so push the last header
    // first and the next request's first header gets this one's first slot.
    for (auto it = headers_.rbegin(); it != headers_.rend(); ++it) spare_.push_back(std::move(*it));
    headers_.clear();
    major_ = 1;
    minor_ = 1;
  }

 private:
  friend class RequestParser;

  // A header slot, recycled from the pool when possible (its strings emptied,
  // their capacity kept).
  Header& new_header() {
    if (!spare_.empty()) {
      headers_.push_back(std::move(spare_.back()));
      spare_.pop_back();
      headers_.back().first.clear();
      headers_.back().second.clear();
    } else {
      headers_.emplace_back();
    }
    return headers_.back();
  }

  std::string method_;
  std::string target_;
  std::string body_;
  std::vector<Header> headers_;
  std::vector<Header> spare_;  // emptied header slots whose capacity is reused
  unsigned major_ = 1;
  unsigned minor_ = 1;
};

static_assert(RequestLike<Request>);

}  // namespace herald::http
