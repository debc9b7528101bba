// herald: the WebSocket transport on its own: the sans-I/O core, the policy
// (server routes, BYO accept) and the client. Link herald::websocket.
#pragma once
#include <herald/fwd.hpp>
#include <herald/websocket/client.hpp>
#include <herald/websocket/deflate.hpp>
#include <herald/websocket/frame.hpp>
#include <herald/websocket/handshake.hpp>
#include <herald/websocket/policy.hpp>
#include <herald/websocket/utf8.hpp>
