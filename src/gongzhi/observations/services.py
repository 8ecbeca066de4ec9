"""Writers of the observation store.

:func:`write_observations` is the bulk write path every ingest channel uses
(partner push, file import, backfill; the HJ 212 gateway uses its columnar twin
:func:`write_observation_columns`). It is idempotent on ``(series, time)``: a value
already stored is reported as a duplicate and left as it is, so a resend after a
lost acknowledgement stores nothing twice.

* PostgreSQL: binary ``COPY`` straight into the store in a savepoint; if a row
  was there already, binary ``COPY`` into a temporary staging table, then one
  ``INSERT … SELECT … ON CONFLICT DO NOTHING RETURNING`` into the store.
* SQLite: multi-row ``INSERT … ON CONFLICT DO NOTHING RETURNING`` in chunks
  (one transaction; WAL mode).

Both return which rows were new, so callers can give per-record results.

In the same transaction the write adds ONE outbox row
(:class:`~gongzhi.observations.models.PendingChange`) naming the (series, hour)
pairs and the newest value per series of the rows that were new. The per-series
upserts that follow from it — marking hours dirty
(:class:`~gongzhi.observations.models.DirtyPeriod`, so
:func:`gongzhi.observations.aggregates.recompute_dirty` recomputes exactly the
hours, days and months touched) and moving
:class:`~gongzhi.observations.models.LatestValue` forward (only to a later time) —
are done by :func:`apply_pending_changes`, off the acknowledgement path. Readers of
dirty hours and latest values apply pending changes first, so they never see
stale results.
"""

from __future__ import annotations

import datetime as dt
import itertools
import json
import logging
import operator
import sqlite3
import struct
import threading
from dataclasses import dataclass, field
from typing import Callable, Iterable, Sequence

from django.db import connection, transaction
from django.utils import timezone

from gongzhi.observations.columns import (
    BIN_HEADER,
    BIN_TRAILER,
    EPOCH,
    HOUR_US,
    PG_EPOCH_US,
    ObsColumns,
    touched_hours,
)
from gongzhi.observations.columns import binary_copy as binary_copy_columns
from gongzhi.observations.columns import epoch_us as _epoch_us
from gongzhi.observations.models import DirtyPeriod, LatestValue, Observation, PendingChange, Revision, Series, Source

UTC = dt.timezone.utc
OBS_TABLE = Observation._meta.db_table
DIRTY_TABLE = DirtyPeriod._meta.db_table
LATEST_TABLE = LatestValue._meta.db_table
HOUR = dt.timedelta(hours=1)
OBS_COLUMNS = ("series_id", "time", "value", "vmin", "vmax", "total", "flag", "qc", "source", "received", "packet_id")


@dataclass(slots=True)
class ObservationRow:
    series_id: int
    time: dt.datetime  # timezone-aware
    value: float | None
    flag: str = ""
    qc: int = 0
    vmin: float | None = None
    vmax: float | None = None
    total: float | None = None
    packet_id: int | None = None


@dataclass
class WriteResult:
    inserted: int = 0
    duplicates: int = 0
    #: index (in the input) of every row that was already stored or repeated within the batch
    duplicate_indexes: list[int] = field(default_factory=list)


# --- after-commit listeners ----------------------------------------------------------------------

#: Callables run after the transaction that stored new values commits (e.g. the alarm evaluator),
#: each with the new rows as ``(series_id, time_us, value, flag, qc)`` tuples and ``received``.
#: They run on the writer's thread right after the commit: they must only hand the rows on
#: (a queue) and return. A listener that raises is logged and never affects the write.
_write_listeners: list = []


def add_write_listener(fn) -> None:
    """Register ``fn(rows, received)`` to run after every committed write (once per function)."""
    if fn not in _write_listeners:
        _write_listeners.append(fn)


def remove_write_listener(fn) -> None:
    if fn in _write_listeners:
        _write_listeners.remove(fn)


def _fire_listeners(rows: list[tuple], received: dt.datetime) -> None:
    for fn in list(_write_listeners):
        try:
            fn(rows, received)
        except Exception:  # never let a listener break the writer
            logging.getLogger(__name__).exception("write listener %r failed", fn)


# --- series ---------------------------------------------------------------------------------------


