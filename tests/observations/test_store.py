"""The observation store: idempotent bulk writes, duplicates reported per row,
raw values kept under corrections. Runs on SQLite and on PostgreSQL."""

import datetime as dt

import pytest

from gongzhi.observations import services as obs
from gongzhi.observations.models import Observation, Revision, Series, SeriesKind, Source

CST = dt.timezone(dt.timedelta(hours=8))


def t(h, m=0, day=1):
    return dt.datetime(2026, 5, day, h, m, tzinfo=CST)


@pytest.fixture
def series_id(registry):
    obs.series_resolver.clear()
    return obs.series_resolver.get(site=registry["sites"][0], parameter=registry["param"], kind=SeriesKind.HOUR)


def test_series_resolver_creates_once_with_owner_and_unit(registry, series_id):
    again = obs.series_resolver.get(site=registry["sites"][0], parameter=registry["param"], kind=SeriesKind.HOUR)
    assert again == series_id
    s = Series.objects.get(pk=series_id)
    assert s.owner == registry["bureaus"][0]
    assert s.unit == "mg/L"
    obs.series_resolver.clear()  # a fresh process finds the same series, not a new one
    assert obs.series_resolver.get(site=registry["sites"][0], parameter=registry["param"], kind=SeriesKind.HOUR) == series_id
    assert Series.objects.count() == 1


def test_bulk_write_stores_each_value_once(registry, series_id):
    rows = [obs.ObservationRow(series_id, t(h), 0.1 * h, "N") for h in range(24)]
    first = obs.write_observations(rows, source=Source.DEVICE)
    assert (first.inserted, first.duplicates) == (24, 0)
    # a resend after a lost acknowledgement: nothing stored twice, every row reported
    again = obs.write_observations(rows, source=Source.DEVICE)
    assert (again.inserted, again.duplicates) == (0, 24)
    assert again.duplicate_indexes == list(range(24))
    assert Observation.objects.filter(series_id=series_id).count() == 24


def test_duplicates_inside_one_batch_and_mixed_batches(registry, series_id):
    obs.write_observations([obs.ObservationRow(series_id, t(1), 1.0)], source=Source.DEVICE)
    rows = [
        obs.ObservationRow(series_id, t(0), 0.5),
        obs.ObservationRow(series_id, t(1), 9.9),  # already stored: the stored value wins
        obs.ObservationRow(series_id, t(2), 2.0),
        obs.ObservationRow(series_id, t(2), 2.5),  # repeated within the batch: the first one wins
    ]
    r = obs.write_observations(rows, source=Source.PARTNER)
    assert r.inserted == 2
    assert r.duplicate_indexes == [1, 3]
    values = dict(Observation.objects.filter(series_id=series_id).values_list("time", "value"))
    assert sorted(values.values()) == [0.5, 1.0, 2.0]


def test_same_instant_in_another_timezone_is_the_same_value(registry, series_id):
    obs.write_observations([obs.ObservationRow(series_id, t(8), 1.0)], source=Source.DEVICE)
    utc_same = dt.datetime(2026, 5, 1, 0, 0, tzinfo=dt.timezone.utc)
    r = obs.write_observations([obs.ObservationRow(series_id, utc_same, 2.0)], source=Source.DEVICE)
    assert (r.inserted, r.duplicates) == (0, 1)


def test_out_of_order_and_late_values_are_accepted(registry, series_id):
    obs.write_observations([obs.ObservationRow(series_id, t(h), float(h)) for h in (5, 3, 9)], source=Source.DEVICE)
    r = obs.write_observations([obs.ObservationRow(series_id, t(1), 1.0)], source=Source.DEVICE)
    assert r.inserted == 1
    times = list(Observation.objects.filter(series_id=series_id).order_by("time").values_list("value", flat=True))
    assert times == [1.0, 3.0, 5.0, 9.0]


def test_large_batch_crosses_sqlite_chunks(registry, series_id):
    n = obs.SQLITE_CHUNK * 2 + 17
    start = t(0)
    rows = [obs.ObservationRow(series_id, start + dt.timedelta(minutes=i), float(i)) for i in range(n)]
    r = obs.write_observations(rows, source=Source.IMPORT)
    assert r.inserted == n and r.duplicates == 0
    assert Observation.objects.filter(series_id=series_id).count() == n


