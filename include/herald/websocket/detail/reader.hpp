// herald: the incremental WebSocket message reader. Part of frame.hpp (kept
// apart only for size); include <herald/websocket/frame.hpp>.
#pragma once
#include <herald/websocket/deflate.hpp>
#include <herald/websocket/frame.hpp>
#include <herald/websocket/utf8.hpp>

#include <algorithm>
#include <memory>
#include <optional>
#include <span>
#include <string>

namespace herald::websocket {

/// Knobs of a `Reader` (designated initialisers).
struct ReaderOptions {
  /// Our role: a server requires masked frames, a client unmasked ones.
  Role role = Role::server;
  /// Largest message, in bytes after inflation. 16 MiB: large enough for any
  /// chat or game message, small enough that a few hostile clients cannot
  /// exhaust memory. Past it the reader fails with 1009.
  std::size_t max_message_size = 16u << 20;
  /// The negotiated permessage-deflate parameters, if any: RSV1 on a data
  /// message then means "compressed", and the reader inflates it.
  std::optional<DeflateParams> deflate{};
  /// Accept RSV1 on data messages without interpreting it (an extension the
  /// caller implements); the event then has `rsv1` set. Ignored with `deflate`.
  bool allow_rsv1 = false;
};

/// What `Reader::next` found.
enum class EventKind : std::uint8_t {
  need_more,  ///< the input is used up: read more bytes and call again
  text,       ///< a complete text message (valid UTF-8)
  binary,     ///< a complete binary message
  ping,       ///< answer with a pong carrying the same payload
  pong,       ///< ignore unless you sent a ping
  close,      ///< the peer's close: answer it, then close the TCP connection
  error,      ///< the peer broke the protocol: send a close with `close_code`
};

/// One event from `Reader::next`.
/// @note `payload` points into the caller's input or into the reader's
/// buffer: it is valid until the next call of `next`/`feed` on the reader, and
/// as long as the input buffer is not overwritten.
struct Event {
  EventKind kind = EventKind::need_more;
  /// Message, ping or pong payload; close reason (valid UTF-8) for `close`.
  std::string_view payload;
  /// `close`: the code received (1005 if the frame had none).
  /// `error`: the code to send in our close frame (1002, 1007 or 1009).
  std::uint16_t close_code = 0;
  /// `error`: why (`ws_protocol_error`, `ws_invalid_utf8`,
  /// `ws_message_too_big`, `ws_deflate_error`).
  std::error_code error;
  /// The message's first frame had RSV1 set (only with `allow_rsv1`).
  bool rsv1 = false;
};

/// Reads WebSocket messages from bytes arriving in any split, down to one byte
/// at a time, and applies RFC 6455 (and RFC 7692) exactly.
///
/// Drive it with the bytes of each read, in a loop until it needs more:
/// @code
/// Reader reader({.role = Role::server, .max_message_size = 1 << 20});
/// std::span<std::uint8_t> in(buf.data(), n);       // mutable: unmasked in place
/// for (Event ev; (ev = reader.next(in)).kind != EventKind::need_more;) {
///   switch (ev.kind) {
///     case EventKind::text: case EventKind::binary: on_message(ev.payload); break;
///     case EventKind::ping: send(Opcode::pong, ev.payload); break;
///     case EventKind::pong: break;
///     case EventKind::close: send_close(ev.close_code, {}); /* then shut down */ return;
///     case EventKind::error: send_close(ev.close_code, {}); /* then shut down */ return;
///     default: break;
///   }
/// }
/// @endcode
/// or with `feed(in, visitor)`, which calls the visitor for each event.
///
/// Costs: no allocation for a message that arrives whole in one unfragmented
/// frame (it is unmasked in place and handed out as a view of the input); a
/// buffer only while a fragmented or split message is in progress, released
/// when it is delivered, so an idle reader holds no heap memory (see
/// `buffer_capacity()`). A compressed message is inflated as its bytes
/// arrive and counted against the limit as it grows.
///
/// After `close` the reader ignores further input; after `error` it reports
/// the same error again.
/// @par Thread Safety
/// Distinct objects: safe. Shared objects: unsafe.
class Reader {
 public:
  /// A reader with the given options.
  explicit Reader(ReaderOptions opts = {})
      : max_message_size_(opts.max_message_size),
        role_(opts.role),
        deflate_(opts.deflate.has_value()),
        allow_rsv1_(opts.allow_rsv1),
        inflater_(inflate_window_bits(opts), inflate_takeover(opts)) {}

