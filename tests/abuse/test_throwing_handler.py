"""A route handler that throws on every tenth request, under load from many
concurrent keep-alive clients: each throw answers its own request 500 with
Connection: close and is counted; the process keeps serving, /healthz stays
200, and memory stays bounded.

argv: herald-demo herald_abuse_server"""
import http.client
import sys
import threading
import time

import abuse
from abuse import check, finish

CLIENTS = 16
PER_CLIENT = 250          # 4,000 requests in all
RSS_GROWTH_KIB = 20 * 1024


def main():
    server = abuse.start_demo(sys.argv[2], "--threads", "2")
    try:
        port = server.port
        pid = server.proc.pid
        check(abuse.served(port), "healthz 200 before the load")
        rss0 = abuse.rss_kib(pid)
        exc0 = abuse.metric(port, "herald_handler_exceptions_total")
        counts = {200: 0, 500: 0, "other": 0, "closed_after_500": 0, "errors": 0}
        lock = threading.Lock()

        def client():
            c = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
            local = {200: 0, 500: 0, "other": 0, "closed_after_500": 0, "errors": 0}
            for _ in range(PER_CLIENT):
                try:
                    c.request("GET", "/flaky")
                    r = c.getresponse()
                    r.read()
                    if r.status == 500:
                        local[500] += 1
                        if (r.getheader("Connection") or "").lower() == "close":
                            local["closed_after_500"] += 1
                        c.close()  # the server closes it: a fresh connection for the next
                    elif r.status == 200:
                        local[200] += 1
                    else:
                        local["other"] += 1
                except (OSError, http.client.HTTPException):
                    local["errors"] += 1
                    c.close()
            c.close()
            with lock:
                for k, v in local.items():
                    counts[k] += v

        healthz = []

        def prober():
            # Other clients are served while handlers throw.
            for _ in range(20):
                healthz.append(abuse.served(port))
                time.sleep(0.05)

        t0 = time.monotonic()
        threads = [threading.Thread(target=client) for _ in range(CLIENTS)] + [threading.Thread(target=prober)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        elapsed = time.monotonic() - t0
        total = CLIENTS * PER_CLIENT
        print(f"{total} requests in {elapsed:.1f} s: {counts}")
        check(counts["errors"] == 0 and counts["other"] == 0, f"every request answered 200 or 500 ({counts})")
        check(counts[500] == total // 10, f"every tenth request got 500 ({counts[500]} of {total})")
        check(counts["closed_after_500"] == counts[500], "each 500 says Connection: close")
        check(server.proc.poll() is None, "the process is still running")
        check(all(healthz) and len(healthz) == 20, "/healthz answered 200 throughout the load")
        check(abuse.served(port), "/healthz 200 after the load")
        exc = abuse.metric(port, "herald_handler_exceptions_total") - exc0
        check(exc == counts[500], f"herald_handler_exceptions_total counts every 500 ({exc:.0f} vs {counts[500]})")
        log = abuse.log_text(server)
        check("the tenth request" in log, "the exception is logged with its message")
        check(log.count("\n") < total // 10, f"the log is rate-limited ({log.count(chr(10))} lines for {counts[500]} throws)")
        rss1 = abuse.rss_kib(pid)
        check(rss1 - rss0 < RSS_GROWTH_KIB, f"RSS growth {rss1 - rss0} KiB < {RSS_GROWTH_KIB} KiB ({rss0} -> {rss1})")
    finally:
        rc = server.stop()
        check(rc == 0, f"clean exit on SIGTERM (rc {rc})")
    finish()


if __name__ == "__main__":
    main()
