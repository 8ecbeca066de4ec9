"""The Django glue around :mod:`gongzhi.alerts.engine`: compiling rules, feeding data, timers.

Data reaches the evaluator three ways:

1. **Live, after commit.** :func:`gongzhi.observations.services.write_observations` (HJ 212
   gateway, partner push, file import, backfill — every channel) calls its write listeners
   once the transaction that stored the values has committed; :func:`install` registers
   :meth:`LiveEvaluator.submit`, which only puts the rows on an in-process queue and returns,
   so the gateway's commit-then-acknowledge path is never slowed or endangered. An evaluator
   thread consumes the queue. Recomputed hour/day aggregates arrive the same way
   (:func:`gongzhi.observations.aggregates.add_aggregate_listener`).
2. **Durable catch-up.** :func:`catch_up` reads values *received* (and aggregates *computed*)
   after a high-water mark (:class:`~gongzhi.alerts.models.EvaluationMark`, with an overlap
   for writers that committed out of order) — so nothing is missed after a crash or restart,
   or when a write happened in a process without an evaluator thread. Evaluating a value twice
   is harmless: per stream the engine ignores values not newer than the last one seen, and the
   database keeps one active alarm per condition.
3. **Timer.** :func:`tick` (``gongzhi alerts tick``, and the ``gongzhi demo`` loop) runs the
   catch-up, the missing-data rules and the escalation of overdue downstream warnings.

Values older than :data:`MAX_AGE` (a back-fill of history) are not evaluated: alarms are about now.
"""

from __future__ import annotations

import datetime as dt
import logging
import queue
import threading
import time
from dataclasses import dataclass

from django.db import close_old_connections, connection, transaction
from django.db.models import Count, Max, Q
from django.utils import timezone

from gongzhi.alerts import engine, services
from gongzhi.alerts.models import AlarmRule, DataLevel, EvaluationMark, GroupKind, LimitSource, RuleKind
from gongzhi.observations.importers import unit_factor
from gongzhi.observations.models import QC_INVALIDATING, Aggregate, LatestValue, Observation, Series, SeriesKind
from gongzhi.registry import models as reg
from gongzhi.standards import gb3095, gb3838
from gongzhi.standards.versions import editions_in_force

log = logging.getLogger(__name__)
UTC = dt.timezone.utc
EPOCH = dt.datetime(1970, 1, 1, tzinfo=UTC)

#: Values whose data time is older than this (relative to now) are not evaluated.
MAX_AGE = dt.timedelta(hours=48)
#: The catch-up re-reads this much before its mark (writers commit slightly out of order).
OVERLAP = dt.timedelta(minutes=2)
#: The live evaluator writes its high-water mark at most this often.
MARK_EVERY_S = 2.0

VALUE_KINDS = (SeriesKind.REALTIME, SeriesKind.MINUTE, SeriesKind.HOUR, SeriesKind.DAY, SeriesKind.SAMPLE)
HOUR_KINDS = (SeriesKind.REALTIME, SeriesKind.MINUTE)
DAY_KINDS = (SeriesKind.REALTIME, SeriesKind.MINUTE, SeriesKind.HOUR, SeriesKind.DAY)
_unit_warned: set = set()
PERMIT_DATA = {"instant": DataLevel.VALUE, "hour": DataLevel.HOUR, "day": DataLevel.DAY}


def to_s(t: dt.datetime) -> float:
    return (t - EPOCH).total_seconds()


def from_s(s: float) -> dt.datetime:
    return EPOCH + dt.timedelta(seconds=s)


# --- compiling rules ------------------------------------------------------------------------------


@dataclass
class Compiled:
    index: engine.RuleIndex
    rules: dict[int, AlarmRule]
    series: dict[int, Series]
    limits: dict[tuple, dict]  # (rule, stream) -> {"limit": …, "basis": …}
    version: tuple


