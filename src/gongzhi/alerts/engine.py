"""The pure alarm evaluation core (告警判定): no Django, no database.

Rules configured in the database are *compiled* (by :mod:`gongzhi.alerts.evaluation`) into
:class:`Check` objects, one per rule and data stream: the limits are already resolved for that
stream (a section's target class, a permit limit, a fixed value) and expressed in the stream's
unit. A *stream* is any hashable key; the glue uses ``(series_id, "value")`` for values as they
arrive and ``(series_id, "hour")`` / ``(series_id, "day")`` for aggregates.

:func:`evaluate` runs a batch of records through the checks of their streams and returns the
:class:`Transition` s (raise / clear). All memory lives in the ``state`` mapping the caller
passes in (one :class:`CheckState` per check and stream), so the functions are stateless, can be
benchmarked without a database and could move to :mod:`gongzhi.analytics` unchanged.

Semantics (the same for every kind):

* A value is **bad** when the condition holds (above ``upper``, below ``lower``, rate above
  ``rate_per_h``, a listed device flag, a bloom level at or above ``bloom_level``).
* A check **raises** when bad values have lasted ``duration_s`` (0: at the first bad value).
  Any value that is not bad before that resets the count (sustained = continuously bad).
* Once raised it **clears** only on a *clearly good* value — inside the limits by the hysteresis
  margin (``hysteresis`` × the limit) — and only after good values have lasted ``min_clear_s``;
  a bad value meanwhile cancels the clearing (flapping is suppressed).
* Missing data (``missing_s``) is judged by :func:`check_missing` on a timer from the time the
  stream last had data; the next value clears it.
* Records older than or equal to the newest one seen for a stream are ignored for that stream
  (a replay after a restart, or a late value, cannot raise or clear an alarm twice).
* ``None``/NaN values raise nothing and clear nothing except for flag and missing-data checks.
"""

from __future__ import annotations

import math
from bisect import bisect_right
from dataclasses import dataclass, field
from typing import Hashable, Iterable, Mapping, MutableMapping, Sequence

from gongzhi.standards.bloom import DENSITY_BREAKS

__all__ = [
    "EXCEEDANCE", "RATE", "FLAG", "BLOOM", "MISSING", "KINDS",
    "Check", "CheckState", "Record", "Transition", "RuleIndex", "evaluate", "check_missing", "naive_evaluate",
    "bloom_level",
]

EXCEEDANCE, RATE, FLAG, BLOOM, MISSING = "exceedance", "rate", "flag", "bloom", "missing"
KINDS = (EXCEEDANCE, RATE, FLAG, BLOOM, MISSING)


@dataclass(frozen=True, slots=True)
class Check:
    """One rule applied to one stream, limits resolved. ``rule`` is the rule's id."""

    rule: int
    stream: Hashable
    kind: str
    upper: float | None = None
    lower: float | None = None
    rate_per_h: float | None = None
    flags: frozenset[str] = frozenset()
    bloom_level: int | None = None  # raise at this level or above (1 Ⅰ … 5 Ⅴ)
    bloom_breaks: tuple[float, ...] = DENSITY_BREAKS  # lower bounds of levels Ⅱ–Ⅴ (density by default)
    duration_s: float = 0.0
    #: the stream's sampling interval: a value stands for it, so when it is at least
    #: ``duration_s`` one bad value meets the duration (an hourly water station cannot show more)
    interval_s: float = 0.0
    hysteresis: float = 0.0  # fraction of the limit (0.05 = clears 5 % inside it)
    min_clear_s: float = 0.0
    missing_s: float | None = None

    def __post_init__(self) -> None:
        if self.kind not in KINDS:
            raise ValueError(f"unknown check kind {self.kind!r}")
        if self.kind == EXCEEDANCE and self.upper is None and self.lower is None:
            raise ValueError("an exceedance check needs an upper or a lower limit")
        if self.kind == RATE and not (self.rate_per_h and self.rate_per_h > 0):
            raise ValueError("a rate check needs rate_per_h > 0")
        if self.kind == FLAG and not self.flags:
            raise ValueError("a flag check needs flags")
        if self.kind == BLOOM and not (self.bloom_level and 2 <= self.bloom_level <= 5):
            raise ValueError("a bloom check needs bloom_level 2–5")
        if self.kind == MISSING and not (self.missing_s and self.missing_s > 0):
            raise ValueError("a missing-data check needs missing_s > 0")
        if self.duration_s < 0 or self.min_clear_s < 0 or self.interval_s < 0 or not 0 <= self.hysteresis < 1:
            raise ValueError("duration_s, min_clear_s, interval_s must be >= 0 and hysteresis in [0, 1)")

    @property
    def key(self) -> tuple:
        return (self.rule, self.stream)


