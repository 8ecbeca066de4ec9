"""HJ 633-2012 / HJ 633-2026 AQI (gongzhi.standards.hj633).

Expected IAQI values come from an independent exact reference: the formula of
HJ 633 formula (1) evaluated in rational arithmetic (fractions.Fraction) on the
decimal concentration, rounded up with math.ceil; HJ 633-2026 concentrations are first
rounded with decimal's ROUND_HALF_EVEN (GB/T 8170). The tables the reference uses are
typed here again from shared/reference/standards.md, not imported from the engine, so a
typo in either copy fails a test.
"""

from __future__ import annotations

import math
from decimal import ROUND_HALF_EVEN, Decimal
from fractions import Fraction

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from gongzhi.standards import hj633

LEVELS = (0, 50, 100, 150, 200, 300, 400, 500)

# standards.md, "HJ 633-2012 AQI" table [P]
TABLE_2012 = {
    "so2_24h": "0 50 150 475 800 1600 2100 2620",
    "so2_1h": "0 150 500 650 800",
    "no2_24h": "0 40 80 180 280 565 750 940",
    "no2_1h": "0 100 200 700 1200 2340 3090 3840",
    "pm10_24h": "0 50 150 250 350 420 500 600",
    "co_24h": "0 2 4 14 24 36 48 60",
    "co_1h": "0 5 10 35 60 90 120 150",
    "o3_1h": "0 160 200 300 400 800 1000 1200",
    "o3_8h": "0 100 160 215 265 800",
    "pm2_5_24h": "0 35 75 115 150 250 350 500",
}
# standards.md, "HJ 633-2026 AQI", full 2026 rows [P]
TABLE_2026 = dict(TABLE_2012, pm10_24h="0 50 120 250 350 420 500 600",
                  pm2_5_24h="0 35 60 115 150 250 350 500")
TABLES = {"HJ 633-2012": TABLE_2012, "HJ 633-2026": TABLE_2026}


def bps(edition, indicator):
    return [Fraction(x) for x in TABLES[edition][indicator].split()]


def ref_iaqi(c: str, indicator: str, edition: str):
    """Exact IAQI of a decimal concentration string; None when the table gives none."""
    d = Decimal(c)
    if edition == "HJ 633-2026":
        q = Decimal("0.1") if indicator.startswith("co") else Decimal("1")
        d = d.quantize(q, rounding=ROUND_HALF_EVEN)
    x = Fraction(d)
    b = bps(edition, indicator)
    if x > b[-1]:
        return None
    for j in range(len(b) - 1):
        if b[j] <= x <= b[j + 1]:
            v = Fraction(LEVELS[j + 1] - LEVELS[j], 1) / (b[j + 1] - b[j]) * (x - b[j]) + LEVELS[j]
            return math.ceil(v)
    raise AssertionError("negative")


def eng(c, indicator, edition):
    return hj633.iaqi(np.array([float(c)]), indicator, edition=edition)[0]


# --- tables -------------------------------------------------------------------------------


@pytest.mark.parametrize("edition", list(TABLES))
def test_tables_match_standards_md(edition):
    """HJ 633 Table 1 of each edition, as recorded in standards.md [P]."""
    table = hj633.BREAKPOINTS_2012 if edition.endswith("2012") else hj633.BREAKPOINTS_2026
    for ind, row in TABLES[edition].items():
        assert [float(x) for x in row.split()] == [float(x) for x in table[ind]], ind


def test_2026_differs_from_2012_in_two_numbers_only():
    """standards.md: only the IAQI-100 points of PM10 (150→120) and PM2.5 (75→60) change."""
    diffs = [(k, i) for k in hj633.INDICATORS
             for i, (a, b) in enumerate(zip(hj633.BREAKPOINTS_2012[k], hj633.BREAKPOINTS_2026[k]))
             if a != b]
    assert diffs == [("pm10_24h", 2), ("pm2_5_24h", 2)]


# --- both sides of every breakpoint --------------------------------------------------------


def _boundary_cases():
    for edition, table in TABLES.items():
        for ind, row in table.items():
            points = row.split()
            co = ind.startswith("co")
            deltas = (["0.1"] if co else ["1"]) if edition.endswith("2026") else \
                (["0.1", "0.01"] if co else ["1", "0.1", "0.01"])
            for j, bp in enumerate(points):
                for d in deltas:
                    yield pytest.param(edition, ind, j, bp, d, id=f"{edition[-4:]}-{ind}-{bp}-{d}")