def _holders(rule: AlarmRule) -> tuple[Q | None, Q | None]:
    """(sites filter, outlets filter) of a rule's scope; None = none of that kind."""
    if rule.site_id:
        return Q(pk=rule.site_id), None
    if rule.outlet_id:
        return None, Q(pk=rule.outlet_id)
    if rule.group_id:
        g = rule.group
        if g.kind == GroupKind.BOUNDARY:
            return Q(is_boundary=True), None
        if g.kind == GroupKind.DRINKING:
            return Q(drinking_water_source=True), None
        if g.kind == GroupKind.BUREAU:
            return Q(owner_id=g.bureau_id), None
        return Q(pk__in=list(g.sites.values_list("pk", flat=True))), None
    if rule.owner.kind == reg.BureauKind.OFFICE:
        return Q(), Q()
    return Q(owner_id=rule.owner_id), Q(enterprise__owner_id=rule.owner_id)


def _series_for(rule: AlarmRule, kinds) -> list[Series]:
    site_q, outlet_q = _holders(rule)
    q = Q(pk__in=[])
    if site_q is not None:
        q |= Q(site__in=reg.Site.objects.filter(site_q, active=True))
    if outlet_q is not None and rule.limit_source not in (LimitSource.TARGET_CLASS, LimitSource.STANDARD_CLASS,
                                                           LimitSource.AIR_GRADE):
        q |= Q(outlet__in=reg.Outlet.objects.filter(outlet_q))
    qs = Series.objects.filter(q, kind__in=kinds).select_related("site__waterbody", "parameter", "outlet")
    if rule.parameter_id:
        qs = qs.filter(parameter_id=rule.parameter_id)
    return list(qs)


def _class_limits(key: str, cls: int, site: reg.Site | None, unit: str) -> tuple[float | None, float | None] | None:
    ind = gb3838.INDICATORS.get(key)
    if ind is None or site is None:
        return None
    lake = bool(gb3838.is_lake(site.evaluation_waterbody_type or "river"))
    if ind.lake_only and not lake:
        return None
    if ind.kind == "range":
        return gb3838.PH_RANGE[1], gb3838.PH_RANGE[0]
    f = unit_factor(ind.unit, unit or ind.unit)
    if f is None:
        return None
    limits = ind.lake_limits if (lake and ind.lake_limits is not None) else ind.limits
    v = limits[cls - 1] * f
    return (v, None) if ind.kind == "le" else (None, v)


#: length of the aggregate periods the rules judge (a Beijing day is 24 hours: no DST)
PERIOD_S = {"hour": 3600.0, "day": 86400.0}

#: how long a series of each kind is quiet between two values by design (HJ 212: minute data every
#: 10 minutes at pollution sources, hourly data once an hour); added to a missing-data rule's time
EXPECTED_INTERVAL_S = {SeriesKind.MINUTE: 600.0, SeriesKind.HOUR: 3600.0}

#: GB 3095 averaging period compared with each data level: hour means and arriving values (an
#: early warning) with the 1-hour limits, day means with the 24-hour limits
AIR_PERIOD = {DataLevel.VALUE: "1h", DataLevel.HOUR: "1h", DataLevel.DAY: "24h"}


def _air_limit(key: str, grade: int, data: str, unit: str, today: dt.date) -> tuple[float, str] | None:
    """(upper limit in ``unit``, basis) of GB 3095 for pollutant ``key`` at ``data`` level in force
    on ``today``; None when the standard sets no limit for that period (PM has no 1-hour limit,
    O3 no 24-hour one) or the unit cannot be converted."""
    period = AIR_PERIOD[data]
    if key not in gb3095.POLLUTANTS:
        return None
    try:
        v = float(gb3095.limit(key, period, grade=grade, times=[today])[0])
        edition = gb3095.EDITIONS[int(editions_in_force(gb3095.EDITIONS, [today])[0])].code
    except (KeyError, ValueError):
        return None
    std_unit = "mg/m³" if key == "co" else "µg/m³"
    f = unit_factor(std_unit, unit or std_unit)
    if f is None:
        return None
    grade_label = {1: "一级", 2: "二级"}[grade]
    return v * f, f"{edition} {grade_label} {period}"


def _common(rule: AlarmRule) -> dict:
    return {
        "duration_s": rule.duration_minutes * 60.0,
        "hysteresis": (rule.hysteresis_pct or 0.0) / 100.0,
        "min_clear_s": rule.min_clear_minutes * 60.0,
    }


