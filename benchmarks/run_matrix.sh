#!/usr/bin/env bash
# Transport matrix: herald-demo vs the limit server and the peers (Beast,
# websocketpp, Node ws), every scenario with every server that has its
# endpoints, servers alternating inside each repeat; and herald over TLS
# beside the same code over TCP (herald_tls_server, herald-tls / herald-tcp).
# Writes benchmarks/results/*.json (one loadgen JSON per run) and regenerates
# the "## Transport matrix" section of benchmarks/RESULTS.md with its PNG charts.
#
#   benchmarks/run_matrix.sh [--repeats 3] [--quick] [--no-build] [--no-scale] [--budget-s 1140]
#                            [--only REGEX --out DIR]
#
# --only runs the scenarios whose name matches REGEX (e.g. 'tls'); it needs
# --out, a scratch directory that gets the JSONs and a copy of RESULTS.md, so
# the committed results stay whole.
#
# Bounded: every run has a duration and a connect timeout; the whole script
# stops starting new runs once --budget-s (default 19 minutes) has passed.
# Only 127.0.0.1; every server it starts is killed on exit.
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD
REPEATS=3
QUICK=0
BUILD=1
SCALE=1
BUDGET=1140
ONLY=""
OUT_ARG=""
while (($#)); do
  case $1 in
    --repeats) REPEATS=$2; shift 2 ;;
    --quick) QUICK=1; shift ;;
    --no-build) BUILD=0; shift ;;
    --no-scale) SCALE=0; shift ;;
    --budget-s) BUDGET=$2; shift 2 ;;
    --only) ONLY=$2; shift 2 ;;
    --out) OUT_ARG=$2; shift 2 ;;
    *) echo "usage: $0 [--repeats N] [--quick] [--no-build] [--no-scale] [--budget-s S] [--only REGEX --out DIR]" >&2; exit 2 ;;
  esac
done
T0=$SECONDS
PY=/usr/bin/python3; [ -x "$PY" ] || PY=python3   # Debian's python3 has python3-matplotlib
B=$ROOT/build/bench-transport
OUT=$ROOT/benchmarks/results
RESULTS_MD=$ROOT/benchmarks/RESULTS.md
if [ -n "$ONLY" ] && [ -z "$OUT_ARG" ]; then echo "--only needs --out DIR" >&2; exit 2; fi
if [ -n "$OUT_ARG" ]; then
  mkdir -p "$OUT_ARG"
  OUT=$(cd "$OUT_ARG" && pwd)
  cp "$ROOT/benchmarks/RESULTS.md" "$OUT/RESULTS.md"
  RESULTS_MD=$OUT/RESULTS.md
fi
mkdir -p "$OUT"

SERVER_PID=""
cleanup() { [ -n "$SERVER_PID" ] && kill "$SERVER_PID" 2>/dev/null; wait 2>/dev/null || true; }
trap cleanup EXIT
trap "exit 130" INT TERM

if ((BUILD)); then
  echo "== build (Release, -j2) in $B"
  cmake -S . -B "$B" -DCMAKE_BUILD_TYPE=Release -DHERALD_BUILD_BENCHMARKS=ON -DHERALD_BUILD_TESTS=OFF \
        -DHERALD_BUILD_EXAMPLES=ON -DHERALD_INSTALL=OFF \
        -DCMAKE_CXX_COMPILER_LAUNCHER=ccache -DCMAKE_C_COMPILER_LAUNCHER=ccache >/dev/null
  targets=(herald-demo loadgen limit_server herald_tls_server)
  grep -q '^beast_server:' <(cmake --build "$B" --target help 2>/dev/null | sed 's/^\.\.\. //;s/ .*//;s/$/:/') && targets+=(beast_server)
  grep -q '^websocketpp_server:' <(cmake --build "$B" --target help 2>/dev/null | sed 's/^\.\.\. //;s/ .*//;s/$/:/') && targets+=(websocketpp_server)
  cmake --build "$B" -j2 --target "${targets[@]}"
fi
LOADGEN=$B/benchmarks/loadgen
[ -x "$LOADGEN" ] || { echo "no loadgen in $B" >&2; exit 1; }

ulimit -n "$(ulimit -Hn)"   # servers and loadgen also raise their own soft limit
echo "== open files: soft $(ulimit -Sn), hard $(ulimit -Hn)"

