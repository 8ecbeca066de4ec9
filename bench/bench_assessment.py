"""Benchmark: assessments on the demo data (a year of hourly data for 46 sites).

Run:  .venv/bin/python bench/bench_assessment.py [--data-dir var/demo] [--runs 30]

Uses an existing demo data dir (``gongzhi demo --no-serve`` makes one; the database is the
demo's SQLite file, or PostgreSQL when ``GONGZHI_DATABASE_URL`` is set, as for the demo).
The cache table is emptied before each *cold* run and left filled for the *cached* runs.
Measured, as the region-wide superuser (every site counts):

1. the water assessment of the latest complete month (sections, bureaus, rivers, change on
   the previous month and the same month last year: three periods' inputs);
2. the air assessment of the year (daily AQI calendar of every station and district from day
   aggregates and hourly O3, HJ 663 statistics, composite index);
3. the whole pages through Django (session, policy, templates): ``/assessments/water/`` and
   ``/assessments/air/?period=year`` (cached);

against a **baseline** measured in the same run: the raw SQL fetch (``fetchall``) of the rows
the cold computation starts from — the month aggregates of the water sections for the three
periods, and the day aggregates plus the hourly O3 values of the air stations for the year.
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

from _common import pct, timed

ROOT = Path(__file__).resolve().parents[1]


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--data-dir", default=str(ROOT / "var" / "demo"))
    ap.add_argument("--runs", type=int, default=30)
    args = ap.parse_args(argv)
    sys.path.insert(0, str(ROOT / "src"))
    from gongzhi.cli import _django

    _django.setup(env="demo", data_dir=str(Path(args.data_dir).resolve()))
    _django.migrate(verbosity=0)
    from django.conf import settings
    from django.db import connection
    from django.test import Client
    from django.utils import timezone

    from gongzhi.accounts.models import User
    from gongzhi.assessment import services
    from gongzhi.assessment.periods import latest_complete, parse
    from gongzhi.observations.models import Aggregate, Observation, Series, SeriesKind
    from gongzhi.registry import models as reg

    settings.ALLOWED_HOSTS = ["*"]
    user = User.objects.filter(is_superuser=True).first()
    if user is None or not Aggregate.objects.exists():
        # a fresh machine (make bench): load the demo region and its year of history first
        print(f"no demo data in {args.data_dir}: running `gongzhi demo --no-serve` (a few minutes)", flush=True)
        import subprocess

        done = subprocess.run([sys.executable, "-m", "gongzhi.cli", "demo", "--data-dir", args.data_dir, "--no-serve"],
                              stdout=subprocess.DEVNULL)
        connection.close()
        user = User.objects.filter(is_superuser=True).first()
        if done.returncode != 0 or user is None or not Aggregate.objects.exists():
            print("the demo data could not be loaded: run `gongzhi demo --data-dir DIR --no-serve`", file=sys.stderr)
            return 2
    month = latest_complete("month", timezone.now())
    year = parse("year", str(timezone.now().year))
    sites = {k: list(reg.Site.objects.filter(kind=k, active=True).values_list("pk", flat=True))
             for k in (reg.SiteKind.WATER_SECTION, reg.SiteKind.AIR_STATION)}
    n_obs = Observation.objects.count()
    print(f"database: {connection.vendor}; {len(sites['water_section'])} water sections, "
          f"{len(sites['air_station'])} air stations, {n_obs:,} stored values; month {month}, year {year}")

    water_series = list(Series.objects.filter(site_id__in=sites["water_section"]).values_list("pk", flat=True))
    air_series = list(Series.objects.filter(site_id__in=sites["air_station"]).exclude(parameter__key="o3").values_list("pk", flat=True))
    o3_series = list(Series.objects.filter(site_id__in=sites["air_station"], parameter__key="o3", kind__in=[SeriesKind.HOUR]).values_list("pk", flat=True))
    agg_table, obs_table = Aggregate._meta.db_table, Observation._meta.db_table

    def fetch(sql, params):
        with connection.cursor() as cur:
            cur.execute(sql, params)
            return len(cur.fetchall())

    def ids(xs):
        return ", ".join(str(int(x)) for x in xs) or "NULL"

    def water_baseline():
        n = 0
        for p in (month, month.previous(), month.last_year()):
            n += fetch(f"SELECT series_id, start, value, valid FROM {agg_table} WHERE period = 'month' AND start >= %s AND start < %s "
                       f"AND series_id IN ({ids(water_series)})", [p.start, p.end])
        return n

    def air_baseline():
        n = fetch(f"SELECT series_id, start, value, valid FROM {agg_table} WHERE period = 'day' AND start >= %s AND start < %s "
                  f"AND series_id IN ({ids(air_series)})", [year.start, year.end])
        n += fetch(f"SELECT series_id, time, value, flag, qc FROM {obs_table} WHERE time >= %s AND time < %s "
                   f"AND series_id IN ({ids(o3_series)})", [year.start, year.end])
        return n

    def clear():
        services.clear_cache()

    def water():
        services.water_assessment(user, period=month)

    def air():
        services.air_assessment(user, period=year)

    client = Client()
    client.force_login(user)

    def page(url):
        def get():
            r = client.get(url)
            assert r.status_code == 200, r.status_code
        return get

    rows_w, rows_a = water_baseline(), air_baseline()
    results = [
        (f"baseline: raw SQL fetch of the water month aggregates ({rows_w:,} rows)", timed(water_baseline, args.runs)),
        ("water month assessment, cold (cache emptied)", timed(water, args.runs, before=clear)),
        ("water month assessment, cached", timed(water, args.runs)),
        (f"baseline: raw SQL fetch of the air year's day aggregates + hourly O3 ({rows_a:,} rows)", timed(air_baseline, max(5, args.runs // 3))),
        ("air year assessment (AQI calendars), cold", timed(air, max(5, args.runs // 3), before=clear)),
        ("air year assessment (AQI calendars), cached", timed(air, args.runs)),
        ("page /assessments/water/ (cached)", timed(page(f"/assessments/water/?period=month&at={month.at}"), args.runs)),
        ("page /assessments/air/?period=year (cached)", timed(page(f"/assessments/air/?period=year&at={year.at}"), args.runs)),
        ("page /assessments/rankings/ (cached)", timed(page(f"/assessments/rankings/?period=month&at={month.at}"), args.runs)),
    ]
    width = max(len(name) for name, _ in results)
    print(f"{'':{width}}   p50 ms   p99 ms   runs")
    for name, samples in results:
        print(f"{name:{width}}  {pct(samples, 50):7.1f}  {pct(samples, 99):7.1f}   {len(samples)}")
    return 0


if __name__ == "__main__":
    os.environ.setdefault("PYTHONHASHSEED", "0")
    raise SystemExit(main())
