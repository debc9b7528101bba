// herald: webhook signatures, sans-I/O. Standard Webhooks `v1` (HMAC-SHA256)
// and `v1a` (ed25519) signing and keys; Stripe and GitHub HMAC helpers.
// OpenSSL does the cryptography; every OpenSSL object is owned by a unique_ptr.
#pragma once
#include <herald/config.hpp>
#include <herald/core/base64.hpp>
#include <herald/core/error.hpp>

#include <openssl/core_names.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/params.h>
#include <openssl/rand.h>

#include <array>
#include <charconv>
#include <cstdint>
#include <memory>
#include <optional>
#include <span>
#include <stdexcept>
#include <string>
#include <string_view>
#include <system_error>
#include <vector>

namespace herald::webhook {

namespace detail {

struct EvpPkeyDeleter {
  void operator()(EVP_PKEY* p) const noexcept { EVP_PKEY_free(p); }
};
struct EvpMdCtxDeleter {
  void operator()(EVP_MD_CTX* p) const noexcept { EVP_MD_CTX_free(p); }
};
struct EvpMacDeleter {
  void operator()(EVP_MAC* p) const noexcept { EVP_MAC_free(p); }
};
struct EvpMacCtxDeleter {
  void operator()(EVP_MAC_CTX* p) const noexcept { EVP_MAC_CTX_free(p); }
};
using EvpPkeyPtr = std::unique_ptr<EVP_PKEY, EvpPkeyDeleter>;
using EvpMdCtxPtr = std::unique_ptr<EVP_MD_CTX, EvpMdCtxDeleter>;
using EvpMacPtr = std::unique_ptr<EVP_MAC, EvpMacDeleter>;
using EvpMacCtxPtr = std::unique_ptr<EVP_MAC_CTX, EvpMacCtxDeleter>;

/// A shared, reference-counted EVP_PKEY: copying takes a reference
/// (EVP_PKEY_up_ref) rather than the key material. OpenSSL 3 allows
/// concurrent signing and verification with one EVP_PKEY.
class PkeyRef {
 public:
  PkeyRef() = default;
  explicit PkeyRef(EvpPkeyPtr p) noexcept : p_(std::move(p)) {}
  PkeyRef(const PkeyRef& o) : p_(o.p_ ? (EVP_PKEY_up_ref(o.p_.get()), o.p_.get()) : nullptr) {}
  PkeyRef& operator=(const PkeyRef& o) {
    if (this != &o) *this = PkeyRef(o);
    return *this;
  }
  PkeyRef(PkeyRef&&) noexcept = default;
  PkeyRef& operator=(PkeyRef&&) noexcept = default;
  EVP_PKEY* get() const noexcept { return p_.get(); }
  explicit operator bool() const noexcept { return p_ != nullptr; }

