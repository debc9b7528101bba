// herald: JSON Web Tokens (RFC 7519) in JWS compact form (RFC 7515), verified
// and signed through OpenSSL: HS256, ES256 and EdDSA (Ed25519).
//
// The server decides which algorithms it accepts, per key; the token's `alg`
// header only selects among the keys configured for exactly that algorithm.
// So `none` is never accepted, and an HS256 token is never checked with a
// public key used as an HMAC secret (the classic key-confusion attack).
#pragma once
#include <herald/config.hpp>
#include <herald/auth/detail/jws_crypto.hpp>
#include <herald/auth/topic_pattern.hpp>
#include <herald/core/base64.hpp>
#include <herald/core/error.hpp>
#include <herald/core/json.hpp>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdint>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>
#include <system_error>
#include <vector>

namespace herald::auth {

/// The JWS algorithms herald implements. There is deliberately no `none`.
enum class Algorithm {
  hs256,  ///< HMAC-SHA256 with a shared secret (RFC 7518 3.2)
  es256,  ///< ECDSA P-256 with SHA-256 (RFC 7518 3.4)
  eddsa,  ///< Ed25519 (RFC 8037); the `alg` header value is `EdDSA`
};

/// The `alg` header value of `a`: "HS256", "ES256" or "EdDSA".
HERALD_DECL std::string_view algorithm_name(Algorithm a) noexcept {
  switch (a) {
    case Algorithm::hs256: return "HS256";
    case Algorithm::es256: return "ES256";
    case Algorithm::eddsa: return "EdDSA";
  }
  return "";
}

/// One key the server trusts, bound to one algorithm.
///
/// `material` is, for HS256, the shared secret (raw bytes; RFC 7518 asks for
/// at least 32 random bytes); for ES256 and EdDSA, a PEM key: a public key
/// (`-----BEGIN PUBLIC KEY-----`) to verify, a private key
/// (`-----BEGIN PRIVATE KEY-----` or `EC PRIVATE KEY`) to sign (a private key
/// also verifies). `kid`, when set, must equal the token's `kid` header if
/// the token has one, which lets keys rotate.
struct Key {
  Algorithm alg;
  std::string material;
  std::string kid = {};
};

/// What a verified token must also satisfy. Defaults are strict.
struct VerifyOptions {
  /// Tolerated clock skew between the issuer and this server, applied to
  /// `exp` and `nbf`. 30 s covers NTP-synchronised machines.
  std::chrono::seconds leeway{30};
  /// A token without `exp` is refused: one that never expires cannot be revoked.
  bool require_exp = true;
  /// When not empty, `aud` (a string or an array of strings) must contain it.
  std::string audience = {};
  /// When not empty, `iss` must equal it.
  std::string issuer = {};
  /// Longer tokens are refused before any decoding (headers are limited
  /// anyway; this bounds the work an anonymous client can cause).
  std::size_t max_token_bytes = 8 * 1024;
};

/// What a verified token says.
struct Claims {
  /// The `herald` claim: `{"subscribe": [patterns], "publish": [patterns]}`.
  /// Absent: no topic at all.
  Permissions permissions;
  /// `exp`, when present: a stream opened with this token ends then.
  std::optional<std::chrono::system_clock::time_point> expires;
  std::optional<std::chrono::system_clock::time_point> not_before;  ///< `nbf`
  std::string subject;                 ///< `sub`, empty when absent
  std::string issuer;                  ///< `iss`, empty when absent
  std::vector<std::string> audience;   ///< `aud`, as a list
  std::string payload;                 ///< the decoded payload JSON, for application claims
};

/// The outcome of JwtVerifier::verify: claims, or why the token was refused.
struct VerifyResult {
  /// `auth_invalid_token` (malformed, forged, unknown or unconfigured `alg`,
  /// wrong `aud`/`iss`, too long) or `auth_expired` (past `exp`, before
  /// `nbf`, leeway included); empty on success.
  std::error_code error;
  Claims claims;  ///< meaningful only on success

