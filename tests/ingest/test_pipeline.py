"""The ingest pipeline: authentication, idempotency, series mapping, QC on arrival, archive, replies."""

import datetime as dt

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from gongzhi.hj212 import Decoder, Packet, build_data_ack, build_qn_reply, frame
from gongzhi.ingest.models import AcceptedPacket, RawPacket
from gongzhi.ingest.pipeline import IngestConfig, Item, Pipeline
from gongzhi.observations import services as obs
from gongzhi.observations.models import (
    QC_BACKFILL,
    QC_FLAG_INVALID,
    QC_FUTURE,
    QC_NEGATIVE,
    QC_OUT_OF_RANGE,
    QC_UNIT_CONVERTED,
    QC_UNKNOWN_UNIT,
    Observation,
    Series,
)
from gongzhi.registry import models as reg

from ingest_helpers import MN_AIR, MN_GAS, MN_OFF, MN_WATER, MN_WW, PW, events, hour_start, items, next_qn, now_cst, upload


def obs_of(site_or_outlet, key, kind="hour"):
    field = "site" if isinstance(site_or_outlet, reg.Site) else "outlet"
    return list(Observation.objects.filter(**{f"series__{field}": site_or_outlet, "series__parameter__key": key,
                                              "series__kind": kind}).order_by("time"))


def test_valid_upload_stored_with_flags_units_and_acked(pipeline, ingest_registry):
    t = hour_start(now_cst()) - dt.timedelta(hours=2)
    pkts = upload(MN_WATER, {
        "w01001": {"Avg": 7.1, "Flag": "N"},
        "w21003": {"Min": 0.31, "Avg": 0.52, "Max": 0.9, "Flag": "N"},
        "w01009": {"Avg": 6.5, "Flag": "D"},  # instrument fault
        "w00000": {"Cou": 1234.5, "Flag": "N"},
    }, data_time=t)
    it = items(*pkts)
    [out] = pipeline.process_batch(it)
    assert (out.verdict, out.reason, out.values_stored, out.duplicates) == ("accepted", "", 4, 0)
    assert out.replies == [build_data_ack(it[0].event.message)]
    water = ingest_registry["water"]
    [nh3] = obs_of(water, "nh3_n")
    assert (nh3.value, nh3.vmin, nh3.vmax, nh3.flag, nh3.qc) == (0.52, 0.31, 0.9, "N", 0)
    assert nh3.time == t  # DataTime is Beijing time: the same instant
    assert nh3.packet_id == out.packet_id
    assert Series.objects.get(pk=nh3.series_id).unit == "mg/L"
    [do] = obs_of(water, "do")
    assert do.flag == "D" and do.qc & QC_FLAG_INVALID
    [flow] = obs_of(water, "wastewater_flow")
    assert flow.value is None and flow.total == 1234.5
    raw = RawPacket.objects.get(pk=out.packet_id)
    assert (raw.verdict, raw.mn, raw.cn, raw.values_stored, bytes(raw.raw)) == ("accepted", MN_WATER, "2061", 4, pkts[0])
    assert AcceptedPacket.objects.filter(mn=MN_WATER, qn=raw.qn, cn="2061", pno=0).exists()


def test_series_unit_follows_the_system_code(pipeline, ingest_registry):
    """Ambient stations (ST 22) send µg/m³, sources (ST 31) mg/m³ — same code, different series units."""
    pipeline.process_batch(items(*upload(MN_AIR, {"a21026": {"Avg": 12, "Flag": "N"}, "a21005": {"Avg": 0.8, "Flag": "N"}})))
    pipeline.process_batch(items(*upload(MN_GAS, {"a21026": {"Avg": 35.2, "Flag": "N"}})))
    [air_so2] = obs_of(ingest_registry["air"], "so2")
    [gas_so2] = obs_of(ingest_registry["gas"], "so2")
    [air_co] = obs_of(ingest_registry["air"], "co")
    assert Series.objects.get(pk=air_so2.series_id).unit == "µg/m³" and air_so2.value == 12
    assert Series.objects.get(pk=gas_so2.series_id).unit == "mg/m³" and gas_so2.value == 35.2
    assert Series.objects.get(pk=air_co.series_id).unit == "mg/m³"
    assert air_so2.qc == gas_so2.qc == 0


