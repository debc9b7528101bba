#include <herald/auth/authorizer.hpp>

#include <catch2/catch.hpp>

#include <map>
#include <string>

using namespace herald;
using namespace herald::auth;
using namespace std::chrono_literals;
using Clock = std::chrono::system_clock;

namespace {

const Clock::time_point T0{std::chrono::seconds(1'700'000'000)};
const Key kKey{Algorithm::hs256, "an HS256 secret of 32 bytes or more"};

struct FakeRequest {
  std::string target_ = "/sse/chat.room1";
  std::map<std::string, std::string> headers_;
  std::string_view method() const { return "GET"; }
  std::string_view target() const { return target_; }
  std::optional<std::string_view> header(std::string_view name) const {
    for (const auto& [k, v] : headers_)
      if (herald::auth::detail::iequals(k, name)) return std::string_view(v);
    return std::nullopt;
  }
};

std::string token(Clock::time_point exp, Permissions p, const Key& key = kKey) {
  return issue_token(key, {.permissions = std::move(p), .expires = exp});
}

AuthDecision ask(const auto& authz, const FakeRequest& r, std::string_view topic, Action a,
                 Clock::time_point now = T0) {
  return authz(AuthRequest{.method = r.method(), .target = r.target(), .headers = r,
                           .peer_address = "192.0.2.1", .topic = topic, .action = a, .now = now});
}

}  // namespace

TEST_CASE("authorizer: JWT decisions", "[auth][authorizer]") {
  const JwtAuthorizer authz{JwtVerifier({kKey})};
  const Permissions perms{.subscribe = {"chat.*"}, .publish = {"chat.room1"}};
  FakeRequest r;

  SECTION("no token: 401 missing") {
    const auto d = ask(authz, r, "chat.room1", Action::subscribe);
    CHECK_FALSE(d.allowed);
    CHECK(d.status == 401);
    CHECK(d.error == error::auth_missing_token);
    CHECK(www_authenticate(d) == "Bearer");
  }
  SECTION("valid token, allowed topic: allowed until exp + leeway") {
    r.headers_["Authorization"] = "Bearer " + token(T0 + 5min, perms);
    const auto d = ask(authz, r, "chat.room1", Action::subscribe);
    CHECK(d.allowed);
    REQUIRE(d.expires);
    CHECK(*d.expires == T0 + 5min + 30s);
    CHECK(ask(authz, r, "chat.room1", Action::publish).allowed);
  }
  SECTION("valid token, other topic or action: 403") {
    r.headers_["Authorization"] = "Bearer " + token(T0 + 5min, perms);
    const auto d = ask(authz, r, "news", Action::subscribe);
    CHECK_FALSE(d.allowed);
    CHECK(d.status == 403);
    CHECK(d.error == error::auth_forbidden);
    CHECK(www_authenticate(d) == "Bearer error=\"insufficient_scope\"");
    CHECK(ask(authz, r, "chat.room2", Action::publish).status == 403);
  }
  SECTION("forged token: 401 invalid") {
    r.headers_["Authorization"] = "Bearer " + token(T0 + 5min, perms, {Algorithm::hs256, "another secret entirely, 32 bytes"});
    const auto d = ask(authz, r, "chat.room1", Action::subscribe);
    CHECK(d.status == 401);
    CHECK(d.error == error::auth_invalid_token);
    CHECK(www_authenticate(d) == "Bearer error=\"invalid_token\"");
  }
  SECTION("expired token: 401 expired") {
    r.headers_["Authorization"] = "Bearer " + token(T0 - 1min, perms);
    const auto d = ask(authz, r, "chat.room1", Action::subscribe);
    CHECK(d.status == 401);
    CHECK(d.error == error::auth_expired);
  }
  SECTION("the token from the query works too (EventSource)") {
    r.target_ = "/sse/chat.room1?access_token=" + token(T0 + 5min, perms);
    CHECK(ask(authz, r, "chat.room1", Action::subscribe).allowed);
  }
  SECTION("time comes from the request") {
    r.headers_["Authorization"] = "Bearer " + token(T0 + 5min, perms);
    CHECK(ask(authz, r, "chat.room1", Action::subscribe, T0 + 5min + 29s).allowed);
    CHECK(ask(authz, r, "chat.room1", Action::subscribe, T0 + 5min + 30s).error == error::auth_expired);
  }
}

TEST_CASE("authorizer: anonymous grant", "[auth][authorizer]") {
  const JwtAuthorizer authz{JwtVerifier({kKey}), {.anonymous = Permissions{.subscribe = {"public.*"}}}};
  FakeRequest r;
  const auto d = ask(authz, r, "public.news", Action::subscribe);
  CHECK(d.allowed);
  CHECK_FALSE(d.expires);
  CHECK(ask(authz, r, "public.news", Action::publish).status == 401);
  CHECK(ask(authz, r, "private", Action::subscribe).status == 401);
  // A bad token is not silently downgraded to anonymous.
  r.headers_["Authorization"] = "Bearer not.a.token";
  CHECK(ask(authz, r, "public.news", Action::subscribe).status == 401);
}

TEST_CASE("authorizer: decide on kept claims (WebSocket messages)", "[auth][authorizer]") {
  const JwtAuthorizer authz{JwtVerifier({kKey})};
  const auto v = authz.verifier().verify(token(T0 + 1h, {.subscribe = {}, .publish = {"game.*"}}), T0);
  REQUIRE(v);
  CHECK(authz.decide(v.claims, "game.7", Action::publish).allowed);
  CHECK(authz.decide(v.claims, "game.7", Action::subscribe).status == 403);
}

TEST_CASE("authorizer: any callable is a hook", "[auth][authorizer]") {
  const auto by_ip = [](const AuthRequest& req) {
    if (req.peer_address.substr(0, 3) == "10.") return AuthDecision::allow();
    return AuthDecision::deny(403, "internal network only");
  };
  static_assert(Authorizer<decltype(by_ip)>);
  AnyAuthorizer hook = by_ip;
  FakeRequest r;
  CHECK_FALSE(hook(AuthRequest{.headers = r, .peer_address = "192.0.2.1", .topic = "x"}).allowed);
  const auto d = hook(AuthRequest{.headers = r, .peer_address = "10.1.2.3", .topic = "x"});
  CHECK(d.allowed);
  hook = JwtAuthorizer{JwtVerifier({kKey})};
  CHECK(hook(AuthRequest{.headers = r, .topic = "x"}).status == 401);
  CHECK(AuthDecision::deny(429, "slow down").error == error::auth_rate_limited);
  CHECK(AuthDecision::deny(403, "no").error == error::auth_forbidden);
}