 private:
  EvpPkeyPtr p_;
};

[[noreturn]] inline void throw_openssl(const char* what) {
  throw std::runtime_error(std::string("herald: OpenSSL failure in ") + what);
}

/// The HMAC implementation, fetched once: EVP_MAC_fetch is a provider look-up
/// we do not want per message.
HERALD_DECL EVP_MAC* hmac_impl() {
  static const EvpMacPtr mac(EVP_MAC_fetch(nullptr, "HMAC", nullptr));
  return mac.get();
}

/// HMAC-SHA256 of the concatenation of `parts` under `key` into `out`.
/// Returns false only if OpenSSL fails (allocation, provider missing).
HERALD_DECL bool hmac_sha256(std::string_view key, std::span<const std::string_view> parts,
                             std::array<unsigned char, 32>& out) noexcept {
  EVP_MAC* mac = hmac_impl();
  if (mac == nullptr || key.empty()) return false;
  EvpMacCtxPtr ctx(EVP_MAC_CTX_new(mac));
  if (!ctx) return false;
  char digest[] = "SHA256";
  const OSSL_PARAM params[] = {OSSL_PARAM_construct_utf8_string(OSSL_MAC_PARAM_DIGEST, digest, 0),
                               OSSL_PARAM_construct_end()};
  if (EVP_MAC_init(ctx.get(), reinterpret_cast<const unsigned char*>(key.data()), key.size(), params) != 1)
    return false;
  for (const std::string_view p : parts) {
    if (EVP_MAC_update(ctx.get(), reinterpret_cast<const unsigned char*>(p.data()), p.size()) != 1) return false;
  }
  std::size_t len = 0;
  return EVP_MAC_final(ctx.get(), out.data(), &len, out.size()) == 1 && len == out.size();
}

/// Unix seconds as decimal text, into a caller buffer (no allocation).
HERALD_DECL std::string_view format_timestamp(std::int64_t t, std::array<char, 24>& buf) noexcept {
  const auto r = std::to_chars(buf.data(), buf.data() + buf.size(), t);
  return {buf.data(), static_cast<std::size_t>(r.ptr - buf.data())};
}

HERALD_DECL void append_hex(std::string& out, const unsigned char* p, std::size_t n) {
  static constexpr char digits[] = "0123456789abcdef";
  for (std::size_t i = 0; i < n; ++i) {
    out.push_back(digits[p[i] >> 4]);
    out.push_back(digits[p[i] & 15]);
  }
}

/// Decodes exactly 64 hex digits (either case) into 32 bytes.
HERALD_DECL bool decode_hex32(std::string_view hex, std::array<unsigned char, 32>& out) noexcept {
  if (hex.size() != 64) return false;
  auto nib = [](char c) -> int {
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
  };
  for (std::size_t i = 0; i < 32; ++i) {
    const int hi = nib(hex[2 * i]), lo = nib(hex[2 * i + 1]);
    if (hi < 0 || lo < 0) return false;
    out[i] = static_cast<unsigned char>(hi << 4 | lo);
  }
  return true;
}

HERALD_DECL std::string_view strip_prefix(std::string_view s, std::string_view prefix) noexcept {
  return s.substr(0, prefix.size()) == prefix ? s.substr(prefix.size()) : s;
}

}  // namespace detail

/// What Standard Webhooks signs: `msg_id + "." + timestamp + "." + body`.
HERALD_DECL std::string signed_content(std::string_view msg_id, std::int64_t timestamp, std::string_view body) {
  std::array<char, 24> buf;
  const std::string_view ts = detail::format_timestamp(timestamp, buf);
  std::string s;
  s.reserve(msg_id.size() + ts.size() + body.size() + 2);
  s.append(msg_id).append(1, '.').append(ts).append(1, '.').append(body);
  return s;
}

// ------------------------------------------------------------------- v1 (HMAC)

/// A Standard Webhooks symmetric secret (`whsec_<base64>`): the decoded HMAC key.
///
/// @par Thread Safety
/// Immutable after construction; share freely.
class Secret {
 public:
  /// The textual prefix of a Standard Webhooks secret.
  static constexpr std::string_view prefix = "whsec_";

  Secret() = default;

  /// Parses `whsec_<base64>`, or bare base64 as the reference libraries also
  /// accept. Strict base64; an empty key is refused. On failure sets `ec` to
  /// error::webhook_bad_secret and returns an empty Secret.
  static Secret parse(std::string_view text, std::error_code& ec) {
    ec = {};
    auto key = base64_decode(detail::strip_prefix(text, prefix));
    if (!key || key->empty()) {
      ec = error::webhook_bad_secret;
      return {};
    }
    return Secret(std::move(*key));
  }

  /// A secret from raw key bytes (no decoding). An empty key makes an empty Secret.
  static Secret from_bytes(std::string_view key) { return Secret(std::string(key)); }

  /// A fresh random secret. 32 bytes by default: the HMAC-SHA256 block of
  /// security, and inside the 24..64 bytes Standard Webhooks recommends.
  /// @throws std::runtime_error if the OpenSSL RNG fails.
  static Secret generate(std::size_t size = 32) {
    std::string key(size, '\0');
    if (size == 0 || RAND_bytes(reinterpret_cast<unsigned char*>(key.data()), static_cast<int>(size)) != 1)
      detail::throw_openssl("RAND_bytes");
    return Secret(std::move(key));
  }

