"""Aggregates: exact values, validity thresholds on both sides, the Appendix C flag rules,
dirty tracking (late data, revisions, keys re-marked during a recompute), one source per
hour (no double counting) and Beijing-time periods. Runs on SQLite and PostgreSQL."""

import datetime as dt

import pytest

from gongzhi.observations import aggregates as agg
from gongzhi.observations import services as obs
from gongzhi.observations.models import Aggregate, DirtyPeriod, PendingChange, Period, Series, SeriesKind, Source

CST = dt.timezone(dt.timedelta(hours=8))
UTC = dt.timezone.utc
T0 = dt.datetime(2026, 1, 1, tzinfo=UTC)
T1 = dt.datetime(2026, 1, 2, tzinfo=UTC)


def local(*args):
    return dt.datetime(*args, tzinfo=CST)


def new_series(site, parameter, kind):
    obs.series_resolver.clear()
    return obs.series_resolver.get(site=site, parameter=parameter, kind=kind)


def write(sid, points, flag="N", qc=0):
    """points: (time, value) or (time, value, flag)."""
    rows = [obs.ObservationRow(sid, p[0], p[1], p[2] if len(p) > 2 else flag, qc) for p in points]
    return obs.write_observations(rows, source=Source.DEVICE)


def aggs(sid, period):
    return {a.start.astimezone(CST): a for a in Aggregate.objects.filter(series_id=sid, period=period)}


def one(sid, period, start):
    return Aggregate.objects.get(series_id=sid, period=period, start=start)


# --- exact values ---------------------------------------------------------------------------------


def test_hour_day_month_exact_on_hand_computed_data(air):
    sid = new_series(air["site"], air["pm25"], SeriesKind.MINUTE)
    # hour h of 2026-05-01 (Beijing): 60 minute values m → 10·h + m/10; 20 full hours
    write(sid, [(local(2026, 5, 1, h, m), 10.0 * h + m / 10) for h in range(20) for m in range(60)])
    r = agg.recompute_dirty(now=T0)
    assert (r.keys, r.hours, r.days, r.months, r.values) == (20, 20, 1, 1, 1200)
    h3 = one(sid, Period.HOUR, local(2026, 5, 1, 3))
    # mean of 30.0 … 35.9 = 30 + 2.95
    assert h3.value == pytest.approx(32.95)
    assert (h3.vmin, h3.vmax, h3.n, h3.coverage, h3.valid, h3.flag, h3.source_kind) == (30.0, 35.9, 60, 1.0, True, "N", "min")
    day = one(sid, Period.DAY, local(2026, 5, 1))
    # hour means 10·h + 2.95, h = 0…19 → 95 + 2.95
    assert day.value == pytest.approx(97.95)
    assert (day.n, day.valid, day.flag, day.vmin, day.vmax) == (20, True, "N", pytest.approx(2.95), pytest.approx(192.95))
    assert day.coverage == pytest.approx(20 / 24)
    month = one(sid, Period.MONTH, local(2026, 5, 1))
    assert (month.value, month.n, month.valid) == (pytest.approx(97.95), 1, False)
    assert month.coverage == pytest.approx(1 / 31)
    assert not DirtyPeriod.objects.exists()


def test_invalid_values_are_left_out_of_the_mean(air):
    sid = new_series(air["site"], air["pm25"], SeriesKind.MINUTE)
    points = [(local(2026, 5, 1, 8, m), 10.0) for m in range(50)]
    points += [(local(2026, 5, 1, 8, m), 1000.0, "N") for m in range(50, 55)]
    write(sid, points)
    write(sid, [(local(2026, 5, 1, 8, m), 1000.0) for m in range(55, 60)], qc=obs_qc_out_of_range())
    obs.write_observations([obs.ObservationRow(sid, local(2026, 5, 1, 9, 0), None, "N")], source=Source.DEVICE)
    agg.recompute_dirty()
    h = one(sid, Period.HOUR, local(2026, 5, 1, 8))
    # 50 × 10 + 5 × 1000 usable; 5 out-of-range values excluded
    assert h.n == 55
    assert h.value == pytest.approx((500 + 5000) / 55)
    null_hour = one(sid, Period.HOUR, local(2026, 5, 1, 9))
    assert (null_hour.n, null_hour.value, null_hour.valid) == (0, None, False)


