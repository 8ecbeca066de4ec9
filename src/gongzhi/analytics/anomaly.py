"""Anomaly detectors per series (异常检测), vectorised over NumPy arrays.

Each detector takes ``times`` (epoch seconds or datetime64), ``values`` (one parameter, in its
unit, NaN = missing) and optionally a learned :class:`~gongzhi.analytics.baseline.Baseline`
(fitted on the same data when not given), and returns a list of :class:`Anomaly`, each carrying
its evidence: what was expected (value and band), what came, which test fired with its statistic
and threshold. The verdict (FAULT / EVENT / UNCERTAIN) is set by
:func:`gongzhi.analytics.verdict.assess`; the tests that alone prove an instrument problem
(out of range, flat line, device flag, impossible pair) set it here already.

Tests: ``spike``, ``flat``, ``drift``, ``step``, ``excursion``, ``range``, ``flag`` and the
cross-parameter ``subset`` and ``do_saturation`` checks. docs/analytics.md gives the method and
the default thresholds of each.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, field, replace
from typing import Any, Mapping, Sequence

import numpy as np
from numpy.lib.stride_tricks import sliding_window_view

from gongzhi.analytics.baseline import Baseline, fit_baseline
from gongzhi.analytics.series import MAD_TO_SIGMA, Grid, as_seconds, nanmedian_rows, regular, rolling_nanmedian, runs

__all__ = [
    "FAULT", "EVENT", "UNCERTAIN", "Anomaly", "Prepared", "prepare",
    "detect_spikes", "detect_flat", "detect_drift", "detect_steps", "detect_excursions", "detect_out_of_range",
    "detect_flags", "check_subset", "check_do_saturation", "do_saturation", "rolling_robust_z", "FLAG_VERDICTS",
]

FAULT = "FAULT"
EVENT = "EVENT"
UNCERTAIN = "UNCERTAIN"


def json_safe(v):
    """``v`` with NaN / ±inf floats replaced by ``None`` and NumPy scalars by Python ones, recursively."""
    if isinstance(v, dict):
        return {k: json_safe(x) for k, x in v.items()}
    if isinstance(v, (list, tuple)):
        return [json_safe(x) for x in v]
    if isinstance(v, np.generic):
        v = v.item()
    if isinstance(v, float) and not math.isfinite(v):
        return None
    return v


@dataclass(frozen=True)
class Anomaly:
    """One anomaly and its evidence.

    ``start_s``/``end_s`` are the first and last affected sample times (epoch seconds, inclusive),
    ``peak_s`` the time of the strongest sample; ``observed`` the value there, ``expected`` the
    reference value there and ``band`` the ``(low, high)`` range the value was expected in;
    ``statistic`` (named by ``statistic_name``) crossed ``threshold``; ``verdict`` is FAULT (the
    instrument, not the water), EVENT (the water really changed) or UNCERTAIN, with ``reasons``.
    ``details`` carries test-specific numbers (all JSON-friendly)."""

    test: str
    parameter: str
    start_s: float
    end_s: float
    peak_s: float
    observed: float
    expected: float
    band: tuple[float, float]
    statistic: float
    statistic_name: str
    threshold: float
    n_points: int
    verdict: str = UNCERTAIN
    reasons: tuple[str, ...] = ()
    details: Mapping[str, Any] = field(default_factory=dict)

    def with_verdict(self, verdict: str, *reasons: str, **details: Any) -> "Anomaly":
        return replace(self, verdict=verdict, reasons=self.reasons + tuple(reasons),
                       details={**self.details, **details})

    def overlaps(self, start_s: float, end_s: float) -> bool:
        return self.start_s <= end_s and start_s <= self.end_s

    def to_dict(self) -> dict:
        """Plain JSON types; NaN and infinities become ``None`` (JSON has no NaN)."""
        d = asdict(self)
        d["band"] = list(self.band)
        d["reasons"] = list(self.reasons)
        d["details"] = dict(self.details)
        return json_safe(d)


@dataclass(frozen=True)
class Prepared:
    """A series on its grid with the baseline applied (shared by the detectors of one series)."""

    parameter: str
    grid: Grid
    x: np.ndarray
    baseline: Baseline
    expected: np.ndarray
    scale: np.ndarray
    z: np.ndarray
    level: np.ndarray
    profile: np.ndarray


def prepare(times, values, *, baseline: Baseline | None = None, parameter: str = "",
            step_s: float | None = None) -> Prepared:
    """Grid the series and apply the baseline (fitted on these values when ``baseline`` is None)."""
    if isinstance(times, Prepared):
        return times
    grid, x = regular(times, values, step_s=step_s or (baseline.step_s if baseline else None))
    if baseline is None:
        baseline = fit_baseline(grid.times, x, step_s=grid.step)
    a = baseline.apply(grid, x)
    return Prepared(parameter, grid, x, baseline, a["expected"], a["scale"], a["z"], a["level"], a["profile"])


def _f(v) -> float:
    return float(v) if v is not None and np.isfinite(v) else float("nan")


def _anomaly(p: Prepared, test: str, i0: int, i1: int, ipeak: int, *, observed, expected, half_band, statistic,
             statistic_name: str, threshold: float, verdict: str = UNCERTAIN, reasons: Sequence[str] = (),
             **details) -> Anomaly:
    e, hb = _f(expected), _f(half_band)
    return Anomaly(test, p.parameter, p.grid.at(i0), p.grid.at(i1 - 1), p.grid.at(ipeak), _f(observed), e,
                   (e - hb, e + hb), _f(statistic), statistic_name, float(threshold), int(i1 - i0), verdict,
                   tuple(reasons), details)


def _series(times, values, baseline, parameter) -> Prepared:
    return times if isinstance(times, Prepared) else prepare(times, values, baseline=baseline, parameter=parameter)


# --- single-series tests ---------------------------------------------------------------------


def detect_spikes(times, values=None, *, baseline: Baseline | None = None, parameter: str = "",
                  k: float = 8.0) -> list[Anomaly]:
    """Isolated one-sample spikes (尖峰).

    Statistic: ``s = (x[i] − m[i]) / σ_n`` with ``m`` the median of the four nearest neighbours
    (i±1, i±2) and ``σ_n`` the baseline's robust scale of that departure. Fires when ``|s| > k``
    and both immediate neighbours lie within ``k/2 · σ_n`` of ``m`` (the value comes straight
    back: a level change or a travelling plume does not)."""
    p = _series(times, values, baseline, parameter)
    x, sn = p.x, p.baseline.spike_scale
    if p.grid.n < 3:
        return []
    m = rolling_nanmedian(x, 2, 2, skip_center=True, min_count=2)
    s = (x - m) / sn
    prev = np.concatenate([[np.nan], x[:-1]])
    nxt = np.concatenate([x[1:], [np.nan]])
    iso = (np.nan_to_num(np.abs(prev - m), nan=0.0) <= k / 2 * sn) & (np.nan_to_num(np.abs(nxt - m), nan=0.0) <= k / 2 * sn)
    hit = np.flatnonzero((np.abs(np.nan_to_num(s)) > k) & iso & (np.isfinite(prev) | np.isfinite(nxt)))
    return [_anomaly(p, "spike", i, i + 1, i, observed=x[i], expected=m[i], half_band=k * sn, statistic=s[i],
                     statistic_name="neighbour robust z", threshold=k, neighbour_scale=sn) for i in hit]


def flat_min_run(p_repeat: float, slots_per_year: float, *, false_per_year: float = 0.1,
                 lo: int = 3, hi: int = 48) -> int:
    """Shortest run of exactly repeated steps that chance repetition explains less than
    ``false_per_year`` times a year: ``ln(f / N) / ln(p)``, clipped to ``[lo, hi]``."""
    if not p_repeat > 0:
        return lo
    if p_repeat >= 1:
        return hi
    return int(min(hi, max(lo, math.ceil(math.log(false_per_year / slots_per_year) / math.log(p_repeat)))))


def detect_flat(times, values=None, *, baseline: Baseline | None = None, parameter: str = "",
                tolerance: float = 0.0, min_run: int | None = None) -> list[Anomaly]:
    """Flat lines — a stuck sensor (恒值/死值).

    Runs of consecutive steps with ``|Δx| ≤ tolerance``. A run of ``L`` repeated steps fires
    when ``L ≥ min_run``; by default ``min_run`` comes from the share ``p`` of repeated steps in
    the history (:func:`flat_min_run`), so a coarse-resolution series needs a longer run.
    Verdict FAULT: real water never holds a value to the last digit for that long."""
    p = _series(times, values, baseline, parameter)
    x = p.x
    if p.grid.n < 2:
        return []
    if min_run is None:
        min_run = flat_min_run(p.baseline.p_repeat, 365.25 * 86400 / p.grid.step)
    d = np.abs(np.diff(x))
    same = np.isfinite(d) & (d <= tolerance)
    out = []
    for a, b in runs(same):
        L = b - a  # repeated steps; points a .. b
        if L < min_run:
            continue
        i0, i1 = a, b + 1
        e = np.nanmedian(p.expected[i0:i1]) if np.isfinite(p.expected[i0:i1]).any() else p.baseline.median
        chance = p.baseline.p_repeat ** L
        out.append(_anomaly(p, "flat", i0, i1, i0, observed=x[i0], expected=e,
                            half_band=4 * np.nanmedian(p.scale[i0:i1]), statistic=L, statistic_name="repeated steps",
                            threshold=min_run, verdict=FAULT,
                            reasons=(f"value held at {x[i0]:g} for {L} consecutive steps (zero variance); "
                                     f"chance of that in this series ≈ {chance:.1e}",),
                            p_repeat=p.baseline.p_repeat, chance=chance))
    return out


def detect_excursions(times, values=None, *, baseline: Baseline | None = None, parameter: str = "",
                      k: float = 4.5, min_points: int = 2) -> list[Anomaly]:
    """Sustained departures from the baseline band (超出基线带): ``|z| > k`` with one sign for at
    least ``min_points`` consecutive samples, ``z = (x − expected) / scale`` from the baseline."""
    p = _series(times, values, baseline, parameter)
    z = np.nan_to_num(p.z)
    out = []
    for sign in (1, -1):
        for a, b in runs(sign * z > k):
            if b - a < min_points:
                continue
            i = a + int(np.argmax(np.abs(z[a:b])))
            out.append(_anomaly(p, "excursion", a, b, i, observed=p.x[i], expected=p.expected[i],
                                half_band=k * p.scale[i], statistic=p.z[i], statistic_name="baseline robust z",
                                threshold=k))
    return sorted(out, key=lambda an: an.start_s)


def detect_steps(times, values=None, *, baseline: Baseline | None = None, parameter: str = "",
                 window: int = 6, k: float = 6.0) -> list[Anomaly]:
    """Level shifts (阶跃): ``Δ = median(y[i : i+w]) − median(y[i−w : i])`` of the series less
    its diurnal profile, ``y = x − profile``, in units of the series-wide baseline scale; a change point is a local maximum of ``|Δ|/σ`` above ``k``
    (at least half of each window valid). Reported over ``[i, i+w)``."""
    p = _series(times, values, baseline, parameter)
    n, w = p.grid.n, window
    x = p.x - p.profile  # the diurnal/seasonal profile removed
    if n < 2 * w:
        return []
    before = rolling_nanmedian(np.concatenate([[np.nan], x[:-1]]), w - 1, min_count=max(1, w // 2))
    after = rolling_nanmedian(x, 0, w - 1, min_count=max(1, w // 2))
    g = p.baseline.global_scale
    zs = np.nan_to_num((after - before) / g)
    mag = np.abs(zs)
    padded = np.concatenate([np.zeros(w), mag, np.zeros(w)])
    mx = sliding_window_view(padded, 2 * w + 1).max(axis=1)  # local maximum over ±w
    idx = np.flatnonzero((mag > k) & (mag >= mx))
    out = []
    last = -10 * w
    for i in idx:
        if i - last <= w:  # plateau of equal maxima: keep the first
            continue
        last = i
        i1 = min(n, i + w)
        out.append(_anomaly(p, "step", i, i1, i, observed=after[i], expected=before[i], half_band=k * g,
                            statistic=zs[i], statistic_name="median shift / scale", threshold=k, window=w,
                            shift=float(after[i] - before[i])))
    return out


def drift_statistic(p: Prepared, W: int) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Over the trailing ``W`` slots ending at each slot: the level change ``slope · W`` in
    series-wide scales, the correlation ``r`` of level and time, the valid count and the slope
    (value units per slot) — by running sums, one pass."""
    n = p.grid.n
    y = p.level
    ok = np.isfinite(y).astype(float)
    t = np.arange(n, dtype=float)
    yv = np.where(ok > 0, y, 0.0)

    def wsum(a):
        c = np.concatenate([[0.0], np.cumsum(a)])
        s = np.full(n, np.nan)
        if n >= W:
            s[W - 1:] = c[W:] - c[:-W]
        return s

    N = wsum(ok)
    St, Sy = wsum(t * ok), wsum(yv)
    Stt, Syy, Sty = wsum(t * t * ok), wsum(yv * yv), wsum(t * yv)
    with np.errstate(invalid="ignore", divide="ignore"):
        cov = Sty - St * Sy / N
        vt = Stt - St * St / N
        vy = Syy - Sy * Sy / N
        b = cov / vt
        r = cov / np.sqrt(vt * vy)
    return b * W / p.baseline.global_scale, r, N, b


