"""GB 3838-2002 Table 1 single-factor classes.

Expected limits are typed here from GB 3838-2002 Table 1 (as transcribed in
shared/reference/standards.md, [P]), independently of the module's table, so a
typo in either shows up.
"""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from gongzhi.standards import gb3838
from gongzhi.standards.gb3838 import INDICATORS, single_factor_class

# GB 3838-2002 Table 1, classes Ⅰ..Ⅴ ("≤" limits unless noted), mg/L.
TABLE1_LE = {
    "codmn": (2, 4, 6, 10, 15),            # item 4
    "cod": (15, 15, 20, 30, 40),           # item 5
    "bod5": (3, 3, 4, 6, 10),              # item 6
    "nh3_n": (0.15, 0.5, 1.0, 1.5, 2.0),   # item 7
    "tp": (0.02, 0.1, 0.2, 0.3, 0.4),      # item 8, rivers
    "tn": (0.2, 0.5, 1.0, 1.5, 2.0),       # item 9, lakes and reservoirs
    "cu": (0.01, 1.0, 1.0, 1.0, 1.0),      # item 10
    "zn": (0.05, 1.0, 1.0, 2.0, 2.0),      # item 11
    "fluoride": (1.0, 1.0, 1.0, 1.5, 1.5),  # item 12
    "se": (0.01, 0.01, 0.01, 0.02, 0.02),  # item 13
    "as": (0.05, 0.05, 0.05, 0.1, 0.1),    # item 14
    "hg": (0.00005, 0.00005, 0.0001, 0.001, 0.001),  # item 15
    "cd": (0.001, 0.005, 0.005, 0.005, 0.01),        # item 16
    "cr6": (0.01, 0.05, 0.05, 0.05, 0.1),  # item 17
    "pb": (0.01, 0.01, 0.05, 0.05, 0.1),   # item 18
    "cyanide": (0.005, 0.05, 0.2, 0.2, 0.2),         # item 19
    "phenol": (0.002, 0.002, 0.005, 0.01, 0.1),      # item 20
    "petroleum": (0.05, 0.05, 0.05, 0.5, 1.0),       # item 21
    "las": (0.2, 0.2, 0.2, 0.3, 0.3),      # item 22
    "sulfide": (0.05, 0.1, 0.2, 0.5, 1.0),  # item 23
    "fecal_coliform": (200, 2000, 10000, 20000, 40000),  # item 24, per L
}
TP_LAKE = (0.01, 0.025, 0.05, 0.1, 0.2)   # item 8, lakes and reservoirs
DO_GE = (7.5, 6, 5, 3, 2)                 # item 3, "≥"

# HJ 212-2017 Appendix B (shared/reference/hj212_codes.csv): canonical code, its unit
# factor to mg/L, and accepted aliases.
HJ212 = {
    "ph": ("w01001", 1.0), "do": ("w01009", 1.0), "codmn": ("w01019", 1.0),
    "cod": ("w01018", 1.0), "bod5": ("w01017", 1.0), "nh3_n": ("w21003", 1.0),
    "tp": ("w21011", 1.0), "tn": ("w21001", 1.0), "cu": ("w20138", 1.0), "zn": ("w20139", 1.0),
    "fluoride": ("w21017", 1.0), "se": ("w20140", 1.0), "as": ("w20141", 1.0),
    "hg": ("w20142", 1e-3), "cd": ("w20143", 1e-3), "cr6": ("w20117", 1e-3),
    "pb": ("w20144", 1.0), "cyanide": ("w21016", 1.0), "phenol": ("w23002", 1.0),
    "petroleum": ("w22001", 1.0), "las": ("w19002", 1.0), "sulfide": ("w21019", 1.0),
    "fecal_coliform": ("w02003", 1.0),
}
ALIASES = {"w20122": ("cu", 1.0), "w20123": ("zn", 1.0), "w20128": ("se", 1e-3),
           "w20119": ("as", 1e-3), "w20111": ("hg", 1e-3), "w20115": ("cd", 1e-3),
           "w20120": ("pb", 1e-3)}


# --- the table itself --------------------------------------------------------

@pytest.mark.parametrize("key", sorted(TABLE1_LE))
def test_table1_row_matches_standard(key):
    ind = INDICATORS[key]
    assert ind.kind == "le"
    assert ind.limits == pytest.approx(TABLE1_LE[key], rel=0, abs=0)


def test_table1_tp_lake_and_do_ph_rows():
    assert INDICATORS["tp"].lake_limits == TP_LAKE
    assert INDICATORS["do"].kind == "ge" and INDICATORS["do"].limits == DO_GE
    assert INDICATORS["ph"].kind == "range" and gb3838.PH_RANGE == (6.0, 9.0)


def test_class_indicators_are_the_21_of_2011_rules():
    # 环办〔2011〕22号 §1: Table 1 minus water temperature, TN, fecal coliforms.
    assert len(gb3838.CLASS_INDICATORS) == 21
    assert set(gb3838.CLASS_INDICATORS) == (set(TABLE1_LE) | {"ph", "do"}) - {"tn", "fecal_coliform"}
    assert set(gb3838.REFERENCE_INDICATORS) == {"tn", "fecal_coliform"}


