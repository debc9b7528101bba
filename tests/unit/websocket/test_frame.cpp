#include <herald/websocket/frame.hpp>

#include <catch2/catch.hpp>

#include <string>
#include <vector>

using namespace herald::websocket;

namespace {

std::string bytes(std::initializer_list<int> l) {
  std::string s;
  for (int b : l) s.push_back(static_cast<char>(b));
  return s;
}

constexpr MaskKey kKey{0x37, 0xfa, 0x21, 0x3d};

/// One frame with raw opcode and RSV bits; masked like a client's by default.
std::string frame(int opcode, std::string_view payload, bool fin = true, bool masked = true, int rsv = 0) {
  FrameHeader h;
  h.fin = fin;
  h.rsv1 = rsv & 4;
  h.rsv2 = rsv & 2;
  h.rsv3 = rsv & 1;
  h.opcode = static_cast<std::uint8_t>(opcode);
  h.masked = masked;
  h.mask = kKey;
  h.payload_length = payload.size();
  std::uint8_t hdr[max_header_size];
  std::string out(reinterpret_cast<char*>(hdr), encode_header(h, hdr));
  std::string body(payload);
  if (masked) apply_mask(reinterpret_cast<std::uint8_t*>(body.data()), body.size(), kKey);
  return out + body;
}

struct Ev {
  EventKind kind;
  std::string payload;
  std::uint16_t code;
  std::error_code error;
  bool rsv1;
};

/// Feeds `wire` in pieces of `chunk` bytes (0: all at once) and collects
/// events; stops at the first error.
std::vector<Ev> run(Reader& r, std::string wire, std::size_t chunk = 0) {
  std::vector<Ev> out;
  std::vector<std::uint8_t> buf(wire.begin(), wire.end());
  std::size_t pos = 0;
  do {
    std::size_t n = chunk == 0 ? buf.size() : std::min(chunk, buf.size() - pos);
    std::span<std::uint8_t> in(buf.data() + pos, n);
    pos += n;
    for (Event ev; (ev = r.next(in)).kind != EventKind::need_more;) {
      out.push_back({ev.kind, std::string(ev.payload), ev.close_code, ev.error, ev.rsv1});
      if (ev.kind == EventKind::error) return out;
    }
    CHECK(in.empty());
  } while (pos < buf.size());
  return out;
}

std::vector<Ev> run_server(std::string wire, std::size_t chunk = 0, ReaderOptions o = {}) {
  o.role = Role::server;
  Reader r(o);
  return run(r, std::move(wire), chunk);
}

std::vector<Ev> run_client(std::string wire, std::size_t chunk = 0, ReaderOptions o = {}) {
  o.role = Role::client;
  Reader r(o);
  return run(r, std::move(wire), chunk);
}

/// The single error a wire produces, fed whole and one byte at a time.
std::uint16_t error_code_of(const std::string& wire, ReaderOptions o = {}) {
  auto whole = run_server(wire, 0, o);
  auto bytewise = run_server(wire, 1, o);
  REQUIRE(!whole.empty());
  REQUIRE(!bytewise.empty());
  CHECK(whole.back().kind == EventKind::error);
  CHECK(bytewise.back().kind == EventKind::error);
  CHECK(whole.back().code == bytewise.back().code);
  return whole.back().kind == EventKind::error ? whole.back().code : 0;
}

}  // namespace

