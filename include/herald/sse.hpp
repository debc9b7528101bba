// herald: Server-Sent Events (links herald::core).
#pragma once
#include <herald/sse/encoder.hpp>
#include <herald/sse/parser.hpp>
#include <herald/sse/policy.hpp>
