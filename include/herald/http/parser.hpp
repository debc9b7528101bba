// herald: incremental HTTP/1.x request parser over llhttp. Sans-I/O: bytes in,
// requests out; no Asio, no sockets.
#pragma once
#include <herald/config.hpp>
#include <herald/core/error.hpp>
#include <herald/http/request.hpp>

#include <llhttp.h>

#include <cstddef>
#include <string_view>
#include <system_error>

namespace herald::http {

/// Parses HTTP/1.0 and 1.1 requests from a byte stream, one request at a time,
/// into a reusable `Request`, enforcing `Limits` as the bytes arrive.
///
/// It wraps llhttp in its strict mode (no lenient flag is ever set) and adds the
/// checks llhttp 8.1 leaves out, so that anything a proxy in front of us could
/// read differently is refused with 400:
/// - bare LF as a line ending (llhttp accepts it after the request line and in the
///   blank line ending the head or the trailers); bare CR is refused by llhttp;
/// - obsolete line folding (a header line starting with SP or HTAB);
/// - whitespace between a header name and its colon;
/// - any HTTP version other than 1.0 and 1.1 (llhttp takes 0.9 and 2.0).
/// llhttp itself refuses Content-Length together with Transfer-Encoding, repeated
/// Content-Length, a Transfer-Encoding whose last coding is not `chunked`,
/// invalid tokens in methods and header names, and control characters in values.
///
/// @par Use
/// Feed whatever the socket delivered. `feed` stops at the end of one complete
/// request, so pipelined requests come out one by one: handle the request, call
/// `reset()`, then feed the bytes after `consumed` again.
/// @code
/// herald::http::RequestParser parser;
/// std::string_view in = bytes_read;
/// while (!in.empty()) {
///   auto r = parser.feed(in);
///   in.remove_prefix(r.consumed);
///   if (r.status == RequestParser::Status::error) { /* answer r.http_status, close */ break; }
///   if (r.status == RequestParser::Status::need_more) {
///     if (parser.expects_continue()) { /* write "HTTP/1.1 100 Continue\r\n\r\n" once */ }
///     break;  // read more
///   }
///   handle(parser.request());       // complete
///   if (parser.request().upgrade()) { /* `in` is the new protocol's leftover */ break; }
///   parser.reset();
/// }
/// @endcode
///
/// @par Errors
/// After an error the parser stays failed (every `feed` repeats the result with
/// `consumed == 0`) until `reset()`; the connection should be answered with
/// `http_status` and closed, since where the next request starts is unknown.
/// `error_reason()` gives llhttp's reason text (or ours) for logs; never send it
/// to the client verbatim if you care about fingerprinting.
/// When the bytes break several rules (say a bare LF, then a header over
/// `max_header_bytes`), the first broken in byte order decides the status, so
/// the same bytes get the same answer however the reads cut them. A limit is
/// broken at the byte that takes its count over (the request line's also
/// counts the 7 bytes of `SP SP HTTP/` as soon as the method is seen).
///
/// @par Allocation
/// Request strings, header slots and the body keep their capacity across
/// `reset()`: on a keep-alive connection the parser stops allocating once it has
/// seen the largest request. `take()` hands the buffers away with the request.
///
/// @par Thread Safety
/// Distinct objects: safe. Shared objects: unsafe. Copyable and movable (llhttp's
/// state is a plain struct; its back pointer is refreshed on every `feed`).
class RequestParser {
 public:
  /// What `feed` reached.
  enum class Status {
    need_more,  ///< every byte was consumed; the request is not complete yet
    complete,   ///< a request ended `consumed` bytes into the input
    error,      ///< malformed or over a limit; answer `http_status` and close
  };

  /// The outcome of one `feed`.
  struct Result {
    Status status = Status::need_more;
    std::size_t consumed = 0;  ///< bytes of the input used (the rest belongs to the next request)
    std::error_code ec;        ///< herald::error::{bad_request, uri_too_long, headers_too_large, body_too_large}
    int http_status = 0;       ///< 400, 413, 414 or 431 on error, else 0
  };

  /// @param limits enforced on every request; see `Limits` for how bytes are counted.
  explicit RequestParser(Limits limits = {}) noexcept;

  /// Parses `data`, continuing the current request.
  ///
  /// Consumes up to the end of ONE complete request and stops there; the caller
  /// feeds the rest again after `reset()`. For an Upgrade request (and CONNECT)
  /// it completes after the head (and the body, if one was declared) and
  /// `consumed` excludes the bytes after it: they belong to the new protocol.
  /// Once complete or failed, further calls return the same status with
  /// `consumed == 0` until `reset()`.
  HERALD_DECL Result feed(std::string_view data);

