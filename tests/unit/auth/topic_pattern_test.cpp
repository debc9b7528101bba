#include <herald/auth/topic_pattern.hpp>

#include <catch2/catch.hpp>

#include <chrono>
#include <string>

using herald::auth::Action;
using herald::auth::Permissions;
using herald::auth::is_valid_pattern;
using herald::auth::is_valid_topic;
using herald::auth::pattern_matches;

namespace {

/// Reference matcher: plain recursion, exponential in the worst case but
/// obviously right; used on short inputs to check the linear one.
bool reference(std::string_view p, std::string_view t) {
  if (p.empty()) return t.empty();
  if (p.front() == '*') {
    for (std::size_t i = 0; i <= t.size(); ++i)
      if (reference(p.substr(1), t.substr(i))) return true;
    return false;
  }
  return !t.empty() && p.front() == t.front() && reference(p.substr(1), t.substr(1));
}

}  // namespace

TEST_CASE("pattern: literals and single stars", "[auth][pattern]") {
  CHECK(pattern_matches("chat", "chat"));
  CHECK_FALSE(pattern_matches("chat", "chat2"));
  CHECK_FALSE(pattern_matches("chat", "cha"));
  CHECK_FALSE(pattern_matches("Chat", "chat"));  // topics are case-sensitive
  CHECK(pattern_matches("*", "anything.at-all_1"));
  CHECK(pattern_matches("*", "x"));
  CHECK(pattern_matches("chat.*", "chat.room1"));
  CHECK(pattern_matches("chat.*", "chat."));  // the empty run
  CHECK_FALSE(pattern_matches("chat.*", "chat"));
  CHECK_FALSE(pattern_matches("chat.*", "chatroom"));
  CHECK_FALSE(pattern_matches("chat.*", "xchat.room"));
  CHECK(pattern_matches("*.log", "app.log"));
  CHECK(pattern_matches("*.log", ".log"));
  CHECK_FALSE(pattern_matches("*.log", "app.log2"));
  CHECK(pattern_matches("user-*-inbox", "user-42-inbox"));
  CHECK(pattern_matches("user-*-inbox", "user--inbox"));
  CHECK_FALSE(pattern_matches("user-*-inbox", "user-inbox"));
}

TEST_CASE("pattern: several stars", "[auth][pattern]") {
  CHECK(pattern_matches("a*b*c", "abc"));
  CHECK(pattern_matches("a*b*c", "a.x.b.y.c"));
  CHECK(pattern_matches("a*b*c", "abbbc"));
  CHECK(pattern_matches("a*b*c", "acbc"));
  CHECK_FALSE(pattern_matches("a*b*c", "acb"));
  CHECK_FALSE(pattern_matches("a*b*c", "ac"));
  CHECK(pattern_matches("**", "x"));
  CHECK(pattern_matches("a**b", "ab"));
  CHECK(pattern_matches("*a*", "bab"));
  CHECK_FALSE(pattern_matches("*a*", "bbb"));
  CHECK(pattern_matches("*aa*aa*", "aaaa"));
  CHECK_FALSE(pattern_matches("*aa*aa*", "aaa"));
  CHECK_FALSE(pattern_matches("a*a", "a"));  // head and tail may not overlap
  CHECK(pattern_matches("a*a", "aa"));
  CHECK(pattern_matches("ab*ba", "abba"));
  CHECK_FALSE(pattern_matches("ab*ba", "aba"));
  CHECK(pattern_matches("*ab*ab", "abab"));
  CHECK(pattern_matches("*ab*ab", "xabyabzab"));
}

