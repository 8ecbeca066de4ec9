"""Time handling and rolling statistics shared by the detectors (pure NumPy).

Every detector works on a *regular grid*: :func:`regular` sorts the samples, infers the step
(the median positive spacing) and places each value on its grid slot, leaving NaN where nothing
came. Gaps therefore never shift later values, and every window below is a window in time.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from numpy.lib.stride_tricks import sliding_window_view

__all__ = ["Grid", "as_seconds", "regular", "rolling_nanmedian", "nanmedian_rows", "robust_scale", "runs", "MAD_TO_SIGMA"]

#: 1 / Φ⁻¹(3/4): turns a median absolute deviation into a standard deviation for normal data
MAD_TO_SIGMA = 1.4826
#: a grid larger than this many slots per sample means the times are not a time series
_MAX_SPREAD = 50


def as_seconds(times) -> np.ndarray:
    """Times as float64 epoch seconds: accepts ``datetime64`` (any unit) or numbers (seconds)."""
    t = np.asarray(times)
    if t.size == 0:
        return np.zeros(0, float)
    if np.issubdtype(t.dtype, np.datetime64):
        out = t.astype("datetime64[ms]").astype(np.int64).astype(float) / 1000.0
        out[np.isnat(t)] = np.nan
        return out
    if t.dtype == object:
        raise TypeError("times must be datetime64 or epoch seconds (convert datetimes with np.array(..., 'datetime64[s]'))")
    return t.astype(float)


@dataclass(frozen=True)
class Grid:
    """A regular time grid: ``n`` slots from ``t0`` every ``step`` seconds."""

    t0: float
    step: float
    n: int

    @property
    def times(self) -> np.ndarray:
        return self.t0 + self.step * np.arange(self.n)

    def at(self, i) -> float:
        return float(self.t0 + self.step * i)


def regular(times, values, *, step_s: float | None = None) -> tuple[Grid, np.ndarray]:
    """Place ``values`` on a regular grid.

    ``step_s`` defaults to the median positive spacing of the times (3600 s when fewer than two
    distinct times). Samples with a NaN time are dropped; two samples in one slot keep the later
    one in input order. Returns the grid and the values on it (NaN = nothing there).

    Raises ``ValueError`` when ``times`` and ``values`` differ in length, or when the times are so
    irregular that the grid would have more than 50 slots per sample (not a time series).
    """
    t = as_seconds(times)
    v = np.asarray(values, dtype=float)
    if t.shape != v.shape or t.ndim != 1:
        raise ValueError(f"times and values must be 1-D of one length (got {t.shape} and {v.shape})")
    ok = np.isfinite(t)
    t, v = t[ok], v[ok]
    if t.size == 0:
        return Grid(0.0, float(step_s or 3600.0), 0), np.zeros(0, float)
    order = np.argsort(t, kind="stable")
    t, v = t[order], v[order]
    if step_s is None:
        d = np.diff(t)
        d = d[d > 0]
        step_s = float(np.median(d)) if d.size else 3600.0
    if not step_s > 0:
        raise ValueError("step_s must be positive")
    t0 = float(t[0])
    idx = np.rint((t - t0) / step_s).astype(np.int64)
    n = int(idx[-1]) + 1
    if n > _MAX_SPREAD * t.size + 1000:
        raise ValueError(f"times too irregular for step {step_s:g} s: {n} slots for {t.size} samples")
    out = np.full(n, np.nan)
    out[idx] = v  # later samples in the same slot overwrite earlier ones
    return Grid(t0, float(step_s), n), out


def rolling_nanmedian(x: np.ndarray, before: int, after: int = 0, *, skip_center: bool = False,
                      min_count: int = 1) -> np.ndarray:
    """Median of ``x[i-before : i+after+1]`` ignoring NaN, for every i (NaN where fewer than
    ``min_count`` valid values). ``skip_center`` leaves ``x[i]`` itself out. Vectorised over a
    strided window view; memory is ``len(x) × (before + after + 1)``."""
    x = np.asarray(x, float)
    n = x.size
    w = before + after + 1
    if n == 0:
        return np.zeros(0)
    pad = np.concatenate([np.full(before, np.nan), x, np.full(after, np.nan)])
    view = sliding_window_view(pad, w)
    if skip_center:
        view = np.delete(view, before, axis=1)
    med, cnt = nanmedian_rows(view)
    med[cnt < max(1, min_count)] = np.nan
    return med


def nanmedian_rows(a: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Median of each row of a 2-D array ignoring NaN (NaN for an all-NaN row) and the count of
    valid values per row — one sort (NaN sorts last), no masked arrays."""
    if a.shape[1] == 0:
        return np.full(a.shape[0], np.nan), np.zeros(a.shape[0], np.int64)
    srt = np.sort(a, axis=1)
    cnt = np.sum(np.isfinite(srt), axis=1)
    rows = np.arange(a.shape[0])
    lo = np.clip((cnt - 1) // 2, 0, None)
    hi = np.clip(cnt // 2, 0, a.shape[1] - 1)
    med = 0.5 * (srt[rows, lo] + srt[rows, hi])
    med[cnt == 0] = np.nan
    return med, cnt


def robust_scale(r: np.ndarray, *, floor: float = 0.0) -> float:
    """1.4826 × median absolute deviation of the finite values of ``r`` (``floor`` when there are
    none, and never below ``floor``)."""
    r = np.asarray(r, float)
    r = r[np.isfinite(r)]
    if r.size == 0:
        return float(floor)
    return max(float(MAD_TO_SIGMA * np.median(np.abs(r - np.median(r)))), float(floor))


def runs(mask: np.ndarray) -> list[tuple[int, int]]:
    """Runs of True in a boolean array as ``[start, end)`` index pairs."""
    m = np.asarray(mask, bool)
    if m.size == 0:
        return []
    d = np.diff(np.concatenate([[0], m.astype(np.int8), [0]]))
    starts = np.flatnonzero(d == 1)
    ends = np.flatnonzero(d == -1)
    return list(zip(starts.tolist(), ends.tolist()))