# name -> command (port 0: the server picks; it prints "listening on http://ADDR:PORT")
declare -A CMD
CMD[herald]="$B/examples/herald-demo --port 0 --threads 1 --max-connections 30000"
CMD[limit]="$B/benchmarks/limit_server --port 0"
[ -x "$B/benchmarks/beast_server" ] && CMD[beast]="$B/benchmarks/beast_server --port 0"
[ -x "$B/benchmarks/websocketpp_server" ] && CMD[websocketpp]="$B/benchmarks/websocketpp_server --port 0"
if command -v node >/dev/null && [ -d tests/node_modules/ws ]; then CMD[node]="node $ROOT/benchmarks/peers/node_ws.mjs --port 0"; fi
# herald through bring-your-own accept: over TLS 1.3, and the same code over TCP.
CMD[herald-tls]="$B/benchmarks/herald_tls_server --port 0"
CMD[herald-tcp]="$B/benchmarks/herald_tls_server --port 0 --plain"
# loadgen arguments a server needs in every scenario
declare -A LGARGS
LGARGS[herald-tls]="--tls"

start_server() {  # $1 name; sets SERVER_PID, PORT
  local log=$OUT/.server.$1.$RANDOM.log
  rm -f "$OUT"/.server.*.log
  ${CMD[$1]} >"$log" 2>&1 &
  SERVER_PID=$!
  PORT=""
  for _ in $(seq 200); do
    PORT=$(grep -o 'listening on http://[0-9.]*:[0-9]*' "$log" 2>/dev/null | grep -o '[0-9]*$' || true)
    [ -n "$PORT" ] && break
    kill -0 "$SERVER_PID" 2>/dev/null || break
    sleep 0.1
  done
  [ -n "$PORT" ] || { echo "server $1 did not start: $(cat "$log" 2>/dev/null)" >&2; kill "$SERVER_PID" 2>/dev/null; SERVER_PID=""; return 1; }
}
stop_server() {
  [ -n "$SERVER_PID" ] && { kill "$SERVER_PID" 2>/dev/null || true; wait "$SERVER_PID" 2>/dev/null || true; }
  SERVER_PID=""
}

# run NAME SCENARIO REPEAT loadgen-args...
run() {
  local server=$1 scen=$2 rep=$3; shift 3
  [ -n "${CMD[$server]:-}" ] || return 0
  if [ -n "$ONLY" ] && ! [[ $scen =~ $ONLY ]]; then return 0; fi
  if ((SECONDS - T0 > BUDGET)); then echo "   budget spent: skip $scen/$server"; return 0; fi
  start_server "$server" || return 0
  local f=$OUT/${scen}__${server}__r${rep}.json
  if timeout 120 "$LOADGEN" --port "$PORT" --server-pid "$SERVER_PID" --server "$server" --cdf ${LGARGS[$server]:-} "$@" >"$f.tmp" 2>"$OUT/.loadgen.err"; then
    "$PY" - "$f.tmp" "$scen" "$rep" >"$f" <<'EOF'
import json, sys
d = json.loads(open(sys.argv[1]).read())
d["scenario"], d["repeat"] = sys.argv[2], int(sys.argv[3])
print(json.dumps(d))
EOF
    "$PY" -c "
import json,sys; d=json.load(open('$f'))
print('   %-22s %-12s r%s  %8.0f del/s  p50 %9.0f us  p99 %9.0f us  cpu %7.0f ns/del  rss %7.0f B/conn  load %s' % (
  d['scenario'], d['server'], d['repeat'], d['deliveries_per_s'], d['latency_us']['p50'], d['latency_us']['p99'],
  d['server_cpu_ns_per_delivery'] or 0, d['server_rss_per_conn_b'] or 0, d['loadavg_1m']))"
  else
    echo "   $scen/$server: loadgen failed: $(tail -2 "$OUT/.loadgen.err")"
  fi
  rm -f "$f.tmp"
  stop_server
  sleep 0.5   # let the kernel recycle the sockets
}

DUR=5; WARM=1
R1K=50        # events/s at 1,000 subscribers: 50,000 deliveries/s
R10K=5        # events/s at 10,000 subscribers: 50,000 deliveries/s
if ((QUICK)); then DUR=2; REPEATS=1; fi
WS_SERVERS="limit herald beast websocketpp node"
HTTP_SERVERS="limit herald beast node"
TLS_SERVERS="herald-tcp herald-tls"

