"""Synthetic series with known answers for the analytics tests (no database, no simulator).

A plain module with a unique name (not conftest.py): test modules import it directly, and a
name of its own cannot be shadowed by another folder's conftest when several folders run together."""

from __future__ import annotations

import numpy as np

HOUR = 3600.0
#: 2026-06-01 00:00 UTC (summer, JJA)
T0 = 1780272000.0


def make_series(days: int = 30, *, level: float = 10.0, diurnal: float = 0.0, sigma: float = 0.2, seed: int = 0,
                ar: float = 0.0, decimals: int | None = None) -> tuple[np.ndarray, np.ndarray]:
    """Hourly times from T0 and values ``level + diurnal·sin(hour) + noise`` (AR(1) ``ar``)."""
    n = days * 24
    t = T0 + HOUR * np.arange(n)
    rng = np.random.default_rng(seed)
    e = rng.normal(0, sigma, n)
    if ar:
        for i in range(1, n):  # test data only
            e[i] = ar * e[i - 1] + np.sqrt(1 - ar * ar) * e[i]
    local_h = ((t + 8 * HOUR) % 86400) / HOUR
    x = level + diurnal * np.sin(2 * np.pi * (local_h - 9) / 24) + e
    if decimals is not None:
        x = np.round(x, decimals)
    return t, x