  /// Consumes bytes from the front of `input` (advancing it) until one event
  /// is complete, and returns it; returns `need_more` once `input` is empty.
  /// The input is modified: masked payloads are unmasked in place.
  Event next(std::span<std::uint8_t>& input);

  /// Calls `on_event(const Event&)` for each event in `input`, in order.
  /// Returns the error, if the peer broke the protocol (also reported to the
  /// visitor as an `error` event).
  template <class Visitor>
  std::error_code feed(std::span<std::uint8_t> input, Visitor&& on_event) {
    while (true) {
      Event ev = next(input);
      if (ev.kind == EventKind::need_more) return {};
      on_event(static_cast<const Event&>(ev));
      if (ev.kind == EventKind::error) return ev.error;
      if (ev.kind == EventKind::close) return {};
    }
  }

  /// True while a data message has started and not yet ended.
  bool message_in_progress() const noexcept { return in_message_; }
  /// True once a close frame was received.
  bool closed() const noexcept { return state_ == State::closed; }
  /// True once the peer broke the protocol.
  bool failed() const noexcept { return state_ == State::failed; }
  /// Heap bytes held by the message buffers (0 when idle; zlib state apart).
  std::size_t buffer_capacity() const noexcept {
    auto heap = [](const std::string& s) { return s.capacity() > 15 ? s.capacity() : std::size_t{0}; };
    return buf_ ? heap(buf_->message) + heap(buf_->control) : 0;
  }
  /// True while an inflate stream is held (only mid-message, unless the peer
  /// uses context takeover).
  bool holds_zlib_state() const noexcept { return inflater_.holds_state(); }
  /// The options given at construction.

 private:
  enum class State : std::uint8_t { header, payload, closed, failed };

  static int inflate_window_bits(const ReaderOptions& o) {
    if (!o.deflate) return 15;
    return o.role == Role::server ? o.deflate->client_max_window_bits : o.deflate->server_max_window_bits;
  }
  static bool inflate_takeover(const ReaderOptions& o) {
    if (!o.deflate) return false;
    return o.role == Role::server ? !o.deflate->client_no_context_takeover
                                  : !o.deflate->server_no_context_takeover;
  }

  Event fail(herald::error e);
  Event check_header();
  Event control_frame(std::string_view payload);
  Event deliver_message();
  Event read_data(std::span<std::uint8_t>& input);

