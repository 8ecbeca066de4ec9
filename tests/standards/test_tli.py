"""TLI(Σ), 总站生字〔2001〕090号 / 环办〔2011〕22号 (formulas/04) [P]."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from gongzhi.standards import tli


def test_weights_match_published_values():
    # r²/Σr² → chla 0.2663, TP 0.1879, TN 0.1790, SD 0.1834, CODMn 0.1834
    published = {"chla": 0.2663, "tp": 0.1879, "tn": 0.1790, "sd": 0.1834, "codmn": 0.1834}
    for k, w in published.items():
        assert round(tli.WEIGHTS[k], 4) == w, k
    assert sum(tli.WEIGHTS.values()) == pytest.approx(1.0)


def test_worked_example_formulas_04():
    r = tli.tli({"chla": 10, "tp": 0.05, "tn": 1.0, "sd": 1.0, "codmn": 4.0})
    expected = {"chla": 50.01, "tp": 45.71, "tn": 54.53, "sd": 51.18, "codmn": 37.98}
    for k, e in expected.items():
        assert round(float(r.indices[k][0]), 2) == e, k
    assert round(float(r.total[0]), 1) == 48.0
    assert r.grade.tolist() == [2] and r.grade_zh[0] == "中营养"


@pytest.mark.parametrize("param,value,expected", [
    ("chla", 1.0, 25.0), ("tp", 1.0, 94.36), ("tn", 1.0, 54.53), ("sd", 1.0, 51.18),
    ("codmn", 1.0, 1.09),
])
def test_single_index_intercepts(param, value, expected):
    # ln 1 = 0 → TLI = 10·a: checks each intercept of the table
    assert float(tli.single_index(param, value)) == pytest.approx(expected)


@pytest.mark.parametrize("param,slope", [("chla", 1.086), ("tp", 1.624), ("tn", 1.694),
                                         ("sd", -1.94), ("codmn", 2.661)])
def test_single_index_slopes(param, slope):
    d = float(tli.single_index(param, np.e) - tli.single_index(param, 1.0))
    assert d == pytest.approx(10 * slope)


@pytest.mark.parametrize("value,grade", [
    (29.999, 1), (30.0, 2), (50.0, 2), (50.001, 3), (60.0, 3), (60.001, 4), (70.0, 4),
    (70.001, 5), (0.0, 1), (np.nan, 0),
])
def test_grade_boundaries(value, grade):
    assert tli.grade([value]).tolist() == [grade]


def test_grade_names():
    r = tli.tli({"chla": [1.0, 200.0]})
    assert r.grade_zh.tolist() == ["贫营养", "重度富营养"]
    assert r.grade_en.tolist() == ["oligotrophic", "hyper eutrophic"]


def test_missing_parameters_renormalise_weights():
    full = tli.tli({"chla": 10, "tp": 0.05, "tn": np.nan})
    two = tli.tli({"chla": 10, "tp": 0.05})
    assert full.total[0] == pytest.approx(two.total[0])
    w = tli.WEIGHTS
    expected = (w["chla"] * 50.006 + w["tp"] * 45.709) / (w["chla"] + w["tp"])
    assert two.total[0] == pytest.approx(expected, abs=1e-2)
    assert two.weights["chla"][0] + two.weights["tp"][0] == pytest.approx(1.0)
    assert np.isnan(tli.tli({"chla": [np.nan]}).total[0])
    assert np.isnan(tli.tli({"chla": 10, "tp": 0.05}, min_parameters=3).total[0])


@pytest.mark.parametrize("bad", [0.0, -1.0])
def test_non_positive_values(bad):
    with pytest.raises(ValueError, match="positive"):
        tli.single_index("tp", [0.05, bad])
    assert np.isnan(tli.single_index("tp", [bad], on_invalid="missing")[0])


def test_unknown_parameter():
    with pytest.raises(KeyError):
        tli.tli({"chla": 10, "nh3_n": 1})


@settings(max_examples=60, deadline=None)
@given(a=st.floats(0.01, 100), b=st.floats(0.01, 100))
def test_more_nutrients_never_lower_tli_clearer_water_lower(a, b):
    lo, hi = min(a, b), max(a, b)
    for p in ("chla", "tp", "tn", "codmn"):
        assert tli.single_index(p, lo) <= tli.single_index(p, hi)
    assert tli.single_index("sd", lo) >= tli.single_index("sd", hi)
