#include <herald/webhook/delivery.hpp>

#include <catch2/catch.hpp>

#include <cctype>
#include <set>
#include <string>

using namespace herald::webhook;
using std::chrono::system_clock;

namespace {
system_clock::time_point at_ms(std::int64_t ms) { return system_clock::time_point(std::chrono::milliseconds(ms)); }
}  // namespace

TEST_CASE("delivery: body per CONTRACT.md", "[webhook][delivery]") {
  const auto t = at_ms(1700000000123);  // 2023-11-14T22:13:20.123Z
  CHECK(delivery_body("t", 7, "hello", t) ==
        R"({"type":"herald.event","timestamp":"2023-11-14T22:13:20.123Z","data":{"topic":"t","id":7,"payload":"hello"}})");
  // Event data is a JSON string, escaped; UTF-8 passes through.
  CHECK(delivery_body("chat.room-1", 18446744073709551615ull, "a\"b\\c\nd\x01 é", at_ms(0)) ==
        "{\"type\":\"herald.event\",\"timestamp\":\"1970-01-01T00:00:00.000Z\",\"data\":{\"topic\":\"chat.room-1\","
        "\"id\":18446744073709551615,\"payload\":\"a\\\"b\\\\c\\nd\\u0001 é\"}}");
  std::string out = "prefix:";
  append_delivery_body(out, "t", 1, "", at_ms(951782400000));  // 2000-02-29
  CHECK(out == R"(prefix:{"type":"herald.event","timestamp":"2000-02-29T00:00:00.000Z","data":{"topic":"t","id":1,"payload":""}})");
}

TEST_CASE("delivery: message ids are stable and distinct", "[webhook][delivery]") {
  const std::string a = message_id("ep_1", "orders", 42);
  CHECK(a == message_id("ep_1", "orders", 42));
  CHECK(a.size() == 4 + 24);
  CHECK(a.starts_with("msg_"));
  for (const char c : a.substr(4)) CHECK((std::isalnum(static_cast<unsigned char>(c)) || c == '-' || c == '_'));
  // Each field matters, and moving bytes between fields changes the id.
  CHECK(a != message_id("ep_2", "orders", 42));
  CHECK(a != message_id("ep_1", "orderz", 42));
  CHECK(a != message_id("ep_1", "orders", 43));
  CHECK(message_id("ep_1o", "rders", 42) != a);
  CHECK(message_id("", "", 0) != message_id("", "", 1));
  std::set<std::string> seen;
  for (int ep = 0; ep < 10; ++ep)
    for (std::uint64_t id = 1; id <= 500; ++id) seen.insert(message_id("ep" + std::to_string(ep), "t", id));
  CHECK(seen.size() == 5000);
}
