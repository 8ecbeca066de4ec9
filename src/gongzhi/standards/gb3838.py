"""GB 3838-2002 surface-water classes and the 环办〔2011〕22号 evaluation rules.

地表水环境质量标准 (GB 3838-2002) Table 1 gives five classes (Ⅰ–Ⅴ) of limits for
24 basic items; worse than Ⅴ is 劣Ⅴ. 《地表水环境质量评价办法（试行）》
(环办〔2011〕22号) says how the limits are used to judge a section, a river or
basin, and the change between two periods.

Everything here is pure NumPy (and Polars for the frame helper) and vectorised:
one call classifies millions of values.

Class codes
-----------
Classes are small integers (``numpy.int8``):

=====  =======  =====================================
code   label    meaning
=====  =======  =====================================
0      (none)   **missing**: NaN input, or no indicator
1      Ⅰ        meets class Ⅰ
2      Ⅱ        meets class Ⅱ
3      Ⅲ        meets class Ⅲ
4      Ⅳ        meets class Ⅳ
5      Ⅴ        meets class Ⅴ
6      劣Ⅴ     worse than class Ⅴ
=====  =======  =====================================

``0`` for missing is chosen so that "worst class of the indicators" is a plain
``max`` that ignores missing indicators, and a section with no data at all stays
``0``.

Boundaries
----------
The standard's limits are upper limits "≤" (DO: lower limits "≥"); a value equal
to a limit meets that class (GB 3838-2002 §4.2 and the Table 1 signs) [P].
Values are compared with the limits with a relative tolerance
:data:`RELATIVE_TOLERANCE` (1e-9): a value within 1e-9 × limit of a limit counts as
equal to it. A float parsed from the same decimal text as a limit ("0.1") is
bit-identical to it and needs no tolerance; the tolerance is there for computed
values, e.g. the mean of 0.1, 0.2 and 0.3 mg/L is 0.20000000000000004 in binary
floating point and must meet the 0.2 mg/L limit. No laboratory reports ten
significant digits, so the tolerance never changes the class of a reported value.
Rounding of period means to reporting digits (四舍六入五成双, 总站水字〔2018〕87号
[S]) is available as :func:`round_half_even` and as the ``decimals`` option of
:func:`classify_frame`; it is off by default because the per-indicator digits of
that rule are not in our references.

Invalid input
-------------
Negative concentrations, pH outside 0–14 and infinities are not measurements.
By default the classifiers raise :class:`ValueError` naming the first bad
position; with ``on_invalid="missing"`` they give class 0 instead.

References
----------
* GB 3838-2002 《地表水环境质量标准》 Table 1 [P] (``shared/reference/standards.md``).
* 环办〔2011〕22号 《地表水环境质量评价办法（试行）》 [P] (formulas/05).
* HJ 212-2017 Appendix B code table (``shared/reference/hj212_codes.csv``).

Example
-------
>>> import numpy as np
>>> single_factor_class("nh3_n", np.array([0.15, 0.151, 1.0, 2.6, np.nan]))
array([1, 2, 3, 6, 0], dtype=int8)
>>> single_factor_class("tp", [0.05, 0.05], waterbody=["river", "lake"])
array([2, 3], dtype=int8)
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from datetime import date
from collections.abc import Iterable, Mapping, Sequence
from typing import Literal

import numpy as np

from gongzhi.standards.versions import Edition

__all__ = [
    "EDITION",
    "EVALUATION_RULES",
    "RELATIVE_TOLERANCE",
    "MISSING",
    "CLASS_LABELS",
    "GRADE_ZH",
    "GRADE_EN",
    "Indicator",
    "HJ212Code",
    "INDICATORS",
    "CLASS_INDICATORS",
    "REFERENCE_INDICATORS",
    "PRIORITY_INDICATORS",
    "HJ212_TO_KEY",
    "WATERBODY_TYPES",
    "RIVER_PROPORTION_RULES",
    "TREND_THRESHOLDS",
    "class_label",
    "grade_zh",
    "grade_en",
    "grade_level",
    "is_lake",
    "resolve_indicator",
    "single_factor_class",
    "exceedance_multiple",
    "section_class",
    "SectionResult",
    "main_pollutants",
    "MainPollutants",
    "format_main_pollutants",
    "meets_target",
    "ph_mean",
    "period_mean",
    "round_half_even",
    "class_shares",
    "grade_from_proportions",
    "RiverAssessment",
    "assess_river",
    "grade_change",
    "proportion_change",
    "classify_frame",
]

# ---------------------------------------------------------------------------
# Editions
# ---------------------------------------------------------------------------

EDITION = Edition(
    code="GB 3838-2002",
    title="地表水环境质量标准 Environmental quality standards for surface water",
    effective=date(2002, 6, 1),
    confidence="P",
    notes=(
        "Table 1 basic items, limits read in a copy of the primary text.",
        "Replaced GB 3838-88 and GHZB 1-1999; the only edition in force.",
    ),
)
"""The edition of GB 3838 the limit table below belongs to."""

EVALUATION_RULES = Edition(
    code="环办〔2011〕22号",
    title="地表水环境质量评价办法（试行） Surface water quality evaluation method (trial)",
    effective=date(2011, 3, 9),
    confidence="P",
    notes=(
        "Class indicators, single-factor method, grades, main pollutants, river/basin "
        "assessment and trend rules; trend magnitude thresholds are [M].",
    ),
)
"""The evaluation rules the section/river/trend functions implement."""

RELATIVE_TOLERANCE = 1e-9
"""A value within this fraction of a limit counts as equal to the limit (see module doc)."""

MISSING = 0
"""Class code for "no data" (NaN value, or no class indicator at all)."""

CLASS_LABELS = ("", "Ⅰ", "Ⅱ", "Ⅲ", "Ⅳ", "Ⅴ", "劣Ⅴ")
"""Label of each class code (index 0 = missing, empty label)."""

GRADE_ZH = ("", "优", "优", "良好", "轻度污染", "中度污染", "重度污染")
"""水质状况 (qualitative grade) of each class code, 环办〔2011〕22号 Table 1 [P]."""

GRADE_EN = ("", "excellent", "excellent", "good", "lightly polluted", "moderately polluted",
            "heavily polluted")
"""English grade of each class code (glossary names)."""

_GRADE_LEVEL = np.array([-1, 0, 0, 1, 2, 3, 4], dtype=np.int8)
"""Grade level 0 (优) .. 4 (重度污染) of each class code; −1 missing."""


# ---------------------------------------------------------------------------
# The table
# ---------------------------------------------------------------------------

@dataclass(frozen=True)
class HJ212Code:
    """One HJ 212-2017 Appendix B code for an indicator.

    ``unit`` is the unit the code table prescribes for transmitted values, and
    ``to_table_unit`` the factor that converts it to the unit of GB 3838 Table 1
    (mg/L; pH dimensionless; fecal coliforms per L).
    """

    code: str
    name_zh: str
    unit: str
    to_table_unit: float


@dataclass(frozen=True)
class Indicator:
    """One row of GB 3838-2002 Table 1.

    ``kind`` is ``"le"`` (upper limits, "≤"), ``"ge"`` (lower limits, DO) or
    ``"range"`` (pH: a single 6–9 range for every class). ``limits`` are the
    class Ⅰ..Ⅴ limits in ``unit``; ``lake_limits`` replaces them for lakes and
    reservoirs (TP). ``role`` is ``"class"`` for the 21 class indicators of
    环办〔2011〕22号, ``"reference"`` for TN and fecal coliforms (evaluated
    separately, never in the class). ``priority`` marks cyanide and heavy metals,
    which come first among main pollutants. ``exceedance`` says whether an
    exceedance multiple is computed (not for pH and DO). ``hj212`` lists the HJ 212
    codes, the canonical one first; empty where the code table has none.
    """

    key: str
    serial: int
    name_zh: str
    name_en: str
    unit: str
    kind: Literal["le", "ge", "range"]
    limits: tuple[float, float, float, float, float]
    lake_limits: tuple[float, float, float, float, float] | None = None
    role: Literal["class", "reference"] = "class"
    lake_only: bool = False
    priority: bool = False
    exceedance: bool = True
    hj212: tuple[HJ212Code, ...] = ()
    confidence: str = "P"
    notes: tuple[str, ...] = field(default_factory=tuple)

    def class3_limit(self, lake: bool = False) -> float:
        """The class Ⅲ limit (basis of exceedance multiples and CWQI)."""
        lim = self.lake_limits if (lake and self.lake_limits is not None) else self.limits
        return lim[2]


_MG = "mg/L"
_UG_TO_MG = 1e-3

# GB 3838-2002 Table 1 [P]; serial numbers are the table's. Water temperature
# (serial 1) has no class limits and is not listed. HJ 212 codes are looked up in
# shared/reference/hj212_codes.csv: where both a plain ("铜", w2013x/w2014x) and a
# "total" code ("总铜", w2012x, from the pollution-source list) exist, the plain one
# is canonical and the total one is an accepted alias (decision, see docs).
INDICATORS: dict[str, Indicator] = {
    ind.key: ind
    for ind in (
        Indicator("ph", 2, "pH值", "pH", "1", "range", (6.0, 9.0, 6.0, 9.0, 6.0),
                  exceedance=False,
                  hj212=(HJ212Code("w01001", "pH值", "无量纲", 1.0),),
                  notes=("6–9 for every class; outside the range is 劣Ⅴ.",
                         "limits holds (low, high, low, high, low) only to keep the row shape;"
                         " use PH_RANGE.")),
        Indicator("do", 3, "溶解氧", "dissolved oxygen", _MG, "ge", (7.5, 6.0, 5.0, 3.0, 2.0),
                  exceedance=False,
                  hj212=(HJ212Code("w01009", "溶解氧", "毫克/升", 1.0),),
                  notes=("Class Ⅰ: 饱和率90%（或7.5）— saturation ≥ 90 % also meets class Ⅰ.",)),
        Indicator("codmn", 4, "高锰酸盐指数", "permanganate index", _MG, "le",
                  (2.0, 4.0, 6.0, 10.0, 15.0),
                  hj212=(HJ212Code("w01019", "高锰酸盐指数", "毫克/升", 1.0),)),
        Indicator("cod", 5, "化学需氧量", "chemical oxygen demand", _MG, "le",
                  (15.0, 15.0, 20.0, 30.0, 40.0),
                  hj212=(HJ212Code("w01018", "化学需氧量", "毫克/升", 1.0),)),
        Indicator("bod5", 6, "五日生化需氧量", "five-day biochemical oxygen demand", _MG, "le",
                  (3.0, 3.0, 4.0, 6.0, 10.0),
                  hj212=(HJ212Code("w01017", "五日生化需氧量", "毫克/升", 1.0),)),
        Indicator("nh3_n", 7, "氨氮", "ammonia nitrogen", _MG, "le", (0.15, 0.5, 1.0, 1.5, 2.0),
                  hj212=(HJ212Code("w21003", "氨氮", "毫克/升", 1.0),)),
        Indicator("tp", 8, "总磷", "total phosphorus", _MG, "le", (0.02, 0.1, 0.2, 0.3, 0.4),
                  lake_limits=(0.01, 0.025, 0.05, 0.1, 0.2),
                  hj212=(HJ212Code("w21011", "总磷", "毫克/升", 1.0),),
                  notes=("Lake/reservoir limits apply to lakes and reservoirs; river-type "
                         "reservoirs use the river limits.",)),
        Indicator("tn", 9, "总氮", "total nitrogen", _MG, "le", (0.2, 0.5, 1.0, 1.5, 2.0),
                  role="reference", lake_only=True,
                  hj212=(HJ212Code("w21001", "总氮", "毫克/升", 1.0),),
                  notes=("Table 1 limits are for lakes and reservoirs; 环办〔2011〕22号 evaluates "
                         "TN separately and never for rivers.",)),
        Indicator("cu", 10, "铜", "copper", _MG, "le", (0.01, 1.0, 1.0, 1.0, 1.0), priority=True,
                  hj212=(HJ212Code("w20138", "铜", "毫克/升", 1.0),
                         HJ212Code("w20122", "总铜", "毫克/升", 1.0))),
        Indicator("zn", 11, "锌", "zinc", _MG, "le", (0.05, 1.0, 1.0, 2.0, 2.0), priority=True,
                  hj212=(HJ212Code("w20139", "锌", "毫克/升", 1.0),
                         HJ212Code("w20123", "总锌", "毫克/升", 1.0))),
        Indicator("fluoride", 12, "氟化物", "fluoride", _MG, "le", (1.0, 1.0, 1.0, 1.5, 1.5),
                  hj212=(HJ212Code("w21017", "氟化物", "毫克/升", 1.0),)),
        Indicator("se", 13, "硒", "selenium", _MG, "le", (0.01, 0.01, 0.01, 0.02, 0.02),
                  hj212=(HJ212Code("w20140", "硒", "毫克/升", 1.0),
                         HJ212Code("w20128", "总硒", "微克/升", _UG_TO_MG))),
        Indicator("as", 14, "砷", "arsenic", _MG, "le", (0.05, 0.05, 0.05, 0.1, 0.1), priority=True,
                  hj212=(HJ212Code("w20141", "砷", "毫克/升", 1.0),
                         HJ212Code("w20119", "总砷", "微克/升", _UG_TO_MG))),
        Indicator("hg", 15, "汞", "mercury", _MG, "le", (0.00005, 0.00005, 0.0001, 0.001, 0.001),
                  priority=True,
                  hj212=(HJ212Code("w20142", "汞", "微克/升", _UG_TO_MG),
                         HJ212Code("w20111", "总汞", "微克/升", _UG_TO_MG))),
        Indicator("cd", 16, "镉", "cadmium", _MG, "le", (0.001, 0.005, 0.005, 0.005, 0.01),
                  priority=True,
                  hj212=(HJ212Code("w20143", "镉", "微克/升", _UG_TO_MG),
                         HJ212Code("w20115", "总镉", "微克/升", _UG_TO_MG))),
        Indicator("cr6", 17, "铬（六价）", "chromium (hexavalent)", _MG, "le",
                  (0.01, 0.05, 0.05, 0.05, 0.1), priority=True,
                  hj212=(HJ212Code("w20117", "六价铬", "微克/升", _UG_TO_MG),)),
        Indicator("pb", 18, "铅", "lead", _MG, "le", (0.01, 0.01, 0.05, 0.05, 0.1), priority=True,
                  hj212=(HJ212Code("w20144", "铅", "毫克/升", 1.0),
                         HJ212Code("w20120", "总铅", "微克/升", _UG_TO_MG))),
        Indicator("cyanide", 19, "氰化物", "cyanide", _MG, "le", (0.005, 0.05, 0.2, 0.2, 0.2),
                  priority=True,
                  hj212=(HJ212Code("w21016", "氰化物", "毫克/升", 1.0),)),
        Indicator("phenol", 20, "挥发酚", "volatile phenol", _MG, "le",
                  (0.002, 0.002, 0.005, 0.01, 0.1),
                  hj212=(HJ212Code("w23002", "挥发酚", "毫克/升", 1.0),)),
        Indicator("petroleum", 21, "石油类", "petroleum", _MG, "le", (0.05, 0.05, 0.05, 0.5, 1.0),
                  hj212=(HJ212Code("w22001", "石油类", "毫克/升", 1.0),)),
        Indicator("las", 22, "阴离子表面活性剂", "anionic surfactant", _MG, "le",
                  (0.2, 0.2, 0.2, 0.3, 0.3),
                  hj212=(HJ212Code("w19002", "阴离子表面活性剂", "毫克/升", 1.0),)),
        Indicator("sulfide", 23, "硫化物", "sulfide", _MG, "le", (0.05, 0.1, 0.2, 0.5, 1.0),
                  hj212=(HJ212Code("w21019", "硫化物", "毫克/升", 1.0),)),
        Indicator("fecal_coliform", 24, "粪大肠菌群", "fecal coliforms", "1/L", "le",
                  (200.0, 2000.0, 10000.0, 20000.0, 40000.0), role="reference",
                  hj212=(HJ212Code("w02003", "粪大肠菌群", "个/升", 1.0),),
                  notes=("Evaluated separately (reference indicator), never in the class.",)),
    )
}
"""GB 3838-2002 Table 1 basic items (water temperature excluded), keyed by short name."""

PH_RANGE = (6.0, 9.0)
"""pH limits for every class, inclusive (GB 3838-2002 Table 1, item 2) [P]."""

PH_VALID = (0.0, 14.0)
"""pH values outside this range are rejected as invalid input."""

DO_SATURATION_CLASS1 = 90.0
"""DO saturation (%) that meets class Ⅰ as an alternative to 7.5 mg/L (Table 1, item 3) [P]."""

CLASS_INDICATORS: tuple[str, ...] = tuple(k for k, v in INDICATORS.items() if v.role == "class")
"""The 21 class indicators of 环办〔2011〕22号 §2 (Table 1 minus temperature, TN, fecal coliforms)."""

REFERENCE_INDICATORS: tuple[str, ...] = tuple(
    k for k, v in INDICATORS.items() if v.role == "reference")
"""Evaluated separately, never in a section's class: TN (lakes/reservoirs only), fecal coliforms."""

