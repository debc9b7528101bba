#include <herald/core/topic.hpp>

#include <catch2/catch.hpp>

#include <string>

TEST_CASE("topic: names of 1..128 of A-Za-z0-9_.-", "[topic]") {
  using herald::valid_topic;
  CHECK(valid_topic("a"));
  CHECK(valid_topic("chat.room-1_EU"));
  CHECK(valid_topic("..."));
  CHECK(valid_topic(std::string(128, 'x')));
  CHECK_FALSE(valid_topic(std::string(129, 'x')));
  CHECK_FALSE(valid_topic(""));
  for (const char* bad : {"a b", "a/b", "a?b", "a%20", "caf\xC3\xA9", "a*", "a\n", "a:b", "a+b", "~"}) {
    INFO(bad);
    CHECK_FALSE(valid_topic(bad));
  }
  CHECK_FALSE(valid_topic(std::string_view("a\0b", 3)));
  int ok = 0;
  for (int c = 0; c < 256; ++c) ok += herald::is_topic_char(static_cast<char>(c));
  CHECK(ok == 26 + 26 + 10 + 3);
}
