"""HJ 663-2013 validity and statistics (gongzhi.standards.hj663); HJ 663-2026 not verified."""

from __future__ import annotations

import datetime as dt

import numpy as np
import polars as pl
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from gongzhi.standards import hj663

NOTE = "HJ 663-2026 not verified; 2013 rules applied"


def day_with(n_valid, value=30.0):
    d = np.full(24, np.nan)
    d[:n_valid] = value
    return d


@pytest.mark.parametrize("n,valid", [(24, True), (20, True), (19, False), (0, False)])
def test_24h_mean_needs_20_hours(n, valid):
    r = hj663.daily_mean(day_with(n))
    assert bool(r.valid) is valid and int(r.count) == n
    assert (float(r.value) == 30.0) if valid else np.isnan(r.value)


def test_24h_mean_is_mean_of_valid_hours():
    d = np.r_[np.full(10, 10.0), np.full(10, 50.0), np.full(4, np.nan)]
    assert float(hj663.daily_mean(d).value) == 30.0


@pytest.mark.parametrize("n_missing,valid", [(0, True), (2, True), (3, False)])
def test_8h_mean_needs_6_of_8(n_missing, valid):
    x = np.full(8, 100.0)
    x[:n_missing] = np.nan
    r = hj663.o3_8h_moving(x)
    assert bool(r.valid[-1]) is valid and int(r.count[-1]) == 8 - n_missing


def test_8h_moving_mean_ends_at_its_hour():
    x = np.arange(1.0, 11.0)  # hours 0..9
    r = hj663.o3_8h_moving(x)
    assert np.isnan(r.value[:5]).all()        # fewer than 6 hours available
    assert r.value[5] == np.mean(x[0:6])      # 6 hours (0..5)
    assert r.value[9] == np.mean(x[2:10])     # hours 2..9


def test_daily_max_8h_windows_are_those_ending_08_to_24():
    """17 windows per day, 00–08 … 16–24 [S]; a peak spanning midnight does not count."""
    assert hj663.O3_8H_WINDOW_ENDS == tuple(range(8, 25))
    day = np.full(24, 50.0)
    day[16:24] = 200.0  # the last window (16:00–24:00) is all 200
    assert float(hj663.o3_daily_max_8h(day).value) == 200.0
    day = np.full(24, 50.0)
    day[:4] = 200.0     # 00–04 high: best window 00–08 = (4·200 + 4·50)/8
    assert float(hj663.o3_daily_max_8h(day).value) == 125.0


@pytest.mark.parametrize("n_windows_valid,valid", [(17, True), (14, True), (13, False)])
def test_daily_max_8h_needs_14_valid_means(n_windows_valid, valid):
    # Missing hours at the end of the day knock out windows from the end:
    # with the last k hours missing, windows ending at 24, 23, … lose validity once
    # more than 2 of their 8 hours are missing.
    for k in range(0, 24):
        day = np.full(24, 80.0)
        if k:
            day[24 - k:] = np.nan
        r = hj663.o3_daily_max_8h(day)
        if int(r.count) == n_windows_valid:
            assert bool(r.valid) is valid
            assert (float(r.value) == 80.0) if valid else np.isnan(r.value)
            return
    pytest.fail("no day with that many valid windows constructed")


def test_daily_max_1h():
    d = np.r_[np.full(22, 50.0), [210.0, np.nan]]
    r = hj663.o3_daily_max_1h(d)
    assert float(r.value) == 210.0 and int(r.count) == 23
    assert np.isnan(hj663.o3_daily_max_1h(day_with(19)).value)


@pytest.mark.parametrize("month,n,valid", [(2, 25, True), (2, 24, False), (3, 27, True),
                                           (3, 26, False), (12, 31, True)])
def test_monthly_validity(month, n, valid):
    d = np.r_[np.full(n, 40.0), np.full(31 - n, np.nan)]
    assert bool(hj663.monthly_mean(d, month).valid) is valid


@pytest.mark.parametrize("n,valid", [(365, True), (324, True), (323, False)])
def test_annual_needs_324_days(n, valid):
    d = np.r_[np.full(n, 40.0), np.full(365 - n, np.nan)]
    r = hj663.annual_statistic(d, "pm2_5")
    assert bool(r.valid) is valid