def detect_drift(times, values=None, *, baseline: Baseline | None = None, parameter: str = "",
                 window_s: float = 96 * 3600, k: float = 4.0, r_min: float = 0.9) -> list[Anomaly]:
    """Slow monotonic drift (漂移) of the running level.

    Over a sliding ``window_s`` the least-squares slope ``b`` and correlation ``r`` of the
    baseline level (running median, so single values do not count) against time; fires where
    ``|r| ≥ r_min`` and the change over the window ``|b|·window`` exceeds ``k`` series-wide
    scales, for at least a quarter of a window. Reported from the window start to the run end."""
    p = _series(times, values, baseline, parameter)
    W = max(4, int(round(window_s / p.grid.step)))
    n = p.grid.n
    if n < W:
        return []
    zd, r, N, b = drift_statistic(p, W)
    y = p.level
    g = p.baseline.global_scale
    fire = (N >= 0.75 * W) & (np.abs(np.nan_to_num(r)) >= r_min) & (np.abs(np.nan_to_num(zd)) > k)
    out = []
    for a, e in runs(fire):
        if e - a < W // 4:
            continue
        i = a + int(np.argmax(np.abs(zd[a:e])))
        i0 = max(0, a - W + 1)
        out.append(_anomaly(p, "drift", i0, e, i, observed=p.x[i] if np.isfinite(p.x[i]) else y[i],
                            expected=y[i0] if np.isfinite(y[i0]) else p.baseline.median, half_band=k * g,
                            statistic=zd[i], statistic_name="level change over window / scale", threshold=k,
                            r=float(r[i]), slope_per_day=float(b[i] * 86400 / p.grid.step), window_s=window_s))
    return out