  /// `whsec_<base64 of the key>`.
  std::string to_string() const {
    std::string s(prefix);
    base64_append(s, key_.data(), key_.size());
    return s;
  }

  /// The raw HMAC key.
  std::string_view bytes() const noexcept { return key_; }
  bool empty() const noexcept { return key_.empty(); }

 private:
  explicit Secret(std::string key) : key_(std::move(key)) {}
  std::string key_;
};

/// HMAC-SHA256 over `msg_id.timestamp.body` without building that string.
/// Returns false only on an OpenSSL failure or an empty key.
HERALD_DECL bool hmac_v1(const Secret& secret, std::string_view msg_id, std::int64_t timestamp,
                         std::string_view body, std::array<unsigned char, 32>& mac) noexcept {
  std::array<char, 24> buf;
  const std::string_view parts[] = {msg_id, ".", detail::format_timestamp(timestamp, buf), ".", body};
  return detail::hmac_sha256(secret.bytes(), parts, mac);
}

/// Appends `v1,<base64 HMAC-SHA256(key, id.timestamp.body)>` to `out`.
/// @throws std::runtime_error if OpenSSL fails or the secret is empty (misuse).
HERALD_DECL void append_signature(std::string& out, std::string_view msg_id, std::int64_t timestamp,
                                  std::string_view body, const Secret& secret) {
  std::array<unsigned char, 32> mac;
  if (!hmac_v1(secret, msg_id, timestamp, body, mac)) detail::throw_openssl("HMAC-SHA256 (empty secret?)");
  out.append("v1,");
  base64_append(out, mac.data(), mac.size());
}

/// The `webhook-signature` value for one secret: `v1,<base64>`.
/// @par Example
/// @code
/// auto s = herald::webhook::Secret::parse("whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw", ec);
/// std::string sig = herald::webhook::sign("msg_p5jXN8AQM9LWM0D4loKWxJek", 1614265330,
///                                         R"({"test": 2432232314})", s);
/// // "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE="
/// @endcode
HERALD_DECL std::string sign(std::string_view msg_id, std::int64_t timestamp, std::string_view body,
                             const Secret& secret) {
  std::string out;
  out.reserve(47);
  append_signature(out, msg_id, timestamp, body, secret);
  return out;
}

// ------------------------------------------------------------------ v1a (ed25519)

/// An ed25519 public key for `v1a` (`whpk_<base64 of 32 bytes>`).
///
/// @par Thread Safety
/// Copies share one OpenSSL key by reference count; concurrent verify() is safe.
class VerifyingKey {
 public:
  static constexpr std::string_view prefix = "whpk_";

  VerifyingKey() = default;

  /// Parses `whpk_<base64>` (or bare base64) of a 32-byte public key; sets
  /// `ec` to error::webhook_bad_secret if malformed.
  static VerifyingKey parse(std::string_view text, std::error_code& ec) {
    const auto raw = base64_decode(detail::strip_prefix(text, prefix));
    if (!raw) {
      ec = error::webhook_bad_secret;
      return {};
    }
    return from_bytes(*raw, ec);
  }

  /// From the 32 raw bytes of the public key.
  static VerifyingKey from_bytes(std::string_view raw, std::error_code& ec) {
    ec = {};
    if (raw.size() != 32) {
      ec = error::webhook_bad_secret;
      return {};
    }
    detail::EvpPkeyPtr k(EVP_PKEY_new_raw_public_key(EVP_PKEY_ED25519, nullptr,
                                                     reinterpret_cast<const unsigned char*>(raw.data()), raw.size()));
    if (!k) {
      ec = error::webhook_bad_secret;
      return {};
    }
    return VerifyingKey(detail::PkeyRef(std::move(k)));
  }

  /// The 32 raw bytes, or empty for an empty key.
  std::string bytes() const {
    std::string raw(32, '\0');
    std::size_t len = raw.size();
    if (!key_ || EVP_PKEY_get_raw_public_key(key_.get(), reinterpret_cast<unsigned char*>(raw.data()), &len) != 1)
      return {};
    raw.resize(len);
    return raw;
  }

