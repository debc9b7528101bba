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

HERALD_DECL int RequestParser::fail_in_callback(error e, int status, const char* reason) noexcept {
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

HERALD_DECL int RequestParser::check_request_line() noexcept {
  // The full line is method SP target SP "HTTP/" version: 7 bytes besides the spans.
  if (line_bytes_ + 7 > limits_.max_request_line)
    return fail_in_callback(error::uri_too_long, 414, detail::reason_line_too_long);
  return 0;
}

HERALD_DECL int RequestParser::check_header_bytes() noexcept {
  if (header_bytes_ > limits_.max_header_bytes)
    return fail_in_callback(error::headers_too_large, 431, detail::reason_header_bytes);
  return 0;
}

HERALD_DECL int RequestParser::on_method(llhttp_t* p, const char* at, std::size_t n) {
  RequestParser& s = self(p);
  s.line_bytes_ += n;
  if (int rc = s.check_request_line()) return rc;
  s.req_.method_.append(at, n);
  return 0;
}

HERALD_DECL int RequestParser::on_url(llhttp_t* p, const char* at, std::size_t n) {
  RequestParser& s = self(p);
  s.line_bytes_ += n;
  if (int rc = s.check_request_line()) return rc;
  s.req_.target_.append(at, n);
  return 0;
}

HERALD_DECL int RequestParser::on_version(llhttp_t* p, const char*, std::size_t n) {
  RequestParser& s = self(p);
  s.line_bytes_ += n;
  return s.check_request_line();
}

HERALD_DECL int RequestParser::on_version_complete(llhttp_t* p) {
  if (p->http_major != 1) return self(p).fail_in_callback(error::bad_request, 400, detail::reason_version);
  return 0;
}

HERALD_DECL int RequestParser::on_header_field(llhttp_t* p, const char* at, std::size_t n) {
  RequestParser& s = self(p);
  if (s.last_ != Last::field) {  // a new header line (else: the name continues in a new buffer)
    if (++s.header_count_ > s.limits_.max_header_count)
      return s.fail_in_callback(error::headers_too_large, 431, detail::reason_header_count);
    s.header_bytes_ += 4;  // ": " and CRLF
    s.last_ = Last::field;
    if (!s.headers_complete_) s.req_.new_header();
  }
  s.header_bytes_ += n;
  if (int rc = s.check_header_bytes()) return rc;
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
      return s.fail_in_callback(error::bad_request, 400, detail::reason_folding);
  }
  s.last_ = Last::value;
  s.value_may_continue_ = at + n == s.buf_end_;
  s.header_bytes_ += n;
  if (int rc = s.check_header_bytes()) return rc;
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
    return s.fail_in_callback(error::body_too_large, 413, detail::reason_body);
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

HERALD_DECL RequestParser::Result RequestParser::feed(std::string_view data) {
  if (state_ == Status::error) return {Status::error, 0, make_error_code(err_), http_status_};
  if (state_ == Status::complete) return {Status::complete, 0, {}, 0};
  parser_.data = this;
  const char* const begin = data.data();
  const char* const end = begin + data.size();
  const char* p = begin;
  const std::size_t max_head = limits_.max_request_line + limits_.max_header_bytes + 4;
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
    // A callback of ours failed (llhttp may report it as HPE_USER or as
    // HPE_CB_<callback>, depending on the callback).
    if (state_ == Status::error) return {Status::error, at, make_error_code(err_), http_status_};
    if (rc == HPE_PAUSED_H2_UPGRADE) return fail(error::bad_request, 400, detail::reason_h2, at);
    if (rc != HPE_OK && rc != HPE_PAUSED && rc != HPE_PAUSED_UPGRADE)
      return fail(error::bad_request, 400, llhttp_get_error_reason(&parser_), at);

    // [p, stop) was consumed without error.
    if (was_scanning) {
      if (const char* lf = detail::find_bare_lf(p, stop, prev_byte_))
        return fail(error::bad_request, 400, detail::reason_bare_lf, static_cast<std::size_t>(lf - begin));
    }
    if (stop > p) prev_byte_ = stop[-1];
    if (was_head) {
      head_raw_ += static_cast<std::size_t>(stop - p);
      if (head_raw_ > max_head) {
        return header_count_ == 0 ? fail(error::uri_too_long, 414, detail::reason_head_too_long, at)
                                  : fail(error::headers_too_large, 431, detail::reason_head_too_long, at);
      }
    }

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
