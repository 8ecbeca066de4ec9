"""环办〔2011〕22号 evaluation rules: section class, main pollutants, periods, rivers, trends."""

from __future__ import annotations

from datetime import datetime
from decimal import ROUND_HALF_EVEN, Decimal

import numpy as np
import polars as pl
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from gongzhi.standards import gb3838
from gongzhi.standards.gb3838 import (assess_river, format_main_pollutants, grade_change,
                                      grade_from_proportions, proportion_change, section_class)

# --- section class (§2: single-factor, worst class) ------------------------------


def test_worked_example_formulas_05_section():
    # formulas/05: NH3-N 2.6 (劣Ⅴ, E 1.6), TP 0.35 (Ⅴ, E 0.75), CODMn 7.2 (Ⅳ, E 0.2)
    r = section_class({"nh3_n": 2.6, "tp": 0.35, "codmn": 7.2, "do": 6.5, "ph": 7.4}, "river")
    assert r.class_num.tolist() == [6]
    assert r.label[0] == "劣Ⅴ" and r.grade_zh[0] == "重度污染"
    assert [k for k, _ in r.main_pollutants[0]] == ["nh3_n", "tp", "codmn"]
    assert format_main_pollutants(r.main_pollutants[0]) == "nh3_n(1.6),tp(0.75),codmn(0.2)"


def test_section_class_is_worst_of_class_indicators():
    r = section_class({"ph": [7.0, 7.0], "do": [8.0, 4.0], "cod": [14.0, 14.0]}, "river")
    assert r.class_num.tolist() == [1, 4]
    assert r.by_indicator["do"].tolist() == [1, 4]


def test_missing_indicator_ignored_and_all_missing_is_0():
    r = section_class({"codmn": [np.nan, 3.0, np.nan], "nh3_n": [0.6, np.nan, np.nan]})
    assert r.class_num.tolist() == [3, 2, 0]
    assert r.label.tolist() == ["Ⅲ", "Ⅱ", ""]


def test_tn_never_in_river_class():
    v = {"nh3_n": [0.1, 0.1], "tn": [10.0, 10.0]}
    r = section_class(v, ["river", "lake"])
    assert r.class_num.tolist() == [1, 1]           # TN separate for lakes too (2011 rule)
    assert r.by_indicator["tn"].tolist() == [0, 6]  # not evaluated for the river
    r2 = section_class(v, ["river", "lake"], tn_in_lake_class=True)
    assert r2.class_num.tolist() == [1, 6]          # option: lakes only, never the river
    assert r2.main_pollutants[0] == [] and r2.main_pollutants[1][0][0] == "tn"


@settings(max_examples=40, deadline=None)
@given(tn=st.floats(0, 100), nh3=st.floats(0, 5), opt=st.booleans())
def test_river_class_does_not_depend_on_tn(tn, nh3, opt):
    with_tn = section_class({"nh3_n": nh3, "tn": tn}, "river", tn_in_lake_class=opt)
    without = section_class({"nh3_n": nh3}, "river")
    assert with_tn.class_num.tolist() == without.class_num.tolist()


def test_fecal_coliform_not_in_class():
    r = section_class({"nh3_n": 0.1, "fecal_coliform": 1e6}, "river")
    assert r.class_num.tolist() == [1]
    assert r.by_indicator["fecal_coliform"].tolist() == [6]


def test_tp_lake_vs_river_in_section():
    r = section_class({"tp": [0.08, 0.08]}, ["river", "reservoir"])
    assert r.class_num.tolist() == [2, 4]


def test_hj212_code_columns_and_duplicates():
    r = section_class({"w21003": 1.2, "w20143": 6.0}, "river")  # cadmium 6 µg/L → Ⅴ
    assert r.by_indicator["cd"].tolist() == [5]
    with pytest.raises(ValueError, match="given twice"):
        section_class({"w21003": 1.2, "nh3_n": 1.2})
    with pytest.raises(KeyError, match="unknown indicator"):
        section_class({"nh3n": 1.2})


# --- main pollutants (§5) ---------------------------------------------------------

def test_no_main_pollutant_when_class_3_or_better():
    r = section_class({"nh3_n": 1.0, "codmn": 6.0}, "river")
    assert r.class_num.tolist() == [3]
    assert r.main_pollutants == [[]]


def test_only_indicators_worse_than_3_are_main():
    r = section_class({"nh3_n": 1.2, "codmn": 6.0, "cod": 18}, "river")
    assert r.main_pollutants[0] == [("nh3_n", pytest.approx(0.2))]