@dataclass(slots=True)
class CheckState:
    """What a check remembers about its stream between records."""

    active: bool = False
    bad_since: float | None = None
    clear_since: float | None = None
    last_t: float | None = None
    last_v: float | None = None
    peak: float | None = None
    raised_t: float | None = None


@dataclass(frozen=True, slots=True)
class Record:
    """One value of a stream: ``t`` in seconds since the epoch (UTC)."""

    stream: Hashable
    t: float
    value: float | None
    flag: str = ""


@dataclass(frozen=True, slots=True)
class Transition:
    """``action`` is ``"raise"`` or ``"clear"``. ``since`` is when the condition began (the first
    bad value, or the last data for missing data); ``value`` the value that decided it and
    ``peak`` the worst value while it lasted; ``evidence`` says why, in plain data."""

    action: str
    rule: int
    stream: Hashable
    t: float
    since: float
    value: float | None
    peak: float | None
    evidence: dict = field(default_factory=dict)


def bloom_level(value: float, breaks: Sequence[float] = DENSITY_BREAKS) -> int:
    """Level 1–5 from inclusive lower bounds of levels Ⅱ–Ⅴ (as :func:`gongzhi.standards.bloom.bloom_level`)."""
    return 1 + bisect_right(breaks, value)


def _finite(v) -> bool:
    return v is not None and not (isinstance(v, float) and math.isnan(v))


def _judge(c: Check, st: CheckState, t: float, v, flag: str) -> tuple[bool, bool, dict]:
    """(bad, clearly_good, evidence) of one record for one check."""
    kind = c.kind
    if kind == EXCEEDANCE:
        if not _finite(v):
            return False, False, {}
        if c.upper is not None and v > c.upper:
            return True, False, {"limit": c.upper, "side": "upper"}
        if c.lower is not None and v < c.lower:
            return True, False, {"limit": c.lower, "side": "lower"}
        good = True
        if c.upper is not None and v > c.upper - c.hysteresis * abs(c.upper):
            good = False
        if c.lower is not None and v < c.lower + c.hysteresis * abs(c.lower):
            good = False
        return False, good, {}
    if kind == FLAG:
        if flag in c.flags:
            return True, False, {"flag": flag}
        return False, True, {}
    if kind == BLOOM:
        if not _finite(v) or v < 0:
            return False, False, {}
        level = bloom_level(v, c.bloom_breaks)
        if level >= c.bloom_level:
            return True, False, {"level": level, "limit": c.bloom_breaks[c.bloom_level - 2]}
        clear_at = c.bloom_breaks[c.bloom_level - 2] * (1 - c.hysteresis)
        return False, v < clear_at, {}
    if kind == RATE:
        if not _finite(v):
            return False, False, {}
        pt, pv = st.last_t, st.last_v
        if pt is None or pv is None or t <= pt:
            return False, False, {}
        rate = abs(v - pv) / ((t - pt) / 3600.0)
        if rate > c.rate_per_h:
            return True, False, {"rate_per_h": rate, "limit": c.rate_per_h, "previous": pv}
        return False, rate <= c.rate_per_h * (1 - c.hysteresis), {}
    if kind == MISSING:  # data arrived: the stream is not missing
        return False, True, {}
    raise AssertionError(kind)