@pytest.mark.parametrize("edition,indicator,j,bp,delta", list(_boundary_cases()))
def test_iaqi_both_sides_of_every_breakpoint(edition, indicator, j, bp, delta):
    """HJ 633 Table 1 + formula (1): on a breakpoint the IAQI is the breakpoint's level
    exactly; just above it is above the level, just below it is at most the level."""
    on = eng(bp, indicator, edition)
    assert on == LEVELS[j]
    n_points = len(TABLES[edition][indicator].split())
    above = str(Decimal(bp) + Decimal(delta))
    if j < n_points - 1:
        a = eng(above, indicator, edition)
        assert a == ref_iaqi(above, indicator, edition)
        assert a > LEVELS[j]
    if j > 0:
        below = str(Decimal(bp) - Decimal(delta))
        b = eng(below, indicator, edition)
        assert b == ref_iaqi(below, indicator, edition)
        assert b <= LEVELS[j]


@pytest.mark.parametrize("edition", list(TABLES))
@pytest.mark.parametrize("indicator", hj633.INDICATORS)
def test_iaqi_above_the_top_breakpoint(edition, indicator):
    """Above the top of a table: SO2 1-h and O3 8-h follow the edition's 800 rules
    (2012: no IAQI from that table; 2026: 200 / 300) [P]; every other table caps at 500
    (the top of the scale) [M]."""
    top = Decimal(TABLES[edition][indicator].split()[-1])
    step = Decimal("0.1") if indicator.startswith("co") else Decimal("1")
    v = hj633.iaqi(np.array([float(top + step), float(top * 3)]), indicator, edition=edition)
    if indicator == "so2_1h":
        expected = [np.nan] * 2 if edition.endswith("2012") else [200, 200]
    elif indicator == "o3_8h":
        expected = [np.nan] * 2 if edition.endswith("2012") else [300, 300]
    else:
        expected = [500, 500]
    np.testing.assert_array_equal(v, expected)


# --- exactness of rounding up ------------------------------------------------------------


decimal_conc = st.decimals(min_value=0, max_value=3000, places=3, allow_nan=False)


@settings(max_examples=400, deadline=None)
@given(c=decimal_conc, indicator=st.sampled_from(hj633.INDICATORS),
       edition=st.sampled_from(list(TABLES)))
def test_iaqi_equals_exact_rational_reference(c, indicator, edition):
    """Formula (1) rounded up: float evaluation never bumps an exact integer by 1e-13."""
    expected = ref_iaqi(str(c), indicator, edition)
    got = eng(str(c), indicator, edition)
    if expected is None:  # above the table: covered by test_iaqi_above_the_top_breakpoint
        return
    assert got == expected


@pytest.mark.parametrize("c,indicator,expected", [
    # hand-derived from formula (1), HJ 633-2012
    ("76", "pm2_5_24h", 102),      # 100 + 50/40·1 = 101.25 → 102
    ("0.3", "co_24h", 8),          # 50/2·0.3 = 7.5 → 8
    ("2.3", "co_24h", 58),         # 50 + 50/2·0.3 = 57.5 → 58
    ("0.8", "co_1h", 8),           # 50/5·0.8 = 8 exactly (float 0.8·10 = 8.000000000000002)
    ("3.2", "co_24h", 80),         # 50 + 25·1.2 = 80 exactly
    ("115.5", "pm2_5_24h", 151),   # 150 + 50/35·0.5 = 150.71 → 151
    ("4.6", "co_24h", 103),        # 100 + 5·0.6 = 103 exactly
])
def test_iaqi_hand_examples_2012(c, indicator, expected):
    assert eng(c, indicator, "HJ 633-2012") == expected


def test_2012_never_truncates_concentrations():
    """HJ 633-2012: 'a concentration must not be truncated to an integer' [P]."""
    assert eng("75.5", "pm2_5_24h", "HJ 633-2012") == 101  # truncating would give 100
    assert eng("0.7", "co_24h", "HJ 633-2012") == 18       # 17.5 → 18


