// herald: allowed origins, configured once for the WebSocket `Origin` check
// (cross-site WebSocket hijacking) and for CORS on SSE, polling and publish.
#pragma once
#include <herald/config.hpp>
#include <herald/core/ascii.hpp>

#include <chrono>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace herald::auth {

namespace detail {

using herald::detail::ascii_lower;
using herald::detail::iequals;
using herald::detail::trim_ows;

/// The canonical form of a serialized origin (RFC 6454): scheme and host in
/// lower case, the scheme's default port dropped, one trailing `/` tolerated
/// (a common slip in configuration). nullopt when `o` is not
/// `scheme://host[:port]` made of the characters an origin can hold, which
/// also guarantees an accepted origin carries no CR, LF or space and is safe
/// to echo in a header.
HERALD_DECL std::optional<std::string> normalize_origin(std::string_view o) {
  if (!o.empty() && o.back() == '/') o.remove_suffix(1);
  const std::size_t sep = o.find("://");
  if (sep == std::string_view::npos || sep == 0) return std::nullopt;
  std::string out;
  out.reserve(o.size());
  for (char c : o.substr(0, sep)) {
    c = ascii_lower(c);
    if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '+' || c == '-' || c == '.')) return std::nullopt;
    out += c;
  }
  const std::string scheme = out;
  out += "://";
  std::string_view rest = o.substr(sep + 3);
  std::string_view host, port;
  if (!rest.empty() && rest.front() == '[') {  // IPv6 literal
    const std::size_t close = rest.find(']');
    if (close == std::string_view::npos) return std::nullopt;
    host = rest.substr(0, close + 1);
    rest.remove_prefix(close + 1);
    for (char c : host.substr(1, host.size() - 2))
      if (!((c >= '0' && c <= '9') || (ascii_lower(c) >= 'a' && ascii_lower(c) <= 'f') || c == ':' || c == '.'))
        return std::nullopt;
    if (host.size() < 3) return std::nullopt;
    if (!rest.empty()) {
      if (rest.front() != ':') return std::nullopt;
      port = rest.substr(1);
      if (port.empty()) return std::nullopt;
    }
  } else {
    const std::size_t colon = rest.find(':');
    host = rest.substr(0, colon);
    if (colon != std::string_view::npos) {
      port = rest.substr(colon + 1);
      if (port.empty()) return std::nullopt;
    }
    if (host.empty()) return std::nullopt;
    for (char c : host)
      if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '-' || c == '.' || c == '_'))
        return std::nullopt;
  }
  if (port.size() > 5) return std::nullopt;
  for (char c : port)
    if (c < '0' || c > '9') return std::nullopt;
  for (char c : host) out += ascii_lower(c);
  const bool default_port = (port == "80" && (scheme == "http" || scheme == "ws")) ||
                            (port == "443" && (scheme == "https" || scheme == "wss"));
  if (!port.empty() && !default_port) {
    out += ':';
    out.append(port);
  }
  return out;
}

}  // namespace detail

/// Which browser origins may use the server, and how CORS answers them.
///
/// One instance configures both checks so they cannot disagree: the
/// WebSocket handshake refuses (403) an `Origin` that `allows` rejects, and
/// the HTTP endpoints add `cors_headers` to their responses (and answer
/// `OPTIONS` preflights with them).
///
/// Origins compare as RFC 6454 serialized origins: exact scheme, host and
/// port, host case-insensitive, default ports implied (`https://a.example`
/// equals `https://A.example:443`). No subdomain wildcards: list each origin.
///
/// @note A request without `Origin` does not come from a cross-origin browser
/// context (browsers always send it on WebSocket handshakes and CORS
/// requests); the server lets it through the origin check, because only
/// browsers carry ambient credentials that make cross-site hijacking possible.
///
/// @par Example
/// @code
/// OriginPolicy origins{.allowed = {"https://app.example.com"}, .allow_credentials = true};
/// @endcode
struct OriginPolicy {
  std::vector<std::string> allowed = {};  ///< `scheme://host[:port]`; an entry `*` means any
  bool any = false;                  ///< every origin allowed (same as an entry `*`)
  /// Cookies and HTTP auth go along with cross-origin requests. The specific
  /// origin is then always echoed, never `*` (browsers refuse `*` with
  /// credentials), and the opaque origin `null` is only allowed when listed.
  bool allow_credentials = false;
  /// Methods a preflight may ask for; OPTIONS itself is never preflighted.
  std::vector<std::string> allowed_methods = {"GET", "POST"};
  /// Request headers a preflight may ask for: the token, JSON publishes,
  /// SSE resume from polyfills that set it, and polling revalidation.
  std::vector<std::string> allowed_headers = {"Authorization", "Content-Type", "Last-Event-ID",
                                              "If-None-Match", "Cache-Control"};
  /// Response headers scripts may read: polling clients need the ETag.
  std::vector<std::string> exposed_headers = {"ETag"};
  /// How long a browser may cache a preflight answer; 10 min, the most
  /// Chromium honours being 2 h.
  std::chrono::seconds max_age{600};

