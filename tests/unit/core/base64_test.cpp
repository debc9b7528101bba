#include <herald/core/base64.hpp>

#include <catch2/catch.hpp>

#include <string>

using herald::base64_decode;
using herald::base64_encode;
using herald::base64url_decode;
using herald::base64url_encode;

TEST_CASE("base64: RFC 4648 section 10 vectors", "[base64]") {
  const std::pair<const char*, const char*> vectors[] = {
      {"", ""},         {"f", "Zg=="},         {"fo", "Zm8="},         {"foo", "Zm9v"},
      {"foob", "Zm9vYg=="}, {"fooba", "Zm9vYmE="}, {"foobar", "Zm9vYmFy"},
  };
  for (const auto& [plain, encoded] : vectors) {
    CAPTURE(plain);
    CHECK(base64_encode(plain) == encoded);
    const auto d = base64_decode(encoded);
    REQUIRE(d);
    CHECK(*d == plain);
  }
}

TEST_CASE("base64url: RFC 4648 vectors without padding", "[base64]") {
  const std::pair<const char*, const char*> vectors[] = {
      {"", ""},        {"f", "Zg"},         {"fo", "Zm8"},         {"foo", "Zm9v"},
      {"foob", "Zm9vYg"}, {"fooba", "Zm9vYmE"}, {"foobar", "Zm9vYmFy"},
  };
  for (const auto& [plain, encoded] : vectors) {
    CAPTURE(plain);
    CHECK(base64url_encode(plain) == encoded);
    const auto d = base64url_decode(encoded);
    REQUIRE(d);
    CHECK(*d == plain);
  }
}

TEST_CASE("base64 and base64url differ only in the two last digits", "[base64]") {
  const std::string bytes("\xfb\xff\xbf", 3);  // 111110 111111 111110 111111
  CHECK(base64_encode(bytes) == "+/+/");
  CHECK(base64url_encode(bytes) == "-_-_");
  CHECK(*base64_decode("+/+/") == bytes);
  CHECK(*base64url_decode("-_-_") == bytes);
  CHECK_FALSE(base64_decode("-_-_"));
  CHECK_FALSE(base64url_decode("+/+/"));
}

TEST_CASE("base64: every byte value round-trips", "[base64]") {
  std::string all;
  for (int i = 0; i < 256; ++i) all.push_back(static_cast<char>(i));
  for (std::size_t n = 0; n <= all.size(); n += 37) {
    const std::string s = all.substr(0, n);
    CHECK(*base64_decode(base64_encode(s)) == s);
    CHECK(*base64url_decode(base64url_encode(s)) == s);
  }
}

TEST_CASE("base64: strict decoding refuses malformed input", "[base64]") {
  for (const char* bad : {"Zg", "Zg=", "Zm8", "Z===", "====", "=Zg=", "Zg==Zg==", "Zm9v Yg==", "Zm9v\nYg==",
                          "Zm9vYg=\n", "Zm9*", "Zh==", "Zm9=", "Zm-_", "Zg=a"}) {
    CAPTURE(bad);
    CHECK_FALSE(base64_decode(bad));
  }
  // "Zh==" carries non-zero unused bits ("Zg==" is the canonical form of "f").
  CHECK(base64_decode("Zg==").value() == "f");
}

TEST_CASE("base64url: strict decoding refuses malformed input", "[base64]") {
  for (const char* bad : {"Z", "Zg==", "Zg=", "Zh", "Zm9", "Zm+v", "Zm/v", "Zm9v Yg", "ZmZmZ"}) {
    CAPTURE(bad);
    CHECK_FALSE(base64url_decode(bad));
  }
}

TEST_CASE("base64: a NUL byte inside the input is a bad character", "[base64]") {
  CHECK_FALSE(base64_decode(std::string_view("Zm9\0", 4)));
  CHECK_FALSE(base64url_decode(std::string_view("Zm\0v", 4)));
}
