// herald-demo: the state shared by the demo's routes.
#pragma once
#include <herald/core/broadcaster.hpp>
#include <herald/http/server.hpp>

#include <chrono>
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
};

struct Demo {
  Config cfg;
  herald::Broadcaster<std::string>& hub;
  herald::Server& server;
};

/// CORS headers for `origin` if it is configured, else nothing.
inline std::vector<std::pair<std::string, std::string>> cors_for(const Config& cfg, std::string_view origin) {
  std::vector<std::pair<std::string, std::string>> h;
  if (origin.empty()) return h;
  for (auto& o : cfg.cors_origins) {
    if (o == "*" || o == origin) {
      h.emplace_back("Access-Control-Allow-Origin", o == "*" ? std::string("*") : std::string(origin));
      if (o != "*") h.emplace_back("Vary", "Origin");
      h.emplace_back("Access-Control-Expose-Headers", "ETag");
      break;
    }
  }
  return h;
}

}  // namespace demo