  /// Whether any origin is configured at all (else CORS is off: no headers).
  bool enabled() const noexcept { return any || !allowed.empty(); }

  /// Whether `origin` (an `Origin` header value) is allowed.
  bool allows(std::string_view origin) const { return allows_impl(origin, false); }

  /// The WebSocket handshake's verdict (`WebSocketOptions::check_origin`):
  /// no `Origin` passes (not a browser: no ambient credentials to hijack),
  /// an empty policy passes everything, otherwise `allows`.
  bool allows_handshake(std::string_view origin) const { return origin.empty() || !enabled() || allows(origin); }

  /// The CORS response header lines for a request from `origin`, each
  /// `Name: value\r\n`, ready to append to a response head. Empty when CORS
  /// is off or the request carries no `Origin`.
  ///
  /// @param origin the request's `Origin` header value (empty if absent)
  /// @param request_method for a preflight, its `Access-Control-Request-Method`
  ///        value; otherwise ignored
  /// @param is_preflight the request is `OPTIONS` with
  ///        `Access-Control-Request-Method` (answer it with 204 and these headers)
  /// @param requested_headers for a preflight, its
  ///        `Access-Control-Request-Headers` value (comma-separated)
  ///
  /// A refused origin gets only `Vary: Origin`, which makes the browser block
  /// the response, and keeps caches from serving one origin's answer to another.
  std::string cors_headers(std::string_view origin, std::string_view request_method, bool is_preflight,
                           std::string_view requested_headers = {}) const {
    std::string out;
    if (!enabled() || origin.empty()) return out;
    const bool star = (any || has_star()) && !allow_credentials;
    if (!star) out += "Vary: Origin\r\n";
    if (!allows_impl(origin, allow_credentials)) return out;
    if (is_preflight) {
      bool method_ok = false;
      for (const auto& m : allowed_methods) method_ok = method_ok || m == request_method;
      if (!method_ok) return out;  // no Allow-Origin: the browser fails the preflight
    }
    out += "Access-Control-Allow-Origin: ";
    if (star) {
      out += '*';
    } else {
      out.append(origin);  // validated by allows_impl: no CR/LF can get through
    }
    out += "\r\n";
    if (allow_credentials) out += "Access-Control-Allow-Credentials: true\r\n";
    if (is_preflight) {
      out += "Access-Control-Allow-Methods: ";
      append_list(out, allowed_methods);
      out += "\r\n";
      // Echo only the requested headers we allow, in our spelling: never the
      // client's bytes, so nothing it sends can split the response.
      std::vector<std::string> echo;
      std::string_view rest = requested_headers;
      while (!rest.empty()) {
        const std::size_t comma = rest.find(',');
        const std::string_view item = detail::trim_ows(rest.substr(0, comma));
        rest = comma == std::string_view::npos ? std::string_view{} : rest.substr(comma + 1);
        for (const auto& h : allowed_headers)
          if (detail::iequals(h, item)) {
            echo.push_back(h);
            break;
          }
      }
      if (!echo.empty()) {
        out += "Access-Control-Allow-Headers: ";
        append_list(out, echo);
        out += "\r\n";
      }
      out += "Access-Control-Max-Age: ";
      out += std::to_string(max_age.count());
      out += "\r\n";
    } else if (!exposed_headers.empty()) {
      out += "Access-Control-Expose-Headers: ";
      append_list(out, exposed_headers);
      out += "\r\n";
    }
    return out;
  }

 private:
  bool has_star() const noexcept {
    for (const auto& a : allowed)
      if (a == "*") return true;
    return false;
  }

  bool allows_impl(std::string_view origin, bool credentials) const {
    if (origin == "null") {
      // Sandboxed iframes and file:// pages send `null`; many unrelated
      // documents share it, so with credentials it must be listed explicitly.
      for (const auto& a : allowed)
        if (a == "null") return true;
      return (any || has_star()) && !credentials;
    }
    const auto norm = detail::normalize_origin(origin);
    if (!norm) return false;
    if (any || has_star()) return true;
    for (const auto& a : allowed) {
      const auto conf = detail::normalize_origin(a);
      if (conf && *conf == *norm) return true;
    }
    return false;
  }

  static void append_list(std::string& out, const std::vector<std::string>& items) {
    for (std::size_t i = 0; i < items.size(); ++i) {
      if (i) out += ", ";
      out += items[i];
    }
  }
};

}  // namespace herald::auth