def detect_out_of_range(times, values=None, *, low: float | None = None, high: float | None = None,
                        parameter: str = "", baseline: Baseline | None = None) -> list[Anomaly]:
    """Values outside the physically possible range ``[low, high]`` (超出物理量程), passed in per
    parameter (e.g. pH 0–14). Verdict FAULT: no water can do that."""
    p = _series(times, values, baseline, parameter)
    x = p.x
    lo = -np.inf if low is None else low
    hi = np.inf if high is None else high
    bad = np.isfinite(x) & ((x < lo) | (x > hi))
    out = []
    for a, b in runs(bad):
        beyond = np.maximum(lo - x[a:b], x[a:b] - hi)
        i = a + int(np.argmax(beyond))
        e = p.expected[i] if np.isfinite(p.expected[i]) else p.baseline.median
        out.append(_anomaly(p, "range", a, b, i, observed=x[i], expected=e, half_band=float("nan"),
                            statistic=beyond.max(), statistic_name="distance beyond the physical range",
                            threshold=0.0, verdict=FAULT,
                            reasons=(f"{x[i]:g} outside the physically possible range [{lo:g}, {hi:g}]",),
                            low=None if low is None else float(low), high=None if high is None else float(high)))
    return out


#: HJ 212 data flags (HJ 212-2017 Table 6 note) → verdict and reason of a flagged stretch
FLAG_VERDICTS: dict[str, tuple[str, str]] = {
    "D": (FAULT, "instrument reports a fault (flag D)"),
    "F": (FAULT, "instrument stopped (flag F)"),
    "B": (FAULT, "communication fault between instrument and logger (flag B)"),
    "C": (FAULT, "calibration in progress: values are the span standard (flag C)"),
    "M": (FAULT, "maintenance in progress (flag M)"),
    "S": (UNCERTAIN, "manually set value (flag S), not a measurement"),
    "T": (UNCERTAIN, "over the upper measuring range (flag T): the water may really be that high"),
}


