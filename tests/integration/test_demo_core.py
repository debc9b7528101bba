"""herald-demo's core endpoints and flags per CONTRACT.md, over real HTTP."""
import json
import socket
import subprocess
import sys
import time

from demo import Demo

demo_path = sys.argv[1]
failures = []


def check(cond, what):
    if not cond:
        failures.append(what)
        print("FAIL:", what)


# Flags: an unknown flag and a missing port are refused with status 2.
for args in (["--nope"], []):
    r = subprocess.run([demo_path, *args], capture_output=True, text=True, timeout=10)
    check(r.returncode == 2, f"bad flags {args} exit 2 (got {r.returncode})")

with Demo(demo_path, "--max-body", "100", "--max-connections", "50") as d:
    s, h, b = d.request("GET", "/healthz")
    check(s == 200, "healthz 200")

    s, h, b = d.request("POST", "/publish/news", body="first")
    check(s == 202 and json.loads(b) == {"id": 1}, f"publish 202 id 1: {s} {b}")
    s, h, b = d.request("POST", "/publish/news", body="second")
    check(json.loads(b) == {"id": 2}, "ids per topic grow by one")
    s, h, b = d.request("POST", "/publish/other", body="x")
    check(json.loads(b) == {"id": 1}, "ids are per topic")

    for bad in ["a" * 129, "bad%20topic", "sl%2Fash", "caf%C3%A9"]:
        s, _, _ = d.request("POST", "/publish/" + bad, body="x")
        check(s == 400, f"topic {bad[:20]} 400 (got {s})")
    s, _, _ = d.request("POST", "/publish/" + "a" * 128, body="x")
    check(s == 202, "128-char topic accepted")
    s, _, _ = d.request("POST", "/publish/utf", body=b"\xff\xfe")
    check(s == 400, "non-UTF-8 body 400")

    s, _, _ = d.request("GET", "/no/such/path")
    check(s == 404, "unknown path 404")
    s, h, _ = d.request("PUT", "/healthz")
    check(s == 405 and "GET" in h.get("Allow", ""), f"wrong method 405 with Allow ({h.get('Allow')})")
    s, _, _ = d.request("POST", "/publish/big", body="y" * 101)
    check(s == 413, "body over --max-body 413")
    s, _, _ = d.request("POST", "/publish/big", body="y" * 100)
    check(s == 202, "body at --max-body accepted")

    s, h, b = d.request("GET", "/metrics")
    text = b.decode()
    for name in ["herald_connections{transport=", "herald_events_published_total",
                 "herald_deliveries_total{transport=", "herald_dropped_total{transport=",
                 "herald_webhook_attempts_total{result="]:
        check(name in text, f"metrics has {name}")
    check("herald_events_published_total 5" in text, "published counter counts accepted publishes")

    # Bad input never kills the server: garbage, then a good request.
    out = d.raw(b"\x00\x01\x02 garbage\r\n\r\n")
    check(out.startswith(b"HTTP/1.1 400"), f"garbage 400: {out[:40]!r}")
    s, _, _ = d.request("GET", "/healthz")
    check(s == 200, "still serving after garbage")

with Demo(demo_path, "--max-connections", "2") as d:
    held = [socket.create_connection(("127.0.0.1", d.port), timeout=5) for _ in range(2)]
    for h in held:
        h.sendall(b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n")
        h.recv(1024)
    out = d.raw(b"")
    check(out.startswith(b"HTTP/1.1 503") and b"Retry-After" in out, f"past --max-connections 503: {out[:60]!r}")
    for h in held:
        h.close()

# SIGTERM: drain and exit 0, promptly.
d = Demo(demo_path)
t0 = time.monotonic()
code = d.stop(timeout=10)
check(code == 0, f"SIGTERM exit 0 (got {code})")
check(time.monotonic() - t0 < 6, "SIGTERM exit within the drain deadline")

print(f"{0 if failures else 1} passed, {len(failures)} failed")
sys.exit(1 if failures else 0)