def test_existing_series_in_another_unit_converts_or_flags(pipeline, ingest_registry):
    air = ingest_registry["air"]
    so2 = reg.Parameter.objects.get(key="so2")
    no2 = reg.Parameter.objects.get(key="no2")
    Series.objects.create(site=air, parameter=so2, kind="hour", unit="mg/m³", owner=ingest_registry["bureau"])
    Series.objects.create(site=air, parameter=no2, kind="hour", unit="ppb", owner=ingest_registry["bureau"])
    pipeline.process_batch(items(*upload(MN_AIR, {"a21026": {"Avg": 12, "Flag": "N"}, "a21004": {"Avg": 30, "Flag": "N"}})))
    [s] = obs_of(air, "so2")
    assert s.value == pytest.approx(0.012) and s.qc & QC_UNIT_CONVERTED
    [n] = obs_of(air, "no2")
    assert n.value == 30 and n.qc & QC_UNKNOWN_UNIT and not n.qc & QC_UNIT_CONVERTED  # never a silent ppb conversion


def test_realtime_data_uses_rtd_and_the_sample_instant(pipeline, ingest_registry):
    t = now_cst() - dt.timedelta(seconds=30)
    pipeline.process_batch(items(*upload(MN_WW, {"w01018": {"Rtd": 21.5, "Flag": "N"}}, cn="2011", data_time=t)))
    [cod] = obs_of(ingest_registry["ww"], "cod", kind="rtd")
    assert cod.value == 21.5 and cod.time == t


@pytest.mark.parametrize("mn,pw,reason,qn_rtn", [
    ("UNKNOWN0000000000000000X", PW, "unknown_mn", 4),
    (MN_WATER, "654321", "bad_password", 3),
    (MN_OFF, PW, "device_disabled", 2),
])
def test_unauthenticated_uploads_quarantined_with_the_standard_reply(pipeline, mn, pw, reason, qn_rtn):
    it = items(*upload(mn, {"w21003": {"Avg": 0.5, "Flag": "N"}}, st="21", pw=pw))
    [out] = pipeline.process_batch(it)
    assert (out.verdict, out.reason, out.values_stored) == ("quarantined", reason, 0)
    assert out.replies == [build_qn_reply(it[0].event.message, qn_rtn)]
    assert b"QnRtn=%d" % qn_rtn in out.replies[0] and b"CN=9011" in out.replies[0]
    assert Observation.objects.count() == 0
    assert not AcceptedPacket.objects.exists()
    raw = RawPacket.objects.get()
    assert (raw.verdict, raw.reason, raw.mn) == ("quarantined", reason, mn)
    # without the A bit nothing is sent back
    [quiet] = pipeline.process_batch(items(*upload(mn, {"w21003": {"Avg": 0.5}}, st="21", pw=pw, ack=False)))
    assert quiet.replies == [] and quiet.verdict == "quarantined"


def test_device_cache_sees_a_device_registered_later(pipeline, ingest_registry):
    mn = "LATE0000000000000000032A"
    [first] = pipeline.process_batch(items(*upload(mn, {"w01018": {"Avg": 5}})))
    assert first.reason == "unknown_mn"
    reg.Device.objects.create(mn=mn, password=PW, system_code="32", outlet=ingest_registry["ww"])
    [second] = pipeline.process_batch(items(*upload(mn, {"w01018": {"Avg": 5}})))
    assert second.verdict == "accepted" and second.values_stored == 1


