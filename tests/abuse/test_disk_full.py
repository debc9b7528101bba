"""A data directory that fills up while webhooks are enqueued, then has room again.

herald-demo runs with --data-dir on a temporary directory and a low
RLIMIT_FSIZE (SIGXFSZ ignored, so a write past it fails with EFBIG, as on a
full disk). A receiver on 127.0.0.1 answers 503 while the outbox fills (so
what is owed stays in the database), events are published to the endpoint's
topic until publishes are refused, then the limit is raised with
prlimit(2) and the receiver answers 200. Checks:
  - a publish the outbox cannot take is refused with 503 and a clear body,
    counted in /metrics and logged; the process never dies and keeps serving
    /healthz and an SSE stream on another topic meanwhile;
  - every event accepted with 202 is delivered at least once after room
    returns (counted by webhook-id at the receiver), none refused is ever
    delivered, within a bounded wait;
  - memory stays bounded (RSS growth under 64 MiB) and SIGTERM exits 0.

    python3 test_disk_full.py <herald-demo>
"""
import http.client
import http.server
import json
import os
import resource
import shutil
import socket
import sys
import tempfile
import threading
import time

from abuse import check, finish, log_text, metric, rss_kib, served, start_demo, wait_until

LIMIT = 256 * 1024            # the largest file herald-demo may write while "full"
PAYLOAD = 2048                # bytes of event data: about 100 events fill the limit
MAX_EVENTS = 5000             # give up filling after this many publishes
TOPIC = "orders"
SCHEDULE = ",".join(["0s"] + ["1s"] * 400)  # nothing dead-letters during the test


class Receiver(http.server.ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self):
        super().__init__(("127.0.0.1", 0), Handler)
        self.lock = threading.Lock()
        self.up = False                 # False: 503 to everything (the outage while the disk fills)
        self.by_id = {}                 # webhook-id -> count of 2xx answered
        self.payload_of = {}            # webhook-id -> event payload
        self.requests = 0


class Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, *a):
        pass

    def do_POST(self):
        n = int(self.headers.get("Content-Length", "0"))
        body = self.rfile.read(n)
        rx = self.server
        wid = self.headers.get("webhook-id", "")
        with rx.lock:
            rx.requests += 1
            up = rx.up
            if up:
                rx.by_id[wid] = rx.by_id.get(wid, 0) + 1
                rx.payload_of[wid] = json.loads(body)["data"]["payload"]
        status = 204 if up else 503
        self.send_response(status)
        self.send_header("Content-Length", "0")
        self.end_headers()


def post(port, path, body, timeout=10):
    c = http.client.HTTPConnection("127.0.0.1", port, timeout=timeout)
    c.request("POST", path, body=body, headers={"Content-Type": "application/json"})
    r = c.getresponse()
    data = r.read()
    c.close()
    return r.status, data


class Sse:
    """An SSE client on its own thread; remembers the data lines it got."""

    def __init__(self, port, topic):
        self.sock = socket.create_connection(("127.0.0.1", port), timeout=30)
        self.sock.sendall(f"GET /sse/{topic} HTTP/1.1\r\nHost: x\r\nAccept: text/event-stream\r\n\r\n".encode())
        self.data = []
        self.lock = threading.Lock()
        threading.Thread(target=self.run, daemon=True).start()

    def run(self):
        buf = b""
        try:
            while True:
                chunk = self.sock.recv(65536)
                if not chunk:
                    return
                buf += chunk
                while b"\n" in buf:
                    line, _, buf = buf.partition(b"\n")
                    if line.startswith(b"data:"):
                        with self.lock:
                            self.data.append(line[5:].strip().decode())
        except OSError:
            return

    def got(self, text):
        with self.lock:
            return text in self.data