  // What the reader keeps of its options (no copy of them: every
  // connection has a reader).
  std::size_t max_message_size_;
  FrameHeader frame_;
  std::uint64_t remaining_ = 0;  // payload bytes of this frame still to come
  std::uint64_t offset_ = 0;     // payload bytes of this frame already seen (mask phase)
  std::uint8_t header_[max_header_size];
  std::uint8_t header_len_ = 0;
  State state_ = State::header;
  Opcode message_op_ = Opcode::text;
  bool in_message_ = false;
  bool compressed_ = false;
  bool message_rsv1_ = false;
  bool release_pending_ = false;
  bool control_delivered_ = false;
  Role role_;
  bool deflate_;
  bool allow_rsv1_;
  herald::error error_ = herald::error::ok;
  // Assembly buffers, made only while a message or a control frame is split
  // across reads or fragmented: an idle reader holds no heap memory and
  // carries a pointer instead of two strings.
  struct Assembly {
    std::string message;
    std::string control;
  };
  std::unique_ptr<Assembly> buf_;
  std::string& message_buf() {
    if (!buf_) buf_ = std::make_unique<Assembly>();
    return buf_->message;
  }
  std::string& control_buf() {
    if (!buf_) buf_ = std::make_unique<Assembly>();
    return buf_->control;
  }
  std::size_t message_size() const noexcept { return buf_ ? buf_->message.size() : 0; }
  void release_message() noexcept {
    if (!buf_) return;
    if (buf_->control.empty()) return buf_.reset();
    std::string().swap(buf_->message);
  }
  void release_control() noexcept {
    if (!buf_) return;
    if (buf_->message.empty()) return buf_.reset();
    std::string().swap(buf_->control);
  }
  Utf8Validator utf8_;
  Inflater inflater_;
};

namespace detail {
inline std::string_view as_view(const std::uint8_t* p, std::size_t n) noexcept {
  return {reinterpret_cast<const char*>(p), n};
}
}  // namespace detail

inline Event Reader::fail(herald::error e) {
  state_ = State::failed;
  error_ = e;
  in_message_ = false;
  buf_.reset();
  inflater_.release();
  Event ev;
  ev.kind = EventKind::error;
  ev.error = e;
  ev.close_code = close_code_for(e);
  return ev;
}

// The rules of RFC 6455 section 5 that depend on the connection's state.
inline Event Reader::check_header() {
  const FrameHeader& h = frame_;
  const auto op = static_cast<Opcode>(h.opcode);
  if (h.rsv2 || h.rsv3) return fail(herald::error::ws_protocol_error);
  if (is_reserved_opcode(h.opcode)) return fail(herald::error::ws_protocol_error);
  // Clients mask, servers do not (section 5.1), whatever the payload length.
  if (h.masked != (role_ == Role::server)) return fail(herald::error::ws_protocol_error);
  const bool rsv1_ok = deflate_ || allow_rsv1_;
  if (is_control(op)) {
    if (!h.fin || h.payload_length > 125 || h.rsv1) return fail(herald::error::ws_protocol_error);
    return {};
  }
  if (op == Opcode::continuation) {
    // RSV1 marks only the first frame of a compressed message (RFC 7692 6.1).
    if (!in_message_ || h.rsv1) return fail(herald::error::ws_protocol_error);
  } else {
    if (in_message_ || (h.rsv1 && !rsv1_ok)) return fail(herald::error::ws_protocol_error);
    in_message_ = true;
    message_op_ = op;
    compressed_ = h.rsv1 && deflate_;
    message_rsv1_ = h.rsv1 && !compressed_;
    utf8_.reset();
  }
  // Fail before buffering anything: the wire size of an uncompressed frame is
  // what it adds to the message. Compressed frames count as they inflate.
  if (!compressed_ && h.payload_length > max_message_size_ - message_size())
    return fail(herald::error::ws_message_too_big);
  return {};
}

inline Event Reader::control_frame(std::string_view payload) {
  Event ev;
  ev.payload = payload;
  switch (static_cast<Opcode>(frame_.opcode)) {
    case Opcode::ping: ev.kind = EventKind::ping; return ev;
    case Opcode::pong: ev.kind = EventKind::pong; return ev;
    default: break;
  }
  // Close (section 5.5.1, 7.4): empty, or a valid code and a UTF-8 reason.
  ev.kind = EventKind::close;
  if (payload.empty()) {
    ev.close_code = static_cast<std::uint16_t>(CloseCode::no_status);
  } else {
    if (payload.size() == 1) return fail(herald::error::ws_protocol_error);
    ev.close_code = static_cast<std::uint16_t>((static_cast<unsigned char>(payload[0]) << 8) |
                                               static_cast<unsigned char>(payload[1]));
    if (!is_valid_close_code(ev.close_code)) return fail(herald::error::ws_protocol_error);
    ev.payload = payload.substr(2);
    if (!is_valid_utf8(ev.payload)) return fail(herald::error::ws_invalid_utf8);
  }
  state_ = State::closed;
  in_message_ = false;
  release_message();
  inflater_.release();
  return ev;
}

inline Event Reader::deliver_message() {
  std::string& message = message_buf();
  if (compressed_) {
    const std::size_t before = message.size();
    const auto ec = inflater_.finish(message, max_message_size_);
    if (message_op_ == Opcode::text && !utf8_.feed(message.data() + before, message.size() - before))
      return fail(herald::error::ws_invalid_utf8);
    if (ec) return fail(static_cast<herald::error>(ec.value()));
  }
  if (message_op_ == Opcode::text && !utf8_.finish()) return fail(herald::error::ws_invalid_utf8);
  in_message_ = false;
  release_pending_ = true;  // the view stays valid until the next call
  Event ev;
  ev.kind = message_op_ == Opcode::text ? EventKind::text : EventKind::binary;
  ev.payload = message;
  ev.rsv1 = message_rsv1_;
  return ev;
}

inline Event Reader::read_data(std::span<std::uint8_t>& input) {
  const bool text = message_op_ == Opcode::text;
  // Fast path: a whole unfragmented, uncompressed message in the input is
  // unmasked in place and handed out without a copy.
  if (frame_.fin && !compressed_ && message_size() == 0 && offset_ == 0 && input.size() >= remaining_ &&
      static_cast<Opcode>(frame_.opcode) != Opcode::continuation) {
    const auto n = static_cast<std::size_t>(remaining_);
    if (frame_.masked) apply_mask(input.data(), n, frame_.mask);
    std::string_view payload = detail::as_view(input.data(), n);
    input = input.subspan(n);
    state_ = State::header;
    remaining_ = 0;
    if (text && !(utf8_.feed(payload) && utf8_.finish())) return fail(herald::error::ws_invalid_utf8);
    in_message_ = false;
    Event ev;
    ev.kind = text ? EventKind::text : EventKind::binary;
    ev.payload = payload;
    ev.rsv1 = message_rsv1_;
    return ev;
  }
  const auto n = static_cast<std::size_t>(std::min<std::uint64_t>(remaining_, input.size()));
  if (frame_.masked) apply_mask(input.data(), n, frame_.mask, static_cast<std::size_t>(offset_ & 3));
  std::string& message = message_buf();
  const std::size_t before = message.size();
  std::error_code ec;
  if (compressed_) {
    ec = inflater_.inflate(input.data(), n, message, max_message_size_);
  } else {
    if (n != 0 && message.capacity() < 16) {
      message.reserve(static_cast<std::size_t>(std::min<std::uint64_t>(remaining_, 64u << 10)));
    }
    message.append(reinterpret_cast<const char*>(input.data()), n);
  }
  // Validate what just arrived, so invalid text fails on its first bad byte.
  // Even when inflation failed: what it produced first decides, so the
  // verdict does not depend on how the bytes were split.
  if (text && !utf8_.feed(message.data() + before, message.size() - before))
    return fail(herald::error::ws_invalid_utf8);
  if (ec) return fail(static_cast<herald::error>(ec.value()));
  input = input.subspan(n);
  remaining_ -= n;
  offset_ += n;
  if (remaining_ != 0) return {};
  state_ = State::header;
  if (frame_.fin) return deliver_message();
  return {};
}

inline Event Reader::next(std::span<std::uint8_t>& input) {
  if (release_pending_) {
    release_pending_ = false;
    release_message();
    utf8_.reset();
  }
  if (control_delivered_) {  // its view was handed out by the last call
    control_delivered_ = false;
    release_control();
  }
  if (state_ == State::failed) return fail(error_);
  while (true) {
    if (state_ == State::closed) {  // nothing may follow a close frame
      input = input.subspan(input.size());
      return {};
    }
    if (state_ == State::header) {
      std::size_t used = 0;
      std::error_code ec;
      if (header_len_ == 0) {
        used = parse_header(input.data(), input.size(), frame_, ec);
        if (used) input = input.subspan(used);
      }
      if (!used && !ec) {
        // Gather a split header byte by byte: at most 14 bytes, so no loss.
        while (!input.empty()) {
          header_[header_len_++] = input.front();
          input = input.subspan(1);
          used = parse_header(header_, header_len_, frame_, ec);
          if (used || ec) break;
        }
        if (used) header_len_ = 0;
      }
      if (ec) return fail(herald::error::ws_protocol_error);
      if (!used) return {};
      if (Event ev = check_header(); ev.kind == EventKind::error) return ev;
      remaining_ = frame_.payload_length;
      offset_ = 0;
      state_ = State::payload;
    }
    // Payload.
    if (is_control(static_cast<Opcode>(frame_.opcode))) {
      const auto n = static_cast<std::size_t>(std::min<std::uint64_t>(remaining_, input.size()));
      if ((!buf_ || buf_->control.empty()) && n == remaining_) {  // whole in the input: no copy
        if (frame_.masked) apply_mask(input.data(), n, frame_.mask);
        std::string_view payload = detail::as_view(input.data(), n);
        input = input.subspan(n);
        state_ = State::header;
        return control_frame(payload);
      }
      if (frame_.masked) apply_mask(input.data(), n, frame_.mask, static_cast<std::size_t>(offset_ & 3));
      control_buf().append(reinterpret_cast<const char*>(input.data()), n);
      input = input.subspan(n);
      remaining_ -= n;
      offset_ += n;
      if (remaining_ != 0) return {};
      state_ = State::header;
      control_delivered_ = true;
      return control_frame(buf_->control);
    }
    Event ev = read_data(input);
    if (ev.kind != EventKind::need_more || input.empty()) return ev;
  }
}

}  // namespace herald::websocket
