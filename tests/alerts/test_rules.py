"""Rules configured in the database, compiled and evaluated on stored data: each kind on both
sides of its threshold, deduplication, flapping, permit limits per averaging period."""

import datetime as dt

import pytest
from django.core.exceptions import ValidationError

from alerts_helpers import T0, feed, series, region  # noqa: F401 (fixtures)
from gongzhi.alerts import services
from gongzhi.alerts.evaluation import Evaluator
from gongzhi.alerts.models import Alarm, AlarmEvent, AlarmRule
from gongzhi.registry import models as reg


def rule(region, **kw):
    kw.setdefault("owner", region["ks"])
    kw.setdefault("name", "r")
    kw.setdefault("propagate", False)
    return services.create_rule(**kw)


def test_target_class_exceedance_both_sides(region):
    # GB 3838-2002 Table 1: ammonia nitrogen class Ⅲ ≤ 1.0 mg/L; UP's target class is Ⅲ
    s = series(region["up"], region["p"]["nh3_n"])
    rule(region, kind="exceedance", parameter=region["p"]["nh3_n"], site=region["up"], limit_source="target_class")
    ev = Evaluator()
    feed(ev, s, [0.8, 1.0])
    assert Alarm.objects.count() == 0
    feed(ev, s, [1.2], start=T0 + dt.timedelta(minutes=5))
    a = Alarm.objects.get()
    assert (a.value, a.limit, a.state, a.owner, a.site) == (1.2, 1.0, "open", region["ks"], region["up"])
    assert a.evidence["limits"]["basis"] == "GB 3838-2002 Ⅲ"
    assert AlarmEvent.objects.filter(alarm=a, kind="opened").count() == 1


def test_dissolved_oxygen_is_a_lower_limit(region):
    # GB 3838-2002 Table 1: DO class Ⅲ ≥ 5 mg/L
    s = series(region["up"], region["p"]["do"])
    rule(region, kind="exceedance", parameter=region["p"]["do"], limit_source="target_class")
    ev = Evaluator()
    feed(ev, s, [5.0, 6.0])
    assert not Alarm.objects.exists()
    feed(ev, s, [4.8], start=T0 + dt.timedelta(hours=1))
    assert Alarm.objects.get().limit == 5.0


def test_standard_class_uses_lake_limits_for_a_lake(region):
    # GB 3838-2002 Table 1: total phosphorus class Ⅲ ≤ 0.2 (river), ≤ 0.05 (lake, reservoir)
    s_lake = series(region["lake"], region["p"]["tp"])
    s_river = series(region["up"], region["p"]["tp"])
    rule(region, kind="exceedance", parameter=region["p"]["tp"], limit_source="standard_class", standard_class=3)
    ev = Evaluator()
    feed(ev, s_lake, [0.06])
    feed(ev, s_river, [0.06])
    a = Alarm.objects.get()
    assert (a.site, a.limit) == (region["lake"], 0.05)


def test_fixed_limit_in_the_series_unit_and_scope_by_group(region):
    group = services.create_group(code="g", name="g", owner=region["ks"], kind="explicit", sites=[region["up"]])
    s_up = series(region["up"], region["p"]["nh3_n"])
    s_lk = series(region["lake"], region["p"]["nh3_n"])
    rule(region, kind="exceedance", parameter=region["p"]["nh3_n"], group=group, limit_source="fixed", upper=0.5)
    ev = Evaluator()
    feed(ev, s_up, [0.6])
    feed(ev, s_lk, [0.9])  # not in the group
    assert list(Alarm.objects.values_list("site__code", flat=True)) == ["UP"]


