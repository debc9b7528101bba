// herald: the OpenSSL primitives behind JWS (RFC 7515/7518/8037): HMAC-SHA256,
// ECDSA P-256 with SHA-256 in the raw r||s form, and Ed25519. Private to
// auth/jwt.hpp; every function reports failure by its return value and
// leaves OpenSSL's error queue empty.
#pragma once
#include <herald/config.hpp>

#include <openssl/bio.h>
#include <openssl/bn.h>
#include <openssl/core_names.h>
#include <openssl/crypto.h>
#include <openssl/ec.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/pem.h>

#include <array>
#include <cstddef>
#include <cstring>
#include <memory>
#include <optional>
#include <string>
#include <string_view>

namespace herald::auth::detail {

struct PkeyFree {
  void operator()(EVP_PKEY* p) const noexcept { EVP_PKEY_free(p); }
};
struct MdCtxFree {
  void operator()(EVP_MD_CTX* p) const noexcept { EVP_MD_CTX_free(p); }
};
struct BioFree {
  void operator()(BIO* p) const noexcept { BIO_free(p); }
};
struct EcdsaSigFree {
  void operator()(ECDSA_SIG* p) const noexcept { ECDSA_SIG_free(p); }
};

/// Shared, immutable after loading: OpenSSL 3 allows one EVP_PKEY to serve
/// concurrent verifications, each with its own EVP_MD_CTX.
using PkeyPtr = std::shared_ptr<EVP_PKEY>;

/// Which asymmetric key a JWS algorithm needs.
enum class KeyKind { ec_p256, ed25519 };

/// Refuses to prompt: an encrypted PEM without a passphrase fails to load
/// instead of OpenSSL asking on the terminal.
HERALD_DECL int no_passphrase(char*, int, int, void*) { return 0; }

HERALD_DECL bool pkey_is(EVP_PKEY* k, KeyKind kind) noexcept {
  if (kind == KeyKind::ed25519) return EVP_PKEY_get_base_id(k) == EVP_PKEY_ED25519;
  if (EVP_PKEY_get_base_id(k) != EVP_PKEY_EC) return false;
  char group[64] = {};
  std::size_t len = 0;
  if (EVP_PKEY_get_group_name(k, group, sizeof group, &len) != 1) return false;
  return std::string_view(group, len) == "prime256v1" || std::string_view(group, len) == "P-256";
}

/// Loads a PEM key of `kind`. With `private_key` a private key is required
/// (for signing); otherwise a public key (SubjectPublicKeyInfo) or a private
/// key, whose public half is used. nullptr when the text is not such a key.
HERALD_DECL PkeyPtr load_pem_key(std::string_view pem, KeyKind kind, bool private_key) {
  if (pem.size() > 64 * 1024) return nullptr;
  auto read = [&](bool priv) -> EVP_PKEY* {
    std::unique_ptr<BIO, BioFree> bio(BIO_new_mem_buf(pem.data(), static_cast<int>(pem.size())));
    if (!bio) return nullptr;
    return priv ? PEM_read_bio_PrivateKey(bio.get(), nullptr, no_passphrase, nullptr)
                : PEM_read_bio_PUBKEY(bio.get(), nullptr, no_passphrase, nullptr);
  };
  EVP_PKEY* k = private_key ? read(true) : read(false);
  if (!k && !private_key) k = read(true);
  ERR_clear_error();
  if (!k) return nullptr;
  PkeyPtr p(k, PkeyFree{});
  if (!pkey_is(k, kind)) return nullptr;
  return p;
}

/// HMAC-SHA256 of `data` under `key`.
HERALD_DECL std::optional<std::array<unsigned char, 32>> hmac_sha256(std::string_view key, std::string_view data) {
  std::array<unsigned char, 32> out{};
  unsigned int len = 0;
  // A zero-length key still needs a valid pointer.
  static const unsigned char empty = 0;
  const void* k = key.empty() ? static_cast<const void*>(&empty) : key.data();
  if (!HMAC(EVP_sha256(), k, static_cast<int>(key.size()), reinterpret_cast<const unsigned char*>(data.data()),
            data.size(), out.data(), &len) ||
      len != out.size()) {
    ERR_clear_error();
    return std::nullopt;
  }
  return out;
}

/// Whether `sig` is the HS256 signature of `data`: compared in constant time,
/// so the time taken says nothing about how many bytes matched.
HERALD_DECL bool verify_hs256(std::string_view key, std::string_view data, std::string_view sig) {
  if (sig.size() != 32) return false;
  const auto mac = hmac_sha256(key, data);
  return mac && CRYPTO_memcmp(mac->data(), sig.data(), 32) == 0;
}

/// Whether `sig` (64 bytes: r then s, big-endian, as JWS ES256 carries them,
/// RFC 7518 section 3.4) is an ECDSA P-256/SHA-256 signature of `data`.
/// OpenSSL wants DER, so r and s are wrapped in an ECDSA-Sig-Value first.
HERALD_DECL bool verify_es256(EVP_PKEY* key, std::string_view data, std::string_view sig) {
  if (sig.size() != 64) return false;
  const auto* p = reinterpret_cast<const unsigned char*>(sig.data());
  std::unique_ptr<ECDSA_SIG, EcdsaSigFree> es(ECDSA_SIG_new());
  BIGNUM* r = BN_bin2bn(p, 32, nullptr);
  BIGNUM* s = BN_bin2bn(p + 32, 32, nullptr);
  if (!es || !r || !s || ECDSA_SIG_set0(es.get(), r, s) != 1) {
    BN_free(r);
    BN_free(s);
    ERR_clear_error();
    return false;
  }
  unsigned char* der = nullptr;
  const int der_len = i2d_ECDSA_SIG(es.get(), &der);
  bool ok = false;
  if (der_len > 0) {
    std::unique_ptr<EVP_MD_CTX, MdCtxFree> ctx(EVP_MD_CTX_new());
    ok = ctx && EVP_DigestVerifyInit(ctx.get(), nullptr, EVP_sha256(), nullptr, key) == 1 &&
         EVP_DigestVerify(ctx.get(), der, static_cast<std::size_t>(der_len),
                          reinterpret_cast<const unsigned char*>(data.data()), data.size()) == 1;
  }
  OPENSSL_free(der);
  ERR_clear_error();
  return ok;
}

/// Whether `sig` (64 bytes) is an Ed25519 signature of `data` (RFC 8037).
HERALD_DECL bool verify_ed25519(EVP_PKEY* key, std::string_view data, std::string_view sig) {
  if (sig.size() != 64) return false;
  std::unique_ptr<EVP_MD_CTX, MdCtxFree> ctx(EVP_MD_CTX_new());
  const bool ok = ctx && EVP_DigestVerifyInit(ctx.get(), nullptr, nullptr, nullptr, key) == 1 &&
                  EVP_DigestVerify(ctx.get(), reinterpret_cast<const unsigned char*>(sig.data()), sig.size(),
                                   reinterpret_cast<const unsigned char*>(data.data()), data.size()) == 1;
  ERR_clear_error();
  return ok;
}

/// ES256 signature of `data` in the JWS r||s form, or nullopt.
HERALD_DECL std::optional<std::string> sign_es256(EVP_PKEY* key, std::string_view data) {
  std::unique_ptr<EVP_MD_CTX, MdCtxFree> ctx(EVP_MD_CTX_new());
  unsigned char der[80];  // a P-256 DER signature is at most 72 bytes
  std::size_t der_len = sizeof der;
  if (!ctx || EVP_DigestSignInit(ctx.get(), nullptr, EVP_sha256(), nullptr, key) != 1 ||
      EVP_DigestSign(ctx.get(), der, &der_len, reinterpret_cast<const unsigned char*>(data.data()), data.size()) != 1) {
    ERR_clear_error();
    return std::nullopt;
  }
  const unsigned char* p = der;
  std::unique_ptr<ECDSA_SIG, EcdsaSigFree> es(d2i_ECDSA_SIG(nullptr, &p, static_cast<long>(der_len)));
  if (!es) {
    ERR_clear_error();
    return std::nullopt;
  }
  const BIGNUM* r = nullptr;
  const BIGNUM* s = nullptr;
  ECDSA_SIG_get0(es.get(), &r, &s);
  std::string out(64, '\0');
  auto* o = reinterpret_cast<unsigned char*>(out.data());
  if (BN_bn2binpad(r, o, 32) != 32 || BN_bn2binpad(s, o + 32, 32) != 32) {
    ERR_clear_error();
    return std::nullopt;
  }
  return out;
}

/// Ed25519 signature of `data`, or nullopt.
HERALD_DECL std::optional<std::string> sign_ed25519(EVP_PKEY* key, std::string_view data) {
  std::unique_ptr<EVP_MD_CTX, MdCtxFree> ctx(EVP_MD_CTX_new());
  std::string out(64, '\0');
  std::size_t len = out.size();
  if (!ctx || EVP_DigestSignInit(ctx.get(), nullptr, nullptr, nullptr, key) != 1 ||
      EVP_DigestSign(ctx.get(), reinterpret_cast<unsigned char*>(out.data()), &len,
                     reinterpret_cast<const unsigned char*>(data.data()), data.size()) != 1 ||
      len != 64) {
    ERR_clear_error();
    return std::nullopt;
  }
  return out;
}

}  // namespace herald::auth::detail
