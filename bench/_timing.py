"""Timing helpers shared by the benchmarks (run as scripts, so ``bench/`` is on the path)."""

from __future__ import annotations

import time


def pct(samples: list[float], p: float) -> float:
    """The ``p``-th percentile of ``samples`` with linear interpolation between ranks."""
    s = sorted(samples)
    k = (len(s) - 1) * p / 100
    lo = int(k)
    hi = min(lo + 1, len(s) - 1)
    return s[lo] + (s[hi] - s[lo]) * (k - lo)


def timed(fn, runs: int, before=None) -> list[float]:
    """Milliseconds of ``runs`` calls of ``fn`` after one warm-up call (query plans, caches,
    imports); ``before`` runs ahead of every call, untimed (e.g. to drop a cache)."""
    if before:
        before()
    fn()
    out = []
    for _ in range(runs):
        if before:
            before()
        t0 = time.perf_counter()
        fn()
        out.append((time.perf_counter() - t0) * 1000)
    return out