def test_permit_limit_per_averaging_period(region):
    o1, cod = region["o1"], region["p"]["cod"]
    reg.PermitLimit.objects.create(outlet=o1, parameter=cod, period="hour", limit=80, unit="mg/L", standard="GB 4287-2012")
    reg.PermitLimit.objects.create(outlet=o1, parameter=cod, period="instant", limit=200, unit="mg/L", standard="GB 4287-2012")
    s = series(o1, cod, unit="mg/L")
    rule(region, kind="exceedance", limit_source="permit")
    ev = Evaluator()
    # instantaneous values: 150 is over the hourly limit but not the instantaneous one
    feed(ev, s, [150.0])
    assert not Alarm.objects.exists()
    feed(ev, s, [210.0], start=T0 + dt.timedelta(minutes=10))
    a = Alarm.objects.get()
    assert (a.data, a.limit, a.outlet) == ("value", 200.0, o1)
    # the hour aggregate: 79 compliant, 85 over the hourly limit
    ev.aggregates([(s.pk, "hour", T0, 79.0, True, "N")], now=T0 + dt.timedelta(hours=1))
    assert Alarm.objects.filter(data="hour").count() == 0
    ev.aggregates([(s.pk, "hour", T0 + dt.timedelta(hours=1), 85.0, True, "N")], now=T0 + dt.timedelta(hours=2))
    h = Alarm.objects.get(data="hour")
    assert h.limit == 80.0 and "GB 4287-2012" in h.evidence["limits"]["basis"]
    # an invalid aggregate (too few values) decides nothing
    ev.aggregates([(s.pk, "hour", T0 + dt.timedelta(hours=2), 10.0, False, "")], now=T0 + dt.timedelta(hours=3))
    assert Alarm.objects.get(data="hour").state == "open"


def test_sustained_for_a_duration(region):
    s = series(region["up"], region["p"]["nh3_n"])
    rule(region, kind="exceedance", parameter=region["p"]["nh3_n"], limit_source="target_class", duration_minutes=10)
    ev = Evaluator()
    feed(ev, s, [1.5] * 10)  # 9 minutes of bad values (t = 0 … 540 s)
    assert not Alarm.objects.exists()
    feed(ev, s, [1.5], start=T0 + dt.timedelta(minutes=10))
    a = Alarm.objects.get()
    assert a.started_at == T0 and a.evidence["duration_s"] == 600


def test_rate_of_change(region):
    s = series(region["up"], region["p"]["nh3_n"])
    rule(region, kind="rate", parameter=region["p"]["nh3_n"], rate_per_h=1.0)
    ev = Evaluator()
    feed(ev, s, [0.5, 0.51, 0.52], step_s=600)  # 0.06/h
    assert not Alarm.objects.exists()
    feed(ev, s, [0.9], start=T0 + dt.timedelta(minutes=30))  # +0.38 in 10 min = 2.28/h
    assert Alarm.objects.get().kind == "rate"


def test_device_flags_and_invalid_values_are_not_pollution(region):
    s = series(region["up"], region["p"]["nh3_n"])
    rule(region, name="flags", kind="flag", flags="D,C,M,F")
    rule(region, name="nh3", kind="exceedance", parameter=region["p"]["nh3_n"], limit_source="target_class")
    ev = Evaluator()
    feed(ev, s, [(0.5, "N"), (0.5, "T")])
    assert not Alarm.objects.exists()
    rows = [(s.pk, int((T0 + dt.timedelta(minutes=3)).timestamp() * 1e6), 9.9, "D", 4)]  # QC_FLAG_INVALID
    ev.values(rows, now=T0 + dt.timedelta(minutes=4))
    a = Alarm.objects.get()
    assert a.kind == "flag" and a.evidence["flag"] == "D"  # a fault, and the 9.9 is not an exceedance