def obs_qc_out_of_range():
    from gongzhi.observations.models import QC_OUT_OF_RANGE

    return QC_OUT_OF_RANGE


# --- validity thresholds --------------------------------------------------------------------------


@pytest.mark.parametrize("minutes, valid", [(44, False), (45, True)])
def test_air_hour_needs_45_minutes(air, minutes, valid):
    sid = new_series(air["site"], air["pm25"], SeriesKind.MINUTE)
    write(sid, [(local(2026, 5, 1, 10, m), 5.0) for m in range(minutes)])
    agg.recompute_dirty()
    h = one(sid, Period.HOUR, local(2026, 5, 1, 10))
    assert (h.valid, h.n, h.coverage) == (valid, minutes, pytest.approx(minutes / 60))


@pytest.mark.parametrize("values, valid", [(4, False), (5, True)])
def test_ten_minute_data_cover_ten_minutes_each(air, values, valid):
    # 2051 minute data every 10 minutes: 4 values cover 40 minutes, 5 cover 50
    sid = new_series(air["site"], air["pm25"], SeriesKind.MINUTE)
    write(sid, [(local(2026, 5, 1, 10, 10 * i), 5.0) for i in range(values)])
    agg.recompute_dirty()
    assert one(sid, Period.HOUR, local(2026, 5, 1, 10)).valid is valid


def test_half_minute_realtime_values_count_minutes_not_values(air):
    sid = new_series(air["site"], air["pm25"], SeriesKind.REALTIME)
    # 90 values every 30 s = 45 minutes
    write(sid, [(local(2026, 5, 1, 10) + dt.timedelta(seconds=30 * i), 5.0) for i in range(90)])
    agg.recompute_dirty()
    h = one(sid, Period.HOUR, local(2026, 5, 1, 10))
    assert (h.n, h.valid, h.coverage) == (90, True, 0.75)


@pytest.mark.parametrize("hours, valid", [(19, False), (20, True)])
def test_air_day_needs_20_valid_hours(air, hours, valid):
    sid = new_series(air["site"], air["pm25"], SeriesKind.HOUR)
    write(sid, [(local(2026, 5, 2, h), float(h)) for h in range(hours)])
    agg.recompute_dirty()
    d = one(sid, Period.DAY, local(2026, 5, 2))
    assert (d.valid, d.n, d.flag) == (valid, hours, "N" if valid else "")
    assert d.value == pytest.approx(sum(range(hours)) / hours)


def test_invalid_hours_do_not_count_for_the_day(air):
    sid = new_series(air["site"], air["pm25"], SeriesKind.HOUR)
    write(sid, [(local(2026, 5, 2, h), 10.0) for h in range(20)])
    write(sid, [(local(2026, 5, 2, 20), 99.0, "D")])  # a 21st hour, but flagged fault
    agg.recompute_dirty()
    d = one(sid, Period.DAY, local(2026, 5, 2))
    assert (d.n, d.value, d.valid) == (20, 10.0, True)


@pytest.mark.parametrize(
    "year, month, days, valid",
    [(2026, 5, 26, False), (2026, 5, 27, True), (2026, 2, 24, False), (2026, 2, 25, True)],
)
def test_air_month_needs_27_days_and_february_25(air, year, month, days, valid):
    # the logger's own daily values (2031) make the days
    sid = new_series(air["site"], air["pm25"], SeriesKind.DAY)
    write(sid, [(local(year, month, d + 1), float(d)) for d in range(days)])
    agg.recompute_dirty()
    m = one(sid, Period.MONTH, local(year, month, 1))
    assert (m.valid, m.n) == (valid, days)
    assert m.value == pytest.approx(sum(range(days)) / days)
    assert m.coverage == pytest.approx(days / (28 if month == 2 else 31))


