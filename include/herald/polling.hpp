// herald: short and long polling (links herald::core).
#pragma once
#include <herald/polling/batch.hpp>
#include <herald/polling/policy.hpp>
