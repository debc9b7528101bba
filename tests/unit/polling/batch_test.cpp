#include <herald/polling/batch.hpp>

#include <herald/core/json.hpp>

#include <catch2/catch.hpp>

#include <list>
#include <memory>
#include <string>
#include <vector>

using namespace herald::polling;

TEST_CASE("polling: event fragment", "[polling]") {
  CHECK(event_json(1, "a") == R"({"id":1,"data":"a"})");
  CHECK(event_json(18446744073709551615ULL, "") == R"({"id":18446744073709551615,"data":""})");
  CHECK(event_json(7, "q\"b\\\n\x01\xC3\xA9") == "{\"id\":7,\"data\":\"q\\\"b\\\\\\n\\u0001\xC3\xA9\"}");
  for (std::string_view d : {"", "x", "\"\"", "\n\t\x1f", "\xF0\x9F\x98\x80"}) {
    std::string out = "pre";
    append_event_json(out, 42, d);
    CHECK(out.size() == 3 + event_json_size(42, d));
    auto v = herald::json::parse(std::string_view(out).substr(3));
    REQUIRE(v);
    CHECK(v->find("id")->as_int64() == 42);
    CHECK(*v->find("data")->as_string() == d);
  }
}

TEST_CASE("polling: body from fragments", "[polling]") {
  std::vector<std::string> frags = {event_json(1, "a"), event_json(2, "b\nc")};
  CHECK(build_body(frags, 2, false) == R"({"events":[{"id":1,"data":"a"},{"id":2,"data":"b\nc"}],"next":2,"reset":false})");
  CHECK(build_body(std::vector<std::string>{}, 5, false) == R"({"events":[],"next":5,"reset":false})");
  CHECK(build_body(std::vector<std::string>{event_json(9, "x")}, 9, true) ==
        R"({"events":[{"id":9,"data":"x"}],"next":9,"reset":true})");
  // A projection: shared, cached fragments as the frame cache holds them.
  std::list<std::shared_ptr<const std::string>> shared = {std::make_shared<const std::string>(event_json(3, "s"))};
  std::string out = "HTTP...";
  build_body(out, shared, 3, false, [](const auto& p) -> const std::string& { return *p; });
  CHECK(out == R"(HTTP...{"events":[{"id":3,"data":"s"}],"next":3,"reset":false})");
  // The body parses as the contract says.
  auto v = herald::json::parse(build_body(frags, 2, false));
  REQUIRE(v);
  REQUIRE(v->find("events")->as_array()->size() == 2);
  CHECK(*(*v->find("events")->as_array())[1].find("data")->as_string() == "b\nc");
  CHECK(v->find("next")->as_int64() == 2);
  CHECK(v->find("reset")->as_bool() == false);
  // Single allocation for a forward range: reserved size covers the body.
  std::string one;
  build_body(one, frags, 2, false);
  CHECK(one.capacity() < one.size() + 16);
}

TEST_CASE("polling: ETag and If-None-Match", "[polling]") {
  auto e = etag(1, 0, 10, 100, false);
  CHECK(e == "W/\"1.0.a.64.0\"");
  CHECK(etag(1, 0, 10, 100, true) != e);
  CHECK(etag(2, 0, 10, 100, false) != e);
  CHECK(etag(1, 1, 10, 100, false) != e);
  CHECK(etag(1, 0, 11, 100, false) != e);
  CHECK(etag(1, 0, 10, 99, false) != e);
  CHECK(etag(1, 0, 10, 100, false) == e);
  CHECK(if_none_match(e, e));
  CHECK(if_none_match("\"1.0.a.64.0\"", e));  // weak comparison
  CHECK(if_none_match("\"x\", W/\"1.0.a.64.0\" ", e));
  CHECK(if_none_match("*", e));
  CHECK_FALSE(if_none_match("", e));
  CHECK_FALSE(if_none_match("W/\"1.0.a.64.1\"", e));
  CHECK_FALSE(if_none_match("\"1.0.a.64.0", e));
}

TEST_CASE("polling: query parameters", "[polling]") {
  Query q;
  REQUIRE_FALSE(parse_query("/poll/t?after=5", q));
  CHECK(q.after == 5);
  CHECK(q.limit == 100);
  CHECK(q.timeout_ms == 30000);
  REQUIRE_FALSE(parse_query("/poll/t?limit=1000&after=18446744073709551615&timeout_ms=0", q));
  CHECK(q.after == 18446744073709551615ULL);
  CHECK(q.limit == 1000);
  CHECK(q.timeout_ms == 0);
  REQUIRE_FALSE(parse_query("after=0&timeout_ms=999999999", q));
  CHECK(q.timeout_ms == 60000);  // clamped, not refused
  REQUIRE_FALSE(parse_query("after=0&timeout_ms=70000", q, {.max_timeout_ms = 120000}));
  CHECK(q.timeout_ms == 70000);
  REQUIRE_FALSE(parse_query("after=%31%32", q));  // percent-encoded digits
  CHECK(q.after == 12);

  Query untouched{.after = 77, .limit = 7, .timeout_ms = 7};
  const char* bad[] = {"/poll/t",          "/poll/t?",          "/poll/t?after=",     "/poll/t?after=-1",
                       "/poll/t?after=+1", "/poll/t?after=1.0", "/poll/t?after=0x10", "/poll/t?after= 1",
                       "/poll/t?after=18446744073709551616",    "/poll/t?after=99999999999999999999999",
                       "/poll/t?after=1&limit=0",               "/poll/t?after=1&limit=1001",
                       "/poll/t?after=1&limit=-5",              "/poll/t?after=1&limit=",
                       "/poll/t?after=1&limit=abc",             "/poll/t?after=1&timeout_ms=-1",
                       "/poll/t?after=1&timeout_ms=1e3",        "/poll/t?after=1&timeout_ms=99999999999999999999",
                       "/poll/t?after=%2B1",                    "/poll/t?after=%zz",
                       "/poll/t?after"};
  for (const char* b : bad) {
    INFO(b);
    CHECK(parse_query(b, untouched) == herald::error::bad_request);
    CHECK(untouched.after == 77);
  }
}
