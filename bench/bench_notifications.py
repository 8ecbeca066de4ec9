"""Benchmark: notification dispatch throughput (in-app + signed webhook) and notify→webhook latency.

Run:  .venv/bin/python bench/bench_notifications.py [--n 2000] [--slow-n 200] [--slow-ms 20] [--db-url URL]

Creates a throw-away database (a SQLite file in a temporary folder by default, or the
PostgreSQL database named by --db-url, which is flushed), one bureau with a webhook endpoint
pointing at a local HTTP server on 127.0.0.1 in its own process (answers 204 after checking
nothing, so the server costs the same for both sides) and measures:

1. ``notify()``: in-app notifications stored + webhook deliveries queued, per second
   (one notify call per notification, each in its own transaction, as the alerts app calls it);
2. ``dispatch_due()`` until the queue is empty: webhook deliveries claimed, signed, POSTed and
   recorded, per second;
3. the same with the server answering after --slow-ms milliseconds (a remote receiver): the
   dispatcher's per-channel worker pool overlaps the waits;
4. latency from ``notify()`` committing to the webhook arriving, with the dispatcher loop of
   ``gongzhi demo`` running on a thread (p50/p99 over --latency-n notifications).

Baseline, measured in the same run against the same server with the same JSON bodies and
signatures: raw sequential ``urllib`` POSTs (no database, no claiming, no bookkeeping) —
what one would write by hand in a loop.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import tempfile
import threading
import time
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


RECEIVER = r"""
import json, sys, threading, time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
delay = float(sys.argv[1])
count = 0
arrivals = {}
lock = threading.Lock()

