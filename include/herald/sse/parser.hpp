// herald: incremental Server-Sent Events stream parser (sans-I/O), per the
// WHATWG HTML "Parsing an event stream" and "Interpreting an event stream"
// rules. Used by herald's C++ client and by the tests of the encoder.
#pragma once
#include <herald/config.hpp>
#include <herald/core/error.hpp>

#include <cstddef>
#include <cstdint>
#include <cstring>
#include <optional>
#include <string>
#include <string_view>
#include <system_error>

namespace herald::sse {

/// One dispatched event, as a browser's `MessageEvent` would carry it.
struct Event {
  std::string type;           ///< the `event` field, or "message"
  std::string data;           ///< the `data` lines joined with LF
  std::string last_event_id;  ///< the stream's last event id at dispatch
};

/// Incremental parser: feed it bytes in any split, get events.
///
/// Bytes are kept as bytes: a browser decodes the stream as UTF-8 and turns
/// invalid sequences into U+FFFD, this parser leaves that to the caller.
///
/// @par Thread Safety
/// One parser per stream; not synchronised.
class Parser {
 public:
  /// @param max_buffer bound on the bytes held for one line plus one event's
  /// data; past it `feed` fails, so a hostile server cannot grow it forever.
  explicit Parser(std::size_t max_buffer = 16 * 1024 * 1024) : max_buffer_(max_buffer) {}

  /// Parses `bytes`, calling `on_event(const Event&)` for each dispatched
  /// event. @returns `error::body_too_large` once a line or event passes
  /// `max_buffer` (the parser must then be `restart`ed).
  template <class OnEvent>
  std::error_code feed(std::string_view bytes, OnEvent&& on_event);

  /// Starts a new stream (a reconnect): BOM allowed again, partial line and
  /// event discarded. The last event id and the retry time are kept, as an
  /// `EventSource` keeps them across reconnects.
  void restart() noexcept {
    line_.clear();
    data_.clear();
    type_.clear();
    id_buffer_ = last_event_id_;
    bom_matched_ = 0;
    at_start_ = true;
    skip_lf_ = false;
  }

  /// The id a reconnecting client sends as `Last-Event-ID`.
  const std::string& last_event_id() const noexcept { return last_event_id_; }
  /// The reconnection time from the last valid `retry` field, in ms.
  std::optional<std::uint64_t> retry_ms() const noexcept { return retry_; }
  /// Comment lines seen (heartbeats, for tests and liveness checks).
  std::size_t comments() const noexcept { return comments_; }

 private:
  template <class OnEvent>
  void process_line(std::string_view line, OnEvent& on_event);

  std::string line_;  // a line not yet ended, carried to the next feed
  std::string data_;
  std::string type_;
  std::string id_buffer_;
  std::string last_event_id_;
  Event event_;  // reused for dispatch, so steady state allocates nothing
  std::optional<std::uint64_t> retry_;
  std::size_t comments_ = 0;
  std::size_t max_buffer_;
  unsigned bom_matched_ = 0;  // BOM bytes seen so far at the start of the stream
  bool at_start_ = true;
  bool skip_lf_ = false;  // the last byte was a CR: a leading LF belongs to it
};

template <class OnEvent>
std::error_code Parser::feed(std::string_view bytes, OnEvent&& on_event) {
  static constexpr unsigned char bom[] = {0xEF, 0xBB, 0xBF};
  const char* p = bytes.data();
  const char* end = p + bytes.size();
  // One leading BOM is dropped, even when it arrives split over feeds.
  while (at_start_ && p != end) {
    if (static_cast<unsigned char>(*p) == bom[bom_matched_]) {
      ++p;
      if (++bom_matched_ == 3) at_start_ = false;
    } else {
      // Not a BOM after all: the bytes matched so far are content.
      line_.append(reinterpret_cast<const char*>(bom), bom_matched_);
      at_start_ = false;
    }
  }
  if (skip_lf_ && p != end) {
    skip_lf_ = false;
    if (*p == '\n') ++p;
  }
  const char* lf = nullptr;  // the next LF at or after p, kept across CR-ended lines
  while (p != end) {
    // The next CR or LF; memchr twice beats a byte loop on long lines, and
    // keeping the LF position makes CR-only streams linear too.
    if (lf == nullptr || lf < p) {
      lf = static_cast<const char*>(std::memchr(p, '\n', static_cast<std::size_t>(end - p)));
      if (!lf) lf = end;
    }
    const char* stop = lf;
    const char* cr = static_cast<const char*>(std::memchr(p, '\r', static_cast<std::size_t>(stop - p)));
    const char* brk = cr ? cr : lf;
    if (brk == end) {
      line_.append(p, static_cast<std::size_t>(end - p));
      break;
    }
    if (line_.empty()) {
      process_line(std::string_view(p, static_cast<std::size_t>(brk - p)), on_event);
    } else {
      line_.append(p, static_cast<std::size_t>(brk - p));
      process_line(line_, on_event);
      line_.clear();
    }
    p = brk + 1;
    if (brk == cr) {
      if (p == end) skip_lf_ = true;
      else if (*p == '\n') ++p;
    }
    if (data_.size() > max_buffer_) return error::body_too_large;
  }
  if (line_.size() + data_.size() > max_buffer_) return error::body_too_large;
  return {};
}

template <class OnEvent>
void Parser::process_line(std::string_view line, OnEvent& on_event) {
  if (line.empty()) {  // dispatch
    last_event_id_ = id_buffer_;
    if (data_.empty()) {
      type_.clear();
      return;
    }
    data_.pop_back();  // the LF after the last data line
    event_.data.swap(data_);
    if (type_.empty()) event_.type.assign("message", 7);
    else event_.type.swap(type_);
    event_.last_event_id = last_event_id_;
    on_event(static_cast<const Event&>(event_));
    data_.clear();
    type_.clear();
    return;
  }
  if (line[0] == ':') {
    ++comments_;
    return;
  }
  std::string_view field = line, value;
  if (auto colon = line.find(':'); colon != std::string_view::npos) {
    field = line.substr(0, colon);
    value = line.substr(colon + 1);
    if (!value.empty() && value[0] == ' ') value.remove_prefix(1);
  }
  if (field == "data") {
    data_.append(value);
    data_.push_back('\n');
  } else if (field == "event") {
    type_.assign(value);
  } else if (field == "id") {
    if (value.find('\0') == std::string_view::npos) id_buffer_.assign(value);
  } else if (field == "retry") {
    if (value.empty()) return;
    std::uint64_t ms = 0;
    for (char c : value) {
      if (c < '0' || c > '9') return;
      // Saturate rather than wrap: a huge retry is "a long time", not a small one.
      ms = ms > (UINT64_MAX - 9) / 10 ? UINT64_MAX : ms * 10 + static_cast<std::uint64_t>(c - '0');
    }
    retry_ = ms;
  }
  // Any other field is ignored.
}

}  // namespace herald::sse
