"""Grids, rolling medians and the learned baseline (gongzhi.analytics.series / baseline)."""

from __future__ import annotations

import json
import warnings

import numpy as np
import pytest
from analytics_synth import HOUR, T0, make_series
from numpy.lib.stride_tricks import sliding_window_view

from gongzhi.analytics.baseline import Baseline, fit_baseline, season_hour
from gongzhi.analytics.series import as_seconds, regular, robust_scale, rolling_nanmedian, runs


def test_regular_places_values_on_their_slots_and_leaves_gaps():
    t = T0 + HOUR * np.array([0, 1, 2, 5, 6])  # slots 3 and 4 missing
    grid, x = regular(t, [1.0, 2.0, 3.0, 6.0, 7.0])
    assert grid.step == HOUR and grid.n == 7 and grid.t0 == T0
    np.testing.assert_array_equal(np.isnan(x), [False, False, False, True, True, False, False])
    assert x[5] == 6.0


def test_regular_sorts_accepts_datetime64_and_keeps_the_later_duplicate():
    t = (np.array([2, 0, 1, 1], dtype="int64") * 3600 + int(T0)).astype("datetime64[s]")
    grid, x = regular(t, [30.0, 10.0, 20.0, 21.0])
    np.testing.assert_array_equal(x, [10.0, 21.0, 30.0])
    assert as_seconds(t)[1] == T0


def test_regular_empty_and_bad_input_are_defined():
    grid, x = regular([], [])
    assert grid.n == 0 and x.size == 0
    with pytest.raises(ValueError):
        regular([1.0, 2.0], [1.0])
    with pytest.raises(ValueError):  # one sample a second, then one a year later: not a series
        regular([0.0, 1.0, 2.0, 3e7], [1.0, 2.0, 3.0, 4.0])
    with pytest.raises(TypeError):
        as_seconds(np.array([object()], dtype=object))


def test_rolling_nanmedian_equals_the_naive_window_median():
    rng = np.random.default_rng(1)
    x = rng.normal(size=500)
    x[rng.integers(0, 500, 80)] = np.nan
    for before, after, skip in [(10, 0, False), (2, 2, True), (5, 5, False)]:
        got = rolling_nanmedian(x, before, after, skip_center=skip)
        pad = np.concatenate([np.full(before, np.nan), x, np.full(after, np.nan)])
        view = sliding_window_view(pad, before + after + 1)
        if skip:
            view = np.delete(view, before, axis=1)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", RuntimeWarning)
            want = np.nanmedian(view, axis=1)
        np.testing.assert_allclose(got, want, equal_nan=True)
    assert np.isnan(rolling_nanmedian(np.array([1.0, np.nan, np.nan]), 1, min_count=2)).all()


def test_runs_and_robust_scale():
    assert runs(np.array([0, 1, 1, 0, 1], bool)) == [(1, 3), (4, 5)]
    assert runs(np.zeros(0, bool)) == []
    x = np.random.default_rng(2).normal(0, 3.0, 20000)
    assert robust_scale(x) == pytest.approx(3.0, rel=0.03)  # 1.4826·MAD estimates σ for normal data
    assert robust_scale(np.array([np.nan]), floor=0.5) == 0.5


def test_season_and_local_hour():
    # 2026-01-15 16:00 UTC = 2026-01-16 00:00 Beijing (winter); 2026-07-01 04:00 UTC = 12:00 Beijing (summer)
    s, h = season_hour(np.array([1768492800.0, 1782878400.0]))
    assert s.tolist() == [0, 2] and h.tolist() == [0, 12]


def test_baseline_learns_the_diurnal_profile_and_the_noise_scale():
    t, x = make_series(40, diurnal=2.0, sigma=0.3, seed=3)
    b = fit_baseline(t, x)
    local_h = np.arange(24)
    want = 2.0 * np.sin(2 * np.pi * (local_h - 9) / 24)
    np.testing.assert_allclose(b.profile[2], want, atol=0.25)  # June: JJA
    assert b.count[2].sum() == 40 * 24
    # residual of value − (trailing level + profile): the noise σ plus the level's own error
    assert 0.27 < b.global_scale < 0.4
    assert np.all(b.scale[2] >= 0.3 * b.global_scale)
    applied = b.apply(*regular(t, x))
    z = applied["z"][np.isfinite(applied["z"])]
    assert np.mean(np.abs(z) > 4.5) < 0.002  # clean data: (almost) nothing outside the band


def test_baseline_round_trips_through_json_and_handles_empty_history():
    t, x = make_series(10, seed=4)
    b = fit_baseline(t, x)
    b2 = Baseline.from_dict(json.loads(json.dumps(b.to_dict())))
    np.testing.assert_array_equal(b2.scale, b.scale)
    assert b2.spike_scale == b.spike_scale
    empty = fit_baseline([], [])
    assert empty.n_history == 0 and np.all(empty.scale == 1.0)
    nan = fit_baseline(t, np.full(t.size, np.nan))
    assert nan.n_history == 0


def test_baseline_resolution_and_repeat_share():
    t, x = make_series(20, level=7.0, sigma=0.8, decimals=0, seed=5)  # coarse integer readings
    b = fit_baseline(t, x)
    assert b.resolution == 1.0
    assert 0.3 < b.p_repeat < 0.8  # many consecutive equal integers


def test_grouped_median_equals_the_median_of_each_group():
    from gongzhi.analytics.baseline import grouped_median

    rng = np.random.default_rng(6)
    keys = rng.integers(0, 7, 300)
    keys[keys == 4] = 5  # group 4 empty
    vals = rng.normal(size=300)
    med, cnt = grouped_median(keys, vals, 8)
    for k in range(8):
        sel = keys == k
        assert cnt[k] == sel.sum()
        if sel.any():
            assert med[k] == np.median(vals[sel])
        else:
            assert np.isnan(med[k])
