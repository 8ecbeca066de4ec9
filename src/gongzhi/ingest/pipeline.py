"""The HJ 212 ingest pipeline: decoded packets in, verdicts, stored values and replies out.

Synchronous and Django-side; no sockets (the asyncio gateway in
:mod:`gongzhi.ingest.gateway` feeds it, and so does ``gongzhi hj212 replay``).

:meth:`Pipeline.process_batch` takes items ``(peer, received, event)`` where
``event`` is a codec :class:`~gongzhi.hj212.Packet` or
:class:`~gongzhi.hj212.FramingError`, and handles the whole batch in **one
transaction** (group commit):

1. authenticate each packet's MN/PW against enabled devices (in-process cache
   with a short TTL, dropped whenever a Device is saved in this process);
2. check the idempotency key (MN, QN, CN, PNO) against :class:`AcceptedPacket`;
3. map each factor to a series (device's site or outlet × parameter × kind),
   apply the arrival QC and write the values with
   :func:`gongzhi.observations.services.write_observation_columns` (a packet shaped like
   the logger's earlier ones goes by its :class:`_FastPlan`, a batch at a time as NumPy
   columns; any other value by value);
4. archive every item in :class:`RawPacket` with its verdict and record the
   accepted keys and unknown codes;
5. commit, and only then return the replies (9014 …) for the caller to send.

If the batch fails as a whole (a database error), every item is retried in a
transaction of its own, so one poison item cannot hold back good data next to
it; an item that still fails is archived as ``rejected``/``internal_error`` and
not acknowledged (the logger resends it).  See docs/ingest.md.
"""

from __future__ import annotations

import bisect
import datetime as dt
import logging
import math
import operator
import threading
import time as _time
from collections import Counter
from dataclasses import dataclass, field
from typing import Any, Callable, Iterable, Sequence

import numpy as np

from django.db import connection, transaction
from django.db.models import Q
from django.db.models.signals import post_delete, post_save
from django.utils import timezone

from gongzhi.hj212 import (
    CompactMessage,
    DataRecord,
    FramingError,
    Message,
    Packet,
    build_data_ack,
    build_qn_reply,
    build_set_time,
    format_time,
    parse_time,
)
from gongzhi.ingest import qc
from gongzhi.ingest.models import AcceptedPacket, RawPacket, Verdict
from gongzhi.observations import services as obs
from gongzhi.observations.columns import ObsColumns, epoch_us
from gongzhi.observations.models import (
    QC_BACKFILL,
    QC_FLAG_INVALID,
    QC_NEGATIVE,
    QC_OUT_OF_RANGE,
    QC_UNIT_CONVERTED,
    QC_UNKNOWN_UNIT,
    Series,
    SeriesKind,
    Source,
)
from gongzhi.registry import models as reg
from gongzhi.registry.services import code_index, record_unknown_code

log = logging.getLogger("gongzhi.ingest")

UTC = dt.timezone.utc

#: CN of data uploads -> series kind.
KIND_BY_CN = {
    "2011": SeriesKind.REALTIME,
    "2051": SeriesKind.MINUTE,
    "2061": SeriesKind.HOUR,
    "2031": SeriesKind.DAY,
}
#: Uploads of device state (run time, run state, restart): archived and acknowledged, no values stored.
STATE_CNS = frozenset({"2041", "2021", "2081"})
#: Replies a logger sends to platform commands (e.g. to our 1012): archived, never answered.
REPLY_CNS = frozenset({"9011", "9012", "9013", "9014", "9015"})
#: Catalog domain by system code (ST), for codes that mean different things in water and air.
DOMAIN_BY_ST = {"21": "water", "32": "water", "24": "water", "26": "water", "22": "air", "31": "air", "27": "air"}

#: QnRtn (§6.6.3) for the pipeline's reasons; sent as 9011 only when the packet asked for a reply.
QNRTN = {"bad_password": 3, "unknown_mn": 4, "device_disabled": 2, "bad_crc": 9, "unsupported_cn": 8}


@dataclass(frozen=True, slots=True)
class IngestConfig:
    """Tunables of the pipeline (all documented in docs/ingest.md)."""

    #: values timestamped more than this in the future get QC_FUTURE (stored, flagged)
    future_tolerance: dt.timedelta = dt.timedelta(minutes=10)
    #: real-time data whose QN/DataTime is off by more than this triggers a 1012 set-time
    clock_skew: dt.timedelta = dt.timedelta(minutes=5)
    #: at most one 1012 per device per this interval
    calibrate_every: dt.timedelta = dt.timedelta(minutes=30)
    #: device cache time-to-live (seconds): admin edits in another process take effect within it
    device_ttl: float = 30.0
    #: packets archived with source = device
    source: int = Source.DEVICE


@dataclass(slots=True)
class Item:
    """One event to process. ``packet_id`` is set by replay (the archived row it came from)."""

    peer: str
    received: dt.datetime
    event: Packet | FramingError
    packet_id: int | None = None


@dataclass(slots=True)
class Outcome:
    verdict: str
    reason: str = ""
    detail: str = ""
    replies: list[bytes] = field(default_factory=list)
    values_stored: int = 0
    duplicates: int = 0
    packet_id: int | None = None
    mn: str = ""
    qn: str = ""
    cn: str = ""
    unknown_codes: list[str] = field(default_factory=list)


@dataclass(frozen=True, slots=True)
class DeviceInfo:
    pk: int
    mn: str
    password: str
    enabled: bool
    system_code: str
    site: Any
    outlet: Any
    loaded: float
    #: (site id, outlet id): where the device's values go (read once, not per packet)
    place: tuple = ()

    def __post_init__(self) -> None:
        object.__setattr__(self, "place", (self.site.pk if self.site is not None else None,
                                           self.outlet.pk if self.outlet is not None else None))


@dataclass(slots=True)
class _Param:
    obj: Any  # registry Parameter (passed to the series resolver)
    key: str
    unit: str
    ambient_unit: str


@dataclass(slots=True)
class _Plan:
    """Per-item working state inside a batch."""

    item: Item
    outcome: Outcome
    message: Message | None = None
    device: DeviceInfo | None = None
    key: tuple[str, str, str, int] | None = None
    rows: list[int] = field(default_factory=list)  # indexes into the batch's row list
    notes: list[str] = field(default_factory=list)


def _holder_state(d: DeviceInfo) -> tuple:
    """(site id, outlet id, site owner, outlet's enterprise owner) of a cached device."""
    site, outlet = d.site, d.outlet
    return (site.pk if site is not None else None, outlet.pk if outlet is not None else None,
            site.owner_id if site is not None else None,
            outlet.enterprise.owner_id if outlet is not None else None)