PRIORITY_INDICATORS: frozenset[str] = frozenset(k for k, v in INDICATORS.items() if v.priority)
"""Cyanide and heavy metals: first among main pollutants when they exceed class Ⅲ.

环办〔2011〕22号 names "氰化物或铅、铬等重金属" [S, formulas/05]; which elements count as
heavy metals is our decision [M]: Cu, Zn, As, Hg, Cd, Cr(VI), Pb (selenium, a
non-metal, is not included)."""

HJ212_TO_KEY: dict[str, tuple[str, HJ212Code]] = {
    c.code: (k, c) for k, v in INDICATORS.items() for c in v.hj212
}
"""HJ 212 code → (short name, code record with its unit conversion)."""

WATERBODY_TYPES: dict[str, bool] = {
    # value → is a lake or reservoir (True) or treated as a river (False)
    "river": False,
    "lake": True,
    "reservoir": True,
    "river_reservoir": False,  # 河道型水库: assessed as a river (环办〔2011〕22号 §4) [P]
    "河流": False,
    "湖泊": True,
    "湖库": True,
    "水库": True,
    "河道型水库": False,
}
"""Waterbody types (site metadata) and whether the lake/reservoir TP limits apply."""


# ---------------------------------------------------------------------------
# Small helpers
# ---------------------------------------------------------------------------

