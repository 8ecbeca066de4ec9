"""Each detector on synthetic series with known answers, on both sides of its threshold, with
the evidence it reports (gongzhi.analytics.anomaly)."""

from __future__ import annotations

import numpy as np
import pytest
from analytics_synth import HOUR, T0, make_series

from gongzhi.analytics import (
    EVENT,
    FAULT,
    UNCERTAIN,
    check_do_saturation,
    check_subset,
    detect_drift,
    detect_excursions,
    detect_flags,
    detect_flat,
    detect_out_of_range,
    detect_spikes,
    detect_steps,
    do_saturation,
    fit_baseline,
    prepare,
    rolling_robust_z,
)
from gongzhi.analytics.anomaly import flat_min_run


def hours(a) -> float:
    return (a - T0) / HOUR


@pytest.fixture
def clean():
    return make_series(30, diurnal=1.0, sigma=0.2, seed=11)


def test_clean_series_raise_nothing(clean):
    t, x = clean
    p = prepare(t, x)
    found = (detect_spikes(p) + detect_flat(p) + detect_excursions(p) + detect_steps(p) + detect_drift(p)
             + detect_out_of_range(p, low=0, high=100))
    assert found == []


def test_spike_fires_above_k_with_its_evidence_and_not_below(clean):
    t, x = clean
    b = fit_baseline(t, x)
    sn = b.spike_scale
    big, small = x.copy(), x.copy()
    big[300] += 12 * sn
    small[300] += 5 * sn
    found = detect_spikes(t, big, baseline=b, parameter="w21003")
    assert [hours(a.peak_s) for a in found] == [300]
    a = found[0]
    neighbours = np.median(x[[298, 299, 301, 302]])
    assert a.test == "spike" and a.parameter == "w21003" and a.n_points == 1
    assert a.observed == pytest.approx(big[300])
    assert a.expected == pytest.approx(neighbours)
    assert a.band == pytest.approx((neighbours - 8 * sn, neighbours + 8 * sn))
    assert a.statistic == pytest.approx((big[300] - neighbours) / sn)
    assert a.statistic > a.threshold == 8.0
    assert detect_spikes(t, small, baseline=b) == []


def test_a_level_shift_is_not_a_spike(clean):
    t, x = clean
    y = x.copy()
    y[300:] += 5.0
    assert detect_spikes(t, y) == []


def test_flat_line_run_length_threshold(clean):
    t, x = clean
    b = fit_baseline(t, x)
    assert b.p_repeat == 0.0 and flat_min_run(b.p_repeat, 8766) == 3
    stuck, short = x.copy(), x.copy()
    stuck[200:206] = stuck[200]  # 6 values, 5 repeated steps
    short[200:203] = short[200]  # 3 values, 2 repeated steps < 3
    found = detect_flat(t, stuck, baseline=b)
    assert len(found) == 1
    a = found[0]
    assert (hours(a.start_s), hours(a.end_s), a.n_points) == (200, 205, 6)
    assert a.statistic == 5 and a.threshold == 3 and a.verdict == FAULT
    assert a.observed == stuck[200] and "zero variance" in a.reasons[0]
    assert detect_flat(t, short, baseline=b) == []


def test_flat_line_needs_a_longer_run_in_a_coarse_series():
    # integer readings repeat by chance: the run needed grows with the share of repeats
    assert flat_min_run(0.3, 8766) > flat_min_run(0.05, 8766) > flat_min_run(0.0, 8766)
    assert flat_min_run(0.3, 8766) == int(np.ceil(np.log(0.1 / 8766) / np.log(0.3)))
    t, x = make_series(30, level=7.0, sigma=0.8, decimals=0, seed=12)
    b = fit_baseline(t, x)
    need = flat_min_run(b.p_repeat, 365.25 * 24)
    assert need > 3
    y = x.copy()
    y[100:100 + need + 1] = 7.0
    assert any(hours(a.start_s) <= 100 and a.statistic >= need for a in detect_flat(t, y, baseline=b))


def test_excursion_needs_size_and_duration(clean):
    t, x = clean
    b = fit_baseline(t, x)
    up, brief, low = x.copy(), x.copy(), x.copy()
    up[400:406] += 8 * b.global_scale
    brief[400] += 8 * b.global_scale
    low[400:406] += 2.5 * b.global_scale
    found = detect_excursions(t, up, baseline=b)
    assert len(found) == 1
    a = found[0]
    assert (hours(a.start_s), hours(a.end_s)) == (400, 405)
    assert a.statistic > 4.5 and a.expected < a.observed and a.band[1] < a.observed
    assert a.band[0] < a.expected < a.band[1]
    assert detect_excursions(t, brief, baseline=b) == []  # one value: below min_points
    assert detect_excursions(t, low, baseline=b) == []
    down = x.copy()
    down[400:406] -= 8 * b.global_scale
    assert [a.statistic < 0 for a in detect_excursions(t, down, baseline=b)] == [True]


def test_step_fires_at_the_change_point(clean):
    t, x = clean
    b = fit_baseline(t, x)
    y = x.copy()
    y[350:] += 10 * b.global_scale
    found = detect_steps(t, y, baseline=b)
    assert [hours(a.start_s) for a in found] == [350]
    a = found[0]
    assert a.details["shift"] == pytest.approx(10 * b.global_scale, rel=0.25)
    assert a.statistic > 6
    small = x.copy()
    small[350:] += 3 * b.global_scale
    assert detect_steps(t, small, baseline=b) == []


