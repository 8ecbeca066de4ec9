"""Check source tracing on the demo back-fill: raise (or find) the ammonia alarm at the 金泽
boundary section when the demo-taipu episode (the dyeing works E320509-01 discharging into
太浦河, docs/simulator.md) passes, run ``trace_sources`` as a Qingpu duty officer and as the
superuser, and print the ranking.

    GONGZHI_ENV=demo GONGZHI_DATA_DIR=/tmp/tracing-demo PYTHONPATH=src python tools/trace_demo_episode.py

Exits 1 when the episode's enterprise does not rank first for the superuser.
"""

import datetime as dt
import os
import sys

import django

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "gongzhi.settings")
django.setup()

from django.utils import timezone  # noqa: E402

from gongzhi.accounts.models import User  # noqa: E402
from gongzhi.alerts import services, tracing  # noqa: E402
from gongzhi.alerts.models import Alarm, AlarmRule  # noqa: E402
from gongzhi.observations.queries import series_data  # noqa: E402
from gongzhi.registry import models as reg  # noqa: E402

SECTION = os.environ.get("TRACE_SECTION", "W310118-024")  # 金泽 (吴江 → 青浦 boundary on 太浦河)
SOURCE = "E320509-01/DW001"


def main() -> int:
    site = reg.Site.objects.get(code=SECTION)
    nh3 = reg.Parameter.objects.get(key="nh3_n")
    admin = User.objects.filter(is_superuser=True).order_by("pk").first()
    now = timezone.now()
    d = series_data(admin, parameter=nh3, site=site, start=now - dt.timedelta(days=8), end=now, resolution="hour")
    pts = [(t, v) for t, v in zip(d["times"], d["values"]) if v is not None]
    t_peak, v_peak = max(pts, key=lambda p: p[1])
    base = sorted(v for _, v in pts)[len(pts) // 2]
    # the condition begins at the first hour of the rise before the peak (half-way to it)
    start_ms = next(t for t, v in pts if t <= t_peak and v >= base + 0.5 * (v_peak - base) and t >= t_peak - 24 * 3600e3)
    started = dt.datetime.fromtimestamp(start_ms / 1000, tz=dt.timezone.utc)
    print(f"{site.code} {site.name}: median {base:.3f}, peak {v_peak:.3f} mg/L at "
          f"{dt.datetime.fromtimestamp(t_peak / 1000, tz=dt.timezone.utc):%Y-%m-%d %H:%M}Z, rise from {started:%Y-%m-%d %H:%M}Z")
    alarm = Alarm.objects.filter(site=site, parameter=nh3, started_at__gte=started - dt.timedelta(hours=12),
                                 started_at__lte=started + dt.timedelta(hours=12)).first()
    if alarm is None:
        rule = AlarmRule.objects.filter(parameter=nh3, kind="exceedance").order_by("pk").first()
        if rule is None:
            services.seed_demo_rules()
            rule = AlarmRule.objects.filter(parameter=nh3, kind="exceedance").order_by("pk").first()
        from gongzhi.observations.models import Series

        s = Series.objects.filter(site=site, parameter=nh3).order_by("pk").first()
        alarm, _ = services.raise_alarm(rule=rule, series=s, data="value", started_at=started, value=v_peak,
                                        peak=v_peak, evidence={"note": "raised by tools/trace_demo_episode.py"},
                                        now=started + dt.timedelta(minutes=10))
    print(f"alarm #{alarm.pk} ({alarm.owner}) started {alarm.started_at:%Y-%m-%d %H:%M}Z → /alerts/{alarm.pk}/")
    viewers = [admin] + list(User.objects.filter(bureau=site.owner, is_superuser=False, username__endswith="_duty")[:1])
    ok = True
    for user in viewers:
        out = tracing.trace_sources(alarm=alarm, user=user)
        print(f"\n— as {user.username}: status {out['status']}, hidden {out['hidden']}")
        for c in out["candidates"][:8]:
            print(f"  #{c['rank']} {c['code']:<20} {c['factor']:<6} score {c['score'] or 0:.3f} r {c['correlation']} "
                  f"lag {c['best_lag_h']} h (travel {c['travel_time_h']} h) n {c['overlap']}"
                  f"{' waypoint of ' + c['waypoint_of'] if c['waypoint_of'] else ''}")
        for n in out["not_considered"]:
            print(f"  not considered: {n['code']} ({n['reason']})")
        if user is admin:
            ok = bool(out["candidates"]) and out["candidates"][0]["code"] == SOURCE
    print("\nOK: the episode's enterprise ranks first" if ok else "\nFAIL: the episode's enterprise is not first")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
