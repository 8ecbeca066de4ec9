"""Bloom grades, HJ 1098-2020 (formulas/06) [S]."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from gongzhi.standards import bloom


@pytest.mark.parametrize("i,bound", list(enumerate((2.0e6, 1.0e7, 5.0e7, 1.0e8))))
def test_density_bounds_are_inclusive_lower_bounds(i, bound):
    assert bloom.DENSITY_BREAKS[i] == bound
    below, at = bloom.bloom_level([bound * (1 - 1e-9), bound]).tolist()
    assert (below, at) == (i + 1, i + 2)


def test_names():
    lv = bloom.bloom_level([0, 3e6, 2e7, 7e7, 5e8])
    assert lv.tolist() == [1, 2, 3, 4, 5]
    assert [bloom.NAMES_ZH[x] for x in lv] == ["无水华", "无明显水华", "轻度水华", "中度水华",
                                               "重度水华"]
    assert bloom.LEVEL_LABELS[5] == "Ⅴ" and bloom.NAMES_EN[1] == "no bloom"


def test_missing_and_invalid():
    assert bloom.bloom_level([np.nan]).tolist() == [0]
    with pytest.raises(ValueError, match="negative"):
        bloom.bloom_level([1e6, -5])
    assert bloom.bloom_level([-5.0], on_invalid="missing").tolist() == [0]
    with pytest.raises(ValueError):
        bloom.bloom_level()


def test_chla_needs_breaks_and_higher_grade_wins():
    with pytest.raises(ValueError, match="chla_breaks"):
        bloom.bloom_level(density=[1e6], chla=[30.0])
    breaks = (10, 20, 40, 80)  # caller's table (not shipped: unverified)
    got = bloom.bloom_level(density=[1e6, 6e7, np.nan, 1e6], chla=[50.0, 5.0, 25.0, np.nan],
                            chla_breaks=breaks)
    assert got.tolist() == [4, 4, 3, 1]
    with pytest.raises(ValueError):
        bloom.bloom_level(chla=[1.0], chla_breaks=(20, 10, 40, 80))


@settings(max_examples=60, deadline=None)
@given(a=st.floats(0, 1e9), b=st.floats(0, 1e9))
def test_denser_never_lower_level(a, b):
    lo, hi = min(a, b), max(a, b)
    la, lb = bloom.bloom_level([lo, hi])
    assert la <= lb


def test_waterbody_rule():
    # > 95 % of points level Ⅰ → Ⅰ; exactly 95 % is not enough
    assert bloom.waterbody_level([1e6] * 20) == 1
    # 19 Ⅰ + 1 Ⅲ: not > 95 %, but 95 % ≥ 75 % in level Ⅰ → Ⅰ by the second rule
    assert bloom.waterbody_level([1e6] * 19 + [3e7]) == 1
    # ≥ 75 % in one level → that level
    assert bloom.waterbody_level([3e7] * 3 + [1e6]) == 3
    # no level has 75 % → level of the mean density: mean(1e6, 1e6, 6e7, 6e7) = 3.05e7 → Ⅲ
    assert bloom.waterbody_level([1e6, 1e6, 6e7, 6e7]) == 3
    assert bloom.waterbody_level([np.nan]) == 0


def test_wujiang_major_event():
    assert bloom.wujiang_major_event(source_density=6.0e7)
    assert not bloom.wujiang_major_event(source_density=5.99e7, source_chla=59.9)
    assert bloom.wujiang_major_event(source_chla=60.0)
    assert bloom.wujiang_major_event(bloom_area_share=60, bloom_density=8e7)
    assert not bloom.wujiang_major_event(bloom_area_share=59, bloom_density=9e7)
    assert not bloom.wujiang_major_event(bloom_area_share=70, bloom_chla=79)


def test_edition():
    assert bloom.EDITION.code == "HJ 1098-2020" and bloom.EDITION.confidence == "S"
