// herald: verifying received webhooks, sans-I/O. Standard Webhooks (`v1`,
// `v1a`), Stripe (`Stripe-Signature`) and GitHub (`X-Hub-Signature-256`), and a
// bounded cache of recent message ids against replays.
#pragma once
#include <herald/config.hpp>
#include <herald/core/error.hpp>
#include <herald/http/request_like.hpp>
#include <herald/webhook/signature.hpp>

#include <openssl/crypto.h>

#include <chrono>
#include <cstdint>
#include <deque>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <system_error>
#include <unordered_set>

namespace herald::webhook {

/// Five minutes, both ways: the tolerance of the Standard Webhooks reference
/// libraries and of Stripe's, long enough for clock skew and slow queues,
/// short enough that a captured request soon stops being replayable.
inline constexpr std::chrono::seconds default_tolerance{300};

/// Signature entries examined per header: bounds the work (an ed25519 check is
/// tens of microseconds) that one request can make a receiver do.
inline constexpr std::size_t max_signatures_examined = 16;

namespace detail {

/// Parses Unix seconds: 1 to 18 ASCII digits, nothing else (no sign, no
/// spaces), so it cannot overflow.
HERALD_DECL std::optional<std::int64_t> parse_unix_seconds(std::string_view s) noexcept {
  if (s.empty() || s.size() > 18) return std::nullopt;
  std::int64_t v = 0;
  for (const char c : s) {
    if (c < '0' || c > '9') return std::nullopt;
    v = v * 10 + (c - '0');
  }
  return v;
}

HERALD_DECL bool within_tolerance(std::int64_t ts, std::chrono::system_clock::time_point now,
                                  std::chrono::seconds tolerance) noexcept {
  const std::int64_t n = std::chrono::duration_cast<std::chrono::seconds>(now.time_since_epoch()).count();
  const std::int64_t d = n > ts ? n - ts : ts - n;
  return d <= tolerance.count();
}

/// Constant-time equality for equal lengths; lengths themselves are public.
HERALD_DECL bool equal_ct(const void* a, std::size_t an, const void* b, std::size_t bn) noexcept {
  return an == bn && CRYPTO_memcmp(a, b, an) == 0;
}

}  // namespace detail

/// The three Standard Webhooks headers; an absent one is nullopt.
struct StandardHeaders {
  std::optional<std::string_view> id;         ///< `webhook-id`
  std::optional<std::string_view> timestamp;  ///< `webhook-timestamp`, Unix seconds
  std::optional<std::string_view> signature;  ///< `webhook-signature`, space-separated `scheme,value`

  /// Reads them through a look-up `f(name) -> std::optional<std::string_view>`.
  template <class Lookup>
    requires std::invocable<Lookup&, std::string_view>
  static StandardHeaders from_lookup(Lookup&& f) {
    return {f("webhook-id"), f("webhook-timestamp"), f("webhook-signature")};
  }

