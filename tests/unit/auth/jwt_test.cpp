#include <herald/auth/jwt.hpp>

#include <catch2/catch.hpp>

#include <openssl/core_names.h>
#include <openssl/evp.h>
#include <openssl/param_build.h>
#include <openssl/pem.h>

#include <chrono>
#include <memory>
#include <string>
#include <vector>

using namespace herald;
using namespace herald::auth;
using namespace std::chrono_literals;
using Clock = std::chrono::system_clock;

namespace {

const Clock::time_point T0{std::chrono::seconds(1'700'000'000)};

std::string secs(Clock::time_point t) {
  return std::to_string(std::chrono::floor<std::chrono::seconds>(t.time_since_epoch()).count());
}

std::string bio_string(BIO* bio) {
  char* p = nullptr;
  const long n = BIO_get_mem_data(bio, &p);
  return std::string(p, static_cast<std::size_t>(n));
}

std::string public_pem(EVP_PKEY* k) {
  std::unique_ptr<BIO, decltype(&BIO_free)> bio(BIO_new(BIO_s_mem()), BIO_free);
  REQUIRE(PEM_write_bio_PUBKEY(bio.get(), k) == 1);
  return bio_string(bio.get());
}

std::string private_pem(EVP_PKEY* k) {
  std::unique_ptr<BIO, decltype(&BIO_free)> bio(BIO_new(BIO_s_mem()), BIO_free);
  REQUIRE(PEM_write_bio_PrivateKey(bio.get(), k, nullptr, nullptr, 0, nullptr, nullptr) == 1);
  return bio_string(bio.get());
}

struct KeyPair {
  std::string priv, pub;
};

/// A fresh key pair made by OpenSSL: "EC" with curve, or "ED25519".
KeyPair generate(const char* type, const char* curve = nullptr) {
  EVP_PKEY* k = curve ? EVP_PKEY_Q_keygen(nullptr, nullptr, type, curve) : EVP_PKEY_Q_keygen(nullptr, nullptr, type);
  REQUIRE(k != nullptr);
  KeyPair kp{private_pem(k), public_pem(k)};
  EVP_PKEY_free(k);
  return kp;
}

std::string b64(std::string_view s) { return base64url_encode(s); }

/// A token with the given header and payload JSON and raw signature bytes.
std::string craft(std::string_view header, std::string_view payload, std::string_view sig) {
  return b64(header) + "." + b64(payload) + "." + b64(sig);
}

/// An HS256-signed token with an arbitrary header, as an attacker would make.
std::string craft_hs256(std::string_view header, std::string_view payload, std::string_view secret) {
  const std::string input = b64(header) + "." + b64(payload);
  const auto mac = auth::detail::hmac_sha256(secret, input);
  REQUIRE(mac);
  return input + "." + b64(std::string_view(reinterpret_cast<const char*>(mac->data()), mac->size()));
}

std::string payload_with(Clock::time_point exp, std::string extra = {}) {
  return "{\"exp\":" + secs(exp) + extra + ",\"herald\":{\"subscribe\":[\"chat.*\"],\"publish\":[\"chat.room1\"]}}";
}

std::string replace_segment(const std::string& token, int index, const std::string& seg) {
  const auto d1 = token.find('.'), d2 = token.find('.', d1 + 1);
  if (index == 0) return seg + token.substr(d1);
  if (index == 1) return token.substr(0, d1 + 1) + seg + token.substr(d2);
  return token.substr(0, d2 + 1) + seg;
}

std::string flip_signature_bit(const std::string& token) {
  const auto d2 = token.rfind('.');
  auto sig = base64url_decode(token.substr(d2 + 1));
  REQUIRE(sig);
  (*sig)[sig->size() / 2] ^= 0x01;
  return token.substr(0, d2 + 1) + b64(*sig);
}

bool is(const VerifyResult& r, error e) { return r.error == make_error_code(e); }

/// The cases every algorithm must get right. `signer` signs, `verify_key`
/// is what the server holds, `other` is another key of the same algorithm.
void check_algorithm(const Key& signer, const Key& verify_key, const Key& other) {
  const JwtVerifier v({verify_key});
  const std::string good = sign_jwt(signer, payload_with(T0 + 10min, ",\"sub\":\"u1\""));

  SECTION("a valid token is accepted with its claims") {
    const auto r = v.verify(good, T0);
    REQUIRE(r);
    CHECK(r.claims.subject == "u1");
    REQUIRE(r.claims.expires);
    CHECK(*r.claims.expires == T0 + 10min);
    CHECK(r.claims.permissions.subscribe == std::vector<std::string>{"chat.*"});
    CHECK(r.claims.permissions.publish == std::vector<std::string>{"chat.room1"});
    CHECK(r.claims.permissions.allows(Action::subscribe, "chat.lobby"));
    CHECK_FALSE(r.claims.permissions.allows(Action::publish, "chat.lobby"));
  }
  SECTION("a forged signature is refused") {
    CHECK(is(v.verify(flip_signature_bit(good), T0), error::auth_invalid_token));
  }
  SECTION("a token signed by another key is refused") {
    CHECK(is(v.verify(sign_jwt(other, payload_with(T0 + 10min)), T0), error::auth_invalid_token));
  }
  SECTION("a tampered payload is refused") {
    const std::string evil = b64("{\"exp\":" + secs(T0 + 10min) + ",\"herald\":{\"subscribe\":[\"*\"],\"publish\":[\"*\"]}}");
    CHECK(is(v.verify(replace_segment(good, 1, evil), T0), error::auth_invalid_token));
  }
  SECTION("a truncated or missing signature is refused") {
    CHECK(is(v.verify(replace_segment(good, 2, ""), T0), error::auth_invalid_token));
    auto sig = *base64url_decode(good.substr(good.rfind('.') + 1));
    CHECK(is(v.verify(replace_segment(good, 2, b64(sig.substr(0, sig.size() - 1))), T0), error::auth_invalid_token));
    CHECK(is(v.verify(replace_segment(good, 2, b64(sig + "x")), T0), error::auth_invalid_token));
  }
  SECTION("exp with the 30 s leeway, at its edges") {
    const std::string t = sign_jwt(signer, payload_with(T0));
    CHECK(v.verify(t, T0));
    CHECK(v.verify(t, T0 + 29s));
    CHECK(v.verify(t, T0 + 30s - 1ns));
    CHECK(is(v.verify(t, T0 + 30s), error::auth_expired));
    CHECK(is(v.verify(t, T0 + 1h), error::auth_expired));
  }
  SECTION("nbf in the future, with leeway") {
    const std::string t = sign_jwt(signer, payload_with(T0 + 1h, ",\"nbf\":" + secs(T0 + 60s)));
    CHECK(is(v.verify(t, T0), error::auth_expired));
    CHECK(is(v.verify(t, T0 + 30s - 1ns), error::auth_expired));
    CHECK(v.verify(t, T0 + 30s));
    CHECK(v.verify(t, T0 + 60s));
  }
  SECTION("audience: string and array, match and mismatch") {
    const JwtVerifier va({verify_key}, {.audience = "herald"});
    CHECK(va.verify(sign_jwt(signer, payload_with(T0 + 1h, ",\"aud\":\"herald\"")), T0));
    CHECK(va.verify(sign_jwt(signer, payload_with(T0 + 1h, ",\"aud\":[\"x\",\"herald\"]")), T0));
    CHECK(is(va.verify(sign_jwt(signer, payload_with(T0 + 1h, ",\"aud\":\"heraldx\"")), T0), error::auth_invalid_token));
    CHECK(is(va.verify(sign_jwt(signer, payload_with(T0 + 1h, ",\"aud\":[\"x\",\"y\"]")), T0), error::auth_invalid_token));
    CHECK(is(va.verify(sign_jwt(signer, payload_with(T0 + 1h, ",\"aud\":[]")), T0), error::auth_invalid_token));
    CHECK(is(va.verify(sign_jwt(signer, payload_with(T0 + 1h)), T0), error::auth_invalid_token));
    CHECK(is(va.verify(sign_jwt(signer, payload_with(T0 + 1h, ",\"aud\":7")), T0), error::auth_invalid_token));
    // Without a configured audience, any aud is fine.
    const auto r = v.verify(sign_jwt(signer, payload_with(T0 + 1h, ",\"aud\":[\"a\",\"b\"]")), T0);
    REQUIRE(r);
    CHECK(r.claims.audience == std::vector<std::string>{"a", "b"});
  }
  SECTION("alg none is refused, with or without a signature") {
    const std::string p = payload_with(T0 + 1h);
    CHECK(is(v.verify(b64("{\"alg\":\"none\"}") + "." + b64(p) + ".", T0), error::auth_invalid_token));
    CHECK(is(v.verify(craft("{\"alg\":\"none\"}", p, "x"), T0), error::auth_invalid_token));
    CHECK(is(v.verify(replace_segment(good, 0, b64("{\"alg\":\"none\",\"typ\":\"JWT\"}")), T0),
             error::auth_invalid_token));
  }
  SECTION("the alg header cannot be changed") {
    for (const char* alg : {"HS256", "ES256", "EdDSA", "RS256", "hs256", "none", "HS512"}) {
      if (alg == algorithm_name(signer.alg)) continue;
      const std::string h = std::string("{\"alg\":\"") + alg + "\",\"typ\":\"JWT\"}";
      CHECK(is(v.verify(replace_segment(good, 0, b64(h)), T0), error::auth_invalid_token));
    }
  }
}

}  // namespace

TEST_CASE("jwt: HS256", "[auth][jwt]") {
  const Key k{Algorithm::hs256, "0123456789abcdef0123456789abcdef"};
  const Key other{Algorithm::hs256, "0123456789abcdef0123456789abcdeF"};
  check_algorithm(k, k, other);
}

TEST_CASE("jwt: ES256", "[auth][jwt]") {
  const auto a = generate("EC", "P-256"), b = generate("EC", "P-256");
  check_algorithm(Key{Algorithm::es256, a.priv}, Key{Algorithm::es256, a.pub}, Key{Algorithm::es256, b.priv});
}

TEST_CASE("jwt: EdDSA (Ed25519)", "[auth][jwt]") {
  const auto a = generate("ED25519"), b = generate("ED25519");
  check_algorithm(Key{Algorithm::eddsa, a.priv}, Key{Algorithm::eddsa, a.pub}, Key{Algorithm::eddsa, b.priv});
}

TEST_CASE("jwt: a private key also verifies", "[auth][jwt]") {
  const auto a = generate("ED25519");
  const JwtVerifier v({{Algorithm::eddsa, a.priv}});
  CHECK(v.verify(sign_jwt({Algorithm::eddsa, a.priv}, payload_with(T0 + 1h)), T0));
}

TEST_CASE("jwt: algorithm confusion", "[auth][jwt]") {
  const auto ec = generate("EC", "P-256");
  const JwtVerifier only_es({{Algorithm::es256, ec.pub}});
  const std::string p = payload_with(T0 + 1h);

  SECTION("HS256 token where only an ES256 key is configured") {
    CHECK(is(only_es.verify(sign_jwt({Algorithm::hs256, "some secret of the attacker"}, p), T0),
             error::auth_invalid_token));
  }
  SECTION("HS256 signed with the EC public key PEM as the secret (key confusion)") {
    const std::string forged = craft_hs256("{\"alg\":\"HS256\",\"typ\":\"JWT\"}", p, ec.pub);
    CHECK(is(only_es.verify(forged, T0), error::auth_invalid_token));
    // Even with an HS256 key configured too (a different secret), the EC PEM
    // is never used as an HMAC key.
    const JwtVerifier both({{Algorithm::es256, ec.pub}, {Algorithm::hs256, "the real shared secret 32 bytes!"}});
    CHECK(is(both.verify(forged, T0), error::auth_invalid_token));
  }
  SECTION("an ES256 token relabelled EdDSA or HS256") {
    const std::string t = sign_jwt({Algorithm::es256, ec.priv}, p);
    REQUIRE(only_es.verify(t, T0));
    CHECK(is(only_es.verify(replace_segment(t, 0, b64("{\"alg\":\"EdDSA\"}")), T0), error::auth_invalid_token));
    CHECK(is(only_es.verify(replace_segment(t, 0, b64("{\"alg\":\"HS256\"}")), T0), error::auth_invalid_token));
  }
  SECTION("an ES256 signature in DER form is refused (JWS wants r||s)") {
    const std::string input = b64("{\"alg\":\"ES256\"}") + "." + b64(p);
    auto pk = auth::detail::load_pem_key(ec.priv, auth::detail::KeyKind::ec_p256, true);
    REQUIRE(pk);
    std::unique_ptr<EVP_MD_CTX, decltype(&EVP_MD_CTX_free)> ctx(EVP_MD_CTX_new(), EVP_MD_CTX_free);
    unsigned char der[80];
    std::size_t n = sizeof der;
    REQUIRE(EVP_DigestSignInit(ctx.get(), nullptr, EVP_sha256(), nullptr, pk.get()) == 1);
    REQUIRE(EVP_DigestSign(ctx.get(), der, &n, reinterpret_cast<const unsigned char*>(input.data()), input.size()) == 1);
    CHECK(is(only_es.verify(input + "." + b64(std::string_view(reinterpret_cast<char*>(der), n)), T0),
             error::auth_invalid_token));
  }
}

TEST_CASE("jwt: header rules", "[auth][jwt]") {
  const std::string secret = "0123456789abcdef0123456789abcdef";
  const JwtVerifier v({{Algorithm::hs256, secret}});
  const std::string p = payload_with(T0 + 1h);
  CHECK(v.verify(craft_hs256("{\"alg\":\"HS256\"}", p, secret), T0));
  CHECK(v.verify(craft_hs256("{\"typ\":\"JWT\",\"alg\":\"HS256\",\"jku\":\"https://evil\"}", p, secret), T0));
  CHECK(is(v.verify(craft_hs256("{\"typ\":\"JWT\"}", p, secret), T0), error::auth_invalid_token));
  CHECK(is(v.verify(craft_hs256("{\"alg\":256}", p, secret), T0), error::auth_invalid_token));
  CHECK(is(v.verify(craft_hs256("{\"alg\":\"HS256\",\"crit\":[\"exp\"]}", p, secret), T0), error::auth_invalid_token));
  CHECK(is(v.verify(craft_hs256("{\"alg\":\"HS256\",\"alg\":\"none\"}", p, secret), T0), error::auth_invalid_token));
  CHECK(is(v.verify(craft_hs256("[\"HS256\"]", p, secret), T0), error::auth_invalid_token));
  CHECK(is(v.verify(craft_hs256("{\"alg\":\"HS256\",\"kid\":5}", p, secret), T0), error::auth_invalid_token));
}

TEST_CASE("jwt: kid selects among keys of one algorithm", "[auth][jwt]") {
  const Key k1{Algorithm::hs256, "first secret first secret first!", "k1"};
  const Key k2{Algorithm::hs256, "second secret second secret sec!", "k2"};
  const JwtVerifier v({k1, k2});
  const std::string p = payload_with(T0 + 1h);
  CHECK(v.verify(sign_jwt(k1, p), T0));
  CHECK(v.verify(sign_jwt(k2, p), T0));
  // Right secret, wrong kid: refused.
  CHECK(is(v.verify(craft_hs256("{\"alg\":\"HS256\",\"kid\":\"k2\"}", p, k1.material), T0), error::auth_invalid_token));
  // No kid: every key of the algorithm is tried (rotation without kids).
  CHECK(v.verify(craft_hs256("{\"alg\":\"HS256\"}", p, k2.material), T0));
}

TEST_CASE("jwt: malformed tokens", "[auth][jwt]") {
  const std::string secret = "0123456789abcdef0123456789abcdef";
  const JwtVerifier v({{Algorithm::hs256, secret}});
  const std::string good = sign_jwt({Algorithm::hs256, secret}, payload_with(T0 + 1h));
  REQUIRE(v.verify(good, T0));
  const std::string h = good.substr(0, good.find('.'));

  for (const std::string& t : {std::string(), std::string("abc"), std::string("a.b"), std::string(".."),
                              std::string("a..c"), good + ".", good + ".x", "." + good, h + "." + h,
                              std::string("!!!.???.***")})
    CHECK(is(v.verify(t, T0), error::auth_invalid_token));

  SECTION("bad base64url") {
    CHECK(is(v.verify(replace_segment(good, 0, h + "="), T0), error::auth_invalid_token));
    CHECK(is(v.verify(replace_segment(good, 0, "eyJ+bGciOiJIUzI1NiJ9"), T0), error::auth_invalid_token));
    CHECK(is(v.verify(good.substr(0, good.size() - 1) + "*", T0), error::auth_invalid_token));
    CHECK(is(v.verify(good + "=", T0), error::auth_invalid_token));
    CHECK(is(v.verify(" " + good, T0), error::auth_invalid_token));
  }
  SECTION("bad JSON, correctly signed") {
    for (const char* p : {"not json", "{\"exp\":1", "[1,2]", "\"str\"", "{\"exp\":1e999}", "{} {}"})
      CHECK(is(v.verify(craft_hs256("{\"alg\":\"HS256\"}", p, secret), T0), error::auth_invalid_token));
    CHECK(is(v.verify(craft_hs256("{\"alg\":\"HS256\"", payload_with(T0 + 1h), secret), T0), error::auth_invalid_token));
  }
  SECTION("claims of the wrong type, correctly signed") {
    const std::string e = secs(T0 + 1h);
    for (const std::string& p : {
             "{\"exp\":\"" + e + "\"}",
             "{\"exp\":" + e + ",\"nbf\":null}",
             "{\"exp\":" + e + ",\"sub\":1}",
             "{\"exp\":" + e + ",\"herald\":[]}",
             "{\"exp\":" + e + ",\"herald\":{\"subscribe\":\"chat.*\"}}",
             "{\"exp\":" + e + ",\"herald\":{\"publish\":[1]}}",
             "{\"exp\":" + e + ",\"herald\":{\"publish\":[],\"publish\":[\"*\"]}}",
             "{\"exp\":" + e + ",\"exp\":" + e + "}",
         })
      CHECK(is(v.verify(craft_hs256("{\"alg\":\"HS256\"}", p, secret), T0), error::auth_invalid_token));
  }
}

TEST_CASE("jwt: exp rules", "[auth][jwt]") {
  const Key k{Algorithm::hs256, "0123456789abcdef0123456789abcdef"};
  const JwtVerifier v({k});
  SECTION("required by default, optional when configured") {
    const std::string t = sign_jwt(k, "{\"herald\":{\"subscribe\":[\"*\"]}}");
    CHECK(is(v.verify(t, T0), error::auth_invalid_token));
    const JwtVerifier lax({k}, {.require_exp = false});
    const auto r = lax.verify(t, T0);
    REQUIRE(r);
    CHECK_FALSE(r.claims.expires);
  }
  SECTION("fractional, huge and negative NumericDates") {
    const auto r = v.verify(sign_jwt(k, "{\"exp\":1700000000.5}"), T0 + 30s);
    REQUIRE(r);
    CHECK(*r.claims.expires == T0 + 500ms);
    CHECK(is(v.verify(sign_jwt(k, "{\"exp\":1700000000.5}"), T0 + 30500ms), error::auth_expired));
    CHECK(v.verify(sign_jwt(k, "{\"exp\":1e300}"), T0));
    CHECK(v.verify(sign_jwt(k, "{\"exp\":99999999999999999999}"), T0));
    CHECK(is(v.verify(sign_jwt(k, "{\"exp\":-1e300}"), T0), error::auth_expired));
    CHECK(is(v.verify(sign_jwt(k, "{\"exp\":0}"), T0), error::auth_expired));
  }
  SECTION("leeway is configurable") {
    const JwtVerifier strict({k}, {.leeway = 0s});
    const std::string t = sign_jwt(k, payload_with(T0));
    CHECK(strict.verify(t, T0 - 1ns));
    CHECK(is(strict.verify(t, T0), error::auth_expired));
  }
  SECTION("issuer when configured") {
    const JwtVerifier vi({k}, {.issuer = "login.example"});
    CHECK(vi.verify(sign_jwt(k, payload_with(T0 + 1h, ",\"iss\":\"login.example\"")), T0));
    CHECK(is(vi.verify(sign_jwt(k, payload_with(T0 + 1h, ",\"iss\":\"evil.example\"")), T0), error::auth_invalid_token));
    CHECK(is(vi.verify(sign_jwt(k, payload_with(T0 + 1h)), T0), error::auth_invalid_token));
  }
}

TEST_CASE("jwt: oversize tokens are refused before decoding", "[auth][jwt]") {
  const Key k{Algorithm::hs256, "0123456789abcdef0123456789abcdef"};
  const std::string t = sign_jwt(k, payload_with(T0 + 1h, ",\"sub\":\"" + std::string(5000, 'u') + "\""));
  REQUIRE(t.size() > 6000);
  CHECK(JwtVerifier({k}, {.max_token_bytes = t.size()}).verify(t, T0));
  CHECK(is(JwtVerifier({k}, {.max_token_bytes = t.size() - 1}).verify(t, T0), error::auth_invalid_token));
  const std::string big = sign_jwt(k, payload_with(T0 + 1h, ",\"sub\":\"" + std::string(8000, 'u') + "\""));
  REQUIRE(big.size() > 8192);
  CHECK(is(JwtVerifier({k}).verify(big, T0), error::auth_invalid_token));
}

TEST_CASE("jwt: key configuration is checked up front", "[auth][jwt]") {
  const auto ec = generate("EC", "P-256"), ed = generate("ED25519"), p384 = generate("EC", "P-384");
  CHECK_THROWS_AS(JwtVerifier({}), std::invalid_argument);
  CHECK_THROWS_AS(JwtVerifier({{Algorithm::hs256, ""}}), std::invalid_argument);
  CHECK_THROWS_AS(JwtVerifier({{Algorithm::es256, "not a pem"}}), std::invalid_argument);
  CHECK_THROWS_AS(JwtVerifier({{Algorithm::es256, ed.pub}}), std::invalid_argument);
  CHECK_THROWS_AS(JwtVerifier({{Algorithm::es256, p384.pub}}), std::invalid_argument);
  CHECK_THROWS_AS(JwtVerifier({{Algorithm::eddsa, ec.pub}}), std::invalid_argument);
  CHECK_NOTHROW(JwtVerifier({{Algorithm::es256, ec.pub}, {Algorithm::eddsa, ed.pub}}));
  // Signing needs the private key.
  CHECK_THROWS_AS(sign_jwt({Algorithm::es256, ec.pub}, "{}"), std::invalid_argument);
  CHECK_THROWS_AS(sign_jwt({Algorithm::eddsa, ec.priv}, "{}"), std::invalid_argument);
  CHECK_THROWS_AS(sign_jwt({Algorithm::hs256, ""}, "{}"), std::invalid_argument);
}

TEST_CASE("jwt: issue_token round trip", "[auth][jwt]") {
  const Key k{Algorithm::hs256, "0123456789abcdef0123456789abcdef", "2024-01"};
  const TokenClaims c{.permissions = {.subscribe = {"news.*", "alerts"}, .publish = {}},
                      .expires = T0 + 15min,
                      .issued_at = T0,
                      .subject = "user \"42\"\n",
                      .audience = "herald"};
  const std::string t = issue_token(k, c);
  const auto r = JwtVerifier({k}, {.audience = "herald"}).verify(t, T0);
  REQUIRE(r);
  CHECK(r.claims.subject == "user \"42\"\n");
  CHECK(r.claims.permissions.subscribe == c.permissions.subscribe);
  CHECK(r.claims.permissions.publish.empty());
  CHECK(*r.claims.expires == T0 + 15min);
  const auto header = base64url_decode(t.substr(0, t.find('.')));
  CHECK(*header == "{\"alg\":\"HS256\",\"typ\":\"JWT\",\"kid\":\"2024-01\"}");
}

// Vectors from the RFCs: the verifier agrees with other implementations,
// not only with its own signer.
TEST_CASE("jwt: RFC 7515 A.1 (HS256) and A.3 (ES256) tokens", "[auth][jwt]") {
  const Clock::time_point issued{std::chrono::seconds(1300819380 - 100)};
  const std::string payload = "eyJpc3MiOiJqb2UiLA0KICJleHAiOjEzMDA4MTkzODAsDQogImh0dHA6Ly9leGFtcGxlLmNvbS9pc19yb290Ijp0cnVlfQ";

  SECTION("HS256") {
    const auto k = base64url_decode("AyM1SysPpbyDfgZld3umj1qzKObwVMkoqQ-EstJQLr_T-1qS0gZH75aKtMN3Yj0iPS4hcgUuTwjAzZr1Z9CAow");
    REQUIRE(k);
    const std::string t = "eyJ0eXAiOiJKV1QiLA0KICJhbGciOiJIUzI1NiJ9." + payload + ".dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk";
    const JwtVerifier v({{Algorithm::hs256, *k}});
    const auto r = v.verify(t, issued);
    REQUIRE(r);
    CHECK(r.claims.issuer == "joe");
    CHECK(*r.claims.expires == Clock::time_point(std::chrono::seconds(1300819380)));
    CHECK(is(v.verify(t, *r.claims.expires + 30s), error::auth_expired));
  }
  SECTION("ES256") {
    const auto x = base64url_decode("f83OJ3D2xF1Bg8vub9tLe1gHMzV76e8Tus9uPHvRVEU");
    const auto y = base64url_decode("x_FEzRu9m36HLN_tue659LNpXW6pCyStikYjKIWI5a0");
    REQUIRE((x && y && x->size() == 32 && y->size() == 32));
    std::string point = "\x04" + *x + *y;
    OSSL_PARAM params[] = {
        OSSL_PARAM_construct_utf8_string(OSSL_PKEY_PARAM_GROUP_NAME, const_cast<char*>("prime256v1"), 0),
        OSSL_PARAM_construct_octet_string(OSSL_PKEY_PARAM_PUB_KEY, point.data(), point.size()),
        OSSL_PARAM_construct_end()};
    std::unique_ptr<EVP_PKEY_CTX, decltype(&EVP_PKEY_CTX_free)> ctx(EVP_PKEY_CTX_new_from_name(nullptr, "EC", nullptr),
                                                                     EVP_PKEY_CTX_free);
    EVP_PKEY* pk = nullptr;
    REQUIRE(EVP_PKEY_fromdata_init(ctx.get()) == 1);
    REQUIRE(EVP_PKEY_fromdata(ctx.get(), &pk, EVP_PKEY_PUBLIC_KEY, params) == 1);
    const std::string pem = public_pem(pk);
    EVP_PKEY_free(pk);
    const std::string t = "eyJhbGciOiJFUzI1NiJ9." + payload +
                          ".DtEhU3ljbEg8L38VWAfUAqOyKAM6-Xx-F4GawxaepmXFCgfTjDxw5djxLa8ISlSApmWQxfKTUJqPP3-Kg6NU1Q";
    const JwtVerifier v({{Algorithm::es256, pem}});
    const auto r = v.verify(t, issued);
    REQUIRE(r);
    CHECK(r.claims.issuer == "joe");
    CHECK(is(v.verify(flip_signature_bit(t), issued), error::auth_invalid_token));
  }
}

TEST_CASE("jwt: RFC 8037 A.4 Ed25519 signature", "[auth][jwt]") {
  const auto x = base64url_decode("11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo");
  REQUIRE((x && x->size() == 32));
  std::unique_ptr<EVP_PKEY, decltype(&EVP_PKEY_free)> pk(
      EVP_PKEY_new_raw_public_key(EVP_PKEY_ED25519, nullptr, reinterpret_cast<const unsigned char*>(x->data()), 32),
      EVP_PKEY_free);
  REQUIRE(pk);
  const std::string input = "eyJhbGciOiJFZERTQSJ9.RXhhbXBsZSBvZiBFZDI1NTE5IHNpZ25pbmc";
  auto sig = base64url_decode("hgyY0il_MGCjP0JzlnLWG1PPOt7-09PGcvMg3AIbQR6dWbhijcNR4ki4iylGjg5BhVsPt9g7sVvpAr_MuM0KAg");
  REQUIRE(sig);
  CHECK(auth::detail::verify_ed25519(pk.get(), input, *sig));
  CHECK_FALSE(auth::detail::verify_ed25519(pk.get(), input + "x", *sig));
  // The payload is not a JSON object, so the full verifier refuses the token
  // after the signature checks out.
  const JwtVerifier v({{Algorithm::eddsa, public_pem(pk.get())}});
  CHECK(is(v.verify(input + "." + b64(*sig), T0), error::auth_invalid_token));
}
