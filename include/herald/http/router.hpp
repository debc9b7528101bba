// herald: method + path router with `{name}` segments. Sans-I/O.
#pragma once
#include <herald/config.hpp>

#include <array>
#include <cstddef>
#include <deque>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace herald::http {

/// Maps (method, path) to a handler and the path's parameters.
///
/// A pattern is a sequence of `/`-separated segments, each either literal
/// (`hooks`) or a parameter (`{id}`) that matches exactly one non-empty segment.
/// Matching is exact: a trailing slash is significant (`/a/` is not `/a`), case
/// matters, and nothing is percent-decoded (callers validate parameter values,
/// e.g. topic names). The query string is not part of the path: pass
/// `Request::path()`.
///
/// Routes are tried in registration order and the first whose pattern and method
/// match wins: register `/a/literal` before `/a/{param}` when both exist. The
/// matcher is a linear scan comparing segment by segment; with the tens of
/// routes a push server has, that is a few hundred nanoseconds and needs no
/// allocation (except the `Allow` string of a 405).
///
/// `HEAD` matches a `GET` route when no `HEAD` route matches the path. A path
/// that matches some route but not the method gives 405 with `allow` listing the
/// path's methods in registration order (`HEAD` right after `GET` when implied).
///
/// @tparam Handler any movable type (a function object, an enum, an index...).
/// @par Thread Safety
/// `add` before serving; `match` is const and safe from many threads after that.
/// Handler pointers stay valid while the router lives (routes are never moved).
template <class Handler>
class Router {
 public:
  /// Most parameters a pattern may have.
  static constexpr std::size_t max_params = 8;

  /// The parameters of a match: views into the path given to `match`, so they
  /// live as long as that string does.
  struct Params {
    std::array<std::pair<std::string_view, std::string_view>, max_params> items{};
    std::size_t count = 0;

    /// The value of parameter `name`, if the pattern has it.
    std::optional<std::string_view> value(std::string_view name) const noexcept {
      for (std::size_t i = 0; i < count; ++i)
        if (items[i].first == name) return items[i].second;
      return std::nullopt;
    }
    std::size_t size() const noexcept { return count; }
    bool empty() const noexcept { return count == 0; }
    const std::pair<std::string_view, std::string_view>* begin() const noexcept { return items.data(); }
    const std::pair<std::string_view, std::string_view>* end() const noexcept { return items.data() + count; }
  };

  /// The outcome of `match`.
  struct Match {
    const Handler* handler = nullptr;  ///< set when status == 0
    Params params;                     ///< set when status == 0
    int status = 404;                  ///< 0 matched, 404 no such path, 405 wrong method
    std::string allow;                 ///< for 405: `"GET, HEAD, POST"`
  };

  /// Registers `h` for `method` on `pattern`.
  /// @throws std::invalid_argument if the pattern does not start with `/`, has a
  /// malformed or repeated `{name}`, more than `max_params` parameters, or the
  /// same (method, pattern) is already registered.
  void add(std::string_view method, std::string_view pattern, Handler h) {
    if (method.empty()) throw std::invalid_argument("herald::http::Router: empty method");
    if (pattern.empty() || pattern.front() != '/')
      throw std::invalid_argument("herald::http::Router: pattern must start with '/': " + std::string(pattern));
    const std::string where = std::string(method) + " " + std::string(pattern);
    std::vector<Segment> segments;
    std::string_view rest = pattern.substr(1);
    std::size_t params = 0;
    for (;;) {
      std::size_t slash = rest.find('/');
      std::string_view seg = rest.substr(0, slash);
      Segment s;
      if (!seg.empty() && seg.front() == '{') {
        if (seg.size() < 3 || seg.back() != '}' || seg.substr(1, seg.size() - 2).find_first_of("{}") != std::string_view::npos)
          throw std::invalid_argument("herald::http::Router: bad parameter segment in " + where);
        s.param = true;
        s.text.assign(seg.substr(1, seg.size() - 2));
        for (const auto& other : segments)
          if (other.param && other.text == s.text)
            throw std::invalid_argument("herald::http::Router: repeated parameter in " + where);
        if (++params > max_params) throw std::invalid_argument("herald::http::Router: too many parameters in " + where);
      } else {
        if (seg.find_first_of("{}") != std::string_view::npos)
          throw std::invalid_argument("herald::http::Router: '{' or '}' inside a literal segment of " + where);
        s.text.assign(seg);
      }
      segments.push_back(std::move(s));
      if (slash == std::string_view::npos) break;
      rest.remove_prefix(slash + 1);
    }
    for (const auto& other : routes_)
      if (other.method == method && other.pattern == pattern)
        throw std::invalid_argument("herald::http::Router: duplicate route " + where);
    routes_.push_back(Route{std::string(method), std::string(pattern), std::move(segments), std::move(h)});
  }

  /// Finds the handler for `method` and `path`. See the class notes for HEAD,
  /// 404 and 405.
  Match match(std::string_view method, std::string_view path) const {
    Match m;
    if (path.empty() || path.front() != '/') return m;  // 404 ("*", absolute-form...)
    const Route* get_route = nullptr;
    Params get_params;
    bool path_known = false;
    for (const Route& r : routes_) {
      Params ps;
      if (!matches(r, path, ps)) continue;
      path_known = true;
      if (r.method == method) {
        m.handler = &r.handler;
        m.params = ps;
        m.status = 0;
        return m;
      }
      if (!get_route && method == "HEAD" && r.method == "GET") {
        get_route = &r;
        get_params = ps;
      }
    }
    if (get_route) {  // no HEAD route for this path: HEAD is served as GET
      m.handler = &get_route->handler;
      m.params = get_params;
      m.status = 0;
      return m;
    }
    if (!path_known) return m;
    m.status = 405;
    bool has_get = false, has_head = false;
    for (const Route& r : routes_) {
      Params ps;
      if (!matches(r, path, ps)) continue;
      has_get = has_get || r.method == "GET";
      has_head = has_head || r.method == "HEAD";
    }
    std::vector<std::string_view> seen;
    auto add_method = [&](std::string_view name) {
      for (auto s : seen)
        if (s == name) return;
      seen.push_back(name);
      if (!m.allow.empty()) m.allow.append(", ");
      m.allow.append(name);
    };
    for (const Route& r : routes_) {
      Params ps;
      if (!matches(r, path, ps)) continue;
      add_method(r.method);
      if (r.method == "GET" && !has_head) add_method("HEAD");
    }
    return m;
  }

  /// Number of registered routes.
  std::size_t size() const noexcept { return routes_.size(); }

 private:
  struct Segment {
    bool param = false;
    std::string text;  // literal text, or the parameter's name (Params views it: routes never move)
  };
  struct Route {
    std::string method;
    std::string pattern;
    std::vector<Segment> segments;
    Handler handler;
  };

  static bool matches(const Route& r, std::string_view path, Params& ps) noexcept {
    std::string_view rest = path.substr(1);
    std::size_t i = 0;
    for (;;) {
      if (i == r.segments.size()) return false;  // path has more segments
      std::size_t slash = rest.find('/');
      std::string_view seg = rest.substr(0, slash);
      const Segment& s = r.segments[i++];
      if (s.param) {
        if (seg.empty()) return false;
        ps.items[ps.count++] = {s.text, seg};
      } else if (s.text != seg) {
        return false;
      }
      if (slash == std::string_view::npos) break;
      rest.remove_prefix(slash + 1);
    }
    return i == r.segments.size();
  }

  std::deque<Route> routes_;
};

}  // namespace herald::http
