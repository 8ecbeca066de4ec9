"""Helpers shared by the benchmarks (run as scripts, so ``bench/`` is on the path): percentiles,
timing with a warm-up, a scratch PostgreSQL database, COPY text formatted ahead of time."""

from __future__ import annotations

import time


def pct(samples: list[float], p: float) -> float:
    """The ``p``-th percentile of ``samples`` with linear interpolation between ranks."""
    s = sorted(samples)
    k = (len(s) - 1) * p / 100
    lo = int(k)
    hi = min(lo + 1, len(s) - 1)
    return s[lo] + (s[hi] - s[lo]) * (k - lo)


def timed(fn, runs: int, before=None) -> list[float]:
    """Milliseconds of ``runs`` calls of ``fn`` after one warm-up call (query plans, caches,
    imports); ``before`` runs ahead of every call, untimed (e.g. to drop a cache)."""
    if before:
        before()
    fn()
    out = []
    for _ in range(runs):
        if before:
            before()
        t0 = time.perf_counter()
        fn()
        out.append((time.perf_counter() - t0) * 1000)
    return out


def recreate_pg(url: str) -> None:
    """Drop and create the PostgreSQL database named in ``url`` (a benchmark's own scratch database)."""
    import sys
    from pathlib import Path

    import psycopg

    sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "src"))
    from gongzhi.config import parse_database_url

    cfg = parse_database_url(url)
    with psycopg.connect(dbname="postgres", user=cfg.user or None, password=cfg.password or None,
                         host=cfg.host or None, port=cfg.port or None, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{cfg.name}"')
        conn.execute(f'CREATE DATABASE "{cfg.name}"')


def copy_text(rows) -> list[bytes]:
    """``rows`` (tuples) as PostgreSQL COPY text lines, formatted before any clock starts: a COPY
    of these bytes measures what the server does with the rows, the physical limit of a bulk
    write, and none of the client's formatting. None → ``\\N``; datetimes in ISO 8601 with
    their offset; other values by ``str`` (the benchmarks' values need no escaping)."""
    import datetime as dt

    def cell(v) -> str:
        if v is None:
            return "\\N"
        if isinstance(v, dt.datetime):
            return v.isoformat()
        return str(v)

    return [("\t".join(cell(v) for v in r) + "\n").encode() for r in rows]


def copy_bytes(cursor, statement: str, lines: list[bytes], chunk: int = 1 << 20) -> None:
    """Send pre-formatted COPY text (``copy_text``) with ``statement`` in chunks of ``chunk`` bytes
    (a psycopg 3 cursor)."""
    with cursor.copy(statement) as cp:
        buf, size = [], 0
        for line in lines:
            buf.append(line)
            size += len(line)
            if size >= chunk:
                cp.write(b"".join(buf))
                buf, size = [], 0
        if buf:
            cp.write(b"".join(buf))


def copy_binary(rows) -> bytes:
    """Observation rows ``(series, time, value, vmin, vmax, total, flag, qc, source, received,
    packet)`` in PostgreSQL's binary COPY format, formatted before any clock starts (the format
    the store's write path uses): int8, timestamptz as microseconds from 2000-01-01, float8,
    text, int4, int2; None → NULL."""
    import datetime as dt
    import struct

    pg_epoch = dt.datetime(2000, 1, 1, tzinfo=dt.timezone.utc)
    one_us = dt.timedelta(microseconds=1)
    null = struct.pack(">i", -1)
    out = [b"PGCOPY\n\xff\r\n\x00" + struct.pack(">ii", 0, 0)]
    for sid, t, v, lo, hi, total, flag, qc, src, rec, pid in rows:
        parts = [struct.pack(">hiqiq", 11, 8, sid, 8, (t - pg_epoch) // one_us)]
        parts += [null if x is None else struct.pack(">id", 8, float(x)) for x in (v, lo, hi, total)]
        fb = (flag or "").encode()
        parts += [struct.pack(">i", len(fb)), fb, struct.pack(">iiihiq", 4, qc, 2, src, 8, (rec - pg_epoch) // one_us),
                  null if pid is None else struct.pack(">iq", 8, pid)]
        out.append(b"".join(parts))
    out.append(struct.pack(">h", -1))
    return b"".join(out)
