"""Air quality index (AQI, 空气质量指数) of HJ 633-2012 and HJ 633-2026, vectorised.

Two editions, chosen per value by its time unless the caller names one:

* ``HJ 633-2012`` 《环境空气质量指数（AQI）技术规定（试行）》 — applies to data before
  2026-03-01 (and, as the earliest rules we have, to anything older).
* ``HJ 633-2026`` — effective 2026-03-01 (published 2026-02-14).

Confidence marks (see ``docs/standards/hj633.md``): [P] read in a copy of the primary
text (via ``shared/reference/standards.md``), [S] secondary, [M] from memory.
The breakpoint tables, the above-800 rules, the period sets and the 2026 rounding and
missing-data rules are [P]. Clause *numbers* quoted in metadata are [M] except where
marked; the rules themselves are named by their table/formula.

Everything here is pure NumPy: arrays of any length, ``NaN`` = missing. IAQI and AQI
values are exact integers held in ``float64`` arrays (``NaN`` where nothing can be
computed), so they travel through NumPy and Polars without a sentinel.

Example
-------
>>> import numpy as np
>>> from gongzhi.standards import hj633
>>> r = hj633.aqi({"pm2_5": np.array([76.0]), "pm10": np.array([120.0])},
...               period="day", edition="HJ 633-2012")
>>> int(r.aqi[0]), int(r.level[0]), r.primary_pollutants()[0]
(102, 3, 'pm2_5')
"""

from __future__ import annotations

import functools
from dataclasses import dataclass, field
from datetime import date
from types import MappingProxyType
from typing import Mapping, Sequence

import numpy as np

from gongzhi.standards.versions import Edition, edition_by_code, editions_in_force

__all__ = [
    "IAQI_POINTS",
    "INDICATORS",
    "BREAKPOINTS_2012",
    "BREAKPOINTS_2026",
    "CATEGORIES",
    "EDITIONS",
    "RULES",
    "HOURLY_SET",
    "DAILY_SET",
    "AqiRules",
    "AqiResult",
    "round_gbt8170",
    "iaqi",
    "aqi",
    "level_of",
    "category_zh",
    "category_en",
    "colour_rgb",
    "select_editions",
]

# ---------------------------------------------------------------------------------------
# Constants. One table per edition: a correction is a one-line change.
# ---------------------------------------------------------------------------------------

#: IAQI values at the breakpoints (HJ 633-2012 and -2026, Table 1, first row) [P].
IAQI_POINTS: tuple[int, ...] = (0, 50, 100, 150, 200, 300, 400, 500)

#: Indicator keys: pollutant and averaging period. Units: µg/m³, CO mg/m³.
INDICATORS: tuple[str, ...] = (
    "so2_24h", "so2_1h", "no2_24h", "no2_1h", "pm10_24h",
    "co_24h", "co_1h", "o3_1h", "o3_8h", "pm2_5_24h",
)

#: HJ 633-2012 Table 1, IAQI breakpoints [P]. µg/m³; CO mg/m³.
#: SO2 1-h stops at 800 (IAQI 200) and O3 8-h at 800 (IAQI 300): see the notes to Table 1.
BREAKPOINTS_2012: Mapping[str, tuple[float, ...]] = MappingProxyType({
    "so2_24h":   (0, 50, 150, 475, 800, 1600, 2100, 2620),
    "so2_1h":    (0, 150, 500, 650, 800),
    "no2_24h":   (0, 40, 80, 180, 280, 565, 750, 940),
    "no2_1h":    (0, 100, 200, 700, 1200, 2340, 3090, 3840),
    "pm10_24h":  (0, 50, 150, 250, 350, 420, 500, 600),
    "co_24h":    (0, 2, 4, 14, 24, 36, 48, 60),
    "co_1h":     (0, 5, 10, 35, 60, 90, 120, 150),
    "o3_1h":     (0, 160, 200, 300, 400, 800, 1000, 1200),
    "o3_8h":     (0, 100, 160, 215, 265, 800),
    "pm2_5_24h": (0, 35, 75, 115, 150, 250, 350, 500),
})

#: HJ 633-2026 Table 1, IAQI breakpoints [P]. Differs from 2012 only in the IAQI-100 point
#: of PM10 24-h (120, was 150) and PM2.5 24-h (60, was 75).
BREAKPOINTS_2026: Mapping[str, tuple[float, ...]] = MappingProxyType({
    "so2_24h":   (0, 50, 150, 475, 800, 1600, 2100, 2620),
    "so2_1h":    (0, 150, 500, 650, 800),
    "no2_24h":   (0, 40, 80, 180, 280, 565, 750, 940),
    "no2_1h":    (0, 100, 200, 700, 1200, 2340, 3090, 3840),
    "pm10_24h":  (0, 50, 120, 250, 350, 420, 500, 600),
    "co_24h":    (0, 2, 4, 14, 24, 36, 48, 60),
    "co_1h":     (0, 5, 10, 35, 60, 90, 120, 150),
    "o3_1h":     (0, 160, 200, 300, 400, 800, 1000, 1200),
    "o3_8h":     (0, 100, 160, 215, 265, 800),
    "pm2_5_24h": (0, 35, 60, 115, 150, 250, 350, 500),
})