def class_label(class_num) -> np.ndarray | str:
    """Label (Ⅰ … 劣Ⅴ, "" for missing) of a class code or array of codes."""
    arr = np.asarray(class_num)
    labels = np.array(CLASS_LABELS, dtype=object)[arr.astype(np.intp)]
    return labels if arr.ndim else str(labels)


def grade_zh(class_num):
    """水质状况 (优/良好/轻度污染/中度污染/重度污染) of a class code or array of codes."""
    arr = np.asarray(class_num)
    out = np.array(GRADE_ZH, dtype=object)[arr.astype(np.intp)]
    return out if arr.ndim else str(out)


def grade_en(class_num):
    """English grade (excellent … heavily polluted) of a class code or array of codes."""
    arr = np.asarray(class_num)
    out = np.array(GRADE_EN, dtype=object)[arr.astype(np.intp)]
    return out if arr.ndim else str(out)


def grade_level(class_num) -> np.ndarray:
    """Grade level 0 (优, class Ⅰ–Ⅱ) … 4 (重度污染, 劣Ⅴ); −1 for missing."""
    return _GRADE_LEVEL[np.asarray(class_num).astype(np.intp)]


def is_lake(waterbody, n: int | None = None) -> np.ndarray:
    """Boolean array: True where the lake/reservoir limits apply.

    ``waterbody`` is one type or an array of types (see :data:`WATERBODY_TYPES`;
    case-insensitive, ``-``/space read as ``_``), or already a boolean array.
    ``None`` means river. Unknown types raise :class:`ValueError` naming the first
    position and value.
    """
    if waterbody is None:
        return np.zeros(n or 0, dtype=bool) if n is not None else np.zeros(0, dtype=bool)
    arr = np.asarray(waterbody)
    if arr.dtype == bool:
        out = arr
    else:
        flat = arr.ravel()
        uniq, inv = np.unique(flat.astype(str), return_inverse=True)
        mapped = np.empty(len(uniq), dtype=bool)
        for i, u in enumerate(uniq):
            key = u.strip().lower().replace("-", "_").replace(" ", "_")
            if key not in WATERBODY_TYPES:
                pos = int(np.flatnonzero(inv == i)[0])
                raise ValueError(
                    f"unknown waterbody type {str(u)!r} at position {pos}; "
                    f"expected one of river, lake, reservoir, river_reservoir")
            mapped[i] = WATERBODY_TYPES[key]
        out = mapped[inv].reshape(arr.shape)
    if n is not None and out.ndim == 0:
        out = np.full(n, bool(out))
    return out


