"""Observation rows as columns (NumPy arrays) and their PostgreSQL binary COPY encoding.

The HJ 212 gateway writes thousands of values per transaction, nearly all of them shaped
alike: a series, a time, a value (often with its minimum and maximum), a flag, QC bits and
the packet they came in. Built one Python object per value, those rows cost several
microseconds each on the writer thread; as columns they are a handful of array operations
per batch (see docs/ingest.md, *Where the CPU goes*).

:class:`ObsColumns` holds one array per field of the observation table. Absent numbers
(SQL NULL) are NaN in the float columns and -1 in the packet column: the store never holds
a NaN (the pipeline reads non-finite texts as absent) and packet ids are positive. Flags are
few distinct short texts, held as codes into :attr:`ObsColumns.flags`.

:func:`binary_copy` writes PostgreSQL's binary COPY format (the "Binary Format" section of
the COPY reference page): a row is a 16-bit field count, then per field a 32-bit length
(-1 for NULL) and that many bytes, big-endian. Rows whose NULLs and flag length agree have
the same layout, so each such group is one NumPy structured array written with
``tobytes()``. Groups come out one after the other: the rows are NOT in input order (the
caller's write path uses this only where order does not matter).
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from typing import Sequence

import numpy as np

UTC = dt.timezone.utc
EPOCH = dt.datetime(1970, 1, 1, tzinfo=UTC)
MICROSECOND = dt.timedelta(microseconds=1)
HOUR_US = 3_600_000_000
#: PostgreSQL timestamps count microseconds from 2000-01-01 UTC
PG_EPOCH_US = 946_684_800_000_000
#: binary COPY: signature, flags, header extension length; and the end of the rows
BIN_HEADER = b"PGCOPY\n\xff\r\n\x00" + b"\x00\x00\x00\x00" + b"\x00\x00\x00\x00"
BIN_TRAILER = b"\xff\xff"

#: null bits of a row's layout
_NULL_VALUE, _NULL_VMIN, _NULL_VMAX, _NULL_TOTAL, _NULL_PACKET = 1, 2, 4, 8, 16


@dataclass(slots=True)
class ObsColumns:
    """Observation rows, one array per field; row ``i`` is element ``i`` of each.

    ``series`` and ``time_us`` (microseconds since 1970-01-01 UTC) are int64; ``value``,
    ``vmin``, ``vmax`` and ``total`` float64 with NaN for absent; ``flag`` an int array of
    indexes into ``flags``; ``qc`` int32 bits; ``packet`` int64 with -1 for none."""

    series: np.ndarray
    time_us: np.ndarray
    value: np.ndarray
    vmin: np.ndarray
    vmax: np.ndarray
    total: np.ndarray
    flag: np.ndarray
    qc: np.ndarray
    packet: np.ndarray
    flags: list[str] = field(default_factory=lambda: [""])

    def __len__(self) -> int:
        return len(self.series)

    @classmethod
    def empty(cls, n: int, flags: list[str] | None = None) -> "ObsColumns":
        """``n`` rows to be filled in (numbers absent, flag ``flags[0]``, no packet)."""
        nan = np.full(n, np.nan)
        return cls(np.zeros(n, np.int64), np.zeros(n, np.int64), nan, nan.copy(), nan.copy(), nan.copy(),
                   np.zeros(n, np.int32), np.zeros(n, np.int32), np.full(n, -1, np.int64),
                   list(flags) if flags is not None else [""])

    @classmethod
    def from_rows(cls, rows: Sequence[Sequence], time_us: Sequence[int] | None = None) -> "ObsColumns":
        """From ``(series, time, value, flag, qc, vmin, vmax, total, packet)`` rows (the tuple
        form of the write path); ``time_us`` gives the times as epoch microseconds when the
        caller has them already (else they are computed from the aware datetimes)."""
        n = len(rows)
        if n == 0:
            return cls.empty(0)
        series, times, value, flag, qc, vmin, vmax, total, packet = zip(*rows)
        if time_us is None:
            time_us = [epoch_us(t) for t in times]
        codes: dict[str, int] = {}
        flag_codes = [codes.setdefault(f or "", len(codes)) for f in flag]
        return cls(np.array(series, np.int64), np.array(time_us, np.int64), _floats(value), _floats(vmin),
                   _floats(vmax), _floats(total), np.array(flag_codes, np.int32), np.array(qc, np.int32),
                   np.array([-1 if p is None else p for p in packet], np.int64), list(codes))

    def times(self) -> list[dt.datetime]:
        """The times as aware datetimes (UTC), one object per distinct time."""
        made: dict[int, dt.datetime] = {}
        out = []
        for us in self.time_us.tolist():
            t = made.get(us)
            if t is None:
                t = made[us] = EPOCH + dt.timedelta(microseconds=us)
            out.append(t)
        return out

    def rows(self) -> list[tuple]:
        """The rows as ``(series, time, value, flag, qc, vmin, vmax, total, packet)`` tuples
        (``None`` for absent), in order."""
        flags = self.flags
        return list(zip(self.series.tolist(), self.times(), _nullable(self.value), [flags[i] for i in self.flag.tolist()],
                        self.qc.tolist(), _nullable(self.vmin), _nullable(self.vmax), _nullable(self.total),
                        [None if p < 0 else p for p in self.packet.tolist()]))

    def new_rows(self) -> list[tuple]:
        """``(series, time_us, value, flag, qc)`` per row, as the write listeners and the
        outbox take them."""
        flags = self.flags
        flag_texts = [flags[0]] * len(self) if len(flags) == 1 else [flags[i] for i in self.flag.tolist()]
        return list(zip(self.series.tolist(), self.time_us.tolist(), _nullable(self.value), flag_texts,
                        self.qc.tolist()))


def epoch_us(t: dt.datetime) -> int:
    """Exact integer microseconds since 1970-01-01 UTC (the write path's key for a time)."""
    if t.tzinfo is None:
        raise ValueError(f"observation times must be timezone-aware, got {t!r}")
    return (t - EPOCH) // MICROSECOND


def _floats(values: Sequence) -> np.ndarray:
    """float64 array; None becomes NaN."""
    try:
        return np.array(values, np.float64)  # None is read as NaN by NumPy
    except (TypeError, ValueError):
        return np.array([np.nan if v is None else float(v) for v in values], np.float64)


def _nullable(a: np.ndarray) -> list:
    """The list of ``a`` with None for NaN (one pass in C when there is none)."""
    out = a.tolist()
    if np.isnan(a).any():
        out = [None if x != x else x for x in out]
    return out


def touched_hours(series: np.ndarray, time_us: np.ndarray) -> list[int]:
    """The distinct (series, hour since 1970) pairs of the rows, flattened
    ``[series, hour, series, hour, …]`` (in no particular order): what the write path's
    outbox records."""
    if not len(series):
        return []
    hours = time_us // HOUR_US  # floor, as Python's // (times before 1970 too)
    low = int(hours.min())
    span = int(hours.max()) - low + 1
    if int(series.max()) < (1 << 62) // span and int(series.min()) >= 0:
        key = np.unique(series * span + (hours - low))  # one int64 per pair: unique in one sort
        s, h = np.divmod(key, span)
        h += low
    else:  # ids or times too far apart for one int64
        pairs = np.unique(np.stack((series, hours), axis=1), axis=0)
        s, h = pairs[:, 0], pairs[:, 1]
    flat = np.empty(2 * len(s), np.int64)
    flat[0::2], flat[1::2] = s, h
    return flat.tolist()


# --- binary COPY ----------------------------------------------------------------------------------

#: columns of the observation table in the order the COPY names them (services.OBS_COLUMNS)
_FIELDS = ("series", "time", "value", "vmin", "vmax", "total", "flag", "qc", "source", "received", "packet")
_dtypes: dict[tuple[int, int], np.dtype] = {}


def _row_dtype(nulls: int, flag_len: int) -> np.dtype:
    """The packed, big-endian layout of a row with these NULL bits and flag length."""
    key = (nulls, flag_len)
    d = _dtypes.get(key)
    if d is None:
        fields: list[tuple[str, str]] = [("count", ">i2")]
        absent = {"value": _NULL_VALUE, "vmin": _NULL_VMIN, "vmax": _NULL_VMAX, "total": _NULL_TOTAL,
                  "packet": _NULL_PACKET}
        data = {"series": ">i8", "time": ">i8", "value": ">f8", "vmin": ">f8", "vmax": ">f8", "total": ">f8",
                "flag": f"S{flag_len}", "qc": ">i4", "source": ">i2", "received": ">i8", "packet": ">i8"}
        for name in _FIELDS:
            fields.append((f"len_{name}", ">i4"))
            if nulls & absent.get(name, 0) or (name == "flag" and flag_len == 0):
                continue  # NULL or empty text: the length alone
            fields.append((name, data[name]))
        d = _dtypes[key] = np.dtype(fields)  # a list of fields: packed, no alignment padding
    return d


def binary_copy(cols: ObsColumns, *, source: int, received_us: int, header: bool = True) -> bytes:
    """``cols`` as the rows of ``COPY observations (series_id, time, value, vmin, vmax, total,
    flag, qc, source, received, packet_id) FROM STDIN (FORMAT binary)``, rows grouped by
    layout (not in input order). ``received_us`` is epoch microseconds."""
    n = len(cols)
    parts = [BIN_HEADER] if header else []
    if n:
        nulls = (np.isnan(cols.value) * _NULL_VALUE | np.isnan(cols.vmin) * _NULL_VMIN
                 | np.isnan(cols.vmax) * _NULL_VMAX | np.isnan(cols.total) * _NULL_TOTAL
                 | (cols.packet < 0) * _NULL_PACKET)
        key = nulls.astype(np.int64) * len(cols.flags) + cols.flag
        first = int(key[0])
        if (key == first).all():
            groups = [(first, slice(None))]
        else:
            uniq, inverse = np.unique(key, return_inverse=True)
            groups = [(int(k), np.flatnonzero(inverse == g)) for g, k in enumerate(uniq)]
        encoded = [f.encode("utf-8") for f in cols.flags]
        for k, idx in groups:
            null_bits, flag_code = divmod(k, len(cols.flags))
            flag = encoded[flag_code]
            d = _row_dtype(null_bits, len(flag))
            m = n if isinstance(idx, slice) else len(idx)
            out = np.empty(m, d)
            out["count"] = len(_FIELDS)
            for name, src, size in (("series", cols.series, 8), ("time", cols.time_us, 8), ("value", cols.value, 8),
                                    ("vmin", cols.vmin, 8), ("vmax", cols.vmax, 8), ("total", cols.total, 8),
                                    ("qc", cols.qc, 4), ("packet", cols.packet, 8)):
                if name in d.names:
                    out[f"len_{name}"] = size
                    out[name] = src[idx] if name != "time" else src[idx] - PG_EPOCH_US
                else:
                    out[f"len_{name}"] = -1
            out["len_flag"] = len(flag)
            if flag:
                out["flag"] = flag
            out["len_source"] = 2
            out["source"] = source
            out["len_received"] = 8
            out["received"] = received_us - PG_EPOCH_US
            parts.append(out.tobytes())
    if header:
        parts.append(BIN_TRAILER)
    return b"".join(parts)