def device_intervals() -> dict[tuple, float]:
    """Real-time interval of the enabled loggers by holder: ``("site", pk)`` / ``("outlet", pk)``."""
    out: dict[tuple, float] = {}
    for site_id, outlet_id, interval in reg.Device.objects.filter(enabled=True).values_list("site_id", "outlet_id",
                                                                                            "interval_s"):
        key = ("site", site_id) if site_id else ("outlet", outlet_id)
        out[key] = max(out.get(key, 0.0), float(interval or 0))
    return out


def sampling_interval(series: Series, data: str, intervals: dict[tuple, float]) -> float:
    """Seconds one value of ``series`` at data level ``data`` stands for."""
    if data == DataLevel.HOUR:
        return 3600.0
    if data == DataLevel.DAY:
        return 86400.0
    if series.kind in EXPECTED_INTERVAL_S:
        return EXPECTED_INTERVAL_S[series.kind]
    if series.kind == SeriesKind.REALTIME:
        key = ("site", series.site_id) if series.site_id else ("outlet", series.outlet_id)
        return intervals.get(key, 0.0)
    return 0.0


def compile_rule(rule: AlarmRule, *, today: dt.date | None = None,
                 intervals: dict[tuple, float] | None = None) -> tuple[list[engine.Check], dict, dict]:
    """The checks of one rule (one per stream it watches), the limit shown for each, and the series used."""
    checks: list[engine.Check] = []
    limits: dict[tuple, dict] = {}
    used: dict[int, Series] = {}
    common = _common(rule)
    kind = rule.kind
    intervals = device_intervals() if intervals is None else intervals

    def add(series: Series, data: str, _basis: str = "", **kw) -> None:
        stream = (series.pk, data)
        try:
            checks.append(engine.Check(rule=rule.pk, stream=stream, interval_s=sampling_interval(series, data, intervals),
                                       **common, **kw))
        except ValueError as exc:
            log.warning("rule %s on series %s skipped: %s", rule.pk, series.pk, exc)
            return
        used[series.pk] = series
        info = {k: kw[k] for k in ("upper", "lower", "rate_per_h", "bloom_level", "missing_s") if kw.get(k) is not None}
        if kw.get("flags"):
            info["flags"] = sorted(kw["flags"])
        limits[(rule.pk, stream)] = {**info, "basis": _basis}

    data = rule.data
    kinds = {DataLevel.VALUE: VALUE_KINDS, DataLevel.HOUR: HOUR_KINDS, DataLevel.DAY: DAY_KINDS}[data]
    if kind == RuleKind.EXCEEDANCE and rule.limit_source in (LimitSource.PERMIT, LimitSource.PERMIT_EARLY):
        early = rule.limit_source == LimitSource.PERMIT_EARLY
        today = today or timezone.localdate()
        site_q, outlet_q = _holders(rule)
        if outlet_q is None:
            return [], {}, {}
        pl = reg.PermitLimit.objects.filter(outlet__in=reg.Outlet.objects.filter(outlet_q)).filter(
            Q(valid_from__isnull=True) | Q(valid_from__lte=today), Q(valid_to__isnull=True) | Q(valid_to__gte=today))
        if rule.parameter_id:
            pl = pl.filter(parameter_id=rule.parameter_id)
        for lim in pl.select_related("parameter"):
            # early warning: values as they arrive against the limit of any averaging period (a
            # warning that the mean may exceed, not a finding of exceedance); else each limit on
            # the data of its own averaging period
            pdata = DataLevel.VALUE if early else PERMIT_DATA.get(lim.period)
            if pdata is None:  # month / year limits are judged by assessments, not alarms
                continue
            pkinds = {DataLevel.VALUE: VALUE_KINDS, DataLevel.HOUR: HOUR_KINDS, DataLevel.DAY: DAY_KINDS}[pdata]
            for s in Series.objects.filter(outlet_id=lim.outlet_id, parameter_id=lim.parameter_id, kind__in=pkinds):
                f = unit_factor(lim.unit, s.unit or lim.unit)
                if f is None:
                    if lim.pk not in _unit_warned:  # once per limit and process, not at every recompile
                        _unit_warned.add(lim.pk)
                        log.warning("permit limit %s (%s): unit %s cannot be compared with the series' unit %s",
                                    lim.pk, lim.parameter.key, lim.unit, s.unit)
                    continue
                up = lim.limit * f if lim.limit is not None else None
                lo = lim.lower * f if lim.lower is not None else None
                basis = f"{lim.standard} ({lim.get_period_display()}{'，实时预警' if early else ''})"
                add(s, pdata, kind=engine.EXCEEDANCE, upper=up, lower=lo, _basis=basis)
        return checks, limits, used
    if kind == RuleKind.MISSING:
        kinds = (SeriesKind.REALTIME, SeriesKind.MINUTE, SeriesKind.HOUR)
    for s in _series_for(rule, kinds):
        if kind == RuleKind.EXCEEDANCE:
            src = rule.limit_source
            if src == LimitSource.FIXED:
                add(s, data, kind=engine.EXCEEDANCE, upper=rule.upper, lower=rule.lower, _basis="fixed")
            elif src == LimitSource.AIR_GRADE:
                if s.site_id is None or s.site.kind != reg.SiteKind.AIR_STATION:
                    continue  # ambient limits: not for flue gas at an outlet, nor for water
                got = _air_limit(s.parameter.key, rule.air_grade or 2, data, s.unit, today or timezone.localdate())
                if got is not None:
                    add(s, data, kind=engine.EXCEEDANCE, upper=got[0], _basis=got[1])
            elif src in (LimitSource.TARGET_CLASS, LimitSource.STANDARD_CLASS):
                cls = s.site.target_class if (src == LimitSource.TARGET_CLASS and s.site_id) else rule.standard_class
                if not cls:
                    continue
                lims = _class_limits(s.parameter.key, cls, s.site, s.unit)
                if lims is None:
                    continue
                add(s, data, kind=engine.EXCEEDANCE, upper=lims[0], lower=lims[1],
                    _basis=f"GB 3838-2002 {gb3838.CLASS_LABELS[cls]}")
        elif kind == RuleKind.RATE:
            add(s, data, kind=engine.RATE, rate_per_h=rule.rate_per_h)
        elif kind == RuleKind.FLAG:
            add(s, data, kind=engine.FLAG, flags=rule.flag_set())
        elif kind == RuleKind.MISSING:
            # silence counts from when the next value was due: an hourly series (or a water station
            # reporting real-time data hourly) is quiet for an hour between its values by design
            add(s, DataLevel.VALUE, kind=engine.MISSING,
                missing_s=rule.missing_minutes * 60.0 + sampling_interval(s, DataLevel.VALUE, intervals))
        elif kind == RuleKind.BLOOM:
            breaks = rule.chla_break_values() if s.parameter.key in ("chl_a", "chla") else engine.DENSITY_BREAKS
            if not breaks:  # chl-a without configured breaks: refused (as the standards engine does)
                continue
            add(s, data, kind=engine.BLOOM, bloom_level=rule.bloom_level, bloom_breaks=tuple(breaks),
                _basis="HJ 1098-2020")
    return checks, limits, used


