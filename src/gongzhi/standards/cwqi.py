"""City surface-water quality index CWQI (城市水质指数), 环办监测〔2017〕51号.

《城市地表水环境质量排名技术规定（试行）》 ranks cities by CWQI, the sum of 21
single-indicator indices (the class indicators of 环办〔2011〕22号, i.e. GB 3838-2002
Table 1 minus water temperature, TN and fecal coliforms) computed against the
class Ⅲ limits. Smaller is better.

Rules and confidence (see ``shared/reference/formulas/03_air_composite_index_and_CWQI.md``):

* CWQI(i) = C(i) / C_Ⅲ(i); TP uses 0.05 mg/L for lake/reservoir points and 0.2 mg/L
  for river sections [S].
* CWQI(DO) = C_Ⅲ(DO) / C(DO) with C_Ⅲ(DO) = 5 mg/L [S].
* CWQI(pH) = (7.0 − pH)/(7.0 − 6) if pH ≤ 7, else (pH − 7.0)/(9 − 7.0) [S].
* Concentrations are first averaged over the period and over the city's sections,
  then indexed and summed [S].
* City index when the city has both river sections and lake points:
  (CWQI_river·n_river + CWQI_lake·n_lake)/(n_river + n_lake) [M].
* ΔCWQI = (CWQI − CWQI_base)/CWQI_base × 100 % [S]; rank ascending, equal values tied [S].

The class Ⅲ limits come from :data:`gongzhi.standards.gb3838.INDICATORS`, so a
correction of GB 3838's table corrects CWQI too.

Example (formulas/03, "own numbers", seven indicators):

>>> r = cwqi({"ph": 7.6, "do": 6.5, "codmn": 4.2, "cod": 16, "bod5": 3.0,
...           "nh3_n": 0.45, "tp": 0.12}, "river")
>>> round(float(r.total[0]), 2)
4.37
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import date

import numpy as np

from gongzhi.standards import gb3838
from gongzhi.standards.versions import Edition

__all__ = [
    "EDITION",
    "PH_NEUTRAL",
    "CWQI_INDICATORS",
    "indicator_index",
    "cwqi",
    "CWQIResult",
    "city_cwqi",
    "change_rate",
    "rank",
]

EDITION = Edition(
    code="环办监测〔2017〕51号",
    title="城市地表水环境质量排名技术规定（试行） City surface-water quality ranking (trial)",
    effective=date(2017, 6, 1),
    confidence="S",
    notes=("Issued about June 2017; the exact day is not in our references [M].",
           "Formulas from secondary sources and two code implementations [S]; the city "
           "weighting of rivers and lakes is [M]."),
)

PH_NEUTRAL = 7.0
"""pH of index 0; the index reaches 1 at the class Ⅲ range ends 6 and 9 [S]."""

CWQI_INDICATORS: tuple[str, ...] = gb3838.CLASS_INDICATORS
"""The 21 indicators summed (same as the 2011 class indicators) [S]."""


def indicator_index(indicator: str, values, waterbody=None) -> np.ndarray:
    """CWQI(i) of one indicator (dimensionless), any shape; NaN stays NaN.

    ``values`` in GB 3838 units (mg/L; pH dimensionless); ``indicator`` a short
    name or HJ 212 code (converted from the code's unit). ``waterbody`` matters for
    TP only (lake/reservoir → 0.05 mg/L class Ⅲ limit). DO of 0 gives +inf.

    >>> round(float(indicator_index("ph", 7.6)), 6)
    0.3
    >>> float(indicator_index("tp", 0.05, "lake"))
    1.0
    """
    key, factor = gb3838.resolve_indicator(indicator)
    if key not in CWQI_INDICATORS:
        raise ValueError(f"{key!r} is not a CWQI indicator")
    ind = gb3838.INDICATORS[key]
    v = np.asarray(values, dtype=np.float64) * factor
    with np.errstate(divide="ignore", invalid="ignore"):
        if key == "ph":
            lo, hi = gb3838.PH_RANGE
            out = np.where(v <= PH_NEUTRAL, (PH_NEUTRAL - v) / (PH_NEUTRAL - lo),
                           (v - PH_NEUTRAL) / (hi - PH_NEUTRAL))
        elif key == "do":
            out = ind.class3_limit() / v
        else:
            c3 = ind.class3_limit(False)
            if ind.lake_limits is not None and waterbody is not None:
                c3 = np.where(gb3838.is_lake(waterbody), ind.class3_limit(True), c3)
            out = v / c3
    return out if np.ndim(out) else np.float64(out)


@dataclass
class CWQIResult:
    """``total`` (n,) sums over the indicators present; ``indices`` per indicator;
    ``n_indicators`` how many indicators had a value in each row (a total over
    fewer than 21 indicators is not comparable with a full one)."""

    total: np.ndarray
    indices: dict[str, np.ndarray]
    n_indicators: np.ndarray


def cwqi(values: Mapping[str, object], waterbody=None) -> CWQIResult:
    """CWQI = Σ CWQI(i) over the indicators given, per row (NaN indicators skipped).

    ``values`` maps indicator → concentration (scalar or array of n rows), which
    should already be the period/section means (see :func:`city_cwqi`).
    """
    idx: dict[str, np.ndarray] = {}
    for name, v in values.items():
        key, _ = gb3838.resolve_indicator(name)
        if key in idx:
            raise ValueError(f"indicator {key!r} given twice")
        if key not in CWQI_INDICATORS:
            continue  # TN, fecal coliforms: not in CWQI
        idx[key] = np.atleast_1d(indicator_index(name, v, waterbody))
    if not idx:
        raise ValueError("no CWQI indicator given")
    stack = np.broadcast_arrays(*idx.values())
    m = np.stack(stack, axis=0)
    total = np.nansum(m, axis=0)
    count = np.count_nonzero(~np.isnan(m), axis=0)
    total = np.where(count > 0, total, np.nan)
    return CWQIResult(total, {k: np.broadcast_to(v, total.shape) for k, v in idx.items()}, count)


def city_cwqi(river_sections: Mapping[str, object] | None = None,
              lake_points: Mapping[str, object] | None = None) -> dict:
    """A city's CWQI from its river sections and lake/reservoir points.

    Each mapping is indicator → array of values over the sections (or points) —
    period means per section, or all the period's samples of all sections: the
    concentrations are averaged over the array (pH through
    :func:`gongzhi.standards.gb3838.ph_mean` default; NaN ignored) before indexing
    [S]. The number of sections is the length of the longest array. The city
    index weights the river and lake indices by their section counts [M].

    Returns ``{"cwqi", "river", "lake", "n_river", "n_lake"}``.
    """
    parts = {}
    for name, vals, wb in (("river", river_sections, "river"), ("lake", lake_points, "lake")):
        if not vals:
            parts[name] = (np.nan, 0)
            continue
        n = max(np.size(v) for v in vals.values())
        means = {k: gb3838.period_mean(k, np.asarray(v, dtype=np.float64)) for k, v in vals.items()}
        parts[name] = (float(cwqi(means, wb).total[0]), int(n))
    (r, nr), (lk, nl) = parts["river"], parts["lake"]
    if nr + nl == 0:
        raise ValueError("no sections")
    total = ((r * nr if nr else 0.0) + (lk * nl if nl else 0.0)) / (nr + nl)
    return {"cwqi": total, "river": r, "lake": lk, "n_river": nr, "n_lake": nl}


def change_rate(current, base) -> np.ndarray:
    """ΔCWQI in percent: (CWQI − CWQI_base)/CWQI_base × 100; negative = improved [S]."""
    c = np.asarray(current, dtype=np.float64)
    b = np.asarray(base, dtype=np.float64)
    out = (c - b) / b * 100.0
    return out if out.ndim else np.float64(out)


def rank(values: Sequence[float], *, decimals: int | None = None) -> np.ndarray:
    """Rank ascending (1 = best); equal values share the best rank (1, 2, 2, 4) [S].

    ``decimals`` optionally rounds half-even first, so that indices equal to the
    published digits tie. NaN values get rank 0 (not ranked).

    >>> rank([3.2, 2.9, 3.2, 4.0]).tolist()
    [2, 1, 2, 4]
    """
    v = np.asarray(values, dtype=np.float64)
    if decimals is not None:
        v = gb3838.round_half_even(v, decimals)
    out = np.zeros(v.shape, dtype=np.int64)
    ok = ~np.isnan(v)
    vv = v[ok]
    sorted_v = np.sort(vv)
    out[ok] = np.searchsorted(sorted_v, vv, side="left") + 1
    return out
