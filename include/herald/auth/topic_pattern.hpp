// herald: topic patterns and the permissions a token grants.
//
// A pattern is a topic name in which `*` stands for any run of topic
// characters (`A-Za-z0-9_.-`), the empty run included: `chat.*` matches
// `chat.` and `chat.room1`, `*` matches every topic, `a*b*c` matches `abc` and
// `a.x.b.y.c`. There is no other metacharacter and no escaping: `*` is not a
// topic character, so none is needed.
#pragma once
#include <herald/config.hpp>
#include <herald/core/topic.hpp>

#include <cstddef>
#include <string>
#include <string_view>
#include <vector>

namespace herald::auth {

/// What a client wants to do with a topic. A replay (SSE `Last-Event-ID`,
/// polling `after=`, WebSocket `?after=`) is a subscribe: reading history is
/// reading the topic.
enum class Action { subscribe, publish };

namespace detail {

/// First occurrence of `needle` in `hay` at or after `from`, or npos.
/// Knuth-Morris-Pratt, so the whole pattern match stays linear whatever the
/// input (std::string_view::find is quadratic in the worst case).
HERALD_DECL std::size_t kmp_find(std::string_view hay, std::string_view needle, std::size_t from) {
  if (needle.empty()) return from;
  std::vector<std::size_t> fail(needle.size(), 0);
  for (std::size_t i = 1, k = 0; i < needle.size(); ++i) {
    while (k > 0 && needle[i] != needle[k]) k = fail[k - 1];
    if (needle[i] == needle[k]) ++k;
    fail[i] = k;
  }
  for (std::size_t i = from, k = 0; i < hay.size(); ++i) {
    while (k > 0 && hay[i] != needle[k]) k = fail[k - 1];
    if (hay[i] == needle[k]) ++k;
    if (k == needle.size()) return i + 1 - k;
  }
  return std::string_view::npos;
}

}  // namespace detail

/// Whether `topic` is a valid topic name: 1 to 128 characters of
/// `A-Za-z0-9_.-` (herald::valid_topic, the one definition in core/topic.hpp).
HERALD_DECL bool is_valid_topic(std::string_view topic) noexcept { return herald::valid_topic(topic); }

/// Whether `pattern` is well formed: non-empty, only topic characters and `*`.
/// A malformed pattern matches nothing (see pattern_matches).
HERALD_DECL bool is_valid_pattern(std::string_view pattern) noexcept {
  if (pattern.empty()) return false;
  for (char c : pattern)
    if (c != '*' && !herald::is_topic_char(c)) return false;
  return true;
}

/// Whether `pattern` matches the whole of `topic`.
///
/// The pattern is split at its stars into literal segments: the first must be
/// a prefix of the topic, the last a suffix, and each one between is taken at
/// its leftmost occurrence after the previous one (leftmost is always safe,
/// since a star can absorb whatever is skipped). Each topic character is thus
/// looked at a bounded number of times: O(|pattern| + |topic|), no
/// backtracking, whatever an attacker puts in either.
///
/// A malformed pattern, or a topic containing a character that is not a topic
/// character, never matches; the length limit of topics is checked by
/// Permissions::allows, not here.
HERALD_DECL bool pattern_matches(std::string_view pattern, std::string_view topic) {
  if (!is_valid_pattern(pattern)) return false;
  for (char c : topic)
    if (!herald::is_topic_char(c)) return false;

  const std::size_t first_star = pattern.find('*');
  if (first_star == std::string_view::npos) return pattern == topic;

  const std::string_view head = pattern.substr(0, first_star);
  const std::size_t last_star = pattern.rfind('*');
  const std::string_view tail = pattern.substr(last_star + 1);
  if (head.size() + tail.size() > topic.size()) return false;
  if (topic.substr(0, head.size()) != head) return false;
  if (topic.substr(topic.size() - tail.size()) != tail) return false;

  // Middle segments must fit, in order, between the head and the tail.
  const std::string_view middle_topic = topic.substr(0, topic.size() - tail.size());
  std::size_t pos = head.size();
  std::size_t seg_begin = first_star + 1;
  while (seg_begin <= last_star) {
    std::size_t seg_end = pattern.find('*', seg_begin);  // <= last_star: there is a star there
    const std::string_view seg = pattern.substr(seg_begin, seg_end - seg_begin);
    if (!seg.empty()) {
      const std::size_t at = detail::kmp_find(middle_topic, seg, pos);
      if (at == std::string_view::npos) return false;
      pos = at + seg.size();
    }
    seg_begin = seg_end + 1;
  }
  return true;
}

/// The topics a client may subscribe to and publish to, as patterns.
///
/// An empty list allows nothing: a token without a `herald` claim grants no
/// topic. `allows` is linear in the total size of the patterns.
struct Permissions {
  std::vector<std::string> subscribe = {};  ///< patterns for Action::subscribe (replays included)
  std::vector<std::string> publish = {};    ///< patterns for Action::publish

  /// Whether `topic` (which must be a valid topic name) matches one of the
  /// patterns for `action`.
  bool allows(Action action, std::string_view topic) const {
    if (!is_valid_topic(topic)) return false;
    const auto& list = action == Action::subscribe ? subscribe : publish;
    for (const auto& p : list)
      if (pattern_matches(p, topic)) return true;
    return false;
  }
};

}  // namespace herald::auth
