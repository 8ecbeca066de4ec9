"""Benchmark: the observation store on PostgreSQL and SQLite.

Run:  .venv/bin/python bench/bench_store.py [--sites 1000] [--minutes 30] [--batch 10000] [--runs 50]
                                            [--only sqlite|postgresql] [--pg-url URL]

Creates its own databases (SQLite in a temporary directory; PostgreSQL database
``gongzhi_bench_store``, dropped and re-created) and, for each, measures:

1. bulk write throughput (values/s) of ``write_observations`` — the full path: COPY (PG) or
   multi-row upsert (SQLite), duplicate detection, dirty-hour marking and latest values —
   for SITES × 9 parameters × MINUTES minute values in batches of BATCH rows, one
   transaction per batch; the **baseline** puts the same rows into a scratch table with the
   same primary key: ``COPY`` with psycopg's ``write_row`` on PostgreSQL, a plain
   ``executemany`` INSERT on SQLite (ratio baseline/ours printed); on PostgreSQL also the
   **limit**: ``COPY`` of data formatted before the clock starts, as text and as binary (the
   format the write path uses), the faster taken: what the server does with the rows alone
   (ratio ours/limit printed);
2. aggregate recompute throughput (raw values read per second by ``recompute_dirty``,
   hours + days + months of every series written in 1.);
3. ``latest_values`` for all SITES sites (9 parameters each): p50/p99 ms over RUNS calls;
4. a year of hourly data of one site (8,760 × 9 parameters) as columnar arrays
   (``series_data(resolution="hour")`` for the 9 parameters): p50/p99 ms.

Each database runs in its own child process (Django is configured once per process).
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from _common import copy_binary, copy_bytes, copy_text, pct, recreate_pg

ROOT = Path(__file__).resolve().parents[1]
PG_URL = "postgresql://postgres@127.0.0.1:5432/gongzhi_bench_store"
CST = dt.timezone(dt.timedelta(hours=8))
PARAMS = ("pm2_5", "pm10", "so2", "no2", "co", "o3", "nh3_n", "tp", "codmn")


def child(args) -> dict:
    """Run every measurement on the database of ``GONGZHI_DATABASE_URL``."""
    sys.path.insert(0, str(ROOT / "src"))
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "gongzhi.settings")
    import django

    django.setup()
    from django.core.management import call_command
    from django.db import connection, transaction

    call_command("migrate", interactive=False, verbosity=0)
    from gongzhi.accounts.models import Role, User
    from gongzhi.observations import aggregates, queries
    from gongzhi.observations import services as obs
    from gongzhi.observations.models import Observation, SeriesKind, Source
    from gongzhi.registry import models as reg
    from gongzhi.registry import services as reg_services

    out: dict = {"vendor": connection.vendor}
    reg_services.seed_parameter_catalog()
    bureau = reg.Bureau.objects.create(code="bench", name="基准测试局", short_name="基准")
    user = User.objects.create_user("bench", password="x-123456", bureau=bureau, role=Role.MONITORING_STAFF)
    sites = reg.Site.objects.bulk_create(
        [reg.Site(code=f"B{i:04d}", name=f"站{i}", kind="air_station", owner=bureau, lon=121, lat=31) for i in range(args.sites)]
    )
    params = [reg.Parameter.objects.get(key=k) for k in PARAMS]
    series = [obs.series_resolver.get(site=s, parameter=p, kind=SeriesKind.MINUTE) for s in sites for p in params]

    # 1. bulk write
    start = dt.datetime(2026, 5, 1, 8, tzinfo=CST)
    times = [start + dt.timedelta(minutes=m) for m in range(args.minutes)]
    rows = [obs.ObservationRow(sid, t, 10.0 + (sid % 7) + m * 0.1, "N") for m, t in enumerate(times) for sid in series]
    n = len(rows)
    t0 = time.perf_counter()
    for i in range(0, n, args.batch):
        with transaction.atomic():
            obs.write_observations(rows[i : i + args.batch], source=Source.DEVICE)
    ours = time.perf_counter() - t0
    assert Observation.objects.count() == n
    out["write_values"] = n
    out["write_per_s"] = n / ours
    out["baseline_per_s"] = n / baseline_write(connection, transaction, rows, args.batch)
    out["ratio"] = out["baseline_per_s"] / out["write_per_s"]
    if connection.vendor == "postgresql":
        text = n / baseline_write(connection, transaction, rows, args.batch, preformatted="text")
        binary = n / baseline_write(connection, transaction, rows, args.batch, preformatted="binary")
        out["limit_text_per_s"], out["limit_binary_per_s"] = text, binary
        out["limit_per_s"] = max(text, binary)

    # 2. recompute
    t0 = time.perf_counter()
    values = keys = 0
    while True:
        r = aggregates.recompute_dirty(limit=20000)
        values += r.values
        keys += r.keys
        if not r.keys:
            break
    took = time.perf_counter() - t0
    out["recompute_values"] = values
    out["recompute_keys"] = keys
    out["recompute_per_s"] = values / took

    # 3. latest values for every site
    connection.close()  # a fresh connection, as a request would have
    samples = []
    for _ in range(args.runs):
        t0 = time.perf_counter()
        res = queries.latest_values(user, sites)
        samples.append((time.perf_counter() - t0) * 1000)
    assert len(res) == args.sites and all(len(v) == len(PARAMS) for v in res.values())
    out["latest_p50"], out["latest_p99"] = pct(samples, 50), pct(samples, 99)

    # 4. a year of hourly data of one site
    year_site = reg.Site.objects.create(code="YEAR", name="全年", kind="air_station", owner=bureau, lon=121, lat=31)
    y0 = dt.datetime(2025, 1, 1, tzinfo=CST)
    hours = [y0 + dt.timedelta(hours=h) for h in range(8760)]
    year_rows = []
    for p in params:
        sid = obs.series_resolver.get(site=year_site, parameter=p, kind=SeriesKind.HOUR)
        year_rows += [obs.ObservationRow(sid, t, float(h % 97), "N") for h, t in enumerate(hours)]
    with transaction.atomic():
        obs.write_observations(year_rows, source=Source.DEVICE)
    samples = []
    for _ in range(max(5, args.runs // 5)):
        t0 = time.perf_counter()
        arrays = [
            queries.series_data(user, site=year_site, parameter=p, start=y0, end=y0 + dt.timedelta(days=365), resolution="hour")
            for p in params
        ]
        samples.append((time.perf_counter() - t0) * 1000)
    assert all(len(a["times"]) == 8760 for a in arrays)
    out["year_p50"], out["year_p99"] = pct(samples, 50), pct(samples, 99)
    return out


def baseline_write(connection, transaction, rows, batch: int, *, preformatted: str = "") -> float:
    """Seconds to put the same rows into a scratch table with the same primary key: COPY with
    psycopg's ``write_row`` (formatting in Python) or, ``preformatted`` (``text`` or
    ``binary``), COPY data made before the clock starts (what the server does with the rows:
    the physical limit) on PostgreSQL; a plain ``executemany`` INSERT on SQLite."""
    from gongzhi.observations.models import Observation

    table = Observation._meta.db_table
    cols = "series_id, time, value, vmin, vmax, total, flag, qc, source, received, packet_id"
    received = dt.datetime.now(dt.timezone.utc)
    with connection.cursor() as cur:
        if connection.vendor == "postgresql":
            cur.execute("DROP TABLE IF EXISTS bench_scratch")
            cur.execute(f"CREATE TABLE bench_scratch (LIKE {table} INCLUDING ALL)")
        else:
            cur.execute("DROP TABLE IF EXISTS bench_scratch")
            cur.execute(
                "CREATE TABLE bench_scratch (series_id integer NOT NULL, time datetime NOT NULL, value real, vmin real, "
                "vmax real, total real, flag varchar(2) NOT NULL, qc integer NOT NULL, source smallint NOT NULL, "
                "received datetime NOT NULL, packet_id bigint, PRIMARY KEY (series_id, time))"
            )
    tuples = lambda part: [(r.series_id, r.time, r.value, r.vmin, r.vmax, r.total, r.flag, r.qc, 1, received,  # noqa: E731
                            r.packet_id) for r in part]
    parts = [rows[i : i + batch] for i in range(0, len(rows), batch)]
    lines = [copy_text(tuples(part)) for part in parts] if preformatted == "text" else None
    blobs = [copy_binary(tuples(part)) for part in parts] if preformatted == "binary" else None
    statement = f"COPY bench_scratch ({cols}) FROM STDIN" + (" (FORMAT BINARY)" if blobs else "")
    t0 = time.perf_counter()
    for k, part in enumerate(parts):
        with transaction.atomic(), connection.cursor() as cur:
            if connection.vendor == "postgresql":
                if lines is not None:
                    copy_bytes(cur.cursor, statement, lines[k])
                elif blobs is not None:
                    with cur.cursor.copy(statement) as copy:
                        copy.write(blobs[k])
                else:
                    with cur.cursor.copy(statement) as copy:
                        for r in part:
                            copy.write_row((r.series_id, r.time, r.value, r.vmin, r.vmax, r.total, r.flag, r.qc, 1,
                                            received, r.packet_id))
            else:
                adapt = connection.ops.adapt_datetimefield_value
                rec = adapt(received)
                cur.executemany(
                    f"INSERT INTO bench_scratch ({cols}) VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s)",
                    [(r.series_id, adapt(r.time), r.value, r.vmin, r.vmax, r.total, r.flag, r.qc, 1, rec, r.packet_id) for r in part],
                )
    took = time.perf_counter() - t0
    with connection.cursor() as cur:
        cur.execute("DROP TABLE bench_scratch")
    return took


def run_child(url: str, args, data_dir: str) -> dict:
    env = dict(os.environ, GONGZHI_DATABASE_URL=url, GONGZHI_ENV="development", GONGZHI_DATA_DIR=data_dir)
    cmd = [sys.executable, __file__, "--child", "--sites", str(args.sites), "--minutes", str(args.minutes),
           "--batch", str(args.batch), "--runs", str(args.runs)]
    proc = subprocess.run(cmd, env=env, capture_output=True, text=True)
    if proc.returncode != 0:
        raise SystemExit(f"benchmark child failed on {url}:\n{proc.stderr[-3000:]}")
    return json.loads(proc.stdout.strip().splitlines()[-1])


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--sites", type=int, default=1000)
    ap.add_argument("--minutes", type=int, default=30, help="minute values per series written in step 1")
    ap.add_argument("--batch", type=int, default=10000, help="rows per write_observations call")
    ap.add_argument("--runs", type=int, default=50)
    ap.add_argument("--only", choices=("sqlite", "postgresql"))
    ap.add_argument("--pg-url", default=PG_URL)
    ap.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    args = ap.parse_args(argv)
    if args.child:
        print(json.dumps(child(args)))
        return 0
    results = []
    with tempfile.TemporaryDirectory(prefix="gz-bench-store-") as tmp:
        if args.only in (None, "sqlite"):
            results.append(run_child(f"sqlite:///{tmp}/bench.sqlite3", args, tmp))
        if args.only in (None, "postgresql"):
            recreate_pg(args.pg_url)
            results.append(run_child(args.pg_url, args, tmp))
    print(f"observation store benchmark: {args.sites} sites × {len(PARAMS)} parameters × {args.minutes} minute values, "
          f"batches of {args.batch}")
    for r in results:
        base = "COPY into a scratch table, psycopg write_row" if r["vendor"] == "postgresql" else "plain executemany INSERT"
        print(f"\n[{r['vendor']}]")
        print(f"  write_observations   {r['write_per_s']:>12,.0f} values/s ({r['write_values']:,} values)")
        print(f"  baseline             {r['baseline_per_s']:>12,.0f} values/s ({base}); baseline/ours = {r['ratio']:.2f}")
        if "limit_per_s" in r:
            print(f"  limit                {r['limit_per_s']:>12,.0f} values/s (the faster COPY of data formatted before "
                  f"the clock starts, the server's share alone: text {r['limit_text_per_s']:,.0f}, binary "
                  f"{r['limit_binary_per_s']:,.0f}); ours/limit = {r['write_per_s'] / r['limit_per_s']:.2f}")
        print(f"  recompute_dirty      {r['recompute_per_s']:>12,.0f} values/s ({r['recompute_values']:,} values, {r['recompute_keys']:,} dirty hours)")
        print(f"  latest_values({args.sites} sites)   p50 {r['latest_p50']:.1f} ms   p99 {r['latest_p99']:.1f} ms")
        print(f"  one site, a year hourly × 9 (8,760 × 9)   p50 {r['year_p50']:.1f} ms   p99 {r['year_p99']:.1f} ms")
    return 0


if __name__ == "__main__":
    sys.exit(main())
