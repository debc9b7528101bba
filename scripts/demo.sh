#!/usr/bin/env bash
# Installs what is missing, builds herald-demo and starts it with its page.
# Usage: scripts/demo.sh [herald-demo flags...]   (default: --port 8080)
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh
extra=()
command -v ccache >/dev/null 2>&1 && extra+=(-DCMAKE_CXX_COMPILER_LAUNCHER=ccache)
cmake -S . -B build/demo -DCMAKE_BUILD_TYPE=Release -DHERALD_BUILD_TESTS=OFF "${extra[@]}" >/dev/null
cmake --build build/demo -j "$(nproc)" --target herald-demo
args=("$@"); [ ${#args[@]} -eq 0 ] && args=(--port 8080)
echo "Open the page at the address below (Ctrl-C stops the server)."
exec build/demo/examples/herald-demo "${args[@]}"
