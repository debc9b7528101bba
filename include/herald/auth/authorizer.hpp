// herald: the one authorization hook shared by every transport.
//
// Every transport asks the same question before it accepts a subscription
// (WebSocket handshake, SSE, short and long polling; a replay is a
// subscribe), a publish (POST /publish, each WebSocket client message) or a
// webhook endpoint registration (a subscribe per listed topic):
//
//     AuthDecision decision = authorizer(AuthRequest{...});
//
// An authorizer is anything callable as `AuthDecision(const AuthRequest&)`:
// a lambda, a function, or JwtAuthorizer below.
#pragma once
#include <herald/config.hpp>
#include <herald/auth/jwt.hpp>
#include <herald/auth/token_source.hpp>
#include <herald/auth/topic_pattern.hpp>
#include <herald/core/error.hpp>

#include <chrono>
#include <concepts>
#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <system_error>
#include <type_traits>
#include <utility>

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

/// The hook for JWT access tokens: finds the token (token_source.hpp),
/// verifies it, and checks the topic against its `herald` claim.
///
/// | case                                 | decision                             |
/// |--------------------------------------|--------------------------------------|
/// | no token (and no anonymous grant)    | 401 `auth_missing_token`             |
/// | forged, malformed, other `alg`, `aud`| 401 `auth_invalid_token`             |
/// | expired or not yet valid             | 401 `auth_expired`                   |
/// | valid, topic not in the claim        | 403 `auth_forbidden`                 |
/// | valid, topic in the claim            | allowed, `expires` = exp + leeway    |
///
/// @par Example
/// @code
/// auth::JwtAuthorizer authz{auth::JwtVerifier({{auth::Algorithm::hs256, secret}})};
/// server.authorize(authz);   // or any lambda: [](const auth::AuthRequest& r) { ... }
/// @endcode
class JwtAuthorizer {
 public:
  /// Knobs beyond the verifier's.
  struct Options {
    TokenSourceOptions sources = {};  ///< where tokens are looked for
    /// What a request without any token may do (say, subscribe to
    /// `public.*`). Empty: a token is always required.
    std::optional<Permissions> anonymous = std::nullopt;
  };

  explicit JwtAuthorizer(JwtVerifier verifier) : JwtAuthorizer(std::move(verifier), Options{}) {}
  JwtAuthorizer(JwtVerifier verifier, Options opts) : verifier_(std::move(verifier)), opts_(std::move(opts)) {}

  /// Decides `req`. Thread-safe.
  AuthDecision operator()(const AuthRequest& req) const {
    const auto token = extract_token(req.target, req.headers, opts_.sources);
    if (!token) {
      if (opts_.anonymous && opts_.anonymous->allows(req.action, req.topic)) return AuthDecision::allow();
      return AuthDecision::deny(401, "missing access token", make_error_code(error::auth_missing_token));
    }
    const VerifyResult v = verifier_.verify(token->value, req.now);
    if (!v) return AuthDecision::deny(401, v.error.message(), v.error);
    return decide(v.claims, req.topic, req.action);
  }

  /// The decision for already-verified `claims`: lets a WebSocket connection
  /// verify its token once at the handshake and check each published message
  /// against the claims it keeps (and its `expires`).
  AuthDecision decide(const Claims& claims, std::string_view topic, Action action) const {
    if (!claims.permissions.allows(action, topic))
      return AuthDecision::deny(403,
                                action == Action::publish ? "token does not allow publishing to this topic"
                                                          : "token does not allow subscribing to this topic",
                                make_error_code(error::auth_forbidden));
    std::optional<std::chrono::system_clock::time_point> until;
    if (claims.expires) until = *claims.expires + verifier_.options().leeway;
    return AuthDecision::allow(until);
  }

  const JwtVerifier& verifier() const noexcept { return verifier_; }

 private:
  JwtVerifier verifier_;
  Options opts_;
};

static_assert(Authorizer<JwtAuthorizer>);

}  // namespace herald::auth
