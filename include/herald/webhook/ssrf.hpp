// herald: the server-side request forgery guard for webhook targets, sans-I/O.
// Classifies IP addresses, decides which a sender may connect to, and parses
// webhook URLs. Resolving and connecting belong to the I/O layer (see Resolved).
#pragma once
#include <herald/config.hpp>
#include <herald/core/error.hpp>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>

#include <array>
#include <cstdint>
#include <cstring>
#include <optional>
#include <string>
#include <string_view>
#include <system_error>
#include <vector>

namespace herald::webhook {

/// An IPv4 or IPv6 address as bytes in network order; no port, no zone.
struct Address {
  enum class Family : std::uint8_t { v4, v6 };
  Family family = Family::v4;
  std::array<std::uint8_t, 16> bytes{};  ///< IPv4 uses the first 4

  /// Parses dotted-quad IPv4 or textual IPv6 with inet_pton: so only the
  /// canonical forms (no `127.1`, no octal, no zone id `%eth0`).
  static std::optional<Address> parse(std::string_view text) {
    char buf[INET6_ADDRSTRLEN + 1];
    if (text.empty() || text.size() >= sizeof buf) return std::nullopt;
    std::memcpy(buf, text.data(), text.size());
    buf[text.size()] = '\0';
    Address a;
    if (inet_pton(AF_INET, buf, a.bytes.data()) == 1) return a;
    a.family = Family::v6;
    if (inet_pton(AF_INET6, buf, a.bytes.data()) == 1) return a;
    return std::nullopt;
  }

  static Address v4(std::uint8_t a, std::uint8_t b, std::uint8_t c, std::uint8_t d) noexcept {
    Address r;
    r.bytes[0] = a, r.bytes[1] = b, r.bytes[2] = c, r.bytes[3] = d;
    return r;
  }

  /// Canonical text (inet_ntop), without brackets.
  std::string to_string() const {
    char buf[INET6_ADDRSTRLEN];
    if (inet_ntop(family == Family::v4 ? AF_INET : AF_INET6, bytes.data(), buf, sizeof buf) == nullptr) return {};
    return buf;
  }