def rules_version() -> tuple:
    """Changes when a rule changes or a series appears (a new series may fall under a rule)."""
    r = AlarmRule.objects.aggregate(n=Count("pk"), u=Max("updated"))
    if not r["n"]:  # no rules: new series change nothing (one query, not two)
        return (0, None, None, services.local_rules_version())
    s = Series.objects.aggregate(m=Max("pk"))
    return (r["n"], r["u"], s["m"], services.local_rules_version())


def compile_rules() -> Compiled:
    version = rules_version()
    checks, limits, series, rules = [], {}, {}, {}
    intervals = device_intervals()
    for rule in AlarmRule.objects.filter(enabled=True).select_related("owner", "group", "parameter"):
        c, lim, used = compile_rule(rule, intervals=intervals)
        checks += c
        limits.update(lim)
        series.update(used)
        rules[rule.pk] = rule
    return Compiled(engine.RuleIndex(checks), rules, series, limits, version)


def _station_silences(transitions: list, compiled: Compiled) -> list:
    """One alarm for a whole station gone silent, not one per parameter: when a missing-data rule
    raises, in one round, every series it watches at one site or outlet (a logger offline), only
    the first series' transition is kept, with the station's parameters in its evidence
    (``station_silent``); the alarm resolves when that series sends again. A single analyser
    that stops still gets its own alarm."""
    watched: dict[tuple, set] = {}
    for c in compiled.index.missing:
        s = compiled.series.get(c.stream[0])
        if s is not None:
            watched.setdefault((c.rule, s.site_id, s.outlet_id), set()).add(c.stream[0])
    raised: dict[tuple, list] = {}
    for tr in transitions:
        s = compiled.series.get(tr.stream[0])
        if tr.action == "raise" and s is not None:
            raised.setdefault((tr.rule, s.site_id, s.outlet_id), []).append(tr)
    drop = set()
    for key, trs in raised.items():
        if len(trs) < 2 or {t.stream[0] for t in trs} != watched.get(key):
            continue
        trs.sort(key=lambda t: t.stream[0])
        codes = sorted(compiled.series[t.stream[0]].parameter.code_2017 or compiled.series[t.stream[0]].parameter.key
                       for t in trs)
        trs[0].evidence.update(station_silent=len(trs), parameters=codes)
        drop.update(id(t) for t in trs[1:])
    return [t for t in transitions if id(t) not in drop]