class Handler(BaseHTTPRequestHandler):
    def log_message(self, *args):
        pass

    def do_POST(self):
        global count
        body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
        if delay:
            time.sleep(delay)
        ref = json.loads(body)["ref"] if b'"ref":"lat:' in body else ""
        with lock:
            count += 1
            if ref:
                arrivals[ref] = time.time()
        self.send_response(204)
        self.send_header("Content-Length", "0")
        self.end_headers()

    def do_GET(self):
        with lock:
            data = json.dumps({"count": count, "arrivals": arrivals}).encode()
        self.send_response(200)
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
server.daemon_threads = True
server.request_queue_size = 128
print(server.server_address[1], flush=True)
server.serve_forever()
"""


class Receiver:
    """A plain HTTP receiver in its own process (as a real one would be: it does not share our GIL)."""

    def __init__(self, delay_s: float = 0.0):
        import subprocess

        self.proc = subprocess.Popen([sys.executable, "-c", RECEIVER, str(delay_s)], stdout=subprocess.PIPE, text=True)
        port = int(self.proc.stdout.readline())
        self.base = f"http://127.0.0.1:{port}"
        self.url = self.base + "/hook"

    def stats(self) -> dict:
        opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
        with opener.open(self.base + "/stats", timeout=5) as r:
            return json.loads(r.read())

    @property
    def count(self) -> int:
        return self.stats()["count"]

    def close(self):
        self.proc.terminate()
        self.proc.wait(5)


def setup_django(db_url: str | None, data_dir: str) -> None:
    sys.path.insert(0, str(ROOT / "src"))
    os.environ["GONGZHI_ENV"] = "demo"  # not development: DEBUG would record every query
    os.environ["GONGZHI_DATA_DIR"] = data_dir
    if db_url:
        os.environ["GONGZHI_DATABASE_URL"] = db_url
    else:
        os.environ.pop("GONGZHI_DATABASE_URL", None)
    os.environ["DJANGO_SETTINGS_MODULE"] = "gongzhi.settings"
    import logging

    import django

    django.setup()
    logging.getLogger("gongzhi").setLevel(logging.WARNING)
    from django.core.management import call_command

    call_command("migrate", interactive=False, verbosity=0)
    if db_url:
        call_command("flush", interactive=False, verbosity=0)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--n", type=int, default=2000, help="notifications for the fast-server runs")
    ap.add_argument("--slow-n", type=int, default=200, help="notifications for the slow-server runs")
    ap.add_argument("--slow-ms", type=float, default=20.0, help="server answer delay of the slow runs")
    ap.add_argument("--latency-n", type=int, default=50)
    ap.add_argument("--db-url", default="", help="PostgreSQL URL (flushed!); default a temporary SQLite file")
    args = ap.parse_args()

    tmp = tempfile.mkdtemp(prefix="gongzhi-bench-notify-")
    setup_django(args.db_url or None, tmp)
    from django.db import connection, transaction
    from django.utils import timezone

    from gongzhi.accounts.models import User
    from gongzhi.notifications import services, signing
    from gongzhi.notifications.channels.base import delivery_document, document_bytes
    from gongzhi.notifications.models import Delivery, Notification
    from gongzhi.registry.models import Bureau

    print(f"database: {connection.vendor} {connection.settings_dict['NAME']}")
    bureau = Bureau.objects.create(code="bench", name="基准局", short_name="基准")
    user = User.objects.create_user(username="bench-duty", password="x" * 12, bureau=bureau)  # no email: webhook only
    secret = "bench-secret-0123456789"

    def run(n: int, delay_s: float, label: str) -> None:
        rx = Receiver(delay_s)
        endpoint = services.save_webhook_endpoint(bureau=bureau, name=label, url=rx.url, secret=secret, timeout_seconds=5)
        Notification.objects.all().delete()
        t0 = time.perf_counter()
        for i in range(n):
            with transaction.atomic():
                services.notify(recipients=[user], kind="alarm.opened", subject=f"急水港断面氨氮超标 {i}",
                                body="氨氮 2.31 mg/L，超过Ⅲ类限值 1.54 倍", ref=f"{label}:{i}", payload={"value": 2.31, "site": "QP-W1"})
        t_notify = time.perf_counter() - t0
        deliveries = list(Delivery.objects.filter(endpoint=endpoint).select_related("notification__recipient", "endpoint__bureau").order_by("id"))
        assert len(deliveries) == n, len(deliveries)
        bodies = [document_bytes(delivery_document(d)) for d in deliveries]

        t0 = time.perf_counter()
        total = 0
        while True:
            result = services.dispatch_due(limit=200)
            total += result.sent
            if result.claimed == 0:
                break
        t_dispatch = time.perf_counter() - t0
        assert total == n and rx.count == n, (total, rx.count)

        # baseline: raw sequential urllib POSTs of the same bodies, signed the same way
        opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
        t0 = time.perf_counter()
        for d, body in zip(deliveries, bodies):
            ts = int(time.time())
            req = urllib.request.Request(rx.url, data=body, method="POST", headers={
                "Content-Type": "application/json; charset=utf-8",
                signing.TIMESTAMP_HEADER: str(ts), signing.SIGNATURE_HEADER: signing.sign(secret, ts, body),
                signing.DELIVERY_HEADER: str(d.pk), signing.EVENT_HEADER: "alarm.opened"})
            with opener.open(req, timeout=5) as r:
                r.read()
        t_raw = time.perf_counter() - t0
        assert rx.count == 2 * n
        rx.close()
        endpoint.active = False
        services.save_webhook_endpoint(endpoint=endpoint)
        print(f"\n[{label}] {n} notifications, server answer delay {delay_s * 1000:g} ms")
        print(f"  notify() (in-app row + webhook delivery queued, one transaction each): {n / t_notify:9.0f} /s")
        print(f"  dispatch_due() webhook deliveries sent (claim, sign, POST, record):   {n / t_dispatch:9.0f} /s")
        print(f"  baseline: raw sequential urllib POSTs, same bodies and signatures:   {n / t_raw:9.0f} /s")
        print(f"  dispatch / baseline: {t_raw / t_dispatch:.2f}×")

    run(args.n, 0.0, "fast")
    run(args.slow_n, args.slow_ms / 1000, "slow")

    # latency: notify commit → webhook arrival, with the dispatcher loop running on a thread
    rx = Receiver(0.0)
    services.save_webhook_endpoint(bureau=bureau, name="latency", url=rx.url, secret=secret, timeout_seconds=5)
    thread, stop = services.start_dispatcher_thread(interval=2.0)
    time.sleep(0.3)
    waits = []
    for i in range(args.latency_n):
        ref = f"lat:{i}"
        t0 = time.time()  # wall clock: the receiver is another process
        with transaction.atomic():
            services.notify(recipients=[user], kind="warning.downstream", subject="上游来水预警", body="", ref=ref, now=timezone.now())
        deadline = time.time() + 10
        arrived = None
        while arrived is None and time.time() < deadline:
            time.sleep(0.002)
            arrived = rx.stats()["arrivals"].get(ref)
        waits.append((arrived - t0) * 1000 if arrived else float("inf"))
        time.sleep(0.02)
    stop.set()
    rx.close()
    waits.sort()
    p99 = waits[min(len(waits) - 1, int(round(0.99 * (len(waits) - 1))))]
    print(f"\n[latency] notify() commit → webhook received, dispatcher thread (wakes on commit, else polls every 2 s), n={len(waits)}")
    print(f"  p50 {statistics.median(waits):.1f} ms   p99 {p99:.1f} ms   max {waits[-1]:.1f} ms   (the poll interval alone would be up to 2000 ms)")
    connection.close()
    import shutil

    shutil.rmtree(tmp, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