def test_a_silent_station_is_one_alarm_a_silent_analyser_its_own(region):
    """A logger offline: every parameter of the station goes silent in the same round, and one alarm
    says so (with the parameters); one analyser that stops while the others report gets its own."""
    from gongzhi.accounts.models import User
    from gongzhi.notifications.models import Notification

    keys = ("nh3_n", "codmn", "tp")
    params = {k: reg.Parameter.objects.get(key=k) for k in keys}
    ss = [series(region["up"], params[k]) for k in keys]
    rule(region, kind="missing", missing_minutes=30)
    ev = Evaluator()
    for s in ss:
        feed(ev, s, [0.5], now=T0)
    ev.missing(now=T0 + dt.timedelta(minutes=31))
    a = Alarm.objects.get()
    assert a.series == min(ss, key=lambda s: s.pk)
    assert a.evidence["station_silent"] == 3
    assert sorted(a.evidence["parameters"]) == sorted(params[k].code_2017 for k in keys)
    officers = User.objects.filter(bureau=region["ks"], role="emergency_duty_officer").count()
    notes = list(Notification.objects.filter(kind="alarm.opened"))
    assert officers and len(notes) == officers  # one notification each, not one per parameter
    assert all("全部 3 项因子" in n.subject for n in notes)
    from django.test import Client

    web = Client()
    web.force_login(User.objects.filter(bureau=region["ks"], role="emergency_duty_officer").first())
    assert "全部 3 项因子（整站无数据）" in web.get(f"/alerts/{a.pk}/", HTTP_ACCEPT_LANGUAGE="zh-Hans").content.decode()
    # the station is back; later only TP stops
    for s in ss:
        feed(ev, s, [0.5], start=T0 + dt.timedelta(minutes=40), now=T0 + dt.timedelta(minutes=40))
    a.refresh_from_db()
    assert a.state == "resolved"
    for s in ss[:2]:
        feed(ev, s, [0.5], start=T0 + dt.timedelta(minutes=60), now=T0 + dt.timedelta(minutes=60))
    ev.missing(now=T0 + dt.timedelta(minutes=75))
    [tp] = Alarm.objects.filter(state="open")
    assert tp.series == ss[2] and "station_silent" not in tp.evidence


def test_missing_data_counts_from_when_the_next_hourly_value_was_due(region):
    """An hourly series is quiet for an hour between its values: a 30-minute missing-data rule
    fires on it 30 minutes after the next value was due (90 minutes after the last), not at 31."""
    s = series(region["up"], region["p"]["nh3_n"], kind="hour")
    rule(region, kind="missing", missing_minutes=30)
    ev = Evaluator()
    feed(ev, s, [0.5], now=T0)
    ev.missing(now=T0 + dt.timedelta(minutes=61))
    assert not Alarm.objects.exists()
    ev.missing(now=T0 + dt.timedelta(minutes=91))
    assert Alarm.objects.get().started_at == T0


def test_missing_data_with_a_fake_clock(region):
    s = series(region["up"], region["p"]["nh3_n"])
    rule(region, kind="missing", missing_minutes=30)
    ev = Evaluator()
    feed(ev, s, [0.5], now=T0)  # received at T0
    ev.missing(now=T0 + dt.timedelta(minutes=30))
    assert not Alarm.objects.exists()
    ev.missing(now=T0 + dt.timedelta(minutes=31))
    a = Alarm.objects.get()
    assert a.kind == "missing" and a.started_at == T0
    feed(ev, s, [0.5], start=T0 + dt.timedelta(minutes=40), now=T0 + dt.timedelta(minutes=40))
    a.refresh_from_db()
    assert a.state == "resolved"


def test_bloom_grade_from_algal_density(region):
    s = series(region["lake"], region["p"]["algal_density"])
    rule(region, kind="bloom", parameter=region["p"]["algal_density"], bloom_level=4)
    ev = Evaluator()
    feed(ev, s, [4.0e7])  # HJ 1098-2020: Ⅲ (1×10^7 … 5×10^7 cells/L)
    assert not Alarm.objects.exists()
    feed(ev, s, [6.0e7], start=T0 + dt.timedelta(minutes=5))  # Ⅳ 中度水华
    assert Alarm.objects.get().evidence["level"] == 4


