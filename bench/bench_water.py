"""Benchmark: GB 3838-2002 water classes over N values (default 10 million), one core.

Run:  .venv/bin/python bench/bench_water.py [--n N] [--sample S] [--repeat R]

Measures, on one core (thread pools pinned to 1 before NumPy is imported):

1. ``single_factor_class`` of N NH3-N values (one indicator);
2. ``section_class`` of N/5 rows × 5 indicators (pH, DO, CODMn, NH3-N, TP with
   a per-row river/lake mix) = N values, worst class per row, no main pollutants;
3. the same with main pollutants (a Python step over the polluted rows);
4. the baseline: a naive per-value Python loop (the obvious ``for`` loop over
   the Table 1 limits) timed on a sample of S values and **extrapolated** to N.

The best of R repeats is reported. Target: ≥ 10 million values/s for (1) and (2).
Checks that the vectorised classes equal the naive loop's on the sample.
"""

from __future__ import annotations

import os

for _v in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS", "POLARS_MAX_THREADS"):
    os.environ.setdefault(_v, "1")

import argparse  # noqa: E402
import math  # noqa: E402
import platform  # noqa: E402
import sys  # noqa: E402
import time  # noqa: E402
from pathlib import Path  # noqa: E402

import numpy as np  # noqa: E402

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "src"))

from gongzhi.standards import gb3838  # noqa: E402

TARGET = 10_000_000  # values per second


def naive_class(value: float, limits, kind: str) -> int:
    """The per-value loop a first implementation would write (the baseline)."""
    if math.isnan(value):
        return 0
    if kind == "range":
        return 1 if 6.0 <= value <= 9.0 else 6
    for i, lim in enumerate(limits):
        if (kind == "le" and value <= lim) or (kind == "ge" and value >= lim):
            return i + 1
    return 6


def best_of(fn, repeat: int) -> float:
    best = math.inf
    for _ in range(repeat):
        t0 = time.perf_counter()
        fn()
        best = min(best, time.perf_counter() - t0)
    return best


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--n", type=int, default=10_000_000, help="number of values (default 1e7)")
    ap.add_argument("--sample", type=int, default=200_000,
                    help="values in the naive-loop sample (default 2e5)")
    ap.add_argument("--repeat", type=int, default=3)
    args = ap.parse_args(argv)
    n = args.n
    rng = np.random.default_rng(20240601)

    # realistic-ish values straddling the limits, with 1 % missing
    nh3 = rng.gamma(1.5, 0.6, n)
    nh3[rng.random(n) < 0.01] = np.nan
    rows = n // 5
    cols = {
        "ph": rng.normal(7.6, 0.9, rows).clip(0, 14),
        "do": rng.gamma(6.0, 1.1, rows),
        "codmn": rng.gamma(3.0, 1.8, rows),
        "nh3_n": rng.gamma(1.5, 0.6, rows),
        "tp": rng.gamma(1.5, 0.08, rows),
    }
    lake = rng.random(rows) < 0.3

    t1 = best_of(lambda: gb3838.single_factor_class("nh3_n", nh3), args.repeat)
    t2 = best_of(lambda: gb3838.section_class(cols, lake, main=False), args.repeat)
    t3 = best_of(lambda: gb3838.section_class(cols, lake, main=True), 1)
    res = gb3838.section_class(cols, lake, main=True)
    polluted = int(np.count_nonzero(res.class_num > 3))

    # naive baseline on a sample, extrapolated
    s = min(args.sample, n)
    sample = nh3[:s].tolist()
    ind = gb3838.INDICATORS["nh3_n"]
    t0 = time.perf_counter()
    naive = [naive_class(v, ind.limits, ind.kind) for v in sample]
    t_naive_sample = time.perf_counter() - t0
    t_naive = t_naive_sample * n / s
    vec = gb3838.single_factor_class("nh3_n", nh3[:s]).tolist()
    agree = vec == naive

    rate1, rate2 = n / t1, (rows * 5) / t2
    ok = rate1 >= TARGET and rate2 >= TARGET
    print("=" * 72)
    print("gongzhi water-class benchmark (GB 3838-2002, 环办〔2011〕22号)")
    print(f"python {platform.python_version()}, numpy {np.__version__}, "
          f"{platform.machine()}, one core (thread pools = 1); best of {args.repeat}")
    print("-" * 72)
    print(f"1 single_factor_class nh3_n   {n:>12,} values  {t1 * 1e3:9.1f} ms  "
          f"{rate1 / 1e6:8.1f} M values/s")
    print(f"2 section_class 5 indicators  {rows * 5:>12,} values  {t2 * 1e3:9.1f} ms  "
          f"{rate2 / 1e6:8.1f} M values/s  ({rows / t2 / 1e6:.1f} M rows/s)")
    print(f"3 … with main pollutants      {rows * 5:>12,} values  {t3 * 1e3:9.1f} ms  "
          f"{rows * 5 / t3 / 1e6:8.1f} M values/s  ({polluted:,} polluted rows)")
    print(f"4 naive Python loop (baseline) sample {s:,} values in {t_naive_sample * 1e3:.1f} ms, "
          f"EXTRAPOLATED to {n:,}: {t_naive:.2f} s ({n / t_naive / 1e6:.2f} M values/s)")
    print("-" * 72)
    print(f"speed-up of (1) over the naive loop: {t_naive / t1:,.0f}×")
    print(f"vectorised classes equal the naive loop's on the sample: {agree}")
    print(f"target ≥ {TARGET / 1e6:.0f} M values/s for (1) and (2): {'MET' if ok else 'NOT MET'}")
    print("=" * 72)
    return 0 if (agree and ok) else 1


if __name__ == "__main__":
    sys.exit(main())