  explicit operator bool() const noexcept { return !error; }
};

namespace detail {

/// Whether an object has two members of the same name. Such a document means
/// different things to different parsers, so a token carrying one is refused.
HERALD_DECL bool has_duplicate_keys(const json::Object& o) {
  std::vector<std::string_view> names;
  names.reserve(o.size());
  for (const auto& m : o) names.emplace_back(m.first);
  std::sort(names.begin(), names.end());
  return std::adjacent_find(names.begin(), names.end()) != names.end();
}

/// A JSON object from base64url text, or nullopt (bad base64, bad JSON, not
/// an object, duplicate member names).
HERALD_DECL std::optional<json::Value> decode_object(std::string_view b64, std::string* text_out = nullptr) {
  auto text = base64url_decode(b64);
  if (!text) return std::nullopt;
  auto v = json::parse(*text, 8);
  if (!v || !v->is_object() || has_duplicate_keys(*v->as_object())) return std::nullopt;
  if (text_out) *text_out = std::move(*text);
  return v;
}

/// A NumericDate (RFC 7519 section 2: seconds since the epoch, maybe
/// fractional) as a time point. Clamped to about +-285 years so it fits the
/// clock's nanosecond representation: a token valid "until year 9999" is
/// valid until year 2255, which changes nothing.
HERALD_DECL std::optional<std::chrono::system_clock::time_point> numeric_date(const json::Value& v) {
  const json::Number* n = v.as_number();
  if (!n) return std::nullopt;
  constexpr double limit = 9.0e9;  // seconds; 9e18 ns < 2^63
  double secs = n->exact ? static_cast<double>(n->integer) : n->value;
  secs = std::clamp(secs, -limit, limit);
  std::int64_t ns = 0;
  if (n->exact && n->integer >= -9000000000LL && n->integer <= 9000000000LL)
    ns = n->integer * 1000000000LL;  // exact for the usual integer case
  else
    ns = static_cast<std::int64_t>(std::floor(secs * 1e9));
  return std::chrono::system_clock::time_point(
      std::chrono::duration_cast<std::chrono::system_clock::duration>(std::chrono::nanoseconds(ns)));
}

/// Reads an array of strings into `out`; false if `v` is anything else.
HERALD_DECL bool string_list(const json::Value& v, std::vector<std::string>& out) {
  const json::Array* a = v.as_array();
  if (!a) return false;
  for (const auto& e : *a) {
    const std::string* s = e.as_string();
    if (!s) return false;
    out.push_back(*s);
  }
  return true;
}

HERALD_DECL void append_json_string(std::string& out, std::string_view s) {
  out += '"';
  json::append_escaped(out, s);
  out += '"';
}

HERALD_DECL void append_string_array(std::string& out, const std::vector<std::string>& items) {
  out += '[';
  for (std::size_t i = 0; i < items.size(); ++i) {
    if (i) out += ',';
    append_json_string(out, items[i]);
  }
  out += ']';
}

}  // namespace detail

/// Verifies JWTs against a fixed set of trusted keys.
///
/// Checks, in order: length; three base64url segments; a header that is a
/// JSON object with a string `alg` and no `crit`; a configured key for
/// exactly that `alg` (and `kid`, when both name one) whose signature
/// verifies; a payload that is a JSON object; `aud` and `iss` when
/// configured; `exp` and `nbf` against `now` with the leeway; the shape of
/// the `herald` claim. Nothing is fetched: `jku`, `x5u` and `jwk` headers are
/// ignored.
///
/// @par Thread Safety
/// `verify` is const and may run on any number of threads at once.
///
/// @par Example
/// @code
/// auth::JwtVerifier verifier({{auth::Algorithm::hs256, secret}}, {.audience = "herald"});
/// auto r = verifier.verify(token, std::chrono::system_clock::now());
/// if (!r) return deny(401, r.error.message());
/// if (!r.claims.permissions.allows(auth::Action::subscribe, topic)) return deny(403);
/// @endcode
class JwtVerifier {
 public:
  /// @throws std::invalid_argument when `keys` is empty, a secret is empty, or
  /// a PEM is not a key of its algorithm (P-256 for ES256, Ed25519 for EdDSA).
  explicit JwtVerifier(std::vector<Key> keys, VerifyOptions opts = {}) : opts_(std::move(opts)) {
    if (keys.empty()) throw std::invalid_argument("herald::auth::JwtVerifier: no key configured");
    for (auto& k : keys) {
      Loaded l{k.alg, std::move(k.kid), {}, nullptr};
      if (k.alg == Algorithm::hs256) {
        if (k.material.empty()) throw std::invalid_argument("herald::auth::JwtVerifier: empty HS256 secret");
        l.secret = std::move(k.material);
      } else {
        const auto kind = k.alg == Algorithm::es256 ? detail::KeyKind::ec_p256 : detail::KeyKind::ed25519;
        l.pkey = detail::load_pem_key(k.material, kind, false);
        if (!l.pkey)
          throw std::invalid_argument(std::string("herald::auth::JwtVerifier: material is not a PEM ") +
                                      (k.alg == Algorithm::es256 ? "P-256" : "Ed25519") + " key");
      }
      keys_.push_back(std::move(l));
    }
  }