@pytest.mark.parametrize("c,indicator,expected", [
    ("60.4", "pm2_5_24h", 100),   # → 60 → IAQI 100 exactly
    ("60.5", "pm2_5_24h", 100),   # half to even → 60
    ("61.5", "pm2_5_24h", 102),   # half to even → 62 → 100 + 50/55·2 = 101.8 → 102
    ("120.4", "pm10_24h", 100),   # → 120
    ("0.35", "co_24h", 10),       # → 0.4 (decimal half, odd 3 → up) → 10
    ("0.25", "co_24h", 5),        # → 0.2 → 5
    ("0.44", "co_24h", 10),       # → 0.4 → 10
])
def test_2026_rounds_concentrations_first(c, indicator, expected):
    """HJ 633-2026: µg/m³ to integers, CO to 0.1 per GB/T 8170 (half to even), then IAQI [P]."""
    assert eng(c, indicator, "HJ 633-2026") == expected
    assert ref_iaqi(c, indicator, "HJ 633-2026") == expected


@pytest.mark.parametrize("x,decimals,expected", [
    (0.5, 0, 0.0), (1.5, 0, 2.0), (2.5, 0, 2.0), (3.5, 0, 4.0), (2.4999, 0, 2.0),
    (2.5001, 0, 3.0), (0.35, 1, 0.4), (0.25, 1, 0.2), (0.45, 1, 0.4), (1.05, 1, 1.0),
    (1.15, 1, 1.2), (2.675, 2, 2.68), (np.nan, 0, np.nan),
])
def test_round_gbt8170_half_to_even(x, decimals, expected):
    """GB/T 8170 四舍六入五成双, decimal-faithful (0.35 is 0.3499… in binary) [S]."""
    np.testing.assert_array_equal(hj633.round_gbt8170([x], decimals), [expected])


# --- monotonicity --------------------------------------------------------------------------


@settings(max_examples=300, deadline=None)
@given(a=st.floats(0, 5000, allow_nan=False), b=st.floats(0, 5000, allow_nan=False),
       indicator=st.sampled_from([i for i in hj633.INDICATORS if i not in ("so2_1h", "o3_8h")]),
       edition=st.sampled_from(list(TABLES)))
def test_higher_concentration_never_lower_iaqi(a, b, indicator, edition):
    lo, hi = sorted((a, b))
    v = hj633.iaqi(np.array([lo, hi]), indicator, edition=edition)
    assert v[0] <= v[1]


@settings(max_examples=200, deadline=None)
@given(a=st.floats(0, 799.9, allow_nan=False), b=st.floats(0, 799.9, allow_nan=False),
       indicator=st.sampled_from(["so2_1h", "o3_8h"]), edition=st.sampled_from(list(TABLES)))
def test_monotone_within_the_short_tables(a, b, indicator, edition):
    lo, hi = sorted((a, b))
    v = hj633.iaqi(np.array([lo, hi]), indicator, edition=edition)
    assert v[0] <= v[1]


# --- missing, negative ------------------------------------------------------------------------


def test_missing_and_negative_give_no_iaqi():
    v = hj633.iaqi(np.array([np.nan, -1.0, -0.0001, 0.0]), "pm10_24h", edition="HJ 633-2012")
    np.testing.assert_array_equal(v, [np.nan, np.nan, np.nan, 0.0])


def test_negative_value_left_out_and_flagged():
    r = hj633.aqi({"pm10": [-5.0, 60.0], "pm2_5": [40.0, 40.0]}, period="hour",
                  edition="HJ 633-2012")
    assert r.flags["negative"].tolist() == [True, False]
    assert np.isnan(r.iaqi["pm10"][0])
    assert r.aqi[0] == r.iaqi["pm2_5"][0]
    assert not r.complete[0]


# --- AQI ---------------------------------------------------------------------------------------


def hourly(**kw):
    base = dict(so2=[10.0], no2=[30.0], co=[0.8], o3=[170.0], pm10=[60.0], pm2_5=[40.0])
    base.update({k: [v] for k, v in kw.items()})
    return base


def test_aqi_is_max_iaqi_hourly_set_2012():
    """Hourly set: SO2, NO2, CO, O3 1-h tables; PM 1-h values on the 24-h tables [P/S]."""
    r = hj633.aqi(hourly(), period="hour", edition="HJ 633-2012")
    assert {k: int(v[0]) for k, v in r.iaqi.items()} == {
        "so2": 4,     # 50/150·10 = 3.33 → 4 (1-h table)
        "no2": 15,    # 50/100·30 = 15 (1-h table)
        "co": 8,      # 50/5·0.8 = 8 (1-h table)
        "o3": 63,     # 50 + 50/40·10 = 62.5 → 63 (1-h table)
        "pm10": 55,   # 50 + 50/100·10 = 55 (24-h table)
        "pm2_5": 57,  # 50 + 50/40·5 = 56.25 → 57 (24-h table)
    }
    assert r.aqi[0] == 63 and r.level[0] == 2
    assert r.primary_pollutants() == ["o3"]
    assert r.category_zh().tolist() == ["良"]
    assert r.complete[0] and r.publishable[0]


