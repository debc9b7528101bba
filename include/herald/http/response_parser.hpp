// herald: incremental HTTP/1.x response parser over llhttp (HTTP_RESPONSE
// mode), for herald's own client. Sans-I/O: bytes in, one response out.
#pragma once
#include <herald/config.hpp>
#include <herald/core/error.hpp>
#include <herald/http/request.hpp>

#include <llhttp.h>

#include <cstddef>
#include <optional>
#include <string>
#include <string_view>
#include <system_error>
#include <utility>
#include <vector>

namespace herald::http {

/// One HTTP response as the client sees it.
struct Response {
  int status = 0;
  unsigned version_minor = 1;
  std::vector<std::pair<std::string, std::string>> headers;  ///< as received, values trimmed
  std::string body;            ///< decoded (chunk framing removed), at most ResponseLimits::max_body bytes
  bool keep_alive = false;     ///< the connection may carry another request
  bool truncated = false;      ///< the body was longer than the cap; the rest was not read

  /// The first value of header `name`, compared case-insensitively.
  std::optional<std::string_view> header(std::string_view name) const noexcept {
    for (const auto& h : headers)
      if (detail::iequals(h.first, name)) return std::string_view{h.second};
    return std::nullopt;
  }
};

/// Bounds on what a peer can make the client hold.
struct ResponseLimits {
  /// 16 KiB of header lines (name + value + 4 each), 100 lines: as for requests.
  std::size_t max_header_bytes = 16 * 1024;
  std::size_t max_header_count = 100;
  /// 64 KiB: a webhook sender needs the status and a few headers, not the
  /// body; the cap keeps a hostile receiver from streaming us gigabytes. Past
  /// it the response completes `truncated` and its connection is not reused.
  std::size_t max_body = 64 * 1024;
};

/// Parses one response at a time from a byte stream.
///
/// Interim 1xx responses (100 Continue, 103 Early Hints) are skipped: the
/// parser completes on the final response. A body delimited by the end of the
/// connection (no Content-Length, not chunked) completes on `finish()`, which
/// the caller invokes at EOF. Call `reset()` before the next response on a
/// kept-alive connection.
///
/// Errors are herald::error::bad_response (malformed, header limits), and
/// the parser stays failed until `reset()`.
///
/// @par Thread Safety
/// Distinct objects: safe. Shared objects: unsafe. Not copyable (llhttp keeps
/// a back pointer; it is refreshed on every `feed`, but one owner is simpler).
class ResponseParser {
 public:
  enum class Status { need_more, complete, error };
  struct Result {
    Status status = Status::need_more;
    std::size_t consumed = 0;  ///< bytes of the input that belong to this response
    std::error_code ec;
  };

  explicit ResponseParser(ResponseLimits limits = {}) noexcept : limits_(limits) { init(); }
  ResponseParser(const ResponseParser&) = delete;
  ResponseParser& operator=(const ResponseParser&) = delete;

  /// Parses `data`, continuing the current response; stops at its end.
  HERALD_DECL Result feed(std::string_view data);
  /// The peer closed the connection: completes a close-delimited body, else
  /// (a response cut short, or none at all) error::bad_response.
  HERALD_DECL Result finish();

  const Response& response() const noexcept { return res_; }
  Response take() { return std::move(res_); }
  /// Bytes of the current response seen so far (0: nothing arrived yet).
  bool started() const noexcept { return started_; }
  /// Ready for the next response on the same connection.
  void reset() {
    res_ = Response{};
    init();
  }

 private:
  static ResponseParser& self(llhttp_t* p) noexcept { return *static_cast<ResponseParser*>(p->data); }
  void init() noexcept {
    llhttp_init(&parser_, HTTP_RESPONSE, &settings());
    parser_.data = this;
    state_ = Status::need_more;
    header_bytes_ = 0;
    field_open_ = false;
    started_ = false;
  }
  int fail() noexcept {
    state_ = Status::error;
    return HPE_USER;
  }