def normalise_flags(flags) -> np.ndarray:
    """HJ 212 data flags as upper-case stripped strings ("" for None / empty), vectorised."""
    f = np.asarray(flags)
    if f.dtype == object:
        f = np.where(np.equal(f, None), "", f)
    u = np.char.upper(np.char.strip(f.astype(str)))
    return u


def detect_flags(times, flags, *, parameter: str = "", values=None) -> list[Anomaly]:
    """Stretches the device itself flagged as not normal (any flag other than N or empty)."""
    t = np.asarray(times)
    f = np.asarray(flags, dtype=object)
    if f.size == 0:
        return []
    sec = as_seconds(t)
    if sec.shape != f.shape:
        raise ValueError("times and flags must be of one length")
    order = np.argsort(sec, kind="stable")
    sec, f = sec[order], f[order]
    v = np.full(f.size, np.nan) if values is None else np.asarray(values, float)[order]
    fs = normalise_flags(f)
    out = []
    for flag in sorted(set(np.unique(fs).tolist()) - {"", "N"}):
        verdict, why = FLAG_VERDICTS.get(flag, (UNCERTAIN, f"unknown device flag {flag!r}"))
        for a, b in runs(fs == flag):
            out.append(Anomaly("flag", parameter, float(sec[a]), float(sec[b - 1]), float(sec[a]),
                               _f(np.nanmax(v[a:b]) if np.isfinite(v[a:b]).any() else np.nan), float("nan"),
                               (float("nan"), float("nan")), float(b - a), f"samples flagged {flag}", 1.0, b - a,
                               verdict, (why,), {"flag": flag}))
    return sorted(out, key=lambda an: an.start_s)