  const VerifyOptions& options() const noexcept { return opts_; }

  /// Verifies `token` at time `now` (a parameter, so tests and the server's
  /// clock decide what "now" is).
  VerifyResult verify(std::string_view token, std::chrono::system_clock::time_point now) const {
    VerifyResult r;
    const auto invalid = [&r] {
      r.error = make_error_code(error::auth_invalid_token);
      r.claims = {};
      return r;
    };
    if (token.empty() || token.size() > opts_.max_token_bytes) return invalid();
    const std::size_t d1 = token.find('.');
    if (d1 == std::string_view::npos) return invalid();
    const std::size_t d2 = token.find('.', d1 + 1);
    if (d2 == std::string_view::npos || token.find('.', d2 + 1) != std::string_view::npos) return invalid();
    const std::string_view h64 = token.substr(0, d1), p64 = token.substr(d1 + 1, d2 - d1 - 1),
                           s64 = token.substr(d2 + 1);
    if (h64.empty() || p64.empty() || s64.empty()) return invalid();

    // Header: only what selects the key is read before the signature checks.
    const auto header = detail::decode_object(h64);
    if (!header) return invalid();
    const json::Value* alg_v = header->find("alg");
    const std::string* alg = alg_v ? alg_v->as_string() : nullptr;
    if (!alg) return invalid();
    if (header->find("crit")) return invalid();  // no extension is understood (RFC 7515 4.1.11)
    const std::string* kid = nullptr;
    if (const json::Value* kid_v = header->find("kid")) {
      kid = kid_v->as_string();
      if (!kid) return invalid();
    }
    std::optional<Algorithm> algo;
    if (*alg == "HS256") algo = Algorithm::hs256;
    else if (*alg == "ES256") algo = Algorithm::es256;
    else if (*alg == "EdDSA") algo = Algorithm::eddsa;
    if (!algo) return invalid();  // "none", "RS256", "hs256", ...

    const auto sig = base64url_decode(s64);
    if (!sig) return invalid();
    const std::string_view signing_input = token.substr(0, d2);
    bool verified = false;
    for (const auto& k : keys_) {
      if (k.alg != *algo) continue;  // the binding that defeats alg confusion
      if (kid && !k.kid.empty() && k.kid != *kid) continue;
      switch (k.alg) {
        case Algorithm::hs256: verified = detail::verify_hs256(k.secret, signing_input, *sig); break;
        case Algorithm::es256: verified = detail::verify_es256(k.pkey.get(), signing_input, *sig); break;
        case Algorithm::eddsa: verified = detail::verify_ed25519(k.pkey.get(), signing_input, *sig); break;
      }
      if (verified) break;
    }
    if (!verified) return invalid();

    // Payload: authenticated from here on.
    const auto payload = detail::decode_object(p64, &r.claims.payload);
    if (!payload) return invalid();
    Claims& c = r.claims;
    if (const json::Value* v = payload->find("iss")) {
      if (!v->as_string()) return invalid();
      c.issuer = *v->as_string();
    }
    if (!opts_.issuer.empty() && c.issuer != opts_.issuer) return invalid();
    if (const json::Value* v = payload->find("sub")) {
      if (!v->as_string()) return invalid();
      c.subject = *v->as_string();
    }
    if (const json::Value* v = payload->find("aud")) {
      if (const std::string* s = v->as_string()) c.audience.push_back(*s);
      else if (!detail::string_list(*v, c.audience)) return invalid();
    }
    if (!opts_.audience.empty() &&
        std::find(c.audience.begin(), c.audience.end(), opts_.audience) == c.audience.end())
      return invalid();
    if (const json::Value* v = payload->find("exp")) {
      c.expires = detail::numeric_date(*v);
      if (!c.expires) return invalid();
    } else if (opts_.require_exp) {
      return invalid();
    }
    if (const json::Value* v = payload->find("nbf")) {
      c.not_before = detail::numeric_date(*v);
      if (!c.not_before) return invalid();
    }
    if (const json::Value* v = payload->find("herald")) {
      const json::Object* o = v->as_object();
      if (!o || detail::has_duplicate_keys(*o)) return invalid();
      if (const json::Value* s = v->find("subscribe"); s && !detail::string_list(*s, c.permissions.subscribe))
        return invalid();
      if (const json::Value* p = v->find("publish"); p && !detail::string_list(*p, c.permissions.publish))
        return invalid();
    }
    // Valid while now < exp + leeway, and from nbf - leeway on.
    if ((c.expires && now >= *c.expires + opts_.leeway) || (c.not_before && now < *c.not_before - opts_.leeway)) {
      r.error = make_error_code(error::auth_expired);
      r.claims = {};
      return r;
    }
    return r;
  }