def test_water_rules_are_configurable(registry, settings):
    site, param = registry["sites"][0], registry["param"]
    sid = new_series(site, param, SeriesKind.HOUR)
    write(sid, [(local(2026, 5, 3, h), 0.5) for h in (0, 4, 8)])  # a 4-hourly station, 3 values
    agg.recompute_dirty()
    assert one(sid, Period.DAY, local(2026, 5, 3)).valid is False  # default: 4 values [M]
    assert agg.rules_for("water").confidence == "M"
    settings.GONGZHI_AGGREGATE_RULES = {"water": {"day_min_hours": 3}}
    obs.mark_dirty([(sid, local(2026, 5, 3, 0))])
    agg.recompute_dirty()
    assert one(sid, Period.DAY, local(2026, 5, 3)).valid is True


# --- HJ 212 Appendix C flag rule --------------------------------------------------------------------


def test_water_interval_with_one_abnormal_value_is_abnormal(registry):
    site, param = registry["sites"][0], registry["param"]
    sid = new_series(site, param, SeriesKind.REALTIME)
    normal = [(local(2026, 5, 4, 8, 5 * i), 0.4) for i in range(12)]
    write(sid, normal)
    write(sid, [(local(2026, 5, 4, 9, 5 * i), 0.4) for i in range(11)] + [(local(2026, 5, 4, 9, 55), 0.9, "M")])
    agg.recompute_dirty()
    h8, h9 = one(sid, Period.HOUR, local(2026, 5, 4, 8)), one(sid, Period.HOUR, local(2026, 5, 4, 9))
    assert (h8.flag, h8.valid) == ("N", True)
    assert (h9.flag, h9.valid, h9.n, h9.value) == ("M", False, 11, pytest.approx(0.4))


@pytest.mark.parametrize("normal, flag", [(45, "N"), (44, "D")])
def test_gas_interval_normal_with_75_percent_normal_values(air, normal, flag):
    sid = new_series(air["site"], air["pm25"], SeriesKind.MINUTE)
    write(sid, [(local(2026, 5, 4, 8, m), 20.0, "N" if m < normal else "F") for m in range(60)])
    agg.recompute_dirty()
    h = one(sid, Period.HOUR, local(2026, 5, 4, 8))
    assert (h.flag, h.valid, h.n) == (flag, flag == "N", normal)


def test_gas_rule_applies_to_air_and_water_rule_to_water_with_the_same_flags(registry, air):
    flags = ["N"] * 50 + ["C"] * 10  # 83 % normal
    wid = new_series(registry["sites"][0], registry["param"], SeriesKind.MINUTE)
    aid = new_series(air["site"], air["pm25"], SeriesKind.MINUTE)
    for sid in (wid, aid):
        write(sid, [(local(2026, 5, 4, 8, m), 1.0, f) for m, f in enumerate(flags)])
    agg.recompute_dirty()
    assert one(aid, Period.HOUR, local(2026, 5, 4, 8)).flag == "N"
    assert one(wid, Period.HOUR, local(2026, 5, 4, 8)).flag == "C"


# --- dirty tracking ---------------------------------------------------------------------------------


def test_write_marks_each_new_hour_once_and_duplicates_mark_nothing(air):
    sid = new_series(air["site"], air["pm25"], SeriesKind.MINUTE)
    points = [(local(2026, 5, 1, h, m), 1.0) for h in (1, 2, 5) for m in (0, 30)]
    write(sid, points)
    assert PendingChange.objects.count() == 1  # one outbox row per write, whatever its size
    obs.apply_pending_changes()
    assert not PendingChange.objects.exists()
    keys = {(d.series_id, d.start.astimezone(CST).hour, d.version) for d in DirtyPeriod.objects.all()}
    assert keys == {(sid, 1, 1), (sid, 2, 1), (sid, 5, 1)}
    agg.recompute_dirty()
    assert not DirtyPeriod.objects.exists()
    write(sid, points)  # a resend: all duplicates
    assert not PendingChange.objects.exists()
    obs.apply_pending_changes()
    assert not DirtyPeriod.objects.exists()


