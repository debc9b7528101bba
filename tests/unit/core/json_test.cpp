#include <herald/core/json.hpp>

#include <catch2/catch.hpp>

#include <random>
#include <string>

using herald::json::parse;
using herald::json::Value;

namespace {
std::string escaped(std::string_view s) {
  std::string out;
  herald::json::append_escaped(out, s);
  CHECK(out.size() == herald::json::escaped_size(s));
  return out;
}
std::string reserialize(std::string_view text) {
  auto v = parse(text);
  REQUIRE(v);
  std::string out;
  herald::json::serialize(out, *v);
  return out;
}
}  // namespace

TEST_CASE("json: append_escaped escapes quotes, backslash and controls only", "[json]") {
  CHECK(escaped("plain text") == "plain text");
  CHECK(escaped("a\"b\\c") == "a\\\"b\\\\c");
  CHECK(escaped("\n\r\t\b\f") == "\\n\\r\\t\\b\\f");
  CHECK(escaped(std::string_view("\0\x01\x1f", 3)) == "\\u0000\\u0001\\u001f");
  CHECK(escaped("\x7f") == "\x7f");                      // DEL untouched
  CHECK(escaped("h\xC3\xA9llo \xF0\x9F\x98\x80") == "h\xC3\xA9llo \xF0\x9F\x98\x80");  // UTF-8 kept
  CHECK(escaped("/") == "/");
  CHECK(escaped("") == "");
  std::string out = "prefix:";
  herald::json::append_escaped(out, "x\"");
  CHECK(out == "prefix:x\\\"");
}

TEST_CASE("json: escape then parse round-trips every byte string that is UTF-8", "[json]") {
  std::mt19937 rng(42);
  const char* alphabet[] = {"a", "\"", "\\", "\n", "\r", "\x01", "\x1f", "\x7f", "\xC3\xA9", "\xE2\x82\xAC",
                            "\xF0\x9F\x98\x80", "/", " ", std::string_view("\0", 1).data()};
  for (int iter = 0; iter < 500; ++iter) {
    std::string s;
    int n = static_cast<int>(rng() % 20);
    for (int i = 0; i < n; ++i) {
      auto k = rng() % 14;
      if (k == 13) s.push_back('\0');
      else s += alphabet[k];
    }
    std::string doc = "\"" + escaped(s) + "\"";
    auto v = parse(doc);
    REQUIRE(v);
    REQUIRE(v->as_string());
    CHECK(*v->as_string() == s);
  }
}

TEST_CASE("json: parse scalars", "[json]") {
  CHECK(parse("null")->is_null());
  CHECK(parse("true")->as_bool() == true);
  CHECK(parse(" false ")->as_bool() == false);
  CHECK(parse("0")->as_int64() == 0);
  CHECK(parse("-12")->as_int64() == -12);
  CHECK(parse("1.5")->as_double() == 1.5);
  CHECK_FALSE(parse("1.5")->as_int64());
  CHECK(parse("1e3")->as_int64() == 1000);
  CHECK(parse("2.0")->as_int64() == 2);
  CHECK(parse("-1E-2")->as_double() == -0.01);
  // Exact above 2^53, where a double would round.
  CHECK(parse("9007199254740993")->as_int64() == 9007199254740993LL);
  CHECK(parse("9223372036854775807")->as_int64() == INT64_MAX);
  CHECK(parse("-9223372036854775808")->as_int64() == INT64_MIN);
  CHECK_FALSE(parse("9223372036854775808")->as_int64());  // out of int64, still a number
  CHECK(parse("9223372036854775808")->is_number());
  CHECK(parse("1e-400")->as_double() == 0.0);  // underflow is a number
  CHECK_FALSE(parse("1e400"));                 // overflow has no double
  CHECK_FALSE(parse("-1e400"));
  CHECK(*parse("\"\\u00e9\\ud83d\\ude00\\/\"")->as_string() == "\xC3\xA9\xF0\x9F\x98\x80/");
  CHECK_FALSE(parse("1")->as_string());
  CHECK_FALSE(parse("\"1\"")->as_int64());
}

