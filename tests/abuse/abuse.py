"""Shared pieces of the abuse and fault suite (ctest label `abuse`).

Each test starts herald-demo (or another server binary) as a real process,
attacks it over real sockets on 127.0.0.1, and asserts three things a user
relies on: the server's memory stays bounded (RSS from /proc), other clients
are still served, and nothing accepted is lost. Standard library only; run
with Debian's /usr/bin/python3.
"""
import http.client
import os
import re
import select
import signal
import socket
import subprocess
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "integration"))
from demo import Demo  # noqa: E402,F401  (re-exported for the tests)

failures = []


def check(cond, what):
    """Records a failed assertion (the test goes on, and exits 1 at the end)."""
    if not cond:
        failures.append(what)
        print("FAIL:", what, flush=True)
    else:
        print("ok:", what, flush=True)
    return cond


def finish():
    """Exits 1 if any check failed."""
    if failures:
        print(f"{len(failures)} check(s) failed")
        sys.exit(1)
    print("all checks passed")
    sys.exit(0)


def rss_kib(pid):
    """Resident set of process `pid` in KiB, from /proc/PID/status."""
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    raise RuntimeError("no VmRSS")


def open_fds(pid):
    return len(os.listdir(f"/proc/{pid}/fd"))


def wait_until(pred, timeout, what, interval=0.02):
    """Polls `pred` until true or `timeout` seconds pass (bounded; not a sync sleep
    on its own: it returns as soon as the condition holds)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        v = pred()
        if v:
            return v
        time.sleep(interval)
    return pred()


def metrics(port):
    """The server's /metrics as {name{labels}: value}."""
    c = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    c.request("GET", "/metrics")
    r = c.getresponse()
    body = r.read().decode()
    c.close()
    out = {}
    for line in body.splitlines():
        if not line or line.startswith("#"):
            continue
        k, _, v = line.rpartition(" ")
        try:
            out[k] = float(v)
        except ValueError:
            pass
    return out


def metric(port, name, **labels):
    """Sum of `name` over the series whose labels include `labels`."""
    total = 0.0
    for k, v in metrics(port).items():
        base, _, rest = k.partition("{")
        if base != name:
            continue
        if all(f'{lk}="{lv}"' in rest for lk, lv in labels.items()):
            total += v
    return total


def served(port, timeout=5):
    """True when a fresh client gets 200 from /healthz within `timeout` seconds."""
    try:
        c = http.client.HTTPConnection("127.0.0.1", port, timeout=timeout)
        c.request("GET", "/healthz")
        r = c.getresponse()
        r.read()
        c.close()
        return r.status == 200
    except OSError:
        return False


def small_socket(port, rcvbuf=4096, timeout=10):
    """A TCP connection with a small receive buffer (set before connect, so the
    window the server sees is small too)."""
    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, rcvbuf)
    s.settimeout(timeout)
    s.connect(("127.0.0.1", port))
    return s


def start_demo(path, *args, rlimit_nofile=None, rlimit_fsize=None, timeout=10.0):
    """herald-demo on a free port. Its stderr (the log) goes to a temporary file,
    not a pipe nobody reads: a server logging every refused attacker must not
    block on a full pipe. `rlimit_nofile` lowers its descriptor limit (as
    `ulimit -n`), `rlimit_fsize` the largest file it may write (`ulimit -f`)."""
    import resource
    import tempfile

    def limits():
        if rlimit_nofile is not None:
            resource.setrlimit(resource.RLIMIT_NOFILE, (rlimit_nofile, rlimit_nofile))
        if rlimit_fsize is not None:
            resource.setrlimit(resource.RLIMIT_FSIZE, (rlimit_fsize, rlimit_fsize))
            # past the limit the write fails with EFBIG instead of killing us
            signal.signal(signal.SIGXFSZ, signal.SIG_IGN)

    log = tempfile.TemporaryFile(mode="w+")
    d = Demo(path, *args, timeout=timeout, preexec_fn=limits, stderr=log)
    d.log = log
    return d


def log_text(d):
    """What the server wrote to its log so far."""
    d.log.flush()
    d.log.seek(0)
    return d.log.read()
