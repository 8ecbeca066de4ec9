"""Benchmark: the HJ 212 gateway end to end (clients -> TCP -> pipeline -> commit -> 9014).

Run:  .venv/bin/python bench/bench_gateway.py [--db sqlite,postgresql] [--connections 1000]
      [--factors 20] [--rate 1000,2000] [--duration 10] [--idle 5000] [--workers N]
      [--pg-url postgresql://postgres@127.0.0.1:5432/gongzhi_bench]

For each database it creates its own store (SQLite in a temporary directory;
PostgreSQL database ``gongzhi_bench``, dropped and re-created), registers
1,000 generated loggers (ST 32, one outlet each, with their hourly series) and starts ``gongzhi gateway``
as a subprocess (``--workers`` is passed on when given; otherwise the
gateway's default: 1 worker on SQLite, one per CPU on PostgreSQL).  The
simulated loggers run in a *separate process* (asyncio, one TCP connection
each) and send hourly uploads (2061) of ``--factors`` factors with Flag=5
(ack wanted); 20 factors do not fit one packet, so an upload is two
sub-packets, and it counts as acknowledged when both 9014 came back.
Measured:

1. fixed offered rates (``--rate`` uploads/s spread over all connections,
   each connection at its own random phase: a steady stream): offered and
   achieved rate, ack latency p50/p99 (send -> last 9014 received, i.e.
   after the commit); then the top-of-the-hour case: every connection sends
   one upload in the same instant, once a second (``--burst``, default on):
   how long the last logger of a burst waits;
2. maximum rate (each connection keeps 8 uploads unacknowledged): uploads/s,
   values/s (acked after commit; checked against the gateway's
   values-stored counter);
3. PostgreSQL only, the limit: ``COPY`` of the same number of rows (a) into
   a new, empty table shaped like the observation table (primary key and
   indexes included), three ways: COPY text and binary COPY formatted before the
   clock starts, and COPY with psycopg's ``write_row``, the fastest taken (the
   gateway writes binary COPY); (b) binary COPY into the observation
   table itself as the runs left it, in a transaction rolled back (the limit of
   writing these rows into this store: its size and index, which an empty
   table does not have); both reported as ratios end-to-end / COPY;
4. the gateway's RSS with ``--idle`` idle connections (all processes);
5. during the maximum-rate run: CPU time per acknowledged upload of the
   gateway (all its processes), the load generator and PostgreSQL (server
   processes and the bench database's backends), from /proc.

Before every measured run the bench waits until the gateway is idle (queue
empty, no acks still being sent), so no run pays for the previous one's
backlog.  A sending client stops at the end of the run but still waits for
the acks of what it sent: late acks count in the latency and the elapsed time.

Targets (2-core machine): PostgreSQL >= 50,000 values/s end to end (>= 0.5 of
raw COPY); ack p99 <= 200 ms at 2,000 packets/s; 5,000 idle connections < 1 GB.
Note: the client process, the gateway and PostgreSQL share the same cores.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
import resource
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PY = sys.executable


def _raise_nofile() -> None:
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    want = hard if hard != resource.RLIM_INFINITY else 65536
    resource.setrlimit(resource.RLIMIT_NOFILE, (max(soft, min(want, 65536)), hard))


# --- the client process ---------------------------------------------------------------------------


def clients_main(argv: list[str]) -> int:
    p = argparse.ArgumentParser()
    p.add_argument("--port", type=int, required=True)
    p.add_argument("--connections", type=int, default=1000)
    p.add_argument("--devices", type=int, default=1000)
    p.add_argument("--factors", type=int, default=20)
    p.add_argument("--rate", type=float, default=0.0, help="total packets/s; 0 = as fast as acks allow")
    p.add_argument("--duration", type=float, default=10.0)
    p.add_argument("--window", type=int, default=8)
    p.add_argument("--seq0", type=int, default=0, help="first upload number (keeps runs' data apart)")
    p.add_argument("--idle", type=int, default=0, help="only open this many idle connections, hold them, report")
    p.add_argument("--count", type=int, default=0, help="send exactly this many packets per connection (no time limit)")
    p.add_argument("--sync", action="store_true",
                   help="with --rate: every connection sends in the same instant of each period (a top-of-the-hour "
                        "burst); default: each connection's phase is drawn at random, a steady offered rate")
    p.add_argument("--max-conn-rate", type=float, default=8.0,
                   help="rate 0: build enough uploads for this many per second per connection")
    a = p.parse_args(argv)
    _raise_nofile()
    from gongzhi.ingest.loadgen import Client, make_upload

    async def idle() -> dict:
        conns = []
        for i in range(a.idle):
            conns.append(await asyncio.open_connection("127.0.0.1", a.port))
            if i % 500 == 499:
                await asyncio.sleep(0.05)
        print(json.dumps({"open": len(conns)}), flush=True)
        await asyncio.get_running_loop().run_in_executor(None, sys.stdin.readline)  # hold until told
        for _, w in conns:
            w.close()
        return {"open": len(conns)}

    if a.idle:
        asyncio.run(idle())
        return 0

    per_conn_rate = a.rate / a.connections if a.rate else None
    n_per_conn = a.count or int((per_conn_rate or a.max_conn_rate) * a.duration) + a.window
    t_build = time.perf_counter()
    plans = []
    for c in range(a.connections):
        dev = c % a.devices
        seq0 = a.seq0 + (c // a.devices) * 100000
        plans.append([make_upload(dev, seq0 + s, factors=a.factors) for s in range(n_per_conn)])
    build_s = time.perf_counter() - t_build

    async def run() -> dict:
        ru0 = resource.getrusage(resource.RUSAGE_SELF)
        stop = asyncio.Event()
        clients = [Client("127.0.0.1", a.port, window=a.window if not a.rate else 4) for _ in plans]
        t0 = time.perf_counter()
        if not a.count:
            asyncio.get_running_loop().call_later(a.duration, stop.set)
        rnd = random.Random(20261205)
        phases = [0.0 if a.sync else rnd.random() for _ in plans]
        await asyncio.gather(*(c.send(pk, rate=per_conn_rate, timeout=a.duration + 30, stop=stop, phase=ph)
                               for c, pk, ph in zip(clients, plans, phases)))
        elapsed = time.perf_counter() - t0
        ru1 = resource.getrusage(resource.RUSAGE_SELF)
        cpu_s = (ru1.ru_utime - ru0.ru_utime) + (ru1.ru_stime - ru0.ru_stime)
        lat = sorted(v for c in clients for v in c.acked.values())
        acked = len(lat)
        sent = sum(c.sent for c in clients)
        q = (lambda f: lat[min(len(lat) - 1, int(f * len(lat)))] * 1000) if lat else (lambda f: float("nan"))
        send_s = a.duration if not a.count else elapsed
        return {"acked": acked, "sent": sent, "cpu_s": cpu_s, "offered_per_s": sent / send_s, "elapsed_s": elapsed,
                "packets_per_s": acked / elapsed,
                "values_per_s": acked * a.factors / elapsed, "p50_ms": q(0.50), "p99_ms": q(0.99),
                "mean_ms": statistics.fmean(lat) * 1000 if lat else float("nan"),
                "max_ms": lat[-1] * 1000 if lat else float("nan"), "build_s": build_s}

    print(json.dumps(asyncio.run(run())), flush=True)
    return 0


# --- orchestration --------------------------------------------------------------------------------


def _env(url: str, data_dir: str) -> dict:
    env = dict(os.environ)
    # production mode: DEBUG off (development mode logs every SQL statement, ~15 % of the writer's time)
    env.update(GONGZHI_ENV="production", GONGZHI_DATA_DIR=data_dir, GONGZHI_DATABASE_URL=url,
               GONGZHI_SECRET_KEY=os.environ.get("GONGZHI_SECRET_KEY") or "bench-only-" + os.urandom(24).hex())
    return env


def _prepare_pg(url: str) -> None:
    import psycopg

    from gongzhi.config import parse_database_url

    cfg = parse_database_url(url)
    kw = dict(user=cfg.user or None, password=cfg.password or None, host=cfg.host or None, port=cfg.port or None)
    with psycopg.connect(dbname="postgres", autocommit=True, **kw) as c:
        c.execute(f'DROP DATABASE IF EXISTS "{cfg.name}" WITH (FORCE)')
        c.execute(f'CREATE DATABASE "{cfg.name}"')


def _start_gateway(env: dict, workers: int | None = None, max_wait_ms: float | None = None
                   ) -> tuple[subprocess.Popen, int, int]:
    extra = ["--workers", str(workers)] if workers else []
    if max_wait_ms is not None:
        extra += ["--max-wait-ms", str(max_wait_ms)]
    proc = subprocess.Popen([PY, "-m", "gongzhi.cli", "gateway", "--port", "0", "--metrics-port", "0", "--no-migrate",
                             "--max-connections", "20000", *extra], env=env, stdout=subprocess.PIPE, text=True)
    line = proc.stdout.readline()
    try:
        port = int(line.split("listening on ", 1)[1].split()[0].rstrip(",").rsplit(":", 1)[1])
        mport = int(line.split("metrics on http://", 1)[1].split("/", 1)[0].rsplit(":", 1)[1])
    except (IndexError, ValueError):
        proc.kill()
        raise RuntimeError(f"gateway did not start: {line!r}") from None
    return proc, port, mport


def _stop(proc: subprocess.Popen) -> None:
    proc.send_signal(signal.SIGTERM)
    try:
        proc.wait(60)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()


def _run_clients(env: dict, port: int, args: list[str]) -> dict:
    out = subprocess.run([PY, __file__, "_clients", "--port", str(port), *args], env=env, capture_output=True,
                         text=True, timeout=600)
    if out.returncode != 0:
        raise RuntimeError(out.stderr[-3000:])
    return json.loads(out.stdout.strip().splitlines()[-1])


def _rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def _metrics(mport: int) -> dict[str, float]:
    import urllib.request

    text = urllib.request.urlopen(f"http://127.0.0.1:{mport}/metrics", timeout=5).read().decode()
    return {k: float(v) for k, _, v in (line.rpartition(" ") for line in text.splitlines()
                                        if line and not line.startswith("#"))}


def _rss_tree_mb(pid: int) -> float:
    """RSS of a process and its children (the gateway's supervisor and its workers)."""
    total = _rss_mb(pid)
    for child in Path(f"/proc/{pid}/task/{pid}/children").read_text().split():
        total += _rss_tree_mb(int(child))
    return total


_TICK = os.sysconf("SC_CLK_TCK")


def _cpu_s(pids) -> float:
    """User + system CPU seconds of these processes (those that ended are skipped)."""
    total = 0
    for pid in pids:
        try:
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        except (FileNotFoundError, ProcessLookupError):
            continue
        total += int(fields[11]) + int(fields[12])
    return total / _TICK


def _tree(pid: int) -> list[int]:
    try:
        kids = [int(c) for c in Path(f"/proc/{pid}/task/{pid}/children").read_text().split()]
    except FileNotFoundError:
        return [pid]
    return [pid] + [p for k in kids for p in _tree(k)]


def _postgres_pids(dbname: str) -> list[int]:
    """The server's own processes (WAL writer, checkpointer, ...) and the backends connected to
    ``dbname`` (not those of other databases on a shared server)."""
    out = []
    for d in Path("/proc").iterdir():
        if d.name.isdigit():
            try:
                if (d / "comm").read_text().strip() != "postgres":
                    continue
                cmd = (d / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
            except OSError:
                continue
            backend = "(" in cmd or "[local]" in cmd
            if not backend or f" {dbname} " in cmd:
                out.append(int(d.name))
    return out


def _dbname(url: str) -> str:
    from gongzhi.config import parse_database_url

    return parse_database_url(url).name


def _wait_idle(mport: int, timeout: float = 300.0) -> float:
    """Wait until the gateway has nothing queued and sent no reply for 1 s; returns the seconds waited."""
    t0 = time.monotonic()
    last = None
    quiet_since = time.monotonic()
    while time.monotonic() - t0 < timeout:
        m = _metrics(mport)
        state = (m.get("gongzhi_gateway_replies_total"), m.get("gongzhi_gateway_batch_size_count"))
        if state != last or m.get("gongzhi_gateway_queue_depth", 0) > 0:
            last = state
            quiet_since = time.monotonic()
        elif time.monotonic() - quiet_since >= 1.0:
            return time.monotonic() - t0
        time.sleep(0.2)
    raise RuntimeError("the gateway did not become idle")


def copy_limit(url: str, rows: int, *, how: str = "text", into: str = "scratch") -> float:
    """Rows/s of a plain COPY of observation rows, the physical limit of the bulk write.

    ``into="scratch"``: into a new, empty table shaped like the observation table (its primary
    key and indexes included), then committed: PostgreSQL's best case on this machine.
    ``into="store"``: into the observation table itself, as the runs left it (its size, its
    index, the bench's own series), in a transaction that is rolled back: the limit of writing
    these rows into this store, the table the gateway writes into.

    ``how``: ``text`` or ``binary`` — COPY data formatted before the clock starts (what the
    server does with the rows), in either format; ``write_row`` — psycopg formats them (a
    client-side peer)."""
    import datetime as dt

    import psycopg

    from _common import copy_binary, copy_bytes, copy_text
    from gongzhi.config import parse_database_url

    cfg = parse_database_url(url)
    kw = dict(user=cfg.user or None, password=cfg.password or None, host=cfg.host or None, port=cfg.port or None)
    now = dt.datetime.now(dt.timezone.utc)
    columns = "(series_id, time, value, vmin, vmax, total, flag, qc, source, received, packet_id)"
    with psycopg.connect(dbname=cfg.name, **kw) as c:
        if into == "store":
            # the bench's series in their order, at hours after anything stored: no key is taken
            sids = [r[0] for r in c.execute("SELECT id FROM observations_series ORDER BY id").fetchall()]
            last = c.execute("SELECT max(time) FROM observations_observation").fetchone()[0] or now
            base = last + dt.timedelta(days=1)
            table = "observations_observation"
        else:
            sids = list(range(1, 20001))
            base = dt.datetime(2030, 1, 1, tzinfo=dt.timezone.utc)
            table = "bench_copy"
            c.execute("DROP TABLE IF EXISTS bench_copy")
            c.execute("CREATE TABLE bench_copy (LIKE observations_observation INCLUDING ALL)")
            c.commit()
        n = len(sids)
        data = [(sids[i % n], base + dt.timedelta(hours=i // n), 1.5, 0.1, 9.9, None, "N", 0, 1, now, i)
                for i in range(rows)]
        lines = copy_text(data) if how == "text" else None
        binary = copy_binary(data) if how == "binary" else None
        statement = f"COPY {table} {columns} FROM STDIN" + (" (FORMAT BINARY)" if how == "binary" else "")
        t0 = time.perf_counter()
        with c.cursor() as cur:
            if how == "text":
                copy_bytes(cur, statement, lines)
            elif how == "binary":
                with cur.copy(statement) as cp:
                    for i in range(0, len(binary), 1 << 20):
                        cp.write(binary[i : i + (1 << 20)])
            else:
                with cur.copy(statement) as cp:
                    for r in data:
                        cp.write_row(r)
        if into == "store":
            s = time.perf_counter() - t0
            c.rollback()
        else:
            c.commit()
            s = time.perf_counter() - t0
            c.execute("DROP TABLE bench_copy")
            c.commit()
    return rows / s


_FOLD = """
import json, sys, time
from gongzhi.cli import _django
_django.setup()
from gongzhi.ingest.models import RawPacket
from gongzhi.observations.models import PendingChange
from gongzhi.observations.services import apply_pending_changes
writes = PendingChange.objects.count()
uploads = RawPacket.objects.filter(verdict="accepted").count() // 2
t0 = time.perf_counter()
applied = apply_pending_changes()
s = time.perf_counter() - t0
print(json.dumps({"writes": writes, "applied": applied, "uploads": uploads, "seconds": s,
                  "us_per_upload": s / max(1, uploads) * 1e6}))
"""


def _fold_outbox(env: dict) -> dict:
    """What the gateway leaves for later: the background fold of the outbox (dirty periods, latest
    values) that the serving processes run, timed over everything the runs wrote."""
    out = subprocess.run([PY, "-c", _FOLD], env=env, capture_output=True, text=True, timeout=1200, cwd=ROOT)
    if out.returncode != 0:
        raise RuntimeError(out.stderr[-3000:])
    return json.loads(out.stdout.strip().splitlines()[-1])


def bench_db(name: str, url: str, a) -> dict:
    data_dir = tempfile.mkdtemp(prefix=f"gongzhi-bench-{name}-")
    env = _env(url, data_dir)
    if name == "postgresql":
        _prepare_pg(url)
    t0 = time.perf_counter()
    subprocess.run([PY, "-m", "gongzhi.ingest.loadgen", "seed", "--devices", str(a.devices), "--series", "hour"],
                   env=env, check=True, capture_output=True)
    print(f"  [{name}] store and {a.devices} devices ready in {time.perf_counter() - t0:.1f} s", flush=True)
    res: dict = {}
    proc, port, mport = _start_gateway(env, a.workers, a.max_wait_ms)
    try:
        common = ["--connections", str(a.connections), "--devices", str(a.devices), "--factors", str(a.factors),
                  "--duration", str(a.duration)]
        # warm-up, not measured: the series exist (seeded, as in service); the first upload of each
        # device loads them into the gateway's caches
        warm = _run_clients(env, port, ["--connections", str(a.devices), "--devices", str(a.devices), "--factors",
                                        str(a.factors), "--duration", "300", "--count", "1", "--rate", "0",
                                        "--seq0", "90000"])
        print(f"  [{name}] warm-up: {warm['acked']} uploads in {warm['elapsed_s']:.1f} s", flush=True)
        for k, rate in enumerate(float(r) for r in str(a.rate).split(",") if r.strip()):
            _wait_idle(mport)
            fixed = _run_clients(env, port, [*common, "--rate", str(rate), "--seq0", str(k * 20000)])
            res[f"fixed_{rate:.0f}"] = fixed
            print(f"  [{name}] offered {rate:.0f} uploads/s over {a.connections} connections (sent "
                  f"{fixed['offered_per_s']:.0f}/s): {fixed['packets_per_s']:.0f} uploads/s acked "
                  f"({fixed['acked']}/{fixed['sent']}), ack p50 {fixed['p50_ms']:.1f} ms, p99 {fixed['p99_ms']:.1f} ms",
                  flush=True)
        if a.burst:
            _wait_idle(mport)
            burst = _run_clients(env, port, [*common, "--rate", str(a.connections), "--sync", "--duration", "5",
                                             "--seq0", "40000"])
            res["burst"] = burst
            print(f"  [{name}] top-of-the-hour bursts: all {a.connections} connections send at once, once a second "
                  f"({burst['acked']}/{burst['sent']} acked): ack p50 {burst['p50_ms']:.1f} ms, p99 "
                  f"{burst['p99_ms']:.1f} ms, last {burst['max_ms']:.1f} ms", flush=True)
        _wait_idle(mport)
        m0 = _metrics(mport)
        gw_pids, pg_pids = _tree(proc.pid), _postgres_pids(_dbname(url)) if name == "postgresql" else []
        c0 = (_cpu_s(gw_pids), _cpu_s(pg_pids))
        top = _run_clients(env, port, [*common, "--rate", "0", "--seq0", "60000"])
        c1 = (_cpu_s(gw_pids), _cpu_s(pg_pids))
        m1 = _metrics(mport)
        _wait_idle(mport)
        m2 = _metrics(mport)
        res["max"] = top
        stored = m1["gongzhi_gateway_values_stored_total"] - m0["gongzhi_gateway_values_stored_total"]
        stored_all = m2["gongzhi_gateway_values_stored_total"] - m0["gongzhi_gateway_values_stored_total"]
        batches = m1["gongzhi_gateway_batch_size_count"] - m0["gongzhi_gateway_batch_size_count"]
        items = m1["gongzhi_gateway_batch_size_sum"] - m0["gongzhi_gateway_batch_size_sum"]
        commit = m1["gongzhi_gateway_commit_seconds_sum"] - m0["gongzhi_gateway_commit_seconds_sum"]
        workers = m1.get("gongzhi_gateway_workers", 1.0)
        res["max"].update(values_stored=stored, values_stored_after_drain=stored_all, mean_batch=items / max(1, batches),
                          writer_busy=commit / top["elapsed_s"] / workers, workers=workers,
                          stored_values_per_s=stored / top["elapsed_s"])
        print(f"  [{name}] max rate ({workers:.0f} worker(s)): {top['packets_per_s']:.0f} uploads/s, "
              f"{top['values_per_s']:.0f} values/s acked after commit (gateway counted {stored / top['elapsed_s']:.0f} "
              f"values/s stored), ack p50 {top['p50_ms']:.0f} ms p99 {top['p99_ms']:.0f} ms, mean batch "
              f"{items / max(1, batches):.0f} items, writer threads busy {100 * commit / top['elapsed_s'] / workers:.0f} %"
              f" of the run", flush=True)
        n = max(1, top["acked"])
        res["max"].update(cpu_us_per_upload={"gateway": (c1[0] - c0[0]) / n * 1e6, "clients": top["cpu_s"] / n * 1e6,
                                             "postgresql": (c1[1] - c0[1]) / n * 1e6})
        cpu = res["max"]["cpu_us_per_upload"]
        print(f"  [{name}] CPU per acked upload: gateway {cpu['gateway']:.0f} µs, load generator {cpu['clients']:.0f} µs"
              + (f", PostgreSQL (all its processes) {cpu['postgresql']:.0f} µs" if name == "postgresql" else "")
              + f"; at this cost {os.cpu_count()} CPUs allow at most {os.cpu_count() * 1e6 / sum(cpu.values()):.0f}"
              " uploads/s", flush=True)
    finally:
        _stop(proc)
    fold = _fold_outbox(env)
    res["outbox"] = fold
    print(f"  [{name}] background, not on the ack path: folding the outbox of {fold['writes']} writes "
          f"({fold['uploads']} uploads) into dirty periods and latest values took {fold['seconds']:.2f} s = "
          f"{fold['us_per_upload']:.0f} µs per upload (wall, this process and the database together)", flush=True)
    if name == "postgresql":
        rows = int(max(res["max"]["values_stored"], 100000))
        pre = copy_limit(url, rows)
        binary = copy_limit(url, rows, how="binary")
        peer = copy_limit(url, rows, how="write_row")
        store = copy_limit(url, rows, how="binary", into="store")
        rate = max(pre, binary, peer)  # the best case: the fastest way to COPY into an empty table
        e2e = res["max"]["values_per_s"]
        res.update(copy_rows_per_s=rate, copy_preformatted_per_s=pre, copy_binary_per_s=binary,
                   copy_write_row_per_s=peer, copy_store_per_s=store, ratio_copy=e2e / rate,
                   ratio_copy_store=e2e / store)
        print(f"  [{name}] raw COPY of {rows} rows into an empty table shaped like the store: {pre:.0f} rows/s as "
              f"text formatted in advance, {binary:.0f} rows/s binary formatted in advance, {peer:.0f} rows/s with "
              f"psycopg write_row; end to end / COPY (the fastest) = {e2e / rate:.2f}", flush=True)
        print(f"  [{name}] raw binary COPY of the same rows into the store itself (as the runs left it, rolled "
              f"back): {store:.0f} rows/s; end to end / COPY into the store = {e2e / store:.2f}", flush=True)
    if a.idle and name == a.idle_db:
        proc, port, _ = _start_gateway(env, a.workers, a.max_wait_ms)
        try:
            rss0 = _rss_tree_mb(proc.pid)
            holder = subprocess.Popen([PY, __file__, "_clients", "--port", str(port), "--idle", str(a.idle)],
                                      env=env, stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
            line = holder.stdout.readline()
            time.sleep(1.0)
            rss = _rss_tree_mb(proc.pid)
            holder.stdin.write("\n")
            holder.stdin.flush()
            holder.wait(60)
            res["idle"] = {"connections": json.loads(line)["open"], "rss_mb": rss, "rss_empty_mb": rss0}
            print(f"  [{name}] {res['idle']['connections']} idle connections: gateway RSS {rss:.0f} MB "
                  f"(empty {rss0:.0f} MB)", flush=True)
        finally:
            _stop(proc)
    return res


def main() -> int:
    if len(sys.argv) > 1 and sys.argv[1] == "_clients":
        return clients_main(sys.argv[2:])
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--db", default="sqlite,postgresql")
    p.add_argument("--pg-url", default="postgresql://postgres@127.0.0.1:5432/gongzhi_bench")
    p.add_argument("--devices", type=int, default=1000)
    p.add_argument("--connections", type=int, default=1000)
    p.add_argument("--factors", type=int, default=20)
    p.add_argument("--rate", default="1000,2000", help="offered rates, uploads/s (comma-separated; below saturation)")
    p.add_argument("--workers", type=int, default=None, help="gateway worker processes (default: the gateway's)")
    p.add_argument("--duration", type=float, default=10)
    p.add_argument("--max-wait-ms", type=float, default=None,
                   help="passed to the gateway: a batch fill timer (default: the gateway's, none)")
    p.add_argument("--no-burst", dest="burst", action="store_false",
                   help="skip the top-of-the-hour run (all connections sending in the same instant)")
    p.add_argument("--idle", type=int, default=5000)
    p.add_argument("--idle-db", default="sqlite", help="database used for the idle-connection RSS run")
    a = p.parse_args()
    _raise_nofile()
    print(f"bench_gateway: {os.cpu_count()} CPUs, Python {sys.version.split()[0]}, {a.connections} connections, "
          f"{a.factors} values per packet, {a.duration:.0f} s per run", flush=True)
    results = {}
    for name in a.db.split(","):
        name = name.strip()
        if name == "postgresql":
            from gongzhi.devtools.pgcheck import reachable

            ok, why = reachable(a.pg_url)
            if not ok:
                print(f"  [postgresql] not reachable ({why}); skipped", flush=True)
                continue
            url = a.pg_url
        else:
            url = f"sqlite:///{tempfile.mkdtemp(prefix='gongzhi-bench-db-')}/bench.sqlite3"
        results[name] = bench_db(name, url, a)
    print("targets: PostgreSQL >= 50,000 values/s end to end (>= 0.5 of raw COPY); ack p99 <= 200 ms at 2,000 "
          "packets/s (1,000 uploads/s of 2 sub-packets); 5,000 idle connections < 1 GB RSS", flush=True)
    print(json.dumps(results, indent=1, default=float))
    return 0


if __name__ == "__main__":
    sys.path.insert(0, str(ROOT / "src"))
    sys.exit(main())