def test_device_edits_made_elsewhere_reach_the_pipeline_after_the_ttl(ingest_registry):
    """Edits that bypass this process's signals (another process, QuerySet.update) take effect
    at the next refresh: password, enabled, and the outlet the device is mounted on."""
    pipeline = Pipeline(IngestConfig(device_ttl=0.0))
    [ok] = pipeline.process_batch(items(*upload(MN_WW, {"w01018": {"Avg": 5}})))
    assert ok.verdict == "accepted"
    reg.Device.objects.filter(mn=MN_WW).update(password="654321")
    [bad] = pipeline.process_batch(items(*upload(MN_WW, {"w01018": {"Avg": 5}})))
    assert bad.reason == "bad_password"
    reg.Device.objects.filter(mn=MN_WW).update(password=PW, outlet=ingest_registry["gas"])
    t = hour_start(now_cst()) - dt.timedelta(hours=3)
    [moved] = pipeline.process_batch(items(*upload(MN_WW, {"w01018": {"Avg": 7}}, data_time=t)))
    assert moved.verdict == "accepted" and moved.values_stored == 1
    stored = Observation.objects.filter(series__outlet=ingest_registry["gas"], time=t)
    assert [o.value for o in stored] == [7.0]  # in a series of the outlet the device is on now
    reg.Device.objects.filter(mn=MN_WW).update(enabled=False)
    [off] = pipeline.process_batch(items(*upload(MN_WW, {"w01018": {"Avg": 5}})))
    assert off.reason == "device_disabled"


def test_unknown_code_kept_and_reported_while_the_rest_is_stored(pipeline, ingest_registry):
    pkts = upload(MN_WATER, {"w21003": {"Avg": 0.5, "Flag": "N"}, "x99901": {"Avg": 3.3, "Flag": "N"},
                             "w01001": {"Avg": 7.2, "Flag": "N"}})
    [out] = pipeline.process_batch(items(*pkts))
    assert out.verdict == "accepted" and out.reason == "unknown_code"
    assert out.values_stored == 2 and out.unknown_codes == ["x99901"]
    u = reg.UnknownCode.objects.get(code="x99901")
    assert u.count == 1 and MN_WATER in u.example_source
    assert "x99901" in RawPacket.objects.get(pk=out.packet_id).detail
    pipeline.process_batch(items(*upload(MN_WATER, {"x99901": {"Avg": 3.4}})))
    assert reg.UnknownCode.objects.get(code="x99901").count == 2


def test_resend_after_lost_ack_is_a_duplicate_acked_again(pipeline, ingest_registry):
    pkts = upload(MN_WW, {"w01018": {"Avg": 30.1, "Flag": "N"}, "w21003": {"Avg": 1.2, "Flag": "N"}})
    [first] = pipeline.process_batch(items(*pkts))
    assert first.values_stored == 2
    again = items(*pkts)
    [second] = pipeline.process_batch(again)
    assert (second.verdict, second.reason, second.values_stored) == ("duplicate", "resend", 0)
    assert second.replies == [build_data_ack(again[0].event.message)]
    assert Observation.objects.count() == 2
    # the same packet twice inside one batch: stored once
    pkts2 = upload(MN_WW, {"w01018": {"Avg": 31.0, "Flag": "N"}}, data_time=hour_start(now_cst()) - dt.timedelta(hours=5))
    outs = pipeline.process_batch(items(*pkts2, *pkts2))
    assert [o.verdict for o in outs] == ["accepted", "duplicate"]
    assert all(o.replies for o in outs)
    assert Observation.objects.count() == 3
    assert list(RawPacket.objects.order_by("id").values_list("verdict", flat=True)) == [
        "accepted", "duplicate", "accepted", "duplicate"]


def test_same_values_under_a_new_qn_are_not_stored_twice(pipeline, ingest_registry):
    t = hour_start(now_cst()) - dt.timedelta(hours=3)
    pipeline.process_batch(items(*upload(MN_WW, {"w01018": {"Avg": 30.1}}, data_time=t)))
    [out] = pipeline.process_batch(items(*upload(MN_WW, {"w01018": {"Avg": 99.0}}, data_time=t)))
    assert (out.verdict, out.values_stored, out.duplicates) == ("accepted", 0, 1)
    assert [o.value for o in obs_of(ingest_registry["ww"], "cod")] == [30.1]  # the first value stays


