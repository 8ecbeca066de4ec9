"""Benchmark: the ingestion status page (/status/) on a large raw archive, on PostgreSQL.

Run:  .venv/bin/python bench/bench_status.py [--packets 2000000] [--devices 72] [--runs 30] [--pg-url URL]

Creates its own database (``gongzhi_bench_status``, dropped and re-created), DEVICES data
loggers of one bureau plus as many of another, and a raw archive of PACKETS packets spread over
the last 30 days (generated in the database with ``generate_series``: ~2 % rejected or
quarantined with a few reasons, the rest accepted). Measures, for a user of the first bureau:

* ``web.ingest_status.status_context`` (everything the page shows) and the whole page
  (``GET /status/`` through Django with the test client): p50/p99 ms;

against a **baseline** measured in the same run: the plain aggregates a first version would
write over the whole archive — ``SELECT mn, max(received) … GROUP BY mn`` and ``SELECT verdict,
reason, count(*) … WHERE received > now − 24 h GROUP BY …`` without the device scope, i.e. the
same figures by scanning rather than by index probes.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path

from _common import pct, timed, recreate_pg

ROOT = Path(__file__).resolve().parents[1]
PG_URL = "postgresql://postgres@127.0.0.1:5432/gongzhi_bench_status"


def child(args) -> dict:
    sys.path.insert(0, str(ROOT / "src"))
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "gongzhi.settings")
    import django

    django.setup()
    from django.conf import settings
    from django.core.management import call_command
    from django.db import connection
    from django.test import Client

    settings.ALLOWED_HOSTS = ["*"]
    call_command("migrate", interactive=False, verbosity=0)
    from gongzhi.accounts.models import Role, User
    from gongzhi.ingest.models import RawPacket
    from gongzhi.registry import models as reg
    from gongzhi.web import ingest_status

    j = reg.Jurisdiction.objects.create(adcode="310118", name="青浦区", level="county")
    mine = reg.Bureau.objects.create(code="mine", name="本局", short_name="本局", jurisdiction=j)
    other = reg.Bureau.objects.create(code="other", name="他局", short_name="他局", jurisdiction=j)
    user = User.objects.create_user("bench", password="x-123456-bench", bureau=mine, role=Role.MONITORING_STAFF)
    mns = []
    for b in (mine, other):
        for i in range(args.devices):
            site = reg.Site.objects.create(code=f"{b.code}-{i}", name=f"站{i}", kind="air_station", owner=b, lon=121, lat=31)
            mn = f"{b.code.upper()}{i:06d}"
            reg.Device.objects.create(mn=mn, password="123456", system_code="22", site=site, interval_s=60)
            mns.append(mn)
    table = RawPacket._meta.db_table
    with connection.cursor() as cur:
        # one packet per (device, step) going back 30 days; every 50th in error, some from unknown MNs
        cur.execute(
            f"""INSERT INTO {table} (received, peer, mn, qn, cn, pno, raw, verdict, reason, detail, values_stored, values_duplicate)
            SELECT now() - (g * interval '30 days' / %s), '10.0.0.1:5000',
                   CASE WHEN g %% 97 = 0 THEN 'UNKNOWN' || (g %% 7) ELSE (%s::text[])[1 + g %% %s] END,
                   '', '2011', 0, '\\x2323'::bytea,
                   CASE WHEN g %% 50 = 0 THEN 'rejected' WHEN g %% 97 = 0 THEN 'quarantined' ELSE 'accepted' END,
                   CASE WHEN g %% 50 = 0 THEN (ARRAY['bad_crc','no_datatime','truncated'])[1 + g %% 3]
                        WHEN g %% 97 = 0 THEN 'unknown_mn' ELSE '' END,
                   '', 8, 0
            FROM generate_series(1, %s) g""",
            [args.packets, mns, len(mns), args.packets],
        )
        cur.execute("ANALYZE")
    out: dict = {"packets": RawPacket.objects.count(), "devices": len(mns)}
    ctx = ingest_status.status_context(user)
    assert len(ctx["devices"]) == args.devices and ctx["states"]["online"] > 0 and ctx["errors"], ctx["states"]
    out["online"] = ctx["states"]["online"]
    samples = timed(lambda: ingest_status.status_context(user), args.runs)
    out["context_p50"], out["context_p99"] = pct(samples, 50), pct(samples, 99)
    client = Client()
    client.force_login(user)
    assert client.get("/status/").status_code == 200
    samples = timed(lambda: client.get("/status/"), args.runs)
    out["page_p50"], out["page_p99"] = pct(samples, 50), pct(samples, 99)

    def baseline():
        with connection.cursor() as cur:
            cur.execute(f"SELECT mn, max(received) FROM {table} GROUP BY mn")
            cur.fetchall()
            cur.execute(
                f"SELECT verdict, reason, count(*), count(*) FILTER (WHERE received > now() - interval '1 hour') "
                f"FROM {table} WHERE received > now() - interval '24 hours' AND verdict <> 'accepted' GROUP BY verdict, reason"
            )
            cur.fetchall()

    samples = timed(baseline, max(5, args.runs // 3))
    out["baseline_p50"], out["baseline_p99"] = pct(samples, 50), pct(samples, 99)
    return out


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--packets", type=int, default=2_000_000)
    ap.add_argument("--devices", type=int, default=72, help="devices per bureau (two bureaus)")
    ap.add_argument("--runs", type=int, default=30)
    ap.add_argument("--pg-url", default=PG_URL)
    ap.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    args = ap.parse_args(argv)
    if args.child:
        print(json.dumps(child(args)))
        return 0
    recreate_pg(args.pg_url)
    with tempfile.TemporaryDirectory(prefix="gz-bench-status-") as tmp:
        env = dict(os.environ, GONGZHI_DATABASE_URL=args.pg_url, GONGZHI_ENV="development", GONGZHI_DATA_DIR=tmp)
        cmd = [sys.executable, __file__, "--child", "--packets", str(args.packets), "--devices", str(args.devices), "--runs", str(args.runs)]
        proc = subprocess.run(cmd, env=env, capture_output=True, text=True)
        if proc.returncode != 0:
            raise SystemExit(f"benchmark child failed:\n{proc.stderr[-4000:]}")
        r = json.loads(proc.stdout.strip().splitlines()[-1])
    print(f"ingestion status benchmark [postgresql], raw archive of {r['packets']:,} packets, {r['devices']} devices "
          f"({r['devices'] // 2} visible to the user, {r['online']} online), {args.runs} runs")
    print(f"  status_context (every figure of the page)  p50 {r['context_p50']:.1f} ms   p99 {r['context_p99']:.1f} ms")
    print(f"  GET /status/ (whole page)                  p50 {r['page_p50']:.1f} ms   p99 {r['page_p99']:.1f} ms")
    print(f"  baseline: the same aggregates by scanning   p50 {r['baseline_p50']:.1f} ms   p99 {r['baseline_p99']:.1f} ms   "
          f"(baseline/page p50 = {r['baseline_p50'] / r['page_p50']:.1f}×)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
