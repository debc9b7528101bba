#include <herald/webhook/verifier.hpp>

#include <catch2/catch.hpp>

#include <cctype>
#include <map>
#include <string>
#include <vector>

using namespace herald::webhook;
using herald::error;
using std::chrono::seconds;
using std::chrono::system_clock;

namespace {
constexpr std::string_view spec_secret = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";
constexpr std::string_view spec_id = "msg_p5jXN8AQM9LWM0D4loKWxJek";
constexpr std::int64_t spec_ts = 1614265330;
constexpr std::string_view spec_body = R"({"test": 2432232314})";
constexpr std::string_view spec_sig = "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=";

system_clock::time_point at(std::int64_t unix_seconds) { return system_clock::time_point(seconds(unix_seconds)); }

std::vector<Secret> spec_secrets() {
  std::error_code ec;
  return {Secret::parse(spec_secret, ec)};
}

StandardHeaders headers(std::string_view sig, std::string_view ts = "1614265330", std::string_view id = spec_id) {
  return {.id = id, .timestamp = ts, .signature = sig};
}

// A minimal RequestLike with case-insensitive header look-up.
struct FakeRequest {
  std::map<std::string, std::string> h;  // lower-case names
  std::string_view method() const { return "POST"; }
  std::string_view target() const { return "/hooks/in"; }
  std::optional<std::string_view> header(std::string_view name) const {
    std::string n(name);
    for (auto& c : n) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    auto it = h.find(n);
    if (it == h.end()) return std::nullopt;
    return std::string_view(it->second);
  }
};
static_assert(herald::http::RequestLike<FakeRequest>);
}  // namespace

TEST_CASE("verify_standard: the specification example verifies", "[webhook][verifier]") {
  const auto secrets = spec_secrets();
  CHECK_FALSE(verify_standard(headers(spec_sig), spec_body, secrets, at(spec_ts)));
  // The same through a RequestLike and through a look-up callable.
  FakeRequest r{{{"webhook-id", std::string(spec_id)},
                 {"webhook-timestamp", "1614265330"},
                 {"webhook-signature", std::string(spec_sig)}}};
  CHECK_FALSE(verify_standard(r, spec_body, secrets, {}, at(spec_ts)));
  CHECK_FALSE(verify_standard(StandardHeaders::from_lookup([&](std::string_view n) { return r.header(n); }), spec_body,
                              secrets, at(spec_ts)));
}

TEST_CASE("verify_standard: tampering is webhook_bad_signature", "[webhook][verifier]") {
  const auto secrets = spec_secrets();
  CHECK(verify_standard(headers(spec_sig), R"({"test": 2432232315})", secrets, at(spec_ts)) ==
        error::webhook_bad_signature);
  CHECK(verify_standard(headers(spec_sig, "1614265331"), spec_body, secrets, at(spec_ts)) ==
        error::webhook_bad_signature);
  CHECK(verify_standard(headers(spec_sig, "1614265330", "msg_other"), spec_body, secrets, at(spec_ts)) ==
        error::webhook_bad_signature);
  std::string flipped(spec_sig);
  flipped[5] = flipped[5] == 'A' ? 'B' : 'A';
  CHECK(verify_standard(headers(flipped), spec_body, secrets, at(spec_ts)) == error::webhook_bad_signature);
  // Truncated and extended values: a length mismatch is never a match.
  CHECK(verify_standard(headers(spec_sig.substr(0, spec_sig.size() - 1)), spec_body, secrets, at(spec_ts)) ==
        error::webhook_bad_signature);
  CHECK(verify_standard(headers(std::string(spec_sig) + "A"), spec_body, secrets, at(spec_ts)) ==
        error::webhook_bad_signature);
  // Another secret.
  const std::vector<Secret> other{Secret::generate()};
  CHECK(verify_standard(headers(spec_sig), spec_body, other, at(spec_ts)) == error::webhook_bad_signature);
  CHECK(verify_standard(headers(spec_sig), spec_body, std::span<const Secret>{}, at(spec_ts)) ==
        error::webhook_bad_signature);
}

