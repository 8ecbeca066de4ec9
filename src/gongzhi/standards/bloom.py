"""Cyanobacteria bloom grades (蓝藻水华程度), HJ 1098-2020.

HJ 1098-2020 《水华遥感与地面监测评价技术规范（试行）》 (effective 2020-04-12) grades a
monitoring point's bloom degree by algal (cyanobacteria) density [S]
(``shared/reference/formulas/06_cyanobacteria_bloom_grades.md``):

=====  ===============================  ============  ==================
level  algal density D (cells/L)        中文           English
=====  ===============================  ============  ==================
Ⅰ      D < 2.0×10⁶                      无水华         no bloom
Ⅱ      2.0×10⁶ ≤ D < 1.0×10⁷            无明显水华     no obvious bloom
Ⅲ      1.0×10⁷ ≤ D < 5.0×10⁷            轻度水华       light bloom
Ⅳ      5.0×10⁷ ≤ D < 1.0×10⁸            中度水华       moderate bloom
Ⅴ      D ≥ 1.0×10⁸                      重度水华       severe bloom
=====  ===============================  ============  ==================

Lower bounds are inclusive ("大于(含)") [S].

Chlorophyll a: where a chl-a grade and a density grade disagree, the higher grade
applies [S, DB44/T 2261-2020]. **The chl-a breakpoints are not in our references**,
so there is no default chl-a table: pass ``chla_breaks`` (four ascending lower
bounds in µg/L for levels Ⅱ–Ⅴ) from the text you apply, or grade by density only.

Whole water body (DB44/T 2261-2020, DB5301/T 56-2021, both restating the scheme)
[S]: if more than 95 % of points are level Ⅰ → Ⅰ; else if at least 75 % of points
share one level → that level; else the level of the mean density.

Units: 1 万个/L = 1×10⁴ cells/L; chl-a µg/L = mg/m³.

>>> bloom_level([1.9e6, 2e6, 1e7, 5e7, 1e8]).tolist()
[1, 2, 3, 4, 5]
"""

from __future__ import annotations

from datetime import date
from typing import Literal, Sequence

import numpy as np

from gongzhi.standards.versions import Edition

__all__ = [
    "EDITION",
    "DENSITY_BREAKS",
    "LEVEL_LABELS",
    "NAMES_ZH",
    "NAMES_EN",
    "WATERBODY_RULE",
    "WUJIANG_2020_MAJOR",
    "bloom_level",
    "waterbody_level",
    "wujiang_major_event",
]

EDITION = Edition(
    code="HJ 1098-2020",
    title="水华遥感与地面监测评价技术规范（试行） Remote-sensing and ground monitoring of blooms",
    effective=date(2020, 4, 12),
    confidence="S",
    notes=("Density table from a secondary copy (Kunming government PDF) [S].",
           "Chl-a grade breakpoints not retrieved: no default."),
)

DENSITY_BREAKS = (2.0e6, 1.0e7, 5.0e7, 1.0e8)
"""Inclusive lower bounds (cells/L) of levels Ⅱ, Ⅲ, Ⅳ, Ⅴ [S]."""

LEVEL_LABELS = ("", "Ⅰ", "Ⅱ", "Ⅲ", "Ⅳ", "Ⅴ")
NAMES_ZH = ("", "无水华", "无明显水华", "轻度水华", "中度水华", "重度水华")
NAMES_EN = ("", "no bloom", "no obvious bloom", "light bloom", "moderate bloom", "severe bloom")

WATERBODY_RULE = {"none_share": 95.0, "one_level_share": 75.0}
"""Whole-water-body rule (percent of points): > 95 % level Ⅰ → Ⅰ; ≥ 75 % in one level → it [S]."""

WUJIANG_2020_MAJOR = {
    "area_share": 60.0,           # % of the lake surface in bloom, and …
    "bloom_density": 8.0e7,       # … mean density in the bloom area ≥ 8000万个/L
    "bloom_chla": 80.0,           # … or mean chl-a ≥ 80 µg/L
    "source_density": 6.0e7,      # first-level source protection zone ≥ 6000万个/L
    "source_chla": 60.0,          # … or chl-a ≥ 60 µg/L
}
"""重大 (major) event thresholds, 苏州市吴江区太湖蓝藻暴发应急预案 (2020-05-11) [P], criteria 1 and 3."""


def _level_from_breaks(v: np.ndarray, breaks: Sequence[float]) -> np.ndarray:
    out = np.ones(v.shape, dtype=np.int8)
    for b in breaks:
        out += v >= b
    out[np.isnan(v)] = 0
    return out


