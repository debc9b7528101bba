// herald: WebSocket frames (RFC 6455 section 5), sans-I/O. Opcodes, close
// codes, header parse/encode, masking, message and close-payload encoders, and
// the incremental message `Reader` (in detail/reader.hpp, included below).
#pragma once
#include <herald/config.hpp>
#include <herald/core/error.hpp>

#include <array>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <string>
#include <string_view>
#include <system_error>

namespace herald::websocket {

/// Frame opcodes (RFC 6455 section 5.2). 3..7 and 0xB..0xF are reserved.
enum class Opcode : std::uint8_t {
  continuation = 0x0,
  text = 0x1,
  binary = 0x2,
  close = 0x8,
  ping = 0x9,
  pong = 0xA,
};

/// True for close, ping and pong (opcodes with the high bit set).
constexpr bool is_control(Opcode op) noexcept { return (static_cast<std::uint8_t>(op) & 0x8) != 0; }

/// True for the opcodes RFC 6455 reserves for future use.
constexpr bool is_reserved_opcode(std::uint8_t op) noexcept {
  return (op >= 0x3 && op <= 0x7) || op >= 0xB;
}

/// Which end of the connection we are: it decides which frames must be masked.
enum class Role : std::uint8_t { server, client };

/// Close status codes (RFC 6455 section 7.4.1 and the IANA registry).
enum class CloseCode : std::uint16_t {
  normal = 1000,
  going_away = 1001,
  protocol_error = 1002,
  unsupported_data = 1003,
  no_status = 1005,  ///< never sent: reported when a close frame has no payload
  abnormal = 1006,   ///< never sent: the connection dropped without a close frame
  invalid_payload = 1007,
  policy_violation = 1008,
  message_too_big = 1009,
  mandatory_extension = 1010,
  internal_error = 1011,
  service_restart = 1012,
  try_again_later = 1013,
  bad_gateway = 1014,
};

/// True if `code` may appear in a received close frame: 1000-1003, 1007-1014
/// and 3000-4999. 1004 is reserved, 1005/1006 are never sent, 1015 (TLS) is
/// never sent, 1016-2999 are unassigned. Anything else is a protocol error.
HERALD_DECL bool is_valid_close_code(std::uint16_t code) noexcept {
  if (code >= 1000 && code <= 1003) return true;
  if (code >= 1007 && code <= 1014) return true;
  return code >= 3000 && code <= 4999;
}

/// The close code to send for an error reported by herald's WebSocket layer.
/// `ws_deflate_error` maps to 1007: the compressed payload was invalid data.
HERALD_DECL std::uint16_t close_code_for(std::error_code ec) noexcept {
  if (ec.category() != herald::error_category()) return 1011;
  switch (static_cast<herald::error>(ec.value())) {
    case herald::error::ok: return 1000;
    case herald::error::ws_protocol_error: return 1002;
    case herald::error::ws_invalid_utf8: return 1007;
    case herald::error::ws_deflate_error: return 1007;
    case herald::error::ws_message_too_big: return 1009;
    case herald::error::ws_unsupported_data: return 1003;
    case herald::error::ws_policy_violation: return 1008;
    case herald::error::auth_rate_limited: return 1008;
    case herald::error::shutting_down: return 1001;
    default: return 1011;
  }
}

/// A masking key: four bytes, sent in the clear after the length.
using MaskKey = std::array<std::uint8_t, 4>;

/// One frame header, as on the wire.
struct FrameHeader {
  bool fin = true;
  bool rsv1 = false;  ///< "compressed" under permessage-deflate
  bool rsv2 = false;
  bool rsv3 = false;
  std::uint8_t opcode = 0;  ///< raw, so reserved values can be reported
  bool masked = false;
  std::uint64_t payload_length = 0;
  MaskKey mask{};
};

/// The largest header: 2 + 8 (64-bit length) + 4 (mask key).
inline constexpr std::size_t max_header_size = 14;

/// Bytes `h` takes on the wire.
HERALD_DECL std::size_t header_size(const FrameHeader& h) noexcept {
  std::size_t n = 2;
  if (h.payload_length > 0xFFFF) n += 8;
  else if (h.payload_length > 125) n += 2;
  return n + (h.masked ? 4 : 0);
}

/// Writes `h` into `out` (at least `max_header_size` bytes) with the shortest
/// length encoding, as RFC 6455 requires. Returns the number of bytes written.
/// @note `payload_length` must be below 2^63.
HERALD_DECL std::size_t encode_header(const FrameHeader& h, std::uint8_t* out) noexcept {
  out[0] = static_cast<std::uint8_t>((h.fin ? 0x80 : 0) | (h.rsv1 ? 0x40 : 0) | (h.rsv2 ? 0x20 : 0) |
                                     (h.rsv3 ? 0x10 : 0) | (h.opcode & 0x0F));
  const std::uint8_t mask_bit = h.masked ? 0x80 : 0;
  std::size_t n = 2;
  const std::uint64_t len = h.payload_length;
  if (len <= 125) {
    out[1] = static_cast<std::uint8_t>(mask_bit | len);
  } else if (len <= 0xFFFF) {
    out[1] = static_cast<std::uint8_t>(mask_bit | 126);
    out[2] = static_cast<std::uint8_t>(len >> 8);
    out[3] = static_cast<std::uint8_t>(len);
    n = 4;
  } else {
    out[1] = static_cast<std::uint8_t>(mask_bit | 127);
    for (int i = 0; i < 8; ++i) out[2 + i] = static_cast<std::uint8_t>(len >> (56 - 8 * i));
    n = 10;
  }
  if (h.masked) {
    std::memcpy(out + n, h.mask.data(), 4);
    n += 4;
  }
  return n;
}

/// Writes the header of a frame into a fixed buffer, so that a caller can
/// scatter-write it with a payload shared between many connections. A server
/// passes no mask; a client passes a fresh random key per frame (and masks the
/// payload itself with `apply_mask`). Returns the header's size.
HERALD_DECL std::size_t encode_header(std::array<std::uint8_t, max_header_size>& out, Opcode op,
                                      std::uint64_t payload_length, bool fin = true, bool rsv1 = false,
                                      const MaskKey* mask = nullptr) noexcept {
  FrameHeader h;
  h.fin = fin;
  h.rsv1 = rsv1;
  h.opcode = static_cast<std::uint8_t>(op);
  h.payload_length = payload_length;
  if (mask) {
    h.masked = true;
    h.mask = *mask;
  }
  return encode_header(h, out.data());
}

/// Parses a frame header from the start of `data`.
/// @returns the header's size (2..14), or 0 if `size` bytes are not enough yet.
/// @par Errors (in `ec`, return 0)
/// `ws_protocol_error` for a 64-bit length with the top bit set, and for a
/// length not in its shortest form (RFC 6455 section 5.2: "the minimal number
/// of bytes MUST be used"). Opcode, RSV and mask rules depend on the
/// connection's state and are checked by `Reader`.
HERALD_DECL std::size_t parse_header(const std::uint8_t* data, std::size_t size, FrameHeader& h,
                                     std::error_code& ec) noexcept {
  ec.clear();
  if (size < 2) return 0;
  const std::uint8_t len7 = data[1] & 0x7F;
  const bool masked = (data[1] & 0x80) != 0;
  const std::size_t need = 2 + (len7 == 126 ? 2 : len7 == 127 ? 8 : 0) + (masked ? 4 : 0);
  if (size < need) return 0;
  h.fin = (data[0] & 0x80) != 0;
  h.rsv1 = (data[0] & 0x40) != 0;
  h.rsv2 = (data[0] & 0x20) != 0;
  h.rsv3 = (data[0] & 0x10) != 0;
  h.opcode = data[0] & 0x0F;
  h.masked = masked;
  std::size_t n = 2;
  if (len7 == 126) {
    h.payload_length = (std::uint64_t{data[2]} << 8) | data[3];
    n = 4;
    if (h.payload_length <= 125) ec = herald::error::ws_protocol_error;
  } else if (len7 == 127) {
    std::uint64_t len = 0;
    for (int i = 0; i < 8; ++i) len = (len << 8) | data[2 + i];
    h.payload_length = len;
    n = 10;
    if ((len >> 63) != 0 || len <= 0xFFFF) ec = herald::error::ws_protocol_error;
  } else {
    h.payload_length = len7;
  }
  if (ec) return 0;
  if (masked) {
    std::memcpy(h.mask.data(), data + n, 4);
    n += 4;
  } else {
    h.mask = {};
  }
  return n;
}

/// XORs `size` bytes at `data` with `key`, as if they started `offset` bytes
/// into the payload (so a payload can be unmasked piece by piece). Masking and
/// unmasking are the same operation. Works eight bytes per step.
HERALD_DECL void apply_mask(std::uint8_t* data, std::size_t size, const MaskKey& key,
                            std::size_t offset = 0) noexcept {
  // The key rotated to this offset, repeated to a word: the memory order of
  // its bytes is what matters, so the trick is independent of endianness.
  std::uint8_t rotated[8];
  for (std::size_t j = 0; j < 8; ++j) rotated[j] = key[(offset + j) & 3];
  std::uint64_t word_key;
  std::memcpy(&word_key, rotated, 8);
  std::size_t i = 0;
  for (; i + 8 <= size; i += 8) {
    std::uint64_t w;
    std::memcpy(&w, data + i, 8);
    w ^= word_key;
    std::memcpy(data + i, &w, 8);
  }
  for (; i < size; ++i) data[i] ^= rotated[i & 7];
}

/// Appends one frame (header and payload) to `out`. With a mask key the payload
/// is masked as it is copied (client side).
HERALD_DECL void encode_frame(std::string& out, Opcode op, std::string_view payload, bool fin = true,
                              bool rsv1 = false, const MaskKey* mask = nullptr) {
  std::array<std::uint8_t, max_header_size> hdr;
  const std::size_t n = encode_header(hdr, op, payload.size(), fin, rsv1, mask);
  out.reserve(out.size() + n + payload.size());
  out.append(reinterpret_cast<const char*>(hdr.data()), n);
  const std::size_t body = out.size();
  out.append(payload);
  if (mask) apply_mask(reinterpret_cast<std::uint8_t*>(out.data() + body), payload.size(), *mask);
}

/// Appends a complete server message (unmasked) to `out`, split into frames of
/// at most `fragment_size` payload bytes when it is larger (0: never split).
/// `compressed` sets RSV1 on the first frame: pass a payload already compressed
/// with `Deflater`. Control opcodes are never fragmented.
HERALD_DECL void encode_message(std::string& out, Opcode op, std::string_view payload,
                                std::size_t fragment_size = 0, bool compressed = false) {
  if (fragment_size == 0 || payload.size() <= fragment_size || is_control(op)) {
    encode_frame(out, op, payload, true, compressed);
    return;
  }
  out.reserve(out.size() + payload.size() + (payload.size() / fragment_size + 1) * 10);
  Opcode frame_op = op;
  bool rsv1 = compressed;
  while (true) {
    const std::size_t n = payload.size() < fragment_size ? payload.size() : fragment_size;
    const bool fin = n == payload.size();
    encode_frame(out, frame_op, payload.substr(0, n), fin, rsv1);
    payload.remove_prefix(n);
    if (fin) break;
    frame_op = Opcode::continuation;
    rsv1 = false;
  }
}

/// @copydoc encode_message(std::string&, Opcode, std::string_view, std::size_t, bool)
HERALD_DECL std::string encode_message(Opcode op, std::string_view payload, std::size_t fragment_size = 0,
                                       bool compressed = false) {
  std::string out;
  encode_message(out, op, payload, fragment_size, compressed);
  return out;
}

/// The payload of a close frame: the code in network order, then the reason,
/// cut to 123 bytes (a control payload holds 125) at a UTF-8 character
/// boundary so the peer does not fail on a split code point. 1005 gives an
/// empty payload, since it means "no code".
HERALD_DECL std::string close_payload(std::uint16_t code, std::string_view reason = {}) {
  if (code == static_cast<std::uint16_t>(CloseCode::no_status)) return {};
  if (reason.size() > 123) {
    std::size_t n = 123;
    while (n > 0 && (static_cast<unsigned char>(reason[n]) & 0xC0) == 0x80) --n;
    reason = reason.substr(0, n);
  }
  std::string p;
  p.reserve(2 + reason.size());
  p.push_back(static_cast<char>(code >> 8));
  p.push_back(static_cast<char>(code & 0xFF));
  p.append(reason);
  return p;
}

}  // namespace herald::websocket

#include <herald/websocket/detail/reader.hpp>