def test_remarking_bumps_the_version(air):
    sid = new_series(air["site"], air["pm25"], SeriesKind.MINUTE)
    write(sid, [(local(2026, 5, 1, 1, 0), 1.0)])
    write(sid, [(local(2026, 5, 1, 1, 1), 1.0)])
    # two writes touching the same hour, folded together: one mark (nothing can have seen
    # the key between them, so one version step is enough)
    obs.apply_pending_changes()
    assert list(DirtyPeriod.objects.values_list("version", flat=True)) == [1]
    write(sid, [(local(2026, 5, 1, 1, 2), 1.0)])
    obs.apply_pending_changes()  # a later fold touching it again: the version moves on
    assert list(DirtyPeriod.objects.values_list("version", flat=True)) == [2]
    # and a recompute that saw version 1 does not delete the key marked again since
    agg._delete_seen([(k.id, k.series_id, k.start, 1) for k in DirtyPeriod.objects.all()])
    assert list(DirtyPeriod.objects.values_list("version", flat=True)) == [2]


def test_late_data_recompute_only_the_affected_hour_day_and_month(air):
    sid = new_series(air["site"], air["pm25"], SeriesKind.MINUTE)
    points = []
    for day in (local(2026, 4, 30), local(2026, 5, 1), local(2026, 5, 2)):
        for h in range(0, 24, 6):
            points += [(day + dt.timedelta(hours=h, minutes=m), float(h)) for m in range(0, 60, 2)]
    write(sid, points)
    agg.recompute_dirty(now=T0)
    before = {(a.period, a.start): (a.value, a.computed) for a in Aggregate.objects.filter(series_id=sid)}
    assert len(before) == 12 + 3 + 2
    # a late value in 2026-05-01 06:xx
    write(sid, [(local(2026, 5, 1, 6, 1), 36.0)])
    r = agg.recompute_dirty(now=T1)
    assert (r.keys, r.hours, r.days, r.months) == (1, 1, 1, 1)
    after = {(a.period, a.start): (a.value, a.computed) for a in Aggregate.objects.filter(series_id=sid)}
    changed = {k for k in after if after[k][1] == T1}
    assert changed == {
        (Period.HOUR, local(2026, 5, 1, 6)), (Period.DAY, local(2026, 5, 1)), (Period.MONTH, local(2026, 5, 1)),
    }
    assert after[(Period.HOUR, local(2026, 5, 1, 6))][0] == pytest.approx((30 * 6 + 36) / 31)
    assert {k: v for k, v in after.items() if k not in changed} == {k: v for k, v in before.items() if k not in changed}


def test_revision_recomputes_its_hour(registry):
    site, param = registry["sites"][0], registry["param"]
    sid = new_series(site, param, SeriesKind.REALTIME)
    write(sid, [(local(2026, 5, 5, 8, 10 * i), float(i)) for i in range(6)])
    agg.recompute_dirty()
    assert one(sid, Period.HOUR, local(2026, 5, 5, 8)).value == pytest.approx(2.5)
    series = Series.objects.get(pk=sid)
    user = registry["users"]["qp_monitor"]
    obs.revise(series=series, time=local(2026, 5, 5, 8, 50), user=user, reason="超量程", invalid=True)
    assert DirtyPeriod.objects.count() == 1
    agg.recompute_dirty()
    h = one(sid, Period.HOUR, local(2026, 5, 5, 8))
    assert (h.value, h.n) == (pytest.approx(2.0), 5)
    obs.revise(series=series, time=local(2026, 5, 5, 8, 0), user=user, reason="按质控样修正", value=6.0)
    agg.recompute_dirty()
    assert one(sid, Period.HOUR, local(2026, 5, 5, 8)).value == pytest.approx((6 + 1 + 2 + 3 + 4) / 5)


def test_a_key_marked_again_during_recompute_survives(air, monkeypatch):
    sid = new_series(air["site"], air["pm25"], SeriesKind.MINUTE)
    write(sid, [(local(2026, 5, 1, 8, m), 1.0) for m in range(50)])
    real = agg._recompute

    def with_concurrent_write(keys, now, result):
        real(keys, now, result)
        # a value of the same hour stored while the aggregates were being computed
        write(sid, [(local(2026, 5, 1, 8, 55), 100.0)])

    monkeypatch.setattr(agg, "_recompute", with_concurrent_write)
    r = agg.recompute_dirty()
    assert r.remaining == 1
    assert one(sid, Period.HOUR, local(2026, 5, 1, 8)).n == 50
    monkeypatch.setattr(agg, "_recompute", real)
    agg.recompute_dirty()
    assert one(sid, Period.HOUR, local(2026, 5, 1, 8)).n == 51
    assert not DirtyPeriod.objects.exists()


