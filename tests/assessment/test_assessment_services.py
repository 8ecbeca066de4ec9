"""Numbers of the assessment services on the hand-built data set (assess_data.py)."""

from __future__ import annotations

import pytest

from assess_data import day, recompute, write
from gongzhi.assessment import services
from gongzhi.assessment.models import CachedFacts
from gongzhi.assessment.periods import parse
from gongzhi.observations.models import SeriesKind

OCT = parse("month", "2026-10")


def by_site(data):
    return {r["site"]: r for r in data["sections"]}


def test_water_classes_targets_and_main_pollutants(region):
    data = services.water_assessment(region["users"]["admin"], period=OCT)
    rows = by_site(data)
    assert {c: r["label"] for c, r in rows.items()} == {"QP-W1": "Ⅱ", "QP-W2": "Ⅳ", "KS-W1": "劣Ⅴ", "JS-W1": "Ⅲ"}
    assert {c: r["meets_target"] for c, r in rows.items()} == {"QP-W1": True, "QP-W2": False, "KS-W1": False, "JS-W1": True}
    # 环办〔2011〕22号 §5: exceedance multiple against the class Ⅲ limit (NH3-N 1.0 mg/L)
    assert rows["QP-W2"]["main_pollutants"] == [{"indicator": "nh3_n", "multiple": pytest.approx(0.2)}]
    assert rows["KS-W1"]["main_pollutants"][0] == {"indicator": "nh3_n", "multiple": pytest.approx(1.5)}
    assert rows["QP-W1"]["main_pollutants"] == []
    assert rows["QP-W2"]["indicators"]["nh3_n"]["value"] == pytest.approx(1.2)
    assert rows["JS-W1"]["indicators"]["nh3_n"]["months"] == 1


def test_water_region_summary_shares_and_compliance(region):
    s = services.water_assessment(region["users"]["admin"], period=OCT)["summary"]
    assert s["n_classified"] == 4
    assert s["good_share"] == 50.0  # Ⅱ and Ⅲ of 4
    assert s["worse_v_share"] == 25.0  # one 劣Ⅴ of 4
    assert (s["n_target"], s["n_meeting"], s["compliance_rate"]) == (4, 2, 50.0)


def test_water_change_on_the_previous_period(region):
    data = services.water_assessment(region["users"]["admin"], period=OCT)
    rows = by_site(data)
    assert rows["QP-W2"]["previous"] == {"water_class": 3, "label": "Ⅲ", "delta": -1, "change": "有所变差"}
    assert rows["QP-W1"]["previous"]["change"] == "无明显变化"
    assert rows["QP-W1"]["last_year"]["change"] == ""  # no data in October 2025
    prev = data["summary"]["previous"]
    # September: Ⅱ, Ⅲ, 劣Ⅴ, Ⅲ → good 75 %, worse-than-Ⅴ 25 %; October good 50 %: ΔG − ΔD = −25
    assert (prev["good_share"], prev["worse_v_share"], prev["index"], prev["change"]) == (75.0, 25.0, -25.0, "明显变差")


def test_water_per_bureau_and_river(region):
    data = services.water_assessment(region["users"]["admin"], period=OCT)
    bureaus = {b["code"]: b for b in data["bureaus"]}
    assert bureaus["qingpu"]["good_share"] == 50.0 and bureaus["qingpu"]["compliance_rate"] == 50.0
    assert bureaus["kunshan"]["worse_v_share"] == 100.0
    (river,) = data["rivers"]
    # fewer than 5 sections: the mean of the sections is classified (环办〔2011〕22号 §3):
    # NH3-N (0.4 + 1.2 + 2.5 + 0.9)/4 = 1.25 → Ⅳ
    assert (river["method"], river["label"], river["n_sections"]) == ("mean", "Ⅳ", 4)


def test_policy_bureau_a_does_not_count_bureau_b_unshared_sections(region):
    qp = services.water_assessment(region["users"]["qp"], period=OCT)
    assert sorted(by_site(qp)) == ["QP-W1", "QP-W2"]
    assert qp["summary"]["n_classified"] == 2
    assert qp["summary"]["worse_v_share"] == 0.0  # KS-W1 (劣Ⅴ) is not shared with 青浦
    assert [b["code"] for b in qp["bureaus"]] == ["qingpu"]
    ks = services.water_assessment(region["users"]["ks"], period=OCT)
    assert sorted(by_site(ks)) == ["KS-W1", "QP-W1"]  # QP-W1 is shared with 昆山
    assert ks["summary"]["good_share"] == 50.0 and ks["summary"]["worse_v_share"] == 50.0
    js = services.water_assessment(region["users"]["js"], period=OCT)
    assert sorted(by_site(js)) == ["JS-W1"]