def test_out_of_order_and_late_data_accepted(pipeline, ingest_registry):
    base = hour_start(now_cst())
    for h in (1, 5, 3, 72, 2):  # later hours first, one three days late
        [o] = pipeline.process_batch(items(*upload(MN_WW, {"w01018": {"Avg": float(h)}}, data_time=base - dt.timedelta(hours=h))))
        assert o.values_stored == 1
    assert [o.value for o in obs_of(ingest_registry["ww"], "cod")] == [72.0, 5.0, 3.0, 2.0, 1.0]


def test_back_filled_packets_marked(pipeline, ingest_registry):
    [o] = pipeline.process_batch(items(*upload(MN_WW, {"w01018": {"Avg": 8.0}}, version="2025", rf="1")))
    assert o.values_stored == 1
    assert obs_of(ingest_registry["ww"], "cod")[0].qc & QC_BACKFILL


def test_future_timestamps_flagged_not_dropped(pipeline, ingest_registry):
    soon = hour_start(now_cst()) + dt.timedelta(hours=2)
    [o] = pipeline.process_batch(items(*upload(MN_WW, {"w01018": {"Rtd": 5.0}}, cn="2011", data_time=soon)))
    assert o.values_stored == 1
    [v] = obs_of(ingest_registry["ww"], "cod", kind="rtd")
    assert v.qc & QC_FUTURE and v.value == 5.0
    near = now_cst() + dt.timedelta(minutes=3)  # within the 10-minute tolerance
    pipeline.process_batch(items(*upload(MN_WW, {"w21003": {"Rtd": 1.0}}, cn="2011", data_time=near)))
    [w] = obs_of(ingest_registry["ww"], "nh3_n", kind="rtd")
    assert not w.qc & QC_FUTURE
    strict = Pipeline(IngestConfig(future_tolerance=dt.timedelta(minutes=1)))
    strict.process_batch(items(*upload(MN_WW, {"w21011": {"Rtd": 0.1}}, cn="2011", data_time=near)))
    [x] = obs_of(ingest_registry["ww"], "tp", kind="rtd")
    assert x.qc & QC_FUTURE


def test_negative_and_out_of_range_flagged(pipeline, ingest_registry):
    pipeline.process_batch(items(*upload(MN_WATER, {
        "w21003": {"Avg": -0.1, "Flag": "N"},  # a concentration cannot be negative
        "w01001": {"Avg": 15.2, "Flag": "N"},  # pH beyond 14
        "w01009": {"Avg": 45.0, "Flag": "N"},  # DO beyond 30 mg/L
        "w01010": {"Avg": -1.0, "Flag": "N"},  # water temperature may be below zero
        "w21011": {"Avg": 0.12, "Flag": "N"},
    })))
    water = ingest_registry["water"]
    assert obs_of(water, "nh3_n")[0].qc == QC_NEGATIVE
    assert obs_of(water, "ph")[0].qc == QC_OUT_OF_RANGE
    assert obs_of(water, "do")[0].qc == QC_OUT_OF_RANGE
    assert obs_of(water, "water_temp")[0].qc == 0
    assert obs_of(water, "tp")[0].qc == 0


def test_malformed_packet_archived_with_reason_and_bytes(pipeline, ingest_registry):
    good = upload(MN_WW, {"w01018": {"Avg": 1.0}})[0]
    bad = good[:-6] + (b"0000" if good[-6:-2] != b"0000" else b"1111") + b"\r\n"  # wrong CRC
    it = items(bad)
    [out] = pipeline.process_batch(it)
    assert (out.verdict, out.reason, out.mn) == ("rejected", "bad_crc", MN_WW)
    assert out.replies and b"QnRtn=9" in out.replies[0]  # "CRC error": the logger resends
    raw = RawPacket.objects.get()
    assert bytes(raw.raw) == bad and raw.reason == "bad_crc" and raw.detail
    assert Observation.objects.count() == 0


