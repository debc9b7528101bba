// Test support: a self-signed certificate for "localhost", made at test time
// with OpenSSL, loaded into Asio SSL contexts. No files, nothing committed.
#pragma once
#include <asio/ssl.hpp>

#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include <memory>
#include <stdexcept>
#include <string>

namespace test {

struct SelfSigned {
  std::string cert_pem, key_pem;
};

inline SelfSigned make_self_signed(const char* cn = "localhost") {
  auto fail = [](const char* what) -> SelfSigned { throw std::runtime_error(what); };
  std::unique_ptr<EVP_PKEY, decltype(&EVP_PKEY_free)> key(EVP_EC_gen("P-256"), EVP_PKEY_free);
  if (!key) return fail("EVP_EC_gen");
  std::unique_ptr<X509, decltype(&X509_free)> x(X509_new(), X509_free);
  X509_set_version(x.get(), 2);
  ASN1_INTEGER_set(X509_get_serialNumber(x.get()), 1);
  X509_gmtime_adj(X509_getm_notBefore(x.get()), -3600);
  X509_gmtime_adj(X509_getm_notAfter(x.get()), 24 * 3600);
  X509_set_pubkey(x.get(), key.get());
  X509_NAME* name = X509_get_subject_name(x.get());
  X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_ASC, reinterpret_cast<const unsigned char*>(cn), -1, -1, 0);
  X509_set_issuer_name(x.get(), name);
  X509V3_CTX ctx;
  X509V3_set_ctx_nodb(&ctx);
  X509V3_set_ctx(&ctx, x.get(), x.get(), nullptr, nullptr, 0);
  std::string san = std::string("DNS:") + cn + ",IP:127.0.0.1";
  if (X509_EXTENSION* ext = X509V3_EXT_conf_nid(nullptr, &ctx, NID_subject_alt_name, san.c_str())) {
    X509_add_ext(x.get(), ext, -1);
    X509_EXTENSION_free(ext);
  }
  if (!X509_sign(x.get(), key.get(), EVP_sha256())) return fail("X509_sign");
  auto to_pem = [](auto write) {
    std::unique_ptr<BIO, decltype(&BIO_free)> bio(BIO_new(BIO_s_mem()), BIO_free);
    write(bio.get());
    char* data = nullptr;
    long n = BIO_get_mem_data(bio.get(), &data);
    return std::string(data, static_cast<std::size_t>(n));
  };
  SelfSigned s;
  s.cert_pem = to_pem([&](BIO* b) { PEM_write_bio_X509(b, x.get()); });
  s.key_pem = to_pem([&](BIO* b) { PEM_write_bio_PrivateKey(b, key.get(), nullptr, nullptr, 0, nullptr, nullptr); });
  return s;
}

inline asio::ssl::context server_context(const SelfSigned& s) {
  asio::ssl::context ctx(asio::ssl::context::tls_server);
  ctx.use_certificate_chain(asio::buffer(s.cert_pem));
  ctx.use_private_key(asio::buffer(s.key_pem), asio::ssl::context::pem);
  return ctx;
}

inline asio::ssl::context client_context(const SelfSigned& s) {
  asio::ssl::context ctx(asio::ssl::context::tls_client);
  ctx.add_certificate_authority(asio::buffer(s.cert_pem));
  ctx.set_verify_mode(asio::ssl::verify_peer);
  return ctx;
}

}  // namespace test
