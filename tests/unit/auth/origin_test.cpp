#include <herald/auth/origin.hpp>

#include <catch2/catch.hpp>

#include <string>

using herald::auth::OriginPolicy;

namespace {
bool has(const std::string& headers, std::string_view line) {
  return headers.find(std::string(line) + "\r\n") != std::string::npos;
}
}  // namespace

TEST_CASE("origin: exact scheme, host and port", "[auth][origin]") {
  const OriginPolicy p{.allowed = {"https://app.example.com", "http://localhost:8080/"}};
  CHECK(p.allows("https://app.example.com"));
  CHECK(p.allows("https://APP.Example.com"));       // host case-insensitive
  CHECK(p.allows("HTTPS://app.example.com"));
  CHECK(p.allows("https://app.example.com:443"));   // default port implied
  CHECK(p.allows("http://localhost:8080"));         // trailing slash in config tolerated
  CHECK_FALSE(p.allows("http://app.example.com"));  // other scheme
  CHECK_FALSE(p.allows("https://app.example.com:8443"));
  CHECK_FALSE(p.allows("https://evil.app.example.com"));
  CHECK_FALSE(p.allows("https://app.example.com.evil.net"));
  CHECK_FALSE(p.allows("https://app.example.co"));
  CHECK_FALSE(p.allows("http://localhost"));
  CHECK_FALSE(p.allows("http://localhost:80"));
  CHECK_FALSE(p.allows("null"));
  CHECK_FALSE(p.allows(""));
  CHECK_FALSE(p.allows("https://app.example.com/path"));
  CHECK_FALSE(p.allows("https://app.example.com\r\nX-Evil: 1"));
  CHECK_FALSE(p.allows("app.example.com"));
}

TEST_CASE("origin: IPv6 and malformed origins", "[auth][origin]") {
  const OriginPolicy p{.allowed = {"http://[::1]:3000"}};
  CHECK(p.allows("http://[::1]:3000"));
  CHECK_FALSE(p.allows("http://[::1]:3001"));
  CHECK_FALSE(p.allows("http://[::1"));
  CHECK_FALSE(p.allows("http://[]:3000"));
  CHECK_FALSE(p.allows("http://[::1]x"));
  CHECK_FALSE(p.allows("http://[::1]:"));
  CHECK_FALSE(p.allows("http://[::g]:3000"));
}

TEST_CASE("origin: any", "[auth][origin]") {
  const OriginPolicy any{.any = true};
  CHECK(any.allows("https://whatever.example"));
  CHECK(any.allows("null"));
  CHECK_FALSE(any.allows("not an origin"));
  const OriginPolicy star{.allowed = {"*"}};
  CHECK(star.allows("https://whatever.example"));
  const OriginPolicy none{};
  CHECK_FALSE(none.enabled());
  CHECK_FALSE(none.allows("https://a.example"));
}

TEST_CASE("cors: simple request from an allowed origin", "[auth][cors]") {
  const OriginPolicy p{.allowed = {"https://app.example.com"}};
  const std::string h = p.cors_headers("https://app.example.com", "GET", false);
  CHECK(has(h, "Access-Control-Allow-Origin: https://app.example.com"));
  CHECK(has(h, "Vary: Origin"));
  CHECK(has(h, "Access-Control-Expose-Headers: ETag"));
  CHECK(h.find("Credentials") == std::string::npos);
  CHECK(h.find("Max-Age") == std::string::npos);
}

TEST_CASE("cors: refused origin and no origin", "[auth][cors]") {
  const OriginPolicy p{.allowed = {"https://app.example.com"}};
  const std::string h = p.cors_headers("https://evil.example", "GET", false);
  CHECK(h == "Vary: Origin\r\n");
  CHECK(p.cors_headers("", "GET", false).empty());
  CHECK(OriginPolicy{}.cors_headers("https://app.example.com", "GET", false).empty());  // CORS off
  CHECK(p.cors_headers("https://app.example.com\r\nSet-Cookie: x=1", "GET", false) == "Vary: Origin\r\n");
}