  bool is_v4() const noexcept { return family == Family::v4; }
  friend bool operator==(const Address&, const Address&) = default;
};

/// What an address is, as far as request forgery goes. Everything but
/// `global` is somewhere a webhook sender has no business reaching by default.
enum class AddressClass : std::uint8_t {
  global,          ///< publicly routable
  loopback,        ///< 127.0.0.0/8, ::1
  private_network, ///< 10/8, 172.16/12, 192.168/16, fc00::/7 (ULA), fec0::/10 (old site-local)
  link_local,      ///< 169.254/16, fe80::/10
  shared,          ///< 100.64.0.0/10, carrier-grade NAT (RFC 6598)
  multicast,       ///< 224/4, ff00::/8
  unspecified,     ///< 0.0.0.0/8, ::  (Linux connects 0.0.0.0 to the local host)
  broadcast,       ///< 255.255.255.255
  cloud_metadata,  ///< instance metadata services, see classify()
  documentation,   ///< 192.0.2/24, 198.51.100/24, 203.0.113/24, 2001:db8::/32
  reserved,        ///< 240/4, 192.0.0/24, 198.18/15 (benchmarking), 100::/64 (discard)
};

/// The name of a class, for logs and error messages.
HERALD_DECL std::string_view to_string(AddressClass c) noexcept {
  switch (c) {
    case AddressClass::global: return "global";
    case AddressClass::loopback: return "loopback";
    case AddressClass::private_network: return "private";
    case AddressClass::link_local: return "link-local";
    case AddressClass::shared: return "shared (CGNAT)";
    case AddressClass::multicast: return "multicast";
    case AddressClass::unspecified: return "unspecified";
    case AddressClass::broadcast: return "broadcast";
    case AddressClass::cloud_metadata: return "cloud metadata";
    case AddressClass::documentation: return "documentation";
    case AddressClass::reserved: return "reserved";
  }
  return "?";
}

namespace detail {

HERALD_DECL AddressClass classify_v4(const std::uint8_t* b) noexcept {
  const std::uint32_t a = std::uint32_t{b[0]} << 24 | std::uint32_t{b[1]} << 16 | std::uint32_t{b[2]} << 8 | b[3];
  auto in = [a](std::uint32_t net, int bits) {
    const std::uint32_t mask = bits == 0 ? 0 : ~std::uint32_t{0} << (32 - bits);
    return (a & mask) == net;
  };
  // Metadata first: some of these sit inside link-local, shared or reserved
  // space, and must stay refused even where those are allowed.
  if (a == 0xA9FEA9FE       // 169.254.169.254: AWS, GCP, Azure, OpenStack, ...
      || a == 0xA9FEAA02    // 169.254.170.2: AWS ECS task metadata
      || a == 0x646464C8    // 100.100.100.200: Alibaba Cloud
      || a == 0xA83F8110    // 168.63.129.16: Azure WireServer (public space, host-local in Azure)
      || a == 0xC00000C0)   // 192.0.0.192: Oracle Cloud
    return AddressClass::cloud_metadata;
  if (a == 0xFFFFFFFF) return AddressClass::broadcast;
  if (in(0x00000000, 8)) return AddressClass::unspecified;
  if (in(0x7F000000, 8)) return AddressClass::loopback;
  if (in(0x0A000000, 8) || in(0xAC100000, 12) || in(0xC0A80000, 16)) return AddressClass::private_network;
  if (in(0xA9FE0000, 16)) return AddressClass::link_local;
  if (in(0x64400000, 10)) return AddressClass::shared;
  if (in(0xE0000000, 4)) return AddressClass::multicast;
  if (in(0xC0000200, 24) || in(0xC6336400, 24) || in(0xCB007100, 24)) return AddressClass::documentation;
  if (in(0xF0000000, 4) || in(0xC0000000, 24) || in(0xC6120000, 15)) return AddressClass::reserved;
  return AddressClass::global;
}

}  // namespace detail

/// The IPv4 address an IPv6 address carries, if it is one of the forms that
/// reach an IPv4 host: IPv4-mapped `::ffff:a.b.c.d`, IPv4-compatible
/// `::a.b.c.d` (deprecated), NAT64 `64:ff9b::a.b.c.d` (RFC 6052), or 6to4
/// `2002:AABB:CCDD::/48` (RFC 3056). `::` and `::1` are not IPv4-compatible.
HERALD_DECL std::optional<Address> embedded_v4(const Address& a) noexcept {
  if (a.is_v4()) return std::nullopt;
  const auto& b = a.bytes;
  auto zeros = [&](int from, int to) {
    for (int i = from; i < to; ++i)
      if (b[i] != 0) return false;
    return true;
  };
  auto tail = [&](int at) { return Address::v4(b[at], b[at + 1], b[at + 2], b[at + 3]); };
  if (zeros(0, 10) && b[10] == 0xFF && b[11] == 0xFF) return tail(12);                    // ::ffff:0:0/96
  if (zeros(0, 12) && !(zeros(12, 15) && b[15] <= 1)) return tail(12);                   // ::/96 minus :: and ::1
  if (b[0] == 0x00 && b[1] == 0x64 && b[2] == 0xFF && b[3] == 0x9B && zeros(4, 12)) return tail(12);  // 64:ff9b::/96
  if (b[0] == 0x20 && b[1] == 0x02) return tail(2);                                     // 2002::/16
  return std::nullopt;
}

/// Classifies an address. IPv6 forms that carry an IPv4 address (embedded_v4)
/// are classified by that IPv4 address, so `::ffff:127.0.0.1` is loopback.
///
/// Cloud metadata: 169.254.169.254 (AWS, GCP, Azure, OpenStack...),
/// 169.254.170.2 (AWS ECS), fd00:ec2::254 (AWS over IPv6), 100.100.100.200
/// (Alibaba), 168.63.129.16 (Azure WireServer), 192.0.0.192 (Oracle).
HERALD_DECL AddressClass classify(const Address& a) noexcept {
  if (a.is_v4()) return detail::classify_v4(a.bytes.data());
  if (const auto v4 = embedded_v4(a)) return detail::classify_v4(v4->bytes.data());
  const auto& b = a.bytes;
  static constexpr std::array<std::uint8_t, 16> aws_v6{0xfd, 0x00, 0x0e, 0xc2, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0x02, 0x54};
  if (b == aws_v6) return AddressClass::cloud_metadata;
  bool all_zero = true;
  for (int i = 0; i < 15; ++i) all_zero &= b[i] == 0;
  if (all_zero && b[15] == 0) return AddressClass::unspecified;
  if (all_zero && b[15] == 1) return AddressClass::loopback;
  if (b[0] == 0xFF) return AddressClass::multicast;
  if (b[0] == 0xFE && (b[1] & 0xC0) == 0x80) return AddressClass::link_local;
  if (b[0] == 0xFE && (b[1] & 0xC0) == 0xC0) return AddressClass::private_network;  // site-local, deprecated
  if ((b[0] & 0xFE) == 0xFC) return AddressClass::private_network;
  if (b[0] == 0x20 && b[1] == 0x01 && b[2] == 0x0D && b[3] == 0xB8) return AddressClass::documentation;
  if (b[0] == 0x01 && b[1] == 0x00 && b[2] == 0 && b[3] == 0 && b[4] == 0 && b[5] == 0 && b[6] == 0 && b[7] == 0)
    return AddressClass::reserved;  // 100::/64 discard-only
  if (b[0] == 0x00 && b[1] == 0x64 && b[2] == 0xFF && b[3] == 0x9B && b[4] == 0 && b[5] == 1)
    return AddressClass::private_network;  // 64:ff9b:1::/48, local-use NAT64 (RFC 8215)
  return AddressClass::global;
}

/// Which non-global classes a sender may connect to. Every field defaults to
/// refused: a webhook URL is supplied by someone else, and the point of the
/// guard is that it cannot make the server reach its own network.
/// Multicast, broadcast, unspecified and reserved addresses are always refused
/// (no TCP peer lives there, or, for 0.0.0.0, it is the local host in disguise).
struct SsrfPolicy {
  bool allow_private = false;        ///< 10/8, 172.16/12, 192.168/16, fc00::/7
  bool allow_loopback = false;       ///< 127/8, ::1 (tests and local development)
  bool allow_link_local = false;     ///< 169.254/16, fe80::/10
  bool allow_shared = false;         ///< 100.64/10 (CGNAT)
  bool allow_documentation = false;  ///< the RFC 5737 / RFC 3849 example ranges
  bool allow_cloud_metadata = false; ///< separate on purpose: allowing private or link-local does not allow these

