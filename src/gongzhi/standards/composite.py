"""City ambient-air composite index (环境空气质量综合指数), vectorised over cities.

Source: 《城市环境空气质量排名技术规定》 (MEP 2014; revised 环办监测〔2018〕19号 [M: number])
[S: provincial notes and a worked example, see ``shared/reference/formulas/03_…``].

    I_i = C_i / S_i,    I_sum = Σ I_i over SO2, NO2, PM10, PM2.5, CO, O3 (unweighted)

C_i is the period statistic (means for SO2, NO2, PM10, PM2.5; the 95th percentile of
daily CO means; the 90th percentile of daily max 8-h O3), S_i the GB 3095-2012 Grade Ⅱ
limit in :data:`DENOMINATORS`. The primary pollutant has the largest I_i. Cities rank
ascending (smaller = better), equal indices share a rank (并列: 1, 1, 3). Change rate
= (I − I_last) / I_last.

Example (the published worked example, = 3.06, primary pollutant O3):

>>> from gongzhi.standards import composite
>>> r = composite.composite_index(so2=9, no2=15, pm10=39, pm2_5=21, co=0.7, o3=192)
>>> float(composite.round_index(r.i_sum)[0]), r.primary_pollutant()[0]
(3.06, 'o3')
"""

from __future__ import annotations

from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Mapping

import numpy as np

__all__ = ["DENOMINATORS", "STATISTICS", "CompositeResult", "composite_index", "rank",
           "change_rate", "round_index"]

#: S_i: GB 3095-2012 Grade Ⅱ limits the regulation divides by [S]. µg/m³, CO mg/m³.
#: (The regulation names GB 3095-2012; whether a revision adopts GB 3095-2026 limits is
#: not verified — pass ``denominators=`` to override.)
DENOMINATORS: Mapping[str, float] = MappingProxyType({
    "so2": 60.0,    # annual, Grade Ⅱ
    "no2": 40.0,    # annual
    "pm10": 70.0,   # annual
    "pm2_5": 35.0,  # annual
    "co": 4.0,      # 24-h
    "o3": 160.0,    # 8-h
})

#: Which period statistic C_i each pollutant uses [S].
STATISTICS: Mapping[str, str] = MappingProxyType({
    "so2": "period mean of daily values",
    "no2": "period mean of daily values",
    "pm10": "period mean of daily values",
    "pm2_5": "period mean of daily values",
    "co": "95th percentile of daily 24-h means (HJ 663 percentile)",
    "o3": "90th percentile of daily max 8-h means (HJ 663 percentile)",
})

_ORDER = ("so2", "no2", "pm10", "pm2_5", "co", "o3")


@dataclass
class CompositeResult:
    """Composite index per city (arrays, one entry per city)."""

    i_sum: np.ndarray
    i: dict[str, np.ndarray]
    metadata: dict = field(default_factory=dict)

    def primary_pollutant(self) -> list[str]:
        """Key of the largest I_i per city (ties: all, comma-separated; '' if none)."""
        stacked = np.stack([self.i[k] for k in _ORDER], axis=1)
        out = []
        for row in stacked:
            if np.isnan(row).all():
                out.append("")
                continue
            mx = np.nanmax(row)
            out.append(",".join(k for k, v in zip(_ORDER, row) if v == mx))
        return out


def composite_index(*, so2, no2, pm10, pm2_5, co, o3,
                    denominators: Mapping[str, float] | None = None) -> CompositeResult:
    """Composite index I_sum and the single indices I_i.

    Parameters
    ----------
    so2, no2, pm10, pm2_5 : array_like
        Period means, µg/m³.
    co : array_like
        95th percentile of daily CO means, mg/m³.
    o3 : array_like
        90th percentile of daily max 8-h O3 means, µg/m³.
    denominators : mapping, optional
        Override of :data:`DENOMINATORS`.

    Returns
    -------
    CompositeResult
        ``i_sum`` NaN where any statistic is missing (an index over fewer than six
        pollutants is not comparable).

    Examples
    --------
    >>> r = composite_index(so2=[9, 10], no2=[15, 40], pm10=[39, 70], pm2_5=[21, 35],
    ...                     co=[0.7, 4], o3=[192, 160])
    >>> np.round(r.i_sum, 3).tolist()
    [3.057, 5.167]
    """
    den = dict(DENOMINATORS if denominators is None else denominators)
    vals = dict(so2=so2, no2=no2, pm10=pm10, pm2_5=pm2_5, co=co, o3=o3)
    i = {k: np.asarray(vals[k], dtype=np.float64).reshape(-1) / den[k] for k in _ORDER}
    total = np.zeros(np.broadcast_shapes(*(v.shape for v in i.values())))
    for k in _ORDER:
        total = total + i[k]
    return CompositeResult(total, i, {
        "method": "城市环境空气质量排名技术规定: I_sum = Σ C_i/S_i, unweighted [S]",
        "denominators": den,
        "statistics": dict(STATISTICS),
    })


def round_index(values, decimals: int = 2) -> np.ndarray:
    """Round an index for publication, GB/T 8170 (half to even, decimal-faithful).

    >>> round_index([3.057, 3.065, 3.075]).tolist()
    [3.06, 3.06, 3.08]
    """
    from gongzhi.standards.hj633 import round_gbt8170

    return round_gbt8170(values, decimals)


def rank(values, *, decimals: int | None = 2) -> np.ndarray:
    """Rank ascending (1 = best); equal values share the rank (competition: 1, 1, 3).

    Parameters
    ----------
    values : array_like
        Composite indices (or change rates).
    decimals : int or None
        Values are compared after rounding to this many decimals (as published), so
        3.061 and 3.059 tie at 3.06; ``None`` compares the raw values.

    Returns
    -------
    numpy.ndarray of int64
        Ranks; 0 for NaN (not ranked).

    Examples
    --------
    >>> rank([3.06, 2.5, 3.06, 4.1]).tolist()
    [2, 1, 2, 4]
    >>> rank([1.0, float("nan"), 1.0]).tolist()
    [1, 0, 1]
    """
    v = np.asarray(values, dtype=np.float64).reshape(-1)
    if decimals is not None:
        v = round_index(v, decimals)
    out = np.zeros(len(v), dtype=np.int64)
    ok = ~np.isnan(v)
    w = v[ok]
    # competition rank: 1 + number of values strictly smaller
    out[ok] = np.searchsorted(np.sort(w), w, side="left") + 1
    return out


def change_rate(current, previous) -> np.ndarray:
    """Change rate (I − I_last) / I_last as a fraction (× 100 for %); > 0 worse.

    >>> change_rate([3.3, 2.7], [3.0, 3.0]).round(3).tolist()
    [0.1, -0.1]
    """
    c = np.asarray(current, dtype=np.float64)
    p = np.asarray(previous, dtype=np.float64)
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(p > 0, (c - p) / p, np.nan)
