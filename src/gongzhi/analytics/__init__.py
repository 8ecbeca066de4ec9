"""Pure time-series analytics on NumPy arrays (no Django): anomaly detection that tells sensor
faults from real events, and the lagged correlations behind source tracing (溯源).

* :mod:`~gongzhi.analytics.series` — regular grids, rolling medians, robust scales;
* :mod:`~gongzhi.analytics.baseline` — per-series baselines by season and hour (:func:`fit_baseline`);
* :mod:`~gongzhi.analytics.anomaly` — the detectors and the :class:`Anomaly` evidence record;
* :mod:`~gongzhi.analytics.verdict` — :func:`assess`: every detector on one station, FAULT / EVENT / UNCERTAIN;
* :mod:`~gongzhi.analytics.tracing` — :func:`rank_sources`: upstream candidates ranked by lagged correlation.

See docs/analytics.md.
"""

from gongzhi.analytics.anomaly import (
    EVENT,
    FAULT,
    UNCERTAIN,
    Anomaly,
    check_do_saturation,
    check_subset,
    detect_drift,
    detect_excursions,
    detect_flags,
    detect_flat,
    detect_out_of_range,
    detect_spikes,
    detect_steps,
    do_saturation,
    prepare,
    rolling_robust_z,
)
from gongzhi.analytics.baseline import Baseline, fit_baseline
from gongzhi.analytics.tracing import Candidate, SourceRank, rank_sources
from gongzhi.analytics.verdict import (
    AIR_SIGNATURE,
    SURFACE_WATER_SIGNATURE,
    Thresholds,
    Upstream,
    assess,
    summarise,
)

__all__ = [
    "FAULT", "EVENT", "UNCERTAIN", "Anomaly", "Baseline", "fit_baseline", "prepare",
    "detect_spikes", "detect_flat", "detect_drift", "detect_steps", "detect_excursions", "detect_out_of_range",
    "detect_flags", "check_subset", "check_do_saturation", "do_saturation", "rolling_robust_z",
    "assess", "summarise", "Upstream", "Thresholds", "SURFACE_WATER_SIGNATURE", "AIR_SIGNATURE",
    "Candidate", "SourceRank", "rank_sources",
]
