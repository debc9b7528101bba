#include <herald/sse/encoder.hpp>

#include <herald/sse/parser.hpp>

#include <catch2/catch.hpp>

#include <string>
#include <vector>

using namespace herald::sse;

namespace {
std::string encode(const EventFields& f) {
  std::string out;
  auto ec = append_event(out, f);
  REQUIRE_FALSE(ec);
  CHECK(out.size() == encoded_size(f));
  return out;
}
std::vector<Event> parse_all(std::string_view bytes) {
  std::vector<Event> events;
  Parser p;
  REQUIRE_FALSE(p.feed(bytes, [&](const Event& e) { events.push_back(e); }));
  return events;
}
}  // namespace

TEST_CASE("sse encoder: fields and single-line data", "[sse]") {
  CHECK(encode({.data = "hello"}) == "data: hello\n\n");
  CHECK(encode({.data = "hello", .id = "42"}) == "id: 42\ndata: hello\n\n");
  CHECK(encode({.data = "x", .id = "1", .event = "tick", .retry_ms = 3000}) ==
        "id: 1\nevent: tick\nretry: 3000\ndata: x\n\n");
  CHECK(encode({.data = "x", .id = ""}) == "id: \ndata: x\n\n");  // resets Last-Event-ID
  CHECK(encode({.data = " lead"}) == "data:  lead\n\n");          // one space is eaten, the other kept
  CHECK(encode({.data = "a:b"}) == "data: a:b\n\n");
}

TEST_CASE("sse encoder: data split on LF, CR and CRLF", "[sse]") {
  CHECK(encode({.data = "a\nb"}) == "data: a\ndata: b\n\n");
  CHECK(encode({.data = "a\rb"}) == "data: a\ndata: b\n\n");
  CHECK(encode({.data = "a\r\nb"}) == "data: a\ndata: b\n\n");
  CHECK(encode({.data = "a\n\rb"}) == "data: a\ndata:\ndata: b\n\n");  // LF then CR: two breaks
  CHECK(encode({.data = "a\r\rb"}) == "data: a\ndata:\ndata: b\n\n");
  CHECK(encode({.data = "a\n"}) == "data: a\ndata:\n\n");
  CHECK(encode({.data = "\n"}) == "data:\ndata:\n\n");
  CHECK(encode({.data = "a\r"}) == "data: a\ndata:\n\n");
  CHECK(encode({.data = "a\r\n"}) == "data: a\ndata:\n\n");
  CHECK(encode({.data = "\r\n\r\n"}) == "data:\ndata:\ndata:\n\n");
}

TEST_CASE("sse encoder: empty data is one empty data line, dispatched with data \"\"", "[sse]") {
  CHECK(encode({.data = ""}) == "data:\n\n");
  auto ev = parse_all(encode({.data = "", .id = "3"}));
  REQUIRE(ev.size() == 1);
  CHECK(ev[0].data.empty());
  CHECK(ev[0].last_event_id == "3");
}

TEST_CASE("sse encoder: non-ASCII, NUL and DEL in data pass through", "[sse]") {
  std::string data = "caf\xC3\xA9 \xF0\x9F\x98\x80 \x7f";
  data.push_back('\0');
  data += "end";
  std::string out = encode({.data = data});
  CHECK(out == "data: " + data + "\n\n");
  auto ev = parse_all(out);
  REQUIRE(ev.size() == 1);
  CHECK(ev[0].data == data);
}

TEST_CASE("sse encoder: id or event with CR, LF or NUL is refused and nothing appended", "[sse]") {
  const std::string bad[] = {"a\nb", "a\rb", std::string("a\0b", 3), "\n", "x\r\n"};
  for (const auto& b : bad) {
    std::string out = "keep";
    CHECK(append_event(out, {.data = "d", .id = b}) == herald::error::sse_invalid_field);
    CHECK(append_event(out, {.data = "d", .event = b}) == herald::error::sse_invalid_field);
    CHECK(encode_frame(out, {.data = "d", .id = b}, Framing::chunked) == herald::error::sse_invalid_field);
    CHECK(out == "keep");
  }
  std::string out;
  CHECK(append_event(out, {.data = "d\n", .id = "ok", .event = "ok"}).value() == 0);  // data may hold breaks
}

TEST_CASE("sse encoder: numeric-id fast path matches the general form", "[sse]") {
  for (std::uint64_t id : {0ULL, 1ULL, 9ULL, 10ULL, 18446744073709551615ULL}) {
    for (std::string_view d : {"", "x", "a\nb\r\nc\r", "\n\n"}) {
      std::string a, b;
      append_event(a, id, d);
      std::string ids = std::to_string(id);
      REQUIRE_FALSE(append_event(b, {.data = d, .id = ids}));
      CHECK(a == b);
      CHECK(a.size() == encoded_size(id, d));
    }
  }
}

TEST_CASE("sse encoder: comments, retry, reset", "[sse]") {
  std::string out;
  append_comment(out, "");
  append_comment(out, "hi");
  append_comment(out, "a\r\nb");
  CHECK(out == ":\n: hi\n: a\n: b\n");
  out.clear();
  append_retry(out, 2500);
  CHECK(out == "retry: 2500\n");
  out.clear();
  append_reset(out, 17);
  CHECK(out == "event: reset\nid: 17\ndata: {\"next\":17}\n\n");
  Parser p;
  std::vector<Event> ev;
  REQUIRE_FALSE(p.feed(std::string(heartbeat_comment) + out, [&](const Event& e) { ev.push_back(e); }));
  REQUIRE(ev.size() == 1);
  CHECK(ev[0].type == "reset");
  CHECK(ev[0].data == "{\"next\":17}");
  CHECK(p.last_event_id() == "17");
  CHECK(p.comments() == 1);
}

TEST_CASE("sse encoder: HTTP/1.1 chunk and frames", "[sse]") {
  std::string out;
  append_chunk(out, "hello");
  CHECK(out == "5\r\nhello\r\n");
  append_chunk(out, "");  // would be the last-chunk: refused silently
  CHECK(out == "5\r\nhello\r\n");
  out.clear();
  append_chunk(out, std::string(26, 'x'));
  CHECK(out.substr(0, 4) == "1a\r\n");
  CHECK(chunk_size(26) == out.size());
  CHECK(chunk_size(0) == 0);
  CHECK(last_chunk == "0\r\n\r\n");

  std::string ev;
  append_event(ev, 7, "a\nb");
  std::string raw = encode_frame(7, "a\nb", Framing::close_delimited);
  CHECK(raw == ev);
  std::string chunked = encode_frame(7, "a\nb", Framing::chunked);
  std::string expect;
  append_chunk(expect, ev);
  CHECK(chunked == expect);
  CHECK(chunked.capacity() >= chunked.size());

  std::string general = "pre";
  REQUIRE_FALSE(encode_frame(general, {.data = "a\nb", .id = "7"}, Framing::chunked));
  CHECK(general == "pre" + expect);
  std::string g2;
  REQUIRE_FALSE(encode_frame(g2, {.data = "a\nb", .id = "7"}, Framing::close_delimited));
  CHECK(g2 == ev);
}

TEST_CASE("sse encoder: long payload of CRs stays linear and exact", "[sse]") {
  std::string data(200000, '\r');
  data += "\n";
  std::string out;
  append_event(out, 1, data);
  CHECK(out.size() == encoded_size(1, data));
  auto ev = parse_all(out);
  REQUIRE(ev.size() == 1);
  CHECK(ev[0].data == std::string(200000, '\n'));  // CR comes back as LF; final CRLF one break
}