class SeriesResolver:
    """Maps (site or outlet, parameter, kind) to a series id, creating series on first use.

    Thread-safe; keeps a process-wide cache (series are never deleted while data exists)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._cache: dict[tuple[str, int, int, str], int] = {}

    def clear(self) -> None:
        with self._lock:
            self._cache.clear()
        with _series_kinds_lock:
            _series_kinds.clear()

    def get(self, *, site=None, outlet=None, parameter, kind: str, unit: str = "") -> int:
        holder = ("s", site.pk) if site is not None else ("o", outlet.pk)
        key = (holder[0], holder[1], parameter.pk, kind)
        with self._lock:
            sid = self._cache.get(key)
        if sid is not None:
            return sid
        owner_id = site.owner_id if site is not None else outlet.enterprise.owner_id
        lookup = {"site": site} if site is not None else {"outlet": outlet}
        with transaction.atomic():
            series, _ = Series.objects.get_or_create(
                **lookup, parameter=parameter, kind=kind,
                defaults={"unit": unit or parameter.unit, "owner_id": owner_id},
            )
        pk = series.pk

        def remember() -> None:
            with self._lock:
                self._cache[key] = pk

        # Inside a caller's transaction the series may still be rolled back: cache it only
        # once it is committed (at once when there is no outer transaction).
        transaction.on_commit(remember)
        return pk


series_resolver = SeriesResolver()


# --- bulk write -----------------------------------------------------------------------------------


def _as_aware(t) -> dt.datetime:
    """A time read with a raw cursor: aware on PostgreSQL; on SQLite naive UTC (or its text)."""
    if isinstance(t, str):
        t = dt.datetime.fromisoformat(t)
    return t if t.tzinfo is not None else t.replace(tzinfo=UTC)


def _from_epoch_us(us: int) -> dt.datetime:
    return EPOCH + dt.timedelta(microseconds=us)


#: a row as the write path handles it internally (and as callers may pass it): the fields of
#: :class:`ObservationRow` in order
RowTuple = tuple  # (series_id, time, value, flag, qc, vmin, vmax, total, packet_id)


def _as_tuples(rows: Sequence[ObservationRow | tuple]) -> list[tuple]:
    out = []
    append = out.append
    for r in rows:
        if type(r) is tuple or type(r) is list:
            if len(r) != 9:
                r = ObservationRow(*r)  # short tuples: the dataclass fills the defaults
            else:
                append(r)
                continue
        append((r.series_id, r.time, r.value, r.flag, r.qc, r.vmin, r.vmax, r.total, r.packet_id))
    return out


def write_observations(rows: Sequence[ObservationRow | tuple], *, source: int,
                       received: dt.datetime | None = None) -> WriteResult:
    """Store ``rows`` once each; report duplicates. Runs in the caller's transaction if there is
    one (the gateway commits, then acknowledges), otherwise in its own.

    ``rows`` are :class:`ObservationRow` objects or plain tuples (or lists) of the same
    fields in the same order ``(series_id, time, value, flag, qc, vmin, vmax, total,
    packet_id)``; shorter tuples get the dataclass defaults.

    Of several rows with the same series and time (in the store already or within the
    batch) the first one stored wins; the others are reported in ``duplicate_indexes``.
    Times must be timezone-aware."""
    if not rows:
        return WriteResult()
    received = received or timezone.now()
    _check_source(source)
    rows = _as_tuples(rows)
    us_of = _epoch_us_of(rows)

    def payload() -> bytes:
        return _copy_binary(rows, us_of, source, received)

    def times_us():
        return map(us_of.__getitem__, map(id, map(_second, rows)))

    def all_new() -> list[tuple]:  # (series, time in µs, value, flag, qc) of every row, built in C
        return list(zip(map(_first, rows), times_us(), map(_third, rows), map(_fourth, rows), map(_fifth, rows)))

    def keys() -> list[tuple[int, int]]:
        return list(zip(map(_first, rows), times_us()))

    return _write(payload, lambda: (rows, us_of), all_new, keys, source, received)


def write_observation_columns(cols: ObsColumns, *, source: int, received: dt.datetime | None = None) -> WriteResult:
    """:func:`write_observations` of rows held as columns (:class:`~gongzhi.observations.columns.ObsColumns`):
    the same rows stored, the same duplicates reported (indexes into ``cols``), the same
    outbox row and listeners. On PostgreSQL the optimistic COPY is encoded from the arrays
    (no Python step per value); where that path is left (a duplicate, SQLite) the rows are
    handed on as tuples."""
    if not len(cols):
        return WriteResult()
    received = received or timezone.now()
    _check_source(source)

    def tuples() -> tuple[list[tuple], dict[int, int]]:
        rows = cols.rows()
        return rows, dict(zip(map(id, map(_second, rows)), cols.time_us.tolist()))

    return _write(lambda: binary_copy_columns(cols, source=source, received_us=_epoch_us(received)), tuples,
                  cols.new_rows, lambda: list(zip(cols.series.tolist(), cols.time_us.tolist())), source, received,
                  touched=lambda: touched_hours(cols.series, cols.time_us))


def _check_source(source: int) -> None:
    if source not in Source.values:
        raise ValueError(f"unknown source {source!r}")


def _write(payload: Callable[[], bytes], tuples: Callable[[], tuple[list[tuple], dict[int, int]]],
           all_new: Callable[[], list[tuple]], keys: Callable[[], list[tuple[int, int]]], source: int,
           received: dt.datetime, touched: Callable[[], list[int]] | None = None) -> WriteResult:
    """The write of :func:`write_observations` and :func:`write_observation_columns`, given
    their rows four ways: the optimistic COPY's payload, the rows as tuples with their
    times in µs (the careful paths), ``(series, µs, value, flag, qc)`` of every row, and
    ``(series, µs)`` of every row in order; ``touched`` gives the outbox's (series, hour)
    pairs when every row was new."""
    with transaction.atomic():
        with connection.cursor() as cur:
            if connection.vendor == "postgresql":
                if _copy_optimistic(cur.cursor, payload()):
                    returned = _ALL_NEW
                else:
                    rows, us_of = tuples()
                    returned = _write_staged(cur.cursor, rows, us_of, source, received)
            else:
                rows, us_of = tuples()
                returned = _write_sqlite(cur, rows, us_of, source, received)
            new_rows = all_new() if returned is _ALL_NEW else returned
            _add_pending(cur, new_rows, received,
                         touched() if returned is _ALL_NEW and touched is not None and new_rows else None)
        if new_rows and _write_listeners:
            transaction.on_commit(lambda: _fire_listeners(new_rows, received))
    result = WriteResult()
    if returned is _ALL_NEW:
        result.inserted = len(new_rows)
        return result
    new_keys = {(sid, us) for sid, us, *_ in returned}
    seen: set = set()
    for i, key in enumerate(keys()):
        if key in new_keys and key not in seen:
            seen.add(key)
            result.inserted += 1
        else:
            result.duplicate_indexes.append(i)
    result.duplicates = len(result.duplicate_indexes)
    return result


def _epoch_us_of(rows: list[tuple]) -> dict[int, int]:
    """id(time object) -> epoch microseconds, computed once per distinct time object (the rows
    of one packet share theirs; the objects stay alive in ``rows`` while the map is used)."""
    us_of: dict[int, int] = {}
    for r in rows:
        t = r[1]
        if id(t) not in us_of:
            us_of[id(t)] = _epoch_us(t)
    return us_of


class _AllNew(list):
    """Marker for "every row was new" (the optimistic COPY succeeded)."""


_ALL_NEW = _AllNew()

#: After the optimistic COPY met a duplicate, this many writes go straight to the staging
#: path (a caller re-sending old data does not pay for a failed COPY every time).
OPTIMISTIC_BACKOFF = 16
_optimistic = threading.local()

_NULL = "\\N"  # NULL in COPY text
COPY_ESCAPES = str.maketrans({"\\": "\\\\", "\t": "\\t", "\n": "\\n", "\r": "\\r"})


def copy_text(value) -> str:
    """One field of PostgreSQL's COPY text format (``\\N`` for NULL)."""
    if value is None:
        return "\\N"
    if isinstance(value, str):
        return value.translate(COPY_ESCAPES)
    if isinstance(value, (bytes, bytearray, memoryview)):
        return "\\\\x" + bytes(value).hex()
    if isinstance(value, dt.datetime):
        if value.tzinfo is None:
            raise ValueError(f"observation times must be timezone-aware, got {value!r}")
        return value.isoformat(" ")
    if isinstance(value, bool):
        return "t" if value else "f"
    if isinstance(value, int):
        return str(value)
    return repr(float(value))  # float, Decimal, NumPy scalars: the exact double, shortest form


