"""The hand-built data set of the assessment tests.

Bureaus 青浦 (qp), 昆山 (ks), 嘉善 (js), one county each; 青浦 shares QP-W1 with 昆山 (raw);
nothing else is shared. Every section is a river section with target class Ⅲ. October 2026
daily values (logger daily data, kind ``day``), so each month mean is the value written
(GB 3838-2002 Table 1 limits, river):

========  =====  =====  =====  =============  ==========================
section   NH3-N  TP     CODMn  class          why
========  =====  =====  =====  =============  ==========================
QP-W1     0.4    0.08   3.5    Ⅱ              all ≤ class Ⅱ limits (0.5, 0.1, 4)
QP-W2     1.2    0.15   5.0    Ⅳ              NH3-N 1.0 < 1.2 ≤ 1.5; E = (1.2−1.0)/1.0 = 0.2
KS-W1     2.5    0.10   4.0    劣Ⅴ            NH3-N > 2.0; E = (2.5−1.0)/1.0 = 1.5
JS-W1     0.9    0.15   5.0    Ⅲ              (day 31 missing: a late value arrives in one test)
========  =====  =====  =====  =============  ==========================

September 2026: the same, except QP-W2 NH3-N 0.8 (Ⅲ): October is one grade worse (有所变差).

Air, October 2026 (daily SO2, NO2, CO, PM10, PM2.5; hourly O3, constant 100 µg/m³):
QP-A1, KS-A1 and KS-A2 all 10, 30, 0.8, 50, 30 → composite index
10/60 + 30/40 + 50/70 + 30/35 + 0.8/4 + 100/160 = 3.3131 → 3.31 (a tie of 青浦 and 昆山);
JS-A1 the same but PM2.5 80 on 1–10 October (AQI 119 by HJ 633-2026, 轻度污染) → good-day ratio 21/31,
PM2.5 mean (10·80 + 21·30)/31 = 46.129, composite 3.3131 + (46.129 − 30)/35 = 3.77.
"""

from __future__ import annotations

import datetime as dt

from django.utils import timezone

from gongzhi.accounts.models import Role, User
from gongzhi.observations import aggregates as agg
from gongzhi.observations import services as obs
from gongzhi.observations.models import SeriesKind, Source
from gongzhi.registry import models as reg
from gongzhi.registry.catalog import AMBIENT_UNITS
from gongzhi.registry import services as reg_services
from gongzhi.sharing.models import SharingAgreement

CST = dt.timezone(dt.timedelta(hours=8))

WATER = {
    "QP-W1": {"nh3_n": 0.4, "tp": 0.08, "codmn": 3.5},
    "QP-W2": {"nh3_n": 1.2, "tp": 0.15, "codmn": 5.0},
    "KS-W1": {"nh3_n": 2.5, "tp": 0.10, "codmn": 4.0},
    "JS-W1": {"nh3_n": 0.9, "tp": 0.15, "codmn": 5.0},
}
AIR_BASE = {"so2": 10.0, "no2": 30.0, "co": 0.8, "pm10": 50.0, "pm2_5": 30.0}


def day(y, m, d) -> dt.datetime:
    return dt.datetime(y, m, d, tzinfo=CST)


def write(site, key, kind, points):
    parameter = reg.Parameter.objects.get(key=key)
    obs.series_resolver.clear()
    # air stations send ambient units (µg/m³, CO mg/m³), as the demo's stations do
    sid = obs.series_resolver.get(site=site, parameter=parameter, kind=kind, unit=AMBIENT_UNITS.get(key, ""))
    return obs.write_observations([obs.ObservationRow(sid, t, v, "N", 0) for t, v in points], source=Source.DEVICE)


def recompute():
    obs.apply_pending_changes()
    while agg.recompute_dirty().keys:
        pass


def write_water_month(sites, y, m, values, *, skip_last: set = frozenset()):
    ndays = (day(y + (m == 12), m % 12 + 1, 1) - day(y, m, 1)).days
    for code, vals in values.items():
        for key, v in vals.items():
            last = ndays - 1 if code in skip_last else ndays
            write(sites[code], key, SeriesKind.DAY, [(day(y, m, d), v) for d in range(1, last + 1)])