TEST_CASE("frame: RFC 6455 section 5.7 examples", "[websocket][frame]") {
  SECTION("unmasked text to a client") {
    auto ev = run_client(bytes({0x81, 0x05, 0x48, 0x65, 0x6c, 0x6c, 0x6f}));
    REQUIRE(ev.size() == 1);
    CHECK(ev[0].kind == EventKind::text);
    CHECK(ev[0].payload == "Hello");
  }
  SECTION("masked text to a server") {
    auto wire = bytes({0x81, 0x85, 0x37, 0xfa, 0x21, 0x3d, 0x7f, 0x9f, 0x4d, 0x51, 0x58});
    CHECK(frame(1, "Hello") == wire);
    auto ev = run_server(wire);
    REQUIRE(ev.size() == 1);
    CHECK(ev[0].payload == "Hello");
  }
  SECTION("fragmented unmasked text") {
    auto ev = run_client(bytes({0x01, 0x03, 0x48, 0x65, 0x6c, 0x80, 0x02, 0x6c, 0x6f}));
    REQUIRE(ev.size() == 1);
    CHECK(ev[0].kind == EventKind::text);
    CHECK(ev[0].payload == "Hello");
  }
  SECTION("unmasked ping, masked pong") {
    auto ping = run_client(bytes({0x89, 0x05, 0x48, 0x65, 0x6c, 0x6c, 0x6f}));
    REQUIRE(ping.size() == 1);
    CHECK(ping[0].kind == EventKind::ping);
    CHECK(ping[0].payload == "Hello");
    auto pong = run_server(bytes({0x8a, 0x85, 0x37, 0xfa, 0x21, 0x3d, 0x7f, 0x9f, 0x4d, 0x51, 0x58}));
    REQUIRE(pong.size() == 1);
    CHECK(pong[0].kind == EventKind::pong);
    CHECK(pong[0].payload == "Hello");
  }
  SECTION("256 bytes and 64 KiB binary headers") {
    std::array<std::uint8_t, max_header_size> h;
    REQUIRE(encode_header(h, Opcode::binary, 256) == 4);
    CHECK(std::vector<int>(h.begin(), h.begin() + 4) == std::vector<int>{0x82, 0x7E, 0x01, 0x00});
    REQUIRE(encode_header(h, Opcode::binary, 65536) == 10);
    CHECK(std::vector<int>(h.begin(), h.begin() + 10) ==
          std::vector<int>{0x82, 0x7F, 0, 0, 0, 0, 0, 1, 0, 0});
  }
}

TEST_CASE("frame: 7-, 16- and 64-bit lengths round trip, fed whole and bytewise", "[websocket][frame]") {
  for (std::size_t len : {0u, 1u, 125u, 126u, 127u, 65535u, 65536u, 70000u}) {
    std::string payload(len, 'x');
    for (std::size_t i = 0; i < len; ++i) payload[i] = static_cast<char>('a' + i % 26);
    const std::string wire = frame(2, payload);
    FrameHeader h;
    std::error_code ec;
    auto n = parse_header(reinterpret_cast<const std::uint8_t*>(wire.data()), wire.size(), h, ec);
    CHECK_FALSE(ec);
    CHECK(n == (len <= 125 ? 6u : len <= 65535 ? 8u : 14u));
    CHECK(h.payload_length == len);
    for (std::size_t chunk : {0u, 1u, 7u}) {
      if (chunk == 1 && len > 70000) continue;
      auto ev = run_server(wire, chunk);
      REQUIRE(ev.size() == 1);
      CHECK(ev[0].kind == EventKind::binary);
      CHECK(ev[0].payload == payload);
    }
  }
}

TEST_CASE("frame: length encodings that break the rules are 1002", "[websocket][frame]") {
  // 64-bit length with the most significant bit set.
  CHECK(error_code_of(bytes({0x82, 0xFF, 0x80, 0, 0, 0, 0, 0, 0, 1, 1, 2, 3, 4})) == 1002);
  // Not the shortest form: 16-bit length of 5, 64-bit length of 200.
  CHECK(error_code_of(bytes({0x82, 0xFE, 0x00, 0x05, 1, 2, 3, 4})) == 1002);
  CHECK(error_code_of(bytes({0x82, 0xFF, 0, 0, 0, 0, 0, 0, 0, 200, 1, 2, 3, 4})) == 1002);
}

TEST_CASE("frame: header parse needs all its bytes", "[websocket][frame]") {
  const std::string wire = frame(1, std::string(300, 'a'));
  FrameHeader h;
  std::error_code ec;
  for (std::size_t n = 0; n < 8; ++n)
    CHECK(parse_header(reinterpret_cast<const std::uint8_t*>(wire.data()), n, h, ec) == 0);
  CHECK(parse_header(reinterpret_cast<const std::uint8_t*>(wire.data()), 8, h, ec) == 8);
  CHECK(h.mask == kKey);
}

