#include <herald/websocket/deflate.hpp>
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

std::vector<Event> read_all(Reader& r, std::string wire, std::size_t chunk, std::vector<std::string>& payloads) {
  std::vector<Event> out;
  std::vector<std::uint8_t> buf(wire.begin(), wire.end());
  for (std::size_t pos = 0; pos < buf.size();) {
    std::size_t n = chunk ? std::min(chunk, buf.size() - pos) : buf.size();
    std::span<std::uint8_t> in(buf.data() + pos, n);
    pos += n;
    for (Event ev; (ev = r.next(in)).kind != EventKind::need_more;) {
      out.push_back(ev);
      payloads.emplace_back(ev.payload);
      if (ev.kind == EventKind::error) return out;
    }
  }
  return out;
}

DeflateParams no_takeover() {
  DeflateParams p;
  p.server_no_context_takeover = true;
  p.client_no_context_takeover = true;
  return p;
}

ReaderOptions client_with_deflate(DeflateParams p = no_takeover()) {
  ReaderOptions o;
  o.role = Role::client;
  o.deflate = p;
  return o;
}
}  // namespace

TEST_CASE("deflate: RFC 7692 7.2.3.1 \"Hello\" compressed", "[websocket][deflate]") {
  Deflater d;
  CHECK(d.compress("Hello") == bytes({0xf2, 0x48, 0xcd, 0xc9, 0xc9, 0x07, 0x00}));
  CHECK_FALSE(d.holds_state());  // no context takeover: per-thread stream

  Inflater inf;
  std::string out;
  const std::string c = bytes({0xf2, 0x48, 0xcd, 0xc9, 0xc9, 0x07, 0x00});
  REQUIRE_FALSE(inf.inflate(c.data(), c.size(), out, 100));
  REQUIRE_FALSE(inf.finish(out, 100));
  CHECK(out == "Hello");
  CHECK_FALSE(inf.holds_state());
}

TEST_CASE("deflate: RFC 7692 examples through the Reader", "[websocket][deflate]") {
  std::vector<std::string> p;
  SECTION("single compressed frame") {
    Reader r(client_with_deflate());
    auto ev = read_all(r, bytes({0xc1, 0x07, 0xf2, 0x48, 0xcd, 0xc9, 0xc9, 0x07, 0x00}), 1, p);
    REQUIRE(ev.size() == 1);
    CHECK(ev[0].kind == EventKind::text);
    CHECK(p[0] == "Hello");
    CHECK_FALSE(r.holds_zlib_state());
  }
  SECTION("fragmented compressed message (7.2.3.1)") {
    Reader r(client_with_deflate());
    auto ev = read_all(r, bytes({0x41, 0x03, 0xf2, 0x48, 0xcd, 0x80, 0x04, 0xc9, 0xc9, 0x07, 0x00}), 0, p);
    REQUIRE(ev.size() == 1);
    CHECK(p[0] == "Hello");
  }
  SECTION("stored block (7.2.3.3)") {
    Reader r(client_with_deflate());
    auto ev = read_all(
        r, bytes({0xc1, 0x0b, 0x00, 0x05, 0x00, 0xfa, 0xff, 0x48, 0x65, 0x6c, 0x6c, 0x6f, 0x00}), 0, p);
    REQUIRE(ev.size() == 1);
    CHECK(p[0] == "Hello");
  }
  SECTION("context takeover (7.2.3.2): second message refers to the first") {
    DeflateParams params;  // server keeps its context
    Reader r(client_with_deflate(params));
    auto ev = read_all(r,
                       bytes({0xc1, 0x07, 0xf2, 0x48, 0xcd, 0xc9, 0xc9, 0x07, 0x00}) +
                           bytes({0xc1, 0x05, 0xf2, 0x00, 0x11, 0x00, 0x00}),
                       0, p);
    REQUIRE(ev.size() == 2);
    CHECK(p[0] == "Hello");
    CHECK(p[1] == "Hello");
    CHECK(r.holds_zlib_state());  // the cost of context takeover
  }
  SECTION("without context takeover that second message is refused") {
    DeflateParams params;
    params.server_no_context_takeover = true;
    Reader r(client_with_deflate(params));
    auto ev = read_all(r,
                       bytes({0xc1, 0x07, 0xf2, 0x48, 0xcd, 0xc9, 0xc9, 0x07, 0x00}) +
                           bytes({0xc1, 0x05, 0xf2, 0x00, 0x11, 0x00, 0x00}),
                       0, p);
    REQUIRE(ev.size() == 2);
    CHECK(ev[1].kind == EventKind::error);
  }
}