def _as_item(x: Item | Sequence) -> Item:
    if isinstance(x, Item):
        return x
    return Item(*x)


class Pipeline:
    """Stateful (caches, calibration times) but thread-confined: one writer thread owns one."""

    def __init__(self, config: IngestConfig | None = None) -> None:
        self.config = config or IngestConfig()
        self._devices: dict[str, DeviceInfo | None] = {}
        self._device_loaded: dict[str, float] = {}
        self._params: dict[int, _Param] = {}
        self._series_units: dict[int, str] = {}
        #: (domain, system code, (site id, outlet id), kind) -> {code: (series id, param, source unit)}
        self._targets: dict[tuple, dict[str, tuple[int, _Param, str]]] = {}
        #: (series id, source unit) -> how values are converted and checked (see _conversion)
        self._conv: dict[tuple[int, str], tuple] = {}
        #: series of a site/outlet already in the store: ("s"|"o", holder id) -> {(parameter id, kind): series id}
        self._holder_series: dict[tuple[str, int], dict[tuple[int, str], int]] = {}
        #: (holder key of _targets, id of a CP shape) -> the shape's rows worked out (_FastPlan)
        self._fast: dict[tuple, _FastPlan] = {}
        #: False: every packet goes value by value (tests compare the two ways)
        self.columnar = True
        self._calibrated: dict[str, dt.datetime] = {}
        self._split_times: dict[tuple, tuple[dt.datetime, float]] = {}
        self._id_sequence: str | None = None  # the archive's id sequence (PostgreSQL)
        self._lock = threading.Lock()
        _PIPELINES.add(self)

    # -- caches -------------------------------------------------------------------------------

    def invalidate(self) -> None:
        """Drop every cache (devices, parameters, series units; the series resolver too)."""
        with self._lock:
            self._devices.clear()
            self._device_loaded.clear()
        self._params.clear()
        self._series_units.clear()
        self._targets.clear()
        self._conv.clear()
        self._fast.clear()
        self._holder_series.clear()
        obs.series_resolver.clear()

    def _invalidate_devices(self) -> None:
        with self._lock:
            self._devices.clear()
            self._device_loaded.clear()

    def _load_devices(self, mns: Iterable[str]) -> None:
        now = _time.monotonic()
        ttl = self.config.device_ttl
        with self._lock:
            want = {mn for mn in mns if now - self._device_loaded.get(mn, -1e18) > ttl}
        if not want:
            return
        found: dict[str, DeviceInfo] = {}
        # One plain query for what authentication and mapping use; the site/outlet objects of
        # a device already cached are kept when its place and owner are unchanged (re-reading
        # a thousand devices with their sites every TTL stalled the writer for most of a second).
        rows = reg.Device.objects.filter(mn__in=want).values_list(
            "mn", "pk", "password", "enabled", "system_code", "site_id", "outlet_id", "site__owner_id",
            "outlet__enterprise__owner_id")
        with self._lock:
            cached = {mn: self._devices.get(mn) for mn in want}
        fetch: dict[int, str] = {}
        for mn, pk, password, enabled, system_code, site_id, outlet_id, site_owner, outlet_owner in rows:
            old = cached.get(mn)
            if (old is not None and _holder_state(old) == (site_id, outlet_id, site_owner, outlet_owner)):
                found[mn] = DeviceInfo(pk, mn, password, enabled, system_code, old.site, old.outlet, now)
            else:
                fetch[pk] = mn
        if fetch:
            for d in reg.Device.objects.filter(pk__in=fetch).select_related("site", "outlet__enterprise"):
                found[d.mn] = DeviceInfo(d.pk, d.mn, d.password, d.enabled, d.system_code, d.site, d.outlet, now)
        with self._lock:
            for mn in want:
                self._devices[mn] = found.get(mn)  # None: unknown MN (negative cache, same TTL)
                self._device_loaded[mn] = now

    def _device(self, mn: str) -> DeviceInfo | None:
        with self._lock:
            return self._devices.get(mn)

    def _param(self, pk: int) -> _Param:
        p = self._params.get(pk)
        if p is None:
            o = reg.Parameter.objects.get(pk=pk)
            p = self._params[pk] = _Param(o, o.key, o.unit, o.ambient_unit)
        return p

    def _load_series_units(self, ids: Iterable[int]) -> None:
        missing = [i for i in set(ids) if i not in self._series_units]
        if missing:
            self._series_units.update(Series.objects.filter(pk__in=missing).values_list("pk", "unit"))

    # -- the batch -----------------------------------------------------------------------------

    def process_batch(self, items: Iterable[Item | Sequence], *, archive: bool = True) -> list[Outcome]:
        """Process ``items`` in one transaction; return one :class:`Outcome` per item, in order.

        Replies in the outcomes may be sent only after this returns (the commit is done).
        ``archive=False`` (replay) stores values and keys but writes no new RawPacket rows.
        """
        batch = [_as_item(x) for x in items]
        if not batch:
            return []
        try:
            with transaction.atomic():
                return self._process(batch, archive)
        except Exception:
            log.exception("ingest batch of %d failed; retrying item by item", len(batch))
            self.invalidate()  # caches may name rows of the rolled-back transaction
        outcomes = []
        for item in batch:
            try:
                with transaction.atomic():
                    outcomes.extend(self._process([item], archive))
            except Exception as exc:
                log.exception("ingest item from %s failed", item.peer)
                self.invalidate()
                outcomes.append(self._internal_error(item, exc, archive))
        return outcomes

    def _internal_error(self, item: Item, exc: Exception, archive: bool) -> Outcome:
        out = Outcome(Verdict.REJECTED, "internal_error", f"{type(exc).__name__}: {exc}"[:500])
        ev = item.event
        msg = ev.message if isinstance(ev, Packet) else ev.partial
        if msg is not None:
            out.mn, out.qn, out.cn = (msg.mn or "")[:32], (msg.qn or "")[:32], (msg.cn or "")[:8]
        if archive:
            try:
                with transaction.atomic():
                    row = RawPacket.objects.create(
                        received=item.received, peer=item.peer[:64], mn=out.mn, qn=out.qn, cn=out.cn,
                        pno=(msg.pno or 0) if msg is not None else 0, raw=bytes(ev.raw),
                        verdict=out.verdict, reason=out.reason, detail=out.detail,
                    )
                out.packet_id = row.pk
            except Exception:
                log.exception("archiving a failed item failed too")
        return out

    def _process(self, batch: list[Item], archive: bool) -> list[Outcome]:
        cfg = self.config
        now = timezone.now()
        plans: list[_Plan] = []
        for item in batch:
            ev = item.event
            if isinstance(ev, Packet):
                m = ev.message
                out = Outcome("", mn=m.mn or "", qn=m.qn or "", cn=m.cn or "")
                plans.append(_Plan(item, out, message=m))
            else:
                out = Outcome(Verdict.REJECTED, ev.code, ev.detail)
                p = ev.partial
                if p is not None:
                    out.mn, out.qn, out.cn = p.mn or "", p.qn or "", p.cn or ""
                    if ev.code == "bad_crc" and p.ack_requested and p.mn and p.qn:
                        out.replies.append(build_qn_reply(p, QNRTN["bad_crc"]))  # "CRC error": resend
                plans.append(_Plan(item, out))

        # 1. authentication
        self._load_devices({p.message.mn for p in plans if p.message is not None})
        for p in plans:
            m = p.message
            if m is None:
                continue
            dev = self._device(m.mn)
            reason = None
            if dev is None:
                reason = "unknown_mn"
            elif not dev.enabled:
                reason = "device_disabled"
            elif m.pw != dev.password:
                reason = "bad_password"
            if reason is not None:
                p.outcome.verdict, p.outcome.reason = Verdict.QUARANTINED, reason
                if m.ack_requested and m.cn not in REPLY_CNS:
                    p.outcome.replies.append(build_qn_reply(m, QNRTN[reason]))
                continue
            p.device = dev
            if m.st and dev.system_code and m.st != dev.system_code:
                p.notes.append(f"ST={m.st} but the device is registered with ST={dev.system_code}")

        # 2. idempotency
        keyed = [p for p in plans if p.device is not None and p.message.qn]
        for p in keyed:
            m = p.message
            p.key = (m.mn[:32], m.qn[:32], m.cn[:8], m.pno or 0)
        seen: set = set()
        if keyed:
            seen = _seen_keys({p.key[:2] for p in keyed})
        for p in keyed:
            if p.key in seen:
                p.outcome.verdict, p.outcome.reason = Verdict.DUPLICATE, "resend"
                p.key = None  # already recorded
                m = p.message
                if m.ack_requested and (m.cn in KIND_BY_CN or m.cn in STATE_CNS):
                    p.outcome.replies.append(build_data_ack(m))  # ack again so the logger stops resending
            else:
                seen.add(p.key)

        # archive ids first: the values reference their packet
        if archive:
            ids = self._allocate_ids(len(plans))
            for p, pk in zip(plans, ids):
                p.outcome.packet_id = pk
        else:
            for p in plans:
                p.outcome.packet_id = p.item.packet_id

        # 3. values (the series of sites/outlets seen for the first time: one query for the batch)
        self._preload_holders(p.device for p in plans if p.device is not None and not p.outcome.verdict)
        batch = _Batch()
        for p in plans:
            if p.device is None or p.outcome.verdict:
                continue
            m = p.message
            out = p.outcome
            out.verdict = Verdict.ACCEPTED
            cn = m.cn
            kind = KIND_BY_CN.get(cn)
            if kind is None:
                if cn in STATE_CNS:
                    out.reason = "device_state"
                elif cn in REPLY_CNS:
                    out.reason = "reply"
                elif cn == "1013":  # the logger asks for the time: answer with 1012
                    out.reason = "time_request"
                    out.replies.append(self._set_time(m, p.device, now))
                else:
                    out.verdict, out.reason = Verdict.REJECTED, "unsupported_cn"
                    p.key = None
                    if m.ack_requested:
                        out.replies.append(build_qn_reply(m, QNRTN["unsupported_cn"]))
                    continue
                if m.ack_requested and cn not in REPLY_CNS and cn != "1013":
                    out.replies.append(build_data_ack(m))
                continue
            data_time = self._data_time(m, p.item.received)
            if data_time is None:
                out.verdict, out.reason = Verdict.REJECTED, "no_datatime"
                out.detail = "the upload has no valid DataTime: its values cannot be placed in time"
                p.key = None
                continue
            self._rows_for(p, kind, data_time, now, batch)
            if m.ack_requested:
                out.replies.append(build_data_ack(m))
            if cn == "2011":
                self._check_clock(p, data_time, now)

        # unit of series not seen before (a series created elsewhere may be in another unit)
        rows, row_plan, unit_notes = batch.rows, batch.row_plan, batch.unit_notes
        if batch.pending_units:
            self._load_series_units(sid for _, sid, _, _ in batch.pending_units)
            for ri, sid, param, src_unit in batch.pending_units:
                self._convert(rows[ri], self._conversion(sid, param, src_unit), row_plan[ri], unit_notes)
        for plan, note in unit_notes:
            plan.notes.append(note)
        for hkey, shape, realtime, targets in batch.unplanned:
            self._plan_shape(hkey, shape, realtime, targets)

        # 4. write values (each plan counted its rows as stored: the duplicates are taken off),
        # archive rows, keys, unknown codes
        if batch.nrows:
            result = obs.write_observation_columns(batch.columns(), source=cfg.source, received=now)
            if result.duplicate_indexes:
                owner = batch.owners()
                for ri in result.duplicate_indexes:
                    out = owner(ri).outcome
                    out.duplicates += 1
                    out.values_stored -= 1
        for p in plans:
            out = p.outcome
            if out.unknown_codes and not out.reason:
                out.reason = "unknown_code"
            if p.notes:
                out.detail = "; ".join(([out.detail] if out.detail else []) + p.notes)[:2000]
        if archive:
            _insert(RawPacket, RAW_COLUMNS, [self._raw_row(p) for p in plans])
        keys = [p for p in plans if p.key is not None and p.outcome.verdict == Verdict.ACCEPTED]
        if keys:
            # ON CONFLICT DO NOTHING: another writer process may have taken the key first
            _insert(AcceptedPacket, KEY_COLUMNS, [(*p.key, p.outcome.packet_id, now) for p in keys], ignore_conflicts=True)
        for code, n in batch.unknown.items():
            record_unknown_code(code=code, source=batch.unknown_source[code], count=n)
        return [p.outcome for p in plans]

    # -- helpers --------------------------------------------------------------------------------

    def _data_time(self, m: Message, received: dt.datetime) -> dt.datetime | None:
        """DataTime; a sub-packet without one borrows it from an earlier part of the same message."""
        t = m.data_time
        if m.pnum is not None:
            key = (m.mn, m.cn, m.pnum, m.st)
            mono = _time.monotonic()
            if t is not None:
                self._split_times[key] = (t, mono)
                if len(self._split_times) > 10000:
                    self._split_times = {k: v for k, v in self._split_times.items() if mono - v[1] < 600}
            else:
                got = self._split_times.get(key)
                if got is not None and mono - got[1] < 600:
                    t = got[0]
        return t

    def _rows_for(self, p: _Plan, kind: str, data_time: dt.datetime, now: dt.datetime, batch: "_Batch") -> None:
        m = p.message
        dev = p.device
        out = p.outcome
        cfg = self.config
        system_code = dev.system_code or m.st or ""
        domain = DOMAIN_BY_ST.get(system_code, "")
        realtime = kind == SeriesKind.REALTIME
        base_bits = QC_BACKFILL if m.back_fill else 0
        base_bits |= qc.time_bits(data_time, now, cfg.future_tolerance)
        t_utc = data_time.astimezone(UTC)
        hkey = (domain, dev.system_code, dev.place, kind)
        compact = type(m) is CompactMessage
        if compact:
            shape = m.cp_shape
            fast = self._fast.get((hkey, id(shape)))
            if fast is not None and fast.shape is shape and self.columnar:
                # a packet shaped like the ones before it: its numbers and flags go to the
                # batch as they are; rows are made for the whole batch at once (_Batch.columns)
                vals = m.cp_values
                texts = fast.getter(vals)
                try:
                    nums = list(map(float, texts))
                except ValueError:
                    nums = None
                if nums is not None and "_" not in "".join(texts) and all(map(_isfinite, nums)):
                    nums.append(_NAN)  # position -1: an absent number
                    block = (nums, fast.flag_getter(vals), epoch_us(t_utc), base_bits,
                             out.packet_id, batch.nrows, fast.sids, fast.checks, p)
                    group = batch.groups.get(fast.layout)
                    if group is None:
                        batch.groups[fast.layout] = [block]
                    else:
                        group.append(block)
                    batch.nrows += fast.n
                    out.values_stored += fast.n
                    return
            # the codec's fast path: the values as sent and the shape of the CP, whose factors
            # are worked out once per shape (a logger sends the same shape every time)
            codes, texts, nums = _values_of_shape(shape, m.cp_values, realtime)
        else:
            codes, texts, nums = _values(m.records, realtime)
        rows, row_plan, pending_units = batch.rows, batch.row_plan, batch.pending_units
        unknown, unknown_source, unit_notes = batch.unknown, batch.unknown_source, batch.unit_notes
        site, outlet = dev.site, dev.outlet
        targets = self._targets.get(hkey)
        if targets is None:
            targets = self._targets[hkey] = {}
        series_units = self._series_units
        conv_cache = self._conv
        packet_id = out.packet_id
        first_row = len(rows)
        skipped: list[str] = []
        for code, fi, pi, ai, bi, ci, any_text, zs in codes:
            flag = None if fi < 0 else texts[fi]
            value = None if pi < 0 else nums[pi]
            vmin = None if ai < 0 else nums[ai]
            vmax = None if bi < 0 else nums[bi]
            total = None if ci < 0 else nums[ci]
            if value is None and vmin is None and vmax is None and total is None:
                if any_text:
                    skipped.append(f"{code}: no numeric value")
                elif zs:
                    skipped.append(f"{code}: only converted (Zs) values, kept in the raw archive")
                continue  # RS/RT state fields, noise day/night data, info fields: archive only
            target = targets.get(code)
            if target is None:
                pk = code_index.lookup(code, domain)
                if pk is None:  # not cached: an alias added later resolves at once
                    unknown[code] += 1
                    unknown_source.setdefault(code, f"MN {m.mn}"[:128])
                    if code not in out.unknown_codes:
                        out.unknown_codes.append(code)
                    continue
                param = self._param(pk)
                src_unit = qc.source_unit(system_code=system_code, unit=param.unit, ambient_unit=param.ambient_unit)
                sid = self._existing_series(site, outlet, pk, kind)
                if sid is None:
                    sid = obs.series_resolver.get(site=site, outlet=outlet, parameter=param.obj, kind=kind,
                                                  unit=src_unit)
                target = targets[code] = (sid, param, src_unit)
            sid, param, src_unit = target
            row = [sid, t_utc, value, "" if flag is None else flag[:2],
                   base_bits if flag is None or flag == "N" else base_bits | QC_FLAG_INVALID,
                   vmin, vmax, total, packet_id]
            conv = conv_cache.get((sid, src_unit))
            if conv is None and sid in series_units:
                conv = self._conversion(sid, param, src_unit)
            if conv is None:
                pending_units.append((len(rows), sid, param, src_unit))
            elif conv[0] == 3 and value is not None:  # same unit, a value: the common case, inline
                if value < 0 and conv[3]:
                    row[4] |= QC_NEGATIVE
                rng = conv[4]
                if rng is not None and not (rng[0] <= value <= rng[1]):
                    row[4] |= QC_OUT_OF_RANGE
            else:
                self._convert(row, conv, p, unit_notes)
            rows.append(row)
            row_plan.append(p)
            batch.row_at.append(batch.nrows)
            batch.nrows += 1
        out.values_stored += len(rows) - first_row
        if out.unknown_codes:
            p.notes.append("unknown code(s) recorded for the catalog: " + ", ".join(out.unknown_codes))
        if skipped:
            p.notes.append("; ".join(skipped[:20]))
        if compact and not skipped and not out.unknown_codes and self.columnar:
            if not self._plan_shape(hkey, shape, realtime, targets) and first_row < len(rows):
                batch.unplanned.append((hkey, shape, realtime, targets))  # once the units are known

    def _plan_shape(self, hkey: tuple, shape: tuple, realtime: bool, targets: dict) -> bool:
        """Make the :class:`_FastPlan` of a logger's CP shape if it can be made now."""
        fast = _FastPlan.build(shape, realtime, targets, self._conv)
        if fast is None:
            return False
        if len(self._fast) >= 16384:
            self._fast.clear()
        self._fast[(hkey, id(shape))] = fast
        return True

    def _preload_holders(self, devices: Iterable[DeviceInfo]) -> None:
        """Load the existing series of every site/outlet of ``devices`` not seen yet, in one query
        (a restarted gateway, or a worker meeting loggers another worker served before, would
        otherwise run one query per logger in the middle of the batch)."""
        sites, outlets = set(), set()
        known = self._holder_series
        for d in devices:
            if d.site is not None:
                if ("s", d.site.pk) not in known:
                    sites.add(d.site.pk)
            elif d.outlet is not None and ("o", d.outlet.pk) not in known:
                outlets.add(d.outlet.pk)
        if not sites and not outlets:
            return
        found: dict[tuple[str, int], dict[tuple[int, str], int]] = {("s", i): {} for i in sites}
        found.update({("o", i): {} for i in outlets})
        qs = Series.objects.filter(Q(site_id__in=sites) | Q(outlet_id__in=outlets)).values_list(
            "pk", "parameter_id", "kind", "unit", "site_id", "outlet_id")
        for pk, param_id, kind, unit, site_id, outlet_id in qs:
            holder = ("s", site_id) if site_id is not None else ("o", outlet_id)
            if holder in found:
                found[holder][(param_id, kind)] = pk
                self._series_units.setdefault(pk, unit)
        known.update(found)

    def _existing_series(self, site, outlet, parameter_id: int, kind: str) -> int | None:
        """The id of an existing series of this site/outlet, from one query per site/outlet
        (a restarted gateway resolves a logger's factors at once, not one query per series)."""
        holder = ("s", site.pk) if site is not None else ("o", outlet.pk)
        known = self._holder_series.get(holder)
        if known is None:
            qs = Series.objects.filter(site_id=holder[1]) if holder[0] == "s" else Series.objects.filter(outlet_id=holder[1])
            known = {}
            for pk, param_id, k, unit in qs.values_list("pk", "parameter_id", "kind", "unit"):
                known[(param_id, k)] = pk
                self._series_units.setdefault(pk, unit)
            self._holder_series[holder] = known
        return known.get((parameter_id, kind))

    def _conversion(self, sid: int, param: _Param, src_unit: str) -> tuple:
        """(mode, factor, unit of the checks, non-negative?, range or None, note) for rows of a series.

        mode 0: no source unit (QC_UNKNOWN_UNIT, no value checks); 1: no exact factor to the series
        unit (QC_UNKNOWN_UNIT, kept as sent, checked in the source unit); 2: converted; 3: same unit."""
        target = self._series_units.get(sid, src_unit)
        if not src_unit:
            conv = (0, 1.0, "", False, None, "")
        else:
            factor = qc.unit_factor(src_unit, target)
            note = ""
            if factor is None:
                mode, factor, unit = 1, 1.0, src_unit
                note = f"{param.key}: cannot convert {src_unit} to the series unit {target}"
            else:
                mode, unit = (2 if factor != 1.0 else 3), target
            u = qc.normalise_unit(unit)
            rng = qc.PHYSICAL_RANGES.get(param.key)
            conv = (mode, factor, unit, u in qc.NON_NEGATIVE_UNITS, rng if rng is not None and rng[2] == u else None,
                    note)
        self._conv[(sid, src_unit)] = conv
        return conv

    @staticmethod
    def _convert(r: list, conv: tuple, plan: _Plan, unit_notes: list) -> None:
        """Unit conversion and value checks of one row (what qc.unit_factor / qc.value_bits say).

        ``r`` is ``[series, time, value, flag, qc, vmin, vmax, total, packet]``."""
        mode, factor, _unit, non_negative, rng, note = conv
        if mode == 0:
            r[4] |= QC_UNKNOWN_UNIT
            return
        if mode == 1:
            r[4] |= QC_UNKNOWN_UNIT  # kept as sent, not converted
            unit_notes.append((plan, note))
        elif mode == 2:
            r[4] |= QC_UNIT_CONVERTED
            for i in (2, 5, 6, 7):  # value, vmin, vmax, total
                if r[i] is not None:
                    r[i] *= factor
        checked = r[2] if r[2] is not None else r[7]
        if checked is not None:
            if checked < 0 and non_negative:
                r[4] |= QC_NEGATIVE
            if rng is not None and not (rng[0] <= checked <= rng[1]):
                r[4] |= QC_OUT_OF_RANGE

    def _check_clock(self, p: _Plan, data_time: dt.datetime, now: dt.datetime) -> None:
        m = p.message
        sent = parse_time(m.qn) if m.qn and len(m.qn) == 17 else None
        t = sent or data_time
        if abs(t - now) <= self.config.clock_skew:
            return
        last = self._calibrated.get(m.mn)
        if last is not None and now - last < self.config.calibrate_every:
            return
        self._calibrated[m.mn] = now
        p.outcome.replies.append(self._set_time(m, p.device, now))
        p.notes.append(f"clock off by {(t - now).total_seconds():+.0f} s: 1012 set time sent")

    def _set_time(self, m: Message, dev: DeviceInfo, now: dt.datetime) -> bytes:
        return build_set_time(system_time=format_time(now), mn=m.mn, pw=dev.password,
                              st=m.st or dev.system_code, qn=format_time(now, ms=True),
                              version=m.version if m.version in ("2005", "2017", "2025") else "2017")

    def _allocate_ids(self, n: int) -> list[int]:
        """Ids for ``n`` RawPacket rows before they are written (observations reference them).

        PostgreSQL: from the identity sequence.  SQLite: the writer holds the
        database's write lock for the whole transaction (BEGIN IMMEDIATE), so
        the next ids after the highest ever used are safe even with several
        writer processes.
        """
        table = RawPacket._meta.db_table
        if connection.vendor == "postgresql":
            with obs.server_cursor() as cur:
                if self._id_sequence is None:
                    cur.execute("SELECT pg_get_serial_sequence(%s, 'id')", [table])
                    self._id_sequence = cur.fetchone()[0]
                cur.execute("SELECT nextval(%s::regclass) FROM generate_series(1, %s)", [self._id_sequence, n])
                return [r[0] for r in cur.fetchall()]
        with connection.cursor() as cur:
            cur.execute(f"SELECT COALESCE(MAX(id), 0) FROM {table}")
            top = cur.fetchone()[0]
            try:
                cur.execute("SELECT seq FROM sqlite_sequence WHERE name = %s", [table])
                row = cur.fetchone()
                if row and row[0] and row[0] > top:
                    top = row[0]
            except Exception:  # no AUTOINCREMENT table yet
                pass
        return list(range(top + 1, top + 1 + n))

    def _raw_row(self, p: _Plan) -> tuple:
        out = p.outcome
        ev = p.item.event
        m = p.message if p.message is not None else getattr(ev, "partial", None)
        detail = out.detail
        if isinstance(ev, FramingError) and ev.size > len(ev.raw):
            detail = f"{detail} ({ev.size} bytes, first {len(ev.raw)} kept)"
        return (out.packet_id, p.item.received, p.item.peer[:64], out.mn[:32], out.qn[:32], out.cn[:8],
                (m.pno or 0) if m is not None else 0, bytes(ev.raw), str(out.verdict), out.reason[:40], detail,
                out.values_stored, out.duplicates)