TEST_CASE("frame: masking word at a time equals the byte definition", "[websocket][frame]") {
  for (std::size_t size = 0; size < 40; ++size) {
    for (std::size_t offset = 0; offset < 5; ++offset) {
      std::vector<std::uint8_t> data(size), expect(size);
      for (std::size_t i = 0; i < size; ++i) {
        data[i] = static_cast<std::uint8_t>(i * 7 + 3);
        expect[i] = data[i] ^ kKey[(i + offset) % 4];
      }
      apply_mask(data.data(), size, kKey, offset);
      CHECK(data == expect);
    }
  }
}

TEST_CASE("frame: masking rules depend on the role", "[websocket][frame]") {
  CHECK(error_code_of(frame(1, "hi", true, false)) == 1002);  // server gets unmasked
  auto ev = run_client(frame(1, "hi", true, true));          // client gets masked
  REQUIRE(ev.size() == 1);
  CHECK(ev[0].kind == EventKind::error);
  CHECK(ev[0].code == 1002);
  // Even an empty control frame must follow the rule.
  CHECK(error_code_of(frame(9, "", true, false)) == 1002);
}

TEST_CASE("frame: RSV bits without an extension are 1002", "[websocket][frame]") {
  CHECK(error_code_of(frame(1, "a", true, true, 4)) == 1002);
  CHECK(error_code_of(frame(1, "a", true, true, 2)) == 1002);
  CHECK(error_code_of(frame(1, "a", true, true, 1)) == 1002);
  CHECK(error_code_of(frame(9, "", true, true, 4)) == 1002);
  // RSV1 allowed by an extension the caller implements: passed on, marked.
  auto ev = run_server(frame(2, "zz", true, true, 4), 0, {.allow_rsv1 = true});
  REQUIRE(ev.size() == 1);
  CHECK(ev[0].kind == EventKind::binary);
  CHECK(ev[0].rsv1);
  // ... but never on a continuation, a control frame, nor RSV2/3.
  CHECK(error_code_of(frame(2, "a", false, true, 4) + frame(0, "b", true, true, 4), {.allow_rsv1 = true}) ==
        1002);
  CHECK(error_code_of(frame(10, "", true, true, 4), {.allow_rsv1 = true}) == 1002);
  CHECK(error_code_of(frame(2, "a", true, true, 2), {.allow_rsv1 = true}) == 1002);
}

TEST_CASE("frame: reserved opcodes are 1002", "[websocket][frame]") {
  for (int op : {3, 4, 5, 6, 7, 0xB, 0xC, 0xD, 0xE, 0xF}) {
    INFO("opcode " << op);
    CHECK(error_code_of(frame(op, "")) == 1002);
    CHECK(error_code_of(frame(op, "payload")) == 1002);
  }
}

TEST_CASE("frame: control frames must be short and unfragmented", "[websocket][frame]") {
  CHECK(error_code_of(frame(9, std::string(126, 'p'))) == 1002);
  CHECK(error_code_of(frame(10, std::string(126, 'p'))) == 1002);
  CHECK(error_code_of(frame(8, bytes({0x03, 0xE8}) + std::string(124, 'r'))) == 1002);
  CHECK(error_code_of(frame(9, "x", false)) == 1002);
  auto ok = run_server(frame(9, std::string(125, 'p')));
  REQUIRE(ok.size() == 1);
  CHECK(ok[0].kind == EventKind::ping);
  CHECK(ok[0].payload.size() == 125);
}

TEST_CASE("frame: continuation and interleaving rules", "[websocket][frame]") {
  CHECK(error_code_of(frame(0, "orphan")) == 1002);
  CHECK(error_code_of(frame(0, "orphan", false)) == 1002);
  CHECK(error_code_of(frame(1, "a", false) + frame(1, "b")) == 1002);
  CHECK(error_code_of(frame(1, "a", false) + frame(2, "b")) == 1002);
  // A continuation after a completed message has nothing to continue.
  CHECK(error_code_of(frame(1, "done") + frame(0, "more")) == 1002);
}

