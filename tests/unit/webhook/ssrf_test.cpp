#include <herald/webhook/ssrf.hpp>

#include <catch2/catch.hpp>

#include <string>

using namespace herald::webhook;
using herald::error;
using AC = AddressClass;

namespace {
AddressClass cls(const char* text) {
  const auto a = Address::parse(text);
  REQUIRE(a);
  return classify(*a);
}
}  // namespace

TEST_CASE("ssrf: Address parses canonical IPv4 and IPv6 only", "[webhook][ssrf]") {
  CHECK(Address::parse("127.0.0.1")->is_v4());
  CHECK(Address::parse("::1")->family == Address::Family::v6);
  CHECK(Address::parse("::ffff:10.0.0.1")->to_string() == "::ffff:10.0.0.1");
  CHECK(Address::parse("2001:DB8::1")->to_string() == "2001:db8::1");
  for (const char* bad : {"", "127.1", "0x7f.0.0.1", "2130706433", "127.0.0.1 ", "fe80::1%eth0", "[::1]", "1.2.3.4.5",
                          "256.0.0.1", "example.com", "::ffff:1.2.3"}) {
    CAPTURE(bad);
    CHECK_FALSE(Address::parse(bad));
  }
  CHECK(Address::parse("10.1.2.3") == Address::v4(10, 1, 2, 3));
}

TEST_CASE("ssrf: IPv4 classes", "[webhook][ssrf]") {
  CHECK(cls("127.0.0.1") == AC::loopback);
  CHECK(cls("127.255.255.254") == AC::loopback);
  CHECK(cls("10.0.0.1") == AC::private_network);
  CHECK(cls("172.16.0.1") == AC::private_network);
  CHECK(cls("172.31.255.255") == AC::private_network);
  CHECK(cls("172.15.255.255") == AC::global);
  CHECK(cls("172.32.0.0") == AC::global);
  CHECK(cls("192.168.1.1") == AC::private_network);
  CHECK(cls("169.254.1.1") == AC::link_local);
  CHECK(cls("100.64.0.1") == AC::shared);
  CHECK(cls("100.127.255.255") == AC::shared);
  CHECK(cls("100.128.0.0") == AC::global);
  CHECK(cls("100.63.255.255") == AC::global);
  CHECK(cls("224.0.0.1") == AC::multicast);
  CHECK(cls("239.255.255.255") == AC::multicast);
  CHECK(cls("0.0.0.0") == AC::unspecified);
  CHECK(cls("0.1.2.3") == AC::unspecified);
  CHECK(cls("255.255.255.255") == AC::broadcast);
  CHECK(cls("240.0.0.1") == AC::reserved);
  CHECK(cls("255.255.255.254") == AC::reserved);
  CHECK(cls("192.0.0.8") == AC::reserved);
  CHECK(cls("198.18.0.1") == AC::reserved);
  CHECK(cls("198.19.255.255") == AC::reserved);
  CHECK(cls("192.0.2.1") == AC::documentation);
  CHECK(cls("198.51.100.7") == AC::documentation);
  CHECK(cls("203.0.113.9") == AC::documentation);
  CHECK(cls("8.8.8.8") == AC::global);
  CHECK(cls("1.1.1.1") == AC::global);
  CHECK(cls("223.255.255.255") == AC::global);
}

TEST_CASE("ssrf: cloud metadata addresses", "[webhook][ssrf]") {
  for (const char* m : {"169.254.169.254", "169.254.170.2", "100.100.100.200", "168.63.129.16", "192.0.0.192",
                        "fd00:ec2::254", "::ffff:169.254.169.254", "64:ff9b::169.254.169.254", "::ffff:a9fe:a9fe"}) {
    CAPTURE(m);
    CHECK(cls(m) == AC::cloud_metadata);
  }
  // Their neighbours are ordinary members of the enclosing class.
  CHECK(cls("169.254.169.253") == AC::link_local);
  CHECK(cls("100.100.100.201") == AC::shared);
  CHECK(cls("fd00:ec2::253") == AC::private_network);
}

