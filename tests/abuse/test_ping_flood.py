"""Ping flood from a WebSocket client that never reads (issue 13, point 1).

A client on /ws/echo with a 4 KiB receive buffer sends masked 125-byte pings
as fast as it can for a few seconds and reads nothing. Every ping costs the
server a pong it cannot write; before the connection's byte budget, the pongs
queued without limit (1.76 GiB of RSS in 15 s). Now the connection stops
reading once its queue passes the high watermark, TCP pushes back on the
client, and the client's sends block.

Asserts: server RSS grows by less than 16 MiB; meanwhile another client
publishes and receives every event over SSE; the server counted the pause
(herald_read_pauses_total) and, with --write-timeout-ms 2000, closes the
flooder once it has read nothing for 2 s (herald_write_timeouts_total).
"""
import base64
import os
import socket
import sys
import threading
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from abuse import check, finish, metric, rss_kib, served, small_socket, start_demo, wait_until  # noqa: E402

FLOOD_SECONDS = 5
RSS_LIMIT_KIB = 16 * 1024


def ws_handshake(s):
    key = base64.b64encode(os.urandom(16)).decode()
    s.sendall((f"GET /ws/echo HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
               f"Sec-WebSocket-Key: {key}\r\nSec-WebSocket-Version: 13\r\n\r\n").encode())
    head = b""
    while b"\r\n\r\n" not in head:
        chunk = s.recv(1)  # byte by byte: nothing past the head is consumed
        if not chunk:
            raise RuntimeError("handshake: connection closed")
        head += chunk
    return head.split(b"\r\n", 1)[0]


def masked_ping(payload):
    mask = os.urandom(4)
    body = bytes(b ^ mask[i % 4] for i, b in enumerate(payload))
    return bytes([0x89, 0x80 | len(payload)]) + mask + body


def sse_reader(port, topic, want, got, done):
    """Reads the SSE stream of `topic` until `want` events arrived (or 20 s)."""
    s = socket.create_connection(("127.0.0.1", port), timeout=20)
    s.sendall(f"GET /sse/{topic} HTTP/1.1\r\nHost: x\r\n\r\n".encode())
    buf = b""
    deadline = time.monotonic() + 20
    try:
        while time.monotonic() < deadline and buf.count(b"\ndata: ") < want:
            chunk = s.recv(65536)
            if not chunk:
                break
            buf += chunk
    except OSError:
        pass
    got.append(buf.count(b"\ndata: "))
    s.close()
    done.set()


def main():
    demo = sys.argv[1]
    d = start_demo(demo, "--threads", "1", "--write-timeout-ms", "2000", "--heartbeat-ms", "600000")
    try:
        port = d.port
        check(served(port), "served before the attack")
        rss0 = rss_kib(d.proc.pid)

        s = small_socket(port, rcvbuf=4096)
        status = ws_handshake(s)
        check(b" 101 " in status, f"WebSocket handshake: {status!r}")
        errors0 = metric(port, "herald_ws_protocol_errors_total")
        s.setblocking(False)

        # Another client subscribes over SSE; events are published during the flood.
        got, done = [], threading.Event()
        n_events = 50
        reader = threading.Thread(target=sse_reader, args=(port, "flood_watch", n_events, got, done), daemon=True)
        reader.start()
        wait_until(lambda: metric(port, "herald_connections", transport="sse") >= 1, 5, "sse subscribed")

        frame = masked_ping(b"p" * 125) * 64
        out = b""  # what a partial send left: frames must stay whole on the wire
        sent = 0
        blocked_since = None
        published = 0
        accepted = 0
        end = time.monotonic() + FLOOD_SECONDS
        while time.monotonic() < end:
            try:
                if not out:
                    out = frame
                n = s.send(out)
                out = out[n:]
                sent += n
            except BlockingIOError:
                # TCP pushes back: the server stopped reading. Publish meanwhile.
                if blocked_since is None:
                    blocked_since = time.monotonic()
                if published < n_events:
                    st, _, _ = d.request("POST", "/publish/flood_watch", body=f"e{published}")
                    published += 1
                    accepted += st == 202
                else:
                    time.sleep(0.01)
            except OSError:
                break  # closed by the server (write timeout)
        while published < n_events:
            st, _, _ = d.request("POST", "/publish/flood_watch", body=f"e{published}")
            published += 1
            accepted += st == 202
        rss1 = rss_kib(d.proc.pid)
        print(f"flood: {sent} bytes of pings sent ({sent // 131} pings) in {FLOOD_SECONDS} s; "
              f"RSS {rss0} KiB -> {rss1} KiB (+{rss1 - rss0} KiB)", flush=True)
        check(metric(port, "herald_ws_protocol_errors_total") == errors0, "the flood was well-formed (no protocol error)")
        check(blocked_since is not None, "the flooder was pushed back by TCP (its sends blocked)")
        check(rss1 - rss0 < RSS_LIMIT_KIB, f"RSS growth {rss1 - rss0} KiB < {RSS_LIMIT_KIB} KiB")
        check(served(port), "another client is served during the flood")
        check(accepted == n_events, f"every publish accepted ({accepted}/{n_events})")
        done.wait(25)
        check(got and got[0] == n_events, f"the SSE client received every event ({got})")
        check(metric(port, "herald_read_pauses_total") >= 1, "the pause is counted (herald_read_pauses_total)")
        # The flooder reads nothing: closed by the write timeout (2 s here).
        check(wait_until(lambda: metric(port, "herald_write_timeouts_total") >= 1, 10, "write timeout"),
              "the flooder is closed by the write timeout (herald_write_timeouts_total)")
        check(wait_until(lambda: metric(port, "herald_connections", transport="websocket") == 0, 5, "closed"),
              "no WebSocket left open")
        check(metric(port, "herald_queue_bytes") < 64 * 1024, "its queue was freed (herald_queue_bytes)")
        s.close()
        check(served(port), "served after the attack")
    finally:
        d.stop()
    finish()


if __name__ == "__main__":
    main()