def test_scope_of_one_bureau_and_unknown_scope(region):
    data = services.water_assessment(region["users"]["ks"], period=OCT, scope="qingpu")
    assert sorted(by_site(data)) == ["QP-W1"]  # only what 青浦 shares
    with pytest.raises(services.ScopeError):
        services.water_assessment(region["users"]["ks"], period=OCT, scope="nobody")


def test_quarter_is_the_mean_of_its_months(region):
    q = services.water_assessment(region["users"]["admin"], period=parse("quarter", "2026-Q3"))
    rows = by_site(q)
    # Q3 holds only September: QP-W2 NH3-N 0.8 → Ⅲ
    assert rows["QP-W2"]["label"] == "Ⅲ"
    q4 = services.water_assessment(region["users"]["admin"], period=parse("quarter", "2026-Q4"))
    assert by_site(q4)["QP-W2"]["indicators"]["nh3_n"]["value"] == pytest.approx(1.2)
    y = services.water_assessment(region["users"]["admin"], period=parse("year", "2026"))
    assert by_site(y)["QP-W2"]["indicators"]["nh3_n"]["value"] == pytest.approx((0.8 + 1.2) / 2)
    assert by_site(y)["QP-W2"]["indicators"]["nh3_n"]["months"] == 2


def test_cache_is_used_and_invalidated_when_late_data_change_the_month(region):
    admin = region["users"]["admin"]
    before = by_site(services.water_assessment(admin, period=OCT))["JS-W1"]
    assert before["label"] == "Ⅲ"
    row = CachedFacts.objects.get(kind="water", site=region["sites"]["JS-W1"], start=OCT.start)
    version, computed = row.version, row.computed
    sep = CachedFacts.objects.get(kind="water", site=region["sites"]["JS-W1"], start=parse("month", "2026-09").start)
    sep_computed = sep.computed
    services.water_assessment(admin, period=OCT)
    row.refresh_from_db()
    assert (row.version, row.computed) == (version, computed)  # served from the cache
    # a late value for 31 October: NH3-N 5.0 → mean (30·0.9 + 5.0)/31 = 1.032 → Ⅳ
    write(region["sites"]["JS-W1"], "nh3_n", SeriesKind.DAY, [(day(2026, 10, 31), 5.0)])
    recompute()
    after = by_site(services.water_assessment(admin, period=OCT))["JS-W1"]
    assert after["indicators"]["nh3_n"]["value"] == pytest.approx((30 * 0.9 + 5.0) / 31)
    assert after["label"] == "Ⅳ" and after["meets_target"] is False
    row.refresh_from_db()
    assert row.version != version
    # September's cache row was not touched by an October change
    sep.refresh_from_db()
    assert sep.computed == sep_computed


def test_air_daily_aqi_good_days_and_composite(region):
    data = services.air_assessment(region["users"]["admin"], period=OCT)
    st = {s["site"]: s for s in data["stations"]}
    qp = st["QP-A1"]
    # daily IAQI: PM10 50 → 50, O3 8-h 100 → 50, PM2.5 30 → 43: AQI 50 (优) every day
    assert qp["calendar"][0] == ["2026-10-01", 50, 1, ""]
    assert len(qp["calendar"]) == 31
    assert (qp["valid_days"], qp["good_days"], qp["good_day_ratio"]) == (31, 31, 100.0)
    assert qp["pm2_5_mean"] == 30.0 and qp["o3_8h_p90"] == 100.0
    assert qp["composite_index"] == 3.31 and qp["complete"] is True
    js = st["JS-A1"]
    # HJ 633-2026 (in force from 2026-03-01) PM2.5 24-h breakpoints 35/60/115 µg/m³ for IAQI 50/100/150:
    # 80 µg/m³ → 100 + (80 − 60)/(115 − 60)·50 = 118.2, rounded up → 119 (轻度污染)
    assert js["calendar"][0][1:3] == [119, 3]
    assert js["good_days"] == 21 and js["good_day_ratio"] == pytest.approx(100 * 21 / 31, abs=0.01)
    assert js["pm2_5_mean"] == pytest.approx(46.1, abs=0.05)
    assert js["composite_index"] == 3.77
    juris = {j["code"]: j for j in data["jurisdictions"]}
    assert juris["320583"]["n_stations"] == 2 and juris["320583"]["composite_index"] == 3.31


def test_air_policy(region):
    data = services.air_assessment(region["users"]["qp"], period=OCT)
    assert [s["site"] for s in data["stations"]] == ["QP-A1"]
    assert [j["code"] for j in data["jurisdictions"]] == ["310118"]