def test_bloom_from_chlorophyll_needs_configured_breaks(region):
    chl = region["p"]["chl_a"]
    with pytest.raises(ValidationError):
        rule(region, kind="bloom", parameter=chl, bloom_level=3)
    with pytest.raises(ValidationError):
        rule(region, kind="bloom", parameter=chl, bloom_level=3, chla_breaks="10,5,40,80")
    rule(region, kind="bloom", parameter=chl, bloom_level=3, chla_breaks="10,20,40,80")
    s = series(region["lake"], chl)
    ev = Evaluator()
    feed(ev, s, [19.0])
    assert not Alarm.objects.exists()
    feed(ev, s, [25.0], start=T0 + dt.timedelta(minutes=5))
    assert Alarm.objects.count() == 1


def test_one_alarm_per_condition_across_evaluators(region):
    s = series(region["up"], region["p"]["nh3_n"])
    rule(region, kind="exceedance", parameter=region["p"]["nh3_n"], limit_source="target_class")
    a, b = Evaluator(), Evaluator()  # e.g. the live thread and a catch-up in another process
    feed(a, s, [1.5])
    b.values([(s.pk, int(T0.timestamp() * 1e6), 1.5, "N", 0)], now=T0)
    feed(a, s, [1.6], start=T0 + dt.timedelta(minutes=2))
    assert Alarm.objects.count() == 1
    # cleared, then bad again: a new alarm (the old one is history)
    feed(a, s, [0.5], start=T0 + dt.timedelta(minutes=3))
    feed(a, s, [1.7], start=T0 + dt.timedelta(minutes=4))
    assert list(Alarm.objects.order_by("id").values_list("state", flat=True)) == ["resolved", "open"]


def test_flapping_is_suppressed(region):
    s = series(region["up"], region["p"]["nh3_n"])
    rule(region, kind="exceedance", parameter=region["p"]["nh3_n"], limit_source="target_class",
         hysteresis_pct=10, min_clear_minutes=15)
    ev = Evaluator()
    # oscillating around 1.0 mg/L every minute for an hour
    feed(ev, s, [1.05 if i % 2 else 0.97 for i in range(60)])
    assert Alarm.objects.count() == 1
    assert Alarm.objects.get().state == "open"
    # clearly good (< 0.9) for 15 minutes: resolved once
    feed(ev, s, [0.5] * 16, start=T0 + dt.timedelta(hours=1))
    assert list(Alarm.objects.values_list("state", flat=True)) == ["resolved"]


def test_old_values_raise_nothing(region):
    s = series(region["up"], region["p"]["nh3_n"])
    rule(region, kind="exceedance", parameter=region["p"]["nh3_n"], limit_source="target_class")
    ev = Evaluator()
    feed(ev, s, [5.0], now=T0 + dt.timedelta(days=3))  # a back-fill of history
    assert not Alarm.objects.exists()


def test_disabled_and_changed_rules_are_recompiled(region):
    s = series(region["up"], region["p"]["nh3_n"])
    r = rule(region, kind="exceedance", parameter=region["p"]["nh3_n"], limit_source="fixed", upper=2.0)
    ev = Evaluator()
    feed(ev, s, [1.5])
    assert not Alarm.objects.exists()
    r.upper = 1.0
    services.save_rule(rule=r)
    services.rules_changed()  # (on commit in production; the test transaction never commits)
    feed(ev, s, [1.5], start=T0 + dt.timedelta(minutes=5))
    assert Alarm.objects.count() == 1


def test_rule_validation(region):
    with pytest.raises(ValidationError):
        rule(region, kind="exceedance", parameter=region["p"]["nh3_n"])  # no limit source
    with pytest.raises(ValidationError):
        rule(region, kind="missing")
    with pytest.raises(ValidationError):
        rule(region, kind="exceedance", limit_source="fixed", parameter=region["p"]["nh3_n"], site=region["up"],
             outlet=region["o1"], upper=1)
    assert AlarmRule.objects.count() == 0


