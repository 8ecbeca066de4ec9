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
from gongzhi.analytics import Thresholds, Upstream, assess, summarise
from gongzhi.observations.models import QC_INVALIDATING, Observation, Series, SeriesKind
from gongzhi.registry import models as reg

log = logging.getLogger(__name__)

#: History given to the detectors (their baselines are fitted on it).
WINDOW = dt.timedelta(days=3)
#: Upstream sections compared with (nearest first) and how far up.
MAX_UPSTREAM = 2
UPSTREAM_HORIZON_S = 48 * 3600
EPOCH = dt.datetime(1970, 1, 1, tzinfo=dt.timezone.utc)
#: A real-time or minute alarm is judged on its own kind when that kind has this much history
#: before it; otherwise on the station's hour grid (hourly values, then means of finer ones).
NATIVE_HISTORY = dt.timedelta(days=1)


def _code(p: reg.Parameter) -> str:
    return p.code_2017 or p.key


def _station(*, site=None, outlet=None, kind: str, start: dt.datetime, end: dt.datetime, anchor: int | None = None):
    """(times_s, {code: values}, {code: flags}) of every parameter of one place on the times of
    ``anchor`` (a series id; default: the series with most values)."""
    holder = {"site": site} if site is not None else {"outlet": outlet}
    series = list(Series.objects.filter(kind=kind, **holder).select_related("parameter"))
    if not series:
        return None
    by = _values(series, start, end)
    if anchor is None or anchor not in by:
        if not by:
            return None
        anchor = max(by, key=lambda s: len(by[s]))
    times = sorted(by[anchor])
    return _aligned(by, times, {s.pk: _code(s.parameter) for s in series})


def _values(series, start, end) -> dict[int, dict]:
    """series id → {time: (value or NaN, flag)}; invalidated values are NaN."""
    rows = Observation.objects.filter(series__in=series, time__gte=start, time__lt=end).values_list(
        "series_id", "time", "value", "flag", "qc")
    by: dict[int, dict] = {}
    for sid, t, v, f, q in rows:
        by.setdefault(sid, {})[t] = (np.nan if v is None or (q or 0) & QC_INVALIDATING else v, f or "")
    return by


def _aligned(by: dict, times: list, code_of: dict):
    """Every key of ``by`` with a code in ``code_of``, aligned on ``times`` (NaN where missing)."""
    times_s = np.array([(t - EPOCH).total_seconds() for t in times])
    values, flags = {}, {}
    for key, code in code_of.items():
        got = by.get(key)
        if not got:
            continue
        values[code] = np.array([got.get(t, (np.nan, ""))[0] for t in times], dtype=float)
        flags[code] = np.array([got.get(t, (np.nan, ""))[1] for t in times], dtype=object)
    return times_s, values, flags


def _hour(t: dt.datetime) -> dt.datetime:
    return t.replace(minute=0, second=0, microsecond=0)


def _slot(samples: list[tuple[float, str]]) -> tuple[float, str]:
    """One hourly slot from finer samples: the mean of the valid values; the flag of the hour by
    the water rule of HJ 212-2017 Appendix C (any abnormal sample makes the period abnormal: the
    most frequent abnormal flag)."""
    vals = [v for v, _ in samples if np.isfinite(v)]
    abnormal = [f for _, f in samples if f and f != "N"]
    flag = max(set(abnormal), key=abnormal.count) if abnormal else "N"
    return (float(np.mean(vals)) if vals else np.nan), flag