# --- cross-parameter checks ------------------------------------------------------------------


def check_subset(times, part, whole, *, part_name: str, whole_name: str, rel_tol: float = 0.1,
                 abs_tol: float = 0.0, min_points: int = 1) -> list[Anomaly]:
    """A part may not exceed its whole: NH3-N ≤ TN (ammonia nitrogen is part of total nitrogen),
    PM2.5 ≤ PM10 (the fine fraction is part of PM10). Fires where
    ``part > whole · (1 + rel_tol) + abs_tol`` — a stoichiometric impossibility, so one of the
    two instruments is wrong: verdict FAULT. Both series share ``times``."""
    g, a = regular(times, part)
    _, b = regular(times, whole)
    lim = b * (1 + rel_tol) + abs_tol
    bad = np.isfinite(a) & np.isfinite(b) & (a > lim)
    out = []
    for i0, i1 in runs(bad):
        if i1 - i0 < min_points:
            continue
        ratio = a[i0:i1] / np.where(b[i0:i1] > 0, b[i0:i1], np.nan)
        i = i0 + int(np.nanargmax(a[i0:i1] - lim[i0:i1]))
        out.append(Anomaly("subset", f"{part_name}/{whole_name}", g.at(i0), g.at(i1 - 1), g.at(i), float(a[i]),
                           float(b[i]), (0.0, float(lim[i])), _f(np.nanmax(ratio) if np.isfinite(ratio).any() else np.nan),
                           f"{part_name}/{whole_name} ratio", 1 + rel_tol, i1 - i0, FAULT,
                           (f"{part_name} {a[i]:g} exceeds {whole_name} {b[i]:g}, of which it is a part",),
                           {"part": part_name, "whole": whole_name}))
    return out


