"""Pipelined-request flood from an HTTP client that never reads (issue 13, point 1).

One client (4 KiB receive buffer) pipelines `GET /healthz` as fast as it can
for a few seconds and reads nothing. Before the pipelining cap every request
was answered into the send queue, which grew without limit; now a session
holds at most `max_pipelined` (8) unwritten responses, then parses and reads
nothing more, so TCP pushes back on the client.

Asserts: server RSS grows by less than 16 MiB; another client is served
meanwhile, and a well-behaved client that pipelines 200 requests gets all 200
answers in order (nothing accepted is lost); the cap is counted
(herald_pipeline_limited_total); the flooder is closed by the write timeout.
"""
import os
import socket
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from abuse import check, finish, metric, rss_kib, served, small_socket, start_demo, wait_until  # noqa: E402

FLOOD_SECONDS = 5
RSS_LIMIT_KIB = 16 * 1024


def pipelined_ok(port, n):
    """Pipelines `n` requests on one connection and reads every answer."""
    s = socket.create_connection(("127.0.0.1", port), timeout=10)
    reqs = b"".join(f"GET /healthz?i={i} HTTP/1.1\r\nHost: x\r\n\r\n".encode() for i in range(n))
    s.sendall(reqs)
    buf = b""
    deadline = time.monotonic() + 10
    while buf.count(b"HTTP/1.1 200 ") < n and time.monotonic() < deadline:
        chunk = s.recv(65536)
        if not chunk:
            break
        buf += chunk
    s.close()
    return buf.count(b"HTTP/1.1 200 ")


def main():
    demo = sys.argv[1]
    d = start_demo(demo, "--threads", "1", "--write-timeout-ms", "3000")
    try:
        port = d.port
        check(served(port), "served before the attack")
        rss0 = rss_kib(d.proc.pid)

        s = small_socket(port, rcvbuf=4096)
        s.setblocking(False)
        batch = b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n" * 256
        out = b""
        sent = 0
        pushed_back = False
        others_ok = 0
        end = time.monotonic() + FLOOD_SECONDS
        while time.monotonic() < end:
            try:
                if not out:
                    out = batch
                n = s.send(out)
                out = out[n:]
                sent += n
            except BlockingIOError:
                pushed_back = True
                others_ok += served(port)
                time.sleep(0.05)
            except OSError:
                break
        rss1 = rss_kib(d.proc.pid)
        nreq = sent // len(b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n")
        print(f"flood: {sent} bytes ({nreq} requests) pipelined in {FLOOD_SECONDS} s; "
              f"RSS {rss0} KiB -> {rss1} KiB (+{rss1 - rss0} KiB)", flush=True)
        check(pushed_back, "the flooder was pushed back by TCP (its sends blocked)")
        check(rss1 - rss0 < RSS_LIMIT_KIB, f"RSS growth {rss1 - rss0} KiB < {RSS_LIMIT_KIB} KiB")
        check(others_ok > 0, f"other clients served during the flood ({others_ok})")
        got = pipelined_ok(port, 200)
        check(got == 200, f"a pipelining client that reads gets every answer ({got}/200)")
        check(metric(port, "herald_pipeline_limited_total") >= 1, "the cap is counted (herald_pipeline_limited_total)")
        check(wait_until(lambda: metric(port, "herald_write_timeouts_total") >= 1, 10, "write timeout"),
              "the flooder is closed by the write timeout (herald_write_timeouts_total)")
        check(metric(port, "herald_queue_bytes") < 64 * 1024, "its queue was freed (herald_queue_bytes)")
        s.close()
        check(served(port), "served after the attack")
    finally:
        d.stop()
    finish()


if __name__ == "__main__":
    main()