#: binary COPY fields (header, trailer and the 2000-01-01 epoch: observations.columns)
_B_INT8 = struct.Struct(">iq")
_B_FLOAT8 = struct.Struct(">id")
_B_NULL = struct.pack(">i", -1)
_bin_structs: dict[tuple, struct.Struct] = {}


def _bin_struct(kind: str, flag_len: int) -> struct.Struct:
    """The whole row in one Struct for the two common shapes: ``hour`` (value, min and max, no
    total) and ``value`` (a value alone); packet id present."""
    key = (kind, flag_len)
    st = _bin_structs.get(key)
    if st is None:
        # field count, series, time, then value + vmin + vmax (or value and two NULLs), total NULL,
        # flag, qc, source, received, packet: each field its int32 length first
        floats = "id" "id" "id" "i" if kind == "hour" else "id" "i" "i" "i"
        st = _bin_structs[key] = struct.Struct(">h" "iq" "iq" + floats + f"i{flag_len}s" "ii" "ih" "iq" "iq")
    return st


#: binary COPY field kinds of Django fields (:func:`binary_copy_kinds`)
_BIN_KINDS = {"BigAutoField": "q", "BigIntegerField": "q", "AutoField": "i", "IntegerField": "i",
              "PositiveIntegerField": "i", "SmallIntegerField": "h", "PositiveSmallIntegerField": "h",
              "DateTimeField": "t", "CharField": "s", "TextField": "s", "BinaryField": "b", "BooleanField": "?",
              "FloatField": "d"}
_B_INT4 = struct.Struct(">ii")
_B_INT2 = struct.Struct(">ih")
_B_LEN = struct.Struct(">i")


