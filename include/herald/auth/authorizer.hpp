// herald: JwtAuthorizer, the hook (auth/hook.hpp) for JWT access tokens.
#pragma once
#include <herald/config.hpp>
#include <herald/auth/hook.hpp>
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