def _hourly_station(*, site=None, outlet=None, start: dt.datetime, end: dt.datetime, anchor_parameter: int | None = None,
                    since: dt.datetime | None = None):
    """The station on the hour grid from what it has: its hourly values where they exist, the mean
    of its real-time and minute values where not. With ``since`` (the alarm's start), the slot of
    that hour holds the mean of the finer values from ``since`` on: the level the alarm saw, not
    diluted by the clean part of the hour. ``anchor_parameter``: the parameter whose slots give the
    times (default: the parameter with most slots). None when the place has no data."""
    holder = {"site": site} if site is not None else {"outlet": outlet}
    series = list(Series.objects.filter(kind__in=(SeriesKind.HOUR, SeriesKind.MINUTE, SeriesKind.REALTIME), **holder)
                  .select_related("parameter"))
    if not series:
        return None
    by = _values(series, start, end)
    since_hour = _hour(since) if since is not None else None
    # parameter → hour → value; hourly series first, finer kinds fill what they leave
    hourly: dict[int, dict] = {}
    finer: dict[int, dict[dt.datetime, list]] = {}
    for s in series:
        got = by.get(s.pk)
        if not got:
            continue
        if s.kind == SeriesKind.HOUR:
            hourly.setdefault(s.parameter_id, {}).update(got)
        else:
            f = finer.setdefault(s.parameter_id, {})
            for t, vf in got.items():
                h = _hour(t)
                if since_hour is not None and h == since_hour and t < since:
                    continue
                f.setdefault(h, []).append(vf)
    merged: dict[int, dict] = {}
    for pid in set(hourly) | set(finer):
        m = dict(hourly.get(pid, {}))
        for h, samples in finer.get(pid, {}).items():
            if h not in m or (since_hour is not None and h == since_hour):
                m[h] = _slot(samples)
        merged[pid] = m
    if not merged:
        return None
    if anchor_parameter not in merged:
        anchor_parameter = max(merged, key=lambda k: len(merged[k]))
    times = sorted(merged[anchor_parameter])
    params = {s.parameter_id: s.parameter for s in series}
    return _aligned(merged, times, {pid: _code(params[pid]) for pid in merged})


def _native_enough(station, started_at: dt.datetime) -> bool:
    """Has the alarm's own kind a day of history before the alarm (baselines need it)?"""
    if station is None:
        return False
    times_s = station[0]
    before = times_s[times_s < (started_at - EPOCH).total_seconds()]
    return before.size >= 24 and before[-1] - before[0] >= NATIVE_HISTORY.total_seconds()


def judge(alarm, *, now: dt.datetime | None = None) -> dict | None:
    """The verdict on ``alarm``'s condition: ``{"verdict", "tests", "reasons", "anomalies"}``, or
    None when there is nothing to judge with. Never raises (a failure is logged)."""
    try:
        return _judge(alarm, now)
    except Exception:
        log.exception("verdict of alarm %s failed", alarm.pk)
        return None


#: data kinds by how much evidence a verdict on them had (finer: more samples)
_FINENESS = {SeriesKind.REALTIME: 3, SeriesKind.MINUTE: 2, SeriesKind.HOUR: 1}
#: how long a period an aggregate alarm's condition covers, from its start
PERIOD = {"hour": dt.timedelta(hours=1), "day": dt.timedelta(days=1)}


def _inherited(alarm) -> dict | None:
    """The verdict of a value alarm on the same place and parameter that began in this aggregate
    alarm's period (or the hour before it): the mean of a period a faulty analyser spoilt is as
    faulty as the values were. Of several, the one judged on the finest data wins (real-time,
    then minute, then hourly values: more samples, more evidence), then a FAULT over an EVENT;
    None when there is none."""
    from gongzhi.alerts.models import Alarm

    span = PERIOD.get(alarm.data)
    if span is None:
        return None
    found = []
    for other in (Alarm.objects.filter(data="value", parameter_id=alarm.parameter_id, site_id=alarm.site_id,
                                       outlet_id=alarm.outlet_id, started_at__gte=alarm.started_at - dt.timedelta(hours=1),
                                       started_at__lt=alarm.started_at + span)
                  .exclude(pk=alarm.pk).select_related("series").only("pk", "evidence", "started_at", "series__kind")):
        v = (other.evidence or {}).get("verdict") or {}
        if v.get("verdict") in ("FAULT", "EVENT"):
            found.append((_FINENESS.get(other.series.kind, 0), v["verdict"] == "FAULT", other.started_at, other.pk, v))
    if not found:
        return None
    *_, pk, v = max(found, key=lambda f: f[:3])
    return {**v, "inherited_from": pk,
            "reasons": [f"the verdict of value alarm #{pk} in this period"] + list(v.get("reasons", []))[:7]}


