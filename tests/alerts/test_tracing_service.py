"""Source tracing (溯源) for real alarms: ``gongzhi.alerts.tracing.trace_sources`` on a small
hand-made river, the page fragment (htmx) and ``GET /api/v1/alarms/{id}/sources``.

A river of its own, flow → (velocity 1 m/s, so travel time in hours = km / 3.6)::

    A ──T1 36 km──▶ B ──T2 21.6 km──▶ C ──T3 10.8 km──▶ D
    UPS (site, A at 0 km, no data)           DS (Qingpu section at D) — the alarm
    TRUE  Qingpu dyeing works outlet, T1 at 0      → DS 68.4 km = 19 h
    DECOY Qingpu municipal plant outlet, T2 at 0   → DS 32.4 km =  9 h
    NEAR  Qingpu outlet, T3 at 0                   → DS 10.8 km =  3 h
    SECRET Kunshan outlet, T2 at 10.8 km          → DS 21.6 km =  6 h (no agreement Kunshan → Qingpu)

The true source's antimony has three bursts that reach the section 19 h later (ammonia);
the decoys have bursts at other times.
"""

import datetime as dt

import numpy as np
import pytest
from django.core.cache import cache

from alerts_helpers import T0, region, series  # noqa: F401 (fixtures)
from gongzhi.alerts import services, tracing
from gongzhi.alerts.models import Alarm
from gongzhi.observations import services as obs
from gongzhi.registry import models as reg
from gongzhi.sharing.models import SharingAgreement

HOURS = 240
START = T0 - dt.timedelta(hours=HOURS)
TRUE_LAG = 19


def pulses(at, n=HOURS, width=3, height=5.0):
    x = np.zeros(n)
    for a in at:
        x[a:a + width] += height * np.array([0.5, 1.0, 0.5])[:width]
    return x


def write(s, values, start=START):
    obs.write_observations(obs.rows_from([(s.pk, start + dt.timedelta(hours=i), float(v), "N")
                                          for i, v in enumerate(values) if v == v]), source=1, received=T0)


@pytest.fixture
def river(region):
    cache.clear()  # results are cached per alarm id and user; ids repeat between tests
    r = region
    wb = reg.Waterbody.objects.create(code="trace-river", name="溯源河", kind="river")
    nodes = {c: reg.RiverNode.objects.create(code=c, lon=121.0 + i * 0.1, lat=31.3) for i, c in enumerate("ABCD")}
    reaches = {code: reg.Reach.objects.create(code=code, waterbody=wb, from_node=nodes[a], to_node=nodes[b],
                                              length_m=km * 1000, velocity_m_s=1.0)
               for code, a, b, km in [("T1", "A", "B", 36), ("T2", "B", "C", 21.6), ("T3", "C", "D", 10.8)]}
    ds = reg.Site.objects.create(code="DS", name="下游断面", name_en="Downstream section", kind="water_section",
                                 owner=r["qp"], lon=121.3, lat=31.3, waterbody=wb, reach=reaches["T3"],
                                 chainage_m=10800, target_class=3)
    ups = reg.Site.objects.create(code="UPS", name="源头断面", kind="water_section", owner=r["qp"], lon=121.0,
                                  lat=31.3, waterbody=wb, reach=reaches["T1"], chainage_m=0)

    def outlet(code, owner, industry, reach, ch, **kw):
        e = reg.Enterprise.objects.create(code=code, name=f"{code}厂", owner=owner, industry=industry,
                                          lon=121.0, lat=31.3, **kw)
        return reg.Outlet.objects.create(enterprise=e, code="DW001", name="总排口", kind="wastewater", lon=121.05,
                                         lat=31.3, reach=reaches[reach], chainage_m=ch)

    true = outlet("true", r["qp"], "textile_dyeing", "T1", 0, characteristic_pollutants="锑, 苯胺类")
    decoy = outlet("decoy", r["qp"], "municipal_wastewater", "T2", 0)
    near = outlet("near", r["qp"], "municipal_wastewater", "T3", 0)
    secret = outlet("secret", r["ks"], "textile_dyeing", "T2", 10800)
    nopath = reg.Outlet.objects.create(enterprise=decoy.enterprise, code="DW002", name="未定位排口", kind="wastewater",
                                       lon=121.1, lat=31.3, receiving_waterbody=wb)
    p = {k: reg.Parameter.objects.get(key=k) for k in ("nh3_n", "sb", "cod")}
    rng = np.random.default_rng(6)
    bursts = [60, 120, 170]
    sb = 0.01 + 0.002 * rng.standard_normal(HOURS) + pulses(bursts, height=0.5)
    section = 0.5 + 0.03 * rng.standard_normal(HOURS) + pulses([b + TRUE_LAG for b in bursts], height=1.2)
    write(series(true, p["sb"], kind="hour"), sb)
    write(series(ds, p["nh3_n"], kind="hour"), section)
    write(series(decoy, p["nh3_n"], kind="hour"), 5 + 0.3 * rng.standard_normal(HOURS) + pulses([40, 100, 200], height=8))
    write(series(near, p["nh3_n"], kind="hour"), 5 + 0.3 * rng.standard_normal(HOURS) + pulses([30, 90], height=8))
    # the secret outlet has bursts of its own, at other times
    write(series(secret, p["sb"], kind="hour"), 0.01 + 0.002 * rng.standard_normal(HOURS) + pulses([50, 150], height=0.5))
    series(ups, p["nh3_n"], kind="hour")  # a series, but nothing in the window
    rule = services.create_rule(name="氨氮超目标", owner=r["qp"], kind="exceedance", parameter=p["nh3_n"],
                                limit_source="target_class")
    s = series(ds, p["nh3_n"], kind="hour")
    started = START + dt.timedelta(hours=bursts[-1] + TRUE_LAG)
    alarm = Alarm.objects.create(rule=rule, series=s, site=ds, parameter=p["nh3_n"], owner=r["qp"], kind="exceedance",
                                 started_at=started, raised_at=started, value=1.7, limit=1.0, unit="mg/L")
    return {**r, "ds": ds, "ups": ups, "true": true, "decoy": decoy, "near": near, "secret": secret,
            "nopath": nopath, "alarm": alarm, "started": started}