def binary_copy_kinds(model, columns: Sequence[str]) -> str:
    """The field kinds of ``columns`` of ``model`` for :func:`binary_copy` (one letter each);
    ValueError for a field type it does not write."""
    kinds = []
    for c in columns:
        f = model._meta.get_field(c)
        k = _BIN_KINDS.get(f.get_internal_type())
        if k is None:
            raise ValueError(f"binary COPY: no encoder for {model.__name__}.{c} ({f.get_internal_type()})")
        kinds.append(k)
    return "".join(kinds)


def binary_copy(rows: Sequence[Sequence], kinds: str) -> bytes:
    """``rows`` in PostgreSQL's binary COPY format, field kinds as :func:`binary_copy_kinds`
    gives them: ``q`` int8, ``i`` int4, ``h`` int2, ``d`` float8, ``?`` boolean, ``t``
    timestamptz (aware datetimes), ``s`` text/varchar, ``b`` bytea; ``None`` is NULL.

    What the server then stores is the bytes given: no hex to decode (a raw packet as COPY text
    is twice its size in hex digits), no text to parse. Repeated strings and time objects (an
    MN, a peer, the batch's receive time) are encoded once per call."""
    encode = _row_encoder(kinds)
    strs: dict = {}
    times: dict = {}
    n = len(kinds)
    out = [BIN_HEADER]
    append = out.append
    for r in rows:
        if len(r) != n:
            raise ValueError(f"binary COPY: a row of {len(r)} fields for {n} columns")
        append(encode(r, strs, times))
    append(BIN_TRAILER)
    return b"".join(out)


def _encode_str(v: str, strs: dict) -> bytes:
    e = v.encode("utf-8")
    b = strs[v] = _B_LEN.pack(len(e)) + e
    return b


def _encode_time(v: dt.datetime, times: dict) -> bytes:
    b = _B_INT8.pack(8, _epoch_us(v) - PG_EPOCH_US)
    times[id(v)] = (v, b)  # the object is kept, so its id stays its own for the call
    return b


#: field kind -> expression of the field's bytes (``v`` the value; NULL handled around it)
_FIELD_CODE = {
    "q": "i8(8, {v})", "i": "i4(4, {v})", "h": "i2(2, {v})", "d": "f8(8, float({v}))",
    "?": "(TRUE if {v} else FALSE)",
    "s": "(strs.get({v}) or enc_s({v}, strs))",
    "t": "((times.get(id({v})) or (None, enc_t({v}, times)))[1])",
    "b": "size(len({v})) + bytes({v})",
}
_row_encoders: dict[str, Callable] = {}


def _row_encoder(kinds: str) -> Callable:
    """A function ``(row, strs, times) -> bytes`` for rows of these field kinds, generated once
    per kinds (one expression per field, no loop or branch on the kind per value)."""
    fn = _row_encoders.get(kinds)
    if fn is not None:
        return fn
    bad = set(kinds) - set(_FIELD_CODE)
    if bad:
        raise ValueError(f"binary COPY: unknown field kind {sorted(bad)[0]!r}")
    fields = [f"(NULL if f{i} is None else {_FIELD_CODE[k].format(v=f'f{i}')})" for i, k in enumerate(kinds)]
    names = ", ".join(f"f{i}" for i in range(len(kinds)))
    src = (f"def encode(row, strs, times):\n"
           f"    {names}, = row\n"
           f"    return b''.join((COUNT, {', '.join(fields)}))\n")
    env = {"COUNT": struct.pack(">h", len(kinds)), "NULL": _B_NULL, "i8": _B_INT8.pack, "i4": _B_INT4.pack,
           "i2": _B_INT2.pack, "f8": _B_FLOAT8.pack, "size": _B_LEN.pack, "enc_s": _encode_str,
           "enc_t": _encode_time, "TRUE": b"\x00\x00\x00\x01\x01", "FALSE": b"\x00\x00\x00\x01\x00"}
    exec(src, env)  # noqa: S102 - source built above from the fixed expressions of _FIELD_CODE
    fn = _row_encoders[kinds] = env["encode"]
    return fn


def _copy_binary(rows: list[tuple], us_of: dict[int, int], source: int, received: dt.datetime) -> bytes:
    """The rows in PostgreSQL's binary COPY format: no number or time for the server to parse
    (it spent about a third of its COPY time there) and none for the client to format. The two
    shapes the gateway writes (an hourly value with its minimum and maximum; a value alone) are
    one ``struct.pack`` each; any other shape is built field by field."""
    rec = _epoch_us(received) - PG_EPOCH_US
    out = [BIN_HEADER]
    append = out.append
    # per flag text: its bytes, their length and the two row shapes' pack functions
    flags: dict = {}
    pg_us = {k: us - PG_EPOCH_US for k, us in us_of.items()}
    null = -1
    for sid, t, value, flag, qc, vmin, vmax, total, pid in rows:
        f = flags.get(flag)
        if f is None:
            fb = (flag or "").encode("utf-8")
            f = flags[flag] = (fb, len(fb), _bin_struct("hour", len(fb)).pack, _bin_struct("value", len(fb)).pack)
        if pid is not None and total is None and type(value) is float:
            if type(vmin) is float and type(vmax) is float:
                append(f[2](11, 8, sid, 8, pg_us[id(t)], 8, value, 8, vmin, 8, vmax, null, f[1], f[0], 4, qc, 2,
                            source, 8, rec, 8, pid))
                continue
            if vmin is None and vmax is None:
                append(f[3](11, 8, sid, 8, pg_us[id(t)], 8, value, null, null, null, f[1], f[0], 4, qc, 2, source,
                            8, rec, 8, pid))
                continue
        fb = f[0]
        tus = pg_us[id(t)]
        parts = [struct.pack(">h", 11), _B_INT8.pack(8, sid), _B_INT8.pack(8, tus)]
        for x in (value, vmin, vmax, total):
            parts.append(_B_NULL if x is None else _B_FLOAT8.pack(8, float(x)))
        parts += [struct.pack(">i", len(fb)), fb, struct.pack(">ii", 4, qc), struct.pack(">ih", 2, source),
                  _B_INT8.pack(8, rec), _B_NULL if pid is None else _B_INT8.pack(8, pid)]
        append(b"".join(parts))
    append(BIN_TRAILER)
    return b"".join(out)