@dataclass(frozen=True)
class Category:
    """One AQI category (HJ 633 Table 2, unchanged in 2026) [P]."""

    level: int
    aqi_low: int
    aqi_high: int | None
    zh: str
    en: str
    colour_zh: str
    colour_en: str
    rgb: tuple[int, int, int]


#: AQI levels 1–6 (级别 一级…六级), their AQI ranges, names and colours [P].
CATEGORIES: tuple[Category, ...] = (
    Category(1, 0, 50, "优", "excellent", "绿色", "green", (0, 228, 0)),
    Category(2, 51, 100, "良", "good", "黄色", "yellow", (255, 255, 0)),
    Category(3, 101, 150, "轻度污染", "lightly polluted", "橙色", "orange", (255, 126, 0)),
    Category(4, 151, 200, "中度污染", "moderately polluted", "红色", "red", (255, 0, 0)),
    Category(5, 201, 300, "重度污染", "heavily polluted", "紫色", "purple", (153, 0, 76)),
    Category(6, 301, None, "严重污染", "severely polluted", "褐红色", "maroon", (126, 0, 35)),
)

#: Input keys and the indicator each is judged on, per period and edition [P].
#: Hourly (实时报): SO2, NO2, CO, O3 1-h values on the 1-h tables, PM 1-h values on the
#: 24-h tables; the 8-h O3 is not part of the hourly AQI. Daily (日报): 24-h means;
#: 2012 also the daily max 1-h O3, 2026 drops it.
HOURLY_SET: Mapping[str, Mapping[str, str]] = MappingProxyType({
    "HJ 633-2012": MappingProxyType({
        "so2": "so2_1h", "no2": "no2_1h", "co": "co_1h", "o3": "o3_1h",
        "pm10": "pm10_24h", "pm2_5": "pm2_5_24h",
    }),
    "HJ 633-2026": MappingProxyType({
        "so2": "so2_1h", "no2": "no2_1h", "co": "co_1h", "o3": "o3_1h",
        "pm10": "pm10_24h", "pm2_5": "pm2_5_24h",
    }),
})
DAILY_SET: Mapping[str, Mapping[str, str]] = MappingProxyType({
    "HJ 633-2012": MappingProxyType({
        "so2": "so2_24h", "no2": "no2_24h", "co": "co_24h", "pm10": "pm10_24h",
        "pm2_5": "pm2_5_24h", "o3_1h_max": "o3_1h", "o3_8h_max": "o3_8h",
    }),
    "HJ 633-2026": MappingProxyType({
        "so2": "so2_24h", "no2": "no2_24h", "co": "co_24h", "pm10": "pm10_24h",
        "pm2_5": "pm2_5_24h", "o3_8h_max": "o3_8h",
    }),
})

#: Input keys in a stable output order (hourly then daily extras).
HOURLY_KEYS: tuple[str, ...] = ("so2", "no2", "co", "o3", "pm10", "pm2_5")
DAILY_KEYS: tuple[str, ...] = ("so2", "no2", "co", "pm10", "pm2_5", "o3_1h_max", "o3_8h_max")

#: Decimal places a concentration is rounded to (GB/T 8170) before the IAQI, 2026 only [P].
ROUND_DECIMALS_2026: Mapping[str, int] = MappingProxyType({
    ind: (1 if ind.startswith("co_") else 0) for ind in INDICATORS
})

#: Highest IAQI the scale reaches. A concentration above the top breakpoint of its table
#: gets this value, flagged ``above_scale`` [M: the texts give no IAQI above 500; the
#: scale and the categories end at 500, so the engine caps and says so].
IAQI_CAP = 500

#: Tolerance used when rounding IAQI up: ``ceil(q - 1e-9)``. The exact IAQI of a
#: concentration with ≤ 5 decimals differs from an integer by more than 1e-9 unless it
#: *is* that integer, and float error is ~1e-13, so exact integers stay exact.
_CEIL_TOL = 1e-9


