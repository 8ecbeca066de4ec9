"""Hypothesis properties of the detectors: time shifts move detections with the data; changes
of unit (scaling and offset) change no verdict."""

from __future__ import annotations

import numpy as np
from analytics_synth import HOUR, make_series
from hypothesis import given, settings
from hypothesis import strategies as st

from gongzhi.analytics import assess, rolling_robust_z

BASE_T, BASE_X = make_series(30, diurnal=1.0, sigma=0.2, seed=21)
N = BASE_X.size


def injected(spike_at: int, spike: float, step_at: int, step: float, flat_at: int) -> np.ndarray:
    x = BASE_X.copy()
    x[spike_at] += spike
    x[step_at:step_at + 12] += step
    x[flat_at:flat_at + 8] = x[flat_at]
    return x


def signature(found, offset: float = 0.0):
    return sorted((a.test, a.parameter, round(a.start_s - offset), round(a.end_s - offset), a.verdict) for a in found)


anomalies = st.tuples(
    st.integers(100, N - 20), st.sampled_from([-4.0, -2.5, 2.5, 4.0]),
    st.integers(100, N - 40), st.sampled_from([-3.0, 3.0]), st.integers(100, N - 20),
)


@settings(max_examples=20, deadline=None)
@given(anomalies, st.integers(1, 10))
def test_shifting_the_series_in_time_shifts_the_detections(an, days):
    x = injected(*an)
    shift = days * 24 * HOUR  # whole days, staying in the same season: hour-of-day buckets keep their data
    a = assess(BASE_T, {"w21003": x}, kind="outlet")
    b = assess(BASE_T + shift, {"w21003": x}, kind="outlet")
    assert signature(a) == signature(b, offset=shift)
    assert a  # the injected flat line is always found


@settings(max_examples=20, deadline=None)
@given(anomalies, st.floats(0.01, 100.0), st.floats(-1000.0, 1000.0))
def test_a_change_of_unit_changes_no_verdict(an, scale, offset):
    x = injected(*an)
    a = assess(BASE_T, {"w21003": x}, kind="outlet")
    b = assess(BASE_T, {"w21003": scale * x + offset}, kind="outlet")
    assert signature(a) == signature(b)
    for p, q in zip(sorted(a, key=lambda v: (v.start_s, v.test)), sorted(b, key=lambda v: (v.start_s, v.test))):
        assert np.isclose(p.statistic, q.statistic, rtol=1e-6, atol=1e-6)


@settings(max_examples=30, deadline=None)
@given(st.floats(0.001, 1000.0), st.floats(-100.0, 100.0), st.integers(200, N - 1), st.floats(-10, 10))
def test_scaling_does_not_change_a_robust_z_verdict(scale, offset, at, jump):
    x = BASE_X.copy()
    x[at] += jump
    z1, f1, _ = rolling_robust_z(BASE_T, x)
    z2, f2, _ = rolling_robust_z(BASE_T, scale * x + offset)
    ok = np.isfinite(z1) & (np.abs(np.abs(z1) - 3.5) > 1e-6)  # away from the threshold itself
    np.testing.assert_array_equal(f1[ok], f2[ok])
    np.testing.assert_allclose(z1[ok], z2[ok], rtol=1e-6, atol=1e-6)