  /// `whpk_<base64>`.
  std::string to_string() const { return std::string(prefix) + base64_encode(bytes()); }

  /// True if `sig` (64 raw bytes) is this key's ed25519 signature of `message`.
  bool verify(std::string_view message, std::string_view sig) const noexcept {
    if (!key_ || sig.size() != 64) return false;
    detail::EvpMdCtxPtr ctx(EVP_MD_CTX_new());
    if (!ctx || EVP_DigestVerifyInit(ctx.get(), nullptr, nullptr, nullptr, key_.get()) != 1) return false;
    return EVP_DigestVerify(ctx.get(), reinterpret_cast<const unsigned char*>(sig.data()), sig.size(),
                            reinterpret_cast<const unsigned char*>(message.data()), message.size()) == 1;
  }

  bool empty() const noexcept { return !key_; }

 private:
  friend class SigningKey;
  explicit VerifyingKey(detail::PkeyRef k) noexcept : key_(std::move(k)) {}
  detail::PkeyRef key_;
};

/// An ed25519 secret key for `v1a` (`whsk_<base64>`).
///
/// Parses the base64 of the 32-byte seed, or of 64 bytes seed + public key (the
/// libsodium layout); in the latter the public half must match the seed.
/// to_string() writes the 64-byte form so libsodium-based tools can read it.
///
/// @par Thread Safety
/// Copies share one OpenSSL key by reference count; concurrent sign() is safe.
class SigningKey {
 public:
  static constexpr std::string_view prefix = "whsk_";

  SigningKey() = default;

  /// Parses `whsk_<base64>` (or bare base64); error::webhook_bad_secret if malformed.
  static SigningKey parse(std::string_view text, std::error_code& ec) {
    ec = {};
    const auto raw = base64_decode(detail::strip_prefix(text, prefix));
    if (!raw || (raw->size() != 32 && raw->size() != 64)) {
      ec = error::webhook_bad_secret;
      return {};
    }
    SigningKey k = from_seed(std::string_view(*raw).substr(0, 32), ec);
    if (!ec && raw->size() == 64 && k.public_key().bytes() != std::string_view(*raw).substr(32)) {
      ec = error::webhook_bad_secret;  // seed and public half disagree: a corrupted key
      return {};
    }
    return k;
  }

  /// From the 32-byte seed.
  static SigningKey from_seed(std::string_view seed, std::error_code& ec) {
    ec = {};
    if (seed.size() != 32) {
      ec = error::webhook_bad_secret;
      return {};
    }
    detail::EvpPkeyPtr k(EVP_PKEY_new_raw_private_key(EVP_PKEY_ED25519, nullptr,
                                                      reinterpret_cast<const unsigned char*>(seed.data()), seed.size()));
    if (!k) {
      ec = error::webhook_bad_secret;
      return {};
    }
    return SigningKey(detail::PkeyRef(std::move(k)));
  }

  /// A fresh key pair from OpenSSL's RNG.
  /// @throws std::runtime_error if OpenSSL fails.
  static SigningKey generate() {
    std::array<unsigned char, 32> seed;
    if (RAND_bytes(seed.data(), static_cast<int>(seed.size())) != 1) detail::throw_openssl("RAND_bytes");
    std::error_code ec;
    SigningKey k = from_seed({reinterpret_cast<const char*>(seed.data()), seed.size()}, ec);
    OPENSSL_cleanse(seed.data(), seed.size());
    if (ec) detail::throw_openssl("EVP_PKEY_new_raw_private_key");
    return k;
  }

  /// The public half, for receivers.
  VerifyingKey public_key() const {
    std::array<unsigned char, 32> pub;
    std::size_t len = pub.size();
    if (!key_ || EVP_PKEY_get_raw_public_key(key_.get(), pub.data(), &len) != 1) return {};
    std::error_code ec;
    return VerifyingKey::from_bytes({reinterpret_cast<const char*>(pub.data()), len}, ec);
  }