@dataclass(frozen=True)
class AqiRules:
    """Rule set of one HJ 633 edition. Every field cites where it comes from."""

    edition: Edition
    breakpoints: Mapping[str, tuple[float, ...]]
    #: 2026: concentrations rounded (GB/T 8170, half to even) before the IAQI [P];
    #: 2012: used as measured, never truncated [P].
    round_concentrations: bool
    #: SO2 1-h above 800 µg/m³: ``None`` = no 1-h IAQI, report the 24-h one (2012, Table 1
    #: note) [P]; a number = that IAQI (2026: 200) [P].
    so2_1h_above_top_iaqi: int | None
    #: O3 8-h above 800 µg/m³: ``None`` = use the 1-h IAQI (2012) [P]; 2026: 300 [P].
    o3_8h_above_top_iaqi: int | None
    #: "Exceeding pollutant" (超标污染物, IAQI > 100): 2012 only; deleted in 2026 [P].
    has_exceeding_pollutants: bool
    #: 2026: with data missing, publish the AQI only if it is above 100, else "NA" [P].
    missing_publish_threshold: int | None
    clauses: Mapping[str, str]


_CLAUSES_2012 = MappingProxyType({
    "breakpoints": "HJ 633-2012 Table 1 [P]; numbering of clauses [M]",
    "iaqi": "HJ 633-2012 formula (1), IAQI rounded up to an integer [P]",
    "aqi": "HJ 633-2012 formula (2), AQI = max IAQI [P]",
    "so2_1h_above_800": "HJ 633-2012 Table 1 note: SO2 1-h > 800 → report the 24-h IAQI [P]",
    "o3_8h_above_800": "HJ 633-2012 Table 1 note: O3 8-h > 800 → report the 1-h IAQI [P]",
    "primary": "HJ 633-2012 primary pollutant: max IAQI when AQI > 50, ties all [P]",
    "exceeding": "HJ 633-2012 exceeding pollutant: IAQI > 100 [P]",
    "categories": "HJ 633-2012 Table 2 [P]",
    "periods": "HJ 633-2012 日报/实时报 indicator sets [P]; hourly set as published [S]",
    "above_scale": "above the top breakpoint: IAQI capped at 500 and flagged [M]",
})
_CLAUSES_2026 = MappingProxyType({
    "breakpoints": "HJ 633-2026 Table 1 [P]; numbering of clauses [M]",
    "iaqi": "HJ 633-2026 IAQI formula; concentrations rounded first (GB/T 8170), "
            "IAQI rounded up [P]",
    "aqi": "HJ 633-2026 AQI = max IAQI [P]",
    "so2_1h_above_800": "HJ 633-2026: SO2 1-h > 800 → IAQI 200 [P]",
    "o3_8h_above_800": "HJ 633-2026: O3 8-h > 800 → IAQI 300 [P]",
    "primary": "HJ 633-2026 primary pollutant as in 2012 [P]",
    "exceeding": "HJ 633-2026 deletes the exceeding-pollutant notion [P]",
    "missing": "HJ 633-2026 missing data: compute from the rest; publish AQI if > 100, "
               "else 'NA' and the individual values [P]",
    "rounding": "GB/T 8170 rounding: 四舍六入五成双 (half to even) [S]; "
                "µg/m³ to integers, CO to 0.1 mg/m³ [P]",
    "categories": "HJ 633-2026 categories and colours unchanged [P]",
    "periods": "HJ 633-2026 daily: six 24-h indicators incl. daily max 8-h O3, "
               "no 1-h O3; hourly: six 1-h means, PM on 24-h tables [P]",
    "above_scale": "above the top breakpoint: IAQI capped at 500 and flagged [M]",
})

#: The editions, sorted by effective date (for :func:`versions.editions_in_force`).
EDITIONS: tuple[Edition, ...] = (
    Edition(
        code="HJ 633-2012",
        title="环境空气质量指数（AQI）技术规定（试行）",
        effective=date(2016, 1, 1),
        until=date(2026, 2, 28),
        confidence="P",
        notes=(
            "issued 2012-02-29, applied in stages from 2012, nationwide from 2016-01-01 [M]; "
            "data before that date also use this edition (the earliest rules we have)",
        ),
    ),
    Edition(
        code="HJ 633-2026",
        title="环境空气质量指数（AQI）技术规定",
        effective=date(2026, 3, 1),
        until=None,
        confidence="P",
        notes=("published 2026-02-14, effective 2026-03-01, replaces HJ 633-2012",),
    ),
)

RULES: tuple[AqiRules, ...] = (
    AqiRules(EDITIONS[0], BREAKPOINTS_2012, False, None, None, True, None, _CLAUSES_2012),
    AqiRules(EDITIONS[1], BREAKPOINTS_2026, True, 200, 300, False, 100, _CLAUSES_2026),
)


# ---------------------------------------------------------------------------------------
# Building blocks
# ---------------------------------------------------------------------------------------


def _as_float_array(x) -> np.ndarray:
    a = np.asarray(x, dtype=np.float64)
    return a.reshape(1) if a.ndim == 0 else a