def test_good_packet_right_after_a_bad_one_in_the_stream_is_stored(pipeline, ingest_registry):
    t = hour_start(now_cst()) - dt.timedelta(hours=1)
    good1 = upload(MN_WW, {"w01018": {"Avg": 1.0}}, data_time=t)[0]
    good2 = upload(MN_WW, {"w21003": {"Avg": 2.0}}, data_time=t)[0]
    stream = b"\x00\xffnoise##00" + good1[:40] + b"##9999xyz\r\n" + good1 + b"garbage" + good2
    outs = pipeline.process_batch(items(stream[:17], stream[17:100], stream[100:]))
    verdicts = [(o.verdict, o.reason) for o in outs]
    assert verdicts.count(("accepted", "")) == 2
    assert all(v == "rejected" for v, _ in verdicts if v != "accepted") and len(verdicts) > 2
    assert Observation.objects.count() == 2
    assert RawPacket.objects.count() == len(outs)


def test_device_state_uploads_archived_and_acked_nothing_stored(pipeline, ingest_registry):
    from gongzhi.hj212 import build_run_state

    pk = build_run_state(states={"SB1": 1, "SB2": 0}, mn=MN_WW, pw=PW, st="32", qn=next_qn(), data_time=now_cst())
    [o] = pipeline.process_batch(items(*pk))
    assert (o.verdict, o.reason, o.values_stored) == ("accepted", "device_state", 0)
    assert o.replies and b"CN=9014" in o.replies[0]
    assert Observation.objects.count() == 0


def test_clock_skew_queues_one_set_time_per_interval(pipeline, ingest_registry):
    skewed = now_cst() - dt.timedelta(minutes=30)  # the logger's clock is half an hour slow
    a = pipeline.process_batch(items(*upload(MN_WW, {"w01018": {"Rtd": 1.0}}, cn="2011", data_time=skewed,
                                              qn=next_qn(skewed))))[0]
    assert [(b"CN=9014" in r, b"CN=1012" in r) for r in a.replies] == [(True, False), (False, True)]
    [set_time] = [e for e in events(a.replies[1]) if isinstance(e, Packet)]
    system_time = set_time.message.fields["SystemTime"]
    assert abs(int(system_time) - int(now_cst().strftime("%Y%m%d%H%M%S"))) < 100
    assert set_time.message.pw == PW and set_time.message.mn == MN_WW
    skewed2 = skewed + dt.timedelta(seconds=10)
    b = pipeline.process_batch(items(*upload(MN_WW, {"w01018": {"Rtd": 1.1}}, cn="2011", data_time=skewed2,
                                              qn=next_qn(skewed2))))[0]
    assert len(b.replies) == 1  # at most once per interval
    on_time = pipeline.process_batch(items(*upload(MN_WATER, {"w21003": {"Rtd": 0.2}}, cn="2011", data_time=now_cst())))[0]
    assert len(on_time.replies) == 1


def test_split_message_parts_acked_each_and_all_stored(pipeline, ingest_registry):
    codes = ["w01018", "w21003", "w21011", "w21001", "w01019", "w01017", "w20117", "w20138"]
    pkts = upload(MN_WW, {c: {"Min": 0.1, "Avg": 1.0 + i, "Max": 9.0, "Flag": "N"} for i, c in enumerate(codes)},
                  max_segment=300)
    assert len(pkts) > 2
    it = items(*pkts)
    outs = pipeline.process_batch(it)
    assert all(o.verdict == "accepted" for o in outs)
    assert [o.replies for o in outs] == [[build_data_ack(i.event.message)] for i in it]  # each echoes its own QN
    assert sum(o.values_stored for o in outs) == len(codes)
    assert sorted(AcceptedPacket.objects.values_list("pno", flat=True)) == list(range(1, len(pkts) + 1))
    again = pipeline.process_batch(items(pkts[1]))
    assert again[0].verdict == "duplicate"


def test_one_failing_item_does_not_lose_the_batch(pipeline, ingest_registry, monkeypatch):
    real = obs.series_resolver.get

    def boom(**kw):
        if kw["parameter"].key == "tp":
            raise RuntimeError("simulated database error")
        return real(**kw)

    monkeypatch.setattr(obs.series_resolver, "get", boom)
    t = hour_start(now_cst()) - dt.timedelta(hours=1)
    batch = items(*upload(MN_WW, {"w01018": {"Avg": 1.0}}, data_time=t),
                  *upload(MN_WW, {"w21011": {"Avg": 0.2}}, data_time=t),
                  *upload(MN_WATER, {"w21003": {"Avg": 0.3}}, data_time=t))
    outs = pipeline.process_batch(batch)
    assert [(o.verdict, o.reason) for o in outs] == [("accepted", ""), ("rejected", "internal_error"), ("accepted", "")]
    assert outs[1].replies == []  # not acknowledged: the logger will resend it
    assert Observation.objects.count() == 2
    assert RawPacket.objects.get(pk=outs[1].packet_id).reason == "internal_error"


