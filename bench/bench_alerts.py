"""Benchmark: alarm rule evaluation throughput, and latency from an HJ 212 packet at the gateway
to the downstream notification row.

Run:  .venv/bin/python bench/bench_alerts.py [--rules 10000] [--streams 2000] [--values 200000]
      [--naive-values 2000] [--latency 40] [--db sqlite|postgresql] [--pg-url URL]

1. Throughput (pure, no database): ``--rules`` compiled checks (a mix of exceedance with
   hysteresis, sustained exceedance, rate of change, device flags and bloom levels) spread over
   ``--streams`` series; a stream of ``--values`` random values (about 2 % out of limits) is run
   through :func:`gongzhi.alerts.engine.evaluate` (checks indexed by stream). Baseline in the same
   run: :func:`gongzhi.alerts.engine.naive_evaluate`, which offers every value to every rule, on the
   first ``--naive-values`` values; both must produce the same transitions on that prefix.
2. Latency (``--latency N`` samples, 0 skips): a fresh database (SQLite in a temporary directory,
   or ``--db postgresql`` on ``--pg-url``), the demo region, one rule on the boundary section
   太浦河太浦闸 (propagated downstream), the real gateway in this process (its writer thread
   commits and acks; the alerts evaluator thread listens after commit, as in ``gongzhi gateway``).
   Each sample sends a packet over TCP with an exceedance and measures until the
   ``warning.downstream`` notification row for Qingpu's duty officer is visible from another
   connection (polled every 2 ms); between samples a good value clears the alarm. Baseline in
   the same run: the gateway's acknowledgement latency of the same packets (send → 9014, i.e.
   committed), the floor any after-commit evaluation adds to. Target: p99 < 2 s.
"""

from __future__ import annotations

import argparse
import os
import random
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "src"))

from gongzhi.alerts import engine  # noqa: E402


def build_checks(n_rules: int, n_streams: int, rnd: random.Random) -> list[engine.Check]:
    checks = []
    for r in range(n_rules):
        stream = (r % n_streams, "value")
        kind = rnd.random()
        if kind < 0.5:
            c = engine.Check(rule=r, stream=stream, kind=engine.EXCEEDANCE, upper=1.0 + rnd.random(), hysteresis=0.05,
                             min_clear_s=600)
        elif kind < 0.7:
            c = engine.Check(rule=r, stream=stream, kind=engine.EXCEEDANCE, upper=1.5, duration_s=600)
        elif kind < 0.85:
            c = engine.Check(rule=r, stream=stream, kind=engine.RATE, rate_per_h=30.0)
        elif kind < 0.95:
            c = engine.Check(rule=r, stream=stream, kind=engine.FLAG, flags=frozenset("DCMF"))
        else:
            c = engine.Check(rule=r, stream=stream, kind=engine.BLOOM, bloom_level=4)
        checks.append(c)
    return checks


def build_values(n_values: int, n_streams: int, rnd: random.Random) -> list[tuple]:
    out = []
    t = 1_700_000_000.0
    for i in range(n_values):
        s = i % n_streams
        if s == 0:
            t += 60.0
        bad = rnd.random() < 0.02
        v = rnd.uniform(2.0, 4.0) if bad else rnd.uniform(0.2, 0.9)
        if rnd.random() < 0.01:
            v *= 1e8  # an algal density now and then
        out.append(((s, "value"), t, v, "D" if rnd.random() < 0.005 else "N"))
    return out


def throughput(args) -> None:
    rnd = random.Random(6)
    checks = build_checks(args.rules, args.streams, rnd)
    values = build_values(args.values, args.streams, rnd)
    idx = engine.RuleIndex(checks)
    state: dict = {}
    t0 = time.perf_counter()
    transitions = engine.evaluate(idx, values, state)
    indexed_s = time.perf_counter() - t0
    prefix = values[: args.naive_values]
    t0 = time.perf_counter()
    naive = engine.naive_evaluate(checks, prefix, {})
    naive_s = time.perf_counter() - t0
    check = engine.evaluate(engine.RuleIndex(checks), prefix, {})
    same = [(x.action, x.rule, x.t) for x in naive] == [(x.action, x.rule, x.t) for x in check]
    print(f"rule evaluation: {args.rules:,} rules over {args.streams:,} series, {len(values):,} values")
    print(f"  indexed engine : {len(values) / indexed_s:12,.0f} values/s  ({indexed_s:.3f} s, "
          f"{len(values) * args.rules / args.streams / indexed_s:,.0f} rule checks/s, {len(transitions):,} transitions)")
    print(f"  naive baseline : {len(prefix) / naive_s:12,.0f} values/s  ({naive_s:.3f} s on the first {len(prefix):,} values, "
          f"every value offered to every rule)")
    print(f"  speed-up       : {(len(values) / indexed_s) / (len(prefix) / naive_s):,.0f}x; same transitions on the prefix: {same}")
    if not same:
        raise SystemExit("indexed and naive evaluation disagree")


