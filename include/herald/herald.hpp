// herald: everything. Each transport also has its own header, so a user who
// needs one pays for that one alone: herald/sse.hpp and herald/polling.hpp
// (herald::core), herald/websocket.hpp (herald::websocket), herald/webhook.hpp
// (herald::webhook).
#pragma once
#include <herald/fwd.hpp>
#include <herald/auth/authorizer.hpp>
#include <herald/core/broadcaster.hpp>
#include <herald/core/connection.hpp>
#include <herald/http/server.hpp>
#include <herald/polling.hpp>
#include <herald/sse.hpp>
#include <herald/webhook.hpp>
#include <herald/websocket.hpp>