def round_gbt8170(x, decimals: int = 0) -> np.ndarray:
    """Round to ``decimals`` places per GB/T 8170 (四舍六入五成双: half to even).

    Decimal-faithful for values written with a few decimals: ``0.35`` (stored in binary
    as 0.34999…) rounds to ``0.4`` as the written value would, ``0.25`` to ``0.2``,
    ``2.5`` to ``2`` and ``3.5`` to ``4``. A value within 1e-9 (relative, in units of the
    last kept place) of a half is treated as an exact half. NaN stays NaN.

    Parameters
    ----------
    x : array_like
        Values in any unit.
    decimals : int
        Places to keep (0 for µg/m³, 1 for CO in mg/m³ under HJ 633-2026).

    References
    ----------
    GB/T 8170-2008 《数值修约规则与极限数值的表示和判定》 §3.1 [S: rule known from many
    secondary sources]; HJ 633-2026 applies it to concentrations before the IAQI [P].

    Examples
    --------
    >>> round_gbt8170([0.5, 1.5, 2.5, 2.51]).tolist()
    [0.0, 2.0, 2.0, 3.0]
    >>> round_gbt8170([0.35, 0.25, 0.45], 1).tolist()
    [0.4, 0.2, 0.4]
    """
    a = _as_float_array(x)
    y = a * (10.0 ** decimals) if decimals else a
    r = np.rint(y)  # half to even on the binary value
    # values that are a half in decimal but not quite in binary: decide as a half
    e = y - r
    np.abs(e, out=e)
    e -= 0.5
    np.abs(e, out=e)
    half = e <= _HALF_TOL
    if half.any():
        f = np.floor(y[half])
        r[half] = f + (np.remainder(f, 2.0) == 1.0)
    return r / (10.0 ** decimals) if decimals else r


#: How close (in units of the last kept place) to a half a value must be to count as one.
_HALF_TOL = 1e-9


@functools.lru_cache(maxsize=None)
def _segments(bps: tuple[float, ...]):
    """Per-segment arrays of one breakpoint row: lower breakpoint, lower IAQI, slope."""
    b = np.asarray(bps, dtype=np.float64)
    levels = np.asarray(IAQI_POINTS[: len(b)], dtype=np.float64)
    slope = np.diff(levels) / np.diff(b)
    return b[1:-1].tolist(), b[:-1].copy(), levels[:-1].copy(), slope


def _iaqi_table(c: np.ndarray, bps: tuple[float, ...]) -> np.ndarray:
    """Piecewise-linear IAQI on one table, rounded up; no range handling (see iaqi).

    The segment of ``c`` is the number of inner breakpoints strictly below it, so a
    concentration on a breakpoint falls in the lower segment and gets that
    breakpoint's IAQI exactly (both segments agree there anyway).
    """
    inner, blo, ilo, slope = _segments(tuple(bps))
    seg = np.zeros(c.shape, dtype=np.intp)
    for bp in inner:  # 3–6 vectorised comparisons beat a binary search per value
        seg += c > bp
    q = c - blo.take(seg)
    q *= slope.take(seg)
    q -= _CEIL_TOL
    np.ceil(q, out=q)
    q += ilo.take(seg)
    # a concentration exactly on the lowest breakpoint gives 0, not -0.0
    np.maximum(q, 0.0, out=q)
    return q


@dataclass
class _IaqiOut:
    value: np.ndarray
    above_scale: np.ndarray  # capped at 500
    above_table: np.ndarray  # SO2 1-h / O3 8-h above 800 (the special rules)
    negative: np.ndarray


def _iaqi_one(c: np.ndarray, indicator: str, rules: AqiRules) -> _IaqiOut:
    bps = rules.breakpoints[indicator]
    if rules.round_concentrations:
        c = round_gbt8170(c, ROUND_DECIMALS_2026[indicator])
    negative = c < 0
    top = bps[-1]
    over = c > top
    v = _iaqi_table(c, bps)
    above_table = np.zeros(c.shape, dtype=bool)
    above_scale = np.zeros(c.shape, dtype=bool)
    if over.any():
        if indicator == "so2_1h" or indicator == "o3_8h":
            fixed = (rules.so2_1h_above_top_iaqi if indicator == "so2_1h"
                     else rules.o3_8h_above_top_iaqi)
            v[over] = np.nan if fixed is None else float(fixed)
            above_table = over
        else:
            v[over] = float(IAQI_CAP)
            above_scale = over
    if negative.any():
        v[negative] = np.nan
    return _IaqiOut(v, above_scale, above_table, negative)


