#!/usr/bin/env bash
# Two builds of herald-demo side by side: the fan-out scenarios of the transport
# matrix, the two servers alternating inside each repeat (the order rotates),
# so a noisy machine hits both alike. Prints one JSON line per run and, at the
# end, the median server CPU per delivery of each and the ratio B/A.
#
#   benchmarks/ab_compare.sh A_DEMO B_DEMO LOADGEN [--repeats 5] [--scenarios "ws-fanout-1k sse-fanout-1k"]
#
# Only 127.0.0.1; every server it starts is killed on exit; every run bounded.
set -euo pipefail
A=$1 B=$2 LOADGEN=$3; shift 3
REPEATS=5
SCEN="ws-fanout-1k sse-fanout-1k ws-fanout-10k sse-fanout-10k"
while (($#)); do
  case $1 in
    --repeats) REPEATS=$2; shift 2 ;;
    --scenarios) SCEN=$2; shift 2 ;;
    *) echo "usage: $0 A_DEMO B_DEMO LOADGEN [--repeats N] [--scenarios LIST]" >&2; exit 2 ;;
  esac
done
PY=/usr/bin/python3
OUT=$(mktemp -d)
PID=""
cleanup() { [ -n "$PID" ] && kill "$PID" 2>/dev/null; wait 2>/dev/null || true; rm -rf "$OUT"; }
trap cleanup EXIT
ulimit -n "$(ulimit -Hn)"

args_of() {  # scenario -> loadgen arguments (as benchmarks/run_matrix.sh)
  case $1 in
    ws-fanout-1k)   echo "--mode ws-fanout --conns 1000 --rate 50" ;;
    sse-fanout-1k)  echo "--mode sse-fanout --conns 1000 --rate 50" ;;
    ws-fanout-10k)  echo "--mode ws-fanout --conns 10000 --rate 5" ;;
    sse-fanout-10k) echo "--mode sse-fanout --conns 10000 --rate 5" ;;
    *) echo "unknown scenario $1" >&2; exit 2 ;;
  esac
}

one() {  # one LABEL BINARY SCENARIO REPEAT
  local label=$1 bin=$2 scen=$3 rep=$4 log=$OUT/server.log port=""
  "$bin" --port 0 --threads 1 --max-connections 30000 >"$log" 2>&1 &
  PID=$!
  for _ in $(seq 100); do
    port=$(grep -o 'listening on http://[0-9.]*:[0-9]*' "$log" 2>/dev/null | grep -o '[0-9]*$' || true)
    [ -n "$port" ] && break
    sleep 0.1
  done
  [ -n "$port" ] || { echo "server $label did not start" >&2; exit 1; }
  # shellcheck disable=SC2046
  timeout 120 "$LOADGEN" --port "$port" --server-pid "$PID" --server "$label" $(args_of "$scen") \
      --duration 5 --warmup 1 >"$OUT/run.json"
  "$PY" -c "
import json; d = json.load(open('$OUT/run.json'))
print(json.dumps({'scenario': '$scen', 'build': '$label', 'repeat': $rep,
                  'cpu_ns_per_delivery': d['server_cpu_ns_per_delivery'],
                  'deliveries_per_s': d['deliveries_per_s']}))" | tee -a "$OUT/all.jsonl"
  kill "$PID" 2>/dev/null || true; wait "$PID" 2>/dev/null || true; PID=""
  sleep 0.5  # let the kernel recycle the sockets
}

for rep in $(seq "$REPEATS"); do
  for scen in $SCEN; do
    if ((rep % 2)); then one A "$A" "$scen" "$rep"; one B "$B" "$scen" "$rep"
    else one B "$B" "$scen" "$rep"; one A "$A" "$scen" "$rep"; fi
  done
done

"$PY" - "$OUT/all.jsonl" <<'PYEOF'
import json, statistics, sys
rows = [json.loads(l) for l in open(sys.argv[1])]
print("scenario          A ns/del   B ns/del   B/A")
for scen in dict.fromkeys(r["scenario"] for r in rows):
    med = {b: statistics.median(r["cpu_ns_per_delivery"] for r in rows if r["scenario"] == scen and r["build"] == b)
           for b in ("A", "B")}
    print(f"{scen:16s} {med['A']:9.0f} {med['B']:9.0f}   {med['B'] / med['A']:.3f}")
PYEOF