def _copy_optimistic(raw, payload: bytes) -> bool:
    """Optimistic path first: binary ``COPY`` straight into the store inside a savepoint —
    the physical limit. If any row is already stored (or repeated in the batch) the primary
    key stops the COPY, the savepoint is rolled back and False is returned: the rows then go
    by :func:`_write_staged`. After such a miss the next :data:`OPTIMISTIC_BACKOFF` writes
    skip this path (a caller re-sending old data does not pay for a failed COPY every time)."""
    import psycopg

    skip = getattr(_optimistic, "skip", 0)
    if skip:
        _optimistic.skip = skip - 1
        return False
    cols = ", ".join(OBS_COLUMNS)
    raw.execute("SAVEPOINT gongzhi_obs_copy")
    try:
        with raw.copy(f"COPY {OBS_TABLE} ({cols}) FROM STDIN (FORMAT BINARY)") as copy:
            copy.write(payload)
    except psycopg.errors.UniqueViolation:
        raw.execute("ROLLBACK TO SAVEPOINT gongzhi_obs_copy")
        raw.execute("RELEASE SAVEPOINT gongzhi_obs_copy")
        _optimistic.skip = OPTIMISTIC_BACKOFF
        return False
    raw.execute("RELEASE SAVEPOINT gongzhi_obs_copy")
    return True


def _write_staged(raw, rows: list[tuple], us_of: dict[int, int], source: int, received: dt.datetime) -> list[tuple]:
    """The careful way: binary COPY, in input order, into a session-local staging table, then
    one INSERT … ON CONFLICT DO NOTHING (within one INSERT a second row with the same key
    conflicts with the first and is skipped, so no DISTINCT and no sort). The new rows come
    back with their time as integer microseconds: no datetime parsing on the way back.
    Stores exactly the rows :func:`_copy_optimistic` would have."""
    cols = ", ".join(OBS_COLUMNS)
    raw.execute(
        f"CREATE TEMP TABLE IF NOT EXISTS obs_stage (LIKE {OBS_TABLE} INCLUDING DEFAULTS) ON COMMIT DELETE ROWS"
    )
    with raw.copy(f"COPY obs_stage ({cols}) FROM STDIN (FORMAT BINARY)") as copy:
        copy.write(_copy_binary(rows, us_of, source, received))
    raw.execute(
        f"INSERT INTO {OBS_TABLE} ({cols}) SELECT {cols} FROM obs_stage"
        f" ON CONFLICT (series_id, time) DO NOTHING"
        f" RETURNING series_id, (extract(epoch FROM time) * 1000000)::bigint, value, flag, qc"
    )
    returned = raw.fetchall()
    raw.execute("TRUNCATE obs_stage")  # reused by a second write in the same transaction
    return returned


#: SQLite allows 32,766 bound variables per statement; 11 columns → 2,900 rows.
SQLITE_CHUNK = 2900


def _sqlite_time(t: dt.datetime) -> str:
    """SQLite's stored form (naive UTC text, as Django writes it), fast for aware datetimes."""
    if t.tzinfo is None:
        return connection.ops.adapt_datetimefield_value(t)
    return str(t.astimezone(UTC).replace(tzinfo=None))