  static const llhttp_settings_t& settings() noexcept {
    static const llhttp_settings_t s = [] {
      llhttp_settings_t st;
      llhttp_settings_init(&st);
      st.on_message_begin = [](llhttp_t* p) {
        self(p).started_ = true;
        return 0;
      };
      st.on_header_field = [](llhttp_t* p, const char* at, std::size_t n) {
        ResponseParser& s = self(p);
        if (!s.field_open_) {
          if (s.res_.headers.size() >= s.limits_.max_header_count) return s.fail();
          s.res_.headers.emplace_back();
          s.field_open_ = true;
          s.header_bytes_ += 4;
        }
        s.header_bytes_ += n;
        if (s.header_bytes_ > s.limits_.max_header_bytes) return s.fail();
        s.res_.headers.back().first.append(at, n);
        return 0;
      };
      st.on_header_value = [](llhttp_t* p, const char* at, std::size_t n) {
        ResponseParser& s = self(p);
        s.field_open_ = false;
        s.header_bytes_ += n;
        if (s.header_bytes_ > s.limits_.max_header_bytes || s.res_.headers.empty()) return s.fail();
        s.res_.headers.back().second.append(at, n);
        return 0;
      };
      st.on_header_value_complete = [](llhttp_t* p) {
        ResponseParser& s = self(p);
        s.field_open_ = false;
        if (!s.res_.headers.empty()) {
          auto& v = s.res_.headers.back().second;
          v = std::string(detail::trim_ows(v));
        }
        return 0;
      };
      st.on_headers_complete = [](llhttp_t* p) {
        ResponseParser& s = self(p);
        s.res_.status = p->status_code;
        s.res_.version_minor = p->http_minor;
        if (p->http_major != 1) return s.fail();
        return 0;
      };
      st.on_body = [](llhttp_t* p, const char* at, std::size_t n) {
        ResponseParser& s = self(p);
        const std::size_t room = s.limits_.max_body - s.res_.body.size();
        if (n > room) {
          s.res_.body.append(at, room);
          s.res_.truncated = true;
          s.res_.keep_alive = false;
          s.state_ = Status::complete;
          return static_cast<int>(HPE_USER);  // stop reading: the rest is not ours to hold
        }
        s.res_.body.append(at, n);
        return 0;
      };
      st.on_message_complete = [](llhttp_t* p) {
        ResponseParser& s = self(p);
        if (s.res_.status >= 100 && s.res_.status < 200 && s.res_.status != 101) {
          // Interim response: forget it and parse the final one that follows.
          s.res_ = Response{};
          s.header_bytes_ = 0;
          return 0;
        }
        s.res_.keep_alive = llhttp_should_keep_alive(p) != 0;
        s.state_ = Status::complete;
        return static_cast<int>(HPE_PAUSED);
      };
      return st;
    }();
    return s;
  }

  llhttp_t parser_{};
  ResponseLimits limits_;
  Response res_;
  std::size_t header_bytes_ = 0;
  Status state_ = Status::need_more;
  bool field_open_ = false;
  bool started_ = false;
};

HERALD_DECL ResponseParser::Result ResponseParser::feed(std::string_view data) {
  if (state_ != Status::need_more) {
    return {state_, 0, state_ == Status::error ? make_error_code(error::bad_response) : std::error_code{}};
  }
  parser_.data = this;
  if (!data.empty()) started_ = true;
  const llhttp_errno_t rc = llhttp_execute(&parser_, data.data(), data.size());
  if (rc == HPE_OK) return {Status::need_more, data.size(), {}};
  const char* pos = llhttp_get_error_pos(&parser_);
  const std::size_t used = pos ? static_cast<std::size_t>(pos - data.data()) : data.size();
  if (state_ == Status::complete) {
    if (rc == HPE_PAUSED) llhttp_resume(&parser_);
    return {Status::complete, used, {}};
  }
  state_ = Status::error;
  return {Status::error, used, make_error_code(error::bad_response)};
}

HERALD_DECL ResponseParser::Result ResponseParser::finish() {
  if (state_ != Status::need_more) return feed({});
  parser_.data = this;
  const llhttp_errno_t rc = llhttp_finish(&parser_);
  if (state_ == Status::complete) return {Status::complete, 0, {}};
  (void)rc;
  state_ = Status::error;
  return {Status::error, 0, make_error_code(error::bad_response)};
}

}  // namespace herald::http
