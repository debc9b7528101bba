#!/usr/bin/env bash
# Installs what is missing, builds, and runs every test: g++ and clang builds,
# ASan+UBSan and TSan builds of the library's tests, time-boxed fuzzers, and the
# integration and browser tests against herald-demo. Prints each stage's time.
set -euo pipefail
cd "$(dirname "$0")/.."
root=$PWD
jobs=$(nproc)
export CCACHE_DIR=${CCACHE_DIR:-$HOME/.cache/herald-ccache}
launcher=()
command -v ccache >/dev/null 2>&1 || true

declare -a stage_names stage_secs
stage() {  # stage NAME COMMAND...
  local name=$1; shift
  local t0=$SECONDS
  echo "=== stage: $name"
  "$@"
  stage_names+=("$name"); stage_secs+=($((SECONDS - t0)))
  echo "=== stage: $name took $((SECONDS - t0)) s"
}
summary() {
  echo "=== stage times"
  for i in "${!stage_names[@]}"; do printf '  %-14s %5d s\n' "${stage_names[$i]}" "${stage_secs[$i]}"; done
}
trap summary EXIT

configure() {  # configure DIR CXX [cmake args...]
  local dir=$1 cxx=$2; shift 2
  local cc=gcc; [ "$cxx" = clang++ ] && cc=clang
  local extra=()
  command -v ccache >/dev/null 2>&1 && extra+=(-DCMAKE_CXX_COMPILER_LAUNCHER=ccache -DCMAKE_C_COMPILER_LAUNCHER=ccache)
  cmake -S "$root" -B "$dir" -DCMAKE_BUILD_TYPE=RelWithDebInfo -DCMAKE_CXX_COMPILER=$cxx -DCMAKE_C_COMPILER=$cc \
        "${extra[@]}" "$@" >/dev/null
}
ctest_run() { ctest --test-dir "$1" --output-on-failure -j "$jobs" "${@:2}"; }

stage setup scripts/setup.sh

build_gcc()   { configure build/gcc g++ && cmake --build build/gcc -j "$jobs"; }
# clang builds everything (examples too) and runs the unit and io tests; -O0 keeps it quick.
build_clang() { configure build/clang clang++ -DHERALD_PEER_TESTS=OFF -DCMAKE_BUILD_TYPE=Debug && cmake --build build/clang -j "$jobs"; }
stage build-gcc build_gcc
stage unit-gcc ctest_run build/gcc -L '^(unit|io|package)$'
stage build-clang build_clang
stage unit-clang ctest_run build/clang -L '^(unit|io)$'

san() {  # san NAME SANITIZERS
  configure build/$1 g++ -DHERALD_BUILD_EXAMPLES=OFF -DHERALD_SANITIZE=$2 -DCMAKE_BUILD_TYPE=Debug
  cmake --build build/$1 -j "$jobs"
  ctest_run build/$1 -L '^(unit|io)$'
}
export ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1
export TSAN_OPTIONS=halt_on_error=1:second_deadlock_stack=1
stage asan san asan 'address,undefined'
stage tsan san tsan thread

fuzz() {
  configure build/fuzz clang++ -DHERALD_BUILD_TESTS=OFF -DHERALD_BUILD_EXAMPLES=OFF -DHERALD_BUILD_FUZZERS=ON
  cmake --build build/fuzz -j "$jobs"
  for f in build/fuzz/fuzz/fuzz_*; do
    [ -x "$f" ] || continue
    local fz corpus work
    fz=$(basename "$f"); corpus="$root/fuzz/corpus/${fz#fuzz_}"
    work=$(mktemp -d); cp -r "$corpus"/. "$work"/ 2>/dev/null || true
    echo "fuzz: $fz for ${HERALD_FUZZ_SECONDS:-15} s"
    "$f" -max_total_time="${HERALD_FUZZ_SECONDS:-15}" -print_final_stats=0 "$work" 2>&1 | tail -n 2
    rm -rf "$work"
  done
}
[ -d fuzz ] && [ -f fuzz/CMakeLists.txt ] && stage fuzz fuzz

# One at a time: each measures a server's memory under attack.
stage abuse ctest_run build/gcc -L '^abuse$' -j 1
stage integration ctest_run build/gcc -L '^(integration|browser)$' -j 1
echo "ALL TESTS PASSED"