# --- the evaluator -------------------------------------------------------------------------------


class Evaluator:
    """Compiled rules + engine state of one process; applies transitions through the services."""

    def __init__(self) -> None:
        self.compiled: Compiled | None = None
        self.state: dict = {}
        self.lock = threading.RLock()
        self._checked = 0.0

    def reset(self) -> None:
        with self.lock:
            self.compiled, self.state, self._checked = None, {}, 0.0

    def ensure(self, *, force: bool = False) -> Compiled:
        """Recompile when rules (or series) changed; checked at most once a second."""
        now = time.monotonic()
        if self.compiled is not None and not force and now - self._checked < 1.0 \
                and self.compiled.version[3] == services.local_rules_version():
            return self.compiled
        self._checked = now
        version = rules_version()
        if self.compiled is None or force or version != self.compiled.version:
            self.compiled = compile_rules()
            live = {c.key for cs in self.compiled.index.by_stream.values() for c in cs}
            self.state = {k: v for k, v in self.state.items() if k in live}
        return self.compiled

    # -- inputs --
    def values(self, rows, *, now: dt.datetime | None = None) -> list:
        """Rows as the write listener gets them: ``(series_id, time_us, value, flag, qc)``."""
        now = now or timezone.now()
        oldest = to_s(now - MAX_AGE)
        recs = []
        for sid, us, value, flag, qc in rows:
            t = us / 1e6
            if t < oldest:
                continue
            recs.append(((sid, DataLevel.VALUE), t, None if (qc or 0) & QC_INVALIDATING else value, flag or ""))
        return self._run(recs, now)

    def aggregates(self, rows, *, now: dt.datetime | None = None) -> list:
        """Rows ``(series_id, period, start, value, valid, flag)`` of recomputed aggregates.

        An aggregate is judged once its period is over: a day's mean computed at 21:00 may still
        change (it is recomputed, and judged, when the day's last hour is in)."""
        now = now or timezone.now()
        oldest, now_s = to_s(now - MAX_AGE), to_s(now)
        recs = [((sid, period), to_s(start), value if valid else None, flag or "")
                for sid, period, start, value, valid, flag in rows
                if to_s(start) >= oldest and to_s(start) + PERIOD_S.get(period, 0.0) <= now_s]
        return self._run(recs, now)

    def _run(self, recs: list, now: dt.datetime) -> list:
        if not recs:
            return []
        with self.lock:
            compiled = self.ensure()
            if not compiled.index.by_stream:
                return []
            recs.sort(key=lambda r: r[1])
            transitions = engine.evaluate(compiled.index, recs, self.state)
            return self._apply(transitions, compiled, now)

    def missing(self, *, now: dt.datetime | None = None) -> list:
        """Judge the missing-data rules at ``now`` from the newest data of each series."""
        from gongzhi.observations.services import apply_pending_changes

        now = now or timezone.now()
        apply_pending_changes()
        with self.lock:
            compiled = self.ensure()
            if not compiled.index.missing:
                return []
            sids = {c.stream[0] for c in compiled.index.missing}
            last = {}
            for sid, received in LatestValue.objects.filter(series_id__in=sids).values_list("series_id", "received"):
                last[(sid, DataLevel.VALUE)] = to_s(received)
            for sid in sids:  # a series that never had data: its clock starts when it was created
                if (sid, DataLevel.VALUE) not in last and sid in compiled.series:
                    last[(sid, DataLevel.VALUE)] = to_s(compiled.series[sid].created)
            transitions = engine.check_missing(compiled.index, to_s(now), last, self.state)
            return self._apply(_station_silences(transitions, compiled), compiled, now)

    def _apply(self, transitions: list, compiled: Compiled, now: dt.datetime) -> list:
        out = []
        for tr in transitions:
            sid, data = tr.stream
            rule, series = compiled.rules.get(tr.rule), compiled.series.get(sid)
            if rule is None or series is None:
                continue
            info = compiled.limits.get((tr.rule, tr.stream), {})
            try:
                if tr.action == "raise":
                    limit = tr.evidence.get("limit", info.get("upper", info.get("lower")))
                    evidence = {**{k: v for k, v in tr.evidence.items() if k != "limit"}, "limits": info,
                                "data_time": from_s(tr.t).isoformat()}
                    alarm, created = services.raise_alarm(
                        rule=rule, series=series, data=data, started_at=from_s(tr.since), value=tr.value,
                        peak=tr.peak, limit=limit, evidence=evidence, now=now)
                    out.append(("raise", alarm.pk, created))
                else:
                    alarm = services.resolve_alarm(rule_id=tr.rule, series_id=sid, data=data, cleared_at=from_s(tr.t),
                                                   value=tr.value, evidence={"peak": tr.peak, **tr.evidence}, now=now)
                    out.append(("clear", alarm.pk if alarm else None, alarm is not None))
            except Exception:  # one bad transition never stops the others
                log.exception("applying %s of rule %s on %s failed", tr.action, tr.rule, tr.stream)
        return out


