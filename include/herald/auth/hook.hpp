// herald: the one authorization hook shared by every transport: its request,
// its decision, and the concept. No cryptography here: herald::core includes
// it; the JWT authorizer is in authorizer.hpp.
//
// Every transport asks the same question before it accepts a subscription
// (WebSocket handshake, SSE, short and long polling; a replay is a
// subscribe), a publish (POST /publish, each WebSocket client message) or a
// webhook endpoint registration (a subscribe per listed topic):
//
//     AuthDecision decision = authorizer(AuthRequest{...});
//
// An authorizer is anything callable as `AuthDecision(const AuthRequest&)`:
// a lambda, a function, or JwtAuthorizer.
#pragma once
#include <herald/config.hpp>
#include <herald/auth/token_source.hpp>
#include <herald/auth/topic_pattern.hpp>
#include <herald/core/error.hpp>

#include <chrono>
#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <system_error>
#include <type_traits>

namespace herald::auth {

/// What is being asked for, and by whom. A view: every member refers to the
/// request being handled and is only valid during the call.
///
/// | member         | meaning                                                        |
/// |----------------|----------------------------------------------------------------|
/// | `method`       | `"GET"`, `"POST"`; for a WebSocket message, the handshake's    |
/// | `target`       | origin-form target, query included (the handshake's for WS)    |
/// | `headers`      | header look-up (`headers("Authorization")`), case-insensitive  |
/// | `peer_address` | the client IP, without port                                    |
/// | `topic`        | the topic concerned                                            |
/// | `action`       | subscribe (replays included) or publish                        |
/// | `now`          | wall-clock time for token checks; the server passes its clock  |
struct AuthRequest {
  std::string_view method = {};
  std::string_view target = {};
  HeaderLookup headers = {};
  std::string_view peer_address = {};
  std::string_view topic = {};
  Action action = Action::subscribe;
  std::chrono::system_clock::time_point now = std::chrono::system_clock::now();
};

/// The answer: allowed, or denied with an HTTP status (401, 403, 429; a
/// WebSocket message refused after the handshake becomes close 1008).
struct AuthDecision {
  bool allowed = false;
  int status = 401;    ///< for a denial: 401 (who are you?), 403 (not this topic), 429 (too often)
  std::string reason;  ///< short, safe to show the client; never the token
  /// When the permission lapses (the token's `exp` plus leeway): a stream
  /// opened on it ends then (SSE: the response ends; WebSocket: close 1008).
  /// Empty: it does not lapse.
  std::optional<std::chrono::system_clock::time_point> expires;
  std::error_code error;  ///< why, for metrics and logs: an `auth_*` herald error

  /// An allowed decision.
  static AuthDecision allow(std::optional<std::chrono::system_clock::time_point> until = std::nullopt) {
    return AuthDecision{true, 200, {}, until, {}};
  }
  /// A denial with `status` and `reason`; `why` defaults from the status.
  static AuthDecision deny(int status, std::string reason, std::error_code why = {}) {
    if (!why)
      why = make_error_code(status == 403   ? error::auth_forbidden
                            : status == 429 ? error::auth_rate_limited
                                            : error::auth_invalid_token);
    return AuthDecision{false, status, std::move(reason), std::nullopt, why};
  }
};

/// Anything usable as the hook: callable as `AuthDecision(const AuthRequest&)`.
///
/// | expression | type           | meaning                                   |
/// |------------|----------------|-------------------------------------------|
/// | `a(req)`   | `AuthDecision` | decide `req.action` on `req.topic`        |
///
/// It may be called on any event-loop thread, concurrently: keep it
/// thread-safe (JwtAuthorizer is, being const).
template <class A>
concept Authorizer = std::is_invocable_r_v<AuthDecision, const A&, const AuthRequest&>;

/// A type-erased hook, for a server that stores one (a synchronous call, so
/// std::function loses nothing here). Empty means "no access control".
using AnyAuthorizer = std::function<AuthDecision(const AuthRequest&)>;

/// The value of a `WWW-Authenticate` header for a 401 or 403 decision (RFC
/// 6750 section 3); empty for other statuses.
HERALD_DECL std::string www_authenticate(const AuthDecision& d) {
  if (d.allowed) return {};
  if (d.status == 403) return "Bearer error=\"insufficient_scope\"";
  if (d.status != 401) return {};
  if (d.error == error::auth_missing_token) return "Bearer";
  return "Bearer error=\"invalid_token\"";
}

}  // namespace herald::auth