TEST_CASE("frame: fragmented message with control frames between, every split", "[websocket][frame]") {
  const std::string wire = frame(1, "Hel", false) + frame(9, "p1") + frame(0, "", false) + frame(10, "u") +
                           frame(0, "lo \xE2\x82", false) + frame(9, "") + frame(0, "\xAC!") +
                           frame(2, "bin") + frame(8, bytes({0x03, 0xE8}) + "bye");
  auto check = [](const std::vector<Ev>& ev) {
    REQUIRE(ev.size() == 6);
    CHECK(ev[0].kind == EventKind::ping);
    CHECK(ev[0].payload == "p1");
    CHECK(ev[1].kind == EventKind::pong);
    CHECK(ev[1].payload == "u");
    CHECK(ev[2].kind == EventKind::ping);
    CHECK(ev[2].payload.empty());
    CHECK(ev[3].kind == EventKind::text);
    CHECK(ev[3].payload == "Hello \xE2\x82\xAC!");
    CHECK(ev[4].kind == EventKind::binary);
    CHECK(ev[4].payload == "bin");
    CHECK(ev[5].kind == EventKind::close);
    CHECK(ev[5].code == 1000);
    CHECK(ev[5].payload == "bye");
  };
  for (std::size_t chunk : {0u, 1u, 2u, 3u, 5u, 13u}) {
    INFO("chunk " << chunk);
    check(run_server(wire, chunk));
  }
  // Two pieces, split at every position.
  for (std::size_t cut = 0; cut <= wire.size(); ++cut) {
    Reader r;
    std::vector<Ev> ev;
    std::vector<std::uint8_t> buf(wire.begin(), wire.end());
    for (auto piece : {std::span<std::uint8_t>(buf.data(), cut),
                       std::span<std::uint8_t>(buf.data() + cut, buf.size() - cut)}) {
      r.feed(piece, [&](const Event& e) {
        ev.push_back({e.kind, std::string(e.payload), e.close_code, e.error, e.rsv1});
      });
    }
    INFO("cut " << cut);
    check(ev);
  }
}

TEST_CASE("frame: invalid UTF-8 in text is 1007, fast, also across fragments", "[websocket][frame]") {
  CHECK(error_code_of(frame(1, "ab\xC0\x80")) == 1007);
  CHECK(error_code_of(frame(1, "\xED\xA0\x80")) == 1007);       // surrogate
  CHECK(error_code_of(frame(1, "\xF4\x90\x80\x80")) == 1007);   // > U+10FFFF
  CHECK(error_code_of(frame(1, "trunc\xE2\x82")) == 1007);      // ends mid code point
  CHECK(error_code_of(frame(1, "a\xE2", false) + frame(0, "\x82")) == 1007);
  // Binary is not checked.
  auto bin = run_server(frame(2, "\xFF\xFE"));
  REQUIRE(bin.size() == 1);
  CHECK(bin[0].kind == EventKind::binary);

  SECTION("a code point split across fragments is fine") {
    auto ev = run_server(frame(1, "\xF0\x9F", false) + frame(0, "\x98", false) + frame(0, "\x80"), 1);
    REQUIRE(ev.size() == 1);
    CHECK(ev[0].payload == "\xF0\x9F\x98\x80");
  }
  SECTION("fails on the first fragment, before the message ends") {
    Reader r;
    std::string first = frame(1, "ok\xFFmore", false);
    std::vector<std::uint8_t> buf(first.begin(), first.end());
    std::span<std::uint8_t> in(buf);
    Event ev = r.next(in);
    CHECK(ev.kind == EventKind::error);
    CHECK(ev.close_code == 1007);
    CHECK(ev.error == herald::error::ws_invalid_utf8);
  }
  SECTION("fed one byte at a time, fails on the invalid byte itself") {
    const std::string wire = frame(1, std::string(40, 'a') + "\xFF" + std::string(40, 'b'));
    const std::size_t bad_at = 6 + 40;  // header (2 + 4) then 40 good bytes
    Reader r;
    std::vector<std::uint8_t> buf(wire.begin(), wire.end());
    std::size_t failed_at = 0;
    for (std::size_t i = 0; i < buf.size(); ++i) {
      std::span<std::uint8_t> in(buf.data() + i, 1);
      if (r.next(in).kind == EventKind::error) {
        failed_at = i;
        break;
      }
    }
    CHECK(failed_at == bad_at);
  }
}