  /// True while the head asked for `Expect: 100-continue` (HTTP/1.1 only), the
  /// head is complete and no body byte has arrived yet. The caller writes
  /// `HTTP/1.1 100 Continue\r\n\r\n` once. When the declared Content-Length is
  /// over `max_body` the parser has already failed with 413 instead, so the
  /// client is never invited to send a body we refuse.
  bool expects_continue() const noexcept {
    return state_ == Status::need_more && headers_complete_ && expect_continue_ && !body_started_;
  }

  /// The request line and every header have been parsed.
  bool headers_complete() const noexcept { return headers_complete_; }
  /// The last `feed` completed a request (added: the server's loop reads it).
  bool complete() const noexcept { return state_ == Status::complete; }
  /// The request; complete once `feed` returned `complete` (partial before).
  Request& request() noexcept { return req_; }
  const Request& request() const noexcept { return req_; }
  /// Moves the completed request out. The parser keeps working, but the moved
  /// buffers' capacity is gone: prefer `request()` + `reset()` on hot paths.
  HERALD_DECL Request take();
  /// Ready for the next request on the same connection; keeps buffers' capacity.
  HERALD_DECL void reset();

  /// Why the last `feed` failed, for logs: llhttp's reason or ours; empty if none.
  std::string_view error_reason() const noexcept { return reason_ ? reason_ : ""; }
  /// The limits this parser enforces.
  const Limits& limits() const noexcept { return limits_; }

 private:
  enum class Pause : unsigned char { none, headers, last_chunk };
  enum class Last : unsigned char { none, field, value };

  static const llhttp_settings_t& settings() noexcept;
  static RequestParser& self(llhttp_t* p) noexcept { return *static_cast<RequestParser*>(p->data); }

  // llhttp callbacks (plain functions, as llhttp requires).
  static int on_method(llhttp_t*, const char*, std::size_t);
  static int on_url(llhttp_t*, const char*, std::size_t);
  static int on_version(llhttp_t*, const char*, std::size_t);
  static int on_version_complete(llhttp_t*);
  static int on_header_field(llhttp_t*, const char*, std::size_t);
  static int on_header_field_complete(llhttp_t*);
  static int on_header_value(llhttp_t*, const char*, std::size_t);
  static int on_header_value_complete(llhttp_t*);
  static int on_headers_complete(llhttp_t*);
  static int on_body(llhttp_t*, const char*, std::size_t);
  static int on_chunk_header(llhttp_t*);
  static int on_message_complete(llhttp_t*);

  // `where`: the byte at which the violation happened, if not where llhttp stopped.
  int fail_in_callback(error e, int status, const char* reason, const char* where = nullptr) noexcept;
  Result fail(error e, int status, const char* reason, std::size_t consumed) noexcept;
  int check_request_line(const char* at, std::size_t n) noexcept;
  int check_header_bytes(const char* at, std::size_t n) noexcept;
  void flush_open_span(const char* end) noexcept;
  // The refusal for a run of llhttp over [p, stop) that broke a rule. Cold, so
  // the compiler keeps it off feed()'s hot path.
  [[gnu::cold]] Result refuse(llhttp_errno_t rc, const char* begin, const char* p, const char* stop,
                             bool was_scanning, bool was_head);
  // Raw bytes the head may take: see `Limits`.
  std::size_t max_head() const noexcept { return limits_.max_request_line + limits_.max_header_bytes + 4; }

  llhttp_t parser_{};
  Limits limits_;
  Request req_;
  std::size_t line_bytes_ = 0;    // method + target + version bytes so far
  std::size_t header_bytes_ = 0;  // name + value + 4 per header line (trailers included)
  std::size_t header_count_ = 0;
  std::size_t head_raw_ = 0;      // raw bytes of the head, whitespace included
  const char* buf_begin_ = nullptr;  // the span llhttp_execute is running over
  const char* buf_end_ = nullptr;
  const char* reason_ = nullptr;
  const char* fail_at_ = nullptr;  // where a failing callback placed its violation
  error err_ = error::ok;
  int http_status_ = 0;
  Status state_ = Status::need_more;
  Pause pause_ = Pause::none;
  Last last_ = Last::none;
  bool headers_complete_ = false;
  bool scanning_ = true;          // checking for bare LF (head and trailers)
  bool body_started_ = false;
  bool expect_continue_ = false;
  bool value_may_continue_ = false;  // last value span ended at the end of its buffer
  char prev_byte_ = 0;
};

}  // namespace herald::http

#include <herald/http/impl/parser.hpp>