def resolve_indicator(name: str) -> tuple[str, float]:
    """Short name and unit factor for a short name or HJ 212 code (case-insensitive).

    Returns ``(key, factor)``: multiply values by ``factor`` to get the Table 1
    unit (e.g. ``w20142`` mercury is sent in µg/L → factor 0.001).

    >>> resolve_indicator("w21003")
    ('nh3_n', 1.0)
    >>> resolve_indicator("W20142")
    ('hg', 0.001)
    """
    n = name.strip().lower()
    if n in INDICATORS:
        return n, 1.0
    if n in HJ212_TO_KEY:
        key, code = HJ212_TO_KEY[n]
        return key, code.to_table_unit
    raise KeyError(name)


def _as_float(values) -> np.ndarray:
    arr = np.asarray(values, dtype=np.float64)
    return arr


def _check_invalid(key: str, v: np.ndarray, on_invalid: str) -> np.ndarray | None:
    """Mask of invalid values; raises if on_invalid == "raise" and any is found."""
    if key == "ph":
        bad = (v < PH_VALID[0]) | (v > PH_VALID[1]) | np.isinf(v)
        what = "pH outside 0–14"
    else:
        bad = (v < 0) | np.isinf(v)
        what = "negative or infinite concentration"
    if not bad.any():
        return None
    if on_invalid == "raise":
        pos = int(np.flatnonzero(bad.ravel())[0])
        raise ValueError(f"{key}: {what} at position {pos}: {float(v.ravel()[pos])!r}")
    if on_invalid != "missing":
        raise ValueError(f"on_invalid must be 'raise' or 'missing', not {on_invalid!r}")
    return bad


def _count_le(v: np.ndarray, limits: Sequence[float]) -> np.ndarray:
    """1 + number of ≤-limits the value exceeds (with the tolerance): classes 1..6."""
    out = np.ones(v.shape, dtype=np.int8)
    for lim in limits:
        out += v > lim * (1.0 + RELATIVE_TOLERANCE)
    return out


def _count_ge(v: np.ndarray, limits: Sequence[float]) -> np.ndarray:
    """1 + number of ≥-limits the value falls short of (with the tolerance)."""
    out = np.ones(v.shape, dtype=np.int8)
    for lim in limits:
        out += v < lim * (1.0 - RELATIVE_TOLERANCE)
    return out


# ---------------------------------------------------------------------------
# Single-factor class
# ---------------------------------------------------------------------------

def single_factor_class(indicator: str, values, waterbody=None, *, do_saturation=None,
                        on_invalid: Literal["raise", "missing"] = "raise") -> np.ndarray:
    """Class code (1..6; 0 missing) of each value of one indicator, GB 3838-2002 Table 1.

    Parameters
    ----------
    indicator
        Short name (``"nh3_n"``) or HJ 212 code (``"w21003"``). A code's values
        are taken in the code's HJ 212 unit and converted (e.g. ``w20142`` µg/L).
    values
        Concentrations in the Table 1 unit (mg/L; pH dimensionless; fecal
        coliforms per L), any shape. NaN → class 0.
    waterbody
        For TP only: type per value or one type (``"river"``, ``"lake"``,
        ``"reservoir"``, ``"river_reservoir"``; default river), or a boolean
        "is lake/reservoir" array. Ignored for other indicators.
    do_saturation
        For DO only, optional: dissolved-oxygen saturation in %, same shape. Where
        it is ≥ 90 % the value meets class Ⅰ even below 7.5 mg/L (Table 1 item 3,
        "饱和率90%（或7.5）") [P]. The saturation itself is not computed here (it
        needs temperature and pressure).
    on_invalid
        ``"raise"`` (default): negative concentration, pH outside 0–14, or ±inf
        raises ValueError naming the position; ``"missing"``: class 0.

    Notes
    -----
    pH: 6 ≤ pH ≤ 9 is class Ⅰ (the range is the same for all classes), else 劣Ⅴ.
    DO: "≥" limits 7.5/6/5/3/2 mg/L. Others: "≤" limits. A value equal to a
    limit meets it; comparisons use :data:`RELATIVE_TOLERANCE`.
    TN: the Table 1 (lake/reservoir) limits are applied to whatever is passed;
    :func:`section_class` leaves river rows' TN unevaluated (class 0) and never
    puts TN in a river's class.

    Examples
    --------
    >>> single_factor_class("do", [7.5, 7.49, 2.0, 1.99])
    array([1, 2, 5, 6], dtype=int8)
    >>> single_factor_class("ph", [6.0, 9.0, 9.01, 5.99])
    array([1, 1, 6, 6], dtype=int8)
    """
    key, factor = resolve_indicator(indicator)
    ind = INDICATORS[key]
    v = _as_float(values)
    if factor != 1.0:
        v = v * factor
    bad = _check_invalid(key, v, on_invalid)
    nan = np.isnan(v)
    if ind.kind == "range":
        lo, hi = PH_RANGE
        lo_eff = lo * (1.0 - RELATIVE_TOLERANCE)
        hi_eff = hi * (1.0 + RELATIVE_TOLERANCE)
        out = np.where((v >= lo_eff) & (v <= hi_eff), 1, 6).astype(np.int8)
    elif ind.kind == "ge":
        out = _count_ge(v, ind.limits)
        if do_saturation is not None:
            sat = _as_float(do_saturation)
            out = np.where(sat >= DO_SATURATION_CLASS1 * (1.0 - RELATIVE_TOLERANCE),
                           np.int8(1), out).astype(np.int8)
    else:
        out = _count_le(v, ind.limits)
        if ind.lake_limits is not None and waterbody is not None:
            lake = is_lake(waterbody)
            if lake.ndim == 0:
                if bool(lake):
                    out = _count_le(v, ind.lake_limits)
            elif lake.any():
                out = np.where(lake, _count_le(v, ind.lake_limits), out).astype(np.int8)
    if out.ndim == 0:
        out = np.asarray(out, dtype=np.int8)
    out[nan] = MISSING
    if bad is not None:
        out[bad] = MISSING
    return out