def _trace(river, user):
    return tracing.trace_sources(alarm=river["alarm"], user=user, now=river["started"] + dt.timedelta(hours=12))


def test_the_true_source_ranks_first_at_its_travel_time(river):
    out = _trace(river, river["users"]["qingpu_emergency_duty_officer"])
    assert out["status"] == "ok" and out["section"]["code"] == "DS"
    top = out["candidates"][0]
    assert top["code"] == "true/DW001" and top["factor"] == "sb"  # the characteristic factor, not the alarm's
    assert top["travel_time_s"] == pytest.approx(19 * 3600)
    assert top["best_lag_s"] == TRUE_LAG * 3600 and top["best_lag_h"] == 19.0
    assert top["correlation"] > 0.9 and top["score"] > 0.8
    assert top["overlap"] >= 24 and not top["waypoint"]
    others = {c["code"]: c for c in out["candidates"][1:]}
    assert set(others) == {"decoy/DW001", "near/DW001"}
    assert all(c["score"] < 0.5 * top["score"] for c in others.values())
    assert [c["rank"] for c in out["candidates"]] == [1, 2, 3]


def test_not_considered_lists_no_data_and_no_path(river):
    out = _trace(river, river["users"]["qingpu_emergency_duty_officer"])
    reasons = {n["code"]: n["reason"] for n in out["not_considered"]}
    assert reasons == {"UPS": "no_data", "decoy/DW002": "no_path"}


def test_an_outlet_without_agreement_is_hidden_from_the_partner_but_counted_for_its_owner(river):
    partner = _trace(river, river["users"]["qingpu_viewer"])
    assert partner["hidden"] == 1
    assert "secret" not in repr(partner)  # not ranked, not named anywhere
    # Kunshan reads Qingpu's section through an agreement; its own outlet takes part
    SharingAgreement.objects.create(provider=river["qp"], recipient=river["ks"], title="t", purpose="p", level="raw",
                                    valid_from=dt.date(2026, 1, 1), all_sites=True, all_enterprises=True)
    owner = _trace(river, river["users"]["kunshan_viewer"])
    assert owner["hidden"] == 0
    codes = [c["code"] for c in owner["candidates"]]
    assert "secret/DW001" in codes and codes[0] == "true/DW001"
    secret = owner["candidates"][codes.index("secret/DW001")]
    assert secret["travel_time_h"] == 6.0 and secret["score"] < 0.5 * owner["candidates"][0]["score"]


def test_section_data_not_shared_gives_a_status_not_a_ranking(river):
    # Taicang has no agreement with Qingpu: it may read nothing of the section
    out = _trace(river, river["users"]["taicang_viewer"])
    assert out["status"] == "section_not_shared" and out["candidates"] == []


def test_max_candidates_lists_the_rest_as_beyond(river):
    out = tracing.trace_sources(alarm=river["alarm"], user=river["users"]["qingpu_viewer"], max_candidates=2,
                                now=river["started"] + dt.timedelta(hours=12))
    assert {n["code"] for n in out["not_considered"] if n["reason"] == "beyond"} == {"true/DW001", "UPS"}
    assert {c["code"] for c in out["candidates"]} == {"near/DW001", "decoy/DW001"}