#: suffix -> slot in a factor's texts (_entries)
_SLOT = {"Avg": 1, "Data": 2, "Rtd": 3, "Min": 4, "Max": 5, "Cou": 6}


def _texts(records, realtime: bool) -> list[tuple]:
    """Per factor code, in order of first appearance: ``(code, flag, value, min, max, total,
    has Zs values)``, texts as sent (None where absent; of a suffix sent twice the last one).
    The value is Rtd (else Data) of real-time data, else Avg (else Data, else Rtd)."""
    by_code: dict[str, list] = {}  # code -> [flag, Avg, Data, Rtd, Min, Max, Cou, has Zs values]
    slot_of = _SLOT
    for r in records:
        v = by_code.get(r.code)
        if v is None:
            v = by_code[r.code] = [r.flag, None, None, None, None, None, None, False]
        i = slot_of.get(r.suffix)
        if i is not None:
            v[i] = r.value
        elif r.suffix.startswith("Zs"):
            v[7] = True
    out = []
    for code, v in by_code.items():
        if realtime:
            pv = v[3] if v[3] is not None else v[2]
        else:
            pv = v[1] if v[1] is not None else (v[2] if v[2] is not None else v[3])
        out.append((code, v[0], pv, v[4], v[5], v[6], v[7]))
    return out


