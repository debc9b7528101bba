// herald: incremental UTF-8 validation (RFC 3629) for WebSocket text messages
// and close reasons. Sans-I/O: bytes in, verdict out.
#pragma once
#include <herald/config.hpp>

#include <array>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <string_view>

namespace herald::websocket {

namespace detail {

// A small DFA over byte classes. States: 0 accept, 1 reject, 2..4 need 1..3 more
// continuation bytes (80..BF), 5..8 the four lead bytes whose second byte has a
// narrower range (E0: A0..BF, ED: 80..9F, F0: 90..BF, F4: 80..8F). The narrow
// ranges are what reject overlongs, surrogates and code points past U+10FFFF.
enum : std::uint8_t { utf8_accept = 0, utf8_reject = 1 };

// Byte classes: 0 ASCII, 1 80..8F, 2 90..9F, 3 A0..BF, 4 C2..DF, 5 E0,
// 6 E1..EC/EE..EF, 7 ED, 8 F0, 9 F1..F3, 10 F4, 11 never valid (C0, C1, F5..FF).
constexpr std::array<std::uint8_t, 256> make_utf8_classes() {
  std::array<std::uint8_t, 256> c{};
  for (int b = 0; b < 256; ++b) {
    std::uint8_t k = 11;
    if (b < 0x80) k = 0;
    else if (b < 0x90) k = 1;
    else if (b < 0xA0) k = 2;
    else if (b < 0xC0) k = 3;
    else if (b >= 0xC2 && b <= 0xDF) k = 4;
    else if (b == 0xE0) k = 5;
    else if (b == 0xED) k = 7;
    else if (b >= 0xE1 && b <= 0xEF) k = 6;
    else if (b == 0xF0) k = 8;
    else if (b >= 0xF1 && b <= 0xF3) k = 9;
    else if (b == 0xF4) k = 10;
    c[static_cast<std::size_t>(b)] = k;
  }
  return c;
}

constexpr std::array<std::uint8_t, 9 * 12> make_utf8_transitions() {
  std::array<std::uint8_t, 9 * 12> t{};
  for (auto& v : t) v = utf8_reject;
  auto set = [&t](int state, int cls, int next) {
    t[static_cast<std::size_t>(state * 12 + cls)] = static_cast<std::uint8_t>(next);
  };
  // From accept: lead bytes.
  set(0, 0, 0);
  set(0, 4, 2);
  set(0, 5, 5);
  set(0, 6, 3);
  set(0, 7, 6);
  set(0, 8, 7);
  set(0, 9, 4);
  set(0, 10, 8);
  for (int cls = 1; cls <= 3; ++cls) {  // any continuation byte 80..BF
    set(2, cls, 0);
    set(3, cls, 2);
    set(4, cls, 3);
  }
  set(5, 3, 2);  // E0 A0..BF
  set(6, 1, 2);  // ED 80..9F
  set(6, 2, 2);
  set(7, 2, 3);  // F0 90..BF
  set(7, 3, 3);
  set(8, 1, 3);  // F4 80..8F
  return t;
}

inline constexpr auto utf8_classes = make_utf8_classes();
inline constexpr auto utf8_transitions = make_utf8_transitions();

}  // namespace detail

/// Incremental UTF-8 validator: feed a text message in any number of pieces
/// (a code point may be split across them) and learn of the first invalid byte
/// as soon as it arrives, as RFC 6455 section 8.1 asks ("fail fast").
///
/// Rejects overlong forms, surrogates (U+D800..U+DFFF) and code points past
/// U+10FFFF. Pure ASCII runs are checked 16 bytes per step.
///
/// @par Example
/// @code
/// Utf8Validator v;
/// if (!v.feed(part1) || !v.feed(part2) || !v.finish()) { /* close 1007 */ }
/// @endcode
/// @par Thread Safety
/// Distinct objects: safe. Shared objects: unsafe.
class Utf8Validator {
 public:
  /// Validates the next piece. Returns false if it holds an invalid byte; the
  /// validator then stays failed until `reset()`, and `error_offset()` gives the
  /// offset of that byte in this piece.
  bool feed(const void* data, std::size_t size) noexcept {
    if (HERALD_UNLIKELY(state_ == detail::utf8_reject)) {
      error_offset_ = 0;
      return false;
    }
    const auto* p = static_cast<const unsigned char*>(data);
    std::size_t i = 0;
    std::uint8_t s = state_;
    while (i < size) {
      if (s == detail::utf8_accept) {
        // ASCII fast path: 16 bytes per step, then 8, while no high bit is set.
        while (size - i >= 16) {
          std::uint64_t a, b;
          std::memcpy(&a, p + i, 8);
          std::memcpy(&b, p + i + 8, 8);
          if ((a | b) & 0x8080808080808080ull) break;
          i += 16;
        }
        if (size - i >= 8) {
          std::uint64_t a;
          std::memcpy(&a, p + i, 8);
          if ((a & 0x8080808080808080ull) == 0) {
            i += 8;
            continue;
          }
        }
        if (i == size) break;
      }
      // Byte at a time until the DFA is back in accept (or the piece ends).
      s = detail::utf8_transitions[s * 12u + detail::utf8_classes[p[i]]];
      if (HERALD_UNLIKELY(s == detail::utf8_reject)) {
        state_ = s;
        error_offset_ = i;
        return false;
      }
      ++i;
      // Stay in the byte loop through mixed text; go back to the word path
      // only after a few ASCII bytes in a row suggest a longer ASCII run.
      for (unsigned ascii_run = 0; i < size; ++i) {
        const unsigned char c = p[i];
        ascii_run = c < 0x80 ? ascii_run + 1 : 0;
        if (s == detail::utf8_accept && ascii_run > 4) break;
        s = detail::utf8_transitions[s * 12u + detail::utf8_classes[c]];
        if (HERALD_UNLIKELY(s == detail::utf8_reject)) {
          state_ = s;
          error_offset_ = i;
          return false;
        }
      }
    }
    state_ = s;
    return true;
  }

  /// @copydoc feed(const void*, std::size_t)
  bool feed(std::string_view s) noexcept { return feed(s.data(), s.size()); }

  /// True if everything fed so far is valid and no code point is left
  /// unfinished: call at the end of a message.
  [[nodiscard]] bool finish() const noexcept { return state_ == detail::utf8_accept; }

  /// True once an invalid byte was seen.
  [[nodiscard]] bool failed() const noexcept { return state_ == detail::utf8_reject; }

  /// Offset, in the piece of the failing `feed()`, of the first invalid byte.
  [[nodiscard]] std::size_t error_offset() const noexcept { return error_offset_; }

  /// Forgets everything, ready for the next message.
  void reset() noexcept {
    state_ = detail::utf8_accept;
    error_offset_ = 0;
  }

 private:
  std::uint8_t state_ = detail::utf8_accept;
  std::size_t error_offset_ = 0;
};

/// Validates a complete string.
HERALD_DECL bool is_valid_utf8(std::string_view s) noexcept {
  Utf8Validator v;
  return v.feed(s) && v.finish();
}

}  // namespace herald::websocket