  /// What herald-demo's `--allow-private-webhook-targets` means: loopback and
  /// private networks, still no metadata.
  static constexpr SsrfPolicy allow_local() noexcept {
    return {.allow_private = true, .allow_loopback = true};
  }
};

/// Empty if `policy` lets a sender connect to `address`, else
/// error::webhook_forbidden_address.
HERALD_DECL std::error_code check(const Address& address, const SsrfPolicy& policy) noexcept {
  bool ok = false;
  switch (classify(address)) {
    case AddressClass::global: ok = true; break;
    case AddressClass::loopback: ok = policy.allow_loopback; break;
    case AddressClass::private_network: ok = policy.allow_private; break;
    case AddressClass::link_local: ok = policy.allow_link_local; break;
    case AddressClass::shared: ok = policy.allow_shared; break;
    case AddressClass::documentation: ok = policy.allow_documentation; break;
    case AddressClass::cloud_metadata: ok = policy.allow_cloud_metadata; break;
    case AddressClass::multicast:
    case AddressClass::unspecified:
    case AddressClass::broadcast:
    case AddressClass::reserved: ok = false; break;
  }
  return ok ? std::error_code{} : make_error_code(error::webhook_forbidden_address);
}

/// The addresses a host name resolved to: the seam between the resolver and
/// the guard, which tests fill by hand to cover every class while all traffic
/// stays on 127.0.0.1.
///
/// Contract for the I/O layer: resolve once, check() the result, then connect
/// to those very addresses (asio endpoints built from `addrs` and the URL's
/// port), never to the host name again. Resolving a second time to connect
/// would let a DNS rebinding answer a public address to the check and a
/// private one to the connection. The Host header and TLS SNI still carry
/// the name.
struct Resolved {
  std::vector<Address> addrs;
};

/// Empty if every resolved address is allowed; error::webhook_forbidden_address
/// if any one is not (a name that resolves to both public and private
/// addresses is refused as a whole, since the connection could go to either)
/// or if there is none.
HERALD_DECL std::error_code check(const Resolved& resolved, const SsrfPolicy& policy) noexcept {
  if (resolved.addrs.empty()) return error::webhook_forbidden_address;
  for (const Address& a : resolved.addrs) {
    if (auto ec = check(a, policy)) return ec;
  }
  return {};
}

// ----------------------------------------------------------------------- URLs

/// A webhook target URL, split for the HTTP client.
struct Url {
  std::string scheme;  ///< "http" or "https", lower case
  std::string host;    ///< lower-case name, or an IP literal without brackets
  std::uint16_t port = 0;  ///< explicit, else 80 / 443
  std::string target;  ///< origin-form request target: path and query, at least "/"
  std::optional<Address> literal;  ///< the host as an address if it is an IP literal (check it; no DNS)
};

namespace detail {

HERALD_DECL bool url_char_ok(char c) noexcept {
  const auto u = static_cast<unsigned char>(c);
  return u > 0x20 && u < 0x7F;  // no controls, space, DEL or raw non-ASCII: they would break the request line
}

HERALD_DECL bool host_char_ok(char c) noexcept {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '-' || c == '.' ||
         c == '_';
}

/// WHATWG URL: a host whose last label is numeric is an IPv4 address, and
/// resolvers accept odd forms (`127.1`, `0x7f.1`, `2130706433`). We accept
/// only the dotted quad, so such names cannot mean one thing to us and another
/// to getaddrinfo.
HERALD_DECL bool ends_in_number(std::string_view host) noexcept {
  if (!host.empty() && host.back() == '.') host.remove_suffix(1);
  const std::size_t dot = host.rfind('.');
  const std::string_view last = dot == std::string_view::npos ? host : host.substr(dot + 1);
  if (last.empty()) return false;
  if (last.size() >= 2 && last[0] == '0' && (last[1] == 'x' || last[1] == 'X')) return true;
  for (const char c : last)
    if (c < '0' || c > '9') return false;
  return true;
}

}  // namespace detail

/// Parses `http[s]://host[:port][/path][?query][#fragment]` for a webhook
/// target. Refused with error::webhook_bad_url: another scheme, userinfo
/// (`user@host`: credentials in URLs leak into logs, and `a@b` confuses
/// readers about the host), an empty host, characters outside a host name,
/// a numeric-looking host that is not a dotted quad, a port that is empty,
/// 0 or past 65535, a bracketed literal that is not IPv6 (zone ids too), and
/// any control, space or non-ASCII byte. The fragment is dropped (it is never
/// sent); an empty path becomes "/".
HERALD_DECL Url parse_url(std::string_view text, std::error_code& ec) {
  ec = error::webhook_bad_url;
  Url u;
  for (const char c : text)
    if (!detail::url_char_ok(c)) return {};
  const std::size_t colon = text.find("://");
  if (colon == std::string_view::npos) return {};
  for (const char c : text.substr(0, colon)) u.scheme.push_back(static_cast<char>(c >= 'A' && c <= 'Z' ? c + 32 : c));
  if (u.scheme == "http") u.port = 80;
  else if (u.scheme == "https") u.port = 443;
  else return {};
  std::string_view rest = text.substr(colon + 3);
  if (const std::size_t hash = rest.find('#'); hash != std::string_view::npos) rest = rest.substr(0, hash);
  const std::size_t auth_end = rest.find_first_of("/?");
  std::string_view authority = rest.substr(0, auth_end);
  const std::string_view path = auth_end == std::string_view::npos ? std::string_view{} : rest.substr(auth_end);
  if (authority.find('@') != std::string_view::npos) return {};
  if (authority.find('\\') != std::string_view::npos) return {};

  std::string_view host, port;
  bool has_port = false;
  if (!authority.empty() && authority.front() == '[') {
    const std::size_t close = authority.find(']');
    if (close == std::string_view::npos) return {};
    host = authority.substr(1, close - 1);
    const std::string_view after = authority.substr(close + 1);
    if (!after.empty()) {
      if (after.front() != ':') return {};
      has_port = true;
      port = after.substr(1);
    }
    const auto a = Address::parse(host);
    if (!a || a->is_v4()) return {};
    u.literal = a;
  } else {
    const std::size_t pc = authority.find(':');
    host = authority.substr(0, pc);
    if (pc != std::string_view::npos) {
      has_port = true;
      port = authority.substr(pc + 1);
    }
    if (host.empty() || host.size() > 253) return {};
    for (const char c : host)
      if (!detail::host_char_ok(c)) return {};
    if (detail::ends_in_number(host)) {
      u.literal = Address::parse(host);
      if (!u.literal) return {};
    }
  }
  if (host.empty()) return {};
  if (has_port) {
    if (port.empty() || port.size() > 5) return {};
    unsigned v = 0;
    for (const char c : port) {
      if (c < '0' || c > '9') return {};
      v = v * 10 + static_cast<unsigned>(c - '0');
    }
    if (v == 0 || v > 65535) return {};
    u.port = static_cast<std::uint16_t>(v);
  }
  u.host.reserve(host.size());
  for (const char c : host) u.host.push_back(static_cast<char>(c >= 'A' && c <= 'Z' ? c + 32 : c));
  if (path.empty()) u.target = "/";
  else if (path.front() == '?') u.target = "/" + std::string(path);
  else u.target = std::string(path);
  ec = {};
  return u;
}

}  // namespace herald::webhook