rm -f "$OUT"/*.json
for rep in $(seq "$REPEATS"); do
  echo "== repeat $rep/$REPEATS ($((SECONDS - T0)) s)"
  # rotate the order each repeat so no server always runs first
  rot() { local a=($1); local n=${#a[@]} k=$(((rep - 1) % ${#a[@]})); echo "${a[@]:k}" "${a[@]:0:k}"; }
  for s in $(rot "$WS_SERVERS"); do run "$s" ws-fanout-1k "$rep" --mode ws-fanout --conns 1000 --rate $R1K --duration $DUR --warmup $WARM; done
  for s in $(rot "$HTTP_SERVERS"); do run "$s" sse-fanout-1k "$rep" --mode sse-fanout --conns 1000 --rate $R1K --duration $DUR --warmup $WARM; done
  # TLS beside plain TCP: one server binary, herald-tls (loadgen --tls) vs herald-tcp
  for s in $(rot "$TLS_SERVERS"); do run "$s" ws-fanout-tls-1k "$rep" --mode ws-fanout --conns 1000 --rate $R1K --duration $DUR --warmup $WARM; done
  for s in $(rot "$TLS_SERVERS"); do run "$s" sse-fanout-tls-1k "$rep" --mode sse-fanout --conns 1000 --rate $R1K --duration $DUR --warmup $WARM; done
  for s in $(rot "$HTTP_SERVERS"); do run "$s" longpoll-fanout-1k "$rep" --mode longpoll-fanout --conns 1000 --rate $R1K --duration $DUR --warmup $WARM; done
  for s in $(rot "$WS_SERVERS"); do run "$s" ws-echo-100 "$rep" --mode ws-echo --conns 100 --duration $DUR --warmup $WARM; done
  for s in $(rot "$WS_SERVERS"); do run "$s" ws-fanout-10k "$rep" --mode ws-fanout --conns 10000 --rate $R10K --duration $DUR --warmup $WARM; done
  for s in $(rot "$HTTP_SERVERS"); do run "$s" sse-fanout-10k "$rep" --mode sse-fanout --conns 10000 --rate $R10K --duration $DUR --warmup $WARM; done
  if ((rep == 1)); then
    # short polling: herald only (the limit server and the peers have no /poll)
    run herald shortpoll-1k-1s 1 --mode shortpoll --conns 1000 --interval-ms 1000 --rate $R1K --duration $DUR --warmup 2
    run herald shortpoll-1k-5s 1 --mode shortpoll --conns 1000 --interval-ms 5000 --rate $R1K --duration 10 --warmup 5
    # memory per idle TLS connection (10,000 TLS handshakes: about 15 s); the TCP one beside it
    for s in $TLS_SERVERS; do run "$s" idle-ws-tls-10k 1 --mode idle --idle-kind ws --conns 10000 --duration 1 --warmup 1 --connect-timeout 90; done
  fi
  # idle memory: 10,000 connections (RSS is not noisy: once is enough... but twice costs little)
  if ((rep <= 2)); then
    for s in $(rot "$WS_SERVERS"); do run "$s" idle-ws-10k "$rep" --mode idle --idle-kind ws --conns 10000 --duration 1 --warmup 1; done
    for s in $(rot "$HTTP_SERVERS"); do run "$s" idle-sse-10k "$rep" --mode idle --idle-kind sse --conns 10000 --duration 1 --warmup 1; done
  fi
done

if ((QUICK == 0)); then
  echo "== loadgen ceiling: the limit server at 4x and 8x the matrix rate"
  run limit ceiling-ws-1k-200 1 --mode ws-fanout --conns 1000 --rate 200 --duration $DUR --warmup $WARM --publishers 8
  run limit ceiling-ws-1k-400 1 --mode ws-fanout --conns 1000 --rate 400 --duration $DUR --warmup $WARM --publishers 8
  run limit ceiling-sse-1k-400 1 --mode sse-fanout --conns 1000 --rate 400 --duration $DUR --warmup $WARM --publishers 8
fi

if ((SCALE)) && ((QUICK == 0)); then
  echo "== scale: as many idle connections as one process may open (hard limit $(ulimit -Hn))"
  N=$(( $(ulimit -Hn) - 1000 ))
  run herald idle-ws-max 1 --mode idle --idle-kind ws --conns $N --duration 1 --warmup 1 --src-addrs 4 --connect-timeout 90
  run herald idle-sse-max 1 --mode idle --idle-kind sse --conns $N --duration 1 --warmup 1 --src-addrs 4 --connect-timeout 90
  run limit idle-ws-max 1 --mode idle --idle-kind ws --conns $N --duration 1 --warmup 1 --src-addrs 4 --connect-timeout 90
  run herald idle-ws-deflate-10k 1 --mode idle --idle-kind ws --deflate --conns 10000 --duration 1 --warmup 1
  run herald ws-fanout-deflate-1k 1 --mode ws-fanout --deflate --conns 1000 --rate $R1K --duration $DUR --warmup $WARM
fi

echo "== report ($((SECONDS - T0)) s)"
git rev-parse --short HEAD > "$OUT/.herald_commit"; git status --porcelain include | grep -q . && echo "+ uncommitted changes in include/" >> "$OUT/.herald_commit"
"$PY" benchmarks/report.py "$OUT" "$RESULTS_MD"
echo "== done in $((SECONDS - T0)) s"
