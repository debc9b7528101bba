#!/usr/bin/python3
"""herald-demo's WebSocket endpoints against Python's `websockets` (Debian
python3-websockets, 10.x legacy API): echo of text and binary messages from 0
bytes to 16 MiB with permessage-deflate on and off, fragmented messages, close
codes (1003, 1007, 1009), the origin allowlist, and herald.v1 ids with resume.

    /usr/bin/python3 test_websocket_python.py <herald-demo>

Exits non-zero on any failure; every wait is bounded; the demos are killed at the end.
"""
import asyncio
import os
import random
import re
import subprocess
import sys
import threading
import urllib.request

import websockets
from websockets.client import connect
from websockets.exceptions import ConnectionClosed, InvalidStatusCode
from websockets.frames import Opcode

DEMO = sys.argv[1] if len(sys.argv) > 1 else None
TIMEOUT = 30
failures = []
passed = 0


def check(what, cond, detail=""):
    global passed
    if cond:
        passed += 1
    else:
        failures.append(f"{what}: {detail}" if detail else what)
        print(f"  FAIL {what} {detail}", file=sys.stderr)


class Demo:
    """herald-demo on an OS-chosen port; `stop()` SIGTERMs, then kills."""

    def __init__(self, *args):
        self.proc = subprocess.Popen([DEMO, "--port", "0", *args], stdout=subprocess.PIPE, text=True)
        # readline returns when the demo prints or exits; a watchdog kills a hung one.
        watchdog = threading.Timer(10, self.proc.kill)
        watchdog.start()
        line = self.proc.stdout.readline()
        watchdog.cancel()
        m = re.search(r"listening on http://([^\s:]+|\[[^\]]+\]):(\d+)", line)
        if not m:
            self.proc.kill()
            raise RuntimeError(f"herald-demo did not listen: {line!r}")
        self.ws = f"ws://127.0.0.1:{m.group(2)}"
        self.http = f"http://127.0.0.1:{m.group(2)}"

    def stop(self):
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                return self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                return self.proc.wait(5)
        return self.proc.returncode