def test_limit_processes_oldest_marks_first(air):
    sid = new_series(air["site"], air["pm25"], SeriesKind.MINUTE)
    for h in range(5):
        write(sid, [(local(2026, 5, 1, h, 0), 1.0)])
    r = agg.recompute_dirty(limit=2)
    assert (r.keys, r.remaining) == (2, 3)
    assert sorted(a.start.astimezone(CST).hour for a in Aggregate.objects.filter(period=Period.HOUR)) == [0, 1]


# --- sources: no double counting --------------------------------------------------------------------


def test_logger_hour_values_win_over_realtime_and_days_count_each_hour_once(air):
    site, p = air["site"], air["pm25"]
    rtd = new_series(site, p, SeriesKind.REALTIME)
    hour = new_series(site, p, SeriesKind.HOUR)
    # real-time values every minute for hours 0–21 at 10.0; the logger's hour values for hours 0–9 at 12.0
    write(rtd, [(local(2026, 5, 6, h, m), 10.0) for h in range(22) for m in range(60)])
    write(hour, [(local(2026, 5, 6, h), 12.0) for h in range(10)])
    agg.recompute_dirty()
    # hour aggregates only on the real-time series; day and month on the anchor (the real-time series, lower id)
    assert Aggregate.objects.filter(series_id=hour).count() == 0
    assert Aggregate.objects.filter(series_id=rtd, period=Period.HOUR).count() == 22
    day = one(rtd, Period.DAY, local(2026, 5, 6))
    assert day.n == 22  # 10 logger hours + 12 computed hours, never 32
    assert day.value == pytest.approx((10 * 12.0 + 12 * 10.0) / 22)
    assert day.source_kind == "hour"


def test_minute_data_win_over_realtime_in_the_same_hour(air):
    site, p = air["site"], air["pm25"]
    rtd = new_series(site, p, SeriesKind.REALTIME)
    mnt = new_series(site, p, SeriesKind.MINUTE)
    write(rtd, [(local(2026, 5, 6, 0, m), 1.0) for m in range(60)])
    write(mnt, [(local(2026, 5, 6, 0, m), 2.0) for m in range(60)])
    write(rtd, [(local(2026, 5, 6, 1, m), 3.0) for m in range(60)])
    agg.recompute_dirty()
    day = one(rtd, Period.DAY, local(2026, 5, 6))
    assert (day.n, day.value) == (2, pytest.approx(2.5))


def test_samples_are_a_group_of_their_own(registry):
    site, p = registry["sites"][0], registry["param"]
    auto = new_series(site, p, SeriesKind.HOUR)
    lab = new_series(site, p, SeriesKind.SAMPLE)
    write(auto, [(local(2026, 5, 7, h), 1.0) for h in range(24)])
    write(lab, [(local(2026, 5, 7, 9, 30), 3.0), (local(2026, 5, 7, 9, 45), 5.0)], flag="")
    agg.recompute_dirty()
    assert one(auto, Period.DAY, local(2026, 5, 7)).value == pytest.approx(1.0)
    lab_day = one(lab, Period.DAY, local(2026, 5, 7))
    assert (lab_day.value, lab_day.n, lab_day.valid, lab_day.source_kind) == (pytest.approx(4.0), 2, True, "sample")
    assert one(lab, Period.MONTH, local(2026, 5, 1)).valid is True


# --- Beijing-time periods ---------------------------------------------------------------------------


def test_days_and_months_are_beijing_time(air):
    sid = new_series(air["site"], air["pm25"], SeriesKind.HOUR)
    write(sid, [(local(2026, 5, 31, 23), 1.0), (local(2026, 6, 1, 0), 2.0)])
    agg.recompute_dirty()
    days = aggs(sid, Period.DAY)
    assert sorted(days) == [local(2026, 5, 31), local(2026, 6, 1)]
    assert days[local(2026, 5, 31)].value == 1.0 and days[local(2026, 6, 1)].value == 2.0
    # 2026-05-31 23:00 Beijing is 15:00 UTC: the UTC date would have put both in one day
    assert one(sid, Period.DAY, dt.datetime(2026, 5, 30, 16, tzinfo=UTC)).value == 1.0
    months = aggs(sid, Period.MONTH)
    assert sorted(months) == [local(2026, 5, 1), local(2026, 6, 1)]


