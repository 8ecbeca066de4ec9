"""Helpers shared by the benchmarks (run as scripts, so ``bench/`` is on the path): percentiles,
timing with a warm-up, a scratch PostgreSQL database."""

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


def recreate_pg(url: str) -> None:
    """Drop and create the PostgreSQL database named in ``url`` (a benchmark's own scratch database)."""
    import sys
    from pathlib import Path

    import psycopg

    sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "src"))
    from gongzhi.config import parse_database_url

    cfg = parse_database_url(url)
    with psycopg.connect(dbname="postgres", user=cfg.user or None, password=cfg.password or None,
                         host=cfg.host or None, port=cfg.port or None, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{cfg.name}"')
        conn.execute(f'CREATE DATABASE "{cfg.name}"')