def _values(records, realtime: bool) -> tuple[tuple, list, list]:
    """The factors of a packet as the pipeline reads them: ``(codes, texts, numbers)``.

    ``codes`` has per factor code (see :func:`_texts`) ``(code, flag, value, min, max, total,
    any text sent, has Zs values)`` where ``flag`` is an index in ``texts`` and the others
    indexes in ``numbers`` (floats, None where not a finite number), -1 where absent."""
    texts: list = []
    nums: list = []
    codes = []
    for code, flag, *values, zs in _texts(records, realtime):
        fi = -1
        if flag is not None:
            fi = len(texts)
            texts.append(flag)
        positions = []
        for t in values:
            if t is None:
                positions.append(-1)
            else:
                positions.append(len(nums))
                nums.append(_number(t))
        codes.append((code, fi, *positions, any(t is not None for t in values), zs))
    return tuple(codes), texts, nums


def values_read(codes: tuple, texts: list, nums: list) -> list[tuple]:
    """:func:`_values` (or :func:`_values_of_shape`) spelled out: per code ``(code, flag, value,
    min, max, total, any text, Zs)`` (tests compare the two ways with it)."""
    return [(code, None if f < 0 else texts[f], *(None if i < 0 else nums[i] for i in pos), any_text, zs)
            for code, f, *pos, any_text, zs in codes]