def test_fields_round_trip(registry, series_id):
    row = obs.ObservationRow(series_id, t(4), 0.42, "D", 4, vmin=0.1, vmax=0.9, total=12.5, packet_id=77)
    obs.write_observations([row], source=Source.DEVICE)
    o = Observation.objects.get(series_id=series_id, time=t(4))
    assert (o.value, o.flag, o.qc, o.vmin, o.vmax, o.total, o.packet_id, o.source) == (0.42, "D", 4, 0.1, 0.9, 12.5, 77, Source.DEVICE)
    assert o.time == t(4)


def test_optimistic_copy_and_its_fallback_store_and_report_the_same(registry, series_id, monkeypatch):
    """PostgreSQL first tries one COPY straight into the store; a duplicate makes it fall back
    to the staging path, and the next OPTIMISTIC_BACKOFF writes skip the attempt. Whichever
    path a write takes, the stored rows, the outbox and the reported duplicates are exact."""
    from gongzhi.observations.models import PendingChange

    monkeypatch.setattr(obs, "OPTIMISTIC_BACKOFF", 1)
    if hasattr(obs._optimistic, "skip"):
        monkeypatch.setattr(obs._optimistic, "skip", 0)
    new = obs.write_observations([obs.ObservationRow(series_id, t(h), float(h)) for h in range(3)], source=Source.DEVICE)
    assert (new.inserted, new.duplicate_indexes) == (3, [])
    for _ in range(3):  # a duplicate (fallback), then the skipped attempt, then a fresh attempt
        h = 3 + _
        r = obs.write_observations([obs.ObservationRow(series_id, t(h), float(h)),
                                    obs.ObservationRow(series_id, t(0), 99.0)], source=Source.DEVICE)
        assert (r.inserted, r.duplicate_indexes) == (1, [1])
    last = obs.write_observations([obs.ObservationRow(series_id, t(9), 9.0)], source=Source.DEVICE)
    assert (last.inserted, last.duplicates) == (1, 0)
    values = dict(Observation.objects.filter(series_id=series_id).values_list("time", "value"))
    assert values == {t(h): float(h) for h in (0, 1, 2, 3, 4, 5, 9)}  # 99.0 never stored
    assert PendingChange.objects.count() == 5  # one outbox row per write that stored something
    assert obs.apply_pending_changes() == 5
    from gongzhi.observations.models import LatestValue

    assert LatestValue.objects.get(series_id=series_id).value == 9.0


def test_rows_as_plain_tuples(registry, series_id):
    """The gateway passes rows as tuples/lists in ObservationRow's field order; short tuples
    get the defaults; the result is the same as with ObservationRow objects."""
    rows = [(series_id, t(1), 1.5, "N", 0, 0.1, 2.0, None, 7), [series_id, t(2), None, "D", 4, None, None, 30.0, None],
            (series_id, t(3), 3.0), obs.ObservationRow(series_id, t(4), 4.0, "N")]
    r = obs.write_observations(rows, source=Source.DEVICE)
    assert (r.inserted, r.duplicates) == (4, 0)
    got = {o.time: (o.value, o.flag, o.qc, o.vmin, o.vmax, o.total, o.packet_id)
           for o in Observation.objects.filter(series_id=series_id)}
    assert got == {t(1): (1.5, "N", 0, 0.1, 2.0, None, 7), t(2): (None, "D", 4, None, None, 30.0, None),
                   t(3): (3.0, "", 0, None, None, None, None), t(4): (4.0, "N", 0, None, None, None, None)}


def test_text_that_needs_escaping_in_copy(registry, series_id):
    """Flags with a backslash or a tab, very small/large/negative floats and other number types
    survive the COPY text format exactly."""
    from decimal import Decimal

    rows = [obs.ObservationRow(series_id, t(1), 1e-300, "\\"), obs.ObservationRow(series_id, t(2), -1.7976931348623157e308, "\t"),
            obs.ObservationRow(series_id, t(3), 0.1 + 0.2, "N"), obs.ObservationRow(series_id, t(4), Decimal("2.5"), "N"),
            obs.ObservationRow(series_id, t(5), 3, "N")]
    assert obs.write_observations(rows, source=Source.DEVICE).inserted == 5
    got = dict(Observation.objects.filter(series_id=series_id).values_list("time", "value"))
    assert got == {t(1): 1e-300, t(2): -1.7976931348623157e308, t(3): 0.1 + 0.2, t(4): 2.5, t(5): 3.0}
    flags = dict(Observation.objects.filter(series_id=series_id).values_list("time", "flag"))
    assert flags[t(1)] == "\\" and flags[t(2)] == "\t"


