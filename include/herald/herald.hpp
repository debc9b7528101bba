// herald: everything. Each transport also has its own header, so a user who
// needs one pays for that one alone (herald/sse.hpp, herald/websocket.hpp, ...).
#pragma once
#include <herald/fwd.hpp>
#include <herald/core/broadcaster.hpp>
#include <herald/core/connection.hpp>
#include <herald/http/server.hpp>
#include <herald/sse/policy.hpp>
#include <herald/websocket/client.hpp>
#include <herald/websocket/policy.hpp>