def _write_sqlite(cur, rows: list[tuple], us_of: dict[int, int], source: int, received: dt.datetime) -> list[tuple]:
    """Multi-row INSERT … ON CONFLICT DO NOTHING RETURNING, 2,900 rows a statement.

    Executed on the sqlite3 cursor itself with ``?`` placeholders: Django's wrapper would
    rewrite the placeholders of every large statement with a regular expression and, in
    debug mode, run a quoting query per statement just to log it."""
    rec = _sqlite_time(received)
    cols = ", ".join(OBS_COLUMNS)
    one = "(" + ", ".join(["?"] * len(OBS_COLUMNS)) + ")"
    raw = cur.cursor  # Django's SQLiteCursorWrapper is a sqlite3.Cursor subclass
    execute = sqlite3.Cursor.execute
    returned: list = []
    texts: dict[int, str] = {}
    for start in range(0, len(rows), SQLITE_CHUNK):
        chunk = rows[start : start + SQLITE_CHUNK]
        params: list = []
        epoch_of: dict[tuple[int, str], int] = {}
        for sid, t, value, flag, qc, vmin, vmax, total, pid in chunk:
            text = texts.get(id(t))
            if text is None:
                text = texts[id(t)] = _sqlite_time(t)
            epoch_of[(sid, text)] = us_of[id(t)]
            params.extend((sid, text, value, vmin, vmax, total, flag, qc, source, rec, pid))
        execute(
            raw,
            f"INSERT INTO {OBS_TABLE} ({cols}) VALUES {', '.join([one] * len(chunk))} "
            # CAST: an expression has no declared type, so no datetime converter runs on it
            f"ON CONFLICT (series_id, time) DO NOTHING RETURNING series_id, CAST(time AS TEXT), value, flag, qc",
            params,
        )
        for sid, t, value, flag, qc in raw.fetchall():
            returned.append((sid, epoch_of[(sid, t)], value, flag, qc))
    return returned


# --- the outbox: dirty hours and latest values ---------------------------------------------------

PENDING_TABLE = PendingChange._meta.db_table


#: Series kinds whose dirty hour feeds the hour aggregate itself; for the others (hour,
#: day, sample) an hour only feeds its day, so one key per Beijing day is enough.
HOURLY_AGGREGATED_KINDS = frozenset({"rtd", "min"})
_BEIJING_OFFSET_H = 8
_series_kinds: dict[int, str] = {}
_series_kinds_lock = threading.Lock()


def _kinds_of(series_ids: Iterable[int]) -> dict[int, str]:
    """Kinds of the series (a process-wide cache: a series never changes kind)."""
    ids = set(series_ids)
    with _series_kinds_lock:
        missing = [sid for sid in ids if sid not in _series_kinds]
    found: dict[int, str] = {}
    if missing:
        found = dict(Series.objects.filter(pk__in=missing).values_list("pk", "kind"))

        def remember() -> None:  # a series created in a transaction that rolls back is forgotten
            with _series_kinds_lock:
                _series_kinds.update(found)

        transaction.on_commit(remember)
    with _series_kinds_lock:
        return {sid: found.get(sid) or _series_kinds.get(sid, "") for sid in ids}


def _dirty_hour(hour: int, kind: str) -> int:
    """The hour to mark for a value in ``hour`` (hours since the epoch, UTC): itself for
    real-time and minute series, else the first hour of its Beijing day."""
    if kind in HOURLY_AGGREGATED_KINDS:
        return hour
    return (hour + _BEIJING_OFFSET_H) // 24 * 24 - _BEIJING_OFFSET_H


_first, _second, _third, _fourth, _fifth = (operator.itemgetter(i) for i in range(5))


def _add_pending(cur, returned: Sequence[tuple], received: dt.datetime, flat: list[int] | None = None) -> None:
    """Record, in the writer's transaction, which hours the new rows touched: one small row
    per write, whatever its size. Only integers: ``{"t": [series, hour, series, hour, …],
    "r": received}`` (hours since the epoch, ``received`` in epoch microseconds). What
    those hours mean (an hour, or the Beijing day of an hourly series) and the newest value
    of each series are worked out by :func:`apply_pending_changes`, off the acknowledgement
    path (it was a fifth of the gateway's writer time when done here). ``flat``: the pairs
    already worked out (:func:`~gongzhi.observations.columns.touched_hours`)."""
    if not returned:
        return
    if flat is None:
        # (series, hour) pairs, deduplicated and flattened without a Python step per row
        touched = set(zip(map(_first, returned), map(HOUR_US.__rfloordiv__, map(_second, returned))))
        flat = list(itertools.chain.from_iterable(touched))
    payload = json.dumps({"t": flat, "r": _epoch_us(received)}, separators=(",", ":"))
    cur.execute(f"INSERT INTO {PENDING_TABLE} (created, payload) VALUES (%s, %s)", [received, payload])