def test_ties_in_class_broken_by_exceedance_multiple():
    # all Ⅳ: E codmn (8-6)/6=0.33, cod (25-20)/20=0.25, bod5 (5-4)/4=0.25, nh3_n 0.4
    r = section_class({"codmn": 8, "cod": 25, "bod5": 5, "nh3_n": 1.4}, "river")
    keys = [k for k, _ in r.main_pollutants[0]]
    assert keys == ["nh3_n", "codmn", "cod"]  # cod/bod5 tie on E: table order


def test_worse_class_before_larger_multiple():
    # phenol Ⅴ with E 1.0 beats nh3_n 劣Ⅴ? no: worse class first.
    r = section_class({"phenol": 0.01, "nh3_n": 2.1, "codmn": 14.0}, "river")
    # phenol 0.01 = Ⅳ limit → Ⅳ, E=1.0; nh3_n 劣Ⅴ E=1.1; codmn Ⅴ E=1.33
    assert [k for k, _ in r.main_pollutants[0]] == ["nh3_n", "codmn", "phenol"]


def test_cyanide_and_heavy_metals_first():
    # cyanide Ⅳ? its Ⅲ=Ⅳ=Ⅴ limit is 0.2, so 0.25 is 劣Ⅴ; cadmium 0.008 is Ⅴ
    r = section_class({"nh3_n": 3.0, "tp": 0.5, "codmn": 20, "cd": 0.008, "cyanide": 0.25},
                      "river")
    keys = [k for k, _ in r.main_pollutants[0]]
    assert keys == ["cyanide", "cd", "codmn"]
    assert gb3838.PRIORITY_INDICATORS == {"cu", "zn", "as", "hg", "cd", "cr6", "pb", "cyanide"}


def test_heavy_metal_meeting_class_3_is_not_main():
    r = section_class({"nh3_n": 3.0, "pb": 0.05}, "river")  # Pb at its Ⅲ limit
    assert [k for k, _ in r.main_pollutants[0]] == ["nh3_n"]


def test_do_and_ph_listed_without_multiple_after_same_class_indicators():
    r = section_class({"do": 1.0, "ph": 9.5, "nh3_n": 2.5}, "river")
    assert r.main_pollutants[0] == [("nh3_n", pytest.approx(1.5)), ("ph", None), ("do", None)]
    assert format_main_pollutants(r.main_pollutants[0]) == "nh3_n(1.5),ph,do"


def test_at_most_three():
    r = section_class({"codmn": 20, "cod": 50, "bod5": 12, "nh3_n": 3, "tp": 0.6}, "river")
    assert len(r.main_pollutants[0]) == 3


def test_main_pollutant_format_rounds_half_even():
    assert format_main_pollutants([("tp", 0.125), ("cod", 0.135), ("x", 2.0)]) == \
        "tp(0.12),cod(0.14),x(2)"


# --- target compliance -------------------------------------------------------------

def test_meets_target():
    assert gb3838.meets_target([1, 3, 4, 0, 6], 3).tolist() == [True, True, False, False, False]
    assert gb3838.meets_target([2, 2], [1, 2]).tolist() == [False, True]
    with pytest.raises(ValueError):
        gb3838.meets_target([1], 0)


# --- period statistics -------------------------------------------------------------

def test_ph_mean_hplus_and_arithmetic():
    assert float(gb3838.ph_mean([6.0, 8.0], method="arithmetic")) == 7.0
    # −log10((1e-6 + 1e-8)/2) = 6.2967…
    assert float(gb3838.ph_mean([6.0, 8.0])) == pytest.approx(6.29671, abs=1e-5)
    assert float(gb3838.ph_mean([7.2, 7.2, np.nan])) == pytest.approx(7.2)
    with pytest.raises(ValueError):
        gb3838.ph_mean([7.0], method="median")


def test_ph_mean_changes_class_at_the_edge():
    vals = [5.5, 9.0, 9.0]  # arithmetic 7.83 → Ⅰ; H⁺ mean 5.97 → 劣Ⅴ
    a = gb3838.period_mean("ph", vals, ph_method="arithmetic")
    h = gb3838.period_mean("ph", vals)
    assert gb3838.single_factor_class("ph", [a, h]).tolist() == [1, 6]