  /// `whsk_<base64 of seed + public key>` (64 bytes).
  std::string to_string() const {
    std::string raw(32, '\0');
    std::size_t len = raw.size();
    if (!key_ || EVP_PKEY_get_raw_private_key(key_.get(), reinterpret_cast<unsigned char*>(raw.data()), &len) != 1)
      return {};
    raw += public_key().bytes();
    std::string s(prefix);
    base64_append(s, raw.data(), raw.size());
    OPENSSL_cleanse(raw.data(), raw.size());
    return s;
  }

  /// The 64-byte ed25519 signature of `message`.
  /// @throws std::runtime_error if the key is empty or OpenSSL fails.
  std::array<unsigned char, 64> sign_raw(std::string_view message) const {
    std::array<unsigned char, 64> sig;
    std::size_t len = sig.size();
    detail::EvpMdCtxPtr ctx(EVP_MD_CTX_new());
    if (!key_ || !ctx || EVP_DigestSignInit(ctx.get(), nullptr, nullptr, nullptr, key_.get()) != 1 ||
        EVP_DigestSign(ctx.get(), sig.data(), &len, reinterpret_cast<const unsigned char*>(message.data()),
                       message.size()) != 1 ||
        len != sig.size())
      detail::throw_openssl("ed25519 EVP_DigestSign");
    return sig;
  }

  bool empty() const noexcept { return !key_; }

 private:
  explicit SigningKey(detail::PkeyRef k) noexcept : key_(std::move(k)) {}
  detail::PkeyRef key_;
};

/// Appends `v1a,<base64 ed25519 signature of id.timestamp.body>` to `out`.
/// @throws std::runtime_error if the key is empty or OpenSSL fails.
HERALD_DECL void append_signature(std::string& out, std::string_view msg_id, std::int64_t timestamp,
                                  std::string_view body, const SigningKey& key) {
  const auto sig = key.sign_raw(signed_content(msg_id, timestamp, body));
  out.append("v1a,");
  base64_append(out, sig.data(), sig.size());
}

/// The `webhook-signature` value for one ed25519 key: `v1a,<base64>`.
HERALD_DECL std::string sign(std::string_view msg_id, std::int64_t timestamp, std::string_view body,
                             const SigningKey& key) {
  std::string out;
  append_signature(out, msg_id, timestamp, body, key);
  return out;
}

/// The `webhook-signature` value for several keys, space-separated, as during
/// a secret rotation (old and new both sign, so receivers holding either one
/// accept the message). Symmetric signatures first, then asymmetric.
HERALD_DECL std::string sign(std::string_view msg_id, std::int64_t timestamp, std::string_view body,
                             std::span<const Secret> secrets, std::span<const SigningKey> keys = {}) {
  std::string out;
  out.reserve(secrets.size() * 48 + keys.size() * 93);
  for (const Secret& s : secrets) {
    if (!out.empty()) out.push_back(' ');
    append_signature(out, msg_id, timestamp, body, s);
  }
  if (!keys.empty()) {
    const std::string content = signed_content(msg_id, timestamp, body);  // once for every key
    for (const SigningKey& k : keys) {
      if (!out.empty()) out.push_back(' ');
      const auto sig = k.sign_raw(content);
      out.append("v1a,");
      base64_append(out, sig.data(), sig.size());
    }
  }
  return out;
}

/// An endpoint's signing keys: `v1` secrets (`whsec_...`, HMAC-SHA256) and
/// `v1a` keys (`whsk_...`, ed25519), in any mix. Every key signs every
/// message, so `webhook-signature` carries one space-separated entry per key
/// (`v1,<base64> v1a,<base64>`). That is how a key is rotated: add the new one
/// (deliveries carry both, and a receiver holding either accepts them), and
/// remove the old one once every receiver has the new one.
///
/// @par Example
/// @code
/// std::error_code ec;
/// auto keys = herald::webhook::SigningKeys::parse("whsec_OLD... whsec_NEW...", ec);
/// std::string header = keys.sign(msg_id, timestamp, body);  // "v1,... v1,..."
/// @endcode
///
/// @par Thread Safety
/// Immutable after construction; copies share the OpenSSL keys; sign() may run
/// concurrently.
class SigningKeys {
 public:
  SigningKeys() = default;