def apply_pending_changes(*, limit: int = 500) -> int:
    """Fold pending writes into the dirty hours and the latest values; returns how many
    writes were applied. Safe to call from several processes at once (rows are claimed
    with ``SKIP LOCKED`` on PostgreSQL; SQLite serialises writers). Called before
    aggregates are recomputed and before latest values are read, and by the
    background loop of the serving processes."""
    applied = 0
    with connection.cursor() as cur:  # the common case, nothing pending: one cheap query
        cur.execute(f"SELECT 1 FROM {PENDING_TABLE} LIMIT 1")
        if cur.fetchone() is None:
            return 0
    while True:
        with transaction.atomic():
            claim = " FOR UPDATE SKIP LOCKED" if connection.vendor == "postgresql" else ""
            with connection.cursor() as cur:
                cur.execute(f"SELECT id, payload FROM {PENDING_TABLE} ORDER BY id LIMIT %s{claim}", [limit])
                batch = cur.fetchall()
                if not batch:
                    return applied
                # the writes of this batch marked together: one version step per period is
                # enough, since a recompute deletes a dirty key only if its version did not
                # move (no recompute can see this transaction half applied). One mark per
                # write cost a 5,000-row upsert per gateway batch.
                newest: dict[int, tuple] = {}
                touched: set[tuple[int, int]] = set()
                for _id, payload in batch:
                    data = json.loads(payload)
                    if "t" in data:
                        flat = data["t"]
                        touched.update(zip(flat[0::2], flat[1::2]))
                    else:  # written before the outbox held only hours: newest values included
                        touched.update(tuple(x) for x in data["h"])
                        for sid, key, value, flag, qc in data["l"]:
                            if sid not in newest or key > newest[sid][0]:
                                newest[sid] = (key, value, flag, qc, data["r"])
                touched_series = {sid for sid, _ in touched}
                kinds = _kinds_of(touched_series)
                _mark_dirty_hours({(sid, _dirty_hour(hour, kinds[sid])) for sid, hour in touched})
                for sid, row in _newest_stored(cur, touched_series).items():
                    if sid not in newest or row[0] >= newest[sid][0]:
                        newest[sid] = row
                _upsert_latest(cur, newest)
                ids = [row[0] for row in batch]
                cur.execute(f"DELETE FROM {PENDING_TABLE} WHERE id IN ({', '.join(['%s'] * len(ids))})", ids)
            applied += len(batch)
        if len(batch) < limit:
            return applied


def _newest_stored(cur, series_ids: Iterable[int]) -> dict[int, tuple]:
    """The newest stored row of each series: ``{series: (time_us, value, flag, qc, received_us)}``
    (one primary-key probe per series)."""
    ids = sorted(series_ids)
    out: dict[int, tuple] = {}
    table = Observation._meta.db_table
    pg = connection.vendor == "postgresql"
    for i in range(0, len(ids), 2000):
        part = ids[i : i + 2000]
        if pg:
            with server_cursor() as pc:
                pc.execute(
                    f"SELECT s.id, o.time, o.value, o.flag, o.qc, o.received FROM unnest(%s::bigint[]) AS s(id)"
                    f" CROSS JOIN LATERAL (SELECT time, value, flag, qc, received FROM {table}"
                    " WHERE series_id = s.id ORDER BY time DESC LIMIT 1) AS o", [part])
                found = pc.fetchall()
        else:
            marks = ", ".join(["%s"] * len(part))
            cur.execute(
                f"SELECT o.series_id, o.time, o.value, o.flag, o.qc, o.received FROM {table} o"
                f" WHERE o.series_id IN ({marks}) AND o.time = (SELECT max(m.time) FROM {table} m"
                " WHERE m.series_id = o.series_id)", part)
            found = cur.fetchall()
        for sid, t, value, flag, qc, rec in found:
            out[sid] = (_epoch_us(_as_aware(t)), value, flag, qc, _epoch_us(_as_aware(rec)))
    return out


def server_cursor():
    """A psycopg cursor with server-side binding on Django's connection (same session and
    transaction): a few array parameters instead of thousands of ``%s`` that the client-side
    binding of Django's cursor would parse and quote one by one."""
    import psycopg

    connection.ensure_connection()
    return psycopg.Cursor(connection.connection)


def _upsert_latest(cur, newest: dict[int, tuple]) -> None:
    if not newest:
        return
    items = sorted(newest.items())
    set_clause = (" ON CONFLICT (series_id) DO UPDATE SET time = excluded.time, value = excluded.value,"
                  " flag = excluded.flag, qc = excluded.qc, received = excluded.received"
                  f" WHERE {LATEST_TABLE}.time < excluded.time")
    if connection.vendor == "postgresql":
        cols = list(zip(*((sid, key, value, flag, qc, rec) for sid, (key, value, flag, qc, rec) in items)))
        with server_cursor() as pc:
            pc.execute(
                f"INSERT INTO {LATEST_TABLE} (series_id, time, value, flag, qc, received)"
                " SELECT s, timestamptz 'epoch' + t * interval '1 microsecond', v, f, q,"
                " timestamptz 'epoch' + r * interval '1 microsecond'"
                " FROM unnest(%s::bigint[], %s::bigint[], %s::float8[], %s::text[], %s::int[], %s::bigint[])"
                " AS k(s, t, v, f, q, r)" + set_clause,
                [list(c) for c in cols],
            )
        return
    rows = [(sid, _sqlite_time(_from_epoch_us(key)), value, flag, qc, _sqlite_time(_from_epoch_us(rec)))
            for sid, (key, value, flag, qc, rec) in items]
    for i in range(0, len(rows), 5000):
        part = rows[i : i + 5000]
        cur.execute(
            f"INSERT INTO {LATEST_TABLE} (series_id, time, value, flag, qc, received) VALUES "
            + ", ".join(["(%s, %s, %s, %s, %s, %s)"] * len(part)) + set_clause,
            [x for row in part for x in row],
        )


