"""Slowloris: request heads and bodies trickled a byte at a time (issue 13, point 7).

herald-demo runs with --header-timeout-ms 1500: a request (its head and its
body) must arrive within 1.5 s of its first byte, however slowly it keeps
coming, else the session answers 408 and closes.

Asserts: a trickled head and a trickled body are each closed by the timeout
while they are still trickling (well before they would finish); 300 trickling
connections at once grow the server's RSS by less than 16 MiB, are all closed,
and meanwhile other clients are served and a publish is accepted and received.
"""
import os
import select
import socket
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from abuse import check, finish, metric, rss_kib, served, start_demo, wait_until  # noqa: E402

TIMEOUT_S = 1.5
RSS_LIMIT_KIB = 16 * 1024


def trickle(port, head, rest, interval, limit):
    """Sends `head`, then `rest` a byte every `interval` s, until the server
    closes (returns (seconds, what it answered)) or `limit` s pass (None)."""
    s = socket.create_connection(("127.0.0.1", port), timeout=5)
    start = time.monotonic()
    s.sendall(head)
    answer = b""
    i = 0
    while time.monotonic() - start < limit:
        r, _, _ = select.select([s], [], [], interval)
        if r:
            chunk = s.recv(65536)
            if not chunk:
                s.close()
                return time.monotonic() - start, answer
            answer += chunk
            continue
        if i < len(rest):
            try:
                s.sendall(rest[i:i + 1])
            except OSError:
                s.close()
                return time.monotonic() - start, answer
            i += 1
    s.close()
    return None


def main():
    demo = sys.argv[1]
    d = start_demo(demo, "--threads", "1", "--header-timeout-ms", str(int(TIMEOUT_S * 1000)))
    try:
        port = d.port
        check(served(port), "served before the attack")

        # A head that would take 200 bytes x 0.1 s = 20 s.
        r = trickle(port, b"GET /healthz HTTP/1.1\r\nHost: x\r\n", b"X-Slow: " + b"a" * 190 + b"\r\n\r\n", 0.1, 10)
        check(r is not None and r[0] < TIMEOUT_S + 2, f"a trickled head is closed by the header timeout ({r and r[0]:.2f} s)")
        check(r is not None and b" 408 " in r[1].split(b"\r\n", 1)[0], f"and answered 408 ({r and r[1][:40]!r})")

        # A body of 1,000 bytes that would take 100 s.
        r = trickle(port, b"POST /publish/slow HTTP/1.1\r\nHost: x\r\nContent-Length: 1000\r\n\r\n", b"b" * 1000, 0.1, 10)
        check(r is not None and r[0] < TIMEOUT_S + 2, f"a trickled body is closed by the timeout ({r and r[0]:.2f} s)")
        check(r is not None and b" 408 " in r[1].split(b"\r\n", 1)[0], f"and answered 408 ({r and r[1][:40]!r})")

        # Many at once, heads and bodies, each trickling a byte every 0.3 s.
        rss0 = rss_kib(d.proc.pid)
        n = 300
        socks = []
        for i in range(n):
            s = socket.create_connection(("127.0.0.1", port), timeout=5)
            if i % 2:
                s.sendall(b"POST /publish/slow HTTP/1.1\r\nHost: x\r\nContent-Length: 100000\r\n\r\n")
            else:
                s.sendall(b"GET /healthz HTTP/1.1\r\nHost: x\r\nX-Slow: ")
            s.setblocking(False)
            socks.append(s)
        check(wait_until(lambda: metric(port, "herald_connections", transport="http") >= n, 5, "all open"),
              f"{n} trickling connections open")
        peak = rss_kib(d.proc.pid)
        others = 0
        published = metric(port, "herald_events_published_total")
        st, _, _ = d.request("POST", "/publish/loris_watch", body="still here")
        check(st == 202, f"a publish is accepted during the attack ({st})")
        check(metric(port, "herald_events_published_total") == published + 1, "and counted as published")
        st, _, body = d.request("GET", "/poll/loris_watch?after=0")
        check(st == 200 and b"still here" in body, f"and received by a poll ({st} {body[:80]!r})")
        closed = set()
        end = time.monotonic() + TIMEOUT_S + 4
        while time.monotonic() < end and len(closed) < n:
            for i, s in enumerate(socks):
                if i in closed:
                    continue
                try:
                    s.send(b"a")
                    while s.recv(65536):
                        pass
                    closed.add(i)  # EOF
                except BlockingIOError:
                    pass
                except OSError:
                    closed.add(i)
            others += served(port, timeout=2)
            peak = max(peak, rss_kib(d.proc.pid))
            time.sleep(0.3)
        print(f"{n} slowloris connections: RSS {rss0} KiB -> peak {peak} KiB (+{peak - rss0} KiB)", flush=True)
        check(peak - rss0 < RSS_LIMIT_KIB, f"RSS growth {peak - rss0} KiB < {RSS_LIMIT_KIB} KiB")
        check(len(closed) == n, f"every trickling connection closed by the timeout ({len(closed)}/{n})")
        check(others > 0, f"other clients served meanwhile ({others})")
        check(wait_until(lambda: metric(port, "herald_connections", transport="http") <= 1, 5, "gone"),
              "no trickling session left on the server")
        for s in socks:
            s.close()
        check(served(port), "served after the attack")
    finally:
        d.stop()
    finish()


if __name__ == "__main__":
    main()