def test_primary_ties_all_and_only_above_50():
    """Primary pollutant(s): max IAQI when AQI > 50; ties: all [P]."""
    r = hj633.aqi({"pm10": [150.0, 40.0], "pm2_5": [75.0, 28.0]}, period="day",
                  edition="HJ 633-2012")
    assert r.aqi.tolist() == [100.0, 40.0]
    assert r.primary_pollutants() == ["pm10,pm2_5", ""]


def test_exceeding_pollutants_2012_only():
    """'Exceeding pollutant' (IAQI > 100) exists in 2012, deleted in 2026 [P]."""
    d = {"pm10": [160.0, 160.0], "pm2_5": [80.0, 80.0], "no2": [85.0, 85.0]}
    r = hj633.aqi(d, period="day", times=np.array(["2026-02-28", "2026-03-01"],
                                                  dtype="datetime64[D]"))
    assert r.edition_codes().tolist() == ["HJ 633-2012", "HJ 633-2026"]
    assert r.exceeding_pollutants() == ["no2,pm10,pm2_5", ""]
    assert r.exceeding["pm10"].tolist() == [True, False]


@pytest.mark.parametrize("aqi_value,level,zh,en,rgb", [
    (0, 1, "优", "excellent", (0, 228, 0)), (50, 1, "优", "excellent", (0, 228, 0)),
    (51, 2, "良", "good", (255, 255, 0)), (100, 2, "良", "good", (255, 255, 0)),
    (101, 3, "轻度污染", "lightly polluted", (255, 126, 0)),
    (150, 3, "轻度污染", "lightly polluted", (255, 126, 0)),
    (151, 4, "中度污染", "moderately polluted", (255, 0, 0)),
    (200, 4, "中度污染", "moderately polluted", (255, 0, 0)),
    (201, 5, "重度污染", "heavily polluted", (153, 0, 76)),
    (300, 5, "重度污染", "heavily polluted", (153, 0, 76)),
    (301, 6, "严重污染", "severely polluted", (126, 0, 35)),
    (500, 6, "严重污染", "severely polluted", (126, 0, 35)),
])
def test_levels_categories_colours(aqi_value, level, zh, en, rgb):
    """HJ 633 Table 2 (unchanged in 2026) [P]."""
    lv = hj633.level_of([aqi_value])
    assert lv.tolist() == [level]
    assert hj633.category_zh(lv).tolist() == [zh]
    assert hj633.category_en(lv).tolist() == [en]
    assert tuple(hj633.colour_rgb(lv)[0]) == rgb


def test_all_missing_gives_no_aqi():
    r = hj633.aqi({"pm10": [np.nan]}, period="hour", edition="HJ 633-2026")
    assert np.isnan(r.aqi[0]) and r.level[0] == 0
    assert r.category_zh().tolist() == [""]
    assert not r.publishable[0]
    assert r.published_aqi() == [""]


def test_2026_missing_data_rule_publish_only_above_100():
    """HJ 633-2026: with data missing, publish the AQI only if > 100, else 'NA' [P]."""
    pm25 = [60.0, 61.0, 60.0]  # IAQI 100, 101 (→ 61 → 100 + 50/55 = 100.9 → 101), 100
    d = {"so2": [5.0, 5.0, 5.0], "no2": [5.0, 5.0, 5.0], "co": [0.2, 0.2, 0.2],
         "o3": [np.nan, np.nan, 20.0], "pm10": [20.0, 20.0, 20.0], "pm2_5": pm25}
    r = hj633.aqi(d, period="hour", edition="HJ 633-2026")
    assert r.aqi.tolist() == [100.0, 101.0, 100.0]
    assert r.complete.tolist() == [False, False, True]
    assert r.publishable.tolist() == [False, True, True]
    assert r.published_aqi() == ["NA", "101", "100"]
    # HJ 633-2012 has no such rule: the same incomplete AQI is published
    r12 = hj633.aqi(d, period="hour", edition="HJ 633-2012")
    assert r12.publishable.tolist() == [True, True, True]


