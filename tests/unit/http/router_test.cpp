#include <herald/http/router.hpp>

#include <catch2/catch.hpp>

#include <stdexcept>
#include <string>

using herald::http::Router;

namespace {
Router<int> demo_router() {
  Router<int> r;
  r.add("GET", "/", 1);
  r.add("GET", "/healthz", 2);
  r.add("POST", "/publish/{topic}", 3);
  r.add("GET", "/sse/{topic}", 4);
  r.add("GET", "/hooks/endpoints/{id}", 5);
  r.add("POST", "/hooks/endpoints/{id}/replay", 6);
  r.add("POST", "/hooks/endpoints", 7);
  r.add("DELETE", "/hooks/endpoints/{id}", 8);
  r.add("GET", "/a/{x}/b/{y}", 9);
  return r;
}
}  // namespace

TEST_CASE("http router: literal and parameter segments", "[http][router]") {
  const auto r = demo_router();
  auto m = r.match("GET", "/");
  REQUIRE(m.status == 0);
  CHECK(*m.handler == 1);
  CHECK(m.params.empty());

  m = r.match("GET", "/sse/prices");
  REQUIRE(m.status == 0);
  CHECK(*m.handler == 4);
  CHECK(m.params.value("topic") == std::optional<std::string_view>("prices"));
  CHECK_FALSE(m.params.value("other"));

  m = r.match("POST", "/hooks/endpoints/ep_1/replay");
  REQUIRE(m.status == 0);
  CHECK(*m.handler == 6);
  CHECK(m.params.value("id") == std::optional<std::string_view>("ep_1"));

  m = r.match("GET", "/a/1/b/2");
  REQUIRE(m.status == 0);
  CHECK(*m.handler == 9);
  REQUIRE(m.params.size() == 2);
  CHECK(m.params.value("x") == std::optional<std::string_view>("1"));
  CHECK(m.params.value("y") == std::optional<std::string_view>("2"));
}

TEST_CASE("http router: 404 for unknown paths", "[http][router]") {
  const auto r = demo_router();
  for (const char* p : {"/nope", "/sse", "/sse/", "/sse/a/b", "/healthz/", "//", "", "*", "http://x/healthz",
                        "/HEALTHZ", "/hooks/endpoints/x/replay/"}) {
    INFO(p);
    auto m = r.match("GET", p);
    CHECK(m.status == 404);
    CHECK(m.handler == nullptr);
    CHECK(r.match("POST", p).status == 404);
  }
}

TEST_CASE("http router: trailing slash is significant", "[http][router]") {
  Router<int> r;
  r.add("GET", "/x", 1);
  r.add("GET", "/x/", 2);
  CHECK(*r.match("GET", "/x").handler == 1);
  CHECK(*r.match("GET", "/x/").handler == 2);
  CHECK(r.match("GET", "/x//").status == 404);
}

TEST_CASE("http router: 405 with Allow in registration order", "[http][router]") {
  const auto r = demo_router();
  auto m = r.match("PUT", "/hooks/endpoints/abc");
  CHECK(m.status == 405);
  CHECK(m.handler == nullptr);
  CHECK(m.allow == "GET, HEAD, DELETE");

  m = r.match("GET", "/publish/t");
  CHECK(m.status == 405);
  CHECK(m.allow == "POST");

  m = r.match("POST", "/healthz");
  CHECK(m.status == 405);
  CHECK(m.allow == "GET, HEAD");

  // Methods are case-sensitive.
  CHECK(r.match("get", "/healthz").status == 405);
}

TEST_CASE("http router: HEAD falls back to GET", "[http][router]") {
  Router<int> r;
  r.add("GET", "/g", 1);
  r.add("GET", "/h", 2);
  r.add("HEAD", "/h", 3);
  r.add("POST", "/p", 4);
  CHECK(*r.match("HEAD", "/g").handler == 1);
  CHECK(*r.match("HEAD", "/h").handler == 3);  // an explicit HEAD route wins
  auto m = r.match("HEAD", "/p");
  CHECK(m.status == 405);
  CHECK(m.allow == "POST");
  m = r.match("PUT", "/h");
  CHECK(m.allow == "GET, HEAD");  // not listed twice
}

TEST_CASE("http router: no percent-decoding, first registered wins", "[http][router]") {
  Router<int> r;
  r.add("GET", "/t/new", 1);
  r.add("GET", "/t/{id}", 2);
  auto m = r.match("GET", "/t/a%2Fb");
  REQUIRE(m.status == 0);
  CHECK(*m.handler == 2);
  CHECK(m.params.value("id") == std::optional<std::string_view>("a%2Fb"));
  CHECK(*r.match("GET", "/t/new").handler == 1);
}

TEST_CASE("http router: bad patterns are refused", "[http][router]") {
  Router<int> r;
  CHECK_THROWS_AS(r.add("GET", "noslash", 1), std::invalid_argument);
  CHECK_THROWS_AS(r.add("GET", "", 1), std::invalid_argument);
  CHECK_THROWS_AS(r.add("GET", "/a/{}", 1), std::invalid_argument);
  CHECK_THROWS_AS(r.add("GET", "/a/{x", 1), std::invalid_argument);
  CHECK_THROWS_AS(r.add("GET", "/a/x{y}", 1), std::invalid_argument);
  CHECK_THROWS_AS(r.add("GET", "/a/{x}/{x}", 1), std::invalid_argument);
  CHECK_THROWS_AS(r.add("GET", "/{a}/{b}/{c}/{d}/{e}/{f}/{g}/{h}/{i}", 1), std::invalid_argument);
  CHECK_THROWS_AS(r.add("", "/a", 1), std::invalid_argument);
  r.add("GET", "/a", 1);
  CHECK_THROWS_AS(r.add("GET", "/a", 2), std::invalid_argument);
  r.add("POST", "/a", 2);
  CHECK(r.size() == 2);
  r.add("GET", "/{a}/{b}/{c}/{d}/{e}/{f}/{g}/{h}", 3);  // exactly max_params
  CHECK(r.match("GET", "/1/2/3/4/5/6/7/8").params.size() == 8);
}

TEST_CASE("http router: handler pointers stay valid as routes are added", "[http][router]") {
  Router<std::string> r;
  r.add("GET", "/first", "one");
  const std::string* h = r.match("GET", "/first").handler;
  for (int i = 0; i < 200; ++i) r.add("GET", "/r" + std::to_string(i), "x");
  CHECK(r.match("GET", "/first").handler == h);
  CHECK(*h == "one");
}
