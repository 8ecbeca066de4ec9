"""Ambient air quality limits of GB 3095-2012 and GB 3095-2026 (环境空气质量标准), vectorised.

Three rule sets, chosen per value by its time unless the caller names one:

* ``GB 3095-2012`` — until 2026-02-28.
* ``GB 3095-2026/transitional`` — 2026-03-01 to 2030-12-31 (过渡期限值).
* ``GB 3095-2026/final`` — from 2031-01-01.

Exceedance (超标) is always a comparison with the limit in force: a concentration
*above* the limit exceeds it, one equal to it meets it. Never infer exceedance from an
IAQI: from 2031 an IAQI above 100 no longer means "above Grade Ⅱ".

Grades: 1 = Grade Ⅰ (一级, class-1 areas: nature reserves, scenic areas), 2 = Grade Ⅱ
(二级, all other areas). Units µg/m³, CO mg/m³. Gases at 298.15 K and 1013.25 hPa,
particles at actual conditions (GB 3095-2026; 2012 as amended in 2018) [P].

Example
-------
>>> from gongzhi.standards import gb3095
>>> r = gb3095.exceedance([76, 75, 61], "pm2_5", "24h", grade=2,
...                       times=["2025-06-01", "2025-06-01", "2026-06-01"])
>>> r.exceeds.tolist(), r.limit.tolist()
([True, False, True], [75.0, 75.0, 60.0])
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date
from types import MappingProxyType
from typing import Mapping

import numpy as np

from gongzhi.standards.versions import Edition, edition_by_code, editions_in_force

__all__ = ["EDITIONS", "LIMITS", "POLLUTANTS", "PERIODS", "limit", "exceedance",
           "ExceedanceResult"]

#: Pollutant keys (as in :mod:`gongzhi.standards.hj633` inputs) and averaging periods.
POLLUTANTS = ("so2", "no2", "co", "o3", "pm10", "pm2_5", "nox")
#: ``annual`` 年平均; ``24h`` 24 小时平均; ``8h`` O3 日最大 8 小时平均; ``1h`` 1 小时平均.
PERIODS = ("annual", "24h", "8h", "1h")

# (pollutant, period) → (Grade Ⅰ, Grade Ⅱ). One table per rule set; a correction is one line.

#: GB 3095-2012 Table 1 (basic items) [P]; NOx from Table 2 (other items) [M].
LIMITS_2012: Mapping[tuple[str, str], tuple[float, float]] = MappingProxyType({
    ("so2", "annual"): (20, 60),
    ("so2", "24h"): (50, 150),
    ("so2", "1h"): (150, 500),
    ("no2", "annual"): (40, 40),
    ("no2", "24h"): (80, 80),
    ("no2", "1h"): (200, 200),
    ("co", "24h"): (4, 4),
    ("co", "1h"): (10, 10),
    ("o3", "8h"): (100, 160),
    ("o3", "1h"): (160, 200),
    ("pm10", "annual"): (40, 70),
    ("pm10", "24h"): (50, 150),
    ("pm2_5", "annual"): (15, 35),
    ("pm2_5", "24h"): (35, 75),
    ("nox", "annual"): (50, 50),
    ("nox", "24h"): (100, 100),
    ("nox", "1h"): (250, 250),
})

#: GB 3095-2026 transitional limits, 2026-03-01 … 2030-12-31 [P]. NOx as in standards.md
#: (one value for both grades) [P; grade split not stated there].
LIMITS_2026_TRANSITIONAL: Mapping[tuple[str, str], tuple[float, float]] = MappingProxyType({
    ("so2", "annual"): (20, 60),
    ("so2", "24h"): (50, 150),
    ("so2", "1h"): (150, 500),
    ("no2", "annual"): (40, 40),
    ("no2", "24h"): (80, 80),
    ("no2", "1h"): (200, 200),
    ("co", "24h"): (4, 4),
    ("co", "1h"): (10, 10),
    ("o3", "8h"): (100, 160),
    ("o3", "1h"): (160, 200),
    ("pm10", "annual"): (40, 60),
    ("pm10", "24h"): (50, 120),
    ("pm2_5", "annual"): (15, 30),
    ("pm2_5", "24h"): (35, 60),
    ("nox", "annual"): (50, 50),
    ("nox", "24h"): (100, 100),
    ("nox", "1h"): (250, 250),
})

#: GB 3095-2026 final limits, from 2031-01-01 [P].
LIMITS_2026_FINAL: Mapping[tuple[str, str], tuple[float, float]] = MappingProxyType({
    ("so2", "annual"): (20, 20),
    ("so2", "24h"): (50, 50),
    ("so2", "1h"): (150, 150),
    ("no2", "annual"): (30, 30),
    ("no2", "24h"): (50, 50),
    ("no2", "1h"): (200, 200),
    ("co", "24h"): (4, 4),
    ("co", "1h"): (10, 10),
    ("o3", "8h"): (100, 160),
    ("o3", "1h"): (160, 200),
    ("pm10", "annual"): (20, 50),
    ("pm10", "24h"): (50, 100),
    ("pm2_5", "annual"): (10, 25),
    ("pm2_5", "24h"): (25, 50),
    ("nox", "annual"): (40, 40),
    ("nox", "24h"): (70, 70),
    ("nox", "1h"): (250, 250),
})

#: The rule sets, oldest first (sorted and contiguous for ``editions_in_force``).
EDITIONS: tuple[Edition, ...] = (
    Edition("GB 3095-2012", "环境空气质量标准", date(2016, 1, 1), date(2026, 2, 28), "P",
            ("issued 2012-02-29, nationwide from 2016-01-01 [M]; older data use it too",
             "2018 amendment: gases at actual conditions from 2018-09-01 [S]")),
    Edition("GB 3095-2026/transitional", "环境空气质量标准（过渡期限值）",
            date(2026, 3, 1), date(2030, 12, 31), "P",
            ("transitional limits of GB 3095-2026",)),
    Edition("GB 3095-2026/final", "环境空气质量标准", date(2031, 1, 1), None, "P",
            ("final limits of GB 3095-2026",)),
)

#: Limit table of each edition, in :data:`EDITIONS` order.
LIMITS: tuple[Mapping[tuple[str, str], tuple[float, float]], ...] = (
    LIMITS_2012, LIMITS_2026_TRANSITIONAL, LIMITS_2026_FINAL,
)

_CLAUSES = MappingProxyType({
    "GB 3095-2012": "GB 3095-2012 Table 1 (basic items) [P]; Table 2 NOx [M]",
    "GB 3095-2026/transitional": "GB 3095-2026 limit table, transitional column [P]",
    "GB 3095-2026/final": "GB 3095-2026 limit table, final column [P]",
})


def _edition_indices(n: int, times, edition: str | None) -> np.ndarray:
    if edition is not None:
        if edition.replace(" ", "").upper() == "GB3095-2026":
            if times is None:
                raise ValueError("'GB 3095-2026' has transitional and final limits: give "
                                 "times, or name 'GB 3095-2026/transitional' or "
                                 "'GB 3095-2026/final'")
            idx = editions_in_force(EDITIONS, times)
            return np.maximum(idx, 1).astype(np.int8).reshape(-1)
        return np.full(n, edition_by_code(EDITIONS, edition), dtype=np.int8)
    if times is None:
        raise ValueError("give the values' times or name an edition "
                         f"({', '.join(e.code for e in EDITIONS)})")
    idx = editions_in_force(EDITIONS, times).astype(np.int8).reshape(-1)
    if len(idx) == 1 and n > 1:
        idx = np.full(n, idx[0], dtype=np.int8)
    return idx


def _check(pollutant: str, period: str, grade: int) -> None:
    if pollutant not in POLLUTANTS:
        raise ValueError(f"unknown pollutant {pollutant!r}; known: {', '.join(POLLUTANTS)}")
    if period not in PERIODS:
        raise ValueError(f"unknown period {period!r}; known: {', '.join(PERIODS)}")
    if grade not in (1, 2):
        raise ValueError("grade must be 1 (Grade Ⅰ) or 2 (Grade Ⅱ)")
    if (pollutant, period) not in LIMITS_2012:
        raise ValueError(f"GB 3095 sets no {period} limit for {pollutant}")


def limit(pollutant: str, period: str, *, grade: int = 2, times=None,
          edition: str | None = None) -> np.ndarray:
    """The concentration limit in force (float64 array, one per time).

    Parameters
    ----------
    pollutant : str
        One of :data:`POLLUTANTS` (``"so2"``, ``"pm2_5"``, …).
    period : str
        ``"annual"``, ``"24h"``, ``"8h"`` (O3 daily max 8-h mean) or ``"1h"``.
    grade : {1, 2}
        Grade Ⅰ or Grade Ⅱ (二级, the default for urban areas).
    times : array_like, optional
        Dates or datetimes; picks the rule set in force for each (see module doc).
    edition : str, optional
        ``"GB 3095-2012"``, ``"GB 3095-2026/transitional"``, ``"GB 3095-2026/final"``,
        or ``"GB 3095-2026"`` with ``times`` (transitional or final by time).

    Returns
    -------
    numpy.ndarray
        µg/m³ (CO mg/m³).

    Examples
    --------
    >>> limit("pm2_5", "annual", times=["2025-12-31", "2026-03-01", "2031-01-01"]).tolist()
    [35.0, 30.0, 25.0]
    >>> limit("so2", "24h", grade=1, edition="GB 3095-2012").tolist()
    [50.0]
    """
    _check(pollutant, period, grade)
    n = 1 if times is None else len(np.atleast_1d(np.asarray(times)))
    idx = _edition_indices(n, times, edition)
    table = np.array([t[(pollutant, period)][grade - 1] for t in LIMITS], dtype=np.float64)
    return table[idx]


@dataclass
class ExceedanceResult:
    """Exceedance of a limit, explaining itself (arrays: one entry per value).

    ``exceeds`` is True where the concentration is above the limit and False where it is
    not or is missing (see ``valid``); ``multiple`` is the exceedance multiple
    (超标倍数) (C − L)/L, NaN where the value is missing or does not exceed.
    """

    exceeds: np.ndarray
    limit: np.ndarray
    multiple: np.ndarray
    valid: np.ndarray
    edition_index: np.ndarray
    editions: tuple[Edition, ...]
    metadata: dict = field(default_factory=dict)


def exceedance(concentration, pollutant: str, period: str, *, grade: int = 2, times=None,
               edition: str | None = None) -> ExceedanceResult:
    """Compare concentrations with the GB 3095 limit in force (超标判定).

    Parameters
    ----------
    concentration : array_like
        µg/m³ (CO mg/m³) for the given averaging ``period``; NaN = missing.
    pollutant, period, grade, times, edition
        As in :func:`limit`.

    Returns
    -------
    ExceedanceResult

    Notes
    -----
    A value equal to the limit meets it; only a value above it exceeds (GB 3095 limits
    are upper limits) [P]. The value is compared as given: rounding to the reporting
    precision (HJ 663 / GB/T 8170) is the caller's step [M: HJ 663 rounding details].

    Examples
    --------
    >>> r = exceedance([160, 161, float("nan")], "o3", "8h", edition="GB 3095-2012")
    >>> r.exceeds.tolist(), r.valid.tolist()
    ([False, True, False], [True, True, False])
    >>> round(float(r.multiple[1]), 5)
    0.00625
    """
    c = np.asarray(concentration, dtype=np.float64).reshape(-1)
    lim = limit(pollutant, period, grade=grade, times=times, edition=edition)
    if len(lim) == 1 and len(c) != 1:
        lim = np.full(len(c), lim[0])
    if len(lim) != len(c):
        raise ValueError(f"{len(lim)} times for {len(c)} values")
    idx = _edition_indices(len(c), times, edition)
    valid = ~np.isnan(c)
    with np.errstate(invalid="ignore"):
        exceeds = c > lim
        multiple = np.where(exceeds, (c - lim) / lim, np.nan)
    used = np.flatnonzero(np.bincount(idx, minlength=len(EDITIONS))).tolist()
    return ExceedanceResult(
        exceeds=exceeds, limit=lim, multiple=multiple, valid=valid, edition_index=idx,
        editions=EDITIONS,
        metadata={
            "standard": "GB 3095",
            "pollutant": pollutant, "period": period, "grade": grade,
            "editions_applied": [EDITIONS[i].as_metadata() for i in used],
            "clauses": {EDITIONS[i].code: _CLAUSES[EDITIONS[i].code] for i in used},
            "rule": "exceeds when C > limit; equal meets [P]; never inferred from IAQI",
            "units": "µg/m³; CO mg/m³",
        },
    )
