// herald-demo: the WebSocket endpoints of CONTRACT.md.
//   /ws/echo                    every message back with its opcode; permessage-deflate when offered
//   /ws/topic/{topic}[?after=N] subscribe (replay first); text from a client is published
//                               to the topic; binary: close 1003; `herald.v1`: ids and resets
#pragma once
#include "demo.hpp"

#include <herald/auth/origin.hpp>
#include <herald/websocket/policy.hpp>

namespace demo {

/// Adds /ws/echo and /ws/topic/{topic} to the demo's server.
inline void add_websocket_routes(Demo& d) {
  herald::WebSocketOptions base{.max_message_size = d.cfg.max_message, .ping_interval = d.cfg.heartbeat};
  if (!d.cfg.ws_origins.empty()) {  // --ws-origin: an allowlist; other Origins get 403
    auto origins = std::make_shared<const herald::auth::OriginPolicy>(ws_origin_policy(d.cfg));
    // No Origin: not a browser, so no ambient credentials to hijack (auth/origin.hpp).
    base.check_origin = [origins](std::string_view origin) { return origins->allows_handshake(origin); };
  }

  herald::WebSocketOptions echo = base;
  echo.on_message = [](herald::WebSocketPolicy& ws, herald::websocket::Opcode op, std::string_view payload) {
    ws.send(op, payload);
  };
  d.server.websocket("/ws/echo", echo);

  herald::WebSocketOptions topic = base;
  topic.subprotocols = {std::string(herald::WebSocketPolicy::herald_v1)};
  topic.on_message = [&hub = d.hub, &d](herald::WebSocketPolicy& ws, herald::websocket::Opcode op, std::string_view payload) {
    if (op != herald::websocket::Opcode::text) return ws.close(1003, "only text messages are published");
    if (d.admit && d.admit(ws.topic())) return ws.close(1013, "webhook outbox unavailable, try again later");
    if (hub.publish(ws.topic(), std::string(payload)) == 0) ws.close(1013, "too many topics");
  };
  d.server.websocket("/ws/topic/{topic}", d.hub, topic);
}

}  // namespace demo