def _check(name: str, v: np.ndarray, on_invalid: str) -> np.ndarray:
    bad = (v < 0) | np.isinf(v)
    if bad.any():
        if on_invalid == "raise":
            pos = int(np.flatnonzero(bad.ravel())[0])
            raise ValueError(f"{name}: negative or infinite value "
                             f"{float(v.ravel()[pos])!r} at position {pos}")
        v = np.where(bad, np.nan, v)
    return v


def bloom_level(density=None, chla=None, *, chla_breaks: Sequence[float] | None = None,
                on_invalid: Literal["raise", "missing"] = "raise") -> np.ndarray:
    """Bloom level 1 (Ⅰ 无水华) … 5 (Ⅴ 重度水华) per point; 0 where there is no data.

    Parameters
    ----------
    density
        Cyanobacteria density, cells/L (scalar or array).
    chla
        Chlorophyll a, µg/L, graded with ``chla_breaks`` (required with chl-a:
        four ascending inclusive lower bounds of levels Ⅱ–Ⅴ; none is shipped
        because the breakpoints are not verified).
    Where both grades exist the higher one applies; where one is missing the
    other is used.

    >>> bloom_level([1e6, 1e6], chla=[5.0, 50.0], chla_breaks=(10, 20, 40, 80)).tolist()
    [1, 4]
    """
    if density is None and chla is None:
        raise ValueError("give density and/or chla")
    levels = []
    if density is not None:
        d = _check("density", np.asarray(density, dtype=np.float64), on_invalid)
        levels.append(_level_from_breaks(d, DENSITY_BREAKS))
    if chla is not None:
        if chla_breaks is None:
            raise ValueError("chl-a grading needs chla_breaks: HJ 1098-2020 chl-a breakpoints "
                             "are not in the platform's verified tables")
        cb = tuple(float(x) for x in chla_breaks)
        if len(cb) != 4 or any(b2 <= b1 for b1, b2 in zip(cb, cb[1:])):
            raise ValueError("chla_breaks must be four ascending lower bounds (levels Ⅱ–Ⅴ)")
        c = _check("chla", np.asarray(chla, dtype=np.float64), on_invalid)
        levels.append(_level_from_breaks(c, cb))
    out = levels[0]
    for lv in levels[1:]:
        out = np.maximum(*np.broadcast_arrays(out, lv)).astype(np.int8)
    return out


def waterbody_level(density, *, on_invalid: Literal["raise", "missing"] = "raise") -> int:
    """Bloom level of a whole water body from its points' densities (cells/L) [S].

    > 95 % of points level Ⅰ → Ⅰ; else ≥ 75 % of points in one level → that level;
    else the level of the mean density. NaN points are left out; 0 if none is left.

    >>> waterbody_level([1e6] * 19 + [3e7])   # 95 % is not "more than 95 %"
    1
    """
    d = _check("density", np.asarray(density, dtype=np.float64).ravel(), on_invalid)
    d = d[~np.isnan(d)]
    n = d.size
    if n == 0:
        return 0
    lv = _level_from_breaks(d, DENSITY_BREAKS)
    counts = np.bincount(lv, minlength=6)
    # exact integer comparisons: 100·count vs share·n
    if 100 * counts[1] > WATERBODY_RULE["none_share"] * n:
        return 1
    top = int(np.argmax(counts[1:])) + 1
    if 100 * counts[top] >= WATERBODY_RULE["one_level_share"] * n:
        return top
    return int(_level_from_breaks(np.array([d.mean()]), DENSITY_BREAKS)[0])


def wujiang_major_event(*, bloom_area_share: float | None = None,
                        bloom_density: float | None = None, bloom_chla: float | None = None,
                        source_density: float | None = None,
                        source_chla: float | None = None) -> bool:
    """True if criterion 1 or 3 of the Wujiang 2020 plan's 重大 event is met [P].

    1. bloom area ≥ 60 % of the lake AND (mean density in it ≥ 8×10⁷ cells/L OR
       mean chl-a ≥ 80 µg/L);
    3. first-level drinking-water source zone mean density ≥ 6×10⁷ cells/L OR mean
       chl-a ≥ 60 µg/L.
    Criteria 2 (black-odorous water) and 4 (supply loss) are not measurements here.
    """
    t = WUJIANG_2020_MAJOR

    def ge(x, lim):
        return x is not None and not np.isnan(x) and x >= lim

    c1 = ge(bloom_area_share, t["area_share"]) and (ge(bloom_density, t["bloom_density"])
                                                    or ge(bloom_chla, t["bloom_chla"]))
    c3 = ge(source_density, t["source_density"]) or ge(source_chla, t["source_chla"])
    return bool(c1 or c3)
