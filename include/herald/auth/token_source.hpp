// herald: where a request carries its access token: `Authorization: Bearer`,
// the `access_token` query parameter (EventSource and the WebSocket
// constructor cannot set headers), or a cookie.
#pragma once
#include <herald/config.hpp>
#include <herald/auth/origin.hpp>  // detail::iequals, detail::trim_ows
#include <herald/http/query.hpp>
#include <herald/http/request_like.hpp>

#include <optional>
#include <string>
#include <string_view>
#include <type_traits>

namespace herald::auth {

/// A non-owning reference to "the value of header `name`", from a RequestLike
/// request or from any callable `std::optional<std::string_view>(std::string_view)`.
/// Lets the hook and the token extractor read headers without copying them
/// and without being templates.
///
/// @note It refers to the request or callable it was made from, which must
/// outlive it; that is why it cannot be made from a temporary.
class HeaderLookup {
 public:
  /// No headers at all.
  HeaderLookup() noexcept = default;

  /// Reads headers from `r` through `r.header(name)`.
  template <class R>
    requires http::RequestLike<R>
  HeaderLookup(const R& r) noexcept  // NOLINT(google-explicit-constructor): a view, like string_view
      : obj_(&r), fn_([](const void* o, std::string_view n) -> std::optional<std::string_view> {
          return static_cast<const R*>(o)->header(n);
        }) {}

  /// Reads headers by calling `f(name)`.
  template <class F>
    requires(!http::RequestLike<F> && !std::is_same_v<std::remove_cvref_t<F>, HeaderLookup> &&
             std::is_convertible_v<std::invoke_result_t<const F&, std::string_view>,
                                   std::optional<std::string_view>>)
  HeaderLookup(const F& f) noexcept  // NOLINT(google-explicit-constructor)
      : obj_(&f), fn_([](const void* o, std::string_view n) -> std::optional<std::string_view> {
          return (*static_cast<const F*>(o))(n);
        }) {}

  /// Refused: the temporary would be gone before the lookup is used.
  template <class T>
    requires(!std::is_same_v<std::remove_cvref_t<T>, HeaderLookup> && !std::is_lvalue_reference_v<T>)
  HeaderLookup(T&&) = delete;

  /// The first value of header `name` (compared case-insensitively by the source).
  std::optional<std::string_view> operator()(std::string_view name) const {
    return fn_ ? fn_(obj_, name) : std::nullopt;
  }

 private:
  const void* obj_ = nullptr;
  std::optional<std::string_view> (*fn_)(const void*, std::string_view) = nullptr;
};

/// Where a token was found.
enum class TokenSource { authorization_header, query, cookie };

/// A token and where it came from (a server may, say, refuse query tokens on
/// endpoints whose clients can set headers: URLs end up in logs).
struct ExtractedToken {
  std::string value;
  TokenSource source;
};

/// Which places extract_token looks in; each can be turned off.
struct TokenSourceOptions {
  bool authorization_header = true;            ///< `Authorization: Bearer <token>`
  std::string query_parameter = "access_token";  ///< empty: not from the query
  std::string cookie_name = "herald_token";      ///< empty: not from cookies
};

namespace detail {

/// The token of `Authorization: Bearer <token>` (scheme case-insensitive,
/// RFC 6750 section 2.1), or nullopt for another scheme or an empty token.
HERALD_DECL std::optional<std::string_view> bearer_token(std::string_view value) {
  value = trim_ows(value);
  if (value.size() < 7 || !iequals(value.substr(0, 6), "Bearer") || (value[6] != ' ' && value[6] != '\t'))
    return std::nullopt;
  const std::string_view token = trim_ows(value.substr(7));
  if (token.empty()) return std::nullopt;
  for (char c : token)
    if (c == ' ' || c == '\t' || c == ',') return std::nullopt;  // one token68, nothing after it
  return token;
}

/// The value of cookie `name` in a `Cookie` header (RFC 6265 section 5.4:
/// `a=b; c=d`), surrounding double quotes removed; nullopt when absent.
HERALD_DECL std::optional<std::string_view> cookie_value(std::string_view header, std::string_view name) {
  while (!header.empty()) {
    const std::size_t semi = header.find(';');
    const std::string_view pair = trim_ows(header.substr(0, semi));
    header = semi == std::string_view::npos ? std::string_view{} : header.substr(semi + 1);
    const std::size_t eq = pair.find('=');
    if (eq == std::string_view::npos || trim_ows(pair.substr(0, eq)) != name) continue;
    std::string_view v = trim_ows(pair.substr(eq + 1));
    if (v.size() >= 2 && v.front() == '"' && v.back() == '"') v = v.substr(1, v.size() - 2);
    return v;
  }
  return std::nullopt;
}

}  // namespace detail

/// Finds the access token of a request, looking in this order:
/// `Authorization: Bearer`, the query parameter, the cookie. The first place
/// that holds a non-empty token wins; an `Authorization` header with another
/// scheme (Basic, say) is skipped, not an error.
///
/// @param target the request target (origin-form, query included)
/// @param headers the request's headers
HERALD_DECL std::optional<ExtractedToken> extract_token(std::string_view target, const HeaderLookup& headers,
                                                         const TokenSourceOptions& opts = {}) {
  if (opts.authorization_header) {
    if (auto h = headers("Authorization"))
      if (auto t = detail::bearer_token(*h)) return ExtractedToken{std::string(*t), TokenSource::authorization_header};
  }
  if (!opts.query_parameter.empty()) {
    if (auto q = http::query_param(target, opts.query_parameter); q && !q->empty())
      return ExtractedToken{std::move(*q), TokenSource::query};
  }
  if (!opts.cookie_name.empty()) {
    if (auto h = headers("Cookie"))
      if (auto c = detail::cookie_value(*h, opts.cookie_name); c && !c->empty())
        return ExtractedToken{std::string(*c), TokenSource::cookie};
  }
  return std::nullopt;
}

/// extract_token for any RequestLike request.
template <http::RequestLike R>
std::optional<ExtractedToken> extract_token(const R& request, const TokenSourceOptions& opts = {}) {
  return extract_token(std::string_view(request.target()), HeaderLookup(request), opts);
}

}  // namespace herald::auth