def write_air_month(site, y, m, *, pm25=None):
    ndays = 31
    for key, v in AIR_BASE.items():
        pts = []
        for d in range(1, ndays + 1):
            val = pm25(d) if (key == "pm2_5" and pm25) else v
            pts.append((day(y, m, d), val))
        write(site, key, SeriesKind.DAY, pts)
    start = day(y, m, 1)
    write(site, "o3", SeriesKind.HOUR, [(start + dt.timedelta(hours=h), 100.0) for h in range(ndays * 24)])


def build_region() -> dict:
    reg_services.seed_parameter_catalog()
    qp_j = reg.Jurisdiction.objects.create(adcode="310118", name="青浦区", name_en="Qingpu", level="county")
    ks_j = reg.Jurisdiction.objects.create(adcode="320583", name="昆山市", name_en="Kunshan", level="county")
    js_j = reg.Jurisdiction.objects.create(adcode="330421", name="嘉善县", name_en="Jiashan", level="county")
    qp = reg.Bureau.objects.create(code="qingpu", name="青浦区生态环境局", short_name="青浦", name_en="Qingpu EEB", jurisdiction=qp_j)
    ks = reg.Bureau.objects.create(code="kunshan", name="昆山市生态环境局", short_name="昆山", name_en="Kunshan EEB", jurisdiction=ks_j)
    js = reg.Bureau.objects.create(code="jiashan", name="嘉善县生态环境局", short_name="嘉善", name_en="Jiashan EEB", jurisdiction=js_j)
    river = reg.Waterbody.objects.create(code="jishui", name="急水港", name_en="Jishuigang", kind="river")
    sites = {}
    for code, owner, j in (("QP-W1", qp, qp_j), ("QP-W2", qp, qp_j), ("KS-W1", ks, ks_j), ("JS-W1", js, js_j)):
        sites[code] = reg.Site.objects.create(
            code=code, name=f"断面{code}", name_en=f"Section {code}", kind="water_section", owner=owner, jurisdiction=j,
            lon=121.0, lat=31.1, waterbody=river, target_class=3, assessment_level="provincial", is_boundary=code == "QP-W1",
        )
    for code, owner, j in (("QP-A1", qp, qp_j), ("KS-A1", ks, ks_j), ("KS-A2", ks, ks_j), ("JS-A1", js, js_j)):
        sites[code] = reg.Site.objects.create(code=code, name=f"空气站{code}", name_en=f"Station {code}", kind="air_station",
                                              owner=owner, jurisdiction=j, lon=121.0, lat=31.1, assessment_level="national")
    sa = SharingAgreement.objects.create(provider=qp, recipient=ks, title="青浦→昆山", purpose="联防联治",
                                         valid_from=timezone.localdate() - dt.timedelta(days=800), level="raw")
    sa.sites.set([sites["QP-W1"]])
    write_water_month(sites, 2026, 10, WATER, skip_last={"JS-W1"})
    september = {k: dict(v) for k, v in WATER.items()}
    september["QP-W2"]["nh3_n"] = 0.8
    write_water_month(sites, 2026, 9, september)
    for code in ("QP-A1", "KS-A1", "KS-A2"):
        write_air_month(sites[code], 2026, 10)
    write_air_month(sites["JS-A1"], 2026, 10, pm25=lambda d: 80.0 if d <= 10 else 30.0)
    recompute()
    users = {
        "qp": User.objects.create_user(username="qp-analyst", password="secret-pass-123", bureau=qp, role=Role.VIEWER),
        "ks": User.objects.create_user(username="ks-analyst", password="secret-pass-123", bureau=ks, role=Role.VIEWER),
        "js": User.objects.create_user(username="js-analyst", password="secret-pass-123", bureau=js, role=Role.VIEWER),
        "admin": User.objects.create_superuser(username="root", password="secret-pass-123"),
    }
    return {"sites": sites, "users": users, "bureaus": {"qp": qp, "ks": ks, "js": js}, "agreement": sa}
