"""Source tracing (溯源), first version: rank upstream candidates for an alarm at a section.

For each candidate (an outlet or a site upstream, with the travel time of water from it to the
section and its series for the same or a characteristic factor — e.g. antimony for a dyeing
works), :func:`rank_sources` measures how well the candidate's series, shifted by a lag around
the travel time, explains the section's series:

1. both series are put on the section's regular grid and *detrended*: each value minus the
   centred running median over ``detrend_window_s`` (72 h), so slow levels and seasons drop out
   and pulses stay;
2. for every lag ``L`` from ``τ − tol`` to ``τ + tol`` (``tol = max(lag_tolerance · τ,
   min_tolerance_s)``, never below 0) in grid steps, the Pearson correlation of
   ``section(t)`` with ``candidate(t − L)`` over the times where both have a value (gaps drop
   pairs, never shift them); lags with fewer than ``min_overlap`` pairs are skipped;
3. the best lag ``L*`` maximises the correlation ``r*``;
4. ``score = max(r*, 0) × timing × magnitude`` with
   ``timing = exp(−½ ((L* − τ) / (timing_sigma · max(τ, step)))²)`` (a lag far from the
   travel time is less credible) and ``magnitude = min(1, z_peak / 4)``, ``z_peak`` the
   candidate's largest robust z (detrended value / 1.4826 MAD) — a candidate that showed no
   excursion cannot be the source.

Every :class:`SourceRank` carries the evidence: best lag, correlation, number of overlapping
pairs, expected vs found lag, the candidate's peak z and the factors of the score.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field, replace
from typing import Collection, Mapping, Sequence

import numpy as np

from gongzhi.analytics.anomaly import json_safe
from gongzhi.analytics.series import as_seconds, regular, robust_scale, rolling_nanmedian

__all__ = ["Candidate", "SourceRank", "rank_sources", "lagged_correlation"]


@dataclass(frozen=True)
class Candidate:
    """A possible source: ``travel_time_s`` from it to the section; ``times``/``values`` its
    series of ``factor`` (the same parameter as the alarm, or a characteristic pollutant)."""

    name: str
    times: object
    values: object
    travel_time_s: float
    kind: str = "outlet"
    factor: str = ""


@dataclass(frozen=True)
class SourceRank:
    name: str
    kind: str
    factor: str
    rank: int
    score: float
    correlation: float
    best_lag_s: float
    expected_lag_s: float
    lag_error_s: float
    overlap: int
    peak_z: float
    timing: float
    magnitude: float
    reasons: tuple[str, ...] = ()
    correlation_by_lag: dict = field(default_factory=dict)
    waypoint_of: str | None = None  # the candidate upstream whose plume passed here (see rank_sources)

    def to_dict(self) -> dict:
        """Plain JSON types; NaN becomes ``None``."""
        return json_safe({k: getattr(self, k) for k in self.__dataclass_fields__})


def _detrend(x: np.ndarray, half: int) -> np.ndarray:
    return x - rolling_nanmedian(x, half, half, min_count=max(2, half // 2))


def _on_grid(t0: float, step: float, n: int, times, values) -> np.ndarray:
    """Values of another series on the grid ``t0 + k·step`` (nearest slot; NaN elsewhere)."""
    t = as_seconds(times)
    v = np.asarray(values, float)
    out = np.full(n, np.nan)
    if t.size == 0 or t.shape != v.shape:
        return out
    ok = np.isfinite(t)
    idx = np.rint((t[ok] - t0) / step).astype(np.int64)
    inside = (idx >= 0) & (idx < n)
    out[idx[inside]] = v[ok][inside]
    return out


def lagged_correlation(a: np.ndarray, b: np.ndarray, lags: np.ndarray, *, min_overlap: int) -> tuple[np.ndarray, np.ndarray]:
    """Pearson correlation of ``a[i]`` with ``b[i − lag]`` for each lag (in slots, ≥ 0 means b
    leads), over pairs where both are finite. Returns (r per lag, pairs per lag); r is NaN where
    fewer than ``min_overlap`` pairs or no variance."""
    n = a.size
    r = np.full(lags.size, np.nan)
    cnt = np.zeros(lags.size, np.int64)
    for j, lag in enumerate(lags):  # a few dozen lags; each one vectorised over the series
        lag = int(lag)
        if lag >= n or -lag >= n:
            continue
        if lag >= 0:
            x, y = a[lag:], b[: n - lag]
        else:
            x, y = a[: n + lag], b[-lag:]
        ok = np.isfinite(x) & np.isfinite(y)
        k = int(ok.sum())
        cnt[j] = k
        if k < max(3, min_overlap):
            continue
        xv, yv = x[ok] - x[ok].mean(), y[ok] - y[ok].mean()
        den = math.sqrt(float(xv @ xv) * float(yv @ yv))
        if den > 0:
            r[j] = float(xv @ yv) / den
    return r, cnt


def rank_sources(times, values, candidates: Sequence[Candidate], *, lag_tolerance: float = 0.5,
                 min_tolerance_s: float = 3 * 3600, min_overlap: int = 12, detrend_window_s: float = 72 * 3600,
                 timing_sigma: float = 0.25, step_s: float | None = None,
                 upstream_of: Mapping[str, Collection[str]] | None = None,
                 waypoint_ratio: float = 0.5) -> list[SourceRank]:
    """Rank ``candidates`` as the source of what the section (``times``, ``values``) shows; the
    best first. Inputs in any consistent unit per series (correlation and z are unit-free);
    times as epoch seconds or datetime64; travel times in seconds. A candidate without enough
    overlapping data gets score 0 and says so; an empty section series ranks every candidate 0.

    ``upstream_of`` (candidate name → names of the candidates upstream of it, from the river
    network) turns on **waypoints**: a candidate C that is not an outlet (a plume passing an
    outlet does not show in its discharge) is the waypoint of an upstream candidate U
    when U scores at least ``waypoint_ratio`` × C's score and U's best lag exceeds C's by the
    difference of their travel times (within the lag tolerance of U) — the plume passed C on its
    way from U. Waypoints rank after every candidate that is not one, and say whose they are."""
    grid, x = regular(times, values, step_s=step_s)
    step = grid.step
    half = max(2, int(round(detrend_window_s / step / 2)))
    xs = _detrend(x, half) if grid.n else x
    out = []
    for c in candidates:
        tau = float(c.travel_time_s)
        tol = max(lag_tolerance * tau, min_tolerance_s)
        lo = max(0, int(math.floor((tau - tol) / step)))
        hi = int(math.ceil((tau + tol) / step))
        lags = np.arange(lo, hi + 1)
        # the candidate on the section's grid, extended back by the largest lag
        ext_t0 = grid.t0 - hi * step
        y = _on_grid(ext_t0, step, grid.n + hi, c.times, c.values)
        ys = _detrend(y, half) if y.size else y
        # ys[k] is the candidate at grid.t0 + (k - hi)·step, so candidate(t_i - lag) = ys[i + hi - lag]
        r = np.full(lags.size, np.nan)
        cnt = np.zeros(lags.size, np.int64)
        for j, lag in enumerate(lags):
            seg = ys[hi - lag: hi - lag + grid.n]
            rr, cc = lagged_correlation(xs, seg, np.array([0]), min_overlap=min_overlap)
            r[j], cnt[j] = rr[0], cc[0]
        scale = robust_scale(ys, floor=1e-12)
        peak_z = float(np.nanmax(np.abs(ys)) / scale) if np.isfinite(ys).any() else float("nan")
        if np.isfinite(r).any():
            j = int(np.nanargmax(r))
            best_lag = float(lags[j] * step)
            rstar = float(r[j])
            timing = math.exp(-0.5 * ((best_lag - tau) / (timing_sigma * max(tau, step))) ** 2)
            magnitude = min(1.0, peak_z / 4.0) if math.isfinite(peak_z) else 0.0
            score = max(rstar, 0.0) * timing * magnitude
            reasons = (f"best lag {best_lag / 3600:.1f} h (travel time {tau / 3600:.1f} h), r = {rstar:.2f} over "
                       f"{int(cnt[j])} pairs, peak z {peak_z:.1f}",)
            overlap = int(cnt[j])
        else:
            best_lag, rstar, timing, magnitude, score = float("nan"), float("nan"), 0.0, 0.0, 0.0
            overlap = int(cnt.max()) if cnt.size else 0
            reasons = (f"not enough overlapping data (at most {overlap} pairs, need {min_overlap})",)
        out.append(SourceRank(c.name, c.kind, c.factor, 0, score, rstar, best_lag, tau,
                              best_lag - tau if math.isfinite(best_lag) else float("nan"), overlap, peak_z, timing,
                              magnitude, reasons,
                              {int(lag * step): (None if not np.isfinite(v) else round(float(v), 4))
                               for lag, v in zip(lags, r)}))
    if upstream_of:
        out = _mark_waypoints(out, upstream_of, waypoint_ratio, lag_tolerance, min_tolerance_s)
    out.sort(key=lambda s: (s.waypoint_of is not None, -s.score,
                            abs(s.lag_error_s) if math.isfinite(s.lag_error_s) else math.inf, s.name))
    return [SourceRank(**{**s.__dict__, "rank": i + 1}) for i, s in enumerate(out)]


def _mark_waypoints(ranks: list[SourceRank], upstream_of: Mapping[str, Collection[str]], ratio: float,
                    lag_tolerance: float, min_tolerance_s: float) -> list[SourceRank]:
    by_name = {r.name: r for r in ranks}
    out = []
    for c in ranks:
        best = None
        if c.kind != "outlet" and c.score > 0 and math.isfinite(c.best_lag_s):  # a passing plume never shows in a discharge
            for name in upstream_of.get(c.name, ()):
                u = by_name.get(name)
                if u is None or u is c or not (u.score >= ratio * c.score) or not math.isfinite(u.best_lag_s):
                    continue
                tol = max(lag_tolerance * max(u.expected_lag_s - c.expected_lag_s, 0.0), min_tolerance_s)
                gap = (u.best_lag_s - c.best_lag_s) - (u.expected_lag_s - c.expected_lag_s)
                if u.best_lag_s > c.best_lag_s and abs(gap) <= tol and (best is None or u.score > best.score):
                    best = u
        if best is not None:
            c = replace(c, waypoint_of=best.name, reasons=c.reasons + (
                f"waypoint: the plume from {best.name} passed here ({(best.best_lag_s - c.best_lag_s) / 3600:.1f} h "
                f"between them, travel {(best.expected_lag_s - c.expected_lag_s) / 3600:.1f} h)",))
        out.append(c)
    return out