def test_replay_mode_links_values_to_the_archived_packet(pipeline, ingest_registry):
    [q] = pipeline.process_batch(items(*upload("LATE0000000000000000032B", {"w01018": {"Avg": 4.0}})))
    raw = RawPacket.objects.get(pk=q.packet_id)
    reg.Device.objects.create(mn="LATE0000000000000000032B", password=PW, system_code="32", outlet=ingest_registry["ww"])
    ev = Decoder().feed(bytes(raw.raw))[0]
    [o] = pipeline.process_batch([Item("replay", raw.received, ev, packet_id=raw.pk)], archive=False)
    assert o.verdict == "accepted" and o.values_stored == 1
    assert Observation.objects.get().packet_id == raw.pk
    assert RawPacket.objects.count() == 1


def test_packet_without_datatime_rejected_not_acked(pipeline, ingest_registry):
    from gongzhi.hj212 import build_segment

    seg = build_segment(cn="2061", mn=MN_WW, st="32", qn=next_qn(), pw=PW, flag=5, cp="w01018-Avg=1.0")
    [o] = pipeline.process_batch(items(frame(seg)))
    assert (o.verdict, o.reason, o.replies) == ("rejected", "no_datatime", [])


def test_key_taken_by_another_writer_meanwhile_is_skipped_not_fatal(pipeline, ingest_registry):
    """Idempotency keys are written by a plain COPY (PostgreSQL) when all are new; if another
    writer process inserted one of them after our check, the insert falls back to ON CONFLICT
    DO NOTHING: the batch commits, the other keys are recorded, the existing row is kept."""
    from django.utils import timezone

    from gongzhi.ingest.pipeline import KEY_COLUMNS, _insert

    now = timezone.now()
    AcceptedPacket.objects.create(mn="M1", qn="Q1", cn="2061", pno=0, packet_id=1, accepted=now)
    _insert(AcceptedPacket, KEY_COLUMNS, [("M1", "Q0", "2061", 0, 2, now), ("M1", "Q1", "2061", 0, 3, now),
                                          ("M1", "Q2", "2061", 0, 4, now)], ignore_conflicts=True)
    got = dict(AcceptedPacket.objects.filter(mn="M1").values_list("qn", "packet_id"))
    assert got == {"Q0": 2, "Q1": 1, "Q2": 4}
    _insert(AcceptedPacket, KEY_COLUMNS, [("M2", "Q9", "2061", 1, 5, now)], ignore_conflicts=True)  # all new
    assert AcceptedPacket.objects.filter(mn="M2", pno=1, packet_id=5).exists()


def test_a_fresh_pipeline_loads_the_series_of_all_loggers_of_a_batch_in_one_query(ingest_registry):
    """A restarted gateway (or a worker meeting loggers another worker served) resolves the
    existing series of every site/outlet in the batch with one query, not one per logger,
    and stores into those series (no new series)."""
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    t = hour_start(now_cst()) - dt.timedelta(hours=5)
    first = Pipeline(IngestConfig())
    batch = [*upload(MN_WW, {"w01018": {"Avg": 5}}, data_time=t), *upload(MN_WATER, {"w21003": {"Avg": 0.5}}, data_time=t),
             *upload(MN_AIR, {"a21026": {"Avg": 9}}, data_time=t)]
    assert all(o.values_stored == 1 for o in first.process_batch(items(*batch)))
    series_before = Series.objects.count()
    fresh = Pipeline(IngestConfig())
    later = t + dt.timedelta(hours=1)
    batch = [*upload(MN_WW, {"w01018": {"Avg": 6}}, data_time=later),
             *upload(MN_WATER, {"w21003": {"Avg": 0.6}}, data_time=later),
             *upload(MN_AIR, {"a21026": {"Avg": 10}}, data_time=later)]
    with CaptureQueriesContext(connection) as ctx:
        outs = fresh.process_batch(items(*batch))
    assert all(o.values_stored == 1 for o in outs)
    series_queries = [q["sql"] for q in ctx.captured_queries
                      if 'FROM "observations_series"' in q["sql"]
                      and ('"site_id"' in q["sql"] or '"outlet_id"' in q["sql"])]
    assert len(series_queries) == 1, series_queries
    assert Series.objects.count() == series_before


