#!/usr/bin/env python3
"""Writes the seed corpus of fuzz_connection (fuzz/corpus/connection/).

An input is [options] [n] [n control bytes] [wire bytes]; fuzz_connection.cpp
says what they mean. Run from anywhere: python3 fuzz/make_connection_corpus.py
"""
import os
import struct

OUT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "corpus", "connection")

# options (bits 0-2: policy % 5)
CLOSE, DROP_OLDEST, DROP_NEWEST, CONFLATE, WAIT = range(5)
DEFLATE = 8
# piece sizes (control bits 0-2)
SIZES = {1: 0, 3: 1, 8: 2, 17: 3, 64: 4, 256: 5, 1024: 6, "rest": 7}
# actions (control bits 3-7)
NONE, PUBLISH_A, PUBLISH_B, BURST = 0, 16, 17, 18
ADV_1S, ADV_6S, ADV_16S, ADV_61S = 19, 20, 21, 22
TOGGLE_READING, NEXT_CLIENT, HALF_CLOSE, CLOSE_CLIENT = 23, 24, 25, 26
REPEAT_64, REPEAT_1024, SHUTDOWN = 27, 28, 29


def ctl(size, action=NONE):
    return bytes([(action << 3) | SIZES[size]])


def make(options, controls, wire):
    assert len(controls) <= 15
    return bytes([options, len(controls)]) + b"".join(controls) + wire


def frame(opcode, payload=b"", fin=True, key=b"\x12\x34\x56\x78"):
    """A masked client frame."""
    head = bytes([(0x80 if fin else 0) | opcode])
    n = len(payload)
    if n < 126:
        head += bytes([0x80 | n])
    elif n < 65536:
        head += bytes([0x80 | 126]) + struct.pack(">H", n)
    else:
        head += bytes([0x80 | 127]) + struct.pack(">Q", n)
    masked = bytes(b ^ key[i % 4] for i, b in enumerate(payload))
    return head + key + masked


def upgrade(path, extra=b"", size=None):
    req = (b"GET " + path + b" HTTP/1.1\r\nHost: h\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
           b"Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n" + extra)
    if size is not None:  # padded to a piece size, so the next piece starts at the first frame
        pad = size - len(req) - len(b"X-Pad: \r\n\r\n")
        assert pad >= 0, (size, len(req))
        req += b"X-Pad: " + b"p" * pad + b"\r\n"
    req += b"\r\n"
    assert size is None or len(req) == size
    return req


def get(path, extra=b""):
    return b"GET " + path + b" HTTP/1.1\r\nHost: h\r\n" + extra + b"\r\n"


def padded_get(path, size):
    req = b"GET " + path + b" HTTP/1.1\r\nX: "
    return req + b"p" * (size - len(req) - 4) + b"\r\n\r\n"


TEXT, BINARY, CLOSE_OP, PING, PONG = 1, 2, 8, 9, 10
close_1000 = frame(CLOSE_OP, struct.pack(">H", 1000) + b"bye")

SEEDS = {
    "healthz": make(CLOSE, [], get(b"/healthz")),
    "pipelined": make(CLOSE, [ctl(8)],
                      get(b"/healthz") + get(b"/nope") +
                      b"POST /publish/a HTTP/1.1\r\nHost: h\r\nContent-Length: 5\r\n\r\nhello" +
                      get(b"/poll/a?after=0") + get(b"/healthz", b"Connection: close\r\n")),
    "ws_echo": make(DEFLATE, [ctl("rest")],
                    upgrade(b"/ws/echo", b"Sec-WebSocket-Extensions: permessage-deflate\r\n") +
                    frame(TEXT, b"hello") + frame(PING, b"p") + frame(BINARY, b"\x00\x01", fin=False) +
                    frame(0, b"\x02") + frame(PONG) + close_1000),
    "ws_echo_split": make(CLOSE, [ctl(1), ctl(17), ctl(3), ctl(64)],
                          upgrade(b"/ws/echo") + frame(TEXT, b"hi") + frame(PING, b"x" * 125) + close_1000),
    "ws_topic": make(DROP_OLDEST, [ctl("rest", PUBLISH_A)],
                     upgrade(b"/ws/topic/a?after=0", b"Sec-WebSocket-Protocol: herald.v1\r\n") +
                     frame(TEXT, b"from the client")),
    "ws_idle": make(CLOSE, [ctl(256, ADV_16S), ctl(1, ADV_16S), ctl(1, ADV_1S)],
                    upgrade(b"/ws/topic/b", size=256) + b"\x00\x00"),
    "sse_resume": make(CONFLATE, [ctl(1, PUBLISH_A), ctl("rest", ADV_16S)],
                       get(b"/sse/a", b"Last-Event-ID: 0\r\n")),
    "longpoll": make(CLOSE, [ctl("rest", PUBLISH_A)], get(b"/longpoll/a?after=0&timeout_ms=5000")),
    "longpoll_timeout": make(CLOSE, [ctl("rest", ADV_6S)], get(b"/longpoll/a?after=0&timeout_ms=5000")),
    "two_clients": make(CLOSE, [ctl(256, NEXT_CLIENT), ctl("rest", PUBLISH_A)],
                        upgrade(b"/ws/topic/a", size=256) + get(b"/sse/a")),
    "shutdown": make(CLOSE, [ctl(256, NEXT_CLIENT), ctl("rest", SHUTDOWN)],
                     upgrade(b"/ws/echo", size=256) + get(b"/longpoll/a?after=0")),
    # Floods from a client that never reads: today's herald queues every answer
    # (issue 13), so these exceed the queue budget until the budget lands.
    "ws_ping_flood_unread": make(CLOSE, [ctl(256, TOGGLE_READING)] + [ctl(64, REPEAT_1024)] * 6,
                                 upgrade(b"/ws/echo", size=256) + frame(PING, b"p" * 58) * 6),
    "http_pipeline_flood_unread": make(CLOSE, [ctl(64, TOGGLE_READING)] + [ctl(64, REPEAT_1024)] * 6,
                                       padded_get(b"/healthz", 64) * 7),
    "sse_wait_burst_unread": make(WAIT, [ctl(64, TOGGLE_READING)] + [ctl(1, BURST)] * 6,
                                  padded_get(b"/sse/a", 64) + b"......"),
}


def main():
    os.makedirs(OUT, exist_ok=True)
    for name, data in SEEDS.items():
        with open(os.path.join(OUT, name), "wb") as f:
            f.write(data)
    print(f"{len(SEEDS)} seeds in {OUT}")


if __name__ == "__main__":
    main()
