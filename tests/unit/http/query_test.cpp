#include <herald/http/query.hpp>

#include <catch2/catch.hpp>

using herald::http::parse_uint64;
using herald::http::percent_decode;
using herald::http::query_param;

TEST_CASE("query: find parameters in a target or a bare query", "[http][query]") {
  CHECK(query_param("/sse/t?lastEventId=5", "lastEventId") == "5");
  CHECK(query_param("/sse/t?a=1&b=2&a=3", "a") == "1");  // first wins
  CHECK(query_param("/sse/t?a=1&b=2", "b") == "2");
  CHECK(query_param("/sse/t?a=1&b=2", "c") == std::nullopt);
  CHECK(query_param("/sse/t", "a") == std::nullopt);
  CHECK(query_param("/sse/t?", "a") == std::nullopt);
  CHECK(query_param("/sse/t?flag&x=1", "flag") == "");
  CHECK(query_param("/sse/t?flag=&x=1", "flag") == "");
  CHECK(query_param("/sse/t?&&a=1&&", "a") == "1");
  CHECK(query_param("/sse/t?a=1#frag", "a") == "1");
  CHECK(query_param("/sse/t?a=1#b=2", "b") == std::nullopt);
  CHECK(query_param("a=1&b=2", "b") == "2");  // bare query
  CHECK(query_param("/p?x=a=b", "x") == "a=b");  // '=' in a value
  CHECK(query_param("/p?ab=1", "a") == std::nullopt);
  CHECK(query_param("/p?A=1", "a") == std::nullopt);  // case-sensitive
  CHECK(query_param("/p/a=1", "a") == std::nullopt);  // a path is not a query
}

TEST_CASE("query: percent-decoding of names and values", "[http][query]") {
  CHECK(query_param("/p?access%5Ftoken=abc", "access_token") == "abc");
  CHECK(query_param("/p?t=a%20b+c", "t") == "a b c");
  CHECK(query_param("/p?t=%41%4a%4A", "t") == "AJJ");
  CHECK(query_param("/p?t=%26%3D", "t") == "&=");  // encoded separators do not split
  CHECK(query_param("/p?t=%00x", "t") == std::string("\0x", 2));
  CHECK(query_param("/p?t=caf%C3%A9", "t") == "caf\xC3\xA9");
  // Malformed escapes stay literal, as browsers keep them.
  CHECK(percent_decode("%") == "%");
  CHECK(percent_decode("%4") == "%4");
  CHECK(percent_decode("%zz1") == "%zz1");
  CHECK(percent_decode("a%2") == "a%2");
  CHECK(percent_decode("%%41") == "%A");
  CHECK(percent_decode("") == "");
}

TEST_CASE("query: strict decimal uint64", "[http][query]") {
  CHECK(parse_uint64("0") == 0u);
  CHECK(parse_uint64("007") == 7u);
  CHECK(parse_uint64("18446744073709551615") == 18446744073709551615ULL);
  CHECK_FALSE(parse_uint64("18446744073709551616"));
  CHECK_FALSE(parse_uint64("18446744073709551620"));
  CHECK_FALSE(parse_uint64("184467440737095516150"));
  CHECK_FALSE(parse_uint64(""));
  CHECK_FALSE(parse_uint64("-1"));
  CHECK_FALSE(parse_uint64("+1"));
  CHECK_FALSE(parse_uint64(" 1"));
  CHECK_FALSE(parse_uint64("1 "));
  CHECK_FALSE(parse_uint64("1e3"));
  CHECK_FALSE(parse_uint64("0x1"));
  CHECK_FALSE(parse_uint64("\xD9\xA1"));  // Arabic-Indic digit one
}
