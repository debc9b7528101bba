#include <herald/websocket/handshake.hpp>

#include <catch2/catch.hpp>

#include <map>
#include <string>

using namespace herald::websocket;

namespace {

bool ieq(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) return false;
  for (std::size_t i = 0; i < a.size(); ++i)
    if (std::tolower(static_cast<unsigned char>(a[i])) != std::tolower(static_cast<unsigned char>(b[i])))
      return false;
  return true;
}

/// A hand-made request, as a user of another HTTP parser would write.
struct FakeRequest {
  std::string method_ = "GET";
  std::string target_ = "/chat";
  std::vector<std::pair<std::string, std::string>> headers_ = {
      {"host", "server.example.com"},
      {"upgrade", "websocket"},
      {"connection", "Upgrade"},
      {"sec-websocket-key", "dGhlIHNhbXBsZSBub25jZQ=="},
      {"origin", "http://example.com"},
      {"sec-websocket-protocol", "chat, superchat"},
      {"sec-websocket-version", "13"},
  };
  std::string_view method() const { return method_; }
  std::string_view target() const { return target_; }
  std::optional<std::string_view> header(std::string_view name) const {
    for (const auto& [n, v] : headers_)
      if (ieq(n, name)) return std::string_view(v);
    return std::nullopt;
  }
  void set(std::string_view name, std::string value) {
    for (auto& [n, v] : headers_)
      if (ieq(n, name)) {
        v = std::move(value);
        return;
      }
    headers_.emplace_back(std::string(name), std::move(value));
  }
  void erase(std::string_view name) {
    std::erase_if(headers_, [&](const auto& h) { return ieq(h.first, name); });
  }
};
static_assert(herald::http::RequestLike<FakeRequest>);

}  // namespace

TEST_CASE("handshake: RFC 6455 accept key example", "[websocket][handshake]") {
  CHECK(accept_key("dGhlIHNhbXBsZSBub25jZQ==") == "s3pPLMBiTxaQ9kYGzzhZRbK+xOo=");
}

TEST_CASE("handshake: the RFC's request is accepted", "[websocket][handshake]") {
  FakeRequest req;
  HandshakeOptions opts{.subprotocols = {"superchat", "chat"}};
  auto r = check_request(req, opts);
  REQUIRE(r);
  CHECK(r.status == 101);
  CHECK(r.accept == "s3pPLMBiTxaQ9kYGzzhZRbK+xOo=");
  CHECK(r.subprotocol == "superchat");  // the server's preference, not the client's order
  CHECK_FALSE(r.deflate);
  std::string out;
  write_accept_response(out, r);
  CHECK(out ==
        "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
        "Sec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo=\r\nSec-WebSocket-Protocol: superchat\r\n\r\n");
}

TEST_CASE("handshake: tokens are case-insensitive and lists are read", "[websocket][handshake]") {
  FakeRequest req;
  req.set("Connection", "keep-alive, Upgrade");
  req.set("Upgrade", "WebSocket");
  CHECK(check_request(req, {}));
  req.set("Connection", "keep-alive,upgrade ");
  CHECK(check_request(req, {}));
  req.set("Connection", "keep-alive");
  auto r = check_request(req, {});
  CHECK_FALSE(r);
  CHECK(r.status == 400);
  CHECK(r.error == herald::error::ws_bad_handshake);
}

TEST_CASE("handshake: refusals carry the right status", "[websocket][handshake]") {
  auto expect = [](FakeRequest req, int status, HandshakeOptions opts = {}) {
    auto r = check_request(req, opts);
    CHECK_FALSE(r);
    CHECK(r.status == status);
    CHECK_FALSE(r.reason.empty());
    return r;
  };
  FakeRequest base;
  { auto q = base; q.method_ = "POST"; expect(q, 400); }
  { auto q = base; q.erase("Upgrade"); expect(q, 400); }
  { auto q = base; q.set("Upgrade", "h2c"); expect(q, 400); }
  { auto q = base; q.erase("Connection"); expect(q, 400); }
  { auto q = base; q.erase("Host"); expect(q, 400); }
  { auto q = base; q.erase("Sec-WebSocket-Key"); expect(q, 400); }
  { auto q = base; q.set("Sec-WebSocket-Key", "dGhlIHNhbXBsZQ=="); expect(q, 400); }      // 11 bytes
  { auto q = base; q.set("Sec-WebSocket-Key", "not base64 at all!!!!!=="); expect(q, 400); }
  { auto q = base; q.set("Sec-WebSocket-Key", "AAAAAAAAAAAAAAAAAAAAAAAAAAAA"); expect(q, 400); }  // 21 bytes
  {
    auto q = base;
    q.set("Sec-WebSocket-Version", "8");
    auto r = expect(q, 426);
    CHECK(r.error == herald::error::ws_bad_version);
    std::string out;
    write_reject_response(out, r);
    CHECK(out.rfind("HTTP/1.1 426 Upgrade Required\r\n", 0) == 0);
    CHECK(out.find("\r\nSec-WebSocket-Version: 13\r\n") != std::string::npos);
    CHECK(out.find("Content-Length: " + std::to_string(r.reason.size()) + "\r\n") != std::string::npos);
  }
  { auto q = base; q.erase("Sec-WebSocket-Version"); expect(q, 426); }
  {
    HandshakeOptions opts{.check_origin = [](std::string_view o) { return o == "https://good.example"; }};
    auto r = expect(base, 403, opts);
    CHECK(r.error == herald::error::auth_forbidden);
    std::string out;
    write_reject_response(out, r);
    CHECK(out.rfind("HTTP/1.1 403 Forbidden\r\n", 0) == 0);
    CHECK(out.find("Sec-WebSocket-Version") == std::string::npos);
    FakeRequest good = base;
    good.set("Origin", "https://good.example");
    CHECK(check_request(good, opts));
    FakeRequest none = base;  // no Origin: the hook sees an empty string
    none.erase("Origin");
    CHECK_FALSE(check_request(none, opts));
  }
}