def select_editions(times=None, edition: str | None = None, n: int = 1,
                    hour_label: str = "start") -> np.ndarray:
    """Index into :data:`EDITIONS` for each value (int8 array of length ``n``).

    ``edition`` (e.g. ``"HJ 633-2026"``) names one edition for all values; otherwise each
    value's ``times`` picks the edition in force (before 2026-03-01 → HJ 633-2012).
    ``hour_label="end"`` says an hourly time stamps the *end* of its hour (the CNEMC
    convention: "16时" = 15:00–16:00), so 2026-03-01 00:00 still belongs to 2012;
    the default ``"start"`` stamps the start of the hour.
    """
    if edition is not None:
        return np.full(n, edition_by_code(EDITIONS, edition), dtype=np.int8)
    if times is None:
        raise ValueError("give the values' times or name an edition "
                         f"({', '.join(e.code for e in EDITIONS)})")
    t = np.asarray(times)
    if hour_label not in ("start", "end"):
        raise ValueError("hour_label must be 'start' or 'end'")
    if hour_label == "end":
        if t.dtype.kind != "M":
            t = t.astype("datetime64[s]")
        t = t - np.timedelta64(1, "h")
    idx = editions_in_force(EDITIONS, t).astype(np.int8)
    if idx.ndim == 0:
        idx = idx.reshape(1)
    if len(idx) == 1 and n > 1:
        idx = np.full(n, idx[0], dtype=np.int8)
    if len(idx) != n:
        raise ValueError(f"{len(idx)} times for {n} values")
    return idx


def iaqi(concentration, indicator: str, *, edition: str | None = None, times=None,
         hour_label: str = "start") -> np.ndarray:
    """Individual air quality index (IAQI, 空气质量分指数) of one indicator.

    Parameters
    ----------
    concentration : array_like
        µg/m³ (CO: mg/m³), the indicator's averaging period. NaN = missing.
    indicator : str
        One of :data:`INDICATORS`, e.g. ``"pm2_5_24h"``, ``"o3_1h"``.
    edition, times, hour_label
        Edition by name, or per value by time (see :func:`select_editions`).

    Returns
    -------
    numpy.ndarray of float64
        Integer IAQI values; NaN where missing, negative, or where the edition gives
        no IAQI (2012: SO2 1-h or O3 8-h above 800 — the caller reports the 24-h SO2 or
        the 1-h O3 IAQI instead; :func:`aqi` does that). Above the top breakpoint of
        the other tables: 500 (capped, [M]).

    Notes
    -----
    IAQI_P = (IAQI_hi − IAQI_lo)/(BP_hi − BP_lo)·(C_P − BP_lo) + IAQI_lo, rounded up
    (HJ 633-2012 formula (1) [P]; HJ 633-2026 the same, after rounding C_P per
    GB/T 8170 to an integer, CO to 0.1 [P]). A concentration on a breakpoint gives the
    breakpoint's IAQI exactly.

    Examples
    --------
    >>> iaqi([75, 76, 60.2], "pm2_5_24h", edition="HJ 633-2012").tolist()
    [100.0, 102.0, 82.0]
    >>> iaqi([60.2], "pm2_5_24h", edition="HJ 633-2026").tolist()   # 60.2 → 60
    [100.0]
    """
    if indicator not in INDICATORS:
        raise ValueError(f"unknown indicator {indicator!r}; known: {', '.join(INDICATORS)}")
    c = _as_float_array(concentration)
    idx = select_editions(times, edition, c.size, hour_label)
    out = np.empty(c.shape, dtype=np.float64)
    for e in np.unique(idx):
        m = idx == e
        sub = c if m.all() else c[m]
        v = _iaqi_one(sub, indicator, RULES[e]).value
        if m.all():
            out = v
        else:
            out[m] = v
    return out


def level_of(aqi_values) -> np.ndarray:
    """AQI level 1–6 (int8) of AQI values; 0 where the AQI is missing (HJ 633 Table 2 [P]).

    >>> level_of([0, 50, 51, 100, 101, 300, 301, 500, float("nan")]).tolist()
    [1, 1, 2, 2, 3, 5, 6, 6, 0]
    """
    a = _as_float_array(aqi_values)
    lv = np.ones(a.shape, dtype=np.int8)
    for c in CATEGORIES[:-1]:
        lv += a > c.aqi_high
    lv[np.isnan(a)] = 0
    return lv


def _lookup(levels, attr: str, missing):
    lv = np.asarray(levels)
    table = np.array([missing] + [getattr(c, attr) for c in CATEGORIES], dtype=object)
    return table[lv.astype(np.int64)]


def category_zh(levels) -> np.ndarray:
    """Chinese category name (优 … 严重污染) per level; ``""`` for level 0 (no AQI)."""
    return _lookup(levels, "zh", "")


def category_en(levels) -> np.ndarray:
    """English category name per level (glossary names); ``""`` for level 0."""
    return _lookup(levels, "en", "")


