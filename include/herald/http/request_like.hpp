// herald: what herald asks of an HTTP request it did not parse itself.
#pragma once
#include <concepts>
#include <optional>
#include <string_view>

namespace herald::http {

/// A request herald can read without copying: herald's own `http::Request`,
/// or a thin adapter over Beast's or a hand-made one.
///
/// | expression        | type                               | meaning                                   |
/// |-------------------|------------------------------------|-------------------------------------------|
/// | `r.method()`      | convertible to `std::string_view`  | `"GET"`, `"POST"`, ...                    |
/// | `r.target()`      | convertible to `std::string_view`  | origin-form target, query included        |
/// | `r.header(name)`  | `std::optional<std::string_view>`  | first value of a header, name compared case-insensitively |
template <class R>
concept RequestLike = requires(const R& r, std::string_view name) {
  { r.method() } -> std::convertible_to<std::string_view>;
  { r.target() } -> std::convertible_to<std::string_view>;
  { r.header(name) } -> std::convertible_to<std::optional<std::string_view>>;
};

}  // namespace herald::http
