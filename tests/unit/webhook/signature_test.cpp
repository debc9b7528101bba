#include <herald/webhook/signature.hpp>
#include <herald/webhook/verifier.hpp>

#include <catch2/catch.hpp>

#include <algorithm>
#include <chrono>
#include <string>
#include <vector>

using namespace herald::webhook;

namespace {
std::string unhex(std::string_view h) {
  std::string out;
  for (std::size_t i = 0; i + 1 < h.size(); i += 2) out.push_back(static_cast<char>(std::stoi(std::string(h.substr(i, 2)), nullptr, 16)));
  return out;
}
std::string hex(const unsigned char* p, std::size_t n) {
  std::string out;
  herald::webhook::detail::append_hex(out, p, n);
  return out;
}
// The Standard Webhooks specification's published example (also in the Svix docs).
constexpr std::string_view spec_secret = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";
constexpr std::string_view spec_id = "msg_p5jXN8AQM9LWM0D4loKWxJek";
constexpr std::int64_t spec_ts = 1614265330;
constexpr std::string_view spec_body = R"({"test": 2432232314})";
constexpr std::string_view spec_sig = "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=";
// RFC 8032 section 7.1, TEST 1.
constexpr std::string_view rfc8032_seed = "9d61b19deffd5a60ba844af492ec2cc44449c5697b326919703bac031cae7f60";
constexpr std::string_view rfc8032_pub = "d75a980182b10ab7d54bfed3c964073a0ee172f3daa62325af021a68f707511a";
constexpr std::string_view rfc8032_sig =
    "e5564300c360ac729086e2cc806e828a84877f1eb8e5d974d873e065224901555fb8821590a33bacc61e39701cf9b46bd25bf5f0595bbe24655141438e7a100b";
}  // namespace

TEST_CASE("v1: the Standard Webhooks specification example", "[webhook][signature]") {
  std::error_code ec;
  const Secret s = Secret::parse(spec_secret, ec);
  REQUIRE_FALSE(ec);
  CHECK(sign(spec_id, spec_ts, spec_body, s) == spec_sig);
  CHECK(signed_content(spec_id, spec_ts, spec_body) == R"(msg_p5jXN8AQM9LWM0D4loKWxJek.1614265330.{"test": 2432232314})");
}

TEST_CASE("v1: a secret without the whsec_ prefix is base64 too", "[webhook][signature]") {
  std::error_code ec;
  const Secret bare = Secret::parse(spec_secret.substr(6), ec);
  REQUIRE_FALSE(ec);
  CHECK(sign(spec_id, spec_ts, spec_body, bare) == spec_sig);
  CHECK(bare.to_string() == spec_secret);
}

TEST_CASE("v1: malformed secrets are webhook_bad_secret", "[webhook][signature]") {
  for (const char* bad : {"whsec_", "", "whsec_not base64!", "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaS", "whsec_Zh=="}) {
    CAPTURE(bad);
    std::error_code ec;
    const Secret s = Secret::parse(bad, ec);
    CHECK(ec == herald::error::webhook_bad_secret);
    CHECK(s.empty());
  }
}

TEST_CASE("v1: generated secrets round-trip through whsec_ text", "[webhook][signature]") {
  const Secret a = Secret::generate();
  const Secret b = Secret::generate();
  CHECK(a.bytes().size() == 32);
  CHECK(a.bytes() != b.bytes());
  std::error_code ec;
  const Secret back = Secret::parse(a.to_string(), ec);
  REQUIRE_FALSE(ec);
  CHECK(back.bytes() == a.bytes());
  CHECK(a.to_string().starts_with("whsec_"));
}

TEST_CASE("v1: rotation signs with every secret, space-separated", "[webhook][signature]") {
  std::error_code ec;
  const std::vector<Secret> secrets{Secret::parse(spec_secret, ec), Secret::from_bytes("another key")};
  const std::string both = sign(spec_id, spec_ts, spec_body, secrets);
  CHECK(both == std::string(spec_sig) + " " + sign(spec_id, spec_ts, spec_body, secrets[1]));
  CHECK_THROWS(sign(spec_id, spec_ts, spec_body, Secret{}));  // misuse: an empty key
}

TEST_CASE("v1a: RFC 8032 test 1 through SigningKey and VerifyingKey", "[webhook][signature]") {
  std::error_code ec;
  const SigningKey sk = SigningKey::from_seed(unhex(rfc8032_seed), ec);
  REQUIRE_FALSE(ec);
  const auto sig = sk.sign_raw("");
  CHECK(hex(sig.data(), sig.size()) == rfc8032_sig);
  const VerifyingKey pk = sk.public_key();
  CHECK(pk.bytes() == unhex(rfc8032_pub));
  CHECK(pk.verify("", unhex(rfc8032_sig)));
  CHECK_FALSE(pk.verify("x", unhex(rfc8032_sig)));
}