TEST_CASE("json: parse objects and arrays keeping order", "[json]") {
  auto v = parse(R"({"b":1,"a":[true,null,"x",{"k":{}}],"b":2})");
  REQUIRE(v);
  REQUIRE(v->is_object());
  auto& o = *v->as_object();
  REQUIRE(o.size() == 3);
  CHECK(o[0].first == "b");
  CHECK(o[1].first == "a");
  CHECK(v->find("b")->as_int64() == 1);  // first duplicate wins
  auto* a = v->find("a");
  REQUIRE(a);
  REQUIRE(a->as_array()->size() == 4);
  CHECK((*a->as_array())[1].is_null());
  CHECK((*a->as_array())[3].find("k")->is_object());
  CHECK(v->find("missing") == nullptr);
  CHECK(parse("[]")->as_array()->empty());
  CHECK(parse(" { } ")->as_object()->empty());
  CHECK(parse("[1]")->find("x") == nullptr);
}

TEST_CASE("json: strict RFC 8259 rejections", "[json]") {
  const char* bad[] = {
      "", " ", "[1,]", "{\"a\":1,}", "[,1]", "{,}", "// c\n1", "/*c*/1", "[1 2]", "{\"a\" 1}", "{a:1}",
      "{'a':1}", "'x'", "01", "-", "+1", "1.", ".5", "1e", "1e+", "0x10", "NaN", "Infinity", "-Infinity",
      "tru", "nul", "truex", "1 2", "[1]]", "{}x", "\"abc", "\"a\tb\"", "\"\\x\"", "\"\\u12\"", "\"\\u12g4\"",
      "\"\\ud800\"", "\"\\udc00\"", "\"\\ud800\\u0041\"", "\"\\ud800x\"", "\"\xC3\"", "\"\xC0\xAF\"",
      "\"\xED\xA0\x80\"", "\"\xF4\x90\x80\x80\"", "\"\xFF\"", "\"\x80\"", "\"\xE2\x82\"", "[", "{", "{\"a\"",
      "{\"a\":", "\xEF\xBB\xBF{}",
  };
  for (const char* b : bad) {
    INFO("input: " << b);
    CHECK_FALSE(parse(b));
  }
  CHECK_FALSE(parse(std::string_view("\"a\0b\"", 5)));  // raw NUL
  CHECK_FALSE(parse(std::string_view("1\0", 2)));       // trailing NUL
  CHECK(*parse(std::string_view("\"a\\u0000b\"", 10))->as_string() == std::string_view("a\0b", 3));
}

TEST_CASE("json: depth limit bounds nesting", "[json]") {
  auto nested = [](std::size_t n) { return std::string(n, '[') + std::string(n, ']'); };
  CHECK(parse(nested(32)));
  CHECK_FALSE(parse(nested(33)));
  CHECK(parse(nested(5), 5));
  CHECK_FALSE(parse(nested(6), 5));
  CHECK_FALSE(parse("{\"a\":{\"b\":1}}", 1));
  CHECK(parse("{\"a\":{\"b\":1}}", 2));
  CHECK_FALSE(parse(std::string(100000, '[')));  // no stack overflow
  CHECK(parse("1", 0));
  CHECK_FALSE(parse("[]", 0));
}

TEST_CASE("json: serialize then parse is stable", "[json]") {
  CHECK(reserialize(R"( { "a" : [ 1 , 2.5 , -0 , 1e2 , "x\"" , true , null ] } )") ==
        R"({"a":[1,2.5,-0,100,"x\"",true,null]})");
  const char* docs[] = {"1e300", "-1.2345678901234567e-300", "12345678901234567890", "0.1", "[\"\\u0001\"]",
                        "{\"\xC3\xA9\":{}}", "-0.0", "5e-324"};
  for (const char* d : docs) {
    INFO(d);
    std::string once = reserialize(d);
    CHECK(reserialize(once) == once);
    CHECK(parse(once)->as_double() == parse(d)->as_double());
  }
}
