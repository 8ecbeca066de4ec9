"""Benchmark: the data behind the one map and the site page, on PostgreSQL.

Run:  .venv/bin/python bench/bench_web.py [--sites 1000] [--runs 60] [--pg-url URL]

Creates its own database (``gongzhi_bench_web``, dropped and re-created), a region of SITES
sites (half water sections, half air stations, each with the latest hours of its parameters:
60 of the user's bureau, the others of a partner sharing all of them, raw), one site with a
generated year of hourly data (8,760 hours × 9 parameters), and measures whole requests
through Django (session, middleware, policy, JSON) with the test client:

1. the map's data: ``/web-api/map/sites.json?bureau=…`` for the 61 sites of the user's bureau
   (the demo region's scale: 46 sites) and ``/web-api/map/layers.json`` (cached layers):
   p50/p99 ms; target < 300 ms; the map of all SITES sites is printed too (no target);
2. a year of hourly data of one site as chart JSON:
   ``/web-api/sites/YEAR/series.json?resolution=hour&…`` with the nine parameters:
   p50/p99 ms; target p99 < 150 ms;
3. the latest values of all sites: ``GET /api/v1/latest`` (no site list: every site the user
   may read, SITES + 1 sites): p50/p99 ms; target p99 < 100 ms;

against a **baseline** measured in the same run: the raw SQL fetch of the same rows
(``SELECT series_id, epoch ms, value, flag FROM observation WHERE series_id = ANY(…) AND time
in range``, psycopg ``fetchall``; for the latest values the join of latest values, series,
sites and parameters) — the floor any endpoint on this store has to pay — and, to show where
the time goes, ``observations.queries.series_data_many`` (nine parameters) and
``observations.queries.latest_values_json`` alone (the policy-aware reads the endpoints are built
on), with the previous latest-values path (``latest_values`` + encoding: Python objects per value)
beside it.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path

from _common import pct, timed, recreate_pg

ROOT = Path(__file__).resolve().parents[1]
PG_URL = "postgresql://postgres@127.0.0.1:5432/gongzhi_bench_web"
CST = dt.timezone(dt.timedelta(hours=8))
MAP_SITES = 60
WATER = ("ph", "do", "codmn", "nh3_n", "tp", "tn", "water_temp", "conductivity", "turbidity")
AIR = ("pm2_5", "pm10", "o3", "no2", "so2", "co")


def child(args) -> dict:
    sys.path.insert(0, str(ROOT / "src"))
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "gongzhi.settings")
    import django

    django.setup()
    import math

    from django.conf import settings
    from django.core.management import call_command
    from django.db import connection, transaction
    from django.test import Client
    from django.utils import timezone

    settings.ALLOWED_HOSTS = ["*"]
    call_command("migrate", interactive=False, verbosity=0)
    from gongzhi.accounts.models import Role, User
    from gongzhi.observations import services as obs
    from gongzhi.observations.models import Observation, SeriesKind, Source
    from gongzhi.registry import models as reg
    from gongzhi.registry import services as reg_services

    reg_services.seed_parameter_catalog()
    square = lambda x, y: {"type": "Polygon", "coordinates": [[[x + 0.2 * i / 200, y] for i in range(200)] + [[x + 0.2, y + 0.2], [x, y + 0.2], [x, y]]]}  # noqa: E731
    j = reg.Jurisdiction.objects.create(adcode="310118", name="青浦区", level="county", boundary=square(121.0, 31.0))
    bureau = reg.Bureau.objects.create(code="bench", name="基准测试局", short_name="基准", jurisdiction=j)
    river = reg.Waterbody.objects.create(code="r", name="河", kind="river")
    user = User.objects.create_user("bench", password="x-123456-bench", bureau=bureau, role=Role.VIEWER)
    params = {p.key: p for p in reg.Parameter.objects.filter(key__in=WATER + AIR)}
    now_hour = timezone.now().astimezone(CST).replace(minute=0, second=0, microsecond=0)
    from gongzhi.observations.models import Series
    from gongzhi.sharing.models import SharingAgreement

    # The first MAP_SITES sites are the user's bureau's (the map is measured on them, the scale of
    # the demo region); the others belong to a partner that shares all its sites, raw, so the
    # user reads the latest values of every site (own and shared: both paths of the policy).
    partner = reg.Bureau.objects.create(code="bench-partner", name="协作测试局", short_name="协作", jurisdiction=j)
    SharingAgreement.objects.create(provider=partner, recipient=bureau, title="全部站点", purpose="基准测试", level="raw",
                                    valid_from=dt.date(2000, 1, 1), all_sites=True, all_parameters=True)
    sites = reg.Site.objects.bulk_create([
        reg.Site(
            code=f"S{i:04d}", name=f"站{i}", kind="water_section" if i % 2 == 0 else "air_station",
            owner=bureau if i < MAP_SITES else partner,
            lon=121 + (i % 40) * 0.01, lat=31 + (i // 40) * 0.01, waterbody=river if i % 2 == 0 else None,
            target_class=3 if i % 2 == 0 else None, assessment_level="provincial",
        )
        for i in range(args.sites)
    ])
    sites = list(reg.Site.objects.all().order_by("code"))  # with their ids on every backend
    Series.objects.bulk_create([
        Series(site=site, parameter=params[k], kind=SeriesKind.HOUR, unit=params[k].unit, owner_id=site.owner_id)
        for site in sites for k in (WATER if site.kind == "water_section" else AIR)
    ])
    series = Series.objects.values_list("pk", "site_id")
    index = {s.pk: i for i, s in enumerate(sites)}
    rows = [obs.ObservationRow(sid, now_hour - dt.timedelta(hours=h), 1.0 + (index[site_id] + h) % 5 * 0.3, "N")
            for sid, site_id in series for h in range(6)]
    for i in range(0, len(rows), 20000):
        with transaction.atomic():
            obs.write_observations(rows[i : i + 20000], source=Source.DEVICE)

    year_site = reg.Site.objects.create(code="YEAR", name="全年", kind="water_section", owner=bureau, lon=121.1, lat=31.1,
                                        waterbody=river, target_class=3)
    end = now_hour + dt.timedelta(hours=1)
    start = end - dt.timedelta(hours=8760)
    hours = [start + dt.timedelta(hours=h) for h in range(8760)]
    year_ids, year_rows = [], []
    for n, k in enumerate(WATER):
        sid = obs.series_resolver.get(site=year_site, parameter=params[k], kind=SeriesKind.HOUR)
        year_ids.append(sid)
        year_rows += [obs.ObservationRow(sid, t, round(2 + math.sin(h / 24 + n), 3), "N") for h, t in enumerate(hours)]
    for i in range(0, len(year_rows), 20000):
        with transaction.atomic():
            obs.write_observations(year_rows[i : i + 20000], source=Source.DEVICE)
    obs.apply_pending_changes(limit=100000)
    with connection.cursor() as cur:
        cur.execute("ANALYZE")

    client = Client()
    client.force_login(user)
    out: dict = {"vendor": connection.vendor, "sites": args.sites + 1}

    def get(url):
        r = client.get(url)
        assert r.status_code == 200, (url, r.status_code, r.content[:300])
        return r

    own = "/web-api/map/sites.json?bureau=bench"
    sites = json.loads(get(own).content)["sites"]
    assert len(sites) == MAP_SITES + 1 and sum(1 for s in sites if s["status"]) >= MAP_SITES
    out["map_n"] = len(sites)
    samples = timed(lambda: get(own), args.runs)
    out["map_sites_p50"], out["map_sites_p99"] = pct(samples, 50), pct(samples, 99)
    sites = json.loads(get("/web-api/map/sites.json").content)["sites"]
    assert len(sites) == args.sites + 1
    samples = timed(lambda: get("/web-api/map/sites.json"), max(5, args.runs // 4))
    out["map_all_p50"], out["map_all_p99"] = pct(samples, 50), pct(samples, 99)
    samples = timed(lambda: get("/web-api/map/layers.json"), args.runs)
    out["map_layers_p50"], out["map_layers_p99"] = pct(samples, 50), pct(samples, 99)

    local = lambda t: t.astimezone(CST).date().isoformat()  # noqa: E731
    url = (f"/web-api/sites/YEAR/series.json?resolution=hour&start={local(start + dt.timedelta(hours=1))}"
           f"&end={local(end - dt.timedelta(hours=1))}&parameters={','.join(WATER)}")
    body = json.loads(get(url).content)
    points = sum(len(p["values"]) for p in body["parameters"])
    assert len(body["parameters"]) == 9 and points >= 9 * 8700, points
    out["chart_points"] = points
    out["chart_bytes"] = len(get(url).content)
    samples = timed(lambda: get(url), args.runs)
    out["chart_p50"], out["chart_p99"] = pct(samples, 50), pct(samples, 99)

    table = Observation._meta.db_table

    def baseline():
        with connection.cursor() as cur:
            cur.execute(
                f"SELECT series_id, (extract(epoch FROM time) * 1000)::bigint, value, flag FROM {table} "
                "WHERE series_id = ANY(%s) AND time >= %s AND time < %s ORDER BY series_id, time",
                [year_ids, start, end],
            )
            assert len(cur.fetchall()) == 9 * 8760

    samples = timed(baseline, args.runs)
    out["baseline_p50"], out["baseline_p99"] = pct(samples, 50), pct(samples, 99)

    # where the chart's time goes: series_data for the nine parameters alone (no view, no JSON)
    from gongzhi.observations import queries

    plist = [params[k] for k in WATER]
    samples = timed(lambda: queries.series_data_many(user, parameters=plist, start=start, end=end, resolution="hour", site=year_site), args.runs)
    out["series_data_p50"], out["series_data_p99"] = pct(samples, 50), pct(samples, 99)

    # 3. latest values of all sites (the API's /latest without a site list, and the read under it)
    from gongzhi.api import services as api_services
    from gongzhi.observations.models import LatestValue, Series as SeriesModel

    token = api_services.create_token(user=user).secret
    body = json.loads(client.get("/api/v1/latest", headers={"Authorization": f"Bearer {token}"}).content)
    n_values = sum(len(i["values"]) for i in body["items"])
    assert len(body["items"]) == args.sites + 1, len(body["items"])
    out["latest_sites"], out["latest_values"] = len(body["items"]), n_values
    samples = timed(lambda: client.get("/api/v1/latest", headers={"Authorization": f"Bearer {token}"}), args.runs)
    out["latest_api_p50"], out["latest_api_p99"] = pct(samples, 50), pct(samples, 99)
    all_sites = list(reg.Site.objects.all())
    samples = timed(lambda: queries.latest_values_json(user, all_sites), args.runs)
    out["latest_json_p50"], out["latest_json_p99"] = pct(samples, 50), pct(samples, 99)
    # the previous path, for comparison: Python objects per value, encoded by pydantic-core
    import pydantic_core

    def python_path():
        found = queries.latest_values(user, all_sites)
        return pydantic_core.to_json({sid: [queries.latest_entry_json(e) for e in v] for sid, v in found.items()})

    samples = timed(python_path, args.runs)
    out["latest_query_p50"], out["latest_query_p99"] = pct(samples, 50), pct(samples, 99)
    lt, st, si, pt = LatestValue._meta.db_table, SeriesModel._meta.db_table, reg.Site._meta.db_table, reg.Parameter._meta.db_table

    def latest_baseline():
        with connection.cursor() as cur:
            cur.execute(
                f"SELECT si.code, p.key, l.time, l.value, l.flag, l.qc FROM {lt} l JOIN {st} s ON s.id = l.series_id "
                f"JOIN {si} si ON si.id = s.site_id JOIN {pt} p ON p.id = s.parameter_id"
            )
            assert len(cur.fetchall()) == n_values

    samples = timed(latest_baseline, args.runs)
    out["latest_baseline_p50"], out["latest_baseline_p99"] = pct(samples, 50), pct(samples, 99)
    return out


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--sites", type=int, default=1000, help="sites with latest values (the map and /latest)")
    ap.add_argument("--runs", type=int, default=60)
    ap.add_argument("--pg-url", default=PG_URL)
    ap.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    args = ap.parse_args(argv)
    if args.child:
        print(json.dumps(child(args)))
        return 0
    recreate_pg(args.pg_url)
    with tempfile.TemporaryDirectory(prefix="gz-bench-web-") as tmp:
        env = dict(os.environ, GONGZHI_DATABASE_URL=args.pg_url, GONGZHI_ENV="development", GONGZHI_DATA_DIR=tmp)
        cmd = [sys.executable, __file__, "--child", "--sites", str(args.sites), "--runs", str(args.runs)]
        proc = subprocess.run(cmd, env=env, capture_output=True, text=True)
        if proc.returncode != 0:
            raise SystemExit(f"benchmark child failed:\n{proc.stderr[-4000:]}")
        r = json.loads(proc.stdout.strip().splitlines()[-1])
    print(f"web page data benchmark [{r['vendor']}], {args.runs} requests each, whole Django requests (test client)")
    ok = lambda v, target: "ok" if v < target else "OVER TARGET"  # noqa: E731
    print(f"  map sites.json ({r['map_n']} sites, latest class/AQI)  p50 {r['map_sites_p50']:.1f} ms   p99 {r['map_sites_p99']:.1f} ms   (target < 300 ms: {ok(r['map_sites_p99'], 300)})")
    print(f"  map sites.json, all {r['sites']:,} sites (no target)  p50 {r['map_all_p50']:.1f} ms   p99 {r['map_all_p99']:.1f} ms")
    print(f"  map layers.json (cached)                  p50 {r['map_layers_p50']:.1f} ms   p99 {r['map_layers_p99']:.1f} ms")
    print(f"  chart JSON, a year hourly × 9 ({r['chart_points']:,} points, {r['chart_bytes'] / 1e6:.1f} MB)  "
          f"p50 {r['chart_p50']:.1f} ms   p99 {r['chart_p99']:.1f} ms   (target p99 < 150 ms: {ok(r['chart_p99'], 150)})")
    print(f"  baseline: raw SQL fetch of the same rows  p50 {r['baseline_p50']:.1f} ms   p99 {r['baseline_p99']:.1f} ms   "
          f"(chart/baseline p50 = {r['chart_p50'] / r['baseline_p50']:.1f}×)")
    print(f"  of which series_data_many (9) alone       p50 {r['series_data_p50']:.1f} ms   p99 {r['series_data_p99']:.1f} ms")
    print(f"  latest values of all sites, GET /api/v1/latest ({r['latest_sites']:,} sites, {r['latest_values']:,} values)  "
          f"p50 {r['latest_api_p50']:.1f} ms   p99 {r['latest_api_p99']:.1f} ms   (target p99 < 100 ms: {ok(r['latest_api_p99'], 100)})")
    print(f"  of which queries.latest_values_json alone p50 {r['latest_json_p50']:.1f} ms   p99 {r['latest_json_p99']:.1f} ms   (JSON built by the database)")
    print(f"  previous path: latest_values + encoding   p50 {r['latest_query_p50']:.1f} ms   p99 {r['latest_query_p99']:.1f} ms   (Python objects per value)")
    print(f"  baseline: raw SQL fetch of the same rows  p50 {r['latest_baseline_p50']:.1f} ms   p99 {r['latest_baseline_p99']:.1f} ms   "
          f"(api/baseline p50 = {r['latest_api_p50'] / r['latest_baseline_p50']:.1f}×)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
