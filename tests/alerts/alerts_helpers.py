"""Helpers of the alerts tests (imported by name: tests/alerts has no __init__.py).

A small hand-made region for the alerts tests, with known travel times.

Flow (→), lengths and velocities::

    N0 ──R1 3600 m @1.0 m/s──▶ N1 ──R2 7200 m @0.5──▶ N2 ──R3 1800 m @0.25──▶ N3
                                 └──R4 1000 m @0.1──▶ N4

    UP   Kunshan boundary section (Kunshan → Qingpu), R1 at 0 m, target class Ⅲ
    O1   Kunshan enterprise outlet, R1 at 1800 m
    MID  Qingpu section, R2 at 3600 m          UP→MID 3600 + 7200 = 10800 s
    BR   Qingpu section, R4 at 500 m           UP→BR  3600 + 5000 =  8600 s
    SRC  Jiashan drinking-water source, R3 at 900 m   UP→SRC 3600 + 14400 + 3600 = 21600 s
"""

from __future__ import annotations

import datetime as dt

import pytest

from gongzhi.accounts.models import Role, User
from gongzhi.alerts import evaluation
from gongzhi.observations import services as obs
from gongzhi.registry import models as reg
from gongzhi.registry import services as reg_services

UTC = dt.timezone.utc
T0 = dt.datetime(2026, 12, 5, 0, 0, tzinfo=UTC)


def make_user(username, bureau, role):
    return User.objects.create_user(username=username, password="pw-" + username + "-x1", bureau=bureau, role=role)


def build_region() -> dict:
    reg_services.seed_parameter_catalog()
    reg_services.code_index.invalidate()
    obs.series_resolver.clear()
    evaluation.evaluator.reset()
    ks_j = reg.Jurisdiction.objects.create(adcode="320583", name="昆山市", level="county")
    qp_j = reg.Jurisdiction.objects.create(adcode="310118", name="青浦区", level="county")
    js_j = reg.Jurisdiction.objects.create(adcode="330421", name="嘉善县", level="county")
    ks = reg.Bureau.objects.create(code="kunshan", name="昆山市生态环境局", short_name="昆山", jurisdiction=ks_j)
    qp = reg.Bureau.objects.create(code="qingpu", name="青浦区生态环境局", short_name="青浦", jurisdiction=qp_j)
    js = reg.Bureau.objects.create(code="jiashan", name="嘉善县生态环境局", short_name="嘉善", jurisdiction=js_j)
    far_j = reg.Jurisdiction.objects.create(adcode="320585", name="太仓市", level="county")
    far = reg.Bureau.objects.create(code="taicang", name="太仓市生态环境局", short_name="太仓", jurisdiction=far_j)
    office = reg.Bureau.objects.create(code="office", name="示范区协同办", short_name="协同办", kind="office")
    zone = reg.JointGovernanceZone.objects.create(code="zone", name="青昆嘉")
    zone.bureaus.set([ks, qp, js, office])
    river = reg.Waterbody.objects.create(code="river", name="示例河", kind="river")
    nodes = {c: reg.RiverNode.objects.create(code=c, lon=120.8 + i * 0.05, lat=31.1) for i, c in enumerate(["N0", "N1", "N2", "N3", "N4"])}
    reaches = {}
    for code, a, b, length, v in [("R1", "N0", "N1", 3600, 1.0), ("R2", "N1", "N2", 7200, 0.5),
                                  ("R3", "N2", "N3", 1800, 0.25), ("R4", "N1", "N4", 1000, 0.1)]:
        reaches[code] = reg.Reach.objects.create(code=code, waterbody=river, from_node=nodes[a], to_node=nodes[b],
                                                 length_m=length, velocity_m_s=v)

    def section(code, owner, j, reach, ch, **kw):
        return reg.Site.objects.create(code=code, name=code, kind="water_section", owner=owner, jurisdiction=j,
                                       lon=120.8, lat=31.1, waterbody=river, reach=reaches[reach], chainage_m=ch, **kw)

    up = section("UP", ks, ks_j, "R1", 0, target_class=3, is_boundary=True, upstream_jurisdiction=ks_j,
                 downstream_jurisdiction=qp_j)
    mid = section("MID", qp, qp_j, "R2", 3600, target_class=3)
    br = section("BR", qp, qp_j, "R4", 500, target_class=3)
    src = section("SRC", js, js_j, "R3", 900, target_class=2, drinking_water_source=True)
    lake = reg.Waterbody.objects.create(code="lake", name="示例湖", kind="lake")
    lk = reg.Site.objects.create(code="LK", name="湖心", kind="water_section", owner=ks, jurisdiction=ks_j, lon=120.9,
                                 lat=31.2, waterbody=lake, target_class=3)
    ent = reg.Enterprise.objects.create(code="dye", name="某印染厂", owner=ks, jurisdiction=ks_j, lon=120.8, lat=31.1)
    o1 = reg.Outlet.objects.create(enterprise=ent, code="DW001", name="废水总排口", kind="wastewater", lon=120.81,
                                   lat=31.1, reach=reaches["R1"], chainage_m=1800)
    users = {}
    for b in (ks, qp, js, far):
        for role in (Role.EMERGENCY_DUTY_OFFICER, Role.ADMINISTRATOR, Role.MONITORING_STAFF, Role.VIEWER):
            users[f"{b.code}_{role}"] = make_user(f"{b.code}_{role}", b, role)
    users["office_admin"] = make_user("office_admin", office, Role.ADMINISTRATOR)
    params = {p.key: p for p in reg.Parameter.objects.filter(key__in=["nh3_n", "do", "ph", "cod", "algal_density", "chl_a", "tp"])}
    return {"ks": ks, "qp": qp, "js": js, "far": far, "office": office, "up": up, "mid": mid, "br": br, "src": src,
            "lake": lk, "o1": o1, "ent": ent, "users": users, "p": params, "reaches": reaches}



def series(holder, parameter, kind="rtd", unit=None):
    kw = {"site": holder} if isinstance(holder, reg.Site) else {"outlet": holder}
    sid = obs.series_resolver.get(parameter=parameter, kind=kind, unit=unit or parameter.unit, **kw)
    from gongzhi.observations.models import Series

    return Series.objects.get(pk=sid)


def feed(ev, s, values, *, now=None, start=T0, step_s=60):
    """Store values of series ``s`` (one per ``step_s`` from ``start``; tuples (value, flag) allowed)
    and run them through evaluator ``ev`` as the write listener would."""
    rows = []
    for i, v in enumerate(values):
        value, flag = (v if isinstance(v, tuple) else (v, "N"))
        t = start + dt.timedelta(seconds=i * step_s)
        rows.append((s.pk, int((t - dt.datetime(1970, 1, 1, tzinfo=UTC)).total_seconds() * 1_000_000), value, flag, 0))
    obs.write_observations(obs.rows_from([(s.pk, start + dt.timedelta(seconds=i * step_s), r[2], r[3]) for i, r in enumerate(rows)]),
                           source=1, received=now or start)
    return ev.values(rows, now=now or start + dt.timedelta(seconds=len(values) * step_s))


# --- fixtures (imported by the test modules: no conftest, whose bare name collides across folders) ---


@pytest.fixture
def region(db):
    yield build_region()
    obs.series_resolver.clear()
    evaluation.evaluator.reset()


@pytest.fixture
def region_tx(transactional_db):
    """The region committed (for tests with threads that read through their own connections)."""
    evaluation.live.wait_idle(10)
    yield build_region()
    evaluation.live.wait_idle(10)
    obs.series_resolver.clear()
    evaluation.evaluator.reset()