  /// Reads them from a request (see herald::http::RequestLike).
  template <http::RequestLike R>
  static StandardHeaders from(const R& r) {
    return from_lookup([&](std::string_view n) -> std::optional<std::string_view> { return r.header(n); });
  }
};

/// Verifies a Standard Webhooks delivery.
///
/// In order: the three headers must be present (error::webhook_missing_header);
/// the timestamp must be decimal Unix seconds (else error::webhook_bad_signature)
/// within `tolerance` of `now`, past or future (error::webhook_stale_timestamp);
/// then one of the space-separated entries must match: `v1,<base64>` against
/// any of `secrets` (compared in constant time) or `v1a,<base64>` against any of
/// `public_keys` (ed25519). Entries of other schemes are skipped; past
/// max_signatures_examined entries the rest are ignored. No match:
/// error::webhook_bad_signature.
///
/// `body` is the raw request body, byte for byte as received.
/// @note Call RecentIds::seen_or_insert only after this succeeded, so forged
/// requests cannot fill the replay cache.
HERALD_DECL std::error_code verify_standard(const StandardHeaders& h, std::string_view body,
                                            std::span<const Secret> secrets,
                                            std::span<const VerifyingKey> public_keys,
                                            std::chrono::system_clock::time_point now,
                                            std::chrono::seconds tolerance = default_tolerance) {
  if (!h.id || !h.timestamp || !h.signature) return error::webhook_missing_header;
  const auto ts = detail::parse_unix_seconds(*h.timestamp);
  if (!ts) return error::webhook_bad_signature;
  if (!detail::within_tolerance(*ts, now, tolerance)) return error::webhook_stale_timestamp;

  // Split once; entries past the budget are ignored.
  std::array<std::string_view, max_signatures_examined> schemes, values;
  std::size_t n = 0;
  bool has_v1 = false, has_v1a = false;
  const std::string_view header = *h.signature;
  for (std::size_t pos = 0; pos < header.size() && n < max_signatures_examined;) {
    const std::size_t sp = header.find(' ', pos);
    const std::string_view entry = header.substr(pos, sp == std::string_view::npos ? sp : sp - pos);
    pos = sp == std::string_view::npos ? header.size() : sp + 1;
    const std::size_t comma = entry.find(',');
    if (comma == std::string_view::npos) continue;  // empty (double space) or not `scheme,value`
    schemes[n] = entry.substr(0, comma);
    values[n] = entry.substr(comma + 1);
    has_v1 |= schemes[n] == "v1";
    has_v1a |= schemes[n] == "v1a";
    ++n;
  }

  if (has_v1) {
    std::string expected;  // base64 of the MAC, 44 characters
    for (const Secret& s : secrets) {
      std::array<unsigned char, 32> mac;
      if (!hmac_v1(s, *h.id, *ts, body, mac)) continue;
      expected.clear();
      base64_append(expected, mac.data(), mac.size());
      for (std::size_t i = 0; i < n; ++i) {
        if (schemes[i] == "v1" &&
            detail::equal_ct(values[i].data(), values[i].size(), expected.data(), expected.size()))
          return {};
      }
    }
  }
  if (has_v1a && !public_keys.empty()) {
    const std::string content = signed_content(*h.id, *ts, body);  // ed25519 wants it contiguous
    for (std::size_t i = 0; i < n; ++i) {
      if (schemes[i] != "v1a") continue;
      const auto sig = base64_decode(values[i]);
      if (!sig || sig->size() != 64) continue;
      for (const VerifyingKey& k : public_keys) {
        if (k.verify(content, *sig)) return {};
      }
    }
  }
  return error::webhook_bad_signature;
}

/// verify_standard with symmetric secrets only.
HERALD_DECL std::error_code verify_standard(const StandardHeaders& h, std::string_view body,
                                            std::span<const Secret> secrets,
                                            std::chrono::system_clock::time_point now,
                                            std::chrono::seconds tolerance = default_tolerance) {
  return verify_standard(h, body, secrets, {}, now, tolerance);
}

/// verify_standard reading the headers from a request.
template <http::RequestLike R>
std::error_code verify_standard(const R& request, std::string_view body, std::span<const Secret> secrets,
                                std::span<const VerifyingKey> public_keys,
                                std::chrono::system_clock::time_point now,
                                std::chrono::seconds tolerance = default_tolerance) {
  return verify_standard(StandardHeaders::from(request), body, secrets, public_keys, now, tolerance);
}

/// Verifies Stripe's `Stripe-Signature: t=<ts>,v1=<hex>[,v1=<hex>...]`.
///
/// The signed payload is `t + "." + body`; each `v1` is the hex HMAC-SHA256 of
/// it under `secret` taken as raw bytes: the whole `whsec_...` string as Stripe
/// shows it, NOT base64-decoded (unlike Standard Webhooks). Other schemes
/// (`v0`) are skipped. Absent header: error::webhook_missing_header; no `t`,
/// no `v1` or no match: error::webhook_bad_signature; `t` further than
/// `tolerance` from `now`: error::webhook_stale_timestamp. An empty secret
/// is error::webhook_bad_secret.
HERALD_DECL std::error_code verify_stripe(std::optional<std::string_view> header, std::string_view body,
                                          std::string_view secret, std::chrono::system_clock::time_point now,
                                          std::chrono::seconds tolerance = default_tolerance) {
  if (secret.empty()) return error::webhook_bad_secret;
  if (!header) return error::webhook_missing_header;
  std::optional<std::string_view> t;
  std::array<std::array<unsigned char, 32>, max_signatures_examined> sigs;
  std::size_t n_sigs = 0;
  for (std::size_t pos = 0; pos <= header->size();) {
    const std::size_t comma = header->find(',', pos);
    std::string_view item = header->substr(pos, comma == std::string_view::npos ? comma : comma - pos);
    pos = comma == std::string_view::npos ? header->size() + 1 : comma + 1;
    while (!item.empty() && item.front() == ' ') item.remove_prefix(1);
    while (!item.empty() && item.back() == ' ') item.remove_suffix(1);
    const std::size_t eq = item.find('=');
    if (eq == std::string_view::npos) continue;
    const std::string_view key = item.substr(0, eq), value = item.substr(eq + 1);
    if (key == "t") {
      if (t) return error::webhook_bad_signature;  // two timestamps: ambiguous, refuse
      t = value;
    } else if (key == "v1" && n_sigs < sigs.size()) {
      if (detail::decode_hex32(value, sigs[n_sigs])) ++n_sigs;
    }
  }
  if (!t || n_sigs == 0) return error::webhook_bad_signature;
  const auto ts = detail::parse_unix_seconds(*t);
  if (!ts) return error::webhook_bad_signature;
  if (!detail::within_tolerance(*ts, now, tolerance)) return error::webhook_stale_timestamp;
  const std::string_view parts[] = {*t, ".", body};
  std::array<unsigned char, 32> mac;
  if (!detail::hmac_sha256(secret, parts, mac)) return error::webhook_bad_signature;
  for (std::size_t i = 0; i < n_sigs; ++i) {
    if (detail::equal_ct(sigs[i].data(), 32, mac.data(), 32)) return {};
  }
  return error::webhook_bad_signature;
}

/// verify_stripe reading `Stripe-Signature` from a request.
template <http::RequestLike R>
std::error_code verify_stripe(const R& request, std::string_view body, std::string_view secret,
                              std::chrono::system_clock::time_point now,
                              std::chrono::seconds tolerance = default_tolerance) {
  return verify_stripe(std::optional<std::string_view>(request.header("stripe-signature")), body, secret, now,
                       tolerance);
}

/// Verifies GitHub's `X-Hub-Signature-256: sha256=<hex HMAC-SHA256(secret, body)>`,
/// the secret as raw bytes. GitHub signs no timestamp, so there is no
/// staleness check: pair it with RecentIds on `X-GitHub-Delivery`.
/// Absent header: error::webhook_missing_header; wrong form or mismatch:
/// error::webhook_bad_signature; empty secret: error::webhook_bad_secret.
HERALD_DECL std::error_code verify_github(std::optional<std::string_view> header, std::string_view body,
                                          std::string_view secret) {
  if (secret.empty()) return error::webhook_bad_secret;
  if (!header) return error::webhook_missing_header;
  constexpr std::string_view prefix = "sha256=";
  std::array<unsigned char, 32> given;
  if (!header->starts_with(prefix) || !detail::decode_hex32(header->substr(prefix.size()), given))
    return error::webhook_bad_signature;
  const std::string_view parts[] = {body};
  std::array<unsigned char, 32> mac;
  if (!detail::hmac_sha256(secret, parts, mac)) return error::webhook_bad_signature;
  return detail::equal_ct(given.data(), 32, mac.data(), 32) ? std::error_code{} : error::webhook_bad_signature;
}

/// verify_github reading `X-Hub-Signature-256` from a request.
template <http::RequestLike R>
std::error_code verify_github(const R& request, std::string_view body, std::string_view secret) {
  return verify_github(std::optional<std::string_view>(request.header("x-hub-signature-256")), body, secret);
}

// --------------------------------------------------------------- replay cache

/// Remembers recently processed message ids, so a repeated delivery (the sender
/// retried, or someone replays a captured request) is acknowledged but not
/// processed twice. Memory is bounded by a count and an age: past either, the
/// oldest ids are forgotten. Insert and look-up are O(1) (amortised).
///
/// The age bound should cover the verifier's window: a message is accepted
/// while its timestamp is within the tolerance of now, both ways, so a replay is
/// possible for up to twice the tolerance after the first receipt. Hence the
/// default of 10 minutes for the default 5-minute tolerance. Under a flood of
/// distinct valid ids the count bound wins: size it for the traffic of that
/// window.
///
/// @par Thread Safety
/// None: keep one per thread (ids are then per-thread) or guard it with a mutex.
class RecentIds {
 public:
  struct Options {
    std::size_t capacity = 10'000;                      ///< ids kept at most
    std::chrono::seconds max_age = 2 * default_tolerance;  ///< ids older than this are forgotten
  };