TEST_CASE("frame: close frames", "[websocket][frame]") {
  auto empty = run_server(frame(8, ""));
  REQUIRE(empty.size() == 1);
  CHECK(empty[0].kind == EventKind::close);
  CHECK(empty[0].code == 1005);

  // One byte: 0x0F would read as a valid 3840..4095 whatever byte followed.
  CHECK(error_code_of(frame(8, "\x0F")) == 1002);
  CHECK(error_code_of(frame(8, "\x0F") + frame(9, "\xA0")) == 1002);
  for (int code : {0, 999, 1004, 1005, 1006, 1015, 1016, 2000, 2999, 5000, 65535}) {
    INFO("code " << code);
    CHECK(error_code_of(frame(8, bytes({code >> 8, code & 0xFF}))) == 1002);
  }
  for (int code : {1000, 1001, 1002, 1003, 1007, 1008, 1009, 1010, 1011, 1012, 1013, 1014, 3000, 4999}) {
    INFO("code " << code);
    auto ev = run_server(frame(8, bytes({code >> 8, code & 0xFF})));
    REQUIRE(ev.size() == 1);
    CHECK(ev[0].kind == EventKind::close);
    CHECK(ev[0].code == code);
  }
  CHECK(error_code_of(frame(8, bytes({0x03, 0xE8}) + "bad \xC3")) == 1007);
  auto reason = run_server(frame(8, bytes({0x0F, 0xA0}) + "caf\xC3\xA9"), 1);
  REQUIRE(reason.size() == 1);
  CHECK(reason[0].code == 4000);
  CHECK(reason[0].payload == "caf\xC3\xA9");

  // Nothing is read after a close, not even garbage.
  Reader r;
  auto ev = run(r, frame(8, bytes({0x03, 0xE8})) + frame(1, "late") + "\xFF\xFF\xFF");
  REQUIRE(ev.size() == 1);
  CHECK(r.closed());
}

TEST_CASE("frame: messages over the limit are 1009", "[websocket][frame]") {
  ReaderOptions o{.max_message_size = 10};
  auto fits = run_server(frame(2, std::string(10, 'x')), 0, o);
  REQUIRE(fits.size() == 1);
  CHECK(fits[0].kind == EventKind::binary);
  CHECK(error_code_of(frame(2, std::string(11, 'x')), o) == 1009);
  CHECK(error_code_of(frame(1, std::string(6, 'x'), false) + frame(0, std::string(5, 'x')), o) == 1009);

  // Refused at the header, before any payload arrives.
  Reader r({.max_message_size = 1000});
  std::string hdr = frame(2, std::string(5000, 'x')).substr(0, 8);
  std::vector<std::uint8_t> buf(hdr.begin(), hdr.end());
  std::span<std::uint8_t> in(buf);
  Event ev = r.next(in);
  CHECK(ev.kind == EventKind::error);
  CHECK(ev.close_code == 1009);
  CHECK(ev.error == herald::error::ws_message_too_big);
  CHECK(r.buffer_capacity() == 0);
  // The error sticks.
  std::span<std::uint8_t> none;
  CHECK(r.next(none).kind == EventKind::error);
}

TEST_CASE("frame: an idle reader holds no buffer", "[websocket][frame]") {
  Reader r;
  std::string big(5000, 'z');
  auto ev = run(r, frame(1, big.substr(0, 2000), false) + frame(9, std::string(100, 'p')) +
                       frame(0, big.substr(2000)),
                1000);
  REQUIRE(ev.size() == 2);
  CHECK(ev[1].payload == big);
  // The buffer is kept while the view is alive, and gone at the next call.
  std::span<std::uint8_t> none;
  CHECK(r.next(none).kind == EventKind::need_more);
  CHECK(r.buffer_capacity() == 0);
  CHECK_FALSE(r.message_in_progress());
  // A message split across reads holds a buffer only while it is in progress.
  std::string wire = frame(2, std::string(300, 'b'));
  std::vector<std::uint8_t> buf(wire.begin(), wire.end());
  std::span<std::uint8_t> a(buf.data(), 100), b(buf.data() + 100, buf.size() - 100);
  CHECK(r.next(a).kind == EventKind::need_more);
  CHECK(r.buffer_capacity() > 0);
  CHECK(r.next(b).kind == EventKind::binary);
  CHECK(r.next(none).kind == EventKind::need_more);
  CHECK(r.buffer_capacity() == 0);
  CHECK(sizeof(Reader) <= 256);
}