TEST_CASE("ssrf: IPv6 classes", "[webhook][ssrf]") {
  CHECK(cls("::1") == AC::loopback);
  CHECK(cls("::") == AC::unspecified);
  CHECK(cls("fc00::1") == AC::private_network);
  CHECK(cls("fdff:ffff::1") == AC::private_network);
  CHECK(cls("fec0::1") == AC::private_network);
  CHECK(cls("fe80::1") == AC::link_local);
  CHECK(cls("febf::1") == AC::link_local);
  CHECK(cls("ff02::1") == AC::multicast);
  CHECK(cls("ff0e::1") == AC::multicast);
  CHECK(cls("2001:db8::1") == AC::documentation);
  CHECK(cls("100::1") == AC::reserved);
  CHECK(cls("64:ff9b:1::1") == AC::private_network);
  CHECK(cls("2606:4700:4700::1111") == AC::global);
  CHECK(cls("2001:4860:4860::8888") == AC::global);
}

TEST_CASE("ssrf: IPv6 forms carrying IPv4 are classified by the IPv4", "[webhook][ssrf]") {
  CHECK(cls("::ffff:127.0.0.1") == AC::loopback);
  CHECK(cls("::ffff:7f00:1") == AC::loopback);
  CHECK(cls("::ffff:10.0.0.1") == AC::private_network);
  CHECK(cls("::ffff:192.168.0.1") == AC::private_network);
  CHECK(cls("::ffff:8.8.8.8") == AC::global);
  CHECK(cls("::127.0.0.1") == AC::loopback);  // IPv4-compatible (deprecated)
  CHECK(cls("::10.0.0.1") == AC::private_network);
  CHECK(cls("::0.0.0.2") == AC::unspecified);
  CHECK(cls("64:ff9b::127.0.0.1") == AC::loopback);  // NAT64
  CHECK(cls("64:ff9b::10.1.1.1") == AC::private_network);
  CHECK(cls("64:ff9b::8.8.8.8") == AC::global);
  CHECK(cls("2002:7f00:1::") == AC::loopback);  // 6to4
  CHECK(cls("2002:0808:0808::1") == AC::global);
  CHECK(cls("::ffff:255.255.255.255") == AC::broadcast);
  CHECK(cls("::ffff:224.0.0.1") == AC::multicast);
  CHECK(embedded_v4(*Address::parse("::ffff:1.2.3.4")) == Address::v4(1, 2, 3, 4));
  CHECK_FALSE(embedded_v4(*Address::parse("::1")));
  CHECK_FALSE(embedded_v4(*Address::parse("1.2.3.4")));
}

TEST_CASE("ssrf: check against the policy", "[webhook][ssrf]") {
  const SsrfPolicy strict{};
  auto refused = [](const char* a, const SsrfPolicy& p) {
    return check(*Address::parse(a), p) == error::webhook_forbidden_address;
  };
  for (const char* a : {"127.0.0.1", "::1", "::ffff:127.0.0.1", "10.0.0.1", "172.16.0.1", "192.168.0.1", "fd12::1",
                        "169.254.1.1", "fe80::1", "100.64.0.1", "224.0.0.1", "ff02::1", "0.0.0.0", "::",
                        "255.255.255.255", "169.254.169.254", "fd00:ec2::254", "100.100.100.200", "240.0.0.1",
                        "192.0.2.1", "64:ff9b::10.0.0.1"}) {
    CAPTURE(a);
    CHECK(refused(a, strict));
  }
  CHECK_FALSE(check(*Address::parse("8.8.8.8"), strict));
  CHECK_FALSE(check(*Address::parse("2606:4700:4700::1111"), strict));

  const SsrfPolicy local = SsrfPolicy::allow_local();
  CHECK_FALSE(check(*Address::parse("127.0.0.1"), local));
  CHECK_FALSE(check(*Address::parse("::ffff:127.0.0.1"), local));
  CHECK_FALSE(check(*Address::parse("10.0.0.1"), local));
  CHECK_FALSE(check(*Address::parse("fd12::1"), local));
  CHECK(refused("169.254.169.254", local));
  CHECK(refused("fd00:ec2::254", local));  // inside fc00::/7, still metadata
  CHECK(refused("169.254.1.1", local));
  CHECK(refused("0.0.0.0", local));

  const SsrfPolicy everything{.allow_private = true, .allow_loopback = true, .allow_link_local = true,
                              .allow_shared = true, .allow_documentation = true, .allow_cloud_metadata = true};
  CHECK_FALSE(check(*Address::parse("169.254.169.254"), everything));
  CHECK_FALSE(check(*Address::parse("100.64.0.1"), everything));
  CHECK_FALSE(check(*Address::parse("192.0.2.1"), everything));
  for (const char* a : {"224.0.0.1", "255.255.255.255", "0.0.0.0", "::", "240.0.0.1"}) {
    CAPTURE(a);
    CHECK(refused(a, everything));
  }
  const SsrfPolicy link{.allow_link_local = true};
  CHECK_FALSE(check(*Address::parse("fe80::1"), link));
  CHECK(refused("169.254.169.254", link));
}