TEST_CASE("handshake: subprotocol selection", "[websocket][handshake]") {
  FakeRequest req;
  CHECK(check_request(req, {.subprotocols = {"chat"}}).subprotocol == "chat");
  CHECK(check_request(req, {.subprotocols = {"herald.v1"}}).subprotocol.empty());
  CHECK(check_request(req, {}).subprotocol.empty());
  req.erase("Sec-WebSocket-Protocol");
  CHECK(check_request(req, {.subprotocols = {"chat"}}).subprotocol.empty());
}

TEST_CASE("handshake: permessage-deflate is negotiated", "[websocket][handshake]") {
  FakeRequest req;
  req.set("Sec-WebSocket-Extensions", "permessage-deflate; client_max_window_bits");
  auto r = check_request(req, {});
  REQUIRE(r);
  REQUIRE(r.deflate);
  CHECK(r.deflate->server_no_context_takeover);
  std::string out;
  write_accept_response(out, r, std::vector<HeaderField>{{"Set-Cookie", "a=b"}});
  CHECK(out.find("\r\nSec-WebSocket-Extensions: permessage-deflate; server_no_context_takeover; "
                 "client_no_context_takeover\r\n") != std::string::npos);
  CHECK(out.find("\r\nSet-Cookie: a=b\r\n\r\n") != std::string::npos);
  HandshakeOptions off;
  off.deflate.enabled = false;
  CHECK_FALSE(check_request(req, off).deflate);
}

TEST_CASE("handshake: client request and response check", "[websocket][handshake]") {
  const std::string key = make_client_key();
  CHECK(key.size() == 24);
  CHECK(herald::base64_decode(key)->size() == 16);
  CHECK(make_client_key() != key);

  const std::vector<std::string_view> protos{"herald.v1", "chat"};
  const std::string req = build_client_request("example.com:8080", "/ws/topic/a?after=3", key, protos, true,
                                               std::vector<HeaderField>{{"Origin", "https://example.com"}});
  CHECK(req.rfind("GET /ws/topic/a?after=3 HTTP/1.1\r\nHost: example.com:8080\r\n", 0) == 0);
  CHECK(req.find("\r\nSec-WebSocket-Key: " + key + "\r\n") != std::string::npos);
  CHECK(req.find("\r\nSec-WebSocket-Version: 13\r\n") != std::string::npos);
  CHECK(req.find("\r\nSec-WebSocket-Protocol: herald.v1, chat\r\n") != std::string::npos);
  CHECK(req.find("\r\nSec-WebSocket-Extensions: permessage-deflate; client_max_window_bits") != std::string::npos);
  CHECK(req.find("\r\nOrigin: https://example.com\r\n\r\n") != std::string::npos);

  std::map<std::string, std::string> h{{"upgrade", "websocket"},
                                       {"connection", "Upgrade"},
                                       {"sec-websocket-accept", accept_key(key)},
                                       {"sec-websocket-protocol", "chat"},
                                       {"sec-websocket-extensions",
                                        "permessage-deflate; server_no_context_takeover; client_no_context_takeover"}};
  auto lookup = [&h](std::string_view name) -> std::optional<std::string_view> {
    std::string n(name);
    for (auto& c : n) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    auto it = h.find(n);
    if (it == h.end()) return std::nullopt;
    return std::string_view(it->second);
  };
  auto ok = check_response(101, lookup, key, protos, true);
  REQUIRE(ok);
  CHECK(ok.subprotocol == "chat");
  REQUIRE(ok.deflate);
  CHECK(ok.deflate->server_no_context_takeover);

  CHECK_FALSE(check_response(200, lookup, key, protos, true));
  CHECK_FALSE(check_response(101, lookup, key, protos, false));  // extension not offered
  CHECK_FALSE(check_response(101, lookup, key, {}, true));       // subprotocol not offered
  CHECK_FALSE(check_response(101, lookup, "dGhlIHNhbXBsZSBub25jZQ==", protos, true));  // wrong accept
  h["sec-websocket-extensions"] = "permessage-deflate; server_no_context_takeover; mystery";
  CHECK_FALSE(check_response(101, lookup, key, protos, true));
  h.erase("sec-websocket-extensions");
  h["connection"] = "close";
  CHECK_FALSE(check_response(101, lookup, key, protos, true));
  h["connection"] = "upgrade";
  h.erase("upgrade");
  CHECK_FALSE(check_response(101, lookup, key, protos, true));
}