def test_permit_flow_in_cubic_metres_per_day_against_a_flow_in_litres_per_second(region):
    """A permitted daily volume (m³/d) is a flow rate: the day's mean flow in L/s is compared with
    limit / 86.4 (1 L/s = 86.4 m³/d)."""
    o1, flow = region["o1"], reg.Parameter.objects.get(key="wastewater_flow")
    reg.PermitLimit.objects.create(outlet=o1, parameter=flow, period="day", limit=864, unit="m3/d", standard="排污许可证")
    s = series(o1, flow, kind="hour", unit="L/s")
    rule(region, kind="exceedance", limit_source="permit")
    ev = Evaluator()
    ev.aggregates([(s.pk, "day", T0 - dt.timedelta(days=2), 9.5, True, "N")], now=T0)
    assert not Alarm.objects.exists()  # 9.5 L/s = 820.8 m³/d
    ev.aggregates([(s.pk, "day", T0 - dt.timedelta(days=1), 10.5, True, "N")], now=T0)
    a = Alarm.objects.get()  # 10.5 L/s = 907.2 m³/d
    assert (a.data, a.value) == ("day", 10.5) and a.limit == pytest.approx(10.0)


def test_a_day_mean_is_judged_once_the_day_is_over(region):
    """A day aggregate recomputed at 21:00 (valid with ≥ 20 hours) may still change: the rule on
    day means judges it only when the day is over."""
    o1, cod = region["o1"], region["p"]["cod"]
    reg.PermitLimit.objects.create(outlet=o1, parameter=cod, period="day", limit=80, unit="mg/L", standard="GB 4287-2012")
    s = series(o1, cod, kind="hour", unit="mg/L")
    rule(region, kind="exceedance", limit_source="permit")
    ev = Evaluator()
    day = T0 - dt.timedelta(hours=8)  # 00:00 Beijing
    ev.aggregates([(s.pk, "day", day, 95.0, True, "N")], now=day + dt.timedelta(hours=21))
    assert not Alarm.objects.exists()
    ev.aggregates([(s.pk, "day", day, 92.0, True, "N")], now=day + dt.timedelta(hours=24, minutes=1))
    a = Alarm.objects.get()
    assert (a.data, a.value) == ("day", 92.0)


def test_permit_early_warning_on_arriving_values(region):
    o1, cod = region["o1"], region["p"]["cod"]
    reg.PermitLimit.objects.create(outlet=o1, parameter=cod, period="day", limit=80, unit="mg/L", standard="GB 4287-2012")
    s = series(o1, cod, unit="mg/L")
    rule(region, kind="exceedance", limit_source="permit_early", duration_minutes=15)
    ev = Evaluator()
    feed(ev, s, [120.0] * 15)  # 14 minutes over the daily limit
    assert not Alarm.objects.exists()
    feed(ev, s, [120.0], start=T0 + dt.timedelta(minutes=15))
    a = Alarm.objects.get()
    assert (a.data, a.limit) == ("value", 80.0) and "实时预警" in a.evidence["limits"]["basis"]


def test_gb3095_limits_by_averaging_period_and_edition():
    """GB 3095 limits by data level: 1-hour limits for hour means and arriving values, 24-hour limits
    for day means, the edition in force on the day. GB 3095-2012 Table 1, Grade Ⅱ: NO2 1-h 200 µg/m³,
    CO 1-h 10 mg/m³, PM2.5 24-h 75 µg/m³; GB 3095-2026 transitional PM2.5 24-h 60 µg/m³
    (from 2026-03-01). PM has no 1-hour limit and O3 no 24-hour one."""
    from gongzhi.alerts.evaluation import _air_limit

    d2025, d2026 = dt.date(2025, 12, 5), dt.date(2026, 12, 5)
    assert _air_limit("no2", 2, "hour", "µg/m³", d2025) == (200.0, "GB 3095-2012 二级 1h")
    assert _air_limit("no2", 2, "value", "µg/m³", d2025) == (200.0, "GB 3095-2012 二级 1h")
    assert _air_limit("co", 2, "hour", "mg/m³", d2025) == (10.0, "GB 3095-2012 二级 1h")
    assert _air_limit("pm2_5", 2, "day", "µg/m³", d2025) == (75.0, "GB 3095-2012 二级 24h")
    assert _air_limit("pm2_5", 2, "day", "µg/m³", d2026) == (60.0, "GB 3095-2026/transitional 二级 24h")
    assert _air_limit("pm2_5", 2, "day", "mg/m³", d2025)[0] == pytest.approx(0.075)  # in the series' unit
    assert _air_limit("pm2_5", 2, "hour", "µg/m³", d2025) is None
    assert _air_limit("o3", 2, "day", "µg/m³", d2025) is None
    assert _air_limit("nh3_n", 2, "hour", "mg/L", d2025) is None