TEST_CASE("cors: any origin without credentials uses *", "[auth][cors]") {
  const OriginPolicy p{.allowed = {"*"}};
  const std::string h = p.cors_headers("https://a.example", "GET", false);
  CHECK(has(h, "Access-Control-Allow-Origin: *"));
  CHECK(h.find("Vary") == std::string::npos);
}

TEST_CASE("cors: credentials never go with *", "[auth][cors]") {
  const OriginPolicy p{.any = true, .allow_credentials = true};
  const std::string h = p.cors_headers("https://a.example", "GET", false);
  CHECK(has(h, "Access-Control-Allow-Origin: https://a.example"));
  CHECK(has(h, "Access-Control-Allow-Credentials: true"));
  CHECK(has(h, "Vary: Origin"));
  CHECK(h.find("Allow-Origin: *") == std::string::npos);
  // The opaque origin is shared by every sandboxed document: not with credentials.
  CHECK(p.cors_headers("null", "GET", false) == "Vary: Origin\r\n");
  const OriginPolicy listed{.allowed = {"null"}, .allow_credentials = true};
  CHECK(has(listed.cors_headers("null", "GET", false), "Access-Control-Allow-Origin: null"));
}

TEST_CASE("cors: preflight", "[auth][cors]") {
  const OriginPolicy p{.allowed = {"https://app.example.com"}, .allow_credentials = true};
  const std::string h =
      p.cors_headers("https://app.example.com", "POST", true, "content-type, authorization,X-Unknown , last-event-id");
  CHECK(has(h, "Access-Control-Allow-Origin: https://app.example.com"));
  CHECK(has(h, "Access-Control-Allow-Credentials: true"));
  CHECK(has(h, "Access-Control-Allow-Methods: GET, POST"));
  CHECK(has(h, "Access-Control-Allow-Headers: Content-Type, Authorization, Last-Event-ID"));
  CHECK(has(h, "Access-Control-Max-Age: 600"));
  CHECK(has(h, "Vary: Origin"));
  CHECK(h.find("Expose") == std::string::npos);

  SECTION("no requested headers: no Allow-Headers") {
    const std::string h2 = p.cors_headers("https://app.example.com", "GET", true);
    CHECK(h2.find("Allow-Headers") == std::string::npos);
    CHECK(has(h2, "Access-Control-Allow-Methods: GET, POST"));
  }
  SECTION("a method that is not allowed fails the preflight") {
    const std::string h3 = p.cors_headers("https://app.example.com", "DELETE", true);
    CHECK(h3 == "Vary: Origin\r\n");
  }
  SECTION("a refused origin fails the preflight") {
    CHECK(p.cors_headers("https://evil.example", "GET", true, "authorization") == "Vary: Origin\r\n");
  }
  SECTION("client bytes are never echoed in Allow-Headers") {
    const std::string h4 = p.cors_headers("https://app.example.com", "GET", true, "authorization\r\nX-Evil: 1");
    CHECK(h4.find("X-Evil") == std::string::npos);
  }
  SECTION("configurable lists and max age") {
    const OriginPolicy q{.allowed = {"https://a.example"},
                         .allowed_methods = {"GET"},
                         .allowed_headers = {"X-Custom"},
                         .exposed_headers = {"ETag", "Retry-After"},
                         .max_age = std::chrono::seconds(60)};
    const std::string pre = q.cors_headers("https://a.example", "GET", true, "x-custom");
    CHECK(has(pre, "Access-Control-Allow-Headers: X-Custom"));
    CHECK(has(pre, "Access-Control-Allow-Methods: GET"));
    CHECK(has(pre, "Access-Control-Max-Age: 60"));
    CHECK(has(q.cors_headers("https://a.example", "GET", false), "Access-Control-Expose-Headers: ETag, Retry-After"));
  }
}