def do_saturation(temp_c) -> np.ndarray:
    """Dissolved-oxygen saturation in fresh water at sea level (mg/L) from temperature (°C):
    Benson & Krause (1984) as given in APHA Standard Methods 4500-O, ln C = −139.34411 +
    1.575701e5/T − 6.642308e7/T² + 1.2438e10/T³ − 8.621949e11/T⁴, T in kelvin
    (14.62 mg/L at 0 °C, 9.09 at 20 °C, 7.56 at 30 °C)."""
    T = np.asarray(temp_c, float) + 273.15
    return np.exp(-139.34411 + 1.575701e5 / T - 6.642308e7 / T**2 + 1.2438e10 / T**3 - 8.621949e11 / T**4)


def check_do_saturation(times, do_mg_l, temp_c, *, max_ratio: float = 2.0, parameter: str = "w01009") -> list[Anomaly]:
    """Dissolved oxygen against the water temperature: DO above ``max_ratio`` × saturation
    (default 200 %) does not occur in open water even in algal blooms, so either the DO or the
    temperature probe is wrong: verdict FAULT. (Low DO is not checked: hypoxia is real.)"""
    g, do = regular(times, do_mg_l)
    _, tc = regular(times, temp_c)
    sat = do_saturation(tc)
    ratio = do / sat
    bad = np.isfinite(ratio) & (ratio > max_ratio)
    out = []
    for i0, i1 in runs(bad):
        i = i0 + int(np.argmax(ratio[i0:i1]))
        out.append(Anomaly("do_saturation", parameter, g.at(i0), g.at(i1 - 1), g.at(i), float(do[i]), float(sat[i]),
                           (0.0, float(max_ratio * sat[i])), float(ratio[i]), "DO / saturation", max_ratio, i1 - i0,
                           FAULT, (f"DO {do[i]:g} mg/L is {ratio[i]:.0%} of saturation at {tc[i]:g} °C",),
                           {"temperature_c": float(tc[i])}))
    return out


# --- the reference baseline used in the evaluation ------------------------------------------


def rolling_robust_z(times, values, *, window: int = 168, threshold: float = 3.5,
                     min_count: int | None = None) -> tuple[np.ndarray, np.ndarray, Grid]:
    """The classic rolling robust z-score: ``z = (x − median) / (1.4826 · MAD)`` over the trailing
    ``window`` samples (not including the current one); anomalous where ``|z| > threshold``.
    Returns ``(z, flagged, grid)`` on the series' grid. Used as the baseline detector in
    bench/bench_anomaly.py."""
    grid, x = regular(times, values)
    if grid.n == 0:
        return np.zeros(0), np.zeros(0, bool), grid
    mc = min_count or max(3, window // 4)
    prev = np.concatenate([[np.nan], x[:-1]])
    med = rolling_nanmedian(prev, window - 1, min_count=mc)
    pad = np.concatenate([np.full(window - 1, np.nan), prev])
    view = sliding_window_view(pad, window)
    mad = nanmedian_rows(np.abs(view - med[:, None]))[0] * MAD_TO_SIGMA
    with np.errstate(invalid="ignore", divide="ignore"):
        z = (x - med) / mad
    z[~np.isfinite(z)] = np.nan
    return z, np.nan_to_num(np.abs(z)) > threshold, grid
