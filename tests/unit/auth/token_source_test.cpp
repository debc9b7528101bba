#include <herald/auth/token_source.hpp>

#include <catch2/catch.hpp>

#include <map>
#include <string>

using namespace herald::auth;

namespace {

/// A hand-made request: the smallest thing that satisfies RequestLike.
struct FakeRequest {
  std::string method_ = "GET";
  std::string target_ = "/sse/chat";
  std::map<std::string, std::string> headers_;  // keys in lower case

  std::string_view method() const { return method_; }
  std::string_view target() const { return target_; }
  std::optional<std::string_view> header(std::string_view name) const {
    std::string key;
    for (char c : name) key += static_cast<char>(c >= 'A' && c <= 'Z' ? c - 'A' + 'a' : c);
    auto it = headers_.find(key);
    if (it == headers_.end()) return std::nullopt;
    return std::string_view(it->second);
  }
};
static_assert(herald::http::RequestLike<FakeRequest>);

std::optional<std::string> token_of(const FakeRequest& r, const TokenSourceOptions& o = {}) {
  auto t = extract_token(r, o);
  if (!t) return std::nullopt;
  return t->value;
}

}  // namespace

TEST_CASE("token source: Authorization Bearer", "[auth][token]") {
  FakeRequest r;
  r.headers_["authorization"] = "Bearer abc.def.ghi";
  auto t = extract_token(r);
  REQUIRE(t);
  CHECK(t->value == "abc.def.ghi");
  CHECK(t->source == TokenSource::authorization_header);

  r.headers_["authorization"] = "bearer   abc.def.ghi  ";
  CHECK(token_of(r) == "abc.def.ghi");
  r.headers_["authorization"] = "BEARER x";
  CHECK(token_of(r) == "x");
  for (const char* bad : {"Basic dXNlcjpwYXNz", "Bearer", "Bearer ", "Bearerabc", "Bearer a b", "Token abc", ""}) {
    r.headers_["authorization"] = bad;
    CHECK_FALSE(token_of(r));
  }
}

TEST_CASE("token source: access_token query parameter", "[auth][token]") {
  FakeRequest r;
  r.target_ = "/sse/chat?lastEventId=3&access_token=abc.def.ghi";
  auto t = extract_token(r);
  REQUIRE(t);
  CHECK(t->value == "abc.def.ghi");
  CHECK(t->source == TokenSource::query);

  r.target_ = "/sse/chat?access_token=a%2Eb%2ec&x=1";
  CHECK(token_of(r) == "a.b.c");
  r.target_ = "/sse/chat?access_token=a+b";
  CHECK(token_of(r) == "a b");
  r.target_ = "/sse/chat?access_token=first&access_token=second";
  CHECK(token_of(r) == "first");
  r.target_ = "/sse/chat?xaccess_token=a&access_tokenx=b";
  CHECK_FALSE(token_of(r));
  r.target_ = "/sse/chat?access_token=";
  CHECK_FALSE(token_of(r));
  // A stray `%` stays literal (as browsers keep it); the verifier then
  // refuses the token as malformed.
  r.target_ = "/sse/chat?access_token=bad%zz";
  CHECK(token_of(r) == "bad%zz");
  r.target_ = "/sse/chat?access%5Ftoken=escaped-name";
  CHECK(token_of(r) == "escaped-name");
  r.target_ = "/sse/chat?a=1#access_token=frag";
  CHECK_FALSE(token_of(r));
  r.target_ = "/sse/access_token=x";
  CHECK_FALSE(token_of(r));
  r.target_ = "/sse/chat?access_token=q";
  CHECK_FALSE(token_of(r, {.query_parameter = ""}));
  CHECK(token_of(r, {.query_parameter = "token"}) == std::nullopt);
  r.target_ = "/sse/chat?token=q";
  CHECK(token_of(r, {.query_parameter = "token"}) == "q");
}

TEST_CASE("token source: cookie", "[auth][token]") {
  FakeRequest r;
  r.headers_["cookie"] = "theme=dark; herald_token=abc.def.ghi; other=1";
  auto t = extract_token(r);
  REQUIRE(t);
  CHECK(t->value == "abc.def.ghi");
  CHECK(t->source == TokenSource::cookie);

  r.headers_["cookie"] = "herald_token=\"q.r.s\"";
  CHECK(token_of(r) == "q.r.s");
  r.headers_["cookie"] = "xherald_token=a;herald_tokenx=b";
  CHECK_FALSE(token_of(r));
  r.headers_["cookie"] = "herald_token=";
  CHECK_FALSE(token_of(r));
  r.headers_["cookie"] = "session=s1;auth=c.d.e";
  CHECK(token_of(r, {.cookie_name = "auth"}) == "c.d.e");
  CHECK_FALSE(token_of(r, {.cookie_name = ""}));
}

TEST_CASE("token source: precedence header > query > cookie", "[auth][token]") {
  FakeRequest r;
  r.target_ = "/poll/chat?access_token=from-query";
  r.headers_["cookie"] = "herald_token=from-cookie";
  r.headers_["authorization"] = "Bearer from-header";
  CHECK(token_of(r) == "from-header");
  r.headers_["authorization"] = "Basic dXNlcjpwYXNz";  // not ours: skipped
  CHECK(token_of(r) == "from-query");
  r.headers_.erase("authorization");
  CHECK(token_of(r) == "from-query");
  r.target_ = "/poll/chat";
  CHECK(token_of(r) == "from-cookie");
  r.headers_.erase("cookie");
  CHECK_FALSE(token_of(r));
  // Turning the header off makes the query win even when a header is sent.
  r.target_ = "/poll/chat?access_token=from-query";
  r.headers_["authorization"] = "Bearer from-header";
  CHECK(token_of(r, {.authorization_header = false}) == "from-query");
}

TEST_CASE("token source: through a HeaderLookup callable", "[auth][token]") {
  const auto lookup = [](std::string_view name) -> std::optional<std::string_view> {
    if (name == "Authorization") return "Bearer via-lambda";
    return std::nullopt;
  };
  auto t = extract_token("/ws/topic/x", lookup);
  REQUIRE(t);
  CHECK(t->value == "via-lambda");
  CHECK_FALSE(extract_token("/ws/topic/x", HeaderLookup{}));
}