def exceedance_multiple(indicator: str, values, waterbody=None) -> np.ndarray:
    """超标倍数 E = (C − C_Ⅲ) / C_Ⅲ against the class Ⅲ limit (环办〔2011〕22号 §5) [P].

    Negative where the value meets class Ⅲ. NaN for pH and DO (not computed for
    temperature, pH and DO) and for missing values. TP uses the lake/reservoir
    class Ⅲ limit (0.05 mg/L) where ``waterbody`` is a lake or reservoir.

    >>> float(exceedance_multiple("nh3_n", 2.6))
    1.6
    """
    key, factor = resolve_indicator(indicator)
    ind = INDICATORS[key]
    v = _as_float(values) * factor
    if not ind.exceedance:
        return np.broadcast_to(np.float64(np.nan), v.shape)  # read-only view, no allocation
    c3 = ind.class3_limit(False)
    if ind.lake_limits is not None and waterbody is not None:
        c3 = np.where(is_lake(waterbody), ind.class3_limit(True), c3)
    e = (v - c3) / c3
    return e if e.ndim else np.float64(e)


# ---------------------------------------------------------------------------
# Section class and main pollutants
# ---------------------------------------------------------------------------

@dataclass
class SectionResult:
    """Result of :func:`section_class` for n rows (sections, samples or periods).

    ``class_num`` int8 (n,), 0 where no class indicator has a value;
    ``by_indicator`` maps each indicator given (class and reference ones) to its
    int8 class array; ``exceedance`` maps each indicator to E (NaN where not
    computed); ``main_pollutants`` is a list (length n) of lists of
    ``(indicator, E or None)``, empty unless the class is worse than Ⅲ.
    """

    class_num: np.ndarray
    by_indicator: dict[str, np.ndarray]
    exceedance: dict[str, np.ndarray]
    main_pollutants: "MainPollutants | None"
    class_indicators: tuple[str, ...]

    @property
    def label(self) -> np.ndarray:
        return class_label(self.class_num)

    @property
    def grade_zh(self) -> np.ndarray:
        return grade_zh(self.class_num)

    @property
    def grade_en(self) -> np.ndarray:
        return grade_en(self.class_num)


def _normalise_values(values: Mapping[str, object]) -> dict[str, np.ndarray]:
    out: dict[str, np.ndarray] = {}
    for name, vals in values.items():
        try:
            key, factor = resolve_indicator(name)
        except KeyError:
            raise KeyError(f"unknown indicator {name!r}") from None
        if key in out:
            raise ValueError(f"indicator {key!r} given twice (as {name!r})")
        v = np.atleast_1d(_as_float(vals))
        out[key] = v * factor if factor != 1.0 else v
    return out


def section_class(values: Mapping[str, object], waterbody=None, *, do_saturation=None,
                  tn_in_lake_class: bool = False, main: bool = True,
                  on_invalid: Literal["raise", "missing"] = "raise") -> SectionResult:
    """Single-factor class of sections (or samples, or period means), 环办〔2011〕22号 §2 [P].

    The class is the worst single-factor class among the class indicators given
    (the 21 of :data:`CLASS_INDICATORS`). TN and fecal coliforms get their own
    classes in ``by_indicator`` but never enter the class; TN of river rows is
    not evaluated at all (class 0, E NaN: its Table 1 limits are for lakes and
    reservoirs). With
    ``tn_in_lake_class=True`` (local practice, not the 2011 rule) TN enters the
    class of lake/reservoir rows only — never of a river row.

    Parameters
    ----------
    values
        Mapping of indicator (short name or HJ 212 code) → array of n values
        (Table 1 units; HJ 212 codes in their code unit) or scalars.
    waterbody
        One type for all rows, or one per row (see :func:`is_lake`). Default river.
    main
        Also compute main pollutants (vectorised; off saves about a third of the time).

    Examples
    --------
    The worked example of formulas/05 (river section):

    >>> r = section_class({"nh3_n": 2.6, "tp": 0.35, "codmn": 7.2, "do": 6.0}, "river")
    >>> r.label[0], r.grade_zh[0]
    ('劣Ⅴ', '重度污染')
    >>> format_main_pollutants(r.main_pollutants[0])
    'nh3_n(1.6),tp(0.75),codmn(0.2)'
    """
    vals = _normalise_values(values)
    n = max((v.size for v in vals.values()), default=0)
    vals = {k: np.broadcast_to(v, (n,)) if v.size == 1 else v for k, v in vals.items()}
    for k, v in vals.items():
        if v.shape != (n,):
            raise ValueError(f"indicator {k!r} has {v.size} values, expected {n}")
    lake = is_lake(waterbody, n) if waterbody is not None else np.zeros(n, dtype=bool)
    if lake.shape != (n,):
        raise ValueError(f"waterbody has {lake.size} values, expected {n}")
    sat = None
    if do_saturation is not None:
        sat = np.broadcast_to(np.atleast_1d(_as_float(do_saturation)), (n,))

    cls = np.zeros(n, dtype=np.int8)
    by: dict[str, np.ndarray] = {}
    ex: dict[str, np.ndarray] = {}
    in_class: list[str] = []
    for key in INDICATORS:  # table order: deterministic tie order
        if key not in vals:
            continue
        c = single_factor_class(key, vals[key], lake,
                                do_saturation=sat if key == "do" else None,
                                on_invalid=on_invalid)
        e = exceedance_multiple(key, vals[key], lake)
        ind = INDICATORS[key]
        if ind.lake_only:  # TN: not evaluated for rivers at all
            c = np.where(lake, c, MISSING).astype(np.int8)
            e = np.where(lake, e, np.nan)
        by[key] = c
        ex[key] = e
        if ind.role == "class":
            np.maximum(cls, c, out=cls)
            in_class.append(key)
        elif key == "tn" and tn_in_lake_class:
            np.maximum(cls, c, out=cls)  # c is already 0 for river rows
            in_class.append(key)
    mp = None
    if main:
        keys = list(in_class)
        if keys:
            mp = main_pollutants(keys, [by[k] for k in keys], [ex[k] for k in keys], cls)
        else:
            mp = main_pollutants((), [], [], cls)
    return SectionResult(cls, by, ex, mp, tuple(in_class))


class MainPollutants(Sequence):
    """Main pollutants of n rows, stored as arrays; behaves as a sequence of lists.

    ``index`` (n, top) int8: positions into ``keys`` in rank order, −1 for none;
    ``multiple`` (n, top) float64: the exceedance multiples (NaN for none, and
    for pH/DO which have none). ``result[i]`` is the list of ``(indicator, E or
    None)`` of row i; :meth:`format` gives the ``nh3_n(1.6),tp(0.75)`` strings.
    """

    def __init__(self, keys: Sequence[str], index: np.ndarray, multiple: np.ndarray):
        self.keys = tuple(keys)
        self.index = index
        self.multiple = multiple

    def __len__(self) -> int:
        return len(self.index)

    def __getitem__(self, i):
        if isinstance(i, slice):
            return [self[j] for j in range(*i.indices(len(self)))]
        out = []
        for j, e in zip(self.index[i].tolist(), self.multiple[i].tolist()):
            if j < 0:
                break
            out.append((self.keys[j], None if math.isnan(e) else e))
        return out

    def __eq__(self, other):
        return list(self) == list(other)

    def __repr__(self) -> str:
        return f"MainPollutants({list(self)!r})"

    def format(self, *, decimals: int = 2) -> list[str]:
        """One string per row, "" where there is no main pollutant."""
        out = [""] * len(self)
        for i in np.flatnonzero(self.index[:, 0] >= 0).tolist() if self.index.size else []:
            out[i] = format_main_pollutants(self[i], decimals=decimals)
        return out


