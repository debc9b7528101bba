// herald: RequestParser definitions (included by herald/http/parser.hpp).
#pragma once

#include <cstring>

namespace herald::http {

namespace detail {
// Reasons of our own checks (llhttp's reasons are static strings too).
inline constexpr const char* reason_line_too_long = "request line exceeds the limit";
inline constexpr const char* reason_head_too_long = "request head exceeds the limit";
inline constexpr const char* reason_header_bytes = "header bytes exceed the limit";
inline constexpr const char* reason_header_count = "too many header lines";
inline constexpr const char* reason_body = "body exceeds the limit";
inline constexpr const char* reason_version = "unsupported HTTP version (1.0 and 1.1 only)";
inline constexpr const char* reason_bare_lf = "bare LF line ending";
inline constexpr const char* reason_folding = "obsolete header line folding";
inline constexpr const char* reason_name_ws = "whitespace in or after a header name";
inline constexpr const char* reason_name_token = "header name is not a token";

// tchar of RFC 9110 5.6.2.
HERALD_DECL bool is_tchar(char c) noexcept {
  if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9')) return true;
  switch (c) {
    case '!': case '#': case '$': case '%': case '&': case '\'': case '*': case '+':
    case '-': case '.': case '^': case '_': case '`': case '|': case '~': return true;
    default: return false;
  }
}
inline constexpr const char* reason_h2 = "HTTP/2 preface on an HTTP/1 connection";

// First LF in [p, end) not preceded by CR (`prev` is the byte before p), or null.
HERALD_DECL const char* find_bare_lf(const char* p, const char* end, char prev) noexcept {
  const char* q = p;
  while (q < end) {
    const void* hit = std::memchr(q, '\n', static_cast<std::size_t>(end - q));
    if (!hit) return nullptr;
    const char* lf = static_cast<const char*>(hit);
    char before = lf == p ? prev : lf[-1];
    if (before != '\r') return lf;
    q = lf + 1;
  }
  return nullptr;
}

// The byte of the span [at, at + n) at which a running count, now `total`
// after adding the span, first went over `limit` (at `at` if it already was).
HERALD_DECL const char* crossing(const char* at, std::size_t n, std::size_t total, std::size_t limit) noexcept {
  const std::size_t over = total - limit;
  return over >= n ? at : at + (n - over);
}
}  // namespace detail

HERALD_DECL RequestParser::RequestParser(Limits limits) noexcept : limits_(limits) {
  llhttp_init(&parser_, HTTP_REQUEST, &settings());
  parser_.data = this;
}

HERALD_DECL const llhttp_settings_t& RequestParser::settings() noexcept {
  static const llhttp_settings_t s = [] {
    llhttp_settings_t st;
    llhttp_settings_init(&st);
    st.on_method = &RequestParser::on_method;
    st.on_url = &RequestParser::on_url;
    st.on_version = &RequestParser::on_version;
    st.on_version_complete = &RequestParser::on_version_complete;
    st.on_header_field = &RequestParser::on_header_field;
    st.on_header_field_complete = &RequestParser::on_header_field_complete;
    st.on_header_value = &RequestParser::on_header_value;
    st.on_header_value_complete = &RequestParser::on_header_value_complete;
    st.on_headers_complete = &RequestParser::on_headers_complete;
    st.on_body = &RequestParser::on_body;
    st.on_chunk_header = &RequestParser::on_chunk_header;
    st.on_message_complete = &RequestParser::on_message_complete;
    return st;
  }();
  return s;
}

HERALD_DECL int RequestParser::fail_in_callback(error e, int status, const char* reason,
                                                const char* where) noexcept {
  fail_at_ = where;
  err_ = e;
  http_status_ = status;
  reason_ = reason;
  state_ = Status::error;
  llhttp_set_error_reason(&parser_, reason);
  return HPE_USER;
}

HERALD_DECL RequestParser::Result RequestParser::fail(error e, int status, const char* reason,
                                                      std::size_t consumed) noexcept {
  err_ = e;
  http_status_ = status;
  reason_ = reason;
  state_ = Status::error;
  return {Status::error, consumed, make_error_code(e), status};
}

HERALD_DECL int RequestParser::check_request_line(const char* at, std::size_t n) noexcept {
  // The full line is method SP target SP "HTTP/" version: 7 bytes besides the spans.
  if (line_bytes_ + 7 > limits_.max_request_line)
    return fail_in_callback(error::uri_too_long, 414, detail::reason_line_too_long,
                            detail::crossing(at, n, line_bytes_ + 7, limits_.max_request_line));
  return 0;
}

HERALD_DECL int RequestParser::check_header_bytes(const char* at, std::size_t n) noexcept {
  if (header_bytes_ > limits_.max_header_bytes)
    return fail_in_callback(error::headers_too_large, 431, detail::reason_header_bytes,
                            detail::crossing(at, n, header_bytes_, limits_.max_header_bytes));
  return 0;
}

HERALD_DECL int RequestParser::on_method(llhttp_t* p, const char* at, std::size_t n) {
  RequestParser& s = self(p);
  s.line_bytes_ += n;
  if (int rc = s.check_request_line(at, n)) return rc;
  s.req_.method_.append(at, n);
  return 0;
}

HERALD_DECL int RequestParser::on_url(llhttp_t* p, const char* at, std::size_t n) {
  RequestParser& s = self(p);
  s.line_bytes_ += n;
  if (int rc = s.check_request_line(at, n)) return rc;
  s.req_.target_.append(at, n);
  return 0;
}

HERALD_DECL int RequestParser::on_version(llhttp_t* p, const char* at, std::size_t n) {
  RequestParser& s = self(p);
  s.line_bytes_ += n;
  return s.check_request_line(at, n);
}

HERALD_DECL int RequestParser::on_version_complete(llhttp_t* p) {
  if (p->http_major != 1) return self(p).fail_in_callback(error::bad_request, 400, detail::reason_version);
  return 0;
}

HERALD_DECL int RequestParser::on_header_field(llhttp_t* p, const char* at, std::size_t n) {
  RequestParser& s = self(p);
  if (s.last_ != Last::field) {  // a new header line (else: the name continues in a new buffer)
    if (s.header_count_ == 0 && !s.headers_complete_) {
      // The head's raw bound passed before the first header line started: the
      // request line is what is too long (414), even though a header follows.
      const auto offset = s.head_raw_ + static_cast<std::size_t>(at - s.buf_begin_);
      if (offset > s.max_head())
        return s.fail_in_callback(error::uri_too_long, 414, detail::reason_head_too_long,
                                  s.buf_begin_ + (s.max_head() - s.head_raw_));
    }
    if (++s.header_count_ > s.limits_.max_header_count)
      return s.fail_in_callback(error::headers_too_large, 431, detail::reason_header_count, at);
    s.header_bytes_ += 4;  // ": " and CRLF
    s.last_ = Last::field;
    if (!s.headers_complete_) s.req_.new_header();
  }
  s.header_bytes_ += n;
  if (int rc = s.check_header_bytes(at, n)) return rc;
  if (!s.headers_complete_) s.req_.headers_.back().first.append(at, n);  // trailers are not kept
  return 0;
}

HERALD_DECL int RequestParser::on_header_field_complete(llhttp_t* p) {
  RequestParser& s = self(p);
  if (s.headers_complete_) return 0;
  // llhttp 8.1 lets "Name :", "Na me" and an empty name through; RFC 9110 5.1
  // says a field name is a token, and RFC 9112 5.1 says reject whitespace before
  // the colon (a proxy may read such a header differently: request smuggling).
  const std::string& name = s.req_.headers_.back().first;
  if (name.empty()) return s.fail_in_callback(error::bad_request, 400, detail::reason_name_token);
  for (char c : name) {
    if (c == ' ' || c == '\t') return s.fail_in_callback(error::bad_request, 400, detail::reason_name_ws);
    if (!detail::is_tchar(c)) return s.fail_in_callback(error::bad_request, 400, detail::reason_name_token);
  }
  return 0;
}

HERALD_DECL int RequestParser::on_header_value(llhttp_t* p, const char* at, std::size_t n) {
  RequestParser& s = self(p);
  if (s.last_ == Last::value) {
    // A second span of the same value is legitimate only when the first one was
    // cut by the end of the previous buffer and this one starts the new buffer.
    // Anything else is llhttp accepting obs-fold (CRLF followed by SP/HTAB).
    if (!(s.value_may_continue_ && at == s.buf_begin_))
      return s.fail_in_callback(error::bad_request, 400, detail::reason_folding, at);
  }
  s.last_ = Last::value;
  s.value_may_continue_ = at + n == s.buf_end_;
  s.header_bytes_ += n;
  if (int rc = s.check_header_bytes(at, n)) return rc;
  if (!s.headers_complete_) s.req_.headers_.back().second.append(at, n);
  return 0;
}

HERALD_DECL int RequestParser::on_header_value_complete(llhttp_t* p) {
  RequestParser& s = self(p);
  s.value_may_continue_ = false;
  if (s.headers_complete_) return 0;
  if (s.last_ != Last::value) {  // an empty value: llhttp may not call on_header_value
    s.last_ = Last::value;
    return 0;
  }
  std::string& v = s.req_.headers_.back().second;
  while (!v.empty() && (v.back() == ' ' || v.back() == '\t')) v.pop_back();
  std::size_t lead = 0;
  while (lead < v.size() && (v[lead] == ' ' || v[lead] == '\t')) ++lead;
  if (lead) v.erase(0, lead);
  return 0;
}

HERALD_DECL int RequestParser::on_headers_complete(llhttp_t* p) {
  RequestParser& s = self(p);
  s.headers_complete_ = true;
  s.last_ = Last::none;
  s.req_.major_ = p->http_major;
  s.req_.minor_ = p->http_minor;
  // A request line without a version ("GET /") is HTTP/0.9 to llhttp and never
  // reaches on_version_complete.
  if (p->http_major != 1 || p->http_minor > 1)
    return s.fail_in_callback(error::bad_request, 400, detail::reason_version);
  if ((p->flags & F_CONTENT_LENGTH) && p->content_length > s.limits_.max_body)
    return s.fail_in_callback(error::body_too_large, 413, detail::reason_body);
  if (s.req_.major_ == 1 && s.req_.minor_ >= 1) {
    auto e = s.req_.header("expect");
    s.expect_continue_ = e && detail::iequals(*e, "100-continue");
  }
  // Pause so feed() learns where the head ends: it checks the head's raw bytes
  // (bare LF, total size) and nothing of the body.
  s.pause_ = Pause::headers;
  return HPE_PAUSED;
}

HERALD_DECL int RequestParser::on_body(llhttp_t* p, const char* at, std::size_t n) {
  RequestParser& s = self(p);
  s.body_started_ = true;
  if (n > s.limits_.max_body - s.req_.body_.size())
    return s.fail_in_callback(error::body_too_large, 413, detail::reason_body,
                              at + (s.limits_.max_body - s.req_.body_.size()));
  s.req_.body_.append(at, n);
  return 0;
}

HERALD_DECL int RequestParser::on_chunk_header(llhttp_t* p) {
  RequestParser& s = self(p);
  s.body_started_ = true;
  if (p->content_length == 0) {
    // The last chunk: pause so feed() checks the trailer section for bare LF.
    s.pause_ = Pause::last_chunk;
    s.last_ = Last::none;
    return HPE_PAUSED;
  }
  if (p->content_length > s.limits_.max_body - s.req_.body_.size())
    return s.fail_in_callback(error::body_too_large, 413, detail::reason_body);
  return 0;
}

HERALD_DECL int RequestParser::on_message_complete(llhttp_t* p) {
  self(p).state_ = Status::complete;
  return HPE_PAUSED;  // one request per feed: pipelined ones wait for the caller
}

HERALD_DECL void RequestParser::flush_open_span(const char* end) noexcept {
  // When llhttp refuses a byte inside a span (a header value, the target, ...)
  // it returns without reporting the span's bytes before it, so a limit those
  // bytes already broke would go unseen; had the read ended just before that
  // byte, llhttp would have reported them. Report them the same way, with the
  // span callback llhttp keeps in its state (llhttp.c does exactly this at the
  // end of every llhttp_execute), so the earlier violation wins either way.
  const auto* start = static_cast<const char*>(parser_._span_pos0);
  if (!start || !parser_._span_cb0 || start > end) return;
  using SpanCallback = int (*)(llhttp_t*, const char*, const char*);
  reinterpret_cast<SpanCallback>(parser_._span_cb0)(&parser_, start, end);
}

HERALD_DECL RequestParser::Result RequestParser::refuse(llhttp_errno_t rc, const char* begin, const char* p,
                                                        const char* stop, bool was_scanning, bool was_head) {
  // The run over [p, stop) broke a rule. Several may be broken at once (a bare
  // LF, a byte llhttp refuses, a limit): the first in byte order is reported,
  // whatever its kind, so the status does not depend on where reads cut the
  // input. Our callbacks say where their limit was crossed (`fail_at_`); the
  // bare-LF scan and the head bound look at the bytes before that point only.
  const char* bad = nullptr;
  if (rc != HPE_OK && rc != HPE_PAUSED && rc != HPE_PAUSED_UPGRADE) {
    // llhttp refused the byte at `stop`, or a callback of ours failed (llhttp
    // reports that as HPE_USER or HPE_CB_<callback>).
    if (state_ != Status::error) flush_open_span(stop);
    if (state_ == Status::error) {
      bad = fail_at_ ? fail_at_ : stop;
    } else {
      bad = stop;
      err_ = error::bad_request;
      http_status_ = 400;
      reason_ = rc == HPE_PAUSED_H2_UPGRADE ? detail::reason_h2 : llhttp_get_error_reason(&parser_);
    }
  }
  if (was_scanning) {
    if (const char* lf = detail::find_bare_lf(p, bad ? bad : stop, prev_byte_)) {
      bad = lf;
      err_ = error::bad_request;
      http_status_ = 400;
      reason_ = detail::reason_bare_lf;
    }
  }
  if (was_head) {
    const auto n = static_cast<std::size_t>((bad ? bad : stop) - p);
    if (n > max_head() - head_raw_) {
      bad = p + (max_head() - head_raw_);
      const bool in_line = header_count_ == 0;  // else on_header_field would have placed it
      err_ = in_line ? error::uri_too_long : error::headers_too_large;
      http_status_ = in_line ? 414 : 431;
      reason_ = detail::reason_head_too_long;
    }
  }
  return fail(err_, http_status_, reason_, static_cast<std::size_t>((bad ? bad : stop) - begin));
}

HERALD_DECL RequestParser::Result RequestParser::feed(std::string_view data) {
  if (state_ == Status::error) return {Status::error, 0, make_error_code(err_), http_status_};
  if (state_ == Status::complete) return {Status::complete, 0, {}, 0};
  parser_.data = this;
  const char* const begin = data.data();
  const char* const end = begin + data.size();
  const char* p = begin;
  for (;;) {
    const bool was_head = !headers_complete_;
    const bool was_scanning = scanning_;
    buf_begin_ = p;
    buf_end_ = end;
    const llhttp_errno_t rc = llhttp_execute(&parser_, p, static_cast<std::size_t>(end - p));
    const char* stop = end;
    if (rc != HPE_OK) {
      const char* pos = llhttp_get_error_pos(&parser_);
      stop = (pos && pos >= p && pos <= end) ? pos : p;
    }
    const auto at = static_cast<std::size_t>(stop - begin);
    if (HERALD_UNLIKELY(rc != HPE_OK && rc != HPE_PAUSED && rc != HPE_PAUSED_UPGRADE))
      return refuse(rc, begin, p, stop, was_scanning, was_head);
    // [p, stop) was consumed without error; our checks on raw bytes follow.
    if (was_scanning && detail::find_bare_lf(p, stop, prev_byte_))
      return refuse(rc, begin, p, stop, was_scanning, was_head);
    if (was_head) {
      const auto n = static_cast<std::size_t>(stop - p);
      if (n > max_head() - head_raw_) return refuse(rc, begin, p, stop, was_scanning, was_head);
      head_raw_ += n;
    }
    if (stop > p) prev_byte_ = stop[-1];

    if (rc == HPE_OK) return {Status::need_more, data.size(), {}, 0};
    if (state_ == Status::complete || rc == HPE_PAUSED_UPGRADE) {
      state_ = Status::complete;
      return {Status::complete, at, {}, 0};
    }
    // One of our own pauses: note what it marks, then carry on from there.
    if (pause_ == Pause::headers) scanning_ = false;
    else if (pause_ == Pause::last_chunk) scanning_ = true;
    pause_ = Pause::none;
    llhttp_resume(&parser_);
    p = stop;
  }
}

HERALD_DECL Request RequestParser::take() {
  Request out(std::move(req_));
  req_.clear();
  return out;
}

HERALD_DECL void RequestParser::reset() {
  req_.clear();
  line_bytes_ = header_bytes_ = header_count_ = head_raw_ = 0;
  buf_begin_ = buf_end_ = nullptr;
  reason_ = nullptr;
  fail_at_ = nullptr;
  err_ = error::ok;
  http_status_ = 0;
  state_ = Status::need_more;
  pause_ = Pause::none;
  last_ = Last::none;
  headers_complete_ = false;
  scanning_ = true;
  body_started_ = false;
  expect_continue_ = false;
  value_may_continue_ = false;
  prev_byte_ = 0;
  llhttp_reset(&parser_);
}

}  // namespace herald::http
