// herald: topic names (CONTRACT.md): 1 to 128 characters of A-Za-z0-9_.-
#pragma once
#include <herald/config.hpp>

#include <cstddef>
#include <string_view>

namespace herald {

/// Longest topic name accepted.
inline constexpr std::size_t max_topic_size = 128;

/// Whether `c` may appear in a topic name. Pattern matchers (auth) share it.
constexpr bool is_topic_char(char c) noexcept {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_' || c == '.' ||
         c == '-';
}

/// Whether `name` is a valid topic: 1..128 of `A-Za-z0-9_.-`. The set keeps
/// names safe in URL paths, metric labels and file names without escaping.
/// A caller answers `error::invalid_topic` (HTTP 400) otherwise.
HERALD_DECL bool valid_topic(std::string_view name) noexcept {
  if (name.empty() || name.size() > max_topic_size) return false;
  for (char c : name)
    if (!is_topic_char(c)) return false;
  return true;
}

}  // namespace herald