def main_pollutants(keys: Sequence[str], classes, exceedance,
                    class_num: np.ndarray | None = None, *, top: int = 3) -> MainPollutants:
    """主要污染指标 of each row, 环办〔2011〕22号 §5 [P/S].

    Only rows whose class is worse than Ⅲ have main pollutants, and only
    indicators worse than Ⅲ qualify. Order: cyanide and heavy metals
    (:data:`PRIORITY_INDICATORS`) first [S: "优先作为主要污染指标"], then worse
    class first, then larger exceedance multiple; indicators without a multiple
    (DO, pH) rank after those with one in the same class [M: our decision]; then
    table order. The first ``top`` (3) are kept.

    ``classes`` and ``exceedance`` are (n, k) arrays for the k ``keys``, or
    sequences of k arrays of n values (one per indicator, as
    :func:`section_class` holds them). Returns a :class:`MainPollutants` (a
    sequence of per-row lists of ``(indicator, E)``, E None for pH/DO), computed
    without a Python loop over rows.
    """
    if isinstance(classes, np.ndarray) and classes.ndim == 2:
        cls_cols = [classes[:, j] for j in range(classes.shape[1])]
    else:
        cls_cols = [np.asarray(c) for c in classes]
    if isinstance(exceedance, np.ndarray) and exceedance.ndim == 2:
        ex_cols = [exceedance[:, j] for j in range(exceedance.shape[1])]
    else:
        ex_cols = [np.asarray(e, dtype=np.float64) for e in exceedance]
    k = len(keys)
    if len(cls_cols) != k or len(ex_cols) != k:
        raise ValueError("keys, classes and exceedance must have the same number of indicators")
    n = len(cls_cols[0]) if k else (len(class_num) if class_num is not None else 0)
    if class_num is None:
        class_num = np.max(np.stack(cls_cols), axis=0) if k else np.zeros(n, np.int8)
    index = np.full((n, top), -1, dtype=np.int8)
    multiple = np.full((n, top), np.nan)
    rows = np.flatnonzero(np.asarray(class_num) > 3)
    m = rows.size
    if m == 0 or k == 0:
        return MainPollutants(keys, index, multiple)
    # Work on the polluted rows only, one contiguous array per indicator.
    # Rank key 1: group = 4·priority + class for exceeding indicators (4..6 or
    # 8..10), −1 otherwise. Rank key 2: E, "no multiple" (pH, DO) below every real E.
    groups, ekeys, exs = [], [], []
    for key, c, e in zip(keys, cls_cols, ex_cols):
        c = c[rows].astype(np.int16)
        boost = np.int16(4 if key in PRIORITY_INDICATORS else 0)
        g = c + boost
        g[c <= 3] = -1
        e = np.broadcast_to(e, (n,))[rows]
        groups.append(g)
        exs.append(e)
        ekeys.append(np.where(np.isnan(e), -1e300, e))
    sub_index = np.full((m, top), -1, dtype=np.int8)
    sub_mult = np.full((m, top), np.nan)
    for t in range(min(top, k)):
        # running lexicographic maximum over the k indicators (elementwise over m);
        # strict ">" keeps the first of equals: ties keep table order
        best_g = groups[0].copy()
        best_e = ekeys[0].copy()
        best_x = exs[0].copy()
        best_j = np.zeros(m, dtype=np.int8)
        for j in range(1, k):
            g, e = groups[j], ekeys[j]
            better = (g > best_g) | ((g == best_g) & (e > best_e))
            np.copyto(best_g, g, where=better)
            np.copyto(best_e, e, where=better)
            np.copyto(best_x, exs[j], where=better)
            best_j[better] = j
        valid = best_g >= 0
        if not valid.any():
            break
        sub_index[:, t] = np.where(valid, best_j, -1)
        sub_mult[:, t] = np.where(valid, best_x, np.nan)
        for j in range(k):  # take the chosen indicator out of the running
            groups[j][best_j == j] = -1
    index[rows] = sub_index
    multiple[rows] = sub_mult
    return MainPollutants(keys, index, multiple)


def format_main_pollutants(items: Iterable[tuple[str, float | None]], *, decimals: int = 2) -> str:
    """``nh3_n(1.6),tp(0.75)``: multiples rounded half-even to ``decimals``, zeros stripped."""
    parts = []
    for key, e in items:
        if e is None:
            parts.append(key)
        else:
            r = float(round_half_even(e, decimals))
            s = f"{r:.{decimals}f}".rstrip("0").rstrip(".")
            parts.append(f"{key}({s})")
    return ",".join(parts)


def meets_target(class_num, target) -> np.ndarray:
    """True where the class meets the target class (class ≤ target, 水质目标).

    ``target`` is a class code 1..5 (or 6), scalar or per row. Missing classes
    (0) are False: no data is not compliance; count them separately.
    """
    c = np.asarray(class_num)
    t = np.asarray(target)
    if np.any((t < 1) | (t > 6)):
        raise ValueError("target class must be 1..6")
    return (c >= 1) & (c <= t)


# ---------------------------------------------------------------------------
# Period statistics
# ---------------------------------------------------------------------------

def round_half_even(values, decimals: int):
    """四舍六入五成双 (round half to even) at ``decimals`` decimal places [S].

    Rule of 总站水字〔2018〕87号 (GB/T 8170 §3.2). Values are first snapped at 1e-6 of
    the last kept digit, so that a decimal tie stored inexactly in binary
    (2.675 is 2.67499999… in float) is treated as the tie it was written as.

    >>> round_half_even([0.125, 0.135, 2.675, 0.1251], 2).tolist()
    [0.12, 0.14, 2.68, 0.13]
    """
    v = np.asarray(values, dtype=np.float64)
    scale = 10.0 ** decimals
    scaled = np.round(v * scale, 6)
    out = np.rint(scaled) / scale
    return out if out.ndim else np.float64(out)


