"""``gongzhi hj212 replay``: archived packets re-run through the pipeline, idempotently."""

import datetime as dt

from gongzhi.cli import build_parser
from gongzhi.cli.hj212_replay import replay
from gongzhi.ingest.models import AcceptedPacket, RawPacket
from gongzhi.observations.models import Observation
from gongzhi.registry import models as reg
from ingest_helpers import MN_WW, PW, hour_start, items, now_cst, upload

LATE = "LATE0000000000000000032C"


def _window():
    now = dt.datetime.now(dt.timezone.utc)
    return now - dt.timedelta(hours=1), now + dt.timedelta(hours=1)


def test_replay_recovers_quarantined_packets_and_is_idempotent(pipeline, ingest_registry):
    t = hour_start(now_cst()) - dt.timedelta(hours=1)
    pipeline.process_batch(items(*upload(MN_WW, {"w01018": {"Avg": 1.5}}, data_time=t)))
    pipeline.process_batch(items(*upload(LATE, {"w01018": {"Avg": 2.5}, "w21003": {"Avg": 0.4}}, data_time=t)))
    pipeline.process_batch(items(b"##0003abc1234\r\n"))
    assert Observation.objects.count() == 1
    reg.Device.objects.create(mn=LATE, password=PW, system_code="32", outlet=ingest_registry["gas"])
    start, end = _window()

    dry = replay(start=start, end=end, dry_run=True)
    assert dry["values_stored"] == 2 and dry["verdicts"]["duplicate"] == 1 and dry["dry_run"]
    assert Observation.objects.count() == 1 and not AcceptedPacket.objects.filter(mn=LATE).exists()

    first = replay(start=start, end=end)
    assert first["packets"] == 3
    assert first["verdicts"] == {"duplicate": 1, "accepted": 1, "rejected": 1}
    assert first["values_stored"] == 2
    late_obs = Observation.objects.filter(series__outlet=ingest_registry["gas"])
    assert late_obs.count() == 2
    assert set(late_obs.values_list("packet_id", flat=True)) == set(RawPacket.objects.filter(mn=LATE).values_list("id", flat=True))
    assert RawPacket.objects.count() == 3  # replay archives nothing new

    again = replay(start=start, end=end)
    assert again["values_stored"] == 0 and again["verdicts"].get("duplicate") == 2
    only = replay(start=start, end=end, mn=LATE, verdicts=["quarantined"])
    assert only["packets"] == 1


def test_replay_is_wired_into_the_hj212_command():
    args = build_parser().parse_args(["hj212", "replay", "--from", "2026-05-01", "--to", "2026-05-02T08:00", "--dry-run"])
    assert args.func.__module__ == "gongzhi.cli.hj212_replay"
    assert args.start.utcoffset() == dt.timedelta(hours=8) and args.dry_run