def latency(args) -> None:
    tmp = tempfile.mkdtemp(prefix="gongzhi-bench-alerts-")
    os.environ["GONGZHI_ENV"] = "development"
    os.environ["GONGZHI_DATA_DIR"] = tmp
    if args.db == "postgresql":
        os.environ["GONGZHI_DATABASE_URL"] = args.pg_url
        _recreate_pg(args.pg_url)
    else:
        os.environ.pop("GONGZHI_DATABASE_URL", None)
    from gongzhi.cli import _django

    _django.setup(env="development", data_dir=tmp)
    _django.migrate(verbosity=0)
    import asyncio
    import datetime as dt
    import socket
    import threading

    from gongzhi.alerts import evaluation, services
    from gongzhi.alerts.models import Alarm
    from gongzhi.demo.loader import load_demo_region
    from gongzhi.hj212 import CST, Decoder, Packet, build_data, format_time
    from gongzhi.ingest.gateway import Gateway, GatewayConfig
    from gongzhi.notifications.models import Notification
    from gongzhi.registry import models as reg

    load_demo_region(data_dir=Path(tmp))
    site = reg.Site.objects.get(code="W320509-S01")
    nh3 = reg.Parameter.objects.get(key="nh3_n")
    mn, pw = "BENCHALERTS0000000000021", "123456"
    dev = reg.Device.objects.create(mn=mn, password=pw, system_code="21", site=site)
    dev.parameters.add(nh3)
    services.create_rule(name="bench", owner=site.owner, kind="exceedance", parameter=nh3, site=site,
                         limit_source="fixed", upper=1.0, hysteresis_pct=0)
    loop = asyncio.new_event_loop()
    ready = threading.Event()
    holder = {}

    def run() -> None:
        asyncio.set_event_loop(loop)
        holder["gw"] = Gateway(GatewayConfig(port=0, metrics_port=0))
        loop.run_until_complete(holder["gw"].start())
        ready.set()
        loop.run_until_complete(holder["gw"].wait_closed())

    threading.Thread(target=run, daemon=True).start()
    ready.wait(30)
    port = holder["gw"].port
    sock = socket.create_connection(("127.0.0.1", port))
    decoder = Decoder()
    t = dt.datetime.now(CST).replace(microsecond=0) - dt.timedelta(minutes=2 * args.latency + 5)

    def send(value: float) -> float:
        nonlocal t
        t += dt.timedelta(minutes=1)
        [p] = build_data("2011", mn=mn, pw=pw, st="21", qn=format_time(t, ms=True), data_time=t,
                         factors={"w21003": {"Rtd": value, "Flag": "N"}})
        t0 = time.perf_counter()
        sock.sendall(p)
        got = []
        while not got:
            got = [e for e in decoder.feed(sock.recv(65536)) if isinstance(e, Packet)]
        return time.perf_counter() - t0

    send(0.5)
    evaluation.live.wait_idle(10)
    acks, lats = [], []
    for _ in range(args.latency):
        before = Notification.objects.filter(kind="warning.downstream", recipient__username="qingpu_duty").count()
        t0 = time.perf_counter()
        acks.append(send(2.0))
        while Notification.objects.filter(kind="warning.downstream", recipient__username="qingpu_duty").count() == before:
            if time.perf_counter() - t0 > 30:
                raise SystemExit("no notification within 30 s")
            time.sleep(0.002)
        lats.append(time.perf_counter() - t0)
        send(0.5)  # clears the alarm (the next bad value opens a new one)
        evaluation.live.wait_idle(10)
    sock.close()
    asyncio.run_coroutine_threadsafe(holder["gw"].shutdown(), loop).result(30)
    n_alarms = Alarm.objects.count()

    def pct(xs, q):
        xs = sorted(xs)
        return xs[min(len(xs) - 1, int(round(q * (len(xs) - 1))))]

    print(f"latency, HJ 212 packet at the gateway → downstream notification row ({args.db}, {len(lats)} samples, "
          f"{n_alarms} alarms):")
    print(f"  packet → notification : p50 {pct(lats, .5) * 1000:7.1f} ms   p99 {pct(lats, .99) * 1000:7.1f} ms   "
          f"max {max(lats) * 1000:7.1f} ms   (target p99 < 2000 ms)")
    print(f"  baseline packet → ack : p50 {pct(acks, .5) * 1000:7.1f} ms   p99 {pct(acks, .99) * 1000:7.1f} ms   "
          f"(commit floor; mean {statistics.mean(acks) * 1000:.1f} ms)")


def _recreate_pg(url: str) -> None:
    import psycopg

    base, name = url.rsplit("/", 1)
    with psycopg.connect(base + "/postgres", autocommit=True) as c:
        c.execute(f'DROP DATABASE IF EXISTS "{name}"')
        c.execute(f'CREATE DATABASE "{name}"')


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--rules", type=int, default=10_000)
    ap.add_argument("--streams", type=int, default=2_000)
    ap.add_argument("--values", type=int, default=200_000)
    ap.add_argument("--naive-values", type=int, default=2_000)
    ap.add_argument("--latency", type=int, default=40, help="latency samples (0: skip)")
    ap.add_argument("--db", choices=["sqlite", "postgresql"], default="sqlite")
    ap.add_argument("--pg-url", default="postgresql://postgres@127.0.0.1:5432/gongzhi_alerts_bench")
    args = ap.parse_args()
    throughput(args)
    if args.latency:
        latency(args)


if __name__ == "__main__":
    main()
