// libFuzzer target for the WebSocket frame layer and the message Reader.
// Input: one option byte, one split byte, then wire bytes.
// Properties checked, beyond not crashing:
//  1. every header that parses re-encodes to the same bytes (and a whole frame,
//     re-encoded with its mask, to the same frame bytes);
//  2. the Reader reports the same events whether fed whole, one byte at a
//     time, or in pieces of another size;
//  3. what it reports obeys RFC 6455: text and close reasons are UTF-8, close
//     codes are valid, errors carry 1002/1007/1009, messages fit the limit.
#include <herald/websocket/frame.hpp>

#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <vector>

using namespace herald::websocket;

namespace {

struct Seen {
  EventKind kind;
  std::string payload;
  std::uint16_t code;
  std::error_code error;
  bool rsv1;
  bool operator==(const Seen&) const = default;
};

// Says which property failed before aborting, so a crash report is readable.
#define check(cond)                                                          \
  do {                                                                       \
    if (!(cond)) {                                                           \
      std::fprintf(stderr, "property failed: %s (line %d)\n", #cond, __LINE__); \
      std::abort();                                                          \
    }                                                                        \
  } while (0)

std::vector<Seen> run(const ReaderOptions& o, const std::uint8_t* data, std::size_t size, std::size_t chunk) {
  Reader r(o);
  std::vector<std::uint8_t> buf(data, data + size);  // the reader unmasks in place
  std::vector<Seen> out;
  std::size_t pos = 0;
  do {
    std::size_t n = chunk == 0 ? buf.size() : std::min(chunk, buf.size() - pos);
    std::span<std::uint8_t> in(buf.data() + pos, n);
    pos += n;
    for (Event ev; (ev = r.next(in)).kind != EventKind::need_more;) {
      out.push_back({ev.kind, std::string(ev.payload), ev.close_code, ev.error, ev.rsv1});
      if (ev.kind == EventKind::error) return out;
    }
    check(in.empty());
  } while (pos < buf.size());
  return out;
}

void check_frames_reencode(const std::uint8_t* data, std::size_t size) {
  std::size_t pos = 0;
  while (pos < size) {
    FrameHeader h;
    std::error_code ec;
    const std::size_t n = parse_header(data + pos, size - pos, h, ec);
    if (n == 0) return;
    std::uint8_t again[max_header_size];
    check(encode_header(h, again) == n);
    check(header_size(h) == n);
    check(std::memcmp(again, data + pos, n) == 0);
    if (h.payload_length > size - pos - n) return;
    // The whole frame: unmask, then encode_frame with the same key.
    const auto len = static_cast<std::size_t>(h.payload_length);
    std::string payload(reinterpret_cast<const char*>(data + pos + n), len);
    if (h.masked) apply_mask(reinterpret_cast<std::uint8_t*>(payload.data()), len, h.mask);
    std::string wire;
    if (!h.rsv2 && !h.rsv3) {
      encode_frame(wire, static_cast<Opcode>(h.opcode), payload, h.fin, h.rsv1, h.masked ? &h.mask : nullptr);
      check(wire.size() == n + len);
      check(std::memcmp(wire.data(), data + pos, wire.size()) == 0);
    }
    pos += n + len;
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  if (size < 2) return 0;
  const std::uint8_t opt = data[0];
  const std::size_t split = data[1] % 17 + 2;
  data += 2;
  size -= 2;

  check_frames_reencode(data, size);

  ReaderOptions o;
  o.role = (opt & 1) ? Role::client : Role::server;
  o.allow_rsv1 = (opt & 2) != 0;
  if (opt & 4) {
    DeflateParams p;
    p.server_no_context_takeover = (opt & 8) != 0;
    p.client_no_context_takeover = (opt & 8) != 0;
    o.deflate = p;
  }
  o.max_message_size = (opt & 16) ? 64 : 1u << 20;

  const auto whole = run(o, data, size, 0);
  check(run(o, data, size, 1) == whole);
  check(run(o, data, size, split) == whole);

  for (const auto& ev : whole) {
    switch (ev.kind) {
      case EventKind::text:
        check(is_valid_utf8(ev.payload));
        [[fallthrough]];
      case EventKind::binary:
        check(ev.payload.size() <= o.max_message_size);
        break;
      case EventKind::ping:
      case EventKind::pong:
        check(ev.payload.size() <= 125);
        break;
      case EventKind::close:
        check(ev.code == 1005 || is_valid_close_code(ev.code));
        check(is_valid_utf8(ev.payload));
        check(ev.payload.size() <= 123);
        break;
      case EventKind::error:
        check(ev.code == 1002 || ev.code == 1007 || ev.code == 1009);
        check(ev.code == close_code_for(ev.error));
        break;
      case EventKind::need_more:
        check(false);
    }
  }
  return 0;
}
