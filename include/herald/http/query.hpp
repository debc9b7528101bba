// herald: query-string helpers (sans-I/O): look up one parameter with
// percent-decoding, and strict decimal parsing for cursors and limits.
#pragma once
#include <herald/config.hpp>

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace herald::http {

namespace detail {
HERALD_DECL int query_hex(char c) noexcept {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}
}  // namespace detail

/// Percent-decodes `s` as `application/x-www-form-urlencoded` does (what a
/// browser's URLSearchParams produces): `+` is a space, `%XX` a byte, and a
/// `%` not followed by two hex digits stays literally, as browsers keep it.
/// The result may hold any byte (NUL, invalid UTF-8): callers validate.
HERALD_DECL std::string percent_decode(std::string_view s) {
  std::string out;
  out.reserve(s.size());
  for (std::size_t i = 0; i < s.size(); ++i) {
    char c = s[i];
    if (c == '+') {
      out.push_back(' ');
    } else if (c == '%' && i + 2 < s.size() && detail::query_hex(s[i + 1]) >= 0 &&
               detail::query_hex(s[i + 2]) >= 0) {
      out.push_back(static_cast<char>(detail::query_hex(s[i + 1]) << 4 | detail::query_hex(s[i + 2])));
      i += 2;
    } else {
      out.push_back(c);
    }
  }
  return out;
}

/// The query part of a request target: after the first `?`, before any `#`.
/// A string without `?` that does not start with `/` is taken as a query
/// already; an origin-form path without `?` has an empty query.
HERALD_DECL std::string_view query_of(std::string_view target_or_query) noexcept {
  std::string_view q = target_or_query;
  if (auto qm = q.find('?'); qm != std::string_view::npos) q.remove_prefix(qm + 1);
  else if (!q.empty() && q[0] == '/') return {};
  if (auto hash = q.find('#'); hash != std::string_view::npos) q = q.substr(0, hash);
  return q;
}

/// The percent-decoded value of the first parameter named `name` (compared
/// after decoding) in a target such as `/poll/t?after=5&limit=10`, or in a
/// bare query `after=5`. `?flag` gives "" (present, empty); absent gives
/// nullopt. Later duplicates are ignored.
HERALD_DECL std::optional<std::string> query_param(std::string_view target_or_query, std::string_view name) {
  std::string_view q = query_of(target_or_query);
  while (!q.empty()) {
    auto amp = q.find('&');
    std::string_view pair = q.substr(0, amp);
    q = amp == std::string_view::npos ? std::string_view{} : q.substr(amp + 1);
    if (pair.empty()) continue;
    auto eq = pair.find('=');
    std::string_view key = pair.substr(0, eq);
    std::string_view value = eq == std::string_view::npos ? std::string_view{} : pair.substr(eq + 1);
    // Most keys carry no escape: compare in place, decode only when needed.
    bool match = key.find_first_of("%+") == std::string_view::npos ? key == name : percent_decode(key) == name;
    if (match) return percent_decode(value);
  }
  return std::nullopt;
}

/// Parses a decimal uint64: ASCII digits only (no sign, no space, no `0x`),
/// at least one, no overflow. Leading zeros are accepted (`007` is 7).
HERALD_DECL std::optional<std::uint64_t> parse_uint64(std::string_view s) noexcept {
  if (s.empty()) return std::nullopt;
  std::uint64_t v = 0;
  for (char c : s) {
    if (c < '0' || c > '9') return std::nullopt;
    const auto d = static_cast<std::uint64_t>(c - '0');
    if (v > (UINT64_MAX - d) / 10) return std::nullopt;
    v = v * 10 + d;
  }
  return v;
}

}  // namespace herald::http