@pytest.mark.django_db
def test_archive_rows_with_awkward_content_are_stored_exactly():
    """The archive's bulk insert (binary COPY on PostgreSQL, executemany on SQLite) stores every
    field of the archive and key tables as given: tabs, newlines, backslashes and Chinese in
    strings, NUL and CR/LF bytes in the packet, NULL, ids beyond 32 bits, a time before 2000
    and one with microseconds."""
    from gongzhi.ingest.pipeline import KEY_COLUMNS, RAW_COLUMNS, _insert

    t1 = dt.datetime(2026, 12, 5, 10, 0, 0, 123457, tzinfo=dt.timezone.utc)
    t0 = dt.datetime(1999, 12, 31, 23, 59, 59, 999999, tzinfo=dt.timezone.utc)
    rows = [
        (2**40, t1, "10.0.0.1:5555", "MN\twith\ttab", "Q\\N", "2061", 0, b"##\x00\r\n\\", "accepted", "",
         "line1\nline2 吴淞江", 20, 0),
        (2**40 + 1, t0, "", "", "", "", 3, b"", "quarantined", "bad_password", "\r", 0, 7),
    ]
    _insert(RawPacket, RAW_COLUMNS, rows)
    got = {r.pk: r for r in RawPacket.objects.filter(pk__gte=2**40)}
    for row in rows:
        r = got[row[0]]
        assert (r.pk, r.received, r.peer, r.mn, r.qn, r.cn, r.pno, bytes(r.raw), r.verdict, r.reason, r.detail,
                r.values_stored, r.values_duplicate) == row
    keys = [("MN\t1", "20261205100000123", "2061", 2, 2**40, t1), ("MN2", "Q", "9014", 0, None, t0)]
    _insert(AcceptedPacket, KEY_COLUMNS, keys, ignore_conflicts=True)
    _insert(AcceptedPacket, KEY_COLUMNS, keys, ignore_conflicts=True)  # again: nothing twice, no error
    assert sorted(AcceptedPacket.objects.values_list(*KEY_COLUMNS)) == sorted(keys)


def test_binary_copy_writes_postgresql_binary_format():
    """obs.binary_copy against PostgreSQL's binary COPY layout (protocol docs, "Binary
    Format"): the 11-byte signature, flags and extension length, then per row an int16 field
    count and per field an int32 length (-1 for NULL) and the bytes in network order;
    timestamps as int64 microseconds since 2000-01-01 UTC; an int16 -1 at the end."""
    import struct

    t = dt.datetime(2000, 1, 1, 0, 0, 1, tzinfo=dt.timezone.utc)
    data = obs.binary_copy([(7, t, "水", b"\x00\xff", None, 3, 1.5, True)], "qtsbsid?")
    assert data[:19] == b"PGCOPY\n\xff\r\n\x00" + bytes(8)
    assert data[-2:] == b"\xff\xff"
    body = data[19:-2]
    assert struct.unpack_from(">h", body)[0] == 8
    pos, fields = 2, []
    while pos < len(body):
        n = struct.unpack_from(">i", body, pos)[0]
        pos += 4
        fields.append(None if n < 0 else body[pos:pos + n])
        pos += max(n, 0)
    assert fields == [struct.pack(">q", 7), struct.pack(">q", 1_000_000), "水".encode(), b"\x00\xff", None,
                      struct.pack(">i", 3), struct.pack(">d", 1.5), b"\x01"]
    with pytest.raises(ValueError, match="2 fields for 3 columns"):
        obs.binary_copy([(1, 2)], "qqq")
    assert obs.binary_copy_kinds(RawPacket, ["id", "received", "pno", "raw", "detail"]) == "qtibs"
    with pytest.raises(ValueError, match="no encoder"):
        obs.binary_copy_kinds(Series, ["parameter"])