class _Slot(str):
    """A stand-in for a value text in a CP shape; ``at`` is its index in the CP's values."""


def _shape_plan(shape: tuple, realtime: bool) -> tuple:
    """:func:`_values` worked out once for a CP shape, from :func:`_texts` on stand-in records
    whose texts carry their index in the CP's values (same rules, same order). Returns
    ``(getter, per code (code, flag index, value, min, max and total positions, any text,
    Zs))``: ``getter(values)`` gives the texts that must be numbers, in one tuple (a position
    is an index in it, -1 where absent)."""
    stand_ins = []
    for k, code, suffix, f, _e in shape:
        value, flag = _Slot("v"), None
        value.at = k
        if f >= 0:
            flag = _Slot("f")
            flag.at = f
        stand_ins.append(DataRecord(code, suffix, value, flag))
    numeric: list[int] = []
    codes = []
    for code, flag, *texts, zs in _texts(stand_ins, realtime):
        positions = []
        for t in texts:
            if t is None:
                positions.append(-1)
            else:
                positions.append(len(numeric))
                numeric.append(t.at)
        codes.append((code, -1 if flag is None else flag.at, *positions, any(t is not None for t in texts), zs))
    return _getter(numeric), tuple(codes)


def _no_texts(vals) -> tuple:
    return ()