TEST_CASE("verify_standard: missing headers", "[webhook][verifier]") {
  const auto secrets = spec_secrets();
  StandardHeaders h = headers(spec_sig);
  h.id.reset();
  CHECK(verify_standard(h, spec_body, secrets, at(spec_ts)) == error::webhook_missing_header);
  h = headers(spec_sig);
  h.timestamp.reset();
  CHECK(verify_standard(h, spec_body, secrets, at(spec_ts)) == error::webhook_missing_header);
  h = headers(spec_sig);
  h.signature.reset();
  CHECK(verify_standard(h, spec_body, secrets, at(spec_ts)) == error::webhook_missing_header);
  CHECK(verify_standard(FakeRequest{}, spec_body, secrets, {}, at(spec_ts)) == error::webhook_missing_header);
}

TEST_CASE("verify_standard: timestamp tolerance both ways", "[webhook][verifier]") {
  const auto secrets = spec_secrets();
  CHECK_FALSE(verify_standard(headers(spec_sig), spec_body, secrets, at(spec_ts + 300)));
  CHECK_FALSE(verify_standard(headers(spec_sig), spec_body, secrets, at(spec_ts - 300)));
  CHECK(verify_standard(headers(spec_sig), spec_body, secrets, at(spec_ts + 301)) == error::webhook_stale_timestamp);
  CHECK(verify_standard(headers(spec_sig), spec_body, secrets, at(spec_ts - 301)) == error::webhook_stale_timestamp);
  CHECK_FALSE(verify_standard(headers(spec_sig), spec_body, secrets, at(spec_ts + 3600), seconds(3600)));
  CHECK(verify_standard(headers(spec_sig), spec_body, secrets, at(spec_ts + 11), seconds(10)) ==
        error::webhook_stale_timestamp);
  // Sub-second parts of now do not widen the window.
  CHECK_FALSE(verify_standard(headers(spec_sig), spec_body, secrets, at(spec_ts + 300) + std::chrono::milliseconds(999)));
}

TEST_CASE("verify_standard: malformed timestamps", "[webhook][verifier]") {
  const auto secrets = spec_secrets();
  for (const char* ts : {"", "-1614265330", "+1614265330", " 1614265330", "1614265330 ", "1614265330.0", "0x60",
                         "99999999999999999999999", "1e9"}) {
    CAPTURE(ts);
    CHECK(verify_standard(headers(spec_sig, ts), spec_body, secrets, at(spec_ts)) == error::webhook_bad_signature);
  }
}

TEST_CASE("verify_standard: several signatures, unknown schemes skipped", "[webhook][verifier]") {
  const auto secrets = spec_secrets();
  const std::string good(spec_sig);
  for (const std::string& h : {"v1,AAAA " + good, "v2,whatever " + good, good + " v1,bogus", "garbage  " + good,
                              "v1a,notbase64 " + good, "  " + good + "  ", "v0," + good.substr(3) + " " + good}) {
    CAPTURE(h);
    CHECK_FALSE(verify_standard(headers(h), spec_body, secrets, at(spec_ts)));
  }
  // The right value under another scheme name does not count.
  CHECK(verify_standard(headers("v2," + good.substr(3)), spec_body, secrets, at(spec_ts)) ==
        error::webhook_bad_signature);
  CHECK(verify_standard(headers(""), spec_body, secrets, at(spec_ts)) == error::webhook_bad_signature);
  // Comma-separated (not the format) is not accepted.
  CHECK(verify_standard(headers("v1,AAAA," + good), spec_body, secrets, at(spec_ts)) == error::webhook_bad_signature);
}

TEST_CASE("verify_standard: entries past the budget are ignored", "[webhook][verifier]") {
  const auto secrets = spec_secrets();
  std::string h;
  for (std::size_t i = 0; i < max_signatures_examined; ++i) h += "v1,AAAA ";
  CHECK(verify_standard(headers(h + std::string(spec_sig)), spec_body, secrets, at(spec_ts)) ==
        error::webhook_bad_signature);
  h.erase(0, 8);  // one fewer: the real one is now inside the budget
  CHECK_FALSE(verify_standard(headers(h + std::string(spec_sig)), spec_body, secrets, at(spec_ts)));
}