def ph_mean(values, *, method: Literal["hplus", "arithmetic"] = "hplus", axis=None):
    """Mean pH of several samples, ignoring NaN.

    ``"hplus"`` (default): −log10 of the mean H⁺ activity 10^−pH, the rule of the
    2020 statistics regulation (环办监测函〔2020〕82号) [S]. ``"arithmetic"``:
    the plain mean, as a literal reading of 环办〔2011〕22号 "arithmetic means".

    >>> round(float(ph_mean([6.0, 8.0])), 3)
    6.297
    """
    v = np.asarray(values, dtype=np.float64)
    with np.errstate(all="ignore"):
        if method == "arithmetic":
            return np.nanmean(v, axis=axis)
        if method != "hplus":
            raise ValueError(f"method must be 'hplus' or 'arithmetic', not {method!r}")
        return -np.log10(np.nanmean(10.0 ** (-v), axis=axis))


def period_mean(indicator: str, values, *, ph_method: Literal["hplus", "arithmetic"] = "hplus",
                axis=None):
    """Arithmetic mean of a period's values (NaN ignored); pH via :func:`ph_mean`."""
    key, factor = resolve_indicator(indicator)
    if key == "ph":
        return ph_mean(values, method=ph_method, axis=axis)
    with np.errstate(all="ignore"):
        return np.nanmean(np.asarray(values, dtype=np.float64) * factor, axis=axis)


# ---------------------------------------------------------------------------
# River / basin assessment and trends
# ---------------------------------------------------------------------------

RIVER_PROPORTION_RULES = {
    "min_sections": 5,   # at least this many → proportion method [P]
    "excellent_share": 90,   # Ⅰ–Ⅲ ≥ 90 % → 优
    "good_share": 75,        # 75 % ≤ Ⅰ–Ⅲ < 90 % → 良好
    "moderate_worse_v": 20,  # Ⅰ–Ⅲ < 75 %: 劣Ⅴ < 20 % 轻度; 20–40 % 中度
    "heavy_worse_v": 40,     # 劣Ⅴ ≥ 40 % → 重度
}
"""Section-proportion thresholds (percent) of 环办〔2011〕22号 §3 [P]."""

TREND_THRESHOLDS = (10.0, 20.0)
"""|ΔG − ΔD| ≤ 10 无明显变化; 10 < … ≤ 20 有所变化; > 20 明显变化 (percentage points) [M]."""

_GRADE_NAMES_ZH = ("优", "良好", "轻度污染", "中度污染", "重度污染")
_GRADE_NAMES_EN = ("excellent", "good", "lightly polluted", "moderately polluted",
                   "heavily polluted")


def class_shares(class_num) -> dict:
    """Share of class Ⅰ–Ⅲ (优Ⅲ比例), of 劣Ⅴ and of each class, in percent.

    Missing classes (0) are left out of numerator and denominator; ``n`` is the
    number of classified sections. Shares are NaN when ``n`` is 0.
    """
    c = np.asarray(class_num).ravel()
    c = c[c > 0]
    n = c.size
    counts = np.bincount(c.astype(np.intp), minlength=7)[1:7]
    pct = (100.0 * counts / n) if n else np.full(6, np.nan)
    return {
        "n": int(n),
        "counts": {CLASS_LABELS[i + 1]: int(counts[i]) for i in range(6)},
        "by_class": {CLASS_LABELS[i + 1]: float(pct[i]) for i in range(6)},
        "good": float(pct[:3].sum()) if n else float("nan"),
        "worse_v": float(pct[5]) if n else float("nan"),
        "good_count": int(counts[:3].sum()),
        "worse_v_count": int(counts[5]),
    }


def grade_from_proportions(good_count: int, worse_v_count: int, n: int) -> int:
    """Grade level (0 优 … 4 重度污染) of a river from section counts, 环办〔2011〕22号 §3 [P].

    Uses exact integer arithmetic on counts (no float share at a threshold).

    >>> _GRADE_NAMES_ZH[grade_from_proportions(5, 1, 8)]
    '轻度污染'
    """
    if n <= 0:
        raise ValueError("no sections")
    r = RIVER_PROPORTION_RULES
    g100, d100 = 100 * good_count, 100 * worse_v_count
    if g100 >= r["excellent_share"] * n:
        return 0
    if g100 >= r["good_share"] * n:
        return 1
    if d100 < r["moderate_worse_v"] * n:
        return 2
    if d100 < r["heavy_worse_v"] * n:
        return 3
    return 4


@dataclass
class RiverAssessment:
    """A river's or basin's assessment (环办〔2011〕22号 §3)."""

    method: Literal["mean", "proportion"]
    n_sections: int
    grade_level: int
    grade_zh: str
    grade_en: str
    class_num: int | None  # only for the mean method
    shares: dict
    main_pollutants: list[tuple[str, float]]  # (indicator, E) or (indicator, exceedance rate %)


def assess_river(values: Mapping[str, object], waterbody=None, *,
                 tn_in_lake_class: bool = False) -> RiverAssessment:
    """Assess a river or basin from its sections' (period-mean) values, 环办〔2011〕22号 §3.

    ``values`` maps indicator → array over the sections. Under 5 sections: each
    indicator is averaged over the sections (pH via H⁺, see :func:`ph_mean`) and
    the mean is classified as a section (main pollutants with E). 5 or more: the
    sections are classified and the grade follows the class proportions
    (:data:`RIVER_PROPORTION_RULES`); main pollutants are the (up to) three
    indicators with the highest section exceedance rate (share of sections worse
    than Ⅲ) when the grade is worse than 良好 [S].

    Sections with no class at all are left out of the proportions.
    """
    vals = _normalise_values(values)
    n = max((v.size for v in vals.values()), default=0)
    if n == 0:
        raise ValueError("no sections")
    lake = is_lake(waterbody, n) if waterbody is not None else np.zeros(n, dtype=bool)
    per = section_class(vals, lake, tn_in_lake_class=tn_in_lake_class, main=False)
    shares = class_shares(per.class_num)
    if n < RIVER_PROPORTION_RULES["min_sections"]:
        means = {k: np.atleast_1d(period_mean(k, v)) for k, v in vals.items()}
        # a basin mixing lakes and rivers is assessed on its majority type [M]
        lake_mean = bool(lake.mean() > 0.5)
        r = section_class(means, lake_mean, tn_in_lake_class=tn_in_lake_class)
        c = int(r.class_num[0])
        if c == 0:
            raise ValueError("no class indicator has a value")
        lvl = int(_GRADE_LEVEL[c])
        return RiverAssessment("mean", n, lvl, _GRADE_NAMES_ZH[lvl], _GRADE_NAMES_EN[lvl], c,
                               shares, [(k, e) for k, e in r.main_pollutants[0]])
    if shares["n"] == 0:
        raise ValueError("no section has a class")
    lvl = grade_from_proportions(shares["good_count"], shares["worse_v_count"], shares["n"])
    mp: list[tuple[str, float]] = []
    if lvl >= 2:
        rates = []
        for k in per.class_indicators:
            c = per.by_indicator[k]
            if k == "tn":
                c = np.where(lake, c, 0)
            valid = c > 0
            if not valid.any():
                continue
            rate = 100.0 * np.count_nonzero(c > 3) / np.count_nonzero(valid)
            if rate > 0:
                rates.append((k, rate))
        order = sorted(range(len(rates)), key=lambda i: -rates[i][1])  # stable: table order
        mp = [rates[i] for i in order[:3]]
    return RiverAssessment("proportion", n, lvl, _GRADE_NAMES_ZH[lvl], _GRADE_NAMES_EN[lvl], None,
                           shares, mp)


