// herald: Server-Sent Events encoder (sans-I/O). Bytes out, per the WHATWG
// HTML "Server-sent events" section; no sockets, no Asio.
#pragma once
#include <herald/config.hpp>
#include <herald/core/error.hpp>

#include <charconv>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <optional>
#include <string>
#include <string_view>
#include <system_error>

namespace herald::sse {

/// The fields of one event, as views; nothing is copied until encoding.
///
/// @par Example
/// @code
/// std::string out;
/// auto ec = herald::sse::append_event(out, {.data = "a\nb", .id = "7", .event = "tick"});
/// // out == "id: 7\nevent: tick\ndata: a\ndata: b\n\n"
/// @endcode
struct EventFields {
  std::string_view data{};              ///< any text; split on CR, LF, CRLF into `data:` lines
  std::optional<std::string_view> id{}; ///< `id:` line when set; empty resets the client's Last-Event-ID
  std::string_view event{};             ///< `event:` line when not empty (empty means "message" anyway)
  std::optional<std::uint64_t> retry_ms{};  ///< `retry:` line when set
};

/// A comment line (`:`): browsers ignore it, proxies and idle timers see bytes.
/// The I/O layer sends it as the heartbeat while a stream is idle.
inline constexpr std::string_view heartbeat_comment = ":\n";

/// The HTTP/1.1 chunk that ends a chunked response.
inline constexpr std::string_view last_chunk = "0\r\n\r\n";

/// How an event is framed on the response body.
enum class Framing {
  chunked,          ///< HTTP/1.1: `hex-size CRLF bytes CRLF`
  close_delimited,  ///< HTTP/1.0: raw bytes, the end of the stream is the close
};

namespace detail {

/// Whether an `id` or `event` value could break out of its line, or (NUL) be
/// ignored by the browser: refused rather than sent.
HERALD_DECL bool bad_field(std::string_view v) noexcept {
  for (char c : v)
    if (c == '\n' || c == '\r' || c == '\0') return true;
  return false;
}

HERALD_DECL std::size_t decimal_digits(std::uint64_t v) noexcept {
  std::size_t n = 1;
  while (v >= 10) { v /= 10; ++n; }
  return n;
}

HERALD_DECL void append_decimal(std::string& out, std::uint64_t v) {
  char buf[20];
  auto r = std::to_chars(buf, buf + sizeof buf, v);
  out.append(buf, r.ptr);
}

/// Calls `line(begin, size)` for each line of `text`, split on CRLF, LF or CR
/// as the browser splits them. Empty text is one empty line. Uses memchr for
/// LF, then looks for a CR only inside the span before it, so the cost is
/// linear and a payload without CR costs about two memchr scans.
template <class F>
void for_each_line(std::string_view text, F&& line) {
  const char* p = text.data();
  const char* end = p + text.size();
  if (p == end) { line(p, 0); return; }
  const char* lf = nullptr;  // the next LF at or after p (end if none), kept across CR lines
  for (;;) {
    if (lf == nullptr || lf < p) {
      const void* f = std::memchr(p, '\n', static_cast<std::size_t>(end - p));
      lf = f ? static_cast<const char*>(f) : end;
    }
    const void* cr = std::memchr(p, '\r', static_cast<std::size_t>(lf - p));
    const char* brk = cr ? static_cast<const char*>(cr) : lf;
    line(p, static_cast<std::size_t>(brk - p));
    if (brk == end) return;
    p = brk + 1;
    if (cr && p != end && *p == '\n') ++p;  // CRLF is one break
    if (p == end) { line(p, 0); return; }  // a trailing break ends with an empty line
  }
}

/// Bytes of the `data:` lines for `data`.
HERALD_DECL std::size_t data_lines_size(std::string_view data) noexcept {
  std::size_t n = 0;
  for_each_line(data, [&](const char*, std::size_t len) { n += len == 0 ? 6 : 7 + len; });
  return n;
}

/// Writes the `data:` lines at `dst` (which has room for data_lines_size
/// bytes) and returns the end. Raw stores: no capacity check per line.
HERALD_DECL char* write_data_lines(char* dst, std::string_view data) noexcept {
  for_each_line(data, [&](const char* p, std::size_t len) {
    if (len == 0) {
      std::memcpy(dst, "data:\n", 6);
      dst += 6;
    } else {
      std::memcpy(dst, "data: ", 6);
      std::memcpy(dst + 6, p, len);
      dst[6 + len] = '\n';
      dst += 7 + len;
    }
  });
  return dst;
}

HERALD_DECL void append_data_lines(std::string& out, std::string_view data) {
  const std::size_t at = out.size();
  out.resize(at + data_lines_size(data));
  write_data_lines(out.data() + at, data);
}

HERALD_DECL std::size_t hex_digits(std::size_t v) noexcept {
  std::size_t n = 1;
  while (v >= 16) { v >>= 4; ++n; }
  return n;
}

HERALD_DECL void append_hex(std::string& out, std::size_t v) {
  static constexpr char hex[] = "0123456789abcdef";
  char buf[sizeof(std::size_t) * 2];
  char* e = buf + sizeof buf;
  char* p = e;
  do { *--p = hex[v & 0xF]; v >>= 4; } while (v);
  out.append(p, e);
}

}  // namespace detail

/// Exact number of bytes `append_event(out, f)` appends (0 if `f` is invalid
/// is not checked here: call it on valid fields). Lets a caller reserve once.
HERALD_DECL std::size_t encoded_size(const EventFields& f) noexcept {
  std::size_t n = 1;  // the blank line that dispatches
  if (f.id) n += 5 + f.id->size();                  // "id: " ... "\n"
  if (!f.event.empty()) n += 8 + f.event.size();    // "event: " ... "\n"
  if (f.retry_ms) n += 8 + detail::decimal_digits(*f.retry_ms);  // "retry: " ... "\n"
  return n + detail::data_lines_size(f.data);
}

/// Exact size of the common event: numeric id, data, no name.
HERALD_DECL std::size_t encoded_size(std::uint64_t id, std::string_view data) noexcept {
  return 5 + detail::decimal_digits(id) + detail::data_lines_size(data) + 1;
}

/// Appends one event to `out`: `id:`, `event:`, `retry:`, one `data:` line per
/// line of `data`, then the blank line. A browser's `MessageEvent.data` is
/// then exactly `f.data`, except that CR and CRLF come back as LF (the format
/// cannot carry them).
/// @returns `error::sse_invalid_field` and appends nothing when `id` or
/// `event` contains CR, LF or NUL (it would end the line early, or be ignored).
HERALD_DECL std::error_code append_event(std::string& out, const EventFields& f) {
  if ((f.id && detail::bad_field(*f.id)) || detail::bad_field(f.event)) return error::sse_invalid_field;
  out.reserve(out.size() + encoded_size(f));
  if (f.id) {
    out.append("id: ", 4);
    out.append(*f.id);
    out.push_back('\n');
  }
  if (!f.event.empty()) {
    out.append("event: ", 7);
    out.append(f.event);
    out.push_back('\n');
  }
  if (f.retry_ms) {
    out.append("retry: ", 7);
    detail::append_decimal(out, *f.retry_ms);
    out.push_back('\n');
  }
  detail::append_data_lines(out, f.data);
  out.push_back('\n');
  return {};
}

/// Appends the common event: `id: N`, the data lines, the blank line. A
/// numeric id cannot be invalid, so this cannot fail.
HERALD_DECL void append_event(std::string& out, std::uint64_t id, std::string_view data) {
  // Size once, grow once, then plain stores: the hot path of SSE fan-out.
  const std::size_t at = out.size();
  out.resize(at + encoded_size(id, data));
  char* p = out.data() + at;
  std::memcpy(p, "id: ", 4);
  p = std::to_chars(p + 4, p + 24, id).ptr;
  *p++ = '\n';
  p = detail::write_data_lines(p, data);
  *p = '\n';
}

/// Appends comment lines (`: text`), one per line of `text`; `":\n"` for empty
/// text. Clients ignore them; they keep proxies and idle timers from closing
/// the stream.
HERALD_DECL void append_comment(std::string& out, std::string_view text) {
  detail::for_each_line(text, [&](const char* p, std::size_t len) {
    if (len == 0) {
      out.append(":\n", 2);
    } else {
      out.append(": ", 2);
      out.append(p, len);
      out.push_back('\n');
    }
  });
}

/// Appends a lone `retry: ms` line. It takes effect when the client reads the
/// line; no blank line is needed. Sent once at the start of a stream.
HERALD_DECL void append_retry(std::string& out, std::uint64_t ms) {
  out.append("retry: ", 7);
  detail::append_decimal(out, ms);
  out.push_back('\n');
}

/// Appends the reset event of CONTRACT.md: `event: reset`, `id: F`,
/// `data: {"next":F}`. Its id moves the browser's Last-Event-ID to F, so a
/// reconnect resumes after F instead of asking for the lost range again.
HERALD_DECL void append_reset(std::string& out, std::uint64_t next) {
  out.append("event: reset\nid: ", 17);
  detail::append_decimal(out, next);
  out.append("\ndata: {\"next\":", 15);
  detail::append_decimal(out, next);
  out.append("}\n\n", 3);
}

/// Appends `bytes` as one HTTP/1.1 chunk: `hex-size CRLF bytes CRLF`.
/// Empty `bytes` appends nothing, since a zero-size chunk would end the body
/// (use `last_chunk` for that on purpose).
HERALD_DECL void append_chunk(std::string& out, std::string_view bytes) {
  if (bytes.empty()) return;
  out.reserve(out.size() + detail::hex_digits(bytes.size()) + 4 + bytes.size());
  detail::append_hex(out, bytes.size());
  out.append("\r\n", 2);
  out.append(bytes);
  out.append("\r\n", 2);
}

/// Bytes of a chunk holding `payload` bytes (0 for an empty payload).
HERALD_DECL std::size_t chunk_size(std::size_t payload) noexcept {
  return payload == 0 ? 0 : detail::hex_digits(payload) + 4 + payload;
}

/// The ready-to-send frame of the common event (`id: N` + data) for one
/// framing, built with exactly one allocation. The I/O layer caches it on the
/// event and sends the same bytes to every subscriber with that framing.
HERALD_DECL std::string encode_frame(std::uint64_t id, std::string_view data, Framing framing) {
  const std::size_t n = encoded_size(id, data);
  std::string out;
  if (framing == Framing::close_delimited) {
    out.reserve(n);
    append_event(out, id, data);
    return out;
  }
  out.reserve(chunk_size(n));
  detail::append_hex(out, n);
  out.append("\r\n", 2);
  append_event(out, id, data);
  out.append("\r\n", 2);
  return out;
}

/// The frame of an arbitrary event; `error::sse_invalid_field` leaves `out`
/// untouched. Same single-allocation layout as the overload above.
HERALD_DECL std::error_code encode_frame(std::string& out, const EventFields& f, Framing framing) {
  if ((f.id && detail::bad_field(*f.id)) || detail::bad_field(f.event)) return error::sse_invalid_field;
  const std::size_t n = encoded_size(f);
  if (framing == Framing::close_delimited) {
    out.reserve(out.size() + n);
    return append_event(out, f);
  }
  out.reserve(out.size() + chunk_size(n));
  detail::append_hex(out, n);
  out.append("\r\n", 2);
  auto ec = append_event(out, f);
  out.append("\r\n", 2);
  return ec;
}

}  // namespace herald::sse