TEST_CASE("pattern: agrees with a reference matcher", "[auth][pattern]") {
  // Every pattern over {a, b, *} up to length 5 against every topic over
  // {a, b} up to length 6: small alphabets make the tricky overlaps common.
  std::vector<std::string> patterns{""}, topics{""};
  for (std::size_t len = 1, start = 0; len <= 6; ++len) {
    const std::size_t end = topics.size();
    for (std::size_t i = start; i < end; ++i)
      for (char c : {'a', 'b'}) topics.push_back(topics[i] + c);
    start = end;
  }
  for (std::size_t len = 1, start = 0; len <= 5; ++len) {
    const std::size_t end = patterns.size();
    for (std::size_t i = start; i < end; ++i)
      for (char c : {'a', 'b', '*'}) patterns.push_back(patterns[i] + c);
    start = end;
  }
  std::size_t mismatches = 0;
  for (const auto& p : patterns)
    for (const auto& t : topics)
      if (!p.empty() && pattern_matches(p, t) != reference(p, t)) {
        if (++mismatches < 5) FAIL_CHECK("pattern " << p << " topic " << t);
      }
  CHECK(mismatches == 0);
}

TEST_CASE("pattern: malformed patterns and foreign characters never match", "[auth][pattern]") {
  CHECK_FALSE(is_valid_pattern(""));
  CHECK_FALSE(is_valid_pattern("chat/*"));
  CHECK_FALSE(is_valid_pattern("chat?"));
  CHECK(is_valid_pattern("*"));
  CHECK(is_valid_pattern("a-b_c.D9*"));
  CHECK_FALSE(pattern_matches("", ""));
  CHECK_FALSE(pattern_matches("chat/*", "chat/x"));
  CHECK_FALSE(pattern_matches("*", "a/b"));     // * covers topic characters only
  CHECK_FALSE(pattern_matches("*", "a b"));
  CHECK_FALSE(pattern_matches("a*", "a\n"));
  CHECK_FALSE(pattern_matches("a*", std::string_view("a\0", 2)));
}

TEST_CASE("pattern: no blow-up on hostile inputs", "[auth][pattern]") {
  // Classic worst cases for backtracking matchers: many stars, a topic that
  // almost matches. Exponential or quadratic matchers take far more than a
  // second here; a linear one takes microseconds.
  std::string pattern;
  for (int i = 0; i < 2000; ++i) pattern += "*a";
  pattern += "*b";
  const std::string topic(200000, 'a');
  const std::string long_seg = std::string(5000, 'a') + "b";
  const auto start = std::chrono::steady_clock::now();
  CHECK_FALSE(pattern_matches(pattern, topic));
  CHECK_FALSE(pattern_matches("*" + long_seg + "*", topic));
  CHECK(pattern_matches("*" + long_seg + "*", topic + "b"));
  CHECK(pattern_matches(pattern, topic + "b"));
  const auto elapsed = std::chrono::steady_clock::now() - start;
  CHECK(elapsed < std::chrono::seconds(1));
}

TEST_CASE("topic names", "[auth][pattern]") {
  CHECK(is_valid_topic("a"));
  CHECK(is_valid_topic(std::string(128, 'x')));
  CHECK_FALSE(is_valid_topic(std::string(129, 'x')));
  CHECK_FALSE(is_valid_topic(""));
  CHECK_FALSE(is_valid_topic("a*"));
  CHECK_FALSE(is_valid_topic("a/b"));
}

TEST_CASE("permissions", "[auth][pattern]") {
  const Permissions p{.subscribe = {"chat.*", "news"}, .publish = {"chat.room1"}};
  CHECK(p.allows(Action::subscribe, "chat.room1"));
  CHECK(p.allows(Action::subscribe, "news"));
  CHECK_FALSE(p.allows(Action::subscribe, "news.sports"));
  CHECK(p.allows(Action::publish, "chat.room1"));
  CHECK_FALSE(p.allows(Action::publish, "chat.room2"));
  CHECK_FALSE(p.allows(Action::publish, "news"));
  CHECK_FALSE(p.allows(Action::subscribe, "chat." + std::string(124, 'x')));  // 129 characters
  CHECK(p.allows(Action::subscribe, "chat." + std::string(123, 'x')));        // 128
  CHECK_FALSE(p.allows(Action::subscribe, "chat.a*"));  // a pattern is not a topic
  const Permissions none{};
  CHECK_FALSE(none.allows(Action::subscribe, "x"));
  CHECK_FALSE(none.allows(Action::publish, "x"));
  const Permissions all{.subscribe = {"*"}, .publish = {"*"}};
  CHECK(all.allows(Action::publish, "x"));
  CHECK_FALSE(all.allows(Action::publish, ""));
}
