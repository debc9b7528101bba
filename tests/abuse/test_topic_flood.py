"""Topic flood (issue 13, point 2): anonymous clients subscribe to 100,000
distinct random topics (SSE `GET /sse/{topic}`, closed right after the
response head, some with FIN and some with RST), and hold a few thousand open
at once. Afterwards a publish to a new topic is accepted (202), a subscriber of
`feed` still receives, the live topic count is back to its baseline, nothing
was refused at a topic cap, and the server's RSS grew by less than
RSS_GROWTH_KIB.

Before the topic lifecycle, every subscribe created a topic that was never
freed: after 100,000 of them each publish to a new topic answered 503.

usage: test_topic_flood.py HERALD_DEMO [...]
"""
import os
import random
import selectors
import socket
import struct
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from abuse import check, finish, metric, rss_kib, served, start_demo, wait_until  # noqa: E402

FLOOD = 100_000      # distinct topics, one short-lived subscriber each
IN_FLIGHT = 200      # flood sockets open at once
HELD = 3_000         # subscribers held open together, each on its own topic
RSS_GROWTH_KIB = 16 * 1024  # bound on RSS growth after the flood (measured +5.5 MiB, 10.4 -> 15.9 MiB)
WALL_LIMIT_S = 60


def topics(port):
    return metric(port, "herald_topics")


def sse_open(port, topic):
    s = socket.create_connection(("127.0.0.1", port), timeout=10)
    s.sendall(f"GET /sse/{topic} HTTP/1.1\r\nHost: x\r\n\r\n".encode())
    return s


def read_head(s):
    buf = b""
    while b"\r\n\r\n" not in buf:
        chunk = s.recv(4096)
        if not chunk:
            break
        buf += chunk
    return buf


def flood(port, n, in_flight):
    """n subscribes to distinct random topics, at most in_flight at once. Each
    socket sends its request as soon as it is connected, reads the response
    head, and closes (odd ones with RST). Returns (ok, failed)."""
    sel = selectors.DefaultSelector()
    rnd = random.Random(13)
    started = ok = failed = 0
    linger_rst = struct.pack("ii", 1, 0)

    def start_one(i):
        s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        s.setblocking(False)
        if i % 2:
            s.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, linger_rst)
        s.connect_ex(("127.0.0.1", port))
        topic = "f%016x" % rnd.getrandbits(64)
        req = f"GET /sse/{topic} HTTP/1.1\r\nHost: x\r\n\r\n".encode()
        sel.register(s, selectors.EVENT_WRITE, [req, b""])

    while started < min(in_flight, n):
        start_one(started)
        started += 1
    deadline = time.monotonic() + WALL_LIMIT_S
    while (ok + failed) < n and time.monotonic() < deadline:
        for key, events in sel.select(timeout=5):
            s, st = key.fileobj, key.data
            done = False
            try:
                if events & selectors.EVENT_WRITE:
                    s.send(st[0])  # a few dozen bytes: fits the empty socket buffer
                    sel.modify(s, selectors.EVENT_READ, st)
                    continue
                chunk = s.recv(4096)
                if not chunk:
                    failed += 1
                    done = True
                else:
                    st[1] += chunk
                    if b"\r\n\r\n" in st[1]:
                        if st[1].startswith(b"HTTP/1.1 200"):
                            ok += 1
                        else:
                            failed += 1
                        done = True
            except OSError:
                failed += 1
                done = True
            if done:
                sel.unregister(s)
                s.close()
                if started < n:
                    start_one(started)
                    started += 1
    for key in list(sel.get_map().values()):
        key.fileobj.close()
    return ok, failed


def main():
    demo_path = sys.argv[1]
    t0 = time.monotonic()
    d = start_demo(demo_path)
    port = d.port
    try:
        check(served(port), "the server answers before the flood")
        base_topics = topics(port)
        feed = sse_open(port, "feed")
        check(b" 200 " in read_head(feed), "a subscriber of feed is streaming")
        rss_before = rss_kib(d.proc.pid)

        # A few thousand held at once, each on a topic of its own.
        held = []
        for i in range(HELD):
            held.append(sse_open(port, f"held{i}"))
        heads = sum(1 for s in held if b" 200 " in read_head(s))
        check(heads == HELD, f"{HELD} subscribers held open at once ({heads} streaming)")
        n_held = topics(port)
        check(n_held >= base_topics + HELD, f"each holds its topic while open ({n_held - base_topics:.0f} topics)")
        check(metric(port, "herald_topics", held_by="history") == 0, "subscribing keeps no history")
        for s in held:
            s.close()
        ok = wait_until(lambda: topics(port) <= base_topics + 1, 20, "held topics freed")
        check(ok, f"their topics are freed when they leave ({topics(port):.0f} left, baseline {base_topics:.0f} + feed)")

        f0 = time.monotonic()
        ok_n, failed_n = flood(port, FLOOD, IN_FLIGHT)
        flood_s = time.monotonic() - f0
        print(f"flood: {ok_n} subscribed, {failed_n} failed, in {flood_s:.1f} s "
              f"({ok_n / max(flood_s, 1e-9):.0f}/s)", flush=True)
        check(ok_n == FLOOD, f"all {FLOOD} subscribes answered 200 ({ok_n})")
        check(served(port), "other clients are served after the flood")

        settled = wait_until(lambda: topics(port) <= base_topics + 1, 20, "flood topics freed")
        left = topics(port)
        check(settled, f"the topic count is back to its baseline ({left:.0f}; baseline {base_topics:.0f} + feed)")

        fresh = "new-%08x" % random.getrandbits(32)
        status, _, body = d.request("POST", f"/publish/{fresh}", body=b'{"after":"flood"}')
        check(status == 202, f"a publish to a new topic is accepted after the flood ({status} {body!r})")
        status, _, _ = d.request("POST", "/publish/feed", body=b"still-here")
        check(status == 202, f"a publish to feed is accepted ({status})")
        feed.settimeout(10)
        got = b""
        end = time.monotonic() + 10
        while b"still-here" not in got and time.monotonic() < end:
            try:
                chunk = feed.recv(4096)
            except socket.timeout:
                break
            if not chunk:
                break
            got += chunk
        check(b"still-here" in got, "the feed subscriber receives it")
        refused = metric(port, "herald_topics_refused_total")
        check(refused == 0, f"nothing was refused at a topic cap ({refused:.0f})")

        rss_after = rss_kib(d.proc.pid)
        growth = rss_after - rss_before
        print(f"RSS: {rss_before} KiB before, {rss_after} KiB after ({growth:+d} KiB)", flush=True)
        check(growth < RSS_GROWTH_KIB, f"RSS growth {growth} KiB < {RSS_GROWTH_KIB} KiB")
        feed.close()
        wall = time.monotonic() - t0
        check(wall < WALL_LIMIT_S, f"under {WALL_LIMIT_S} s wall time ({wall:.1f} s)")
    finally:
        d.stop()
    finish()


if __name__ == "__main__":
    main()