evaluator = Evaluator()


# --- durable catch-up -----------------------------------------------------------------------------


def _mark(name: str, now: dt.datetime) -> EvaluationMark:
    mark, _ = EvaluationMark.objects.get_or_create(name=name, defaults={"position": now - OVERLAP})
    return mark


def advance_mark(name: str, position: dt.datetime) -> None:
    """Move the mark forward (never back)."""
    with transaction.atomic():
        n = EvaluationMark.objects.filter(name=name, position__lt=position).update(position=position)
        if not n and not EvaluationMark.objects.filter(name=name).exists():
            EvaluationMark.objects.create(name=name, position=position)


def catch_up(*, now: dt.datetime | None = None, limit: int = 20000, ev: Evaluator | None = None) -> int:
    """Evaluate values received and aggregates computed since the marks; returns rows read."""
    ev = ev or evaluator
    now = now or timezone.now()
    n = 0
    mark = _mark("values", now)
    start = mark.position - OVERLAP
    while True:
        rows = list(Observation.objects.filter(received__gt=start).order_by("received")
                    .values_list("series_id", "time", "value", "flag", "qc", "received")[:limit])
        if not rows:
            break
        n += len(rows)
        ev.values([(sid, int(to_s(t) * 1_000_000), v, f, q) for sid, t, v, f, q, _ in rows], now=now)
        start = rows[-1][5]
        advance_mark("values", start)
        if len(rows) < limit:
            break
    mark = _mark("aggregates", now)
    start = mark.position - OVERLAP
    while True:
        rows = list(Aggregate.objects.filter(computed__gt=start, period__in=("hour", "day")).order_by("computed")
                    .values_list("series_id", "period", "start", "value", "valid", "flag", "computed")[:limit])
        if not rows:
            break
        n += len(rows)
        ev.aggregates([r[:6] for r in rows], now=now)
        start = rows[-1][6]
        advance_mark("aggregates", start)
        if len(rows) < limit:
            break
    return n


# --- the live evaluator thread -------------------------------------------------------------------