def main():
    demo_path = sys.argv[1]
    data_dir = tempfile.mkdtemp(prefix="herald-full-")
    rx = Receiver()
    threading.Thread(target=rx.serve_forever, daemon=True).start()
    hook = f"http://127.0.0.1:{rx.server_address[1]}/hook"
    # Only the soft limit is lowered, once it runs: raising it back to the
    # hard limit needs no privilege ("room again").
    # (start_demo's rlimit_fsize ignores SIGXFSZ in the child; the limit itself
    # stays unlimited until prlimit lowers the soft one.)
    d = start_demo(demo_path, "--data-dir", data_dir, "--allow-private-webhook-targets",
                   "--webhook-retry-schedule", SCHEDULE, "--threads", "2", rlimit_fsize=resource.RLIM_INFINITY)
    resource.prlimit(d.proc.pid, resource.RLIMIT_FSIZE, (LIMIT, resource.RLIM_INFINITY))
    try:
        port = d.port
        st, body = post(port, "/hooks/endpoints", json.dumps(
            {"url": hook, "secret": "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw", "topics": [TOPIC]}))
        check(st == 201, f"endpoint registered (201): {st} {body[:200]!r}")
        sse = Sse(port, "news")  # a topic no endpoint takes: never refused
        rss0 = rss_kib(d.proc.pid)

        # Fill the disk: publish until the outbox refuses (several refusals in a row).
        accepted, refused, refusal_body = [], [], b""
        pad = "x" * PAYLOAD
        in_a_row = 0
        t0 = time.monotonic()
        for i in range(1, MAX_EVENTS + 1):
            payload = f"ev-{i}-{pad}"
            st, body = post(port, f"/publish/{TOPIC}", payload)
            if st == 202:
                accepted.append(payload)
                in_a_row = 0
            elif st == 503:
                refused.append(payload)
                refusal_body = body
                in_a_row += 1
                if in_a_row >= 50:
                    break
            else:
                check(False, f"publish {i}: unexpected {st} {body[:200]!r}")
                break
            if d.proc.poll() is not None:
                break
        fill_s = time.monotonic() - t0
        print(f"filled in {fill_s:.1f} s: {len(accepted)} accepted, {len(refused)} refused", flush=True)
        check(d.proc.poll() is None, "herald-demo is alive with its data directory full")
        check(len(accepted) > 0, f"events were accepted before the disk filled ({len(accepted)})")
        check(in_a_row >= 50, f"publishes are refused once the disk is full ({len(refused)} refused)")
        # "storage full" (SQLITE_FULL, ENOSPC, EFBIG) or "storage I/O error", as SQLite reports the short write
        check(b"webhook outbox unavailable (webhook outbox storage" in refusal_body,
              f"the refusal says why: {refusal_body[:200]!r}")

        # Still serving: health, and SSE on another topic (publishes there are not refused).
        check(served(port), "/healthz answers while the disk is full")
        st, _ = post(port, "/publish/news", "while full")
        check(st == 202, f"a publish to a topic without endpoints is accepted while full ({st})")
        check(wait_until(lambda: sse.got("while full"), 10, "sse"), "an SSE client still gets its events")
        check(metric(port, "herald_webhook_refused_total") >= len(refused),
              f"refusals counted (herald_webhook_refused_total {metric(port, 'herald_webhook_refused_total')})")
        check(metric(port, "herald_webhook_outbox_errors_total") > 0, "failed commits counted")
        check(metric(port, "herald_webhook_outbox_failing") == 1, "herald_webhook_outbox_failing is 1")
        log = log_text(d)
        check("commit failed (webhook outbox storage" in log, "the failure is logged: " +
              next((l for l in log.splitlines() if "commit failed" in l), "(none)")[:300])

        # Room again: the limit goes, the receiver comes back.
        resource.prlimit(d.proc.pid, resource.RLIMIT_FSIZE, (resource.RLIM_INFINITY, resource.RLIM_INFINITY))
        with rx.lock:
            rx.up = True
        t1 = time.monotonic()

        def delivered_payloads():
            with rx.lock:
                return set(rx.payload_of.values())

        want = set(accepted)
        ok = wait_until(lambda: want <= delivered_payloads(), 60, "all delivered", interval=0.1)
        got = delivered_payloads()
        catch_up_s = time.monotonic() - t1
        print(f"every accepted event delivered {catch_up_s:.1f} s after room returned", flush=True)
        check(ok, f"every accepted event delivered at least once ({len(want & got)}/{len(want)})")
        check(not (set(refused) & got), f"no refused event delivered ({len(set(refused) & got)})")
        check(wait_until(lambda: metric(port, "herald_webhook_outbox_failing") == 0, 10, "recovered"),
              "herald_webhook_outbox_failing back to 0")
        with rx.lock:
            ids = dict(rx.by_id)
            pays = dict(rx.payload_of)
        per_payload = {}
        for wid, p in pays.items():
            per_payload.setdefault(p, set()).add(wid)
        check(all(len(v) == 1 for v in per_payload.values()), "one webhook-id per event")
        dups = sum(n - 1 for n in ids.values())
        print(f"deliveries: {sum(ids.values())}, events {len(ids)}, duplicates {dups}", flush=True)

        # And publishes are accepted again, and delivered.
        st, _ = post(port, f"/publish/{TOPIC}", "after room")
        check(st == 202, f"publishes accepted again ({st})")
        check(wait_until(lambda: "after room" in delivered_payloads(), 20, "after"), "and delivered")
        check("writing again" in log_text(d), "the recovery is logged")

        rss1 = rss_kib(d.proc.pid)
        print(f"RSS {rss0} KiB -> {rss1} KiB", flush=True)
        check(rss1 - rss0 < 64 * 1024, f"RSS growth under 64 MiB ({(rss1 - rss0) // 1024} MiB)")
        code = d.stop(timeout=15)
        check(code == 0, f"SIGTERM exits 0 ({code})")
    finally:
        if d.proc.poll() is None:
            d.proc.kill()
            d.proc.wait()
        rx.shutdown()
        shutil.rmtree(data_dir, ignore_errors=True)
    finish()


if __name__ == "__main__":
    main()