@pytest.mark.parametrize("key", sorted(HJ212))
def test_hj212_codes(key):
    code, factor = HJ212[key]
    assert INDICATORS[key].hj212[0].code == code
    assert gb3838.resolve_indicator(code) == (key, factor)
    assert gb3838.resolve_indicator(code.upper()) == (key, factor)


@pytest.mark.parametrize("code", sorted(ALIASES))
def test_hj212_total_metal_aliases(code):
    assert gb3838.resolve_indicator(code) == ALIASES[code]


def test_unknown_indicator():
    with pytest.raises(KeyError):
        gb3838.resolve_indicator("w01010")  # water temperature: no class limits


# --- boundaries on both sides of every limit ------------------------------------

LE_CASES = [(k, i) for k in sorted(TABLE1_LE) for i in range(5)]


@pytest.mark.parametrize("key,i", LE_CASES, ids=[f"{k}-{'ⅠⅡⅢⅣⅤ'[i]}" for k, i in LE_CASES])
def test_le_limit_boundaries(key, i):
    lims = TABLE1_LE[key]
    lim = lims[i]
    # a value equal to a limit meets it: the best class whose limit is >= the value
    at = 1 + sum(l < lim for l in lims)
    above = 1 + sum(l <= lim for l in lims)
    wb = "lake" if key == "tn" else "river"
    got = single_factor_class(key, [lim, lim * (1 + 1e-6), lim * (1 - 1e-6)], wb)
    assert got.tolist() == [at, above, at]
    assert at <= i + 1 < above


TP_CASES = list(range(5))


@pytest.mark.parametrize("i", TP_CASES)
def test_tp_lake_boundaries(i):
    lim = TP_LAKE[i]
    got = single_factor_class("tp", [lim, lim * (1 + 1e-6)], "lake")
    assert got.tolist() == [i + 1, i + 2]


@pytest.mark.parametrize("i", range(5))
def test_do_boundaries(i):
    lim = DO_GE[i]
    got = single_factor_class("do", [lim, lim * (1 - 1e-6), lim * (1 + 1e-6)])
    assert got.tolist() == [i + 1, i + 2, i + 1]


def test_do_above_class1_and_zero():
    assert single_factor_class("do", [12.0, 0.0]).tolist() == [1, 6]


def test_do_saturation_alternative_for_class1():
    # Table 1 item 3: 饱和率90%（或7.5）: either criterion meets class Ⅰ
    got = single_factor_class("do", [7.0, 7.0, 7.0, 5.5], do_saturation=[90.0, 89.9, np.nan, 95.0])
    assert got.tolist() == [1, 2, 2, 1]


@pytest.mark.parametrize("ph,expected", [(6.0, 1), (9.0, 1), (7.5, 1), (5.99, 6), (9.01, 6),
                                         (0.0, 6), (14.0, 6)])
def test_ph_range(ph, expected):
    assert single_factor_class("ph", [ph]).tolist() == [expected]


# --- floating point at the limits ---------------------------------------------

def test_value_parsed_from_decimal_text_equals_limit():
    assert float("0.1") == 0.1
    assert single_factor_class("tp", [float("0.1"), float("0.2")]).tolist() == [2, 3]


def test_computed_mean_at_a_limit_meets_it():
    m = np.mean([0.1, 0.2, 0.3])
    assert m > 0.2  # 0.20000000000000004: plain <= would give class Ⅳ
    assert single_factor_class("tp", [m]).tolist() == [3]
    assert single_factor_class("nh3_n", [np.mean([0.9, 1.1, 1.0, 1.0, 0.7, 1.3])]).tolist() == [3]


def test_tolerance_is_tiny():
    assert gb3838.RELATIVE_TOLERANCE == 1e-9
    # float noise meets the limit; a real (reported) excess does not
    assert single_factor_class("nh3_n", [1.0 + 1e-12, 1.0 + 1e-6, 1.0001]).tolist() == [3, 4, 4]
    assert single_factor_class("do", [5.0 - 1e-12, 5.0 - 1e-6]).tolist() == [3, 4]


def test_hj212_unit_conversion_at_limit():
    # mercury w20142 is sent in µg/L: 0.05 µg/L = 0.00005 mg/L (class Ⅰ/Ⅱ limit)
    assert single_factor_class("w20142", [0.05, 0.1, 0.11, 1.0, 1.01]).tolist() == [1, 3, 4, 4, 6]
    assert single_factor_class("w21003", [0.5]).tolist() == [2]


# --- missing and invalid input -----------------------------------------------

def test_nan_is_missing_code_0():
    assert gb3838.MISSING == 0
    got = single_factor_class("codmn", [np.nan, 3.0])
    assert got.tolist() == [0, 2]
    assert single_factor_class("ph", [np.nan]).tolist() == [0]
    assert single_factor_class("do", [np.nan]).tolist() == [0]
    assert got.dtype == np.int8