TEST_CASE("frame: a whole frame in the input is handed out without a copy", "[websocket][frame]") {
  std::string wire = frame(1, "zero copy");
  std::vector<std::uint8_t> buf(wire.begin(), wire.end());
  std::span<std::uint8_t> in(buf);
  Reader r;
  Event ev = r.next(in);
  REQUIRE(ev.kind == EventKind::text);
  CHECK(ev.payload == "zero copy");
  CHECK(reinterpret_cast<const std::uint8_t*>(ev.payload.data()) == buf.data() + 6);
  CHECK(r.buffer_capacity() == 0);
}

TEST_CASE("frame: encode_message fragments and a client reads it back", "[websocket][frame]") {
  const std::string msg = "0123456789";
  const std::string wire = encode_message(Opcode::text, msg, 4);
  CHECK(wire == bytes({0x01, 4}) + "0123" + bytes({0x00, 4}) + "4567" + bytes({0x80, 2}) + "89");
  for (std::size_t chunk : {0u, 1u}) {
    auto ev = run_client(wire, chunk);
    REQUIRE(ev.size() == 1);
    CHECK(ev[0].kind == EventKind::text);
    CHECK(ev[0].payload == msg);
  }
  CHECK(encode_message(Opcode::binary, msg) == bytes({0x82, 10}) + msg);
  CHECK(encode_message(Opcode::binary, msg, 10) == bytes({0x82, 10}) + msg);
  // Compressed: RSV1 on the first frame only.
  const std::string c = encode_message(Opcode::binary, "abcdef", 4, true);
  CHECK(static_cast<unsigned char>(c[0]) == 0x42);
  CHECK(static_cast<unsigned char>(c[6]) == 0x80);
  // Client frames: masked with the given key.
  std::string masked;
  encode_frame(masked, Opcode::text, "Hello", true, false, &kKey);
  CHECK(masked == bytes({0x81, 0x85, 0x37, 0xfa, 0x21, 0x3d, 0x7f, 0x9f, 0x4d, 0x51, 0x58}));
}

TEST_CASE("frame: close payloads and codes", "[websocket][frame]") {
  CHECK(close_payload(1000, "bye") == bytes({0x03, 0xE8}) + "bye");
  CHECK(close_payload(1005).empty());
  // Cut to 123 bytes at a character boundary: 61 two-byte characters + 'x'.
  std::string reason = "x";
  for (int i = 0; i < 80; ++i) reason += "\xC3\xA9";
  const std::string p = close_payload(1001, reason);
  CHECK(p.size() <= 125);
  CHECK(p.size() == 2 + 123);
  CHECK(is_valid_utf8(std::string_view(p).substr(2)));
  std::string reason2 = "xx" + reason.substr(1);  // boundary falls inside a character
  const std::string p2 = close_payload(1001, reason2);
  CHECK(p2.size() == 2 + 122);
  CHECK(is_valid_utf8(std::string_view(p2).substr(2)));

  CHECK(close_code_for(herald::error::ws_protocol_error) == 1002);
  CHECK(close_code_for(herald::error::ws_invalid_utf8) == 1007);
  CHECK(close_code_for(herald::error::ws_message_too_big) == 1009);
  CHECK(close_code_for(herald::error::ws_unsupported_data) == 1003);
  CHECK(close_code_for(herald::error::ws_policy_violation) == 1008);
  CHECK(is_valid_close_code(1000));
  CHECK_FALSE(is_valid_close_code(1004));
}