def _judge(alarm, now) -> dict | None:
    aggregate = alarm.data != "value"
    if aggregate:  # an hour or day mean: the verdict of its values, else judged on the hour grid
        inherited = _inherited(alarm)
        if inherited is not None or alarm.data not in PERIOD:
            return inherited
    site, outlet = alarm.site, alarm.outlet
    kind = "outlet" if outlet is not None else ("air" if site.kind == reg.SiteKind.AIR_STATION else "section")
    end = max(now or alarm.raised_at, alarm.started_at) + dt.timedelta(minutes=1)
    start = alarm.started_at - WINDOW
    station = _station(site=site, outlet=outlet, kind=alarm.series.kind, start=start, end=end, anchor=alarm.series_id)
    hourly = aggregate or (alarm.series.kind in (SeriesKind.REALTIME, SeriesKind.MINUTE)
                           and not _native_enough(station, alarm.started_at))
    if hourly:  # e.g. a station whose history is hourly and whose real-time data began lately
        station = _hourly_station(site=site, outlet=outlet, start=start, end=end,
                                  anchor_parameter=alarm.parameter_id, since=alarm.started_at)
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
                if a.code not in sites:
                    continue
                up_start = start - dt.timedelta(seconds=a.travel_time_s)
                st = (_hourly_station(site=sites[a.code], start=up_start, end=end) if hourly else
                      _station(site=sites[a.code], kind=alarm.series.kind, start=up_start, end=end, anchor=None))
                if st is not None and st[0].size >= 12:
                    upstream.append(Upstream(a.code, st[0], st[1], a.travel_time_s))
    started_s = (alarm.started_at - EPOCH).total_seconds()
    # on the hour grid the alarm's own slot is a sustained level (the mean since the alarm began),
    # not one sample: whether it "came straight back" cannot be told there, so the spike test is
    # left out and one slot off the baseline band is an excursion
    extra = dict(skip={"spike"}, thresholds=Thresholds(excursion_min_points=1)) if hourly else {}
    anomalies = assess(times_s, values, flags=flags, kind=kind, upstream=upstream, since_s=started_s - 3600, **extra)
    code = _code(alarm.parameter)
    mine = [f for f in summarise(anomalies) if f["parameter"] == code and f["end_s"] >= started_s - 3600]
    if not mine:
        return {"verdict": None, "tests": [], "reasons": ["no anomaly against the learned baseline"], "anomalies": [],
                "upstream": [u.name for u in upstream], "resolution": "hour" if hourly else alarm.series.kind}
    f = max(mine, key=lambda g: (g["verdict"] == "FAULT", g["end_s"]))
    reasons = []
    for a in f["anomalies"]:
        for r in a.reasons:
            if r not in reasons:
                reasons.append(r)
    return {"verdict": f["verdict"], "tests": f["tests"], "reasons": reasons[:8],
            "anomalies": [_brief(a) for a in f["anomalies"][:5]], "upstream": [u.name for u in upstream],
            "resolution": "hour" if hourly else alarm.series.kind}


def _brief(a) -> dict:
    return {"test": a.test, "verdict": a.verdict, "observed": _num(a.observed), "expected": _num(a.expected),
            "statistic": _num(a.statistic), "statistic_name": a.statistic_name, "threshold": _num(a.threshold),
            "start": (EPOCH + dt.timedelta(seconds=a.start_s)).isoformat(),
            "end": (EPOCH + dt.timedelta(seconds=a.end_s)).isoformat()}


def _num(x):
    return round(float(x), 4) if x is not None and np.isfinite(x) else None
