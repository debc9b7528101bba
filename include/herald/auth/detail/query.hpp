// herald: a minimal query-string reader for the auth layer (the access_token
// parameter). Private: include/herald/http/query.hpp is the public one once it
// exists; this one only needs to find one parameter.
#pragma once
#include <herald/config.hpp>

#include <optional>
#include <string>
#include <string_view>

namespace herald::auth::detail {

/// Percent-decodes `in` as application/x-www-form-urlencoded (`+` is a
/// space, as URLSearchParams encodes it). nullopt on a malformed `%` escape.
HERALD_DECL std::optional<std::string> form_decode(std::string_view in) {
  auto hex = [](char c) -> int {
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
  };
  std::string out;
  out.reserve(in.size());
  for (std::size_t i = 0; i < in.size(); ++i) {
    const char c = in[i];
    if (c == '+') {
      out += ' ';
    } else if (c == '%') {
      if (i + 2 >= in.size()) return std::nullopt;
      const int hi = hex(in[i + 1]), lo = hex(in[i + 2]);
      if (hi < 0 || lo < 0) return std::nullopt;
      out += static_cast<char>(hi * 16 + lo);
      i += 2;
    } else {
      out += c;
    }
  }
  return out;
}

/// The decoded value of the first parameter called `name` in the query of
/// `target` (origin-form: path, then `?query`, then maybe `#fragment`).
/// nullopt when absent or malformed. Names compare exactly, undecoded.
HERALD_DECL std::optional<std::string> query_param(std::string_view target, std::string_view name) {
  const std::size_t q = target.find('?');
  if (q == std::string_view::npos) return std::nullopt;
  std::string_view query = target.substr(q + 1);
  query = query.substr(0, query.find('#'));
  while (!query.empty()) {
    const std::size_t amp = query.find('&');
    const std::string_view pair = query.substr(0, amp);
    query = amp == std::string_view::npos ? std::string_view{} : query.substr(amp + 1);
    const std::size_t eq = pair.find('=');
    if (pair.substr(0, eq) != name) continue;
    return form_decode(eq == std::string_view::npos ? std::string_view{} : pair.substr(eq + 1));
  }
  return std::nullopt;
}

}  // namespace herald::auth::detail