def test_drift_fires_on_a_ramp_and_not_on_noise(clean):
    t, x = clean
    y = x.copy()
    ramp = np.linspace(0, 3.0, 120)
    y[400:520] += ramp
    y[520:] += 3.0
    found = detect_drift(t, y)
    assert len(found) == 1
    a = found[0]
    assert 300 <= hours(a.start_s) <= 420 and 420 <= hours(a.end_s) <= 620
    assert a.details["r"] > 0.9 and a.details["slope_per_day"] > 0
    assert detect_drift(t, x) == []


def test_out_of_range_with_distance_beyond():
    t = T0 + HOUR * np.arange(10)
    ph = np.array([7.1, 7.2, 15.0, 15.5, 7.0, -1.0, 7.1, 7.2, 7.1, 7.0])
    found = detect_out_of_range(t, ph, low=0.0, high=14.0, parameter="w01001")
    assert [(hours(a.start_s), hours(a.end_s), a.verdict) for a in found] == [(2, 3, FAULT), (5, 5, FAULT)]
    assert found[0].observed == 15.5 and found[0].statistic == pytest.approx(1.5)
    assert found[1].statistic == pytest.approx(1.0)
    assert detect_out_of_range(t, ph, low=-2.0, high=16.0) == []


def test_device_flags():
    t = T0 + HOUR * np.arange(8)
    flags = ["N", "N", "D", "D", "N", "C", "", "T"]
    found = detect_flags(t, flags, parameter="w21003", values=np.arange(8.0))
    got = [(a.details["flag"], hours(a.start_s), hours(a.end_s), a.verdict) for a in found]
    assert got == [("D", 2, 3, FAULT), ("C", 5, 5, FAULT), ("T", 7, 7, UNCERTAIN)]
    assert found[0].observed == 3.0 and "fault" in found[0].reasons[0]
    assert detect_flags(t, ["N"] * 8) == []
    assert detect_flags([], []) == []


def test_subset_check_nh3n_against_tn():
    t = T0 + HOUR * np.arange(5)
    nh3 = np.array([0.5, 0.6, 2.5, np.nan, 0.5])
    tn = np.array([2.0, 2.0, 2.0, 2.0, 0.46])  # last: 0.5 ≤ 0.46·1.1 = 0.506 → within tolerance
    found = check_subset(t, nh3, tn, part_name="w21003", whole_name="w21001")
    assert [(hours(a.start_s), a.verdict) for a in found] == [(2, FAULT)]
    assert found[0].statistic == pytest.approx(1.25) and found[0].expected == 2.0


def test_do_saturation_published_values_and_the_200_percent_check():
    # APHA Standard Methods 4500-O Table (Benson & Krause): 14.621 mg/L at 0 °C, 9.092 at 20 °C, 7.559 at 30 °C
    np.testing.assert_allclose(do_saturation([0.0, 20.0, 30.0]), [14.621, 9.092, 7.559], atol=0.005)
    t = T0 + HOUR * np.arange(3)
    found = check_do_saturation(t, [9.0, 19.0, 17.0], [20.0, 20.0, 20.0])
    assert [(hours(a.start_s), a.verdict) for a in found] == [(1, FAULT)]  # 19/9.09 = 209 %; 17 → 187 %
    assert found[0].statistic == pytest.approx(19 / 9.092, rel=1e-3)


def test_rolling_robust_z_baseline_detector(clean):
    t, x = clean
    y = x.copy()
    y[500] += 10.0
    z, flagged, grid = rolling_robust_z(t, y, window=168)
    assert flagged[500] and grid.n == t.size
    assert np.isnan(z[0])  # no history yet
    window = y[500 - 168:500]
    med = np.median(window)
    assert z[500] == pytest.approx((y[500] - med) / (1.4826 * np.median(np.abs(window - med))))


@pytest.mark.parametrize("values", [[], [np.nan] * 48, [5.0]])
def test_empty_all_nan_and_single_value_give_no_anomalies(values):
    t = T0 + HOUR * np.arange(len(values))
    p = prepare(t, np.asarray(values, float))
    for fn in (detect_spikes, detect_flat, detect_excursions, detect_steps, detect_drift):
        assert fn(p) == []
    # the range test needs no history: a single impossible value is still reported
    assert [a.observed for a in detect_out_of_range(p, low=0, high=1)] == ([5.0] if len(values) == 1 else [])


def test_gaps_do_not_shift_detections(clean):
    t, x = clean
    b = fit_baseline(t, x)
    y = x.copy()
    y[300] += 12 * b.spike_scale
    keep = np.ones(t.size, bool)
    keep[100:130] = False  # a day and more not sent at all (missing timestamps)
    keep[250] = False
    found = detect_spikes(t[keep], y[keep], baseline=b)
    assert [hours(a.peak_s) for a in found] == [300]
    y[200:210] = np.nan  # and NaN values
    found = detect_spikes(t, y, baseline=b)
    assert [hours(a.peak_s) for a in found] == [300]


def test_to_dict_is_json_friendly(clean):
    import json
    t, x = clean
    y = x.copy()
    y[300:306] = y[300]
    d = detect_flat(t, y)[0].to_dict()
    assert json.loads(json.dumps(d, allow_nan=False)) == d
    assert d["test"] == "flat" and d["verdict"] == FAULT and isinstance(d["band"], list)
    r = detect_out_of_range(t, y, low=-5.0, high=5.0)[0].to_dict()  # its band is NaN: becomes null
    assert json.dumps(r, allow_nan=False) and r["band"] == [None, None]


def test_flags_are_read_case_and_space_insensitively_and_none_is_no_flag():
    t = T0 + HOUR * np.arange(5)
    flags = np.array(["N", " d", None, "d", "m"], dtype=object)
    found = detect_flags(t, flags)
    assert [(a.details["flag"], hours(a.start_s), hours(a.end_s)) for a in found] == [("D", 1, 1), ("D", 3, 3), ("M", 4, 4)]
