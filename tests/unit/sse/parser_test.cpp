#include <herald/sse/parser.hpp>

#include <herald/sse/encoder.hpp>

#include <catch2/catch.hpp>

#include <random>
#include <string>
#include <vector>

using namespace herald::sse;

namespace {
struct Collected {
  std::vector<Event> events;
  Parser parser;
  void feed(std::string_view s) {
    REQUIRE_FALSE(parser.feed(s, [&](const Event& e) { events.push_back(e); }));
  }
};
std::vector<Event> parse_all(std::string_view s) {
  Collected c;
  c.feed(s);
  return c.events;
}
bool same(const std::vector<Event>& a, const std::vector<Event>& b) {
  if (a.size() != b.size()) return false;
  for (std::size_t i = 0; i < a.size(); ++i)
    if (a[i].type != b[i].type || a[i].data != b[i].data || a[i].last_event_id != b[i].last_event_id) return false;
  return true;
}
}  // namespace

TEST_CASE("sse parser: WHATWG examples", "[sse]") {
  // The spec's first example stream.
  auto ev = parse_all(": test stream\n\ndata: first event\nid: 1\n\ndata:second event\nid\n\ndata:  third event\n\n");
  REQUIRE(ev.size() == 3);
  CHECK(ev[0].data == "first event");
  CHECK(ev[0].last_event_id == "1");
  CHECK(ev[1].data == "second event");
  CHECK(ev[1].last_event_id == "");  // "id" with no colon resets it
  CHECK(ev[2].data == " third event");  // only one space removed
  // The spec's second example: the last block has no blank line: not dispatched.
  ev = parse_all("data\n\ndata\ndata\n\ndata:");
  REQUIRE(ev.size() == 2);
  CHECK(ev[0].data == "");
  CHECK(ev[1].data == "\n");
  // Third example: both give "test".
  ev = parse_all("data:test\n\ndata: test\n\n");
  REQUIRE(ev.size() == 2);
  CHECK(ev[0].data == "test");
  CHECK(ev[1].data == "test");
}

TEST_CASE("sse parser: fields", "[sse]") {
  auto ev = parse_all("event: add\ndata: 73857293\n\nevent: remove\ndata: 2153\n\ndata: x\n\n");
  REQUIRE(ev.size() == 3);
  CHECK(ev[0].type == "add");
  CHECK(ev[1].type == "remove");
  CHECK(ev[2].type == "message");  // event type does not persist
  ev = parse_all("event:\ndata: y\n\n");
  REQUIRE(ev.size() == 1);
  CHECK(ev[0].type == "message");
  // Unknown fields, "data" without colon, field names are case-sensitive.
  ev = parse_all("foo: bar\nData: no\nDATA: no\ndata\n\n");
  REQUIRE(ev.size() == 1);
  CHECK(ev[0].data == "");
  // Value keeps colons after the first.
  ev = parse_all("data: a: b :c\n\n");
  CHECK(ev.at(0).data == "a: b :c");
  // A field name with a trailing space is another field.
  ev = parse_all("data : x\ndata: y\n\n");
  CHECK(ev.at(0).data == "y");
}

TEST_CASE("sse parser: id persists, NUL id ignored, id-only block updates it", "[sse]") {
  Collected c;
  c.feed("id: 5\ndata: a\n\ndata: b\n\n");
  REQUIRE(c.events.size() == 2);
  CHECK(c.events[1].last_event_id == "5");  // persists
  c.feed(std::string("id: 6\0x\ndata: c\n\n", 17));
  REQUIRE(c.events.size() == 3);
  CHECK(c.events[2].last_event_id == "5");  // NUL id ignored
  c.feed("id: 9\n\n");                        // no data: no event, id still moves
  CHECK(c.events.size() == 3);
  CHECK(c.parser.last_event_id() == "9");
  c.feed("id: 10\ndata: z\n");  // not yet dispatched: id applies at dispatch only
  CHECK(c.parser.last_event_id() == "9");
  c.feed("\n");
  CHECK(c.parser.last_event_id() == "10");
  c.feed("id\n\n");
  CHECK(c.parser.last_event_id() == "");
}

TEST_CASE("sse parser: retry digits only", "[sse]") {
  Parser p;
  auto none = [](const Event&) {};
  CHECK_FALSE(p.retry_ms());
  REQUIRE_FALSE(p.feed("retry: 3000\n", none));
  CHECK(p.retry_ms() == 3000u);
  for (const char* bad : {"retry: 12a\n", "retry: -1\n", "retry: +5\n", "retry: 1.5\n", "retry:\n", "retry\n",
                          "retry:  10\n"}) {
    REQUIRE_FALSE(p.feed(bad, none));
    CHECK(p.retry_ms() == 3000u);
  }
  REQUIRE_FALSE(p.feed("retry:0\n", none));
  CHECK(p.retry_ms() == 0u);
  REQUIRE_FALSE(p.feed("retry: 99999999999999999999999\n", none));
  CHECK(p.retry_ms() == UINT64_MAX);  // saturates
}

TEST_CASE("sse parser: line endings CR, LF, CRLF, mixed", "[sse]") {
  for (const char* s : {"data: a\ndata: b\n\n", "data: a\rdata: b\r\r", "data: a\r\ndata: b\r\n\r\n",
                        "data: a\rdata: b\n\r\n"}) {
    auto ev = parse_all(s);
    REQUIRE(ev.size() == 1);
    CHECK(ev[0].data == "a\nb");
  }
  // LF CR is two line ends: the CR ends an empty line, which dispatches.
  auto ev = parse_all("data: a\n\rdata: b\n\n");
  REQUIRE(ev.size() == 2);
}

