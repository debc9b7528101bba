// herald: base64 (RFC 4648 section 4) and base64url without padding (section 5).
// Standard Webhooks secrets and signatures are standard base64; JWTs are
// base64url without padding. Decoding is strict: a secret or token that is not
// canonical is refused rather than guessed at.
#pragma once
#include <herald/config.hpp>

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace herald {

namespace detail {

inline constexpr char base64_std_alphabet[] =
    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
inline constexpr char base64_url_alphabet[] =
    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

/// Reverse table for one alphabet: 0..63 for a digit, 0xFF for anything else.
struct Base64Reverse {
  std::uint8_t v[256];
  constexpr explicit Base64Reverse(const char* alphabet) : v{} {
    for (auto& x : v) x = 0xFF;
    for (int i = 0; i < 64; ++i) v[static_cast<unsigned char>(alphabet[i])] = static_cast<std::uint8_t>(i);
  }
};
inline constexpr Base64Reverse base64_std_reverse{base64_std_alphabet};
inline constexpr Base64Reverse base64_url_reverse{base64_url_alphabet};

HERALD_DECL void base64_append(std::string& out, const unsigned char* p, std::size_t n,
                               const char* alphabet, bool pad) {
  std::size_t i = 0;
  for (; i + 3 <= n; i += 3) {
    const std::uint32_t w = (std::uint32_t{p[i]} << 16) | (std::uint32_t{p[i + 1]} << 8) | p[i + 2];
    out.push_back(alphabet[(w >> 18) & 63]);
    out.push_back(alphabet[(w >> 12) & 63]);
    out.push_back(alphabet[(w >> 6) & 63]);
    out.push_back(alphabet[w & 63]);
  }
  const std::size_t rest = n - i;
  if (rest == 1) {
    const std::uint32_t w = std::uint32_t{p[i]} << 16;
    out.push_back(alphabet[(w >> 18) & 63]);
    out.push_back(alphabet[(w >> 12) & 63]);
    if (pad) out.append("==");
  } else if (rest == 2) {
    const std::uint32_t w = (std::uint32_t{p[i]} << 16) | (std::uint32_t{p[i + 1]} << 8);
    out.push_back(alphabet[(w >> 18) & 63]);
    out.push_back(alphabet[(w >> 12) & 63]);
    out.push_back(alphabet[(w >> 6) & 63]);
    if (pad) out.push_back('=');
  }
}

/// Decodes `in` (padding already stripped and validated by the caller).
/// Refuses a length of 1 mod 4, a character outside the alphabet, and non-zero
/// bits in the last digit (RFC 4648 section 3.5: "MAY reject"; we do, so each
/// byte string has exactly one accepted encoding).
HERALD_DECL std::optional<std::string> base64_decode_digits(std::string_view in,
                                                            const Base64Reverse& rev) {
  if (in.size() % 4 == 1) return std::nullopt;
  std::string out;
  out.reserve(in.size() / 4 * 3 + 2);
  std::uint32_t acc = 0;
  int bits = 0;
  for (const char c : in) {
    const std::uint8_t d = rev.v[static_cast<unsigned char>(c)];
    if (d == 0xFF) return std::nullopt;
    acc = (acc << 6) | d;
    bits += 6;
    if (bits >= 8) {
      bits -= 8;
      out.push_back(static_cast<char>((acc >> bits) & 0xFF));
    }
  }
  if ((acc & ((1u << bits) - 1)) != 0) return std::nullopt;  // non-canonical trailing bits
  return out;
}

}  // namespace detail

/// Appends the standard base64 of `n` bytes at `p`, with `=` padding.
HERALD_DECL void base64_append(std::string& out, const void* p, std::size_t n) {
  out.reserve(out.size() + (n + 2) / 3 * 4);
  detail::base64_append(out, static_cast<const unsigned char*>(p), n, detail::base64_std_alphabet, true);
}

/// Standard base64 with padding.
HERALD_DECL std::string base64_encode(std::string_view bytes) {
  std::string out;
  base64_append(out, bytes.data(), bytes.size());
  return out;
}

/// Strict standard base64 decoding: the length must be a multiple of 4, `=`
/// only as one or two final characters, no whitespace, no other characters,
/// unused trailing bits zero. Returns nullopt otherwise.
HERALD_DECL std::optional<std::string> base64_decode(std::string_view text) {
  if (text.size() % 4 != 0) return std::nullopt;
  std::size_t pad = 0;
  if (!text.empty() && text.back() == '=') {
    pad = (text.size() >= 2 && text[text.size() - 2] == '=') ? 2 : 1;
  }
  // A '=' anywhere but the tail is then caught as a bad digit below.
  return detail::base64_decode_digits(text.substr(0, text.size() - pad), detail::base64_std_reverse);
}

/// Appends base64url (`-` and `_`) without padding, as JWT (RFC 7515) uses.
HERALD_DECL void base64url_append(std::string& out, const void* p, std::size_t n) {
  out.reserve(out.size() + (n * 4 + 2) / 3);
  detail::base64_append(out, static_cast<const unsigned char*>(p), n, detail::base64_url_alphabet, false);
}

/// base64url without padding.
HERALD_DECL std::string base64url_encode(std::string_view bytes) {
  std::string out;
  base64url_append(out, bytes.data(), bytes.size());
  return out;
}

/// Strict base64url decoding without padding: `=` is refused (JWT segments
/// never carry it), as are `+`, `/`, and non-zero unused trailing bits.
HERALD_DECL std::optional<std::string> base64url_decode(std::string_view text) {
  return detail::base64_decode_digits(text, detail::base64_url_reverse);
}

}  // namespace herald
