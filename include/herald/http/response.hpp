// herald: HTTP/1.x response serialization. Sans-I/O: appends bytes to a string.
#pragma once
#include <herald/config.hpp>

#include <charconv>
#include <cstddef>
#include <initializer_list>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace herald::http {

/// The standard reason phrase of `status` ("Not Found"), or an empty view for a
/// code herald does not know (a status line may carry an empty reason).
HERALD_DECL std::string_view reason_phrase(int status) noexcept {
  switch (status) {
    case 100: return "Continue";
    case 101: return "Switching Protocols";
    case 200: return "OK";
    case 201: return "Created";
    case 202: return "Accepted";
    case 204: return "No Content";
    case 206: return "Partial Content";
    case 301: return "Moved Permanently";
    case 302: return "Found";
    case 303: return "See Other";
    case 304: return "Not Modified";
    case 307: return "Temporary Redirect";
    case 308: return "Permanent Redirect";
    case 400: return "Bad Request";
    case 401: return "Unauthorized";
    case 403: return "Forbidden";
    case 404: return "Not Found";
    case 405: return "Method Not Allowed";
    case 406: return "Not Acceptable";
    case 408: return "Request Timeout";
    case 409: return "Conflict";
    case 410: return "Gone";
    case 411: return "Length Required";
    case 412: return "Precondition Failed";
    case 413: return "Payload Too Large";
    case 414: return "URI Too Long";
    case 415: return "Unsupported Media Type";
    case 417: return "Expectation Failed";
    case 422: return "Unprocessable Entity";
    case 426: return "Upgrade Required";
    case 428: return "Precondition Required";
    case 429: return "Too Many Requests";
    case 431: return "Request Header Fields Too Large";
    case 500: return "Internal Server Error";
    case 501: return "Not Implemented";
    case 502: return "Bad Gateway";
    case 503: return "Service Unavailable";
    case 504: return "Gateway Timeout";
    case 505: return "HTTP Version Not Supported";
    default: return {};
  }
}

/// What `write_head` writes. Header views must stay valid during the call only.
struct ResponseHead {
  int status = 200;
  /// Written in order, as given; do not put Content-Length, Transfer-Encoding or
  /// Connection here, the fields below produce them.
  std::vector<std::pair<std::string_view, std::string_view>> headers;
  /// Set: `Content-Length: n`. Unset and not chunked: no framing header (a
  /// close-delimited body, or a status without body).
  std::optional<std::size_t> content_length;
  /// `Transfer-Encoding: chunked`; follow with `append_chunk` and `last_chunk`.
  /// HTTP/1.0 clients do not know chunked: send them a close-delimited body.
  bool chunked = false;
  /// False: `Connection: close`. True for an HTTP/1.0 client: `Connection: keep-alive`.
  bool keep_alive = true;
  /// The client's minor version: the status line says `HTTP/1.<minor>`.
  unsigned version_minor = 1;
};

namespace detail {
HERALD_DECL void append_number(std::string& out, std::size_t n) {
  char buf[24];
  auto r = std::to_chars(buf, buf + sizeof buf, n);
  out.append(buf, r.ptr);
}

// CR, LF or NUL in a header would split the response (header injection).
HERALD_DECL bool unsafe_header_text(std::string_view s) noexcept {
  for (char c : s)
    if (c == '\r' || c == '\n' || c == '\0') return true;
  return false;
}

HERALD_DECL void append_header(std::string& out, std::string_view name, std::string_view value) {
  if (name.empty() || unsafe_header_text(name) || unsafe_header_text(value) || name.find(':') != std::string_view::npos)
    throw std::invalid_argument("herald::http: header name or value contains CR, LF, NUL (or the name ':')");
  out.append(name);
  out.append(": ");
  out.append(value);
  out.append("\r\n");
}
}  // namespace detail