def colour_rgb(levels) -> np.ndarray:
    """RGB colour per level as an ``(n, 3)`` uint8 array; level 0 gives (255, 255, 255)."""
    lv = np.asarray(levels).astype(np.int64)
    table = np.array([(255, 255, 255)] + [c.rgb for c in CATEGORIES], dtype=np.uint8)
    return table[lv]


# ---------------------------------------------------------------------------------------
# AQI
# ---------------------------------------------------------------------------------------


@dataclass
class AqiResult:
    """AQI of many values, explaining itself.

    All arrays have one entry per input value.

    Attributes
    ----------
    aqi : float64
        AQI computed from the pollutants present (integers; NaN when none).
    level : int8
        1–6 (HJ 633 Table 2); 0 when the AQI is missing.
    iaqi : dict[str, float64]
        IAQI per input key (``"pm2_5"``, ``"o3_8h_max"``, …), after the edition's rules.
    primary : dict[str, bool]
        Primary pollutant(s): IAQI equal to the AQI, only when AQI > 50 (ties: all).
    exceeding : dict[str, bool]
        Exceeding pollutants (IAQI > 100), HJ 633-2012 rows only; always False for
        HJ 633-2026 rows (the notion is deleted).
    edition_index : int8
        Index into :attr:`editions` of the edition applied to each value.
    complete : bool
        Every pollutant of the edition's set was present and valid.
    publishable : bool
        The AQI may be published: HJ 633-2026 publishes an incomplete AQI only when it
        is above 100 (else "NA", individual values published); 2012 publishes any AQI.
    flags : dict[str, bool arrays]
        ``negative`` (a negative concentration, left out), ``above_scale`` (an IAQI
        capped at 500), ``so2_1h_above_800``, ``o3_8h_above_800`` (the special rules),
        ``so2_24h_missing_for_fallback`` (2012: 1-h SO2 > 800 but no 24-h SO2 given).
    metadata : dict
        Period, editions applied with their clauses, and notes.
    """

    aqi: np.ndarray
    level: np.ndarray
    iaqi: dict[str, np.ndarray]
    edition_index: np.ndarray
    editions: tuple[Edition, ...]
    complete: np.ndarray
    publishable: np.ndarray
    flags: dict[str, np.ndarray]
    metadata: dict = field(default_factory=dict)
    #: per key: the IAQI was capped at 500 (concentration above the top breakpoint)
    capped: dict[str, np.ndarray] = field(default_factory=dict)
    #: per value: the edition has "exceeding pollutants" (2012)
    has_exceeding_rule: np.ndarray | None = None

    def __len__(self) -> int:
        return len(self.aqi)

    @property
    def primary(self) -> dict[str, np.ndarray]:
        """Primary pollutant mask per key: IAQI == AQI and AQI > 50 (ties: all) [P]."""
        over50 = self.aqi > 50
        return {k: (v == self.aqi) & over50 for k, v in self.iaqi.items()}

    @property
    def exceeding(self) -> dict[str, np.ndarray]:
        """Exceeding pollutant mask per key: IAQI > 100, HJ 633-2012 rows only [P]."""
        rule = (np.ones(len(self), dtype=bool) if self.has_exceeding_rule is None
                else self.has_exceeding_rule)
        return {k: (v > 100) & rule for k, v in self.iaqi.items()}

    def primary_pollutants(self, sep: str = ",") -> list[str]:
        """Primary pollutant keys per value, joined by ``sep`` ('' when AQI ≤ 50)."""
        return _join_masks(self.primary, len(self), sep)

    def exceeding_pollutants(self, sep: str = ",") -> list[str]:
        """Exceeding pollutant keys per value (2012 rows only), joined by ``sep``."""
        return _join_masks(self.exceeding, len(self), sep)

    def category_zh(self) -> np.ndarray:
        return category_zh(self.level)

    def category_en(self) -> np.ndarray:
        return category_en(self.level)

    def colour_rgb(self) -> np.ndarray:
        return colour_rgb(self.level)

    def edition_codes(self) -> np.ndarray:
        return np.array([e.code for e in self.editions], dtype=object)[self.edition_index]

    def published_aqi(self) -> list[str]:
        """The AQI as published: its integer, or ``"NA"`` (2026 rule), or ``""`` if none."""
        out = []
        for a, p in zip(self.aqi.tolist(), self.publishable.tolist()):
            out.append("" if a != a else (str(int(a)) if p else "NA"))
        return out


def _join_masks(masks: Mapping[str, np.ndarray], n: int, sep: str) -> list[str]:
    keys = list(masks)
    if not keys:
        return [""] * n
    stacked = np.stack([masks[k] for k in keys], axis=1)
    out = [""] * n
    for i in np.flatnonzero(stacked.any(axis=1)).tolist():
        out[i] = sep.join(k for k, hit in zip(keys, stacked[i]) if hit)
    return out


