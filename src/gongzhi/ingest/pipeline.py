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
   :func:`gongzhi.observations.services.write_observations`;
4. archive every item in :class:`RawPacket` with its verdict and record the
   accepted keys and unknown codes;
5. commit, and only then return the replies (9014 …) for the caller to send.

If the batch fails as a whole (a database error), every item is retried in a
transaction of its own, so one poison item cannot hold back good data next to
it; an item that still fails is archived as ``rejected``/``internal_error`` and
not acknowledged (the logger resends it).  See docs/ingest.md.
"""

from __future__ import annotations

import datetime as dt
import logging
import threading
import time as _time
from collections import Counter
from dataclasses import dataclass, field
from typing import Any, Iterable, Sequence

from django.db import connection, transaction
from django.db.models.signals import post_delete, post_save
from django.utils import timezone

from gongzhi.hj212 import (
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
from gongzhi.observations.models import (
    QC_BACKFILL,
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
        #: (code, domain, system code, site id, outlet id, kind) -> (series id, param, source unit)
        self._targets: dict[tuple, tuple[int, _Param, str]] = {}
        self._calibrated: dict[str, dt.datetime] = {}
        self._split_times: dict[tuple, tuple[dt.datetime, float]] = {}
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
        qs = reg.Device.objects.filter(mn__in=want).select_related("site", "outlet__enterprise")
        for d in qs:
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
            qs = AcceptedPacket.objects.filter(
                mn__in={p.key[0] for p in keyed}, qn__in={p.key[1] for p in keyed}
            ).values_list("mn", "qn", "cn", "pno")
            seen = set(qs)
        for p in keyed:
            if p.key in seen:
                p.outcome.verdict, p.outcome.reason = Verdict.DUPLICATE, "resend"
                p.key = None  # already recorded
                m = p.message
                if m.ack_requested and (m.cn in KIND_BY_CN or m.cn in STATE_CNS):
                    p.outcome.replies.append(build_data_ack(m))  # ack again so the logger stops resending
            else:
                seen.add(p.key)

        # 3. values
        rows: list[obs.ObservationRow] = []
        row_plan: list[_Plan] = []
        unknown: Counter = Counter()
        unknown_source: dict[str, str] = {}
        pending_units: list[tuple[int, int, _Param, str]] = []  # (row index, series id, param, source unit)
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
            self._rows_for(p, kind, data_time, now, rows, row_plan, unknown, unknown_source, pending_units)
            if m.ack_requested:
                out.replies.append(build_data_ack(m))
            if cn == "2011":
                self._check_clock(p, data_time, now)

        # unit of existing series (a series created elsewhere may be in another unit)
        if pending_units:
            self._load_series_units(sid for _, sid, _, _ in pending_units)
            for ri, sid, param, src_unit in pending_units:
                target = self._series_units.get(sid, src_unit)
                r = rows[ri]
                if not src_unit:
                    r.qc |= QC_UNKNOWN_UNIT
                    continue
                factor = qc.unit_factor(src_unit, target)
                if factor is None:
                    r.qc |= QC_UNKNOWN_UNIT  # kept as sent, not converted
                    row_plan[ri].notes.append(f"{param.key}: cannot convert {src_unit} to the series unit {target}")
                    target = src_unit
                elif factor != 1.0:
                    r.qc |= QC_UNIT_CONVERTED
                    r.value = None if r.value is None else r.value * factor
                    r.vmin = None if r.vmin is None else r.vmin * factor
                    r.vmax = None if r.vmax is None else r.vmax * factor
                    r.total = None if r.total is None else r.total * factor
                checked = r.value if r.value is not None else r.total
                r.qc |= qc.value_bits(param.key, target, checked)

        # 4. archive ids, write values, archive rows, keys, unknown codes
        if archive:
            ids = self._allocate_ids(len(plans))
            for p, pk in zip(plans, ids):
                p.outcome.packet_id = pk
        else:
            for p in plans:
                p.outcome.packet_id = p.item.packet_id
        for ri, r in enumerate(rows):
            r.packet_id = row_plan[ri].outcome.packet_id
        if rows:
            result = obs.write_observations(rows, source=cfg.source, received=now)
            dup = set(result.duplicate_indexes)
            for ri, p in enumerate(row_plan):
                if ri in dup:
                    p.outcome.duplicates += 1
                else:
                    p.outcome.values_stored += 1
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
        for code, n in unknown.items():
            record_unknown_code(code=code, source=unknown_source[code], count=n)
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

    def _rows_for(self, p, kind, data_time, now, rows, row_plan, unknown, unknown_source, pending_units) -> None:
        m = p.message
        dev = p.device
        out = p.outcome
        cfg = self.config
        domain = DOMAIN_BY_ST.get(dev.system_code or m.st or "", "")
        value_suffix = "Rtd" if kind == SeriesKind.REALTIME else "Avg"
        by_code: dict[str, dict[str, Any]] = {}
        flags: dict[str, str | None] = {}
        for r in m.records:
            d = by_code.get(r.code)
            if d is None:
                d = by_code[r.code] = {}
                flags[r.code] = r.flag
            d[r.suffix] = r
        base_bits = QC_BACKFILL if m.back_fill else 0
        base_bits |= qc.time_bits(data_time, now, cfg.future_tolerance)
        t_utc = data_time.astimezone(UTC)
        skipped: list[str] = []
        for code, d in by_code.items():
            primary = d.get(value_suffix) or d.get("Data")
            if primary is None and kind != SeriesKind.REALTIME:
                primary = d.get("Rtd")  # some loggers send -Rtd in period data
            nums = {}
            for suffix, field_name in (("Min", "vmin"), ("Max", "vmax"), ("Cou", "total")):
                rec = d.get(suffix)
                if rec is not None:
                    nums[field_name] = rec.number
            value = primary.number if primary is not None else None
            if value is None and not any(v is not None for v in nums.values()):
                if primary is not None or nums:
                    skipped.append(f"{code}: no numeric value")
                elif any(s.startswith("Zs") for s in d):
                    skipped.append(f"{code}: only converted (Zs) values, kept in the raw archive")
                continue  # RS/RT state fields, noise day/night data, info fields: archive only
            tkey = (code, domain, dev.system_code, dev.site and dev.site.pk, dev.outlet and dev.outlet.pk, kind)
            target = self._targets.get(tkey)
            if target is None:
                pk = code_index.lookup(code, domain)
                if pk is None:  # not cached: an alias added later resolves at once
                    unknown[code] += 1
                    unknown_source.setdefault(code, f"MN {m.mn}"[:128])
                    if code not in out.unknown_codes:
                        out.unknown_codes.append(code)
                    continue
                param = self._param(pk)
                src_unit = qc.source_unit(system_code=dev.system_code or m.st or "", unit=param.unit,
                                          ambient_unit=param.ambient_unit)
                sid = obs.series_resolver.get(site=dev.site, outlet=dev.outlet, parameter=param.obj, kind=kind,
                                              unit=src_unit)
                target = self._targets[tkey] = (sid, param, src_unit)
            sid, param, src_unit = target
            flag = flags.get(code)
            row = obs.ObservationRow(
                sid, t_utc, value, (flag or "")[:2], base_bits | qc.flag_bits(flag),
                nums.get("vmin"), nums.get("vmax"), nums.get("total"),
            )
            pending_units.append((len(rows), sid, param, src_unit))
            rows.append(row)
            row_plan.append(p)
        if out.unknown_codes:
            p.notes.append("unknown code(s) recorded for the catalog: " + ", ".join(out.unknown_codes))
        if skipped:
            p.notes.append("; ".join(skipped[:20]))

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
        with connection.cursor() as cur:
            if connection.vendor == "postgresql":
                cur.execute(f"SELECT nextval(pg_get_serial_sequence('{table}', 'id')) FROM generate_series(1, %s)", [n])
                return [r[0] for r in cur.fetchall()]
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


RAW_COLUMNS = ("id", "received", "peer", "mn", "qn", "cn", "pno", "raw", "verdict", "reason", "detail",
               "values_stored", "values_duplicate")
KEY_COLUMNS = ("mn", "qn", "cn", "pno", "packet_id", "accepted")


def _insert(model, columns: tuple[str, ...], rows: list[tuple], *, ignore_conflicts: bool = False) -> None:
    """Plain bulk INSERT of archive rows (the ORM's bulk_create costs more than the database here).

    PostgreSQL: COPY (ids are allocated beforehand), or executemany for ON CONFLICT.
    SQLite: executemany of one prepared statement.
    """
    if not rows:
        return
    table = model._meta.db_table
    cols = ", ".join(columns)
    with connection.cursor() as cur:
        if connection.vendor == "postgresql" and not ignore_conflicts:
            with cur.cursor.copy(f"COPY {table} ({cols}) FROM STDIN") as copy:
                for r in rows:
                    copy.write_row(r)
            return
        if connection.vendor != "postgresql":
            adapt = connection.ops.adapt_datetimefield_value
            rows = [tuple(adapt(v) if isinstance(v, dt.datetime) else v for v in r) for r in rows]
        marks = ", ".join(["%s"] * len(columns))
        conflict = " ON CONFLICT DO NOTHING" if ignore_conflicts else ""
        cur.executemany(f"INSERT INTO {table} ({cols}) VALUES ({marks}){conflict}", rows)


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