def _step(c: Check, st: CheckState, t: float, v, flag: str, out: list) -> None:
    if st.last_t is not None and t <= st.last_t:
        return  # seen already (or late): never decides twice
    bad, good, evidence = _judge(c, st, t, v, flag)
    st.last_t = t
    if _finite(v):
        st.last_v = v
    if not st.active:
        if bad:
            if st.bad_since is None:
                st.bad_since = t
                st.peak = v
            elif _finite(v) and (st.peak is None or _worse(c, v, st.peak)):
                st.peak = v
            if t - st.bad_since >= c.duration_s or c.interval_s >= c.duration_s:
                st.active, st.raised_t, st.clear_since = True, t, None
                ev = {**evidence, "duration_s": t - st.bad_since}
                if c.duration_s and t - st.bad_since < c.duration_s:
                    ev["sampling_interval_s"] = c.interval_s  # met by one value of a sparse stream
                out.append(Transition("raise", c.rule, c.stream, t, st.bad_since, v, st.peak, ev))
        else:
            st.bad_since = None
            st.peak = None
        return
    if bad:
        st.clear_since = None
        if _finite(v) and (st.peak is None or _worse(c, v, st.peak)):
            st.peak = v
        return
    if good:
        if st.clear_since is None:
            st.clear_since = t
        if t - st.clear_since >= c.min_clear_s:
            out.append(Transition("clear", c.rule, c.stream, t, st.bad_since or t, v, st.peak,
                                  {"good_for_s": t - st.clear_since}))
            st.active, st.bad_since, st.clear_since, st.peak, st.raised_t = False, None, None, None, None


def _worse(c: Check, v: float, peak: float) -> bool:
    if c.kind == EXCEEDANCE and c.upper is None and c.lower is not None:
        return v < peak
    if c.kind == EXCEEDANCE and c.upper is not None and c.lower is not None:
        return abs(v - (c.upper + c.lower) / 2) > abs(peak - (c.upper + c.lower) / 2)
    return v > peak


class RuleIndex:
    """Checks grouped by stream: a record meets only the checks of its own stream."""

    __slots__ = ("by_stream", "missing")

    def __init__(self, checks: Iterable[Check]) -> None:
        self.by_stream: dict[Hashable, list[Check]] = {}
        self.missing: list[Check] = []
        for c in checks:
            self.by_stream.setdefault(c.stream, []).append(c)
            if c.kind == MISSING:
                self.missing.append(c)

    def __len__(self) -> int:
        return sum(len(v) for v in self.by_stream.values())

    def streams(self) -> set:
        return set(self.by_stream)


def evaluate(index: RuleIndex, records: Iterable[Record | tuple], state: MutableMapping[tuple, CheckState]) -> list[Transition]:
    """Run ``records`` (in time order per stream) through the checks of their streams."""
    out: list[Transition] = []
    by_stream = index.by_stream
    for rec in records:
        stream, t, v, flag = rec[0], rec[1], rec[2], rec[3] if len(rec) > 3 else ""
        checks = by_stream.get(stream)
        if not checks:
            continue
        for c in checks:
            key = (c.rule, stream)
            st = state.get(key)
            if st is None:
                st = state[key] = CheckState()
            _step(c, st, t, v, flag or "", out)
    return out


def naive_evaluate(checks: Sequence[Check], records: Iterable[Record | tuple], state: MutableMapping[tuple, CheckState]) -> list[Transition]:
    """The baseline: every record is offered to every check (for the benchmark and as an oracle)."""
    out: list[Transition] = []
    for rec in records:
        stream, t, v, flag = rec[0], rec[1], rec[2], rec[3] if len(rec) > 3 else ""
        for c in checks:
            if c.stream != stream:
                continue
            key = (c.rule, stream)
            st = state.get(key)
            if st is None:
                st = state[key] = CheckState()
            _step(c, st, t, v, flag or "", out)
    return out


def check_missing(index: RuleIndex, now: float, last_data: Mapping[Hashable, float],
                  state: MutableMapping[tuple, CheckState]) -> list[Transition]:
    """Raise missing-data checks whose stream has had no data for ``missing_s`` at ``now``.

    ``last_data`` maps a stream to the time of its newest data (a stream absent from it is
    judged from its state, else skipped: a stream that never had data has no clock to start)."""
    out: list[Transition] = []
    for c in index.missing:
        key = (c.rule, c.stream)
        st = state.get(key)
        if st is None:
            st = state[key] = CheckState()
        last = last_data.get(c.stream, st.last_t)
        if last is None:
            continue
        if st.last_t is None or last > st.last_t:
            st.last_t = last
        if not st.active and now - last > c.missing_s:
            st.active, st.bad_since, st.raised_t = True, last, now
            out.append(Transition("raise", c.rule, c.stream, now, last, None, None,
                                  {"silent_s": now - last, "limit_s": c.missing_s}))
        elif st.active and now - last <= c.missing_s:
            out.append(Transition("clear", c.rule, c.stream, now, st.bad_since or last, None, None,
                                  {"data_at": last}))
            st.active, st.bad_since, st.raised_t = False, None, None
    return out