_SUFFIXES = ["Rtd", "Avg", "Data", "Min", "Max", "Cou", "ZsAvg", "ZsRtd", "Flag", "EFlag"]
_TEXTS = ["1.5", "-0", "7.10", "1e5", "nan", "inf", "1_000", "", "..", "N"]


@given(factors=st.dictionaries(st.sampled_from(["w01018", "w21003", "a34004", "w00000", "e70101"]),
                               st.dictionaries(st.sampled_from(_SUFFIXES), st.sampled_from(_TEXTS), min_size=1,
                                               max_size=6),
                               min_size=1, max_size=5),
       flags=st.lists(st.sampled_from(["N", "D", "M", "T"]), min_size=5, max_size=5),
       cn=st.sampled_from(["2011", "2051", "2061", "2031"]))
@settings(max_examples=300, deadline=None)
def test_values_of_a_fast_path_message_are_read_as_from_its_records(factors, flags, cn):
    """The pipeline reads a fast-path message's values through a plan made once per CP shape
    (no DataRecord per value); for every shape and kind it gives the same (code, flag, value,
    min, max, total, Zs) per factor as reading the general parser's records."""
    from hypothesis import assume

    from gongzhi.hj212 import CompactMessage, build_segment, parse_segment
    from gongzhi.ingest.pipeline import _values, _values_of_shape, values_read

    for (code, items), flag in zip(factors.items(), flags):
        if "Flag" in items:
            items["Flag"] = flag
    cp = "DataTime=20261205100000;" + ";".join(",".join(f"{c}-{s}={v}" for s, v in items.items())
                                               for c, items in factors.items())
    segment = build_segment(qn="20261205100000123", st="32", cn=cn, pw="123456", mn="GZLG00000000000000000003",
                            flag=5, cp=cp)
    fast = parse_segment(segment)
    assume(type(fast) is CompactMessage)  # a value text the fast path leaves to the general parser
    general = parse_segment(segment, fast=False)
    for realtime in (True, False):
        expected = values_read(*_values(general.records, realtime))
        assert values_read(*_values_of_shape(fast.cp_shape, fast.cp_values, realtime)) == expected
        assert values_read(*_values_of_shape(fast.cp_shape, fast.cp_values, realtime)) == expected  # the plan, cached
    assert fast.records == general.records  # and the records, when read, are the general parser's


@pytest.mark.parametrize("cp", [
    "w01018-Avg=1.5,w01018-Min=0.5,w01018-Max=2.5,w01018-Flag=N;w21003-Avg=nan,w21003-Flag=D",
    "w01018-Rtd=3,w01018-Data=4;w21003-Cou=12.5;a34004-ZsAvg=7;e70101-Data=1_000,e70101-Flag=M",
    "w00000-Avg=,w00000-Min=..,w00000-Max=1e5;w01018-Avg=-0,w01018-EFlag=A1",
])
def test_shapes_of_the_fast_path_are_read_as_records(cp):
    """Handpicked shapes (min/max, Data beside Rtd, totals, Zs values only, texts that are no
    number, EFlag) take the fast path and are read as from the general parser's records."""
    from gongzhi.hj212 import CompactMessage, build_segment, parse_segment
    from gongzhi.ingest.pipeline import _values, _values_of_shape, values_read

    segment = build_segment(qn="20261205100000123", st="32", cn="2061", pw="123456", mn="GZLG00000000000000000003",
                            flag=5, cp="DataTime=20261205100000;" + cp)
    fast = parse_segment(segment)
    assert type(fast) is CompactMessage
    general = parse_segment(segment, fast=False)
    assert type(general) is not CompactMessage and fast == general
    for realtime in (True, False):
        assert (values_read(*_values_of_shape(fast.cp_shape, fast.cp_values, realtime))
                == values_read(*_values(general.records, realtime)))