def test_rankings_share_ranks_for_ties(region):
    data = services.rankings(region["users"]["admin"], period=OCT)
    rows = {r["code"]: r for r in data["rows"]}
    assert {c: r["composite_index"] for c, r in rows.items()} == {"310118": 3.31, "320583": 3.31, "330421": 3.77}
    assert {c: r["composite_index_rank"] for c, r in rows.items()} == {"310118": 1, "320583": 1, "330421": 3}
    # water compliance: 嘉善 1/1, 青浦 1/2, 昆山 0/1
    assert {c: r["compliance_rate"] for c, r in rows.items()} == {"310118": 50.0, "320583": 0.0, "330421": 100.0}
    assert {c: r["compliance_rate_rank"] for c, r in rows.items()} == {"310118": 2, "320583": 3, "330421": 1}
    assert {c: r["good_day_ratio_rank"] for c, r in rows.items()} == {"310118": 1, "320583": 1, "330421": 3}
    # September: water only (no air data): compliance 青浦 2/2 (QP-W2 was Ⅲ) → rank 1 shared with 嘉善
    assert rows["310118"]["compliance_rate_previous"] == 100.0
    assert rows["310118"]["compliance_rate_previous_rank"] == 1
    assert rows["310118"]["compliance_rate_rank_change"] == -1
    assert rows["310118"]["composite_index_previous"] is None


def test_rankings_follow_the_policy(region):
    rows = services.rankings(region["users"]["qp"], period=OCT)["rows"]
    assert [r["code"] for r in rows] == ["310118"]


def test_a_station_without_data_in_the_period_does_not_count_in_its_district(region):
    from gongzhi.registry import models as reg

    reg.Site.objects.create(code="KS-A3", name="新站", kind="air_station", owner=region["bureaus"]["ks"],
                            jurisdiction=region["sites"]["KS-A1"].jurisdiction, lon=121.0, lat=31.1)
    data = services.air_assessment(region["users"]["admin"], period=OCT)
    st = {s["site"]: s for s in data["stations"]}
    assert st["KS-A3"]["valid_days"] == 0 and st["KS-A3"]["good_day_ratio"] is None and st["KS-A3"]["calendar"] == []
    assert st["KS-A3"]["composite_index"] is None
    juris = {j["code"]: j for j in data["jurisdictions"]}
    assert juris["320583"]["n_stations"] == 2 and juris["320583"]["composite_index"] == 3.31


def test_a_period_without_any_data(region):
    data = services.water_assessment(region["users"]["admin"], period=parse("year", "2020"))
    assert [r["water_class"] for r in data["sections"]] == [None] * 4
    assert data["summary"]["n_classified"] == 0 and data["summary"]["good_share"] is None
    assert data["rivers"] == []
    air = services.air_assessment(region["users"]["admin"], period=parse("month", "2020-02"))
    assert all(s["valid_days"] == 0 for s in air["stations"]) and air["jurisdictions"] == []
    ranks = services.rankings(region["users"]["admin"], period=parse("month", "2020-02"))
    assert ranks["rows"] == []


def test_a_series_in_an_unknown_unit_is_left_out_and_the_rest_still_counts(region):
    from gongzhi.observations import services as obs
    from gongzhi.observations.models import Source
    from gongzhi.registry import models as reg

    obs.series_resolver.clear()
    sid = obs.series_resolver.get(site=region["sites"]["QP-W2"], parameter=reg.Parameter.objects.get(key="do"),
                                  kind=SeriesKind.DAY, unit="furlong/fortnight")
    obs.write_observations([obs.ObservationRow(sid, day(2026, 10, d), 0.5, "N", 0) for d in range(1, 32)], source=Source.DEVICE)
    recompute()
    row = by_site(services.water_assessment(region["users"]["admin"], period=OCT))["QP-W2"]
    assert "do" not in row["indicators"]  # DO 0.5 in mg/L would be worse than Ⅴ: not guessed
    assert row["label"] == "Ⅳ" and set(row["indicators"]) == {"nh3_n", "tp", "codmn"}


def test_towns_are_ranked_when_sites_are_registered_at_town_level(region):
    from gongzhi.registry import models as reg

    qp_county = region["sites"]["QP-A1"].jurisdiction
    town = reg.Jurisdiction.objects.create(adcode="310118101", name="朱家角镇", name_en="Zhujiajiao", level="town", parent=qp_county)
    for code in ("QP-A1", "QP-W2"):
        reg.Site.objects.filter(code=code).update(jurisdiction=town)
    towns = services.rankings(region["users"]["admin"], period=OCT, level="town")["rows"]
    assert [(r["code"], r["composite_index"], r["compliance_rate"]) for r in towns] == [("310118101", 3.31, 0.0)]
    # the county still counts its town's sites
    counties = {r["code"]: r for r in services.rankings(region["users"]["admin"], period=OCT)["rows"]}
    assert counties["310118"]["composite_index"] == 3.31 and counties["310118"]["n_sections"] == 2