#: (id of a CP shape, real-time?) -> (the shape, its plan); the shape is kept so its id stays its own
_PLANS: dict[tuple[int, bool], tuple[tuple, tuple]] = {}


def _plan_of(shape: tuple, realtime: bool) -> tuple:
    """:func:`_shape_plan` of ``shape``, worked out once."""
    key = (id(shape), realtime)
    got = _PLANS.get(key)
    if got is None or got[0] is not shape:
        if len(_PLANS) >= 4096:
            _PLANS.clear()
        got = _PLANS[key] = (shape, _shape_plan(shape, realtime))
    return got[1]


def _values_of_shape(shape: tuple, vals: list[str], realtime: bool) -> tuple[tuple, list, list]:
    """:func:`_values` of a fast-path message, from its CP values and the plan of its shape (flag
    indexes point into the CP values themselves): the
    numbers of a packet are read by one ``map(float, …)`` (and checked for ``_`` and
    infinities in one pass each); only a packet with a text that is no finite number is read
    text by text."""
    getter, codes = _plan_of(shape, realtime)
    texts = getter(vals)
    try:
        nums = list(map(float, texts))
    except ValueError:
        nums = None
    if nums is None or "_" in "".join(texts) or not all(map(_isfinite, nums)):
        nums = [_number(t) for t in texts]
    return codes, vals, nums


_isfinite = math.isfinite
_NAN = math.nan


def _getter(indexes: Sequence[int]) -> Callable[[Sequence], tuple]:
    """``f(seq)`` -> the tuple of ``seq``'s items at ``indexes`` (itemgetter, always a tuple)."""
    if not indexes:
        return _no_texts
    if len(indexes) == 1:  # itemgetter of one index gives no tuple
        only = indexes[0]
        return lambda vals: (vals[only],)
    return operator.itemgetter(*indexes)