TEST_CASE("verify_standard: secret rotation on either side", "[webhook][verifier]") {
  std::error_code ec;
  const Secret old_s = Secret::parse(spec_secret, ec), new_s = Secret::generate();
  const std::vector<Secret> both{old_s, new_s}, only_new{new_s}, only_old{old_s};
  const std::string signed_both = sign(spec_id, spec_ts, spec_body, both);
  CHECK_FALSE(verify_standard(headers(signed_both), spec_body, only_new, at(spec_ts)));
  CHECK_FALSE(verify_standard(headers(signed_both), spec_body, only_old, at(spec_ts)));
  // Receiver holds both, sender already moved on.
  CHECK_FALSE(verify_standard(headers(sign(spec_id, spec_ts, spec_body, new_s)), spec_body, both, at(spec_ts)));
}

TEST_CASE("verify_standard: v1a with public keys", "[webhook][verifier]") {
  const SigningKey sk = SigningKey::generate(), other = SigningKey::generate();
  const std::vector<VerifyingKey> pks{other.public_key(), sk.public_key()};
  const std::string sig = sign(spec_id, spec_ts, spec_body, sk);
  CHECK_FALSE(verify_standard(headers(sig), spec_body, {}, pks, at(spec_ts)));
  CHECK_FALSE(verify_standard(headers("v1,AAAA " + sig), spec_body, spec_secrets(), pks, at(spec_ts)));
  CHECK(verify_standard(headers(sig), "tampered", {}, pks, at(spec_ts)) == error::webhook_bad_signature);
  CHECK(verify_standard(headers(sig), spec_body, {}, std::vector<VerifyingKey>{other.public_key()}, at(spec_ts)) ==
        error::webhook_bad_signature);
  // A v1a signature is not accepted by a receiver with only HMAC secrets, and vice versa.
  CHECK(verify_standard(headers(sig), spec_body, spec_secrets(), at(spec_ts)) == error::webhook_bad_signature);
  CHECK(verify_standard(headers(spec_sig), spec_body, {}, pks, at(spec_ts)) == error::webhook_bad_signature);
  CHECK(verify_standard(headers(sig), spec_body, {}, pks, at(spec_ts + 301)) == error::webhook_stale_timestamp);
}

TEST_CASE("verify_stripe", "[webhook][verifier]") {
  const std::string secret = "whsec_test_secret";
  const std::string body = R"({"id":"evt_1"})";
  const std::string good = "t=1700000000,v1=248a374f50f943a28b0f6ab50faf9a7e7e29b710fa26df9fb1618b9bf8ea9c9a";
  CHECK(stripe_sign(secret, 1700000000, body) == good);
  CHECK_FALSE(verify_stripe(good, body, secret, at(1700000000)));
  // Upper-case hex, v0 entries, several v1 and spaces are accepted.
  CHECK_FALSE(verify_stripe("t=1700000000,v1=248A374F50F943A28B0F6AB50FAF9A7E7E29B710FA26DF9FB1618B9BF8EA9C9A",
                            body, secret, at(1700000000)));
  CHECK_FALSE(verify_stripe("t=1700000000, v0=abc, v1=" + std::string(64, '0') + ", v1=" + good.substr(16), body,
                            secret, at(1700000000)));
  // The secret is the raw key: base64-decoding it would be wrong.
  CHECK(verify_stripe(good, body, "test_secret", at(1700000000)) == error::webhook_bad_signature);
  CHECK(verify_stripe(good, body + " ", secret, at(1700000000)) == error::webhook_bad_signature);
  CHECK(verify_stripe(good, body, secret, at(1700000301)) == error::webhook_stale_timestamp);
  CHECK(verify_stripe(good, body, secret, at(1699999699)) == error::webhook_stale_timestamp);
  CHECK_FALSE(verify_stripe(good, body, secret, at(1700000600), seconds(600)));
  CHECK(verify_stripe(std::nullopt, body, secret, at(1700000000)) == error::webhook_missing_header);
  for (const char* bad : {"", "t=1700000000", "v1=248a374f50f943a28b0f6ab50faf9a7e7e29b710fa26df9fb1618b9bf8ea9c9a",
                          "t=abc,v1=248a374f50f943a28b0f6ab50faf9a7e7e29b710fa26df9fb1618b9bf8ea9c9a",
                          "t=1700000000,v1=248a", "t=1700000000,t=1700000000,v1=248a374f50f943a28b0f6ab50faf9a7e7e29b710fa26df9fb1618b9bf8ea9c9a"}) {
    CAPTURE(bad);
    CHECK(verify_stripe(std::string_view(bad), body, secret, at(1700000000)) == error::webhook_bad_signature);
  }
  CHECK(verify_stripe(good, body, "", at(1700000000)) == error::webhook_bad_secret);
  FakeRequest r{{{"stripe-signature", good}}};
  CHECK_FALSE(verify_stripe(r, body, secret, at(1700000000)));
}