def grade_change(class_before, class_after) -> tuple[np.ndarray, np.ndarray]:
    """Change of 水质状况 grade between two periods, 环办〔2011〕22号 §6 [S].

    Returns ``(delta, label)``: ``delta`` = grade levels improved (positive =
    better; class Ⅰ and Ⅱ are the same grade 优), ``label`` one of
    ``"无明显变化"`` (same grade), ``"有所好转"/"有所变差"`` (one grade),
    ``"明显好转"/"明显变差"`` (two or more), ``""`` where a class is missing.
    """
    b = grade_level(class_before).astype(np.int16)
    a = grade_level(class_after).astype(np.int16)
    delta = b - a
    label = np.where(delta == 0, "无明显变化",
                     np.where(delta == 1, "有所好转",
                              np.where(delta == -1, "有所变差",
                                       np.where(delta > 1, "明显好转", "明显变差")))).astype(object)
    missing = (b < 0) | (a < 0)
    label[missing] = ""
    delta = np.where(missing, 0, delta)
    if np.ndim(class_before) == 0 and np.ndim(class_after) == 0:
        return int(delta), str(label)
    return delta, label


def proportion_change(good_before: float, worse_v_before: float, good_after: float,
                      worse_v_after: float) -> tuple[float, str]:
    """ΔG − ΔD between two periods (percentage points) and its label, 环办〔2011〕22号 §6.

    ΔG is the change of the class Ⅰ–Ⅲ share, ΔD of the 劣Ⅴ share. Positive is
    better. Magnitude thresholds :data:`TREND_THRESHOLDS` (10, 20) are [M].

    >>> proportion_change(60, 20, 75, 10)
    (25.0, '明显好转')
    """
    x = (good_after - good_before) - (worse_v_after - worse_v_before)
    x = float(round_half_even(x, 6))
    small, large = TREND_THRESHOLDS
    if abs(x) <= small:
        return x, "无明显变化"
    word = "好转" if x > 0 else "变差"
    return x, ("有所" if abs(x) <= large else "明显") + word


# ---------------------------------------------------------------------------
# Polars helper
# ---------------------------------------------------------------------------

_PERIOD_TRUNC = {"month": "1mo", "quarter": "1q", "year": "1y"}


def classify_frame(df, *, site: str = "site", time: str = "time", waterbody: str = "waterbody",
                   period: Literal["month", "quarter", "year"] | None = None,
                   ph_method: Literal["hplus", "arithmetic"] = "hplus",
                   tn_in_lake_class: bool = False, decimals: Mapping[str, int] | None = None,
                   on_invalid: Literal["raise", "missing"] = "raise"):
    """Classes of a Polars frame of ``site, time, waterbody, <indicator>…`` rows.

    Indicator columns are short names or HJ 212 codes (converted to Table 1
    units and renamed to short names). With ``period`` the rows are first
    averaged per site and period (arithmetic means, pH per ``ph_method``;
    ``time`` must be a Date/Datetime column) and ``n`` counts the rows of the
    period; ``period`` holds the period's first day. ``decimals`` optionally
    rounds each indicator's mean half-even before classifying.

    Adds ``class_num`` (0 missing), ``class``, ``grade``, ``grade_en``,
    ``main_pollutants`` and ``class_<indicator>`` columns.
    """
    import polars as pl

    ind_cols: dict[str, str] = {}
    factors: dict[str, float] = {}
    for col in df.columns:
        try:
            key, factor = resolve_indicator(col)
        except KeyError:
            continue
        if key in ind_cols:
            raise ValueError(f"indicator {key!r} given twice: {ind_cols[key]!r} and {col!r}")
        ind_cols[key] = col
        factors[key] = factor
    keys = [k for k in INDICATORS if k in ind_cols]
    exprs = [(pl.col(ind_cols[k]).cast(pl.Float64).fill_nan(None) * factors[k]).alias(k)
             for k in keys]
    rest = [c for c in df.columns if c not in ind_cols.values()]
    work = df.select([pl.col(c) for c in rest] + exprs)
    if period is not None:
        if period not in _PERIOD_TRUNC:
            raise ValueError(f"period must be month, quarter or year, not {period!r}")
        aggs = []
        for k in keys:
            if k == "ph" and ph_method == "hplus":
                aggs.append((-(10.0 ** (-pl.col(k))).mean().log10()).alias(k))
            elif k == "ph" and ph_method != "arithmetic":
                raise ValueError(f"ph_method must be 'hplus' or 'arithmetic', not {ph_method!r}")
            else:
                aggs.append(pl.col(k).mean().alias(k))
        check = work.group_by(site).agg(pl.col(waterbody).n_unique().alias("_nwb"))
        multi = check.filter(pl.col("_nwb") > 1)
        if multi.height:
            raise ValueError(f"site {multi[site][0]!r} has more than one waterbody type")
        work = (work.with_columns(pl.col(time).dt.truncate(_PERIOD_TRUNC[period]).alias("period"))
                .group_by([site, "period"], maintain_order=True)
                .agg([pl.col(waterbody).first(), pl.len().alias("n")] + aggs)
                .sort([site, "period"]))
    if decimals:
        work = work.with_columns([
            pl.Series(k, round_half_even(work[k].to_numpy(), d)) for k, d in decimals.items()
            if k in keys])
    values = {k: work[k].to_numpy() for k in keys}
    wb = work[waterbody].to_numpy() if waterbody in work.columns else None
    res = section_class(values, wb, tn_in_lake_class=tn_in_lake_class, on_invalid=on_invalid)
    n = work.height
    cls = res.class_num if res.class_num.size == n else np.zeros(n, np.int8)
    labels = [CLASS_LABELS[c] or None for c in cls.tolist()]
    grades = [GRADE_ZH[c] or None for c in cls.tolist()]
    grades_en = [GRADE_EN[c] or None for c in cls.tolist()]
    mps = res.main_pollutants.format() if keys else [""] * n
    out = work.with_columns(
        pl.Series("class", labels, dtype=pl.Utf8),
        pl.Series("class_num", cls, dtype=pl.Int8),
        pl.Series("grade", grades, dtype=pl.Utf8),
        pl.Series("grade_en", grades_en, dtype=pl.Utf8),
        pl.Series("main_pollutants", mps, dtype=pl.Utf8),
        *[pl.Series(f"class_{k}", res.by_indicator[k], dtype=pl.Int8) for k in keys],
    )
    return out