@dataclass(slots=True, eq=False)
class _FastPlan:
    """The rows of one logger's packets of one CP shape, worked out once (series, positions of
    the numbers, conversion and checks), for packets whose texts are all finite numbers.

    Made only when every factor of the shape maps to a known series whose unit is known and
    convertible, and no factor is skipped with a note; anything else goes value by value.
    The ``layout`` (shared by the plans of all loggers sending this shape) says where the
    numbers of row ``j`` are: value, minimum, maximum and total at positions ``pos[:, j]``
    of the packet's numbers (``m``: absent, a NaN appended to them); its flag is the CP
    value at ``flag_at`` for rows ``flag_rows``. Per row: ``sids``, and ``checks``
    (conversion factor, QC bits of the conversion, range low and high, non-negative)."""

    shape: tuple
    getter: Callable
    flag_getter: Callable
    n: int
    layout: "_Layout"
    sids: Any
    checks: Any

    @classmethod
    def build(cls, shape: tuple, realtime: bool, targets: dict, conv_cache: dict) -> "_FastPlan | None":
        getter, codes = _plan_of(shape, realtime)
        m = sum(1 for c in codes for i in c[2:6] if i >= 0)
        sids, pos, flag_at, flag_rows, factor, bits, lo, hi, nonneg = [], [], [], [], [], [], [], [], []
        for code, fi, pi, ai, bi, ci, any_text, zs in codes:
            if pi < 0 and ai < 0 and bi < 0 and ci < 0:
                if any_text or zs:
                    return None  # skipped with a note
                continue
            target = targets.get(code)
            if target is None:
                return None
            sid, _param, src_unit = target
            conv = conv_cache.get((sid, src_unit))
            if conv is None or conv[0] not in (2, 3):
                return None
            mode, f, _unit, non_negative, rng, _note = conv
            if fi >= 0:
                flag_at.append(fi)
                flag_rows.append(len(sids))
            sids.append(sid)
            pos.append([i if i >= 0 else m for i in (pi, ai, bi, ci)])
            factor.append(f)
            bits.append(QC_UNIT_CONVERTED if mode == 2 else 0)
            lo.append(rng[0] if rng is not None else -math.inf)
            hi.append(rng[1] if rng is not None else math.inf)
            nonneg.append(bool(non_negative))
        if not sids:
            return None
        key = (tuple(map(tuple, pos)), tuple(flag_rows))
        layout = _LAYOUTS.get(key)
        if layout is None:
            if len(_LAYOUTS) >= 4096:
                _LAYOUTS.clear()
            layout = _LAYOUTS[key] = _Layout(len(sids), np.array(pos, np.intp).T.copy(), np.array(flag_rows, np.intp),
                                             flag_rows, ("N",) * len(flag_rows))
        checks = np.array([factor, bits, lo, hi, nonneg], np.float64).T.copy()
        return cls(shape, getter, _getter(flag_at), len(sids), layout, np.array(sids, np.int64), checks)


@dataclass(slots=True, eq=False)
class _Layout:
    """Where the numbers and flags of each row are in a packet's numbers (see :class:`_FastPlan`)."""

    n: int
    pos: Any
    flag_rows: Any
    flag_rows_list: list
    all_n: tuple


#: layouts by (positions, flag rows): one object per layout, so packets of many loggers group together
_LAYOUTS: dict[tuple, _Layout] = {}


class _Batch:
    """The values of one batch on their way to the store: rows made value by value (``rows``,
    at positions ``row_at`` of the batch) and, per :class:`_Layout`, the packets with a
    :class:`_FastPlan` of that layout as ``(numbers, flags, time µs, QC bits, packet id, first
    position, series ids, checks, _Plan)``."""

    __slots__ = ("rows", "row_plan", "row_at", "groups", "nrows", "unknown", "unknown_source", "pending_units",
                 "unit_notes", "unplanned")

    def __init__(self) -> None:
        self.rows: list[list] = []  # [series, time, value, flag, qc, vmin, vmax, total, packet]
        self.row_plan: list[_Plan] = []
        self.row_at: list[int] = []
        self.groups: dict[_Layout, list[tuple]] = {}
        self.nrows = 0
        self.unknown: Counter = Counter()
        self.unknown_source: dict[str, str] = {}
        self.pending_units: list[tuple[int, int, _Param, str]] = []  # (index in rows, series, param, source unit)
        self.unit_notes: list[tuple[_Plan, str]] = []  # added after the other notes of the packet
        self.unplanned: list[tuple] = []  # shapes to plan once the units of their new series are known

    def columns(self) -> ObsColumns:
        """Every row of the batch, in order, as columns: the packets of one layout at once."""
        cols = ObsColumns.empty(self.nrows, ["", "N"])
        flags = cols.flags
        code_of = {"": 0, "N": 1}
        for layout, blocks in self.groups.items():
            k, r = len(blocks), layout.n
            nums, flag_texts, t_us, base_bits, pids, starts, sids, checks, _owners = zip(*blocks)
            nums = np.array(nums)
            at = (np.array(starts, np.int64)[:, None] + np.arange(r)).ravel()
            checks = np.concatenate(checks).reshape(k, r, 5)
            value, vmin, vmax, total = (nums[:, layout.pos[i]] * checks[:, :, 0] for i in range(4))
            cols.series[at] = np.concatenate(sids)
            cols.time_us[at] = np.repeat(np.array(t_us, np.int64), r)
            if None in pids:
                pids = [-1 if x is None else x for x in pids]
            cols.packet[at] = np.repeat(np.array(pids, np.int64), r)
            cols.value[at], cols.vmin[at], cols.vmax[at], cols.total[at] = (
                value.ravel(), vmin.ravel(), vmax.ravel(), total.ravel())
            bits = np.array(base_bits, np.int64)[:, None] | checks[:, :, 1].astype(np.int64)
            checked = np.where(np.isnan(value), total, value)
            bits |= np.where((checked < 0) & (checks[:, :, 4] != 0), QC_NEGATIVE, 0)
            bits |= np.where((checked < checks[:, :, 2]) | (checked > checks[:, :, 3]), QC_OUT_OF_RANGE, 0)
            codes = np.zeros((k, r), np.int32)
            if layout.flag_rows_list:
                codes[:, layout.flag_rows] = 1  # "N"
                all_n = layout.all_n
                for i, texts in enumerate(flag_texts if flag_texts.count(all_n) != k else ()):
                    if texts != all_n:
                        for j, text in zip(layout.flag_rows_list, texts):
                            t2 = text[:2]
                            c = code_of.get(t2)
                            if c is None:
                                c = code_of[t2] = len(flags)
                                flags.append(t2)
                            codes[i, j] = c
                            if text != "N":
                                bits[i, j] |= QC_FLAG_INVALID
            cols.qc[at] = bits.ravel()
            cols.flag[at] = codes.ravel()
        if self.rows:
            slow = ObsColumns.from_rows(self.rows)
            at = np.array(self.row_at, np.int64)
            for name in ("series", "time_us", "value", "vmin", "vmax", "total", "qc", "packet"):
                getattr(cols, name)[at] = getattr(slow, name)
            remap = []
            for f in slow.flags:
                c = code_of.get(f)
                if c is None:
                    c = code_of[f] = len(flags)
                    flags.append(f)
                remap.append(c)
            cols.flag[at] = np.array(remap, np.int32)[slow.flag]
        return cols

    def owners(self) -> Callable[[int], _Plan]:
        """``f(i)`` -> the packet (its :class:`_Plan`) of row ``i`` of :meth:`columns`."""
        starts = sorted([(b[5], b[8]) for blocks in self.groups.values() for b in blocks]
                        + list(zip(self.row_at, self.row_plan)),
                        key=operator.itemgetter(0))
        keys = [s for s, _ in starts]
        return lambda i: starts[bisect.bisect_right(keys, i) - 1][1]


def _number(text: str) -> float | None:
    """DataRecord.number without the record: a finite float, or None."""
    if "_" in text:
        return None
    try:
        x = float(text)
    except ValueError:
        return None
    return x if _isfinite(x) else None


