"""Connection floods against herald-demo.

1. Past --max-connections: the connections over the limit are answered 503
   with Retry-After and closed, counted in herald_rejected_connections_total;
   once the flood ends, the server serves again.
2. Past the process's descriptor limit (RLIMIT_NOFILE 256, --max-connections
   larger): accept fails with EMFILE. The server must back off instead of
   spinning on the readable listening socket (its CPU time over the flood
   stays low), count the back-off, and serve again once the attacker closes.

RSS stays bounded in both. argv: herald-demo herald_abuse_server"""
import os
import socket
import sys
import time

import abuse
from abuse import check, finish

RSS_GROWTH_KIB = 20 * 1024
TICK = os.sysconf("SC_CLK_TCK")


def cpu_seconds(pid):
    """utime + stime of process `pid` (all its threads), from /proc/PID/stat."""
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rpartition(")")[2].split()
    return (int(fields[11]) + int(fields[12])) / TICK  # fields 14 and 15 of the whole line


def flood(port, n):
    socks = []
    for _ in range(n):
        s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        s.settimeout(5)
        s.connect(("127.0.0.1", port))  # completes in the kernel's backlog even if never accepted
        socks.append(s)
    return socks


def past_max_connections(demo_path):
    limit, extra = 40, 30
    d = abuse.start_demo(demo_path, "--max-connections", str(limit), "--threads", "1")
    try:
        port, pid = d.port, d.proc.pid
        rss0 = abuse.rss_kib(pid)
        rejected0 = abuse.metric(port, "herald_rejected_connections_total")
        held = flood(port, limit)
        # the server counts a session once it starts it on its loop
        abuse.wait_until(lambda: True, 0.2, "")
        over = flood(port, extra)
        refused = 0
        for s in over:
            try:
                data = b""
                while b"\r\n\r\n" not in data:
                    chunk = s.recv(4096)
                    if not chunk:
                        break
                    data += chunk
                if data.startswith(b"HTTP/1.1 503") and b"Retry-After:" in data:
                    refused += 1
            except OSError:
                pass
        check(refused == extra, f"each of the {extra} connections past the limit got 503 with Retry-After ({refused})")
        for s in held + over:
            s.close()
        check(abuse.wait_until(lambda: abuse.served(port, timeout=2), 10, "served"), "served again after the flood")
        rejected = abuse.metric(port, "herald_rejected_connections_total") - rejected0
        check(rejected >= extra, f"herald_rejected_connections_total counted them ({rejected:.0f})")
        rss1 = abuse.rss_kib(pid)
        check(rss1 - rss0 < RSS_GROWTH_KIB, f"RSS growth {rss1 - rss0} KiB < {RSS_GROWTH_KIB} KiB")
    finally:
        rc = d.stop()
        check(rc == 0, f"clean exit on SIGTERM (rc {rc})")


def past_descriptor_limit(demo_path):
    d = abuse.start_demo(demo_path, "--max-connections", "5000", "--threads", "1", rlimit_nofile=256)
    try:
        port, pid = d.port, d.proc.pid
        check(abuse.served(port), "served before the flood")
        rss0 = abuse.rss_kib(pid)
        backoffs0 = abuse.metric(port, "herald_accept_backoffs_total")
        socks = flood(port, 400)
        # Let the server take what it can and run out of descriptors.
        abuse.wait_until(lambda: abuse.open_fds(pid) >= 250, 5, "fds")
        fds = abuse.open_fds(pid)
        print(f"server holds {fds} descriptors")
        cpu0, t0 = cpu_seconds(pid), time.monotonic()
        time.sleep(3)  # the measurement window: the server has nothing to do but wait
        cpu = cpu_seconds(pid) - cpu0
        wall = time.monotonic() - t0
        print(f"server CPU over the flood: {cpu:.2f} s of {wall:.2f} s ({100 * cpu / wall:.0f}%)")
        check(cpu < 0.5 * wall, f"no spin at EMFILE: CPU {cpu:.2f} s < 50% of {wall:.2f} s")
        check(d.proc.poll() is None, "the process is still running")
        rss_flood = abuse.rss_kib(pid)
        for s in socks:
            s.close()
        check(abuse.wait_until(lambda: abuse.served(port, timeout=2), 15, "served", interval=0.2),
              "served again once the attacker closed its sockets")
        backoffs = abuse.metric(port, "herald_accept_backoffs_total") - backoffs0
        check(backoffs >= 1, f"herald_accept_backoffs_total counted the back-off ({backoffs:.0f})")
        check(backoffs < 100, f"backing off, not retrying in a loop ({backoffs:.0f} back-offs in ~3 s)")
        check("pausing accepts" in abuse.log_text(d), "the back-off is logged")
        rss1 = abuse.rss_kib(pid)
        check(max(rss1, rss_flood) - rss0 < RSS_GROWTH_KIB, f"RSS growth {max(rss1, rss_flood) - rss0} KiB < {RSS_GROWTH_KIB} KiB")
    finally:
        rc = d.stop()
        check(rc == 0, f"clean exit on SIGTERM (rc {rc})")


def main():
    past_max_connections(sys.argv[1])
    past_descriptor_limit(sys.argv[1])
    finish()


if __name__ == "__main__":
    main()