def test_negative_concentration_raises_with_position():
    with pytest.raises(ValueError, match=r"nh3_n: negative .* position 1"):
        single_factor_class("nh3_n", [0.1, -0.01, 0.2])


def test_negative_can_be_made_missing():
    got = single_factor_class("nh3_n", [0.1, -0.01, np.inf], on_invalid="missing")
    assert got.tolist() == [1, 0, 0]


@pytest.mark.parametrize("ph", [-0.1, 14.5, np.inf])
def test_ph_out_of_range_raises(ph):
    with pytest.raises(ValueError, match="pH outside"):
        single_factor_class("ph", [7.0, ph])


def test_bad_on_invalid_value():
    with pytest.raises(ValueError, match="on_invalid"):
        single_factor_class("nh3_n", [-1.0], on_invalid="ignore")


def test_zero_concentration_is_class_1():
    assert single_factor_class("cod", [0.0]).tolist() == [1]


# --- waterbody and TP ----------------------------------------------------------

def test_tp_river_vs_lake_per_value():
    v = [0.05, 0.05, 0.05, 0.05, 0.15]
    wb = ["river", "lake", "reservoir", "river_reservoir", "湖泊"]
    assert single_factor_class("tp", v, wb).tolist() == [2, 3, 3, 2, 5]


def test_tp_boolean_waterbody_and_scalar():
    assert single_factor_class("tp", [0.05, 0.05], np.array([False, True])).tolist() == [2, 3]
    assert single_factor_class("tp", [0.05, 0.3], "lake").tolist() == [3, 6]


def test_unknown_waterbody():
    with pytest.raises(ValueError, match=r"unknown waterbody type 'sea' at position 1"):
        gb3838.is_lake(["river", "sea"])


def test_waterbody_spellings():
    assert gb3838.is_lake(["River", "LAKE", "river-reservoir", "河道型水库", "水库"]).tolist() == [
        False, True, False, False, True]


# --- monotonicity (hypothesis) -------------------------------------------------

conc = st.floats(min_value=0, max_value=1e5, allow_nan=False, allow_infinity=False)


@settings(max_examples=60, deadline=None)
@given(key=st.sampled_from(sorted(TABLE1_LE)), a=conc, b=conc, lake=st.booleans())
def test_higher_concentration_never_better(key, a, b, lake):
    lo, hi = min(a, b), max(a, b)
    c = single_factor_class(key, [lo, hi], "lake" if lake else "river")
    assert c[0] <= c[1]


@settings(max_examples=60, deadline=None)
@given(a=st.floats(0, 20), b=st.floats(0, 20))
def test_more_oxygen_never_worse(a, b):
    lo, hi = min(a, b), max(a, b)
    c = single_factor_class("do", [lo, hi])
    assert c[0] >= c[1]


@settings(max_examples=60, deadline=None)
@given(v=st.floats(0, 2))
def test_lake_tp_never_better_than_river_tp(v):
    river, lake = single_factor_class("tp", [v, v], ["river", "lake"])
    assert lake >= river


@settings(max_examples=40, deadline=None)
@given(v=st.lists(conc, min_size=1, max_size=20))
def test_class_is_in_1_to_6(v):
    c = single_factor_class("cd", v)
    assert c.min() >= 1 and c.max() <= 6


# --- exceedance multiple --------------------------------------------------------

def test_exceedance_multiple_examples():
    # formulas/05 worked example: NH3-N 2.6 → 1.6; TP 0.35 (river) → 0.75; CODMn 7.2 → 0.2
    assert float(gb3838.exceedance_multiple("nh3_n", 2.6)) == pytest.approx(1.6)
    assert float(gb3838.exceedance_multiple("tp", 0.35)) == pytest.approx(0.75)
    assert float(gb3838.exceedance_multiple("codmn", 7.2)) == pytest.approx(0.2)
    # lakes use the lake class Ⅲ TP limit 0.05
    assert float(gb3838.exceedance_multiple("tp", 0.1, "lake")) == pytest.approx(1.0)


def test_no_exceedance_for_ph_and_do():
    assert math.isnan(float(gb3838.exceedance_multiple("ph", 9.5)))
    assert math.isnan(float(gb3838.exceedance_multiple("do", 1.0)))


def test_labels_and_grades():
    codes = np.arange(7)
    assert gb3838.class_label(codes).tolist() == ["", "Ⅰ", "Ⅱ", "Ⅲ", "Ⅳ", "Ⅴ", "劣Ⅴ"]
    assert gb3838.grade_zh(codes).tolist() == ["", "优", "优", "良好", "轻度污染", "中度污染",
                                               "重度污染"]
    assert gb3838.grade_en(6) == "heavily polluted"
    assert gb3838.grade_level(codes).tolist() == [-1, 0, 0, 1, 2, 3, 4]


def test_editions():
    assert gb3838.EDITION.code == "GB 3838-2002"
    assert gb3838.EDITION.in_force_on(__import__("datetime").date(2024, 1, 1))
    assert gb3838.EVALUATION_RULES.code == "环办〔2011〕22号"
