// herald-demo: the state shared by the demo's routes.
#pragma once
#include <herald/auth/origin.hpp>
#include <herald/core/broadcaster.hpp>
#include <herald/http/server.hpp>

#include <chrono>
#include <functional>
#include <optional>
#include <string>
#include <vector>

namespace demo {

/// The flags of CONTRACT.md.
struct Config {
  std::string bind = "127.0.0.1";
  int port = -1;
  unsigned threads = 0;
  std::string data_dir;
  std::vector<std::string> cors_origins;
  std::string webhook_secret;
  bool allow_private_webhook_targets = false;
  std::string webhook_retry_schedule = "0s,5s,5m,30m,2h,5h,10h,10h";
  std::string auth_secret;
  std::string auth_audience;
  std::vector<std::string> ws_origins;
  std::size_t max_body = 1024 * 1024;
  std::size_t max_message = 32u * 1024 * 1024;
  std::size_t max_connections = 10000;
  std::size_t history = 10000;
  std::chrono::milliseconds heartbeat{15000};
  std::chrono::milliseconds long_poll_max{60000};
  std::chrono::milliseconds header_timeout{10000};  ///< ServerOptions::header_timeout
  std::chrono::milliseconds idle_timeout{60000};    ///< ServerOptions::idle_timeout
  std::chrono::milliseconds write_timeout{30000};   ///< ServerOptions::write_timeout (0: never)
};

struct Demo {
  Config cfg;
  herald::Broadcaster<std::string>& hub;
  herald::Server& server;
  herald::auth::OriginPolicy cors;  ///< cors_policy(cfg)
  /// Asked before a publish: an error refuses it (503; the webhook outbox
  /// cannot take it). Set once before the server starts; empty: all pass.
  std::function<std::error_code(std::string_view topic)> admit{};
};

/// The CORS policy of --cors-origin (SSE, polling, publish), and the WebSocket
/// Origin allowlist of --ws-origin: both auth::OriginPolicy, made here only.
/// Credentials (cookies, `withCredentials`) are allowed for listed origins,
/// so a page can send the `herald_token` cookie; never with `*`, which would
/// let every site read responses made with the user's cookies.
inline herald::auth::OriginPolicy cors_policy(const Config& cfg) {
  bool star = false;
  for (const auto& o : cfg.cors_origins) star = star || o == "*";
  return herald::auth::OriginPolicy{.allowed = cfg.cors_origins, .allow_credentials = !star};
}
inline herald::auth::OriginPolicy ws_origin_policy(const Config& cfg) {
  return herald::auth::OriginPolicy{.allowed = cfg.ws_origins};
}

}  // namespace demo