  RecentIds() : RecentIds(Options{}) {}
  explicit RecentIds(Options o) : opt_(o) {
    if (opt_.capacity == 0) opt_.capacity = 1;
    set_.reserve(opt_.capacity + 1);
  }
  RecentIds(const RecentIds&) = delete;  // the set points into the deque
  RecentIds& operator=(const RecentIds&) = delete;

  /// True if `id` was inserted before and is still remembered (a duplicate:
  /// acknowledge, do not process); otherwise remembers it and returns false.
  bool seen_or_insert(std::string_view id, std::chrono::system_clock::time_point now) {
    expire(now);
    if (set_.contains(id)) return true;
    order_.push_back({std::string(id), now});
    // A deque never moves its elements on push_back/pop_front, so a view of
    // the stored string stays valid until that entry is popped.
    set_.insert(order_.back().id);
    if (order_.size() > opt_.capacity) pop_oldest();
    return false;
  }

  /// True if `id` is remembered (after forgetting what is too old at `now`).
  bool contains(std::string_view id, std::chrono::system_clock::time_point now) {
    expire(now);
    return set_.contains(id);
  }

  std::size_t size() const noexcept { return order_.size(); }
  const Options& options() const noexcept { return opt_; }

 private:
  struct Entry {
    std::string id;
    std::chrono::system_clock::time_point at;
  };
  void expire(std::chrono::system_clock::time_point now) {
    while (!order_.empty() && now - order_.front().at > opt_.max_age) pop_oldest();
  }
  void pop_oldest() {
    set_.erase(std::string_view(order_.front().id));
    order_.pop_front();
  }

  Options opt_;
  std::deque<Entry> order_;  // oldest first
  std::unordered_set<std::string_view> set_;
};

}  // namespace herald::webhook