@settings(max_examples=80, deadline=None)
@given(st.integers(min_value=-10**7, max_value=10**7), st.integers(min_value=0, max_value=4))
def test_round_half_even_matches_decimal(n, d):
    # values written with d+1 decimals (a tie every ten values)
    text = f"{Decimal(n).scaleb(-(d + 1)):f}"
    expected = float(Decimal(text).quantize(Decimal(1).scaleb(-d), rounding=ROUND_HALF_EVEN))
    assert float(gb3838.round_half_even(float(text), d)) == expected


def test_round_half_even_examples():
    # 四舍六入五成双: 0.125→0.12, 0.135→0.14, 0.1251→0.13, 2.675→2.68 (2.675 is 2.67499… in binary)
    assert gb3838.round_half_even([0.125, 0.135, 0.1251, 2.675, 0.124], 2).tolist() == [
        0.12, 0.14, 0.13, 2.68, 0.12]


def _frame():
    return pl.DataFrame({
        "site": ["A", "A", "A", "B", "B"],
        "time": [datetime(2024, 1, 3), datetime(2024, 1, 20), datetime(2024, 2, 3),
                 datetime(2024, 1, 5), datetime(2024, 4, 5)],
        "waterbody": ["river", "river", "river", "lake", "lake"],
        "ph": [6.0, 8.0, 7.0, 7.0, 7.0],
        "tp": [0.1, 0.3, 0.05, 0.04, 0.06],
        "w21003": [0.4, 0.6, None, 0.1, 0.1],
    })


def test_classify_frame_per_month():
    out = gb3838.classify_frame(_frame(), period="month")
    a_jan = out.filter((pl.col("site") == "A") & (pl.col("period") == datetime(2024, 1, 1)))
    assert a_jan["n"][0] == 2
    assert a_jan["tp"][0] == pytest.approx(0.2)       # mean 0.2 meets Ⅲ (0.2)
    assert a_jan["class_tp"][0] == 3
    assert a_jan["nh3_n"][0] == pytest.approx(0.5)    # w21003 renamed, mean 0.5 → Ⅱ
    assert a_jan["ph"][0] == pytest.approx(6.29671, abs=1e-5)
    assert a_jan["class"][0] == "Ⅲ" and a_jan["grade"][0] == "良好"
    a_feb = out.filter((pl.col("site") == "A") & (pl.col("period") == datetime(2024, 2, 1)))
    assert a_feb["class_nh3_n"][0] == 0 and a_feb["class"][0] == "Ⅱ"  # missing NH3-N ignored


def test_classify_frame_per_year_lake_tp():
    out = gb3838.classify_frame(_frame(), period="year", ph_method="arithmetic").sort("site")
    assert out["n"].to_list() == [3, 2]
    assert out["ph"][0] == pytest.approx(7.0)
    assert out["tp"][1] == pytest.approx(0.05)
    assert out["class_tp"].to_list() == [3, 3]  # river mean 0.15 → Ⅲ; lake mean 0.05 → Ⅲ


def test_classify_frame_quarter_and_no_period():
    q = gb3838.classify_frame(_frame(), period="quarter")
    assert q.height == 3
    raw = gb3838.classify_frame(_frame())
    assert raw["class_num"].to_list() == [2, 4, 2, 3, 4]
    assert raw["main_pollutants"].to_list()[1] == "tp(0.5)"


def test_classify_frame_site_with_two_waterbody_types():
    df = _frame().with_columns(pl.Series("waterbody", ["river", "lake", "river", "lake", "lake"]))
    with pytest.raises(ValueError, match="more than one waterbody"):
        gb3838.classify_frame(df, period="month")


def test_classify_frame_decimals_rounding():
    df = pl.DataFrame({"site": ["A"] * 2, "time": [datetime(2024, 1, 1)] * 2,
                       "waterbody": ["river"] * 2, "nh3_n": [1.0, 1.01]})
    plain = gb3838.classify_frame(df, period="month")
    rounded = gb3838.classify_frame(df, period="month", decimals={"nh3_n": 2})
    assert plain["class_nh3_n"][0] == 4      # 1.005 > 1.0
    assert rounded["class_nh3_n"][0] == 3    # 1.005 → 1.00 (five, even)


# --- river / basin (§3) --------------------------------------------------------------

def _sections(classes):
    """NH3-N values giving the wanted classes."""
    v = {1: 0.1, 2: 0.4, 3: 0.8, 4: 1.2, 5: 1.8, 6: 3.0}
    return {"nh3_n": [v[c] for c in classes]}