def test_so2_1h_above_800_2012_uses_24h_iaqi():
    """HJ 633-2012 Table 1 note: SO2 1-h > 800 → report the SO2 24-h IAQI [P]."""
    r = hj633.aqi(hourly(so2=900.0, so2_24h=200.0), period="hour", edition="HJ 633-2012")
    assert r.iaqi["so2"][0] == 108  # 100 + 50/325·50 = 107.7 → 108
    assert r.flags["so2_1h_above_800"][0]
    assert r.primary_pollutants() == ["so2"]
    r = hj633.aqi(hourly(so2=900.0), period="hour", edition="HJ 633-2012")
    assert np.isnan(r.iaqi["so2"][0]) and r.flags["so2_24h_missing_for_fallback"][0]
    assert not r.complete[0]
    r = hj633.aqi(hourly(so2=800.0), period="hour", edition="HJ 633-2012")
    assert r.iaqi["so2"][0] == 200 and not r.flags["so2_1h_above_800"][0]


def test_so2_1h_above_800_2026_is_200():
    """HJ 633-2026: SO2 1-h > 800 → IAQI 200 [P]; the 24-h value is not needed."""
    r = hj633.aqi(hourly(so2=900.0, so2_24h=2000.0), period="hour", edition="HJ 633-2026")
    assert r.iaqi["so2"][0] == 200 and r.aqi[0] == 200
    assert r.flags["so2_1h_above_800"][0]


def daily(**kw):
    base = dict(so2=[10.0], no2=[30.0], co=[0.8], pm10=[60.0], pm2_5=[40.0],
                o3_1h_max=[250.0], o3_8h_max=[150.0])
    base.update({k: [v] for k, v in kw.items()})
    return base


def test_daily_set_2012_and_2026():
    """2012 日报 uses the daily max 1-h O3 too; 2026 drops it [P]."""
    r12 = hj633.aqi(daily(), period="day", edition="HJ 633-2012")
    assert r12.iaqi["o3_1h_max"][0] == 125   # 100 + 50/100·50
    assert r12.iaqi["o3_8h_max"][0] == 92    # 50 + 50/60·50 = 91.7 → 92
    assert r12.aqi[0] == 125 and r12.primary_pollutants() == ["o3_1h_max"]
    r26 = hj633.aqi(daily(), period="day", edition="HJ 633-2026")
    assert np.isnan(r26.iaqi["o3_1h_max"][0])
    assert r26.aqi[0] == 92 and r26.complete[0]
    assert r26.iaqi["pm2_5"][0] == 60        # 2026 PM2.5 table: 50 + 50/25·5


def test_o3_8h_above_800_rules():
    """O3 8-h > 800: 2012 reports the 1-h IAQI, 2026 gives 300 [P]."""
    r = hj633.aqi(daily(o3_8h_max=850.0, o3_1h_max=900.0), period="day",
                  edition="HJ 633-2012")
    assert r.iaqi["o3_8h_max"][0] == r.iaqi["o3_1h_max"][0] == 350  # 300 + 100/200·100
    assert r.flags["o3_8h_above_800"][0]
    r = hj633.aqi(daily(o3_8h_max=850.0, o3_1h_max=900.0), period="day",
                  edition="HJ 633-2026")
    assert r.iaqi["o3_8h_max"][0] == 300 and r.aqi[0] == 300


def test_above_scale_capped_and_flagged():
    r = hj633.aqi(hourly(pm2_5=650.0), period="hour", edition="HJ 633-2012")
    assert r.aqi[0] == 500 and r.level[0] == 6
    assert r.flags["above_scale"][0] and r.capped["pm2_5"][0] and not r.capped["pm10"][0]


# --- editions ---------------------------------------------------------------------------------


def test_edition_switches_at_2026_03_01_start_labelled():
    t = np.array(["2026-02-28T23:00", "2026-03-01T00:00"], dtype="datetime64[m]")
    d = {"pm2_5": [70.0, 70.0]}
    r = hj633.aqi(d, period="hour", times=t)
    assert r.edition_codes().tolist() == ["HJ 633-2012", "HJ 633-2026"]
    assert r.aqi.tolist() == [94.0, 110.0]  # 2012: 50 + 50/40·35 = 93.75; 2026: 100 + 50/55·10 = 109.1