class LiveEvaluator:
    """Consumes committed writes from a queue on its own thread (started on first use)."""

    def __init__(self, ev: Evaluator | None = None) -> None:
        self.ev = ev or evaluator
        self.queue: queue.SimpleQueue = queue.SimpleQueue()
        self._thread: threading.Thread | None = None
        self._start_lock = threading.Lock()
        self._idle = threading.Event()
        self._idle.set()
        self.enabled = True
        self.processed = 0
        self.failures = 0
        self._mark_pending = None
        self._mark_flushed = None
        self._mark_written = 0.0

    # listener entry points: O(1), never raise
    def submit(self, rows, received) -> None:
        if self.enabled:
            self._idle.clear()
            self.queue.put(("values", rows, received))
            self._ensure_thread()

    def submit_aggregates(self, rows) -> None:
        if self.enabled:
            self._idle.clear()
            self.queue.put(("aggregates", rows, None))
            self._ensure_thread()

    def _ensure_thread(self) -> None:
        if self._thread is not None and self._thread.is_alive():
            return
        with self._start_lock:
            if self._thread is None or not self._thread.is_alive():
                self._thread = threading.Thread(target=self._loop, name="gongzhi-alerts", daemon=True)
                self._thread.start()

    def _loop(self) -> None:
        while True:
            try:
                item = self.queue.get(timeout=5.0)
            except queue.Empty:
                try:
                    self.flush_mark()
                except Exception:  # logged; the next flush or the catch-up's overlap covers it
                    log.exception("writing the evaluation mark failed")
                finally:
                    connection.close()
                self._idle.set()
                continue
            batch = [item]
            while len(batch) < 200:
                try:
                    batch.append(self.queue.get_nowait())
                except queue.Empty:
                    break
            try:
                close_old_connections()
                values = [r for kind, rows, _ in batch if kind == "values" for r in rows]
                aggs = [r for kind, rows, _ in batch if kind == "aggregates" for r in rows]
                if values:
                    self.ev.values(values)
                    newest = max(rec for kind, _, rec in batch if kind == "values")
                    if self._mark_pending is None or newest > self._mark_pending:
                        self._mark_pending = newest
                    # the mark is written at most every MARK_EVERY_S (one small write, not one per
                    # batch, beside the gateway's writer); the catch-up's overlap covers the rest
                    if time.monotonic() - self._mark_written >= MARK_EVERY_S:
                        self.flush_mark()
                if aggs:
                    self.ev.aggregates(aggs)
                self.processed += len(values) + len(aggs)
            except Exception:  # the catch-up will see these rows again
                self.failures += 1
                log.exception("alarm evaluation of %d queued writes failed", len(batch))
            finally:
                connection.close()
            if self.queue.empty():
                self._idle.set()

    def flush_mark(self) -> None:
        """Write the newest evaluated ``received`` time as the high-water mark (if it moved)."""
        pending = self._mark_pending
        compiled = self.ev.compiled
        if compiled is None or not compiled.index.by_stream:
            return  # no rules: nothing the mark would protect, and no database work when idle
        if pending is not None and pending != self._mark_flushed:
            advance_mark("values", pending)
            self._mark_written, self._mark_flushed = time.monotonic(), pending

    def wait_idle(self, timeout: float = 10.0) -> bool:
        """For tests and the benchmark: wait until everything queued has been evaluated."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.queue.empty() and self._idle.wait(0.05) and self.queue.empty():
                return True
        return False


live = LiveEvaluator()


def install() -> None:
    """Register the live evaluator as a write and aggregate listener (AppConfig.ready)."""
    from gongzhi.observations import aggregates
    from gongzhi.observations import services as obs

    obs.add_write_listener(live.submit)
    aggregates.add_aggregate_listener(live.submit_aggregates)


def tick(*, now: dt.datetime | None = None) -> dict:
    """One timer round: catch-up, missing-data rules, escalation of overdue warnings."""
    now = now or timezone.now()
    read = catch_up(now=now)
    missing = evaluator.missing(now=now)
    escalated = services.escalate_due(now=now)
    return {"read": read, "missing": len(missing), "escalated": len(escalated)}