RAW_COLUMNS = ("id", "received", "peer", "mn", "qn", "cn", "pno", "raw", "verdict", "reason", "detail",
               "values_stored", "values_duplicate")
KEY_COLUMNS = ("mn", "qn", "cn", "pno", "packet_id", "accepted")


def _insert(model, columns: tuple[str, ...], rows: list[tuple], *, ignore_conflicts: bool = False) -> None:
    """Plain bulk INSERT of archive rows (the ORM's bulk_create costs more than the database here).

    PostgreSQL: binary COPY (ids are allocated beforehand; the packet's bytes go as they are,
    not as hex for the server to decode). With ``ignore_conflicts`` the COPY runs in a
    savepoint; if a row exists already (another writer process took the key) it is rolled
    back and the rows go by one ``INSERT … SELECT FROM unnest(column arrays) ON CONFLICT DO
    NOTHING``. SQLite: executemany of one prepared statement.
    """
    if not rows:
        return
    table = model._meta.db_table
    cols = ", ".join(columns)
    with connection.cursor() as cur:
        if connection.vendor == "postgresql":
            import psycopg

            kinds = _KINDS.get((model, columns))
            if kinds is None:
                kinds = _KINDS[(model, columns)] = obs.binary_copy_kinds(model, columns)
            payload = obs.binary_copy(rows, kinds)
            raw = cur.cursor
            statement = f"COPY {table} ({cols}) FROM STDIN (FORMAT binary)"
            if not ignore_conflicts:
                with raw.copy(statement) as copy:
                    copy.write(payload)
                return
            # keys are new unless another writer process took one meanwhile: try a plain COPY first
            raw.execute("SAVEPOINT gongzhi_ingest_copy")
            try:
                with raw.copy(statement) as copy:
                    copy.write(payload)
            except psycopg.errors.UniqueViolation:
                raw.execute("ROLLBACK TO SAVEPOINT gongzhi_ingest_copy")
                raw.execute("RELEASE SAVEPOINT gongzhi_ingest_copy")
            else:
                raw.execute("RELEASE SAVEPOINT gongzhi_ingest_copy")
                return
            arrays = ", ".join(f"%s::{model._meta.get_field(c).db_type(connection)}[]" for c in columns)
            with obs.server_cursor() as scur:
                scur.execute(f"INSERT INTO {table} ({cols}) SELECT * FROM unnest({arrays}) ON CONFLICT DO NOTHING",
                             [list(col) for col in zip(*rows)])
            return
        if connection.vendor != "postgresql":
            adapt = connection.ops.adapt_datetimefield_value
            rows = [tuple(adapt(v) if isinstance(v, dt.datetime) else v for v in r) for r in rows]
        marks = ", ".join(["%s"] * len(columns))
        conflict = " ON CONFLICT DO NOTHING" if ignore_conflicts else ""
        cur.executemany(f"INSERT INTO {table} ({cols}) VALUES ({marks}){conflict}", rows)


#: (model, columns) -> binary COPY field kinds
_KINDS: dict[tuple, str] = {}


def _seen_keys(pairs: set[tuple[str, str]]) -> set[tuple]:
    """The recorded keys (mn, qn, cn, pno) of these (mn, qn) pairs: one index probe per pair.

    Not ``mn IN (...) AND qn IN (...)``: a B-tree answers that by probing every combination
    of the two lists, 250 loggers x 500 QNs = 125,000 probes for a batch of 500 packets (it
    was most of PostgreSQL's time per batch, growing with the batch and the table)."""
    table = AcceptedPacket._meta.db_table
    if connection.vendor == "postgresql":
        mns, qns = zip(*pairs)
        # Two array parameters bound by the server, not 2 x 500 values quoted by the client.
        # One index probe per pair, always: as a plain join, the planner (knowing the array has
        # 500 elements and believing the key table small, as after a restart on a young
        # database) chose a sort-merge join over the whole table: 22 ms per batch at 24,000
        # keys and growing, against 2.5 ms for the probes. OFFSET 0 keeps the subquery from
        # being flattened into such a join.
        # The lists go as two strings split by the server (half the time of two text arrays
        # adapted by psycopg), unless a separator occurs in a value.
        sep = "\x1f"
        mn_text, qn_text = sep.join(mns), sep.join(qns)
        if mn_text.count(sep) == qn_text.count(sep) == len(mns) - 1:
            keys = f"unnest(string_to_array(%s, '{sep}'), string_to_array(%s, '{sep}'))"
            params = [mn_text, qn_text]
        else:
            keys, params = "unnest(%s::text[], %s::text[])", [list(mns), list(qns)]
        with obs.server_cursor() as cur:
            cur.execute(f"SELECT k.mn, k.qn, a.cn, a.pno FROM {keys} AS k(mn, qn)"
                        f" CROSS JOIN LATERAL (SELECT a.cn, a.pno FROM {table} a"
                        " WHERE a.mn = k.mn AND a.qn = k.qn OFFSET 0) AS a", params)
            return set(cur.fetchall())
    seen: set = set()
    pairs = list(pairs)
    with connection.cursor() as cur:
        for i in range(0, len(pairs), 400):  # 800 parameters per statement
            chunk = pairs[i : i + 400]
            marks = ", ".join(["(%s, %s)"] * len(chunk))
            # a join, so SQLite probes the unique index per pair ("(mn, qn) IN (VALUES ...)" scans)
            cur.execute(f"SELECT a.mn, a.qn, a.cn, a.pno FROM (VALUES {marks}) AS k"
                        f" JOIN {table} a ON a.mn = k.column1 AND a.qn = k.column2",
                        [v for pair in chunk for v in pair])
            seen.update(cur.fetchall())
    return seen


# Any Device saved or deleted in this process drops every pipeline's device cache at once;
# edits made by another process (the web admin) reach the gateway within ``device_ttl``.
import weakref  # noqa: E402

_PIPELINES: "weakref.WeakSet[Pipeline]" = weakref.WeakSet()


def _device_changed(sender, **kwargs) -> None:
    for p in list(_PIPELINES):
        p._invalidate_devices()


post_save.connect(_device_changed, sender=reg.Device, dispatch_uid="ingest-device-save")
post_delete.connect(_device_changed, sender=reg.Device, dispatch_uid="ingest-device-delete")

_default: Pipeline | None = None


def default_pipeline() -> Pipeline:
    global _default
    if _default is None:
        _default = Pipeline()
    return _default


def process_batch(items: Iterable[Item | Sequence], *, archive: bool = True) -> list[Outcome]:
    """Module-level entry point: :meth:`Pipeline.process_batch` of the process's default pipeline."""
    return default_pipeline().process_batch(items, archive=archive)