/// Appends a response head to `out`: the status line, `h.headers` in order, then
/// the framing (`Content-Length`, or `Transfer-Encoding: chunked`, or neither),
/// then `Connection` when needed, then the blank line. No `Date` header: it costs
/// a clock read and formatting per response, and RFC 9110 lets a server without
/// a reliable clock omit it.
///
/// 1xx and 204 responses never get a framing header (RFC 9110 forbids it), even
/// if `content_length` or `chunked` is set; 304 gets what it is given.
/// @throws std::invalid_argument if `h.status` is not 100..999 or a header name
/// or value contains CR, LF or NUL (misuse: it would let a value inject headers).
HERALD_DECL void write_head(std::string& out, const ResponseHead& h) {
  if (h.status < 100 || h.status > 999) throw std::invalid_argument("herald::http: status outside 100..999");
  out.append("HTTP/1.");
  out.push_back(h.version_minor == 0 ? '0' : '1');
  out.push_back(' ');
  detail::append_number(out, static_cast<std::size_t>(h.status));
  out.push_back(' ');
  out.append(reason_phrase(h.status));
  out.append("\r\n");
  for (const auto& [name, value] : h.headers) detail::append_header(out, name, value);
  const bool no_body_status = h.status < 200 || h.status == 204;
  if (!no_body_status) {
    if (h.chunked) {
      out.append("Transfer-Encoding: chunked\r\n");
    } else if (h.content_length) {
      out.append("Content-Length: ");
      detail::append_number(out, *h.content_length);
      out.append("\r\n");
    }
  }
  if (!h.keep_alive) out.append("Connection: close\r\n");
  else if (h.version_minor == 0) out.append("Connection: keep-alive\r\n");
  out.append("\r\n");
}

/// A complete response: head with `Content-Type` (omitted when empty), the
/// `extra` headers and `Content-Length`, then `body`. For a HEAD request, send
/// only the head (cut at the blank line) or build it with `write_head`.
HERALD_DECL std::string make_response(int status, std::string_view content_type, std::string_view body,
                                      bool keep_alive = true,
                                      std::initializer_list<std::pair<std::string_view, std::string_view>> extra = {},
                                      unsigned version_minor = 1) {
  ResponseHead h;
  h.status = status;
  h.headers.reserve(extra.size() + 1);
  if (!content_type.empty()) h.headers.emplace_back("Content-Type", content_type);
  h.headers.insert(h.headers.end(), extra.begin(), extra.end());
  h.content_length = body.size();
  h.keep_alive = keep_alive;
  h.version_minor = version_minor;
  std::string out;
  out.reserve(128 + body.size());
  write_head(out, h);
  out.append(body);
  return out;
}

/// An error response with a short `text/plain` body naming the status and the
/// reason, e.g. `413 Payload Too Large: body exceeds 1048576 bytes` (just the
/// status and phrase when `reason` is empty). Pass `keep_alive = false` for
/// parser errors: the connection cannot be resynchronised.
HERALD_DECL std::string make_error_response(int status, std::string_view reason, bool keep_alive,
                                            std::initializer_list<std::pair<std::string_view, std::string_view>> extra = {},
                                            unsigned version_minor = 1) {
  std::string body;
  body.reserve(48 + reason.size());
  detail::append_number(body, static_cast<std::size_t>(status < 0 ? 0 : status));
  body.push_back(' ');
  body.append(reason_phrase(status));
  if (!reason.empty()) {
    body.append(": ");
    body.append(reason);
  }
  body.push_back('\n');
  return make_response(status, "text/plain; charset=utf-8", body, keep_alive, extra, version_minor);
}

/// Appends one chunk of a chunked body: `hex-size CRLF data CRLF`. Empty `data`
/// appends nothing (an empty chunk would end the body; use `last_chunk`).
HERALD_DECL void append_chunk(std::string& out, std::string_view data) {
  if (data.empty()) return;
  char buf[20];
  auto r = std::to_chars(buf, buf + sizeof buf, data.size(), 16);
  out.append(buf, r.ptr);
  out.append("\r\n");
  out.append(data);
  out.append("\r\n");
}

/// Ends a chunked body (no trailers).
inline constexpr std::string_view last_chunk = "0\r\n\r\n";

}  // namespace herald::http