 private:
  struct Loaded {
    Algorithm alg;
    std::string kid;
    std::string secret;     ///< HS256
    detail::PkeyPtr pkey;   ///< ES256, EdDSA
  };
  VerifyOptions opts_;
  std::vector<Loaded> keys_;
};

/// Signs `payload_json` (a JSON object, used as is) with `key` and returns the
/// compact JWS: `base64url(header).base64url(payload).base64url(signature)`.
/// The header is `{"alg":...,"typ":"JWT"}`, plus `kid` when the key has one.
/// For issuing tokens from an existing login, and for tests.
///
/// @throws std::invalid_argument when the key material is not usable for
/// signing (an empty secret, or not a PEM private key of the algorithm).
HERALD_DECL std::string sign_jwt(const Key& key, std::string_view payload_json) {
  std::string header = "{\"alg\":\"";
  header += algorithm_name(key.alg);
  header += "\",\"typ\":\"JWT\"";
  if (!key.kid.empty()) {
    header += ",\"kid\":";
    detail::append_json_string(header, key.kid);
  }
  header += '}';
  std::string token = base64url_encode(header);
  token += '.';
  base64url_append(token, payload_json.data(), payload_json.size());
  std::optional<std::string> sig;
  if (key.alg == Algorithm::hs256) {
    if (key.material.empty()) throw std::invalid_argument("herald::auth::sign_jwt: empty HS256 secret");
    if (auto mac = detail::hmac_sha256(key.material, token))
      sig = std::string(reinterpret_cast<const char*>(mac->data()), mac->size());
  } else {
    const bool ec = key.alg == Algorithm::es256;
    auto pk = detail::load_pem_key(key.material, ec ? detail::KeyKind::ec_p256 : detail::KeyKind::ed25519, true);
    if (!pk)
      throw std::invalid_argument(std::string("herald::auth::sign_jwt: material is not a PEM ") +
                                  (ec ? "P-256" : "Ed25519") + " private key");
    sig = ec ? detail::sign_es256(pk.get(), token) : detail::sign_ed25519(pk.get(), token);
  }
  if (!sig) throw std::runtime_error("herald::auth::sign_jwt: OpenSSL failed to sign");
  token += '.';
  base64url_append(token, sig->data(), sig->size());
  return token;
}

/// The registered and herald claims of a token to issue.
struct TokenClaims {
  Permissions permissions = {};                      ///< becomes the `herald` claim
  std::chrono::system_clock::time_point expires;     ///< `exp`; keep it short (minutes)
  std::optional<std::chrono::system_clock::time_point> not_before = {};  ///< `nbf`
  std::optional<std::chrono::system_clock::time_point> issued_at = {};   ///< `iat`
  std::string subject = {};                          ///< `sub`, e.g. the user id
  std::string audience = {};                         ///< `aud`, when the server checks one
  std::string issuer = {};                           ///< `iss`
};

/// The JSON payload for `c` (NumericDates in whole seconds, rounded down).
HERALD_DECL std::string claims_json(const TokenClaims& c) {
  const auto secs = [](std::chrono::system_clock::time_point t) {
    return std::to_string(std::chrono::floor<std::chrono::seconds>(t.time_since_epoch()).count());
  };
  std::string out = "{\"exp\":" + secs(c.expires);
  if (c.not_before) out += ",\"nbf\":" + secs(*c.not_before);
  if (c.issued_at) out += ",\"iat\":" + secs(*c.issued_at);
  if (!c.subject.empty()) {
    out += ",\"sub\":";
    detail::append_json_string(out, c.subject);
  }
  if (!c.audience.empty()) {
    out += ",\"aud\":";
    detail::append_json_string(out, c.audience);
  }
  if (!c.issuer.empty()) {
    out += ",\"iss\":";
    detail::append_json_string(out, c.issuer);
  }
  out += ",\"herald\":{\"subscribe\":";
  detail::append_string_array(out, c.permissions.subscribe);
  out += ",\"publish\":";
  detail::append_string_array(out, c.permissions.publish);
  out += "}}";
  return out;
}

/// Issues a token: sign_jwt(key, claims_json(claims)).
HERALD_DECL std::string issue_token(const Key& key, const TokenClaims& claims) {
  return sign_jwt(key, claims_json(claims));
}

}  // namespace herald::auth
