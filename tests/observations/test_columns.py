"""Observation rows as columns (gongzhi.observations.columns) and their write path
(write_observation_columns), checked against the tuple path they stand in for."""

import datetime as dt
import struct

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from gongzhi.observations import services as obs
from gongzhi.observations.columns import PG_EPOCH_US, ObsColumns, binary_copy
from gongzhi.observations.models import Observation, PendingChange, SeriesKind, Source

UTC = dt.timezone.utc
CST = dt.timezone(dt.timedelta(hours=8))

numbers = st.one_of(st.none(), st.floats(allow_nan=False, allow_infinity=False, width=64))
times = st.datetimes(min_value=dt.datetime(1990, 1, 1), max_value=dt.datetime(2100, 1, 1),
                     timezones=st.sampled_from([UTC, CST]))
rows_st = st.lists(st.tuples(st.integers(1, 2**40), times, numbers, st.sampled_from(["", "N", "D", "Md", "水"]),
                             st.integers(0, 2**31 - 1), numbers, numbers, numbers,
                             st.one_of(st.none(), st.integers(1, 2**62))), max_size=30)


def _decode(payload: bytes, kinds: str) -> list[tuple]:
    """Rows of a binary COPY payload (header, rows, trailer; "Binary Format" of the COPY page):
    per field ``q`` int8, ``i`` int4, ``h`` int2, ``d`` float8, ``s`` text; None for NULL."""
    assert payload[:19] == b"PGCOPY\n\xff\r\n\x00" + bytes(8) and payload[-2:] == b"\xff\xff"
    body, pos, out = payload[19:-2], 0, []
    while pos < len(body):
        (count,) = struct.unpack_from(">h", body, pos)
        assert count == len(kinds)
        pos += 2
        row = []
        for k in kinds:
            (n,) = struct.unpack_from(">i", body, pos)
            pos += 4
            if n < 0:
                row.append(None)
                continue
            raw = body[pos:pos + n]
            pos += n
            row.append(raw.decode() if k == "s" else struct.unpack(">" + k, raw)[0])
        out.append(tuple(row))
    return out