TEST_CASE("sse parser: CR at the end of one feed and LF at the start of the next count once", "[sse]") {
  Collected c;
  c.feed("data: a\r");
  c.feed("\ndata: b\r");
  c.feed("\n\r");
  c.feed("\n");
  REQUIRE(c.events.size() == 1);
  CHECK(c.events[0].data == "a\nb");
  c.feed("data: c\r");
  c.feed("\r");  // CR then CR: a blank line, dispatch
  REQUIRE(c.events.size() == 2);
  CHECK(c.events[1].data == "c");
}

TEST_CASE("sse parser: BOM skipped once, at the start only, even split", "[sse]") {
  auto ev = parse_all("\xEF\xBB\xBF" "data: a\n\n");
  REQUIRE(ev.size() == 1);
  CHECK(ev[0].data == "a");
  // A second BOM is part of the first line: field "\xEF\xBB\xBFdata" is unknown.
  ev = parse_all("\xEF\xBB\xBF\xEF\xBB\xBF" "data: a\n\ndata: b\n\n");
  REQUIRE(ev.size() == 1);
  CHECK(ev[0].data == "b");
  Collected c;
  c.feed("\xEF");
  c.feed("\xBB");
  c.feed("\xBF" "da");
  c.feed("ta: x\n\n");
  REQUIRE(c.events.size() == 1);
  CHECK(c.events[0].data == "x");
  // A partial BOM that is not one is content.
  ev = parse_all("\xEF\xBB" "data: y\n\ndata: z\n\n");
  REQUIRE(ev.size() == 1);
  CHECK(ev[0].data == "z");
  // restart() allows a BOM again and keeps the last event id.
  c.feed("id: 4\ndata: partial");
  c.parser.restart();
  c.feed("\xEF\xBB\xBF" "data: w\n\n");
  REQUIRE(c.events.size() == 2);
  CHECK(c.events[1].data == "w");
  CHECK(c.events[1].last_event_id == "");  // id 4 was never dispatched
}

TEST_CASE("sse parser: split at every byte gives the same events", "[sse]") {
  std::string stream = "\xEF\xBB\xBF: hi\r\nid: 1\revent: e\ndata: caf\xC3\xA9\r\ndata:\r\rretry: 10\n"
                       "data: x\r\n\r\nid: 2\n\ndata: \xF0\x9F\x98\x80\r\r\ndata: tail";
  auto whole = parse_all(stream);
  REQUIRE(whole.size() == 3);
  CHECK(whole[0].data == "caf\xC3\xA9\n");
  CHECK(whole[0].type == "e");
  for (std::size_t i = 0; i <= stream.size(); ++i) {
    for (std::size_t j = i; j <= stream.size(); ++j) {
      Collected c;
      c.feed(std::string_view(stream).substr(0, i));
      c.feed(std::string_view(stream).substr(i, j - i));
      c.feed(std::string_view(stream).substr(j));
      INFO("split at " << i << ", " << j);
      REQUIRE(same(c.events, whole));
      CHECK(c.parser.retry_ms() == 10u);
    }
  }
  Collected bytewise;
  for (char ch : stream) bytewise.feed(std::string_view(&ch, 1));
  CHECK(same(bytewise.events, whole));
}

TEST_CASE("sse parser: buffer limit", "[sse]") {
  Parser p(64);
  auto none = [](const Event&) {};
  CHECK_FALSE(p.feed("data: short\n\n", none));
  CHECK(p.feed(std::string(100, 'x'), none) == herald::error::body_too_large);
  Parser q(64);
  CHECK(q.feed(std::string(40, '\n') + std::string(10, 'd'), none).value() == 0);
  std::string many;
  for (int i = 0; i < 20; ++i) many += "data: 12345\n";
  CHECK(q.feed(many, none) == herald::error::body_too_large);
}

TEST_CASE("sse round trip: encode random data, parse it back (property)", "[sse]") {
  std::mt19937_64 rng(7);
  const std::string_view pieces[] = {"a", " ", ":", "\n", "\r", "\r\n", "\xC3\xA9", "data: ", "id:", "\xEF\xBB\xBF",
                                     std::string_view("\0", 1), "\x7f", "event"};
  for (int iter = 0; iter < 2000; ++iter) {
    std::string stream;
    std::vector<std::string> expected;
    int n_events = 1 + static_cast<int>(rng() % 4);
    for (int e = 0; e < n_events; ++e) {
      std::string data;
      int n = static_cast<int>(rng() % 12);
      for (int i = 0; i < n; ++i) data += pieces[rng() % std::size(pieces)];
      if (rng() % 3 == 0) append_comment(stream, data);  // comments never surface
      append_event(stream, static_cast<std::uint64_t>(iter * 10 + e), data);
      // The format carries lines: CRLF and CR come back as LF.
      std::string norm;
      for (std::size_t i = 0; i < data.size(); ++i) {
        if (data[i] == '\r') {
          norm += '\n';
          if (i + 1 < data.size() && data[i + 1] == '\n') ++i;
        } else {
          norm += data[i];
        }
      }
      expected.push_back(norm);
    }
    // Feed in random splits.
    Collected c;
    std::size_t pos = 0;
    while (pos < stream.size()) {
      std::size_t len = 1 + rng() % 9;
      c.feed(std::string_view(stream).substr(pos, len));
      pos += len;
    }
    REQUIRE(c.events.size() == expected.size());
    for (std::size_t i = 0; i < expected.size(); ++i) {
      CHECK(c.events[i].data == expected[i]);
      CHECK(c.events[i].last_event_id == std::to_string(iter * 10 + static_cast<int>(i)));
      CHECK(c.events[i].type == "message");
    }
  }
}