def aqi(concentrations: Mapping[str, object], *, period: str, times=None,
        edition: str | None = None, hour_label: str = "start") -> AqiResult:
    """AQI (空气质量指数) of hourly (实时报) or daily (日报) values, per HJ 633.

    Parameters
    ----------
    concentrations : mapping of key → array_like
        ``period="hour"``: ``so2, no2, co, o3, pm10, pm2_5`` — 1-h means, µg/m³ (CO
        mg/m³); optional ``so2_24h`` (24-h mean SO2), used by HJ 633-2012 when 1-h SO2
        > 800 µg/m³.
        ``period="day"``: ``so2, no2, co, pm10, pm2_5`` — 24-h means; ``o3_8h_max`` —
        daily max 8-h moving mean; ``o3_1h_max`` — daily max 1-h (2012 only; ignored by
        2026, which drops it).
        All arrays have the same length; NaN = missing; a missing key = all missing.
    period : {"hour", "day"}
    times : array_like, optional
        Time of each value (datetime64, datetime, date or ISO string); picks the edition
        per value (before 2026-03-01 → HJ 633-2012). Required unless ``edition`` is given.
    edition : str, optional
        ``"HJ 633-2012"`` or ``"HJ 633-2026"`` for all values.
    hour_label : {"start", "end"}
        Whether an hourly time stamps the start (default) or the end of its hour.

    Returns
    -------
    AqiResult

    Notes
    -----
    AQI = max(IAQI) (HJ 633 formula (2) [P]). Missing or negative values are left out
    and ``complete`` is False; under HJ 633-2026 such an AQI is publishable only if > 100.
    2012 SO2 1-h > 800: the 24-h SO2 IAQI is used (``so2_24h``), 2026: IAQI 200.
    2012 O3 8-h > 800: the 1-h O3 IAQI is used, 2026: IAQI 300.

    Examples
    --------
    >>> r = aqi({"so2": [10.0], "no2": [30.0], "co": [0.8], "o3": [170.0],
    ...          "pm10": [60.0], "pm2_5": [40.0]}, period="hour",
    ...         times=np.array(["2025-07-01T14:00"], dtype="datetime64[m]"))
    >>> int(r.aqi[0]), r.primary_pollutants(), r.edition_codes().tolist()
    (63, ['o3'], ['HJ 633-2012'])
    """
    if period not in ("hour", "day"):
        raise ValueError("period must be 'hour' or 'day'")
    keys = HOURLY_KEYS if period == "hour" else DAILY_KEYS
    allowed = set(keys) | ({"so2_24h"} if period == "hour" else set())
    unknown = set(concentrations) - allowed
    if unknown:
        raise ValueError(f"unknown keys for period={period!r}: {sorted(unknown)}; "
                         f"expected {', '.join(keys)}")
    arrays = {k: _as_float_array(v).ravel() for k, v in concentrations.items()}
    lengths = {k: len(v) for k, v in arrays.items()}
    if len(set(lengths.values())) > 1:
        raise ValueError(f"arrays of different lengths: {lengths}")
    n = next(iter(lengths.values())) if lengths else len(np.atleast_1d(np.asarray(times)))
    idx = select_editions(times, edition, n, hour_label)

    out = _Outputs(n, keys)
    for start in range(0, n, _BLOCK):
        stop = min(n, start + _BLOCK)
        block = {k: v[start:stop] for k, v in arrays.items()}
        _aqi_block(block, idx[start:stop], period, keys, out, slice(start, stop))

    used = np.flatnonzero(np.bincount(idx, minlength=len(RULES))).tolist()
    has_exc = np.array([r.has_exceeding_pollutants for r in RULES])[idx]
    sets = HOURLY_SET if period == "hour" else DAILY_SET
    metadata = {
        "standard": "HJ 633",
        "period": period,
        "period_name": "实时报 (hourly)" if period == "hour" else "日报 (daily)",
        "editions_applied": [RULES[e].edition.as_metadata() for e in used],
        "clauses": {RULES[e].edition.code: dict(RULES[e].clauses) for e in used},
        "indicator_sets": {RULES[e].edition.code: dict(sets[RULES[e].edition.code])
                           for e in used},
        "edition_selection": ("named by caller" if edition is not None else
                              f"by time of each value (hour_label={hour_label!r})"),
        "units": "µg/m³; CO mg/m³",
    }
    return AqiResult(
        aqi=out.aqi, level=level_of(out.aqi), iaqi=out.iaqi, edition_index=idx,
        editions=EDITIONS, complete=out.complete, publishable=out.publishable,
        flags=out.flags, metadata=metadata, has_exceeding_rule=has_exc, capped=out.capped,
    )