@given(rows=rows_st)
@settings(max_examples=200, deadline=None)
def test_rows_round_trip_through_columns(rows):
    """from_rows then rows() gives the rows back (times as the same instants, in UTC), and
    new_rows() gives (series, µs since 1970, value, flag, qc) of each."""
    cols = ObsColumns.from_rows(rows)
    assert len(cols) == len(rows)
    back = cols.rows()
    assert [(s, t, v, f, q, a, b, c, p) for s, t, v, f, q, a, b, c, p in back] == [
        (s, t.astimezone(UTC), v, f, q, a, b, c, p) for s, t, v, f, q, a, b, c, p in rows]
    assert all(r[1].tzinfo is UTC for r in back)
    epoch = dt.datetime(1970, 1, 1, tzinfo=UTC)
    assert cols.new_rows() == [(s, (t - epoch) // dt.timedelta(microseconds=1), v, f, q)
                               for s, t, v, f, q, *_ in rows]


@given(rows=rows_st, source=st.sampled_from([1, 2, 3]))
@settings(max_examples=200, deadline=None)
def test_binary_copy_of_columns_holds_the_rows_of_the_tuple_encoder(rows, source):
    """The columnar encoder (rows grouped by layout) writes the same rows, field for field,
    as the tuple path's encoder (services._copy_binary, rows in order): as a multiset."""
    received = dt.datetime(2026, 12, 6, 1, 2, 3, 456789, tzinfo=UTC)
    rec_us = (received - dt.datetime(1970, 1, 1, tzinfo=UTC)) // dt.timedelta(microseconds=1)
    cols = ObsColumns.from_rows(rows)
    ours = _decode(binary_copy(cols, source=source, received_us=rec_us), "qqddddsihqq")
    tuples = [tuple(r) for r in rows]
    ref = _decode(obs._copy_binary(tuples, obs._epoch_us_of(tuples), source, received), "qqddddsihqq")
    assert sorted(ours, key=repr) == sorted(ref, key=repr)
    assert all(r[9] == rec_us - PG_EPOCH_US and r[8] == source for r in ours)


def test_binary_copy_groups_rows_by_layout():
    """Rows with other NULLs or another flag length are other groups; each row is whole."""
    t = dt.datetime(2000, 1, 1, 0, 0, 2, tzinfo=UTC)
    rows = [(1, t, 1.0, "N", 0, 0.5, 2.0, None, 9), (2, t, None, "", 4, None, None, 30.0, None),
            (3, t, 3.0, "N", 0, 0.5, 2.0, None, 10), (4, t, 4.0, "Md", 1, None, None, None, 11)]
    got = _decode(binary_copy(ObsColumns.from_rows(rows), source=1, received_us=PG_EPOCH_US), "qqddddsihqq")
    assert [r[0] for r in got] == [1, 3, 4, 2]  # grouped: the two rows of one layout together
    assert got[0] == (1, 2_000_000, 1.0, 0.5, 2.0, None, "N", 0, 1, 0, 9)
    assert got[3] == (2, 2_000_000, None, None, None, 30.0, "", 4, 1, 0, None)


@pytest.fixture
def series_ids(registry):
    obs.series_resolver.clear()
    s1, s2 = registry["sites"]
    return [obs.series_resolver.get(site=s, parameter=registry["param"], kind=SeriesKind.HOUR) for s in (s1, s2)]


def test_columns_store_and_report_what_tuples_do(registry, series_ids, monkeypatch):
    """write_observation_columns against write_observations, each into its own series: the
    same values stored, the same duplicate indexes (a value already stored, one repeated in
    the batch: the first wins), one outbox row each; on PostgreSQL both the optimistic COPY
    and its fallback."""
    a, b = series_ids
    if hasattr(obs._optimistic, "skip"):
        monkeypatch.setattr(obs._optimistic, "skip", 0)
    t0 = dt.datetime(2026, 5, 1, 0, tzinfo=CST)

    def rows(sid, hours, value):
        return [(sid, t0 + dt.timedelta(hours=h), value + h, "N" if h % 2 else "D", h, None if h % 3 else 0.5,
                 None, float(h) if h % 4 == 0 else None, 1000 + h if h % 5 else None) for h in hours]

    for hours, value in (([0, 1, 2, 3], 1.0), ([2, 4, 5, 4, 6], 50.0), ([7, 8, 9], 9.0)):
        want = obs.write_observations(rows(a, hours, value), source=Source.DEVICE)
        got = obs.write_observation_columns(ObsColumns.from_rows(rows(b, hours, value)), source=Source.DEVICE)
        assert (got.inserted, got.duplicates, got.duplicate_indexes) == (
            want.inserted, want.duplicates, want.duplicate_indexes)
    assert want.duplicate_indexes == [] and got.duplicate_indexes == []
    stored = {sid: sorted(Observation.objects.filter(series_id=sid).values_list(
        "time", "value", "flag", "qc", "vmin", "vmax", "total", "packet_id", "source")) for sid in (a, b)}
    assert stored[a] == stored[b] and len(stored[a]) == 10
    assert dict((r[0], r[1]) for r in stored[b])[t0 + dt.timedelta(hours=4)] == 54.0  # the first of the batch
    assert PendingChange.objects.count() == 6
    assert obs.write_observation_columns(ObsColumns.empty(0), source=Source.DEVICE).inserted == 0
    with pytest.raises(ValueError, match="unknown source"):
        obs.write_observation_columns(ObsColumns.from_rows(rows(b, [20], 1.0)), source=99)


def test_empty_columns_and_their_defaults():
    cols = ObsColumns.empty(3, ["", "N"])
    assert cols.rows()[0][2:] == (None, "", 0, None, None, None, None)
    assert np.isnan(cols.value).all() and (cols.packet == -1).all()


@given(pairs=st.lists(st.tuples(st.integers(1, 2**62), st.integers(-10**15, 10**16)), max_size=40))
@settings(max_examples=300, deadline=None)
def test_touched_hours_are_the_distinct_series_hour_pairs(pairs):
    """The outbox's pairs from columns equal the tuple path's set of (series, time // hour),
    times before 1970 included (floor division), ids far apart included."""
    from gongzhi.observations.columns import touched_hours

    series = np.array([s for s, _ in pairs], np.int64)
    time_us = np.array([u for _, u in pairs], np.int64)
    flat = touched_hours(series, time_us)
    got = list(zip(flat[0::2], flat[1::2]))
    assert len(got) == len(set(got))
    assert set(got) == {(s, u // 3_600_000_000) for s, u in pairs}