def mark_dirty(series_times: Iterable[tuple[int, dt.datetime]]) -> int:
    """Mark the clock hours containing each (series id, time) for recomputation (their days
    and months follow). Used by :func:`revise` and by callers that change what a period's
    aggregate depends on. Returns the number of distinct hours marked."""
    return _mark_dirty_hours({(sid, _epoch_us(t) // HOUR_US) for sid, t in series_times})


def _mark_dirty_hours(pairs: set[tuple[int, int]]) -> int:
    """:func:`mark_dirty` of (series id, hours since the epoch) pairs."""
    keys = sorted(pairs)  # one order for every process: concurrent marks do not deadlock
    if not keys:
        return 0
    if connection.vendor == "postgresql":
        sids, hours = zip(*keys)
        with server_cursor() as pc:
            pc.execute(
                f"INSERT INTO {DIRTY_TABLE} (series_id, start, \"end\", version)"
                " SELECT s, timestamptz 'epoch' + h * interval '1 hour', timestamptz 'epoch' + (h + 1) * interval '1 hour', 1"
                " FROM unnest(%s::bigint[], %s::bigint[]) AS k(s, h)"
                f" ON CONFLICT (series_id, start) DO UPDATE SET version = {DIRTY_TABLE}.version + 1",
                [list(sids), list(hours)],
            )
        return len(keys)
    with connection.cursor() as cur:
        for i in range(0, len(keys), 3000):
            part = keys[i : i + 3000]
            params = []
            for sid, h in part:
                start = EPOCH + dt.timedelta(hours=h)
                params += (sid, _sqlite_time(start), _sqlite_time(start + HOUR))
            cur.execute(
                f"INSERT INTO {DIRTY_TABLE} (series_id, start, \"end\", version) VALUES "
                + ", ".join(["(%s, %s, %s, 1)"] * len(part))
                + f" ON CONFLICT (series_id, start) DO UPDATE SET version = {DIRTY_TABLE}.version + 1",
                params,
            )
    return len(keys)


# --- corrections ---------------------------------------------------------------------------------


class ReviewError(Exception):
    """A correction request is not allowed or names no stored value."""


def revise(*, series: Series, time: dt.datetime, user, reason: str, value: float | None = None, invalid: bool = False) -> Revision:
    """Correct or invalidate one stored value as a new version; the raw value stays.

    Only the owner bureau's monitoring staff and administrators may revise
    (:func:`gongzhi.sharing.policy.can_review_data`)."""
    from gongzhi.sharing import policy

    if not reason or not reason.strip():
        raise ReviewError("a correction needs a reason")
    if not invalid and value is None:
        raise ReviewError("give a corrected value or mark the value invalid")
    if not policy.can_review_data(user, series):
        raise ReviewError("only the owner bureau's monitoring staff may correct its data")
    if not Observation.objects.filter(series=series, time=time).exists():
        raise ReviewError("no stored value at that time")
    with transaction.atomic():
        last = (
            Revision.objects.select_for_update().filter(series=series, time=time).order_by("-version").first()
            if connection.vendor == "postgresql"
            else Revision.objects.filter(series=series, time=time).order_by("-version").first()
        )
        rev = Revision.objects.create(
            series=series, time=time, version=(last.version + 1) if last else 1,
            value=None if invalid else value, invalid=invalid, reason=reason.strip()[:255], user=user,
        )
        mark_dirty([(series.pk, time)])  # the hour (and its day and month) is recomputed
        return rev


@dataclass(frozen=True)
class EffectiveValue:
    time: dt.datetime
    value: float | None
    raw: float | None
    flag: str
    qc: int
    version: int  # 0 = as received
    invalid: bool


def effective_values(series: Series, start: dt.datetime, end: dt.datetime) -> list[EffectiveValue]:
    """Values of ``series`` in ``[start, end)`` with the latest revision applied (raw kept beside)."""
    obs = list(
        Observation.objects.filter(series=series, time__gte=start, time__lt=end)
        .order_by("time")
        .values_list("time", "value", "flag", "qc")
    )
    latest: dict[dt.datetime, Revision] = {}
    for rev in Revision.objects.filter(series=series, time__gte=start, time__lt=end).order_by("time", "version"):
        latest[rev.time] = rev
    out = []
    for t, v, flag, qc in obs:
        rev = latest.get(t)
        if rev is None:
            out.append(EffectiveValue(t, v, v, flag, qc, 0, False))
        else:
            out.append(EffectiveValue(t, rev.value, v, flag, qc, rev.version, rev.invalid))
    return out


def rows_from(values: Iterable[tuple]) -> list[ObservationRow]:
    """Convenience for tests and importers: ``(series_id, time, value[, flag[, qc]])`` tuples."""
    return [ObservationRow(*v) for v in values]
