// herald: polling batch body, ETag and query parameters (sans-I/O), for
// `GET /poll/{topic}` and `GET /longpoll/{topic}` of CONTRACT.md.
#pragma once
#include <herald/config.hpp>
#include <herald/core/error.hpp>
#include <herald/core/json.hpp>
#include <herald/http/query.hpp>

#include <charconv>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <optional>
#include <ranges>
#include <string>
#include <string_view>
#include <system_error>

namespace herald::polling {

namespace detail {
HERALD_DECL void append_u64(std::string& out, std::uint64_t v) {
  char buf[20];
  auto r = std::to_chars(buf, buf + sizeof buf, v);
  out.append(buf, r.ptr);
}
HERALD_DECL std::size_t u64_digits(std::uint64_t v) noexcept {
  std::size_t n = 1;
  while (v >= 10) { v /= 10; ++n; }
  return n;
}
}  // namespace detail

/// Exact bytes `append_event_json(out, id, data)` appends.
HERALD_DECL std::size_t event_json_size(std::uint64_t id, std::string_view data) noexcept {
  return 17 + detail::u64_digits(id) + json::escaped_size(data);  // {"id":,"data":""}
}

/// Appends one event's fragment `{"id":N,"data":"..."}`. It is encoded once
/// per event (cached on the event as `FrameKind::json`) and the batches that
/// carry it are built by concatenation. `data` is UTF-8 text (publish checks
/// it); bytes are escaped per JSON and otherwise copied.
HERALD_DECL void append_event_json(std::string& out, std::uint64_t id, std::string_view data) {
  // One pass: reserve for the common case (few escapes) instead of sizing
  // exactly, which would scan the data twice; heavy escaping grows amortised.
  out.reserve(out.size() + 17 + 20 + data.size() + data.size() / 16);
  out.append("{\"id\":", 6);
  detail::append_u64(out, id);
  out.append(",\"data\":\"", 9);
  json::append_escaped(out, data);
  out.append("\"}", 2);
}

/// One fragment as a fresh string, sized exactly: what a frame cache stores.
HERALD_DECL std::string event_json(std::uint64_t id, std::string_view data) {
  std::string out;
  append_event_json(out, id, data);
  return out;
}

/// Appends the body `{"events":[f1,f2,...],"next":M,"reset":false}` from
/// already-encoded fragments. `proj` maps an element of `fragments` to its
/// fragment (anything convertible to `std::string_view`), so a range of
/// `EventPtr` can be passed with a projection that returns the cached frame.
/// When the range is a forward range the body is sized first and allocated
/// once.
///
/// @par Example
/// @code
/// std::vector<std::string> frags = {event_json(1, "a"), event_json(2, "b")};
/// std::string body;
/// herald::polling::build_body(body, frags, 2, false);
/// // {"events":[{"id":1,"data":"a"},{"id":2,"data":"b"}],"next":2,"reset":false}
/// @endcode
template <std::ranges::input_range R, class Proj = std::identity>
void build_body(std::string& out, R&& fragments, std::uint64_t next, bool reset, Proj proj = {}) {
  auto view = [&](auto&& e) -> std::string_view { return std::string_view(std::invoke(proj, e)); };
  if constexpr (std::ranges::forward_range<R>) {
    std::size_t n = 35 + detail::u64_digits(next);  // {"events":[],"next":,"reset":false}
    for (auto&& e : fragments) n += view(e).size() + 1;
    out.reserve(out.size() + n);
  }
  out.append("{\"events\":[", 11);
  bool first = true;
  for (auto&& e : fragments) {
    if (!first) out.push_back(',');
    first = false;
    out.append(view(e));
  }
  out.append("],\"next\":", 9);
  detail::append_u64(out, next);
  if (reset) out.append(",\"reset\":true}", 14);
  else out.append(",\"reset\":false}", 15);
}

/// As above, returning a new string.
template <std::ranges::input_range R, class Proj = std::identity>
std::string build_body(R&& fragments, std::uint64_t next, bool reset, Proj proj = {}) {
  std::string out;
  build_body(out, std::forward<R>(fragments), next, reset, std::move(proj));
  return out;
}

/// A weak ETag for one poll answer: `W/"<epoch>.<after>.<next>.<limit>.<r>"`
/// in hex. The body is a function of these: ids are immutable, so the same
/// topic incarnation (`epoch`: changes when the topic's history restarts,
/// e.g. at server start), cursor, head-bounded `next`, limit and reset flag
/// give the same events. `after` is part of it because the body depends on
/// it; a client that repeats a poll with no new event gets 304.
HERALD_DECL std::string etag(std::uint64_t epoch, std::uint64_t after, std::uint64_t next, std::size_t limit,
                             bool reset) {
  static constexpr char hex[] = "0123456789abcdef";
  std::string out = "W/\"";
  auto put = [&](std::uint64_t v) {
    char buf[16];
    char* e = buf + sizeof buf;
    char* p = e;
    do { *--p = hex[v & 0xF]; v >>= 4; } while (v);
    out.append(p, e);
    out.push_back('.');
  };
  put(epoch);
  put(after);
  put(next);
  put(limit);
  out.push_back(reset ? '1' : '0');
  out.push_back('"');
  return out;
}

/// Whether an `If-None-Match` header value matches `etag` (RFC 9110 13.1.2:
/// weak comparison, a comma-separated list, or `*`).
HERALD_DECL bool if_none_match(std::string_view header, std::string_view etag) noexcept {
  auto opaque = [](std::string_view t) {
    if (t.substr(0, 2) == "W/") t.remove_prefix(2);
    return t;
  };
  const std::string_view want = opaque(etag);
  while (!header.empty()) {
    auto comma = header.find(',');
    std::string_view item = header.substr(0, comma);
    header = comma == std::string_view::npos ? std::string_view{} : header.substr(comma + 1);
    while (!item.empty() && (item.front() == ' ' || item.front() == '\t')) item.remove_prefix(1);
    while (!item.empty() && (item.back() == ' ' || item.back() == '\t')) item.remove_suffix(1);
    if (item == "*" || (!item.empty() && opaque(item) == want)) return true;
  }
  return false;
}

/// Bounds for the query parameters; the defaults are CONTRACT.md's.
struct QueryLimits {
  std::uint32_t default_limit = 100;       ///< events per answer when `limit` is absent
  std::uint32_t max_limit = 1000;          ///< a larger `limit` is a 400: the client asked for what it cannot get
  std::uint64_t default_timeout_ms = 30000;  ///< long poll wait when `timeout_ms` is absent
  std::uint64_t max_timeout_ms = 60000;    ///< `--long-poll-max-ms`: a larger `timeout_ms` is clamped, not refused
};

/// A poll request's validated parameters.
struct Query {
  std::uint64_t after = 0;       ///< the cursor: events with id > after
  std::uint32_t limit = 100;     ///< 1..max_limit
  std::uint64_t timeout_ms = 0;  ///< long poll only: 0..max_timeout_ms after clamping
};

/// Parses `after` (required; decimal uint64, no sign, no overflow), `limit`
/// (1..max_limit, default default_limit) and `timeout_ms` (decimal, default
/// default_timeout_ms, clamped to max_timeout_ms) from a request target or
/// bare query. @returns `error::bad_request` (HTTP 400) when a parameter is
/// missing or malformed; `out` is written only on success.
HERALD_DECL std::error_code parse_query(std::string_view target, Query& out, const QueryLimits& limits = {}) {
  Query q;
  auto after = http::query_param(target, "after");
  if (!after) return error::bad_request;
  auto a = http::parse_uint64(*after);
  if (!a) return error::bad_request;
  q.after = *a;
  q.limit = limits.default_limit;
  if (auto l = http::query_param(target, "limit")) {
    auto v = http::parse_uint64(*l);
    if (!v || *v < 1 || *v > limits.max_limit) return error::bad_request;
    q.limit = static_cast<std::uint32_t>(*v);
  }
  q.timeout_ms = limits.default_timeout_ms;
  if (auto t = http::query_param(target, "timeout_ms")) {
    auto v = http::parse_uint64(*t);
    if (!v) return error::bad_request;
    q.timeout_ms = *v;
  }
  if (q.timeout_ms > limits.max_timeout_ms) q.timeout_ms = limits.max_timeout_ms;
  out = q;
  return {};
}

}  // namespace herald::polling
