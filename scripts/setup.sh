#!/usr/bin/env bash
# Installs what herald needs to build, test and run its demo, from Debian's
# packages and the npm registry only. Idempotent and quiet when nothing is missing.
set -euo pipefail
cd "$(dirname "$0")/.."

pkgs=(g++ clang cmake make ccache pkg-config libasio-dev node-llhttp catch2 libssl-dev zlib1g-dev
      libsqlite3-dev libbenchmark-dev libclang-rt-14-dev python3 python3-websockets chromium
      curl openssl libboost-dev libwebsocketpp-dev ca-certificates python3-matplotlib)
# The machine image may ship its own Node and npm; Debian's npm conflicts with it.
command -v npm >/dev/null 2>&1 || pkgs+=(nodejs npm)

missing=()
for p in "${pkgs[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
done
if ((${#missing[@]})); then
  echo "setup: installing ${missing[*]}"
  sudo_cmd=""; [ "$(id -u)" = 0 ] || sudo_cmd="sudo"
  $sudo_cmd apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo_cmd apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

# JavaScript peers for the tests (ws, eventsource, standardwebhooks, playwright-core),
# pinned by tests/package-lock.json. playwright-core never downloads a browser.
if [ -f tests/package.json ]; then
  if [ ! -d tests/node_modules ] || [ tests/package-lock.json -nt tests/node_modules/.package-lock.json ]; then
    echo "setup: npm ci in tests/"
    (cd tests && PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD=1 npm ci --no-audit --no-fund --loglevel=error >/dev/null)
  fi
fi
