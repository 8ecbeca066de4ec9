"""Fault or pollution? The verdict of :mod:`gongzhi.analytics` on a new alarm (故障 vs 污染).

When a value alarm opens at a site or outlet, :func:`judge` gives the analytics package the last
days of every parameter of that place (same data kind, aligned on the alarm series' times, HJ 212
codes as keys, device flags beside) and of the nearest upstream sections (with their travel
times), and reads back the finding for the alarm's parameter: ``FAULT`` (the instrument, not the
water), ``EVENT`` (the water really changed) or ``UNCERTAIN``, with the reasons. A ``FAULT`` alarm
stays with its owner (labelled, to be checked on site) and sends no downstream warning.
"""

from __future__ import annotations

import datetime as dt
import logging

import numpy as np

from gongzhi.alerts import propagation
from gongzhi.analytics import Upstream, assess, summarise
from gongzhi.observations.models import QC_INVALIDATING, Observation, Series
from gongzhi.registry import models as reg

log = logging.getLogger(__name__)

#: History given to the detectors (their baselines are fitted on it).
WINDOW = dt.timedelta(days=3)
#: Upstream sections compared with (nearest first) and how far up.
MAX_UPSTREAM = 2
UPSTREAM_HORIZON_S = 48 * 3600
EPOCH = dt.datetime(1970, 1, 1, tzinfo=dt.timezone.utc)


def _code(p: reg.Parameter) -> str:
    return p.code_2017 or p.key


def _station(*, site=None, outlet=None, kind: str, start: dt.datetime, end: dt.datetime, anchor: int | None = None):
    """(times_s, {code: values}, {code: flags}) of every parameter of one place on the times of
    ``anchor`` (a series id; default: the series with most values)."""
    holder = {"site": site} if site is not None else {"outlet": outlet}
    series = list(Series.objects.filter(kind=kind, **holder).select_related("parameter"))
    if not series:
        return None
    rows = list(Observation.objects.filter(series__in=series, time__gte=start, time__lt=end)
                .values_list("series_id", "time", "value", "flag", "qc"))
    by: dict[int, dict] = {}
    for sid, t, v, f, q in rows:
        by.setdefault(sid, {})[t] = (np.nan if v is None or (q or 0) & QC_INVALIDATING else v, f or "")
    if anchor is None or anchor not in by:
        if not by:
            return None
        anchor = max(by, key=lambda s: len(by[s]))
    times = sorted(by[anchor])
    times_s = np.array([(t - EPOCH).total_seconds() for t in times])
    values, flags = {}, {}
    for s in series:
        got = by.get(s.pk)
        if not got:
            continue
        code = _code(s.parameter)
        values[code] = np.array([got.get(t, (np.nan, ""))[0] for t in times], dtype=float)
        flags[code] = np.array([got.get(t, (np.nan, ""))[1] for t in times], dtype=object)
    return times_s, values, flags


def judge(alarm, *, now: dt.datetime | None = None) -> dict | None:
    """The verdict on ``alarm``'s condition: ``{"verdict", "tests", "reasons", "anomalies"}``, or
    None when there is nothing to judge with. Never raises (a failure is logged)."""
    try:
        return _judge(alarm, now)
    except Exception:
        log.exception("verdict of alarm %s failed", alarm.pk)
        return None


def _judge(alarm, now) -> dict | None:
    if alarm.data != "value":
        return None
    site, outlet = alarm.site, alarm.outlet
    kind = "outlet" if outlet is not None else ("air" if site.kind == reg.SiteKind.AIR_STATION else "section")
    end = max(now or alarm.raised_at, alarm.started_at) + dt.timedelta(minutes=1)
    start = alarm.started_at - WINDOW
    station = _station(site=site, outlet=outlet, kind=alarm.series.kind, start=start, end=end, anchor=alarm.series_id)
    if station is None:
        return None
    times_s, values, flags = station
    if times_s.size < 12:
        return None
    upstream = []
    if site is not None and kind == "section":
        net = propagation.build_network()
        if site.code in net.sites:
            ups = [a for a in net.upstream(site.code, kind="site", max_time_s=UPSTREAM_HORIZON_S, include_nodes=False)
                   if a.kind == "site"][:MAX_UPSTREAM]
            sites = {s.code: s for s in reg.Site.objects.filter(code__in=[a.code for a in ups])}
            for a in ups:
                st = _station(site=sites[a.code], kind=alarm.series.kind, start=start - dt.timedelta(seconds=a.travel_time_s),
                              end=end, anchor=None) if a.code in sites else None
                if st is not None and st[0].size >= 12:
                    upstream.append(Upstream(a.code, st[0], st[1], a.travel_time_s))
    started_s = (alarm.started_at - EPOCH).total_seconds()
    anomalies = assess(times_s, values, flags=flags, kind=kind, upstream=upstream, since_s=started_s - 3600)
    code = _code(alarm.parameter)
    mine = [f for f in summarise(anomalies) if f["parameter"] == code and f["end_s"] >= started_s - 3600]
    if not mine:
        return {"verdict": None, "tests": [], "reasons": ["no anomaly against the learned baseline"], "anomalies": [],
                "upstream": [u.name for u in upstream]}
    f = max(mine, key=lambda g: (g["verdict"] == "FAULT", g["end_s"]))
    reasons = []
    for a in f["anomalies"]:
        for r in a.reasons:
            if r not in reasons:
                reasons.append(r)
    return {"verdict": f["verdict"], "tests": f["tests"], "reasons": reasons[:8],
            "anomalies": [_brief(a) for a in f["anomalies"][:5]], "upstream": [u.name for u in upstream]}


def _brief(a) -> dict:
    return {"test": a.test, "verdict": a.verdict, "observed": _num(a.observed), "expected": _num(a.expected),
            "statistic": _num(a.statistic), "statistic_name": a.statistic_name, "threshold": _num(a.threshold),
            "start": (EPOCH + dt.timedelta(seconds=a.start_s)).isoformat(),
            "end": (EPOCH + dt.timedelta(seconds=a.end_s)).isoformat()}


def _num(x):
    return round(float(x), 4) if x is not None and np.isfinite(x) else None