TEST_CASE("deflate: round trips with every window size and both context modes", "[websocket][deflate]") {
  std::string text;
  for (int i = 0; i < 3000; ++i) text += "event " + std::to_string(i % 97) + " caf\xC3\xA9; ";
  for (int bits = 8; bits <= 15; ++bits) {
    for (bool takeover : {false, true}) {
      INFO("bits " << bits << " takeover " << takeover);
      Deflater d(bits, takeover);
      Inflater inf(bits, takeover);
      for (int round = 0; round < 3; ++round) {
        std::string c = d.compress(text);
        CHECK(c.size() < text.size() / 4);
        std::string out;
        REQUIRE_FALSE(inf.inflate(c.data(), c.size(), out, text.size()));
        REQUIRE_FALSE(inf.finish(out, text.size()));
        CHECK(out == text);
      }
      CHECK(d.holds_state() == takeover);
      CHECK(inf.holds_state() == takeover);
    }
  }
  // Empty message.
  Deflater d;
  std::string c = d.compress("");
  Inflater inf;
  std::string out;
  REQUIRE_FALSE(inf.inflate(c.data(), c.size(), out, 10));
  REQUIRE_FALSE(inf.finish(out, 10));
  CHECK(out.empty());
}

TEST_CASE("deflate: a decompression bomb is stopped while inflating", "[websocket][deflate]") {
  const std::string zeros(64u << 20, '\0');
  Deflater d(15, false, 9);
  const std::string bomb = d.compress(zeros);
  REQUIRE(bomb.size() < 128u << 10);
  const std::size_t limit = 1u << 20;
  Inflater inf;
  std::string out;
  auto ec = inf.inflate(bomb.data(), bomb.size(), out, limit);
  CHECK(ec == herald::error::ws_message_too_big);
  CHECK(out.size() <= limit + 1);  // never more than one byte past the limit

  // Through the Reader, fed in small pieces: 1009.
  std::string wire = encode_message(Opcode::binary, bomb, 4096, true);
  ReaderOptions o = client_with_deflate();
  o.max_message_size = limit;
  Reader r(o);
  std::vector<std::string> p;
  auto ev = read_all(r, wire, 1000, p);
  REQUIRE(ev.size() == 1);
  CHECK(ev[0].kind == EventKind::error);
  CHECK(ev[0].close_code == 1009);
  CHECK_FALSE(r.holds_zlib_state());
}

TEST_CASE("deflate: compressed messages meet the same rules", "[websocket][deflate]") {
  Deflater d;
  std::vector<std::string> p;
  SECTION("invalid UTF-8 after inflation is 1007") {
    Reader r(client_with_deflate());
    auto ev = read_all(r, encode_message(Opcode::text, d.compress("bad \xFF text"), 0, true), 1, p);
    REQUIRE(ev.size() == 1);
    CHECK(ev[0].close_code == 1007);
  }
  SECTION("code point split across compressed fragments") {
    Reader r(client_with_deflate());
    auto ev = read_all(r, encode_message(Opcode::text, d.compress("\xF0\x9F\x98\x80 ok"), 2, true), 1, p);
    REQUIRE(ev.size() == 1);
    CHECK(ev[0].kind == EventKind::text);
    CHECK(p[0] == "\xF0\x9F\x98\x80 ok");
  }
  SECTION("corrupt data is 1007") {
    Reader r(client_with_deflate());
    auto ev = read_all(r, encode_message(Opcode::binary, bytes({0xff, 0xff, 0xff, 0xff}), 0, true), 0, p);
    REQUIRE(ev.size() == 1);
    CHECK(ev[0].error == herald::error::ws_deflate_error);
    CHECK(ev[0].close_code == 1007);
  }
  SECTION("RSV1 on a continuation is 1002") {
    Reader r(client_with_deflate());
    std::string wire;
    encode_frame(wire, Opcode::text, "a", false, true);
    encode_frame(wire, Opcode::continuation, "b", true, true);
    auto ev = read_all(r, wire, 0, p);
    REQUIRE(ev.size() == 1);
    CHECK(ev[0].close_code == 1002);
  }
  SECTION("uncompressed messages still pass when deflate is on") {
    Reader r(client_with_deflate());
    auto ev = read_all(r, encode_message(Opcode::text, "plain"), 0, p);
    REQUIRE(ev.size() == 1);
    CHECK(p[0] == "plain");
  }
}