TEST_CASE("ssrf: a resolution is allowed only if every address is", "[webhook][ssrf]") {
  const SsrfPolicy strict{};
  CHECK_FALSE(check(Resolved{{*Address::parse("8.8.8.8"), *Address::parse("2001:4860:4860::8888")}}, strict));
  CHECK(check(Resolved{{*Address::parse("8.8.8.8"), *Address::parse("10.0.0.1")}}, strict) ==
        error::webhook_forbidden_address);
  CHECK(check(Resolved{}, strict) == error::webhook_forbidden_address);
  CHECK(to_string(AC::cloud_metadata) == "cloud metadata");
}

TEST_CASE("url: accepted forms", "[webhook][url]") {
  std::error_code ec;
  Url u = parse_url("https://example.com/hooks?x=1", ec);
  REQUIRE_FALSE(ec);
  CHECK(u.scheme == "https");
  CHECK(u.host == "example.com");
  CHECK(u.port == 443);
  CHECK(u.target == "/hooks?x=1");
  CHECK_FALSE(u.literal);

  u = parse_url("http://Example.COM", ec);
  REQUIRE_FALSE(ec);
  CHECK(u.host == "example.com");
  CHECK(u.port == 80);
  CHECK(u.target == "/");

  u = parse_url("HTTP://host:8080?q=1#frag", ec);
  REQUIRE_FALSE(ec);
  CHECK(u.scheme == "http");
  CHECK(u.port == 8080);
  CHECK(u.target == "/?q=1");

  u = parse_url("https://h.example:65535/a/b#x", ec);
  REQUIRE_FALSE(ec);
  CHECK(u.port == 65535);
  CHECK(u.target == "/a/b");

  u = parse_url("http://127.0.0.1:9000/in", ec);
  REQUIRE_FALSE(ec);
  CHECK(u.host == "127.0.0.1");
  REQUIRE(u.literal);
  CHECK(classify(*u.literal) == AC::loopback);

  u = parse_url("https://[::1]:8443/x", ec);
  REQUIRE_FALSE(ec);
  CHECK(u.host == "::1");
  CHECK(u.port == 8443);
  REQUIRE(u.literal);
  CHECK(classify(*u.literal) == AC::loopback);

  u = parse_url("https://[::ffff:169.254.169.254]", ec);
  REQUIRE_FALSE(ec);
  CHECK(u.port == 443);
  CHECK(classify(*u.literal) == AC::cloud_metadata);

  u = parse_url("https://my_host.internal./p%20q", ec);
  REQUIRE_FALSE(ec);
  CHECK(u.host == "my_host.internal.");
  CHECK(u.target == "/p%20q");
}

TEST_CASE("url: refused forms are webhook_bad_url", "[webhook][url]") {
  for (const char* bad : {
           "", "example.com", "ftp://example.com/", "file:///etc/passwd", "gopher://x", "https:/x", "https://",
           "https:///path", "https://user@example.com/", "https://user:pw@example.com/", "https://@example.com",
           "https://example.com:", "https://example.com:0", "https://example.com:65536", "https://example.com:123456",
           "https://example.com:8a", "https://example.com:-1", "https://[::1", "https://[::1]x", "https://[127.0.0.1]/",
           "https://[fe80::1%25eth0]/", "https://[]/", "https://exa mple.com/", "https://example.com/a b",
           "https://example.com/\r\nX-Injected: 1", "https://ex\tample.com", "https://exämple.com/",
           "https://127.1/", "https://0x7f.0.0.1/", "https://2130706433/", "https://1.2.3.256/", "https://foo.0x10/",
           "https://a\\b@c/", "https://example.com\\@evil.com/", "https://ex%41mple.com/", "https://exa!mple.com/"}) {
    CAPTURE(bad);
    std::error_code ec;
    parse_url(bad, ec);
    CHECK(ec == error::webhook_bad_url);
  }
}