def test_edition_switch_end_labelled_hours():
    """End-labelled (CNEMC '16时' = 15:00–16:00): 2026-03-01 00:00 is Feb 28's last hour."""
    t = np.array(["2026-03-01T00:00", "2026-03-01T01:00"], dtype="datetime64[m]")
    r = hj633.aqi({"pm2_5": [70.0, 70.0]}, period="hour", times=t, hour_label="end")
    assert r.edition_codes().tolist() == ["HJ 633-2012", "HJ 633-2026"]


def test_edition_by_time_accepts_strings_and_old_dates():
    r = hj633.aqi({"pm10": [100.0, 100.0, 100.0]}, period="day",
                  times=["2013-01-01", "2025-12-31", "2027-06-01"])
    assert r.edition_codes().tolist() == ["HJ 633-2012", "HJ 633-2012", "HJ 633-2026"]
    # 2012 PM10: 50 + 50/100·50 = 75; 2026 PM10: 50 + 50/70·50 = 85.7 → 86
    assert r.aqi.tolist() == [75.0, 75.0, 86.0]


def test_named_edition_overrides_time():
    t = np.array(["2027-01-01"], dtype="datetime64[D]")
    r = hj633.aqi({"pm2_5": [70.0]}, period="day", times=t, edition="HJ 633-2012")
    assert r.edition_codes().tolist() == ["HJ 633-2012"]
    assert r.metadata["edition_selection"] == "named by caller"


def test_errors_name_the_choices():
    with pytest.raises(ValueError, match="HJ 633-2012"):
        hj633.aqi({"pm10": [1.0]}, period="day", edition="HJ 633-2099")
    with pytest.raises(ValueError, match="times"):
        hj633.aqi({"pm10": [1.0]}, period="day")
    with pytest.raises(ValueError, match="unknown keys"):
        hj633.aqi({"o3": [1.0]}, period="day", edition="HJ 633-2012")
    with pytest.raises(ValueError, match="different lengths"):
        hj633.aqi({"pm10": [1.0], "pm2_5": [1.0, 2.0]}, period="day", edition="HJ 633-2012")


def test_metadata_names_edition_and_clauses():
    t = np.array(["2026-02-28", "2026-03-01"], dtype="datetime64[D]")
    r = hj633.aqi({"pm10": [10.0, 10.0]}, period="day", times=t)
    codes = [e["code"] for e in r.metadata["editions_applied"]]
    assert codes == ["HJ 633-2012", "HJ 633-2026"]
    assert "Table 1" in r.metadata["clauses"]["HJ 633-2012"]["breakpoints"]
    assert "GB/T 8170" in r.metadata["clauses"]["HJ 633-2026"]["rounding"]


def test_long_arrays_cross_blocks_consistently():
    """The engine works in blocks; results do not depend on where a block ends."""
    rng = np.random.default_rng(7)
    n = 3 * (1 << 16) + 5
    d = {k: rng.lognormal(np.log(m), 0.8, n) for k, m in
         dict(so2=8, no2=30, co=0.7, o3=70, pm10=60, pm2_5=35).items()}
    t = np.datetime64("2026-02-20T00:00") + np.arange(n).astype("timedelta64[m]") // 7
    whole = hj633.aqi(d, period="hour", times=t)
    i = np.array([0, (1 << 16) - 1, 1 << 16, n - 1, n // 2])
    part = hj633.aqi({k: v[i] for k, v in d.items()}, period="hour", times=t[i])
    np.testing.assert_array_equal(whole.aqi[i], part.aqi)
    assert set(whole.edition_index.tolist()) == {0, 1}


# --- the python-aqi peer ---------------------------------------------------------------------


def test_python_aqi_peer_disagrees_where_it_truncates():
    """python-aqi 0.6.1 (ALGO_MEP) truncates concentrations to integers (CO too) and
    rounds IAQI half-even; HJ 633-2012 rounds up and never truncates. We document the
    disagreement rather than follow the peer."""
    import aqi as peer
    from aqi.constants import POLLUTANT_CO_24H, POLLUTANT_PM25

    pm = peer.to_iaqi(POLLUTANT_PM25, "75.5", algo=peer.ALGO_MEP)
    assert int(pm) == 100 and eng("75.5", "pm2_5_24h", "HJ 633-2012") == 101
    co = peer.to_iaqi(POLLUTANT_CO_24H, "0.7", algo=peer.ALGO_MEP)
    assert int(co) == 0 and eng("0.7", "co_24h", "HJ 633-2012") == 18
