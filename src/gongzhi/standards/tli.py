"""Comprehensive trophic level index TLI(Σ) of lakes and reservoirs (综合营养状态指数).

《湖泊（水库）富营养化评价方法及分级技术规定》 (中国环境监测总站, 总站生字〔2001〕090号),
re-issued with 环办〔2011〕22号 [P] (``shared/reference/formulas/04_TLI_trophic_index.md``):

    TLI(Σ) = Σ_j W_j · TLI(j),   W_j = r_ij² / Σ_j r_ij²

with r_ij the correlation of parameter j with chlorophyll a (金相灿《中国湖泊环境》,
26 Chinese lakes). With fewer than five parameters the weights are renormalised over
the m available ones (the formula's m).

Single-parameter indices (ln natural log):

========  ================================  ==========
param     TLI(j)                            unit
========  ================================  ==========
chla      10 (2.5 + 1.086 ln chla)          mg/m³ (= µg/L)
tp        10 (9.436 + 1.624 ln TP)          mg/L
tn        10 (5.453 + 1.694 ln TN)          mg/L
sd        10 (5.118 − 1.94 ln SD)           m
codmn     10 (0.109 + 2.661 ln CODMn)       mg/L
========  ================================  ==========

Grades: < 30 贫营养; 30–50 中营养; > 50 富营养 (50–60 轻度, 60–70 中度, > 70 重度).
Boundary inclusivity [M]: the copies we have lose the ≤/< signs; we use
TLI < 30 oligotrophic, 30 ≤ TLI ≤ 50 mesotrophic, 50 < TLI ≤ 60 light,
60 < TLI ≤ 70 middle, TLI > 70 hyper — the reading of formulas/04. It is one
table (:data:`GRADES`) so a correction is a one-line change.

Example (formulas/04 worked example):

>>> r = tli({"chla": 10, "tp": 0.05, "tn": 1.0, "sd": 1.0, "codmn": 4.0})
>>> round(float(r.total[0]), 1), r.grade_zh[0]
(48.0, '中营养')
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from typing import Literal, Mapping

import numpy as np

from gongzhi.standards.versions import Edition

__all__ = [
    "EDITION",
    "PARAMETERS",
    "CORRELATION",
    "WEIGHTS",
    "GRADES",
    "single_index",
    "tli",
    "TLIResult",
    "grade",
]

EDITION = Edition(
    code="总站生字〔2001〕090号",
    title="湖泊（水库）富营养化评价方法及分级技术规定 Lake/reservoir eutrophication assessment",
    effective=date(2001, 1, 1),
    confidence="P",
    notes=("Formula, correlations and coefficients [P]; the day of issue is not in our "
           "references (1 January stands for 2001) [M]; grade boundary inclusivity [M].",),
)

# param: (a, b, unit) with TLI(j) = 10 (a + b ln C)
PARAMETERS: dict[str, tuple[float, float, str]] = {
    "chla": (2.5, 1.086, "mg/m3"),
    "tp": (9.436, 1.624, "mg/L"),
    "tn": (5.453, 1.694, "mg/L"),
    "sd": (5.118, -1.94, "m"),
    "codmn": (0.109, 2.661, "mg/L"),
}
"""TLI(j) = 10·(a + b·ln C): coefficients (a, b) and the unit of C [P]."""

CORRELATION: dict[str, float] = {"chla": 1.0, "tp": 0.84, "tn": 0.82, "sd": -0.83, "codmn": 0.83}
"""r_ij, correlation of each parameter with chla [P]."""

WEIGHTS: dict[str, float] = {
    k: r * r / sum(x * x for x in CORRELATION.values()) for k, r in CORRELATION.items()
}
"""W_j for all five parameters (chla 0.2663, TP 0.1879, TN 0.1790, SD 0.1834, CODMn 0.1834)."""

# (upper bound, upper bound inclusive?, code, zh, en) in ascending order; last has no bound.
GRADES: tuple[tuple[float, bool, int, str, str], ...] = (
    (30.0, False, 1, "贫营养", "oligotrophic"),          # TLI < 30
    (50.0, True, 2, "中营养", "mesotrophic"),            # 30 ≤ TLI ≤ 50
    (60.0, True, 3, "轻度富营养", "light eutrophic"),     # 50 < TLI ≤ 60
    (70.0, True, 4, "中度富营养", "middle eutrophic"),    # 60 < TLI ≤ 70
    (np.inf, True, 5, "重度富营养", "hyper eutrophic"),   # TLI > 70
)
"""Trophic grades (code 0 = missing). Boundary inclusivity [M]; see module doc."""

_ZH = ("",) + tuple(g[3] for g in GRADES)
_EN = ("",) + tuple(g[4] for g in GRADES)


def single_index(parameter: str, values, *,
                 on_invalid: Literal["raise", "missing"] = "raise") -> np.ndarray:
    """TLI(j) of one parameter, vectorised; NaN stays NaN.

    Values must be > 0 (the logarithm): zero or negative raises ValueError naming
    the position, or gives NaN with ``on_invalid="missing"``.

    >>> round(float(single_index("chla", 10.0)), 2)
    50.01
    """
    if parameter not in PARAMETERS:
        raise KeyError(f"unknown TLI parameter {parameter!r}; known: {', '.join(PARAMETERS)}")
    a, b, _ = PARAMETERS[parameter]
    v = np.asarray(values, dtype=np.float64)
    bad = (v <= 0) | np.isinf(v)
    if bad.any():
        if on_invalid == "raise":
            pos = int(np.flatnonzero(bad.ravel())[0])
            raise ValueError(f"{parameter}: value must be positive and finite, "
                             f"got {float(v.ravel()[pos])!r} at position {pos}")
        v = np.where(bad, np.nan, v)
    out = 10.0 * (a + b * np.log(v))
    return out if out.ndim else np.float64(out)


def grade(tli_values) -> np.ndarray:
    """Trophic grade code 1 (贫营养) … 5 (重度富营养); 0 for NaN.

    >>> grade([29.99, 30, 50, 50.01, 60, 70, 70.01]).tolist()
    [1, 2, 2, 3, 3, 4, 5]
    """
    t = np.asarray(tli_values, dtype=np.float64)
    out = np.full(t.shape, 5, dtype=np.int8)
    # walk from the top grade down so that each lower bound overwrites
    for bound, inclusive, code, _, _ in reversed(GRADES[:-1]):
        below = (t <= bound) if inclusive else (t < bound)
        out[below] = code
    out[np.isnan(t)] = 0
    return out


@dataclass
class TLIResult:
    """``total`` TLI(Σ) per row; ``indices`` TLI(j); ``weights`` the weights used per
    row (renormalised over the parameters available in that row); ``grade`` codes."""

    total: np.ndarray
    indices: dict[str, np.ndarray]
    weights: dict[str, np.ndarray]
    grade: np.ndarray

    @property
    def grade_zh(self) -> np.ndarray:
        return np.array(_ZH, dtype=object)[self.grade.astype(np.intp)]

    @property
    def grade_en(self) -> np.ndarray:
        return np.array(_EN, dtype=object)[self.grade.astype(np.intp)]


def tli(values: Mapping[str, object], *, min_parameters: int = 1,
        on_invalid: Literal["raise", "missing"] = "raise") -> TLIResult:
    """TLI(Σ) of lake/reservoir rows from chla, TP, TN, SD, CODMn (any subset).

    ``values`` maps parameter → scalar or array (units in :data:`PARAMETERS`).
    Missing (NaN) parameters are left out row by row and the weights of the rest
    renormalised to sum 1 (the formula's m). Rows with fewer than
    ``min_parameters`` values get NaN.
    """
    names = [k for k in PARAMETERS if k in values]
    unknown = set(values) - set(PARAMETERS)
    if unknown:
        raise KeyError(f"unknown TLI parameter(s) {sorted(unknown)}; "
                       f"known: {', '.join(PARAMETERS)}")
    if not names:
        raise ValueError("no TLI parameter given")
    idx = {k: np.atleast_1d(single_index(k, values[k], on_invalid=on_invalid)) for k in names}
    arrays = np.broadcast_arrays(*idx.values())
    m = np.stack(arrays, axis=0)
    w = np.array([WEIGHTS[k] for k in names])[:, None] * ~np.isnan(m)
    wsum = w.sum(axis=0)
    with np.errstate(invalid="ignore", divide="ignore"):
        wn = w / wsum
        total = np.nansum(np.nan_to_num(m) * wn, axis=0)
    count = np.count_nonzero(~np.isnan(m), axis=0)
    total = np.where((count >= max(1, min_parameters)) & (wsum > 0), total, np.nan)
    return TLIResult(total, dict(zip(names, arrays)), dict(zip(names, wn)), grade(total))