  /// Parses a list of keys separated by spaces: `whsk_<base64>` is an ed25519
  /// key (v1a); anything else is a v1 secret as Secret::parse reads it
  /// (`whsec_<base64>`, or bare base64). A public key (`whpk_`) signs nothing
  /// and is refused. An empty list or a malformed key sets `ec` to
  /// error::webhook_bad_secret and returns an empty set.
  static SigningKeys parse(std::string_view list, std::error_code& ec) {
    ec = {};
    SigningKeys out;
    while (!list.empty()) {
      const std::size_t sp = list.find(' ');
      const std::string_view k = list.substr(0, sp);
      list.remove_prefix(sp == std::string_view::npos ? list.size() : sp + 1);
      if (k.empty()) continue;
      if (k.starts_with(VerifyingKey::prefix)) ec = error::webhook_bad_secret;
      else if (k.starts_with(SigningKey::prefix)) out.keys_.push_back(SigningKey::parse(k, ec));
      else out.secrets_.push_back(Secret::parse(k, ec));
      if (ec) return {};
    }
    if (out.empty()) {
      ec = error::webhook_bad_secret;
      return {};
    }
    return out;
  }

  void add(Secret s) { secrets_.push_back(std::move(s)); }
  void add(SigningKey k) { keys_.push_back(std::move(k)); }

  /// The `webhook-signature` value: one entry per key, v1 entries first.
  /// @throws std::runtime_error if the set is empty or OpenSSL fails.
  std::string sign(std::string_view msg_id, std::int64_t timestamp, std::string_view body) const {
    if (empty()) detail::throw_openssl("signing (no key)");
    return webhook::sign(msg_id, timestamp, body, secrets_, keys_);
  }

  std::span<const Secret> secrets() const noexcept { return secrets_; }
  std::span<const SigningKey> keys() const noexcept { return keys_; }
  std::size_t size() const noexcept { return secrets_.size() + keys_.size(); }
  bool empty() const noexcept { return size() == 0; }

 private:
  std::vector<Secret> secrets_;
  std::vector<SigningKey> keys_;
};

// ----------------------------------------------------------- Stripe and GitHub

/// A `Stripe-Signature` value, `t=<timestamp>,v1=<hex HMAC-SHA256(secret, "t.body")>`.
/// Stripe's `whsec_...` secret is the raw HMAC key as written, prefix
/// included: it is NOT base64-decoded, unlike Standard Webhooks. For tests and
/// for services that emit Stripe-compatible signatures.
/// @throws std::runtime_error if `secret` is empty or OpenSSL fails.
HERALD_DECL std::string stripe_sign(std::string_view secret, std::int64_t timestamp, std::string_view body) {
  std::array<char, 24> buf;
  const std::string_view ts = detail::format_timestamp(timestamp, buf);
  const std::string_view parts[] = {ts, ".", body};
  std::array<unsigned char, 32> mac;
  if (!detail::hmac_sha256(secret, parts, mac)) detail::throw_openssl("HMAC-SHA256 (empty secret?)");
  std::string out = "t=";
  out.append(ts).append(",v1=");
  detail::append_hex(out, mac.data(), mac.size());
  return out;
}

/// An `X-Hub-Signature-256` value, `sha256=<hex HMAC-SHA256(secret, body)>`,
/// with the secret as raw bytes, as GitHub does.
/// @throws std::runtime_error if `secret` is empty or OpenSSL fails.
HERALD_DECL std::string github_sign(std::string_view secret, std::string_view body) {
  const std::string_view parts[] = {body};
  std::array<unsigned char, 32> mac;
  if (!detail::hmac_sha256(secret, parts, mac)) detail::throw_openssl("HMAC-SHA256 (empty secret?)");
  std::string out = "sha256=";
  detail::append_hex(out, mac.data(), mac.size());
  return out;
}

}  // namespace herald::webhook