def test_air_grade_rule_on_hour_means_of_air_stations_only(region):
    ks, ks_j = region["ks"], region["up"].jurisdiction
    air = reg.Site.objects.create(code="AIR1", name="空气站", kind="air_station", owner=ks, jurisdiction=ks_j,
                                  lon=120.9, lat=31.2)
    no2 = reg.Parameter.objects.get(key="no2")
    s_air = series(air, no2, kind="rtd", unit="µg/m³")
    so2 = reg.Parameter.objects.get(key="so2")
    s_stack = series(region["o1"], so2, kind="rtd", unit="mg/m³")  # flue gas: not ambient air
    rule(region, kind="exceedance", limit_source="air_grade", air_grade=2, parameter=no2, data="hour")
    rule(region, name="so2", kind="exceedance", limit_source="air_grade", air_grade=2, parameter=so2)
    with pytest.raises(ValidationError):
        rule(region, name="no grade", kind="exceedance", limit_source="air_grade", parameter=no2)
    ev = Evaluator()
    feed(ev, s_stack, [800.0])  # far over the ambient 1-hour SO2 limit (500 µg/m³), but a stack
    ev.aggregates([(s_air.pk, "hour", T0, 195.0, True, "N")], now=T0 + dt.timedelta(hours=1))
    assert not Alarm.objects.exists()
    ev.aggregates([(s_air.pk, "hour", T0 + dt.timedelta(hours=1), 230.0, True, "N")], now=T0 + dt.timedelta(hours=2))
    a = Alarm.objects.get()  # GB 3095 Grade Ⅱ NO2 1-hour mean 200 µg/m³ (2012 Table 1; same in 2026)
    assert (a.site, a.data, a.value, a.limit) == (air, "hour", 230.0, 200.0)
    assert "GB 3095" in a.evidence["limits"]["basis"] and "1h" in a.evidence["limits"]["basis"]


def test_one_value_of_an_hourly_station_meets_a_short_duration(region):
    """A water station that reports real-time data once an hour (the demo's, like many automatic
    stations) cannot show a 10-minute condition with two values: one bad value stands for its hour
    and meets the duration; the missing-data clock allows the hour between its values."""
    reg.Device.objects.create(mn="HOURLY-UP-0001", password="123456", system_code="21", site=region["up"],
                                          interval_s=3600, name="hourly")
    s = series(region["up"], region["p"]["nh3_n"])
    rule(region, kind="exceedance", parameter=region["p"]["nh3_n"], limit_source="target_class", duration_minutes=10)
    rule(region, name="m", kind="missing", missing_minutes=30)
    ev = Evaluator()
    feed(ev, s, [0.5], now=T0)
    ev.missing(now=T0 + dt.timedelta(minutes=61))
    assert not Alarm.objects.exists()
    feed(ev, s, [1.6], start=T0 + dt.timedelta(hours=1), now=T0 + dt.timedelta(hours=1))
    a = Alarm.objects.get()
    assert a.kind == "exceedance" and a.evidence["sampling_interval_s"] == 3600
    # a minute-by-minute station still needs the full duration
    s2 = series(region["lake"], region["p"]["nh3_n"])
    reg.Device.objects.create(mn="MINUTE-LK-0001", password="123456", system_code="21", site=region["lake"], interval_s=60)
    ev2 = Evaluator()
    feed(ev2, s2, [1.6] * 5)
    assert not Alarm.objects.filter(site=region["lake"]).exists()
