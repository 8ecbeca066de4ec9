"""Per-series baselines learned from history (基线): what a value *should* be, and how far it may stray.

Model (documented in docs/analytics.md)::

    x(t) = level(t) + profile[season(t), hour(t)] + residual(t)

* ``profile`` — the diurnal shape per season: the median, over the history, of the value minus
  its centred one-day running mean, by (season, local hour). Seasons are DJF, MAM, JJA, SON;
  hours are local (Beijing, UTC+8, by default).
* ``level(t)`` — the running median of ``x − profile`` over the *preceding* ``level_window_s``
  (72 h by default), so an excursion is judged against the recent past, not against itself.
* ``scale[season, hour]`` — 1.4826 × the median absolute deviation of the residual in each
  bucket (a robust standard deviation), floored at 30 % of the series-wide scale and at the
  instrument's resolution, so a quiet bucket does not make every wiggle an anomaly.

Expected value: ``level + profile``; band: expected ± k × scale; robust z = residual / scale.
Buckets with fewer than ``min_count`` points fall back to the hour-of-day over all seasons, then
to zero profile and the series-wide scale.

Also learned: the resolution (smallest non-zero step between consecutive values), the share of
exactly repeated consecutive values (for the flat-line test) and the scale of a value's departure
from its immediate neighbours (for the spike test).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

import numpy as np

from gongzhi.analytics.series import MAD_TO_SIGMA, Grid, regular, robust_scale, rolling_nanmedian

__all__ = ["Baseline", "fit_baseline", "season_hour", "BEIJING_OFFSET_S"]

BEIJING_OFFSET_S = 8 * 3600
N_SEASONS = 4
N_HOURS = 24


def grouped_median(keys: np.ndarray, values: np.ndarray, n_groups: int) -> tuple[np.ndarray, np.ndarray]:
    """Median of ``values`` per integer key in ``[0, n_groups)`` (NaN for an empty group) and the
    count per group, by one sort (no loop over groups). ``values`` must be finite."""
    keys = np.asarray(keys, np.int64)
    values = np.asarray(values, float)
    order = np.lexsort((values, keys))
    v = values[order]
    cnt = np.bincount(keys, minlength=n_groups)[:n_groups]
    start = np.concatenate([[0], np.cumsum(cnt)[:-1]])
    med = np.full(n_groups, np.nan)
    has = cnt > 0
    lo = start[has] + (cnt[has] - 1) // 2
    hi = start[has] + cnt[has] // 2
    med[has] = 0.5 * (v[lo] + v[hi])
    return med, cnt


def _daily_mean(x: np.ndarray, w: int) -> np.ndarray:
    """Centred mean over exactly one day (``w`` slots, i − w/2 … i + w/2 − 1): a full period of
    the diurnal cycle averages to the level (a running *median* of a sine locks onto its zero
    crossings instead). NaN where fewer than half the day is valid."""
    ok = np.isfinite(x)
    c = np.concatenate([[0.0], np.cumsum(np.where(ok, x, 0.0))])
    k = np.concatenate([[0], np.cumsum(ok)])
    n = x.size
    lo = np.clip(np.arange(n) - w // 2, 0, n)
    hi = np.clip(np.arange(n) - w // 2 + w, 0, n)
    cnt = k[hi] - k[lo]
    with np.errstate(invalid="ignore", divide="ignore"):
        m = (c[hi] - c[lo]) / cnt
    m[cnt < w // 2] = np.nan
    return m


def season_hour(t_s: np.ndarray, tz_offset_s: int = BEIJING_OFFSET_S) -> tuple[np.ndarray, np.ndarray]:
    """Season index (0 DJF, 1 MAM, 2 JJA, 3 SON) and local hour (0–23) of epoch seconds."""
    local = np.asarray(t_s, float) + tz_offset_s
    ok = np.isfinite(local)
    sec = np.where(ok, local, 0).astype(np.int64)
    month0 = sec.astype("datetime64[s]").astype("datetime64[M]").astype(np.int64) % 12  # 0 = January
    season = ((month0 + 1) % 12) // 3
    hour = (sec % 86400) // 3600
    return season.astype(np.int64), hour.astype(np.int64)


@dataclass(frozen=True)
class Baseline:
    """A learned baseline; build with :func:`fit_baseline`. JSON-friendly via ``to_dict``/``from_dict``."""

    profile: np.ndarray  # (4, 24) diurnal deviation from the running level, value units
    scale: np.ndarray  # (4, 24) robust residual scale, value units (> 0)
    count: np.ndarray  # (4, 24) points per bucket in the history
    global_scale: float
    spike_scale: float  # robust scale of x − median of its 4 nearest neighbours
    resolution: float  # smallest non-zero |Δx| seen (0 if none)
    p_repeat: float  # share of consecutive valid pairs with Δx == 0
    median: float
    step_s: float
    level_window_s: float
    tz_offset_s: int
    n_history: int

    # --- application -------------------------------------------------------------------------

    def level_slots(self, step_s: float | None = None) -> int:
        return max(3, int(round(self.level_window_s / (step_s or self.step_s))))

    def apply(self, grid: Grid, x: np.ndarray) -> dict[str, np.ndarray]:
        """Expected value, band scale, level and robust z for values ``x`` on ``grid``.

        The level at slot i uses only slots before i (at least a quarter of the window valid),
        so pass some history before the period of interest; where it is missing the expected
        value is NaN and no excursion can be judged there."""
        s, h = season_hour(grid.times, self.tz_offset_s)
        prof = self.profile[s, h] if grid.n else np.zeros(0)
        W = self.level_slots(grid.step)
        level = rolling_nanmedian(np.concatenate([[np.nan], (x - prof)[:-1]]) if grid.n else x, W - 1,
                                  min_count=max(2, W // 4))
        expected = level + prof
        scale = self.scale[s, h] if grid.n else np.zeros(0)
        z = (x - expected) / scale
        return {"expected": expected, "scale": scale, "level": level, "z": z, "profile": prof}

    def to_dict(self) -> dict:
        d = asdict(self)
        for k in ("profile", "scale", "count"):
            d[k] = np.asarray(d[k]).tolist()
        return d

    @classmethod
    def from_dict(cls, d: dict) -> "Baseline":
        d = dict(d)
        for k in ("profile", "scale"):
            d[k] = np.asarray(d[k], float)
        d["count"] = np.asarray(d["count"], np.int64)
        return cls(**d)


def fit_baseline(times, values, *, step_s: float | None = None, level_window_s: float = 72 * 3600,
                 tz_offset_s: int = BEIJING_OFFSET_S, min_count: int = 5) -> Baseline:
    """Learn a :class:`Baseline` from a history (times as epoch seconds or datetime64, values in
    the series' unit; NaN = missing). An empty or all-NaN history gives a flat baseline with
    scale 1 (every later value is then judged only by the tests that need no history)."""
    grid, x = regular(times, values, step_s=step_s)
    finite = np.isfinite(x)
    if not finite.any():
        return Baseline(np.zeros((4, 24)), np.ones((4, 24)), np.zeros((4, 24), np.int64), 1.0, 1.0, 0.0, 0.0,
                        float("nan"), grid.step, float(level_window_s), tz_offset_s, 0)
    season, hour = season_hour(grid.times, tz_offset_s)
    daily = _daily_mean(x, max(2, int(round(86400 / grid.step))))
    dev = x - daily

    # diurnal profile per (season, hour); fallback: hour over all seasons, then 0
    nb = N_SEASONS * N_HOURS
    bucket = season * N_HOURS + hour
    count = np.bincount(bucket[finite], minlength=nb).astype(np.int64)
    ok = np.isfinite(dev)
    hmed, hcnt = grouped_median(hour[ok], dev[ok], N_HOURS)
    hour_prof = np.where(hcnt >= min_count, hmed, 0.0)
    bmed, bcnt = grouped_median(bucket[ok], dev[ok], nb)
    profile = np.where(bcnt >= min_count, bmed, hour_prof[np.arange(nb) % N_HOURS]).reshape(N_SEASONS, N_HOURS)

    # step statistics
    xv = x[finite]
    dx = np.diff(x)
    dx = dx[np.isfinite(dx)]
    nz = np.abs(dx[dx != 0])
    resolution = float(nz.min()) if nz.size else 0.0
    p_repeat = float(np.mean(dx == 0)) if dx.size else 0.0
    neigh = rolling_nanmedian(x, 2, 2, skip_center=True, min_count=2)
    tiny = max(resolution / 2, 1e-9 * max(1.0, abs(float(np.median(xv)))))
    spike_scale = robust_scale(x - neigh, floor=tiny)

    # residual scale per bucket, with the same expected value the detectors use
    proto = Baseline(profile, np.ones((4, 24)), count.reshape(4, 24), 1.0, spike_scale, resolution, p_repeat,
                     float(np.median(xv)), grid.step, float(level_window_s), tz_offset_s, int(finite.sum()))
    resid = x - proto.apply(grid, x)["expected"]
    g = robust_scale(resid, floor=tiny)
    if not np.isfinite(resid).any():  # history shorter than the level window: spread about the median
        g = robust_scale(x, floor=tiny)
    floor = max(0.3 * g, tiny)
    rok = np.isfinite(resid)
    rmed, rcnt = grouped_median(bucket[rok], resid[rok], nb)
    mad, _ = grouped_median(bucket[rok], np.abs(resid[rok] - rmed[bucket[rok]]), nb)
    scale = np.where(rcnt >= min_count, np.maximum(MAD_TO_SIGMA * mad, floor), g)
    return Baseline(profile, scale.reshape(N_SEASONS, N_HOURS), count.reshape(4, 24), g, spike_scale, resolution,
                    p_repeat, float(np.median(xv)), grid.step, float(level_window_s), tz_offset_s, int(finite.sum()))