def _login(client, river, name, lang=None):
    client.force_login(river["users"][name])
    if lang:
        client.post("/i18n/setlang/", {"language": lang, "next": "/alerts/"})
    return client


def test_detail_page_loads_the_fragment_with_htmx(client, river):
    c = _login(client, river, "qingpu_viewer")
    text = c.get(f"/alerts/{river['alarm'].pk}/").content.decode()
    assert "溯源分析" in text
    assert f'hx-get="/alerts/{river["alarm"].pk}/sources/"' in text and 'hx-trigger="load"' in text
    assert "vendor/htmx.org/htmx.min.js" in text
    assert "true厂" not in text  # computed on demand, not in the page itself


def test_fragment_in_chinese(client, river):
    c = _login(client, river, "qingpu_viewer")
    r = c.get(f"/alerts/{river['alarm'].pk}/sources/", HTTP_HX_REQUEST="true")
    text = r.content.decode()
    assert r.status_code == 200 and "<html" not in text
    assert text.index("true厂") < text.index("decoy厂") < text.index("near厂")
    assert "比本断面早 19.0 小时出现同样的变化（按河道流速预计 19.0 小时），相关系数 0.99" in text
    assert "源头断面：分析时段内无数据" in text and "未定位排口" in text and "未落在河网上" in text
    assert "另有 1 个上游点位本局无权查看" in text and "secret" not in text
    assert 'id="sources-map-data"' in text


def test_fragment_in_english(client, river):
    c = _login(client, river, "qingpu_viewer", lang="en")
    text = c.get(f"/alerts/{river['alarm'].pk}/sources/").content.decode()
    assert "Antimony" in text
    assert "the same change 19.0 h before this section (19.0 h expected from the river's velocity), correlation 0.99" in text
    assert "no data in the analysed period" in text and "Upstream section: no data in the analysed period" not in text and "1 upstream place(s) you may not see" in text
    assert "源头断面: no data in the analysed period" in text
    page = c.get(f"/alerts/{river['alarm'].pk}/").content.decode()
    assert "Source tracing" in page


def test_fragment_and_api_404_for_a_bureau_that_cannot_see_the_alarm(client, river):
    c = _login(client, river, "taicang_administrator")
    assert c.get(f"/alerts/{river['alarm'].pk}/sources/").status_code == 404
    assert c.get(f"/api/v1/alarms/{river['alarm'].pk}/sources").status_code == 404
    client.logout()
    assert client.get(f"/api/v1/alarms/{river['alarm'].pk}/sources").status_code == 401


def test_api_sources(client, river):
    c = _login(client, river, "qingpu_emergency_duty_officer")
    r = c.get(f"/api/v1/alarms/{river['alarm'].pk}/sources")
    assert r.status_code == 200
    d = r.json()
    assert d["status"] == "ok" and d["candidates"][0]["code"] == "true/DW001"
    assert d["candidates"][0]["best_lag_s"] == 19 * 3600 and d["hidden"] == 1
    assert "secret" not in r.content.decode()


def test_result_is_cached_per_alarm_and_user(river, django_assert_max_num_queries):
    user = river["users"]["qingpu_viewer"]
    first = tracing.cached_trace(alarm=river["alarm"], user=user)
    with django_assert_max_num_queries(0):
        assert tracing.cached_trace(alarm=river["alarm"], user=user) == first
    other = tracing.cached_trace(alarm=river["alarm"], user=river["users"]["qingpu_administrator"])
    assert other["candidates"][0]["code"] == first["candidates"][0]["code"]


def test_a_section_the_plume_passed_is_a_waypoint_of_the_source(river):
    """A section between the source and the alarm that saw the same bursts is not ranked as a
    source: it is marked as the waypoint of the outlet upstream of it, on the page too."""
    mid = reg.Site.objects.create(code="MIDS", name="中游断面", kind="water_section", owner=river["qp"], lon=121.2,
                                  lat=31.3, waterbody=river["ds"].waterbody, reach=river["ds"].reach, chainage_m=0)
    rng = np.random.default_rng(7)
    # MIDS is 3 h above DS: the source's bursts arrive 16 h after they leave it
    write(series(mid, reg.Parameter.objects.get(key="nh3_n"), kind="hour"),
          0.5 + 0.03 * rng.standard_normal(HOURS) + pulses([b + TRUE_LAG - 3 for b in (60, 120, 170)], height=1.4))
    out = _trace(river, river["users"]["qingpu_viewer"])
    codes = [c["code"] for c in out["candidates"]]
    assert codes[0] == "true/DW001"
    m = out["candidates"][codes.index("MIDS")]
    assert m["waypoint_of"] == "true/DW001" and m["best_lag_h"] == 3.0 and m["correlation"] > 0.9
    assert codes.index("MIDS") == len(codes) - 1  # after every possible source