TEST_CASE("deflate: server negotiation", "[websocket][deflate]") {
  DeflateOptions opts;  // defaults: no context takeover both ways
  SECTION("a browser's offer") {
    auto p = negotiate_deflate("permessage-deflate; client_max_window_bits", opts);
    REQUIRE(p);
    CHECK(p->server_no_context_takeover);
    CHECK(p->client_no_context_takeover);
    CHECK(p->server_max_window_bits == 15);
    CHECK(p->client_max_window_bits == 15);
    CHECK(format_deflate_response(*p) ==
          "permessage-deflate; server_no_context_takeover; client_no_context_takeover");
  }
  SECTION("window bits are honoured, the smaller wins") {
    DeflateOptions o = opts;
    o.client_max_window_bits = 12;
    auto p = negotiate_deflate("permessage-deflate; server_max_window_bits=10; client_max_window_bits", o);
    REQUIRE(p);
    CHECK(p->server_max_window_bits == 10);
    CHECK(p->client_max_window_bits == 12);
    CHECK(format_deflate_response(*p) == "permessage-deflate; server_no_context_takeover; "
                                         "client_no_context_takeover; server_max_window_bits=10; "
                                         "client_max_window_bits=12");
    auto q = negotiate_deflate("permessage-deflate; client_max_window_bits=\"9\"", o);
    REQUIRE(q);
    CHECK(q->client_max_window_bits == 9);
  }
  SECTION("client_max_window_bits not offered: the client may use 15") {
    DeflateOptions o = opts;
    o.client_max_window_bits = 10;
    auto p = negotiate_deflate("permessage-deflate", o);
    REQUIRE(p);
    CHECK(p->client_max_window_bits == 15);
  }
  SECTION("invalid offers are declined, the next one is taken") {
    for (const char* bad : {"permessage-deflate; server_max_window_bits=16",
                            "permessage-deflate; server_max_window_bits=7",
                            "permessage-deflate; server_max_window_bits=010",
                            "permessage-deflate; server_max_window_bits",
                            "permessage-deflate; client_max_window_bits=abc",
                            "permessage-deflate; server_no_context_takeover=1",
                            "permessage-deflate; unknown_param",
                            "permessage-deflate; server_no_context_takeover; server_no_context_takeover",
                            "x-webkit-deflate-frame", "deflate-stream"}) {
      INFO(bad);
      CHECK_FALSE(negotiate_deflate(bad, opts));
      auto p = negotiate_deflate(std::string(bad) + ", permessage-deflate; server_max_window_bits=11", opts);
      REQUIRE(p);
      CHECK(p->server_max_window_bits == 11);
    }
  }
  SECTION("disabled") {
    DeflateOptions o = opts;
    o.enabled = false;
    CHECK_FALSE(negotiate_deflate("permessage-deflate", o));
  }
  SECTION("context takeover on request of the options") {
    DeflateOptions o = opts;
    o.server_no_context_takeover = false;
    o.client_no_context_takeover = false;
    auto p = negotiate_deflate("permessage-deflate", o);
    REQUIRE(p);
    CHECK_FALSE(p->server_no_context_takeover);
    CHECK(format_deflate_response(*p) == "permessage-deflate");
    auto q = negotiate_deflate("permessage-deflate;server_no_context_takeover", o);
    REQUIRE(q);
    CHECK(q->server_no_context_takeover);
  }
}

TEST_CASE("deflate: client offer and response", "[websocket][deflate]") {
  DeflateOptions o;
  CHECK(format_deflate_offer(o) ==
        "permessage-deflate; client_max_window_bits; server_no_context_takeover; client_no_context_takeover");
  auto p = parse_deflate_response("permessage-deflate; server_no_context_takeover; client_max_window_bits=10", o);
  REQUIRE(p);
  CHECK(p->client_max_window_bits == 10);
  CHECK(p->client_no_context_takeover);
  CHECK_FALSE(parse_deflate_response("permessage-deflate", o));  // dropped server_no_context_takeover
  CHECK_FALSE(parse_deflate_response("permessage-deflate; server_no_context_takeover; client_max_window_bits", o));
  CHECK_FALSE(parse_deflate_response("permessage-deflate; server_no_context_takeover; bogus", o));
  CHECK_FALSE(parse_deflate_response("permessage-deflate; server_no_context_takeover, permessage-deflate", o));
  DeflateOptions small = o;
  small.server_max_window_bits = 10;
  CHECK(format_deflate_offer(small).find("server_max_window_bits=10") != std::string::npos);
  CHECK_FALSE(parse_deflate_response("permessage-deflate; server_no_context_takeover; server_max_window_bits=12",
                                     small));
  CHECK(parse_deflate_response("permessage-deflate; server_no_context_takeover; server_max_window_bits=9", small));
}