def test_annual_statistics_co_p95_o3_p90():
    rng = np.random.default_rng(3)
    co = rng.lognormal(-0.3, 0.4, 365)
    o3 = rng.normal(110, 30, 365)
    assert float(hj663.annual_statistic(co, "co").value) == pytest.approx(
        np.percentile(co, 95, method="linear"))
    assert float(hj663.annual_statistic(o3, "o3").value) == pytest.approx(
        np.percentile(o3, 90, method="linear"))
    assert float(hj663.annual_statistic(o3, "no2").value) == pytest.approx(o3.mean())


def test_percentile_formula_by_hand():
    """k = 1 + (n−1)p/100; s = ⌊k⌋; X_s + (X_{s+1} − X_s)(k − s) [M]."""
    x = [10, 20, 30, 40, 50]          # p = 90: k = 4.6 → 40 + 10·0.6 = 46
    assert hj663.percentile(x, 90) == pytest.approx(46.0)
    assert hj663.percentile([5, 1, 3], 50) == 3.0
    assert hj663.percentile([7.0], 95) == 7.0
    assert hj663.percentile([1, 2, np.nan], 100) == 2.0
    assert np.isnan(hj663.percentile([], 50))


@settings(max_examples=100, deadline=None)
@given(x=st.lists(st.floats(0, 1000, allow_nan=False), min_size=1, max_size=60),
       p=st.floats(0, 100))
def test_percentile_equals_numpy_linear(x, p):
    assert hj663.percentile(x, p) == pytest.approx(np.percentile(x, p, method="linear"))


def test_good_day_ratio():
    r = hj663.good_day_ratio([30, 80, 100, 101, 250, np.nan])
    assert float(r.value) == pytest.approx(3 / 5) and int(r.count) == 5


def test_every_result_says_2026_not_verified():
    results = [hj663.daily_mean(day_with(24)), hj663.o3_8h_moving(np.ones(10)),
               hj663.o3_daily_max_8h(day_with(24)), hj663.o3_daily_max_1h(day_with(24)),
               hj663.monthly_mean(np.ones(30), 4), hj663.annual_statistic(np.ones(365), "co"),
               hj663.good_day_ratio([1.0])]
    for r in results:
        assert r.metadata["note"] == NOTE
    r = hj663.daily_mean(day_with(24), edition="HJ 663-2026")
    assert r.metadata["edition_requested"] == "HJ 663-2026"
    assert r.metadata["edition_applied"] == "HJ 663-2013"


def _hourly_frame(start, hours, station="A", drop=()):
    t = [start + dt.timedelta(hours=i) for i in range(hours) if i not in drop]
    n = len(t)
    return pl.DataFrame({"station": [station] * n, "time": t,
                         "pm2_5": np.full(n, 40.0), "o3": np.linspace(20, 120, n),
                         "co": np.full(n, 0.6)})


def test_daily_from_hourly_frame():
    df = pl.concat([_hourly_frame(dt.datetime(2026, 2, 28), 48),
                    # B misses 00:00–06:00 of Mar 1: 18 hours; the 8-h windows ending
                    # 08:00–11:00 have ≥ 3 hours missing → 13 valid windows < 14
                    _hourly_frame(dt.datetime(2026, 2, 28), 48, "B", drop=range(24, 30))])
    out = hj663.daily_from_hourly(df)
    f = out.frame.sort("station", "date")
    assert out.metadata["note"] == NOTE
    assert f.height == 4
    assert f["n_hours_pm2_5"].to_list() == [24, 24, 24, 18]
    assert f["n_o3_8h"].to_list() == [17, 17, 17, 13]
    assert f["pm2_5"].to_list() == [40.0, 40.0, 40.0, None]
    assert f["invalid"].to_list()[:3] == ["", "", ""]
    assert "pm2_5" in f["invalid"][3] and "o3_8h_max" in f["invalid"][3]
    assert f["so2"].to_list() == [None] * 4  # column absent: no value, not "invalid"


def test_daily_from_hourly_end_labelled():
    """End-labelled hours: 01:00 … 24:00 (= next day 00:00) make one day."""
    df = _hourly_frame(dt.datetime(2026, 3, 1, 1), 24)
    f = hj663.daily_from_hourly(df, hour_label="end").frame
    assert f["date"].to_list() == [dt.date(2026, 3, 1)] and f["n_hours_pm2_5"][0] == 24
    f = hj663.daily_from_hourly(df).frame
    assert f.height == 2


def test_daily_from_hourly_rejects_duplicates():
    df = _hourly_frame(dt.datetime(2026, 3, 1), 3)
    with pytest.raises(ValueError, match="duplicate"):
        hj663.daily_from_hourly(pl.concat([df, df]))
