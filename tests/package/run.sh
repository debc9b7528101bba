#!/usr/bin/env bash
# Builds tests/package/consumer against herald by add_subdirectory and by
# find_package(herald CONFIG) after cmake --install, then runs it. Also checks
# that the SSE-only consumer links neither zlib nor SQLite.
set -euo pipefail
src=$(cd "$(dirname "$0")/../.." && pwd)
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
launcher=()
command -v ccache >/dev/null && launcher=(-DCMAKE_CXX_COMPILER_LAUNCHER=ccache -DCMAKE_C_COMPILER_LAUNCHER=ccache)

check_links() {  # the SSE-only binary must not depend on zlib or sqlite
  if ldd "$1" | grep -Eq 'libz\.|libsqlite3'; then echo "FAIL: $1 links zlib or sqlite"; ldd "$1"; exit 1; fi
}

echo "== add_subdirectory"
cmake -S "$src/tests/package/consumer" -B "$work/sub" -DHERALD_VIA=subdirectory -DHERALD_SOURCE_DIR="$src" "${launcher[@]}" >/dev/null
cmake --build "$work/sub" -j2 >/dev/null
"$work/sub/sse_only" && "$work/sub/everything"
check_links "$work/sub/sse_only"

echo "== find_package after install"
cmake -S "$src" -B "$work/herald" -DHERALD_BUILD_TESTS=OFF -DHERALD_BUILD_EXAMPLES=OFF -DCMAKE_INSTALL_PREFIX="$work/prefix" "${launcher[@]}" >/dev/null
cmake --build "$work/herald" -j2 >/dev/null
cmake --install "$work/herald" >/dev/null
cmake -S "$src/tests/package/consumer" -B "$work/pkg" -DHERALD_VIA=package -DCMAKE_PREFIX_PATH="$work/prefix" "${launcher[@]}" >/dev/null
cmake --build "$work/pkg" -j2 >/dev/null
"$work/pkg/sse_only" && "$work/pkg/everything"
check_links "$work/pkg/sse_only"
echo "package: both ways OK"