def test_unknown_source_is_refused(registry, series_id):
    with pytest.raises(ValueError):
        obs.write_observations([obs.ObservationRow(series_id, t(1), 1.0)], source=99)


def test_correction_is_a_new_version_and_raw_stays(registry, series_id):
    obs.write_observations([obs.ObservationRow(series_id, t(h), float(h)) for h in range(3)], source=Source.DEVICE)
    series = Series.objects.get(pk=series_id)
    user = registry["users"]["qp_monitor"]
    obs.revise(series=series, time=t(1), user=user, reason="仪器漂移，按质控样修正", value=1.5)
    obs.revise(series=series, time=t(2), user=user, reason="停电后数据无效", invalid=True)
    obs.revise(series=series, time=t(1), user=user, reason="复核后再次修正", value=1.25)
    vals = obs.effective_values(series, t(0), t(3))
    assert [(v.value, v.raw, v.version, v.invalid) for v in vals] == [
        (0.0, 0.0, 0, False),
        (1.25, 1.0, 2, False),
        (None, 2.0, 1, True),
    ]
    assert Observation.objects.get(series_id=series_id, time=t(1)).value == 1.0
    assert Revision.objects.filter(series=series).count() == 3


@pytest.mark.parametrize(
    "who, kwargs, message",
    [
        ("qp_analyst", {"value": 1.0, "reason": "x"}, "monitoring staff"),
        ("ks_monitor", {"value": 1.0, "reason": "x"}, "monitoring staff"),
        ("qp_monitor", {"value": 1.0, "reason": "  "}, "reason"),
        ("qp_monitor", {"reason": "x"}, "corrected value"),
    ],
)
def test_correction_refused(registry, series_id, who, kwargs, message):
    obs.write_observations([obs.ObservationRow(series_id, t(1), 1.0)], source=Source.DEVICE)
    with pytest.raises(obs.ReviewError, match=message):
        obs.revise(series=Series.objects.get(pk=series_id), time=t(1), user=registry["users"][who], **kwargs)
    assert not Revision.objects.exists()


def test_correction_of_a_value_never_stored_is_refused(registry, series_id):
    with pytest.raises(obs.ReviewError, match="no stored value"):
        obs.revise(series=Series.objects.get(pk=series_id), time=t(5), user=registry["users"]["qp_monitor"], reason="x", value=1)


def test_the_shapes_of_gateway_rows_round_trip_exactly(registry, series_id):
    """The gateway's two row shapes (an hourly value with its minimum and maximum; a value alone),
    each with a packet id and flags of 0-2 characters, and a time before 2000 and one with
    microseconds, come back exactly (PostgreSQL writes them as binary COPY, times counted from
    2000-01-01)."""
    utc = dt.timezone.utc
    before_2000 = dt.datetime(1999, 12, 31, 23, 59, 59, 999999, tzinfo=utc)
    odd_micro = dt.datetime(2026, 5, 1, 3, 0, 0, 123457, tzinfo=utc)
    rows = [(series_id, t(1), 1.25, "N", 0, 0.5, 2.5, None, 11),
            (series_id, t(2), 3.5, "", 8, None, None, None, 12),
            (series_id, t(3), -4.5e-7, "Md", 2, None, None, None, 13),
            (series_id, before_2000, 5.5, "N", 0, 1.0, 9.0, None, 14),
            (series_id, odd_micro, 0.1 + 0.2, "T", 1 << 20, 0.1, 0.7, None, 2**40)]
    assert obs.write_observations(rows, source=Source.PARTNER).inserted == 5
    got = {o.time: (o.value, o.flag, o.qc, o.vmin, o.vmax, o.total, o.packet_id, o.source)
           for o in Observation.objects.filter(series_id=series_id)}
    assert got == {
        t(1): (1.25, "N", 0, 0.5, 2.5, None, 11, Source.PARTNER),
        t(2): (3.5, "", 8, None, None, None, 12, Source.PARTNER),
        t(3): (-4.5e-7, "Md", 2, None, None, None, 13, Source.PARTNER),
        before_2000: (5.5, "N", 0, 1.0, 9.0, None, 14, Source.PARTNER),
        odd_micro: (0.1 + 0.2, "T", 1 << 20, 0.1, 0.7, None, 2**40, Source.PARTNER),
    }