def test_worked_example_formulas_05_river():
    # 8 sections Ⅱ,Ⅱ,Ⅲ,Ⅲ,Ⅲ,Ⅳ,Ⅳ,劣Ⅴ → Ⅰ–Ⅲ 62.5 %, 劣Ⅴ 12.5 % → 轻度污染
    r = assess_river(_sections([2, 2, 3, 3, 3, 4, 4, 6]), "river")
    assert r.method == "proportion" and r.n_sections == 8
    assert r.shares["good"] == 62.5 and r.shares["worse_v"] == 12.5
    assert r.grade_zh == "轻度污染" and r.grade_en == "lightly polluted"
    assert r.main_pollutants == [("nh3_n", 37.5)]   # exceedance rate 3/8


@pytest.mark.parametrize("good,worse,n,grade", [
    (18, 0, 20, 0),   # 90 % → 优 (≥ 90)
    (17, 0, 20, 1),   # 85 % → 良好
    (15, 0, 20, 1),   # 75 % → 良好 (≥ 75)
    (14, 3, 20, 2),   # 70 %, 劣Ⅴ 15 % → 轻度
    (14, 4, 20, 3),   # 劣Ⅴ 20 % → 中度 (≥ 20)
    (10, 7, 20, 3),   # 35 % → 中度
    (10, 8, 20, 4),   # 40 % → 重度 (≥ 40)
    (9, 1, 10, 0),
])
def test_proportion_thresholds(good, worse, n, grade):
    assert grade_from_proportions(good, worse, n) == grade


def test_under_five_sections_averages_then_classifies():
    # 4 sections: NH3-N 0.4, 0.4, 0.4, 2.4 → mean 0.9 → Ⅲ (the proportion rule would say 75 % good)
    r = assess_river({"nh3_n": [0.4, 0.4, 0.4, 2.4], "ph": [7, 7, 7, 7]}, "river")
    assert r.method == "mean" and r.class_num == 3 and r.grade_zh == "良好"
    # NH3-N mean 1.4 (Ⅳ, E 0.4), TP mean 0.3 (= Ⅳ limit, E 0.5) → Ⅳ, TP first by E
    r2 = assess_river({"nh3_n": [0.4, 2.4], "tp": [0.1, 0.5]}, "river")
    assert r2.class_num == 4
    assert [k for k, _ in r2.main_pollutants] == ["tp", "nh3_n"]
    assert r2.main_pollutants[0][1] == pytest.approx(0.5)


def test_five_sections_uses_proportions():
    r = assess_river(_sections([1, 1, 1, 1, 6]), "river")
    assert r.method == "proportion" and r.class_num is None
    assert r.grade_zh == "良好"  # 80 %
    assert r.main_pollutants == []


def test_class_shares_ignore_missing():
    s = gb3838.class_shares([1, 3, 6, 0, 4])
    assert s["n"] == 4 and s["good"] == 50.0 and s["worse_v"] == 25.0
    assert s["counts"]["劣Ⅴ"] == 1


# --- trends (§6) ----------------------------------------------------------------------

@pytest.mark.parametrize("before,after,delta,label", [
    (1, 2, 0, "无明显变化"),   # Ⅰ and Ⅱ are both 优
    (3, 3, 0, "无明显变化"),
    (3, 4, -1, "有所变差"),
    (4, 3, 1, "有所好转"),
    (6, 3, 3, "明显好转"),
    (2, 5, -3, "明显变差"),
    (0, 3, 0, ""),
])
def test_grade_change(before, after, delta, label):
    assert grade_change(before, after) == (delta, label)


def test_grade_change_vectorised():
    d, lab = grade_change(np.array([1, 4]), np.array([3, 2]))
    assert d.tolist() == [-1, 2] and lab.tolist() == ["有所变差", "明显好转"]


@pytest.mark.parametrize("g1,d1,g2,d2,x,label", [
    (60, 20, 70, 20, 10.0, "无明显变化"),     # exactly 10 → no obvious change
    (60, 20, 70, 19, 11.0, "有所好转"),
    (60, 20, 75, 15, 20.0, "有所好转"),       # exactly 20
    (60, 20, 75, 10, 25.0, "明显好转"),
    (80, 5, 65, 10, -20.0, "有所变差"),
    (80, 5, 60, 10, -25.0, "明显变差"),
    (62.5, 12.5, 70.0, 10.0, 10.0, "无明显变化"),
])
def test_proportion_change(g1, d1, g2, d2, x, label):
    assert proportion_change(g1, d1, g2, d2) == (x, label)
    assert gb3838.TREND_THRESHOLDS == (10.0, 20.0)
