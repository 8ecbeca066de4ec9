"""Telling a sensor fault from a real event (故障 vs 污染): run every detector on all parameters of
one station and judge each anomaly with the evidence around it.

:func:`assess` is the entry point for the alerts app. For each anomaly it looks at

1. **the test itself** — out of range, flat line, device flag, an impossible pair (NH3-N > TN,
   PM2.5 > PM10, DO > 200 % saturation) prove an instrument problem: FAULT;
2. **related parameters of the same station** at the same time — pollution moves a *signature*
   of parameters together (at a river section: NH3-N, CODMn, TP, TN and conductivity up, DO and
   pH down); a single instrument's fault moves one;
3. **the upstream neighbours**, lagged by the travel time — water that is really polluted was
   seen upstream first (unless the source is between the two stations); a fault is local.

Verdict rules, in order (the reasons list every piece of evidence used):

* a hard-fault test, or an anomaly whose strongest value lies in one on the same parameter → FAULT;
* a spike (one sample, straight back) → FAULT unless at least two related parameters spiked with
  it in the signature direction (upstream does not count: a plume that travelled is never one
  sample wide);
* corroborated by ≥ 1 related parameter in the signature direction, or the upstream neighbour
  showed the same change about one travel time earlier → EVENT;
* a drift, step or excursion with neither, where related parameters or upstream data were there
  to show it → FAULT ("a single-parameter jump that nothing else saw");
* at a discharge outlet (``kind="outlet"``), a sustained excursion or step with no fault sign
  → EVENT (a discharge's pollutants change independently: process upsets are real);
* otherwise UNCERTAIN (nothing to compare with).

A drift that related parameters or upstream share is a real slow change of the water (season,
weather, flow): neither an instrument drift nor a warning, so it is dropped unless asked for.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Collection, Mapping, Sequence

import numpy as np

from gongzhi.analytics.anomaly import (
    EVENT,
    FAULT,
    FLAG_VERDICTS,
    UNCERTAIN,
    Anomaly,
    Prepared,
    check_do_saturation,
    check_subset,
    detect_drift,
    detect_excursions,
    detect_flags,
    detect_flat,
    detect_out_of_range,
    detect_spikes,
    detect_steps,
    drift_statistic,
    normalise_flags,
    prepare,
)
from gongzhi.analytics.baseline import Baseline
from gongzhi.analytics.series import rolling_nanmedian

__all__ = [
    "Upstream", "Thresholds", "assess", "SURFACE_WATER_SIGNATURE", "AIR_SIGNATURE", "OUTLET_SIGNATURE",
    "SUBSET_PAIRS", "HARD_FAULT_TESTS", "summarise",
]

#: River section (断面): parameters that move together when polluted water passes, and their
#: direction. Organic and nutrient loads raise ammonia nitrogen (w21003), permanganate index
#: (w01019), total phosphorus (w21011) and total nitrogen (w21001); effluent carries dissolved
#: ions, raising conductivity (w01014); oxidising the load consumes dissolved oxygen (w01009)
#: and its acids lower pH (w01001). Water temperature (w01010) is not part of it.
SURFACE_WATER_SIGNATURE: dict[str, int] = {"w21003": 1, "w01019": 1, "w21011": 1, "w21001": 1, "w01014": 1,
                                           "w01009": -1, "w01001": -1}
#: Ambient air station: PM2.5 (a34004), PM10 (a34002) and CO (a21005) rise together under
#: stagnant air and combustion; NO2, SO2 and O3 have their own sources and chemistry.
AIR_SIGNATURE: dict[str, int] = {"a34004": 1, "a34002": 1, "a21005": 1}
#: Discharge outlet: none by default — an outlet's pollutants change independently (see module doc).
OUTLET_SIGNATURE: dict[str, int] = {}
#: (part, whole) pairs checked by :func:`gongzhi.analytics.anomaly.check_subset`
SUBSET_PAIRS: tuple[tuple[str, str], ...] = (("w21003", "w21001"), ("a34004", "a34002"))
#: tests whose firing alone shows the instrument is wrong
HARD_FAULT_TESTS = frozenset({"range", "flat", "subset", "do_saturation"})


@dataclass(frozen=True)
class Upstream:
    """An upstream neighbour: its series (``values`` per parameter code on ``times``) and the
    travel time of water from it to the station judged (seconds)."""

    name: str
    times: object
    values: Mapping[str, object]
    travel_time_s: float
    baselines: Mapping[str, Baseline] = field(default_factory=dict)


@dataclass(frozen=True)
class Thresholds:
    spike_k: float = 8.0
    excursion_k: float = 4.5
    excursion_min_points: int = 2
    step_k: float = 6.0
    step_window: int = 6
    drift_k: float = 4.0
    drift_window_s: float = 96 * 3600
    corroborate_k: float = 3.0  # a related parameter's |z| in the signature direction
    upstream_k: float = 4.0  # the upstream neighbour's z in the same direction, before the station's
    upstream_tolerance: float = 0.3  # ± share of the travel time searched (velocity uncertainty)
    subset_rel_tol: float = 0.1


def _flagged_bad(flags, n: int) -> np.ndarray | None:
    """Samples whose HJ 212 flag says the value is not a measurement of the water (D, F, B, C, M)."""
    if flags is None:
        return None
    f = np.asarray(flags, dtype=object)
    if f.ndim != 1 or f.shape[0] != n:
        return None
    bad = [k for k, (verdict, _) in FLAG_VERDICTS.items() if verdict == FAULT]
    return np.isin(normalise_flags(f), bad)


def _window(p: Prepared, start_s: float, end_s: float, pad: int = 1) -> slice:
    i0 = int(np.floor((start_s - p.grid.t0) / p.grid.step)) - pad
    i1 = int(np.ceil((end_s - p.grid.t0) / p.grid.step)) + pad + 1
    return slice(max(0, i0), max(0, min(p.grid.n, i1)))


def _direction(a: Anomaly) -> int:
    """+1 when the anomaly went up, −1 when down (by its signed statistic where it has one)."""
    if a.test in ("spike", "excursion", "step", "drift"):
        return 1 if a.statistic > 0 else -1
    return 1 if a.observed >= a.expected else -1


def _step_z(p: Prepared, w: int) -> np.ndarray:
    """Median shift at each slot (after − before, ``w`` slots each, profile removed) / global scale."""
    y = p.x - p.profile
    before = rolling_nanmedian(np.concatenate([[np.nan], y[:-1]]), w - 1, min_count=max(1, w // 2))
    after = rolling_nanmedian(y, 0, w - 1, min_count=max(1, w // 2))
    return (after - before) / p.baseline.global_scale


class _Signals:
    """The evidence arrays of a prepared series, each computed once when first asked for: the
    baseline z, and the spike, step and drift statistics (like is compared with like: a change at
    a change point with changes, a level with levels)."""

    def __init__(self, p: Prepared, w: int, drift_window_s: float) -> None:
        self.p, self.w = p, w
        self.drift_slots = max(4, int(round(drift_window_s / p.grid.step)))
        self._cache: dict[str, np.ndarray] = {}

    def of(self, test: str) -> np.ndarray:
        if test == "step":
            if "step" not in self._cache:
                self._cache["step"] = _step_z(self.p, self.w)
            return self._cache["step"]
        if test == "spike":
            if "spike" not in self._cache:
                m = rolling_nanmedian(self.p.x, 2, 2, skip_center=True, min_count=2)
                self._cache["spike"] = (self.p.x - m) / self.p.baseline.spike_scale
            return self._cache["spike"]
        if test == "drift":
            if "drift" not in self._cache:
                self._cache["drift"] = drift_statistic(self.p, self.drift_slots)[0]
            return self._cache["drift"]
        return self.p.z


def _signed_peak(p: Prepared, sl: slice, direction: int, z: np.ndarray | None = None) -> tuple[float, int]:
    """Largest z in ``direction`` over the slice, and the number of valid values there."""
    z = (p.z if z is None else z)[sl]
    ok = np.isfinite(z)
    if not ok.any():
        return float("nan"), 0
    return float(np.max(direction * z[ok])), int(ok.sum())


def assess(times, values: Mapping[str, object], *, flags: Mapping[str, object] | None = None,
           baselines: Mapping[str, Baseline] | None = None,
           ranges: Mapping[str, tuple[float | None, float | None]] | None = None,
           signature: Mapping[str, int] | None = None, kind: str = "section",
           upstream: Sequence[Upstream] = (), thresholds: Thresholds | None = None,
           since_s: float | None = None, skip: Collection[str] = (),
           keep_shared_drifts: bool = False) -> list[Anomaly]:
    """All anomalies of one station, each with its verdict and reasons.

    ``times``: sample times (epoch seconds or datetime64) shared by every parameter;
    ``values``: parameter code → values (NaN = missing); ``flags``: code → HJ 212 data flag per
    sample (optional); ``baselines``: code → :class:`Baseline` learned from history (fitted on
    the values given when absent); ``ranges``: code → physically possible ``(low, high)``;
    ``signature``: the parameters that move together in pollution (default by ``kind``:
    ``section`` → :data:`SURFACE_WATER_SIGNATURE`, ``air`` → :data:`AIR_SIGNATURE`,
    ``outlet`` → none); values flagged D, F, B, C or M are reported by the flag test and left
    out of every other test (they do not measure the water); ``upstream``: neighbours with travel times; ``since_s``: report only
    anomalies ending at or after this time (the values before serve as history); ``skip``:
    names of tests not to run (e.g. ``{"subset"}`` for data known to break NH3-N ≤ TN);
    ``keep_shared_drifts``: also return drifts that related parameters or upstream shared (a
    real slow change of the water — season, weather, flow — not an instrument drift and not a
    warning; dropped by default).

    Bad input gives defined outcomes: an empty or all-NaN series has no anomalies; a parameter
    whose values do not match ``times`` in length is skipped with nothing reported for it (the
    others are still judged); an upstream neighbour with unusable data is ignored. Times that are
    not a time series (see :func:`gongzhi.analytics.series.regular`) raise ``ValueError``."""
    th = thresholds or Thresholds()
    baselines = baselines or {}
    ranges = ranges or {}
    flags = flags or {}
    if signature is None:
        signature = {"section": SURFACE_WATER_SIGNATURE, "air": AIR_SIGNATURE}.get(kind, OUTLET_SIGNATURE)
    n_times = np.asarray(times).shape[0] if np.ndim(times) else 0

    prepared: dict[str, Prepared] = {}
    clean: dict[str, np.ndarray] = {}
    for code, v in values.items():
        arr = np.asarray(v, float)
        if arr.ndim != 1 or arr.shape[0] != n_times:
            continue
        bad = _flagged_bad(flags.get(code), n_times)
        if bad is not None and bad.any():
            arr = np.where(bad, np.nan, arr)  # known-bad values judge nothing; their flag is reported
        clean[code] = arr
        prepared[code] = prepare(times, arr, baseline=baselines.get(code), parameter=code)

    found: list[Anomaly] = []
    for code, p in prepared.items():
        if "spike" not in skip:
            found += detect_spikes(p, k=th.spike_k)
        if "flat" not in skip:
            found += detect_flat(p)
        if "excursion" not in skip:
            found += detect_excursions(p, k=th.excursion_k, min_points=th.excursion_min_points)
        if "step" not in skip:
            found += detect_steps(p, window=th.step_window, k=th.step_k)
        if "drift" not in skip:
            found += detect_drift(p, window_s=th.drift_window_s, k=th.drift_k)
        if code in ranges and "range" not in skip:
            lo, hi = ranges[code]
            found += detect_out_of_range(p, low=lo, high=hi)
        fl = flags.get(code)
        if fl is not None and np.asarray(fl).shape[0] == n_times and "flag" not in skip:
            found += detect_flags(times, fl, parameter=code, values=values[code])
    for part, whole in SUBSET_PAIRS:
        if part in prepared and whole in prepared and "subset" not in skip:
            found += check_subset(times, clean[part], clean[whole], part_name=part, whole_name=whole,
                                  rel_tol=th.subset_rel_tol)
    if "w01009" in prepared and "w01010" in prepared and kind == "section" and "do_saturation" not in skip:
        found += check_do_saturation(times, clean["w01009"], clean["w01010"])

    up_prepared: list[tuple[Upstream, dict[str, Prepared]]] = []
    for u in upstream:
        m = {}
        nu = np.asarray(u.times).shape[0] if np.ndim(u.times) else 0
        for code, v in u.values.items():
            arr = np.asarray(v, float)
            if arr.ndim == 1 and arr.shape[0] == nu:
                try:
                    m[code] = prepare(u.times, arr, baseline=u.baselines.get(code), parameter=code)
                except (ValueError, TypeError):  # a neighbour's bad times never cost the station its verdicts
                    continue
        up_prepared.append((u, m))

    sig = {c: _Signals(p, th.step_window, th.drift_window_s) for c, p in prepared.items()}
    up_sig = [(u, {c: _Signals(p, th.step_window, th.drift_window_s) for c, p in m.items()}) for u, m in up_prepared]
    hard = [a for a in found if a.verdict == FAULT]
    out = []
    for a in found:
        if since_s is not None and a.end_s < since_s:
            continue
        judged = a if a.verdict != UNCERTAIN or a.test == "flag" else _judge(a, sig, signature, up_sig, hard, kind, th)
        if judged.test == "drift" and judged.verdict == EVENT and not keep_shared_drifts:
            continue
        out.append(judged)
    return sorted(out, key=lambda x: (x.start_s, x.parameter, x.test))


def _judge(a: Anomaly, prepared: Mapping[str, _Signals], signature: Mapping[str, int],
           upstream: Sequence[tuple[Upstream, Mapping[str, _Signals]]], hard: Sequence[Anomaly], kind: str,
           th: Thresholds) -> Anomaly:
    code = a.parameter
    d = _direction(a)
    # a step is compared with steps at the same change point (± 2 slots), a drift with drifts
    # (level change over the same window) at its peak (± 2 slots), anything else with baseline z
    # over its span (± 1 slot)
    a_start, a_end, pad = a.start_s, a.end_s, 1
    if a.test == "spike":
        pad = 0
    elif a.test == "step":
        a_end, pad = a.start_s, 2
    elif a.test == "drift":
        a_start = a_end = a.peak_s
        pad = 2
    # 1. overlap with a proven instrument problem on the same parameter
    for h in hard:
        if h.parameter == code and h is not a and h.start_s <= a.peak_s <= h.end_s:
            return a.with_verdict(FAULT, f"its strongest value lies in a {h.test} anomaly of the same instrument")

    # 2. related parameters of the same station
    corroborating, quiet = [], []
    if code in signature:
        for q, sq in signature.items():
            if q == code or q not in prepared:
                continue
            s_q = prepared[q]
            want = d * signature[code] * sq
            peak, n = _signed_peak(s_q.p, _window(s_q.p, a_start, a_end, pad), want, s_q.of(a.test))
            if n == 0:
                continue
            (corroborating if peak > th.corroborate_k else quiet).append((q, round(peak, 2)))

    # 3. upstream, one travel time earlier
    showed, silent = [], []
    for u, m in upstream:
        if code not in m or a.test == "spike":  # a plume that travelled is never one sample wide
            continue
        s_u = m[code]
        p = s_u.p
        zu = s_u.of(a.test)
        tau = u.travel_time_s
        tol = max(2 * p.grid.step, th.upstream_tolerance * tau)
        # upstream must show it first: only times before the station's own start count
        sl = _window(p, a_start - tau - tol, min(a_end - tau + tol, a_start - p.grid.step), pad=0)
        peak, n = _signed_peak(p, sl, d, zu)
        if n == 0:
            continue
        ip = sl.start + int(np.nanargmax(d * np.nan_to_num(zu[sl], nan=-np.inf)))
        lag = a_start - p.grid.at(ip)
        rec = {"upstream": u.name, "peak_z": round(peak, 2), "travel_time_s": tau, "lag_s": lag}
        (showed if peak > th.upstream_k else silent).append(rec)

    details = {"corroborating": corroborating, "quiet_related": quiet, "upstream_showed": showed,
               "upstream_silent": silent}
    if a.test == "spike" and len(corroborating) < 2:
        why = "one sample that came straight back"
        if quiet or len(corroborating) == 1:
            why += ", with no change in related parameters (at most one moved with it)"
        return a.with_verdict(FAULT, why, **details)
    if corroborating or showed:
        why = []
        if corroborating:
            why.append("related parameters moved with it: " + ", ".join(f"{q} (z {z:+g})" for q, z in corroborating))
        if showed:
            why.append("upstream showed it first: " + ", ".join(
                f"{s['upstream']} z {s['peak_z']:+g} {s['lag_s'] / 3600:.1f} h earlier (travel {s['travel_time_s'] / 3600:.1f} h)"
                for s in showed))
        return a.with_verdict(EVENT, *why, **details)
    if quiet or silent:
        why = []
        if quiet:
            why.append("related parameters did not move: " + ", ".join(f"{q} (z {z:+g})" for q, z in quiet))
        if silent:
            why.append("upstream did not show it: " + ", ".join(f"{s['upstream']} (z {s['peak_z']:+g})" for s in silent))
        return a.with_verdict(FAULT, f"single-parameter {a.test} that nothing else saw", *why, **details)
    if kind == "outlet" and a.test in ("excursion", "step"):
        return a.with_verdict(EVENT, "sustained change of a discharge with no fault sign (not isolated, not flat, "
                                     "no device flag, within range)", **details)
    return a.with_verdict(UNCERTAIN, "no related parameter or upstream data to compare with", **details)


def summarise(anomalies: Sequence[Anomaly], *, gap_s: float = 0.0) -> list[dict]:
    """Group overlapping anomalies of one parameter (within ``gap_s``) into findings — one per
    condition, for an alarm: ``{"parameter", "start_s", "end_s", "verdict", "tests", "anomalies"}``.
    The verdict of a group: FAULT when hard faults or device flags cover at least half of its
    span, or when there is one and the other members do not call it an event more often than a
    fault; else the majority of the decided members (EVENT/FAULT), UNCERTAIN on a tie."""
    by_param: dict[str, list[Anomaly]] = {}
    for a in sorted(anomalies, key=lambda x: x.start_s):
        by_param.setdefault(a.parameter, []).append(a)
    out = []
    for code, items in by_param.items():
        group: list[Anomaly] = []
        end = -np.inf
        for a in items + [None]:
            if a is not None and (not group or a.start_s <= end + gap_s):
                group.append(a)
                end = max(end, a.end_s)
                continue
            if group:
                out.append(_group(code, group))
            group, end = ([a], a.end_s) if a is not None else ([], -np.inf)
    return sorted(out, key=lambda g: g["start_s"])


def _group(code: str, group: list[Anomaly]) -> dict:
    start, end = min(a.start_s for a in group), max(a.end_s for a in group)
    hard = [a for a in group if a.test in HARD_FAULT_TESTS or (a.test == "flag" and a.verdict == FAULT)]
    cover = _covered([(a.start_s, a.end_s) for a in hard]) / max(end - start, 1.0) if hard else 0.0
    f = sum(a.verdict == FAULT for a in group if a not in hard)
    e = sum(a.verdict == EVENT for a in group)
    if cover >= 0.5 or (hard and f >= e):
        verdict = FAULT
    else:
        verdict = FAULT if f > e else EVENT if e > f else UNCERTAIN
    return {"parameter": code, "start_s": start, "end_s": end, "verdict": verdict,
            "tests": sorted({a.test for a in group}), "anomalies": group}


def _covered(spans: list[tuple[float, float]]) -> float:
    total, cur_s, cur_e = 0.0, None, None
    for s, e in sorted(spans):
        if cur_e is None or s > cur_e:
            if cur_e is not None:
                total += cur_e - cur_s
            cur_s, cur_e = s, e
        else:
            cur_e = max(cur_e, e)
    if cur_e is not None:
        total += cur_e - cur_s
    return total
