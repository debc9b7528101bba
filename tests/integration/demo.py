"""Starts herald-demo for a test and talks HTTP to it (standard library only)."""
import http.client
import re
import select
import signal
import socket
import subprocess
import time


class Demo:
    def __init__(self, path, *args, timeout=10.0, **popen):
        popen.setdefault("stderr", subprocess.PIPE)
        self.proc = subprocess.Popen([path, "--port", "0", *args], stdout=subprocess.PIPE,
                                     text=True, **popen)
        deadline = time.monotonic() + timeout
        line = ""
        while time.monotonic() < deadline:
            r, _, _ = select.select([self.proc.stdout], [], [], 0.5)
            if r:
                line = self.proc.stdout.readline()
                m = re.search(r"listening on http://([^\s]+):(\d+)", line)
                if m:
                    self.host, self.port = m.group(1), int(m.group(2))
                    return
            if self.proc.poll() is not None:
                break
        self.proc.kill()
        err = self.proc.stderr.read() if self.proc.stderr else ""
        raise RuntimeError(f"herald-demo did not start: {line!r} {err}")

    def request(self, method, path, body=None, headers=None, timeout=10):
        c = http.client.HTTPConnection("127.0.0.1", self.port, timeout=timeout)
        c.request(method, path, body=body, headers=headers or {})
        r = c.getresponse()
        data = r.read()
        c.close()
        return r.status, dict(r.getheaders()), data

    def raw(self, data, timeout=10):
        s = socket.create_connection(("127.0.0.1", self.port), timeout=timeout)
        s.sendall(data)
        out = b""
        while True:
            try:
                chunk = s.recv(65536)
            except socket.timeout:
                break
            if not chunk:
                break
            out += chunk
        s.close()
        return out

    def stop(self, timeout=10):
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                return self.proc.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
                return None
        return self.proc.returncode

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.stop()