#: Values per block: big enough that NumPy's per-call cost vanishes, small enough that
#: the temporaries stay in cache and are not page-faulted in afresh for every call.
_BLOCK = 1 << 16

_FLAG_NAMES = ("negative", "above_scale", "so2_1h_above_800", "o3_8h_above_800",
               "so2_24h_missing_for_fallback")


class _Outputs:
    def __init__(self, n: int, keys: Sequence[str]):
        self.aqi = np.empty(n)
        self.iaqi = {k: np.empty(n) for k in keys}
        self.complete = np.empty(n, dtype=bool)
        self.publishable = np.empty(n, dtype=bool)
        self.flags = {f: np.zeros(n, dtype=bool) for f in _FLAG_NAMES}
        self.capped = {k: np.zeros(n, dtype=bool) for k in keys}


def _aqi_block(arrays: Mapping[str, np.ndarray], idx: np.ndarray, period: str,
               keys: Sequence[str], out: _Outputs, where: slice) -> None:
    n = len(idx)
    nan = np.full(n, np.nan)
    iaqis = {k: out.iaqi[k][where] for k in keys}   # views: written in place
    complete = out.complete[where]
    flags = {f: out.flags[f][where] for f in _FLAG_NAMES}
    sets = HOURLY_SET if period == "hour" else DAILY_SET
    first = int(idx[0])
    editions_here = [first] if (idx == first).all() else np.unique(idx).tolist()
    if len(editions_here) > 1:
        for v in iaqis.values():
            v.fill(np.nan)
    # a key outside an edition's set (2026: o3_1h_max) has no IAQI
    for k in keys:
        if not all(k in sets[RULES[e].edition.code] for e in editions_here):
            iaqis[k].fill(np.nan)
    for e in editions_here:
        rules = RULES[e]
        whole = len(editions_here) == 1
        rows = slice(None) if whole else np.flatnonzero(idx == e)
        m = n if whole else len(rows)
        ok_all = np.ones(m, dtype=bool)
        outs: dict[str, _IaqiOut] = {}
        for key, indicator in sets[rules.edition.code].items():
            c = arrays.get(key)
            c = nan[:m] if c is None else c[rows]
            o = _iaqi_one(c, indicator, rules)
            outs[key] = o
            ok_all &= ~np.isnan(o.value) | o.above_table
            if o.negative.any():
                flags["negative"][rows] |= o.negative
            if o.above_scale.any():
                flags["above_scale"][rows] |= o.above_scale
                out.capped[key][where][rows] |= o.above_scale
        # HJ 633-2012: SO2 1-h above 800 → the 24-h SO2 IAQI [P]
        if period == "hour":
            over = outs["so2"].above_table
            if over.any():
                flags["so2_1h_above_800"][rows] |= over
                if rules.so2_1h_above_top_iaqi is None:
                    c24 = arrays.get("so2_24h")
                    c24 = nan[:m] if c24 is None else c24[rows]
                    alt = _iaqi_one(c24, "so2_24h", rules)
                    outs["so2"].value[over] = alt.value[over]
                    miss = over & np.isnan(alt.value)
                    flags["so2_24h_missing_for_fallback"][rows] |= miss
                    flags["above_scale"][rows] |= over & alt.above_scale
                    out.capped["so2"][where][rows] |= over & alt.above_scale
                    ok_all &= ~miss
        # HJ 633-2012: O3 8-h above 800 → the 1-h O3 IAQI [P]
        if period == "day":
            over = outs["o3_8h_max"].above_table
            if over.any():
                flags["o3_8h_above_800"][rows] |= over
                if rules.o3_8h_above_top_iaqi is None:
                    alt = outs["o3_1h_max"].value
                    outs["o3_8h_max"].value[over] = alt[over]
                    ok_all &= ~(over & np.isnan(alt))
        for key, o in outs.items():
            if whole:
                iaqis[key][:] = o.value
            else:
                iaqis[key][rows] = o.value
        if whole:
            complete[:] = ok_all
        else:
            complete[rows] = ok_all

    # AQI = max IAQI over the pollutants present; NaN only when all are missing
    a = out.aqi[where]
    a.fill(np.nan)
    for k in keys:
        np.fmax(a, iaqis[k], out=a)
    # HJ 633-2026: an incomplete AQI is published only above 100 [P]
    thr = np.array([np.inf if r.missing_publish_threshold is None
                    else r.missing_publish_threshold for r in RULES])
    pub = out.publishable[where]
    np.logical_not(np.isnan(a), out=pub)
    incomplete_rule = ~complete & np.isfinite(thr[idx])
    if incomplete_rule.any():
        pub &= ~incomplete_rule | (a > thr[idx])


def editions() -> Sequence[Edition]:
    """The HJ 633 editions, oldest first."""
    return EDITIONS