def test_period_helpers():
    t = dt.datetime(2026, 2, 28, 17, 30, tzinfo=UTC)  # 2026-03-01 01:30 Beijing
    assert agg.day_start(t) == local(2026, 3, 1)
    assert agg.month_start(t) == local(2026, 3, 1)
    assert agg.next_month(local(2026, 12, 1)) == local(2027, 1, 1)
    assert agg.days_in_month(local(2028, 2, 1)) == 29
    assert agg.hour_start(local(2026, 3, 1, 1, 30)) == local(2026, 3, 1, 1)


def test_recompute_all_rebuilds_from_scratch(air):
    sid = new_series(air["site"], air["pm25"], SeriesKind.MINUTE)
    write(sid, [(local(2026, 5, 1, 8, m), 4.0) for m in range(60)])
    agg.recompute_dirty()
    Aggregate.objects.all().delete()
    r = agg.recompute_all()
    assert (r.hours, r.days, r.months) == (1, 1, 1)
    assert one(sid, Period.HOUR, local(2026, 5, 1, 8)).value == 4.0


def test_hourly_series_mark_one_key_per_beijing_day(air):
    """A logger's own hour (or day, or sample) values only feed their day's aggregate, so a
    day of them marks one key (the first hour of the Beijing day), not 24."""
    sid = new_series(air["site"], air["pm25"], SeriesKind.HOUR)
    # 2026-05-01 00:00 to 2026-05-02 23:00 Beijing time: two Beijing days
    write(sid, [(local(2026, 5, 1) + dt.timedelta(hours=h), float(h)) for h in range(48)])
    obs.apply_pending_changes()
    starts = sorted(d.start.astimezone(CST) for d in DirtyPeriod.objects.filter(series_id=sid))
    assert starts == [local(2026, 5, 1), local(2026, 5, 2)]
    r = agg.recompute_dirty()
    assert r.days == 2
    day1 = one(sid, Period.DAY, local(2026, 5, 1))
    assert (day1.value, day1.n) == (pytest.approx(sum(range(24)) / 24), 24)


def test_minute_series_still_mark_every_hour(air):
    sid = new_series(air["site"], air["pm25"], SeriesKind.MINUTE)
    write(sid, [(local(2026, 5, 1, h, 30), 1.0) for h in range(3)])
    obs.apply_pending_changes()
    assert DirtyPeriod.objects.filter(series_id=sid).count() == 3


def test_settled_recompute_leaves_the_running_hour_dirty(air):
    """The periodic recompute (``gongzhi observations aggregates --recompute --every``, the demo's
    timer) computes the hours that are over; the hour still running stays dirty for a later round,
    so its mean is computed once, complete."""
    sid = new_series(air["site"], air["pm25"], SeriesKind.MINUTE)
    now = local(2026, 5, 1, 10, 30)
    write(sid, [(local(2026, 5, 1, h, m), 10.0 * h) for h in (8, 9) for m in range(60)])
    write(sid, [(local(2026, 5, 1, 10, m), 100.0) for m in range(30)])
    assert agg.recompute_settled(limit=1, now=now) == 2  # batches of one: 08:00 and 09:00
    assert sorted(aggs(sid, Period.HOUR)) == [local(2026, 5, 1, 8), local(2026, 5, 1, 9)]
    assert list(DirtyPeriod.objects.values_list("start", flat=True)) == [local(2026, 5, 1, 10)]
    assert agg.recompute_settled(now=now) == 0
    # once the hour is over it is computed, whole
    write(sid, [(local(2026, 5, 1, 10, m), 100.0) for m in range(30, 60)])
    assert agg.recompute_settled(now=local(2026, 5, 1, 11, 0)) == 1
    h10 = one(sid, Period.HOUR, local(2026, 5, 1, 10))
    assert (h10.value, h10.n, h10.valid) == (100.0, 60, True)
    assert not DirtyPeriod.objects.exists()
