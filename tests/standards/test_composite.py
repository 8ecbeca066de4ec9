"""Composite index, 《城市环境空气质量排名技术规定》 (gongzhi.standards.composite) [S]."""

from __future__ import annotations

import numpy as np
import pytest

from gongzhi.standards import composite


def test_published_worked_example_is_3_06_primary_o3():
    """Worked example (formulas/03): 21/35 + 39/70 + 9/60 + 15/40 + 192/160 + 0.7/4 = 3.06,
    primary pollutant O3."""
    r = composite.composite_index(so2=9, no2=15, pm10=39, pm2_5=21, co=0.7, o3=192)
    parts = {k: round(float(v[0]), 3) for k, v in r.i.items()}
    assert parts == {"pm2_5": 0.6, "pm10": 0.557, "so2": 0.15, "no2": 0.375,
                     "o3": 1.2, "co": 0.175}
    assert float(r.i_sum[0]) == pytest.approx(21 / 35 + 39 / 70 + 9 / 60 + 15 / 40 + 1.2 + 0.175)
    assert composite.round_index(r.i_sum).tolist() == [3.06]
    assert r.primary_pollutant() == ["o3"]


def test_denominators_are_gb3095_2012_grade_ii():
    assert dict(composite.DENOMINATORS) == {"so2": 60, "no2": 40, "pm10": 70, "pm2_5": 35,
                                           "co": 4, "o3": 160}


def test_missing_statistic_gives_no_index():
    r = composite.composite_index(so2=[9, np.nan], no2=15, pm10=39, pm2_5=21, co=0.7, o3=192)
    assert np.isnan(r.i_sum[1]) and not np.isnan(r.i_sum[0])


def test_primary_ties_listed():
    r = composite.composite_index(so2=60, no2=40, pm10=10, pm2_5=10, co=0.1, o3=10)
    assert r.primary_pollutant() == ["so2,no2"]


@pytest.mark.parametrize("values,expected", [
    ([3.06, 2.5, 3.06, 4.1], [2, 1, 2, 4]),
    ([1.0, 1.0, 1.0], [1, 1, 1]),
    ([5.0, 4.0, 3.0, 3.0, 2.0], [5, 4, 2, 2, 1]),
    ([3.061, 3.059, 3.07], [1, 1, 3]),      # tie at the published 2 decimals
    ([1.0, np.nan, 0.5], [2, 0, 1]),
])
def test_rank_ascending_competition(values, expected):
    """Smaller is better; equal values share a rank (并列: 1, 1, 3)."""
    assert composite.rank(values).tolist() == expected


def test_rank_raw_values_when_decimals_none():
    assert composite.rank([3.061, 3.059], decimals=None).tolist() == [2, 1]


def test_change_rate():
    """(I − I_last)/I_last; > 0 worse, < 0 better."""
    np.testing.assert_allclose(composite.change_rate([3.3, 2.7, 3.0], [3.0, 3.0, 3.0]),
                               [0.1, -0.1, 0.0])
    assert np.isnan(composite.change_rate([1.0], [0.0])[0])