def text_of(n):
    unit = "ab\u00e9\u20ac"  # 7 bytes of UTF-8
    s = unit * (n // 7)
    return s + "x" * (n - len(s.encode()))


async def echo_matrix(demo, compression):
    sizes = [0, 1, 125, 126, 127, 65535, 65536, 65537, 1 << 20, 16 << 20]
    async with connect(f"{demo.ws}/ws/echo", compression=compression, max_size=None,
                       open_timeout=TIMEOUT, close_timeout=TIMEOUT) as ws:
        ext = ws.response_headers.get("Sec-WebSocket-Extensions", "")
        check(f"echo deflate={compression}: permessage-deflate negotiated iff offered",
              ("permessage-deflate" in ext) == (compression == "deflate"), ext)
        rng = random.Random(7)
        for n in sizes:
            t = text_of(n)
            b = rng.randbytes(n)
            await ws.send(t)
            await ws.send(b)
            rt = await asyncio.wait_for(ws.recv(), TIMEOUT)
            rb = await asyncio.wait_for(ws.recv(), TIMEOUT)
            check(f"echo text {n} B (deflate={compression})", rt == t and isinstance(rt, str), f"got {len(rt)}")
            check(f"echo binary {n} B (deflate={compression})", rb == b and isinstance(rb, bytes), f"got {len(rb)}")
        # A fragmented message: websockets sends an iterable as one message in fragments.
        pieces = [text_of(1000), "€" * 300, "", text_of(70000)]
        await ws.send(pieces)
        r = await asyncio.wait_for(ws.recv(), TIMEOUT)
        check(f"fragmented text echoes whole (deflate={compression})", r == "".join(pieces))
        bpieces = [os.urandom(5), os.urandom(100000), os.urandom(1)]
        await ws.send(bpieces)
        r = await asyncio.wait_for(ws.recv(), TIMEOUT)
        check(f"fragmented binary echoes whole (deflate={compression})", r == b"".join(bpieces))
        await ws.close(code=4000, reason="done")
        check(f"close handshake mirrored (deflate={compression})", ws.close_code == 4000, str(ws.close_code))


async def close_code_after(url, send, **kw):
    """Connects, runs `send(ws)`, and returns the close code the server sent."""
    async with connect(url, open_timeout=TIMEOUT, close_timeout=TIMEOUT, max_size=None, **kw) as ws:
        await send(ws)
        try:
            while True:
                await asyncio.wait_for(ws.recv(), TIMEOUT)
        except ConnectionClosed as e:
            return e.rcvd.code if e.rcvd else None


async def close_codes(demo, small):
    async def binary(ws):
        await ws.send(b"\x00\x01")
    code = await close_code_after(f"{demo.ws}/ws/topic/py-bin", binary)
    check("binary message on a topic: 1003", code == 1003, str(code))

    async def bad_utf8(ws):
        await ws.write_frame(True, Opcode.TEXT, b"ok \xff\xfe")
    code = await close_code_after(f"{demo.ws}/ws/echo", bad_utf8, compression=None)
    check("invalid UTF-8: 1007", code == 1007, str(code))

    async def too_big(ws):
        await ws.send("x" * 1001)
    code = await close_code_after(f"{small.ws}/ws/echo", too_big)
    check("message over --max-message: 1009", code == 1009, str(code))

    async def bomb(ws):
        await ws.send("x" * (1 << 20))  # a few KiB compressed, 1 MiB inflated
    code = await close_code_after(f"{small.ws}/ws/echo", bomb, compression="deflate")
    check("compressed message inflating past --max-message: 1009", code == 1009, str(code))

    async def fine(ws):
        await ws.send("x" * 1000)
        check("a message at the limit passes", await asyncio.wait_for(ws.recv(), TIMEOUT) == "x" * 1000)
        await ws.close()
    await close_code_after(f"{small.ws}/ws/echo", fine)


async def origins(demo):
    try:
        async with connect(f"{demo.ws}/ws/echo", origin="https://evil.example", open_timeout=TIMEOUT):
            check("foreign Origin refused", False, "connected")
    except InvalidStatusCode as e:
        check("foreign Origin refused with 403", e.status_code == 403, str(e.status_code))
    async with connect(f"{demo.ws}/ws/echo", origin="https://app.example", open_timeout=TIMEOUT) as ws:
        await ws.send("hi")
        check("allowed Origin echoes", await asyncio.wait_for(ws.recv(), TIMEOUT) == "hi")


async def topics(demo):
    url = f"{demo.ws}/ws/topic/py-room"
    async with connect(url, subprotocols=["herald.v1"], open_timeout=TIMEOUT) as a, \
            connect(url, open_timeout=TIMEOUT) as b:
        check("herald.v1 chosen", a.subprotocol == "herald.v1", str(a.subprotocol))
        check("no subprotocol when not asked", b.subprotocol is None, str(b.subprotocol))
        for i in range(1, 6):
            await a.send(f'm{i} "q" é')
        for i in range(1, 6):
            ra = await asyncio.wait_for(a.recv(), TIMEOUT)
            rb = await asyncio.wait_for(b.recv(), TIMEOUT)
            check(f"v1 event {i} with id", ra == f'{{"id":{i},"data":"m{i} \\"q\\" é"}}', ra)
            check(f"plain event {i} verbatim", rb == f'm{i} "q" é', rb)
    async with connect(f"{url}?after=3", subprotocols=["herald.v1"], open_timeout=TIMEOUT) as c:
        got = [await asyncio.wait_for(c.recv(), TIMEOUT) for _ in range(2)]
        check("?after=3 replays 4 and 5", got == [f'{{"id":{i},"data":"m{i} \\"q\\" é"}}' for i in (4, 5)], str(got))
        req = urllib.request.Request(f"{demo.http}/publish/py-room", data=b"from http", method="POST")
        with urllib.request.urlopen(req, timeout=TIMEOUT) as r:
            check("publish accepted", r.status == 202)
        live = await asyncio.wait_for(c.recv(), TIMEOUT)
        check("then live events", live == '{"id":6,"data":"from http"}', live)
    async with connect(f"{url}?after=99", subprotocols=["herald.v1"], open_timeout=TIMEOUT) as d:
        first = await asyncio.wait_for(d.recv(), TIMEOUT)
        check("a cursor ahead of the head: reset notice", first == '{"reset":true,"next":0}', first)
        nxt = await asyncio.wait_for(d.recv(), TIMEOUT)
        check("then everything held, from the first", nxt.startswith('{"id":1,'), nxt)


async def main():
    demo = Demo("--ws-origin", "https://app.example")
    small = Demo("--max-message", "1000")
    try:
        await echo_matrix(demo, "deflate")
        await echo_matrix(demo, None)
        await close_codes(demo, small)
        await origins(demo)
        await topics(demo)
    finally:
        code = demo.stop()
        check("demo exits 0 on SIGTERM", code == 0, str(code))
        small.stop()


if __name__ == "__main__":
    if not DEMO or not os.path.exists(DEMO):
        print("usage: test_websocket_python.py <herald-demo>", file=sys.stderr)
        sys.exit(2)
    try:
        asyncio.run(asyncio.wait_for(main(), 240))
    except Exception as e:  # a crash is a failure, reported like the others
        failures.append(f"threw: {e!r}")
    print(f"test_websocket_python (websockets {websockets.__version__}): "
          f"{'PASS' if not failures else 'FAIL'} ({passed} checks passed, {len(failures)} failed)")
    for f in failures:
        print(f"  - {f}")
    sys.exit(1 if failures else 0)