TEST_CASE("v1a: key text forms", "[webhook][signature]") {
  std::error_code ec;
  const std::string seed = unhex(rfc8032_seed), pub = unhex(rfc8032_pub);
  const SigningKey from32 = SigningKey::parse("whsk_" + herald::base64_encode(seed), ec);
  REQUIRE_FALSE(ec);
  const SigningKey from64 = SigningKey::parse("whsk_" + herald::base64_encode(seed + pub), ec);
  REQUIRE_FALSE(ec);
  CHECK(from32.to_string() == "whsk_" + herald::base64_encode(seed + pub));
  CHECK(from64.to_string() == from32.to_string());
  CHECK(from32.public_key().to_string() == "whpk_" + herald::base64_encode(pub));
  const VerifyingKey pk = VerifyingKey::parse("whpk_" + herald::base64_encode(pub), ec);
  REQUIRE_FALSE(ec);
  CHECK(pk.bytes() == pub);

  // A 64-byte key whose public half does not belong to the seed is corrupt.
  std::string wrong = pub;
  wrong[0] ^= 1;
  SigningKey::parse("whsk_" + herald::base64_encode(seed + wrong), ec);
  CHECK(ec == herald::error::webhook_bad_secret);
  for (const std::string& bad : {std::string("whsk_"), "whsk_" + herald::base64_encode(seed.substr(0, 31)), std::string("whsk_!!")}) {
    SigningKey::parse(bad, ec);
    CHECK(ec == herald::error::webhook_bad_secret);
  }
  VerifyingKey::parse("whpk_" + herald::base64_encode(pub + "x"), ec);
  CHECK(ec == herald::error::webhook_bad_secret);
}

TEST_CASE("v1a: sign and verify over id.timestamp.body, copies share the key", "[webhook][signature]") {
  const SigningKey sk = SigningKey::generate();
  const SigningKey copy = sk;  // NOLINT: exercising the reference-counted copy
  const std::string header = sign(spec_id, spec_ts, spec_body, copy);
  REQUIRE(header.starts_with("v1a,"));
  const auto raw = herald::base64_decode(std::string_view(header).substr(4));
  REQUIRE(raw);
  CHECK(raw->size() == 64);
  CHECK(sk.public_key().verify(signed_content(spec_id, spec_ts, spec_body), *raw));
  CHECK_FALSE(sk.public_key().verify(signed_content(spec_id, spec_ts + 1, spec_body), *raw));
  CHECK_FALSE(SigningKey::generate().public_key().verify(signed_content(spec_id, spec_ts, spec_body), *raw));
  CHECK_THROWS(SigningKey{}.sign_raw("x"));
}

TEST_CASE("mixed rotation: v1 then v1a entries", "[webhook][signature]") {
  std::error_code ec;
  const std::vector<Secret> secrets{Secret::parse(spec_secret, ec)};
  const std::vector<SigningKey> keys{SigningKey::generate(), SigningKey::generate()};
  const std::string h = sign(spec_id, spec_ts, spec_body, secrets, keys);
  CHECK(h.starts_with(std::string(spec_sig) + " v1a,"));
  CHECK(std::count(h.begin(), h.end(), ' ') == 2);
  CHECK(h.size() == 47 + 1 + 92 + 1 + 92);
}

TEST_CASE("Stripe and GitHub signing", "[webhook][signature]") {
  // GitHub's documented example ("Validating webhook deliveries").
  CHECK(github_sign("It's a Secret to Everybody", "Hello, World!") ==
        "sha256=757107ea0eb2509fc211221cce984b8a37570b6d7586c22c46f4379c8b043e17");
  // Computed independently with Node's crypto.createHmac over "1700000000.<body>";
  // the whsec_ secret is the raw key.
  CHECK(stripe_sign("whsec_test_secret", 1700000000, R"({"id":"evt_1"})") ==
        "t=1700000000,v1=248a374f50f943a28b0f6ab50faf9a7e7e29b710fa26df9fb1618b9bf8ea9c9a");
}

TEST_CASE("webhook SigningKeys: one signature per key, each verifies alone", "[webhook][signature]") {
  namespace wh = herald::webhook;
  std::error_code ec;
  const std::string old_secret = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";
  const wh::Secret fresh = wh::Secret::generate();
  const wh::SigningKey ed = wh::SigningKey::generate();
  const auto keys = wh::SigningKeys::parse(old_secret + "  " + fresh.to_string() + " " + ed.to_string(), ec);
  REQUIRE_FALSE(ec);
  CHECK(keys.size() == 3);
  const std::int64_t now = std::chrono::duration_cast<std::chrono::seconds>(
                               std::chrono::system_clock::now().time_since_epoch()).count();
  const std::string sig = keys.sign("msg_1", now, "{}");
  CHECK(sig.starts_with("v1,"));
  CHECK(sig.find(" v1,") != std::string::npos);
  CHECK(sig.find(" v1a,") != std::string::npos);
  const std::string ts = std::to_string(now);
  const wh::StandardHeaders h{.id = "msg_1", .timestamp = ts, .signature = sig};
  const auto t = std::chrono::system_clock::now();
  std::vector<wh::Secret> only_old{wh::Secret::parse(old_secret, ec)}, only_new{fresh}, other{wh::Secret::generate()};
  std::vector<wh::VerifyingKey> only_pub{ed.public_key()};
  CHECK_FALSE(wh::verify_standard(h, "{}", only_old, t));
  CHECK_FALSE(wh::verify_standard(h, "{}", only_new, t));
  CHECK_FALSE(wh::verify_standard(h, "{}", {}, only_pub, t));
  CHECK(wh::verify_standard(h, "{}", other, t) == herald::error::webhook_bad_signature);
  CHECK(wh::verify_standard(h, "{}!", only_old, t) == herald::error::webhook_bad_signature);

  // One secret, as before: exactly what sign() gives.
  const auto one = wh::SigningKeys::parse(old_secret, ec);
  REQUIRE_FALSE(ec);
  CHECK(one.sign("msg_p5jXN8AQM9LWM0D4loKWxJek", 1614265330, R"({"test": 2432232314})") ==
        "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=");

  // Refused: nothing, a malformed key, a public key (it signs nothing).
  for (std::string bad : {std::string(""), std::string("  "), old_secret + " whsec_!!!", ed.public_key().to_string()}) {
    INFO(bad);
    CHECK(wh::SigningKeys::parse(bad, ec).empty());
    CHECK(ec == herald::error::webhook_bad_secret);
  }
}
