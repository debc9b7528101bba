#include <herald/websocket/utf8.hpp>

#include <catch2/catch.hpp>

#include <string>

using herald::websocket::is_valid_utf8;
using herald::websocket::Utf8Validator;

namespace {
std::string bytes(std::initializer_list<int> l) {
  std::string s;
  for (int b : l) s.push_back(static_cast<char>(b));
  return s;
}
}  // namespace

TEST_CASE("utf8: valid text of every length class", "[websocket][utf8]") {
  CHECK(is_valid_utf8(""));
  CHECK(is_valid_utf8("plain ascii that is longer than sixteen bytes, to hit the word path"));
  CHECK(is_valid_utf8("\xC2\x80"));                  // U+0080
  CHECK(is_valid_utf8("\xDF\xBF"));                  // U+07FF
  CHECK(is_valid_utf8("\xE0\xA0\x80"));              // U+0800
  CHECK(is_valid_utf8("\xED\x9F\xBF"));              // U+D7FF
  CHECK(is_valid_utf8("\xEE\x80\x80"));              // U+E000
  CHECK(is_valid_utf8("\xEF\xBF\xBF"));              // U+FFFF
  CHECK(is_valid_utf8("\xF0\x90\x80\x80"));          // U+10000
  CHECK(is_valid_utf8("\xF4\x8F\xBF\xBF"));          // U+10FFFF
  CHECK(is_valid_utf8("Hello-\xC2\xB5@\xC3\x9F\xC3\xB6\xC3\xA4\xC3\xBC\xC3\xA0\xC3\xA1-UTF-8!!"));
  CHECK(is_valid_utf8(bytes({0xCE, 0xBA, 0xE1, 0xBD, 0xB9, 0xCF, 0x83, 0xCE, 0xBC, 0xCE, 0xB5})));
}

TEST_CASE("utf8: rejects overlongs, surrogates, out of range and stray bytes", "[websocket][utf8]") {
  CHECK_FALSE(is_valid_utf8(bytes({0xC0, 0x80})));              // overlong NUL
  CHECK_FALSE(is_valid_utf8(bytes({0xC1, 0xBF})));              // overlong
  CHECK_FALSE(is_valid_utf8(bytes({0xE0, 0x9F, 0xBF})));        // overlong 3-byte
  CHECK_FALSE(is_valid_utf8(bytes({0xF0, 0x8F, 0xBF, 0xBF})));  // overlong 4-byte
  CHECK_FALSE(is_valid_utf8(bytes({0xED, 0xA0, 0x80})));        // U+D800
  CHECK_FALSE(is_valid_utf8(bytes({0xED, 0xBF, 0xBF})));        // U+DFFF
  CHECK_FALSE(is_valid_utf8(bytes({0xF4, 0x90, 0x80, 0x80})));  // U+110000
  CHECK_FALSE(is_valid_utf8(bytes({0xF5, 0x80, 0x80, 0x80})));
  CHECK_FALSE(is_valid_utf8(bytes({0xFF})));
  CHECK_FALSE(is_valid_utf8(bytes({0x80})));                    // lone continuation
  CHECK_FALSE(is_valid_utf8(bytes({0xC2, 0x41})));              // missing continuation
  CHECK_FALSE(is_valid_utf8(bytes({0xE1, 0x80})));              // truncated at end
}

TEST_CASE("utf8: reports the first invalid byte, also inside a long ASCII run", "[websocket][utf8]") {
  for (std::size_t pos : {0u, 1u, 7u, 8u, 15u, 16u, 17u, 31u, 40u}) {
    std::string s(48, 'a');
    s[pos] = static_cast<char>(0xFF);
    Utf8Validator v;
    CHECK_FALSE(v.feed(s));
    CHECK(v.error_offset() == pos);
    CHECK(v.failed());
    CHECK_FALSE(v.feed("ok"));  // stays failed
  }
  // The error is the byte that cannot continue, not the lead byte.
  Utf8Validator v;
  CHECK_FALSE(v.feed(bytes({'a', 'b', 0xE0, 0x80, 0x80})));
  CHECK(v.error_offset() == 3);
}

TEST_CASE("utf8: code points split across pieces, one byte at a time", "[websocket][utf8]") {
  const std::string text = "x\xF0\x9F\x98\x80y\xE2\x82\xAC\xC3\xA9z";
  Utf8Validator v;
  for (char c : text) REQUIRE(v.feed(&c, 1));
  CHECK(v.finish());

  Utf8Validator t;
  CHECK(t.feed(bytes({0xF0, 0x9F})));
  CHECK_FALSE(t.finish());  // truncated sequence
  CHECK(t.feed(bytes({0x98})));
  CHECK_FALSE(t.finish());
  CHECK(t.feed(bytes({0x80})));
  CHECK(t.finish());

  Utf8Validator bad;
  CHECK(bad.feed(bytes({0xED})));
  CHECK_FALSE(bad.feed(bytes({0xA0})));  // surrogate detected on its 2nd byte
  CHECK(bad.error_offset() == 0);
  bad.reset();
  CHECK(bad.feed("fine"));
  CHECK(bad.finish());
}

TEST_CASE("utf8: mixed text with multibyte code points at every alignment", "[websocket][utf8]") {
  std::string base;
  for (int i = 0; i < 40; ++i) base += (i % 3 == 0) ? "\xC3\xA9" : "ab";
  for (std::size_t shift = 0; shift < 17; ++shift) {
    std::string s = std::string(shift, 'q') + base + "\xE2\x82\xAC" + std::string(20, 'z');
    CHECK(is_valid_utf8(s));
    std::string broken = s;
    broken.insert(shift + 30, 1, static_cast<char>(0xBF));
    CHECK_FALSE(is_valid_utf8(broken));
  }
}