TEST_CASE("verify_github", "[webhook][verifier]") {
  const std::string secret = "It's a Secret to Everybody";
  const std::string good = "sha256=757107ea0eb2509fc211221cce984b8a37570b6d7586c22c46f4379c8b043e17";
  CHECK_FALSE(verify_github(good, "Hello, World!", secret));
  CHECK(verify_github(good, "Hello, World?", secret) == error::webhook_bad_signature);
  CHECK(verify_github(good, "Hello, World!", "another") == error::webhook_bad_signature);
  CHECK(verify_github("sha1=757107ea0eb2509fc211221cce984b8a37570b6d7586c22c46f4379c8b043e17", "Hello, World!",
                      secret) == error::webhook_bad_signature);
  CHECK(verify_github("sha256=757107ea", "Hello, World!", secret) == error::webhook_bad_signature);
  CHECK(verify_github(std::nullopt, "Hello, World!", secret) == error::webhook_missing_header);
  CHECK(verify_github(good, "Hello, World!", "") == error::webhook_bad_secret);
  FakeRequest r{{{"x-hub-signature-256", good}}};
  CHECK_FALSE(verify_github(r, "Hello, World!", secret));
}

TEST_CASE("RecentIds: duplicates are seen, new ids are not", "[webhook][verifier]") {
  RecentIds ids;
  const auto t0 = at(1'700'000'000);
  CHECK_FALSE(ids.seen_or_insert("msg_1", t0));
  CHECK(ids.seen_or_insert("msg_1", t0));
  CHECK(ids.seen_or_insert("msg_1", t0 + seconds(599)));
  CHECK_FALSE(ids.seen_or_insert("msg_2", t0));
  CHECK(ids.size() == 2);
  CHECK(ids.options().capacity == 10'000);
}

TEST_CASE("RecentIds: the count bound forgets the oldest first", "[webhook][verifier]") {
  RecentIds ids({.capacity = 3, .max_age = seconds(600)});
  const auto t0 = at(1'700'000'000);
  for (const char* id : {"a", "b", "c", "d"}) CHECK_FALSE(ids.seen_or_insert(id, t0));
  CHECK(ids.size() == 3);
  CHECK_FALSE(ids.contains("a", t0));
  CHECK(ids.contains("b", t0));
  CHECK(ids.contains("d", t0));
  // Many more than the capacity: memory stays bounded.
  for (int i = 0; i < 10'000; ++i) ids.seen_or_insert("id" + std::to_string(i), t0);
  CHECK(ids.size() == 3);
  CHECK(ids.contains("id9999", t0));
  CHECK_FALSE(ids.contains("id9996", t0));
}

TEST_CASE("RecentIds: the age bound forgets old ids", "[webhook][verifier]") {
  RecentIds ids({.capacity = 100, .max_age = seconds(600)});
  const auto t0 = at(1'700'000'000);
  CHECK_FALSE(ids.seen_or_insert("old", t0));
  CHECK_FALSE(ids.seen_or_insert("newer", t0 + seconds(300)));
  CHECK(ids.contains("old", t0 + seconds(600)));
  CHECK_FALSE(ids.contains("old", t0 + seconds(601)));
  CHECK(ids.size() == 1);
  CHECK(ids.seen_or_insert("newer", t0 + seconds(900)));
  CHECK_FALSE(ids.seen_or_insert("newer", t0 + seconds(901)));  // forgotten, then remembered again
  // Long ids (no small-string optimisation) are kept correctly too.
  const std::string long_id(200, 'x');
  CHECK_FALSE(ids.seen_or_insert(long_id, t0 + seconds(901)));
  CHECK(ids.seen_or_insert(long_id, t0 + seconds(902)));
}
