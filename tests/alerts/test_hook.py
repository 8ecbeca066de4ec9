"""The after-commit hook: an HJ 212 upload through the pipeline (and through the real gateway)
raises an alarm via the evaluator thread; a failing or slow evaluator never loses or delays
the acknowledgement, and the durable catch-up evaluates what it missed."""

import asyncio
import datetime as dt
import socket
import threading
import time

import pytest

from alerts_helpers import region_tx  # noqa: F401 (fixtures)

from gongzhi.alerts import evaluation, services
from gongzhi.alerts.models import Alarm, DownstreamWarning, EvaluationMark
from gongzhi.hj212 import CST, Decoder, Packet, build_data, format_time
from gongzhi.ingest.gateway import Gateway, GatewayConfig
from gongzhi.ingest.pipeline import IngestConfig, Item, Pipeline
from gongzhi.notifications.models import Notification
from gongzhi.observations.models import Observation
from gongzhi.registry import models as reg

pytestmark = pytest.mark.django_db(transaction=True)

MN = "UPSECTION000000000000021"
PW = "123456"
_qn = [0]


def packet(value: float, *, t: dt.datetime | None = None) -> bytes:
    t = t or dt.datetime.now(CST).replace(microsecond=0)
    _qn[0] += 1
    qn = format_time(t + dt.timedelta(milliseconds=_qn[0]), ms=True)
    [p] = build_data("2011", mn=MN, pw=PW, st="21", qn=qn, data_time=t, factors={"w21003": {"Rtd": value, "Flag": "N"}})
    return p


def items(*packets: bytes) -> list[Item]:
    d = Decoder()
    evs = [e for p in packets for e in d.feed(p)]
    return [Item("127.0.0.1:1", dt.datetime.now(dt.timezone.utc), e) for e in evs]


@pytest.fixture
def setup(region_tx):
    dev = reg.Device.objects.create(mn=MN, password=PW, system_code="21", site=region_tx["up"])
    dev.parameters.add(region_tx["p"]["nh3_n"])
    services.create_rule(name="氨氮超目标", owner=region_tx["ks"], kind="exceedance", parameter=region_tx["p"]["nh3_n"],
                         limit_source="target_class")
    return region_tx


def wait_for(pred, timeout=20.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if pred():
            return True
        time.sleep(0.05)
    return False


def test_an_upload_through_the_pipeline_raises_an_alarm(setup):
    outcomes = Pipeline(IngestConfig()).process_batch(items(packet(0.4)))
    assert outcomes[0].verdict == "accepted"
    assert evaluation.live.wait_idle(10)
    assert not Alarm.objects.exists()
    Pipeline(IngestConfig()).process_batch(items(packet(1.8, t=dt.datetime.now(CST).replace(microsecond=0) + dt.timedelta(seconds=1))))
    # the pipeline returned after its commit, whose listener queued the rows: wait for the
    # evaluator thread (raise, verdict, propagation, notifications) without polling the tables
    # it writes (the test database is SQLite in shared-cache memory, locked per table)
    assert evaluation.live.wait_idle(20)
    a = Alarm.objects.get()
    assert (a.site.code, a.value, a.limit) == ("UP", 1.8, 1.0)
    assert set(DownstreamWarning.objects.values_list("bureau__code", flat=True)) == {"qingpu", "jiashan"}
    assert Notification.objects.filter(kind="warning.downstream", recipient__username="qingpu_emergency_duty_officer").exists()
    # the live evaluator moves the high-water mark (at most every 2 s, and when idle)
    evaluation.live.flush_mark()
    assert EvaluationMark.objects.get(name="values").position >= Observation.objects.order_by("-received").first().received


class GatewayThread:
    def __init__(self) -> None:
        self.loop = asyncio.new_event_loop()
        ready = threading.Event()

        def run() -> None:
            asyncio.set_event_loop(self.loop)
            self.gw = Gateway(GatewayConfig(port=0, metrics_port=0))
            self.loop.run_until_complete(self.gw.start())
            ready.set()
            self.loop.run_until_complete(self.gw.wait_closed())

        self.thread = threading.Thread(target=run, daemon=True)
        self.thread.start()
        assert ready.wait(20)

    def stop(self) -> None:
        asyncio.run_coroutine_threadsafe(self.gw.shutdown(), self.loop).result(30)
        self.thread.join(30)
        self.loop.close()


def send_and_ack(port: int, data: bytes) -> float:
    s = socket.create_connection(("127.0.0.1", port), timeout=10)
    t0 = time.monotonic()
    s.sendall(data)
    d, got = Decoder(), []
    while not got:
        chunk = s.recv(65536)
        assert chunk, "connection closed before the acknowledgement"
        got = [e for e in d.feed(chunk) if isinstance(e, Packet)]
    s.close()
    assert got[0].message.cn == "9014"
    return time.monotonic() - t0


@pytest.mark.parametrize("failure", ["raises", "slow"])
def test_a_failing_evaluator_never_loses_or_delays_the_ack(setup, monkeypatch, failure):
    calls = []

    def broken(rows, *, now=None):
        calls.append(len(rows))
        if failure == "raises":
            raise RuntimeError("evaluator bug")
        time.sleep(3.0)  # a stuck evaluator
        raise RuntimeError("gave up")

    monkeypatch.setattr(evaluation.evaluator, "values", broken)
    g = GatewayThread()
    try:
        took = send_and_ack(g.gw.port, packet(2.5))
    finally:
        g.stop()
    assert took < 2.0  # acknowledged without waiting for the evaluator (which takes 3 s when slow)
    assert Observation.objects.filter(value=2.5).count() == 1  # the value is stored
    assert wait_for(lambda: calls)  # the evaluator was called (and failed) on its own thread
    evaluation.live.wait_idle(10)
    assert not Alarm.objects.exists()
    # the durable catch-up evaluates what the live evaluator lost
    monkeypatch.undo()
    evaluation.evaluator.reset()
    evaluation.catch_up()
    assert Alarm.objects.get().value == 2.5


def test_catch_up_after_a_restart_reads_from_the_mark(setup):
    """Writes made while no evaluator listened (a crash) are evaluated by the next tick."""
    evaluation.live.enabled = False
    try:
        Pipeline(IngestConfig()).process_batch(items(packet(3.0)))
    finally:
        evaluation.live.enabled = True
    assert not Alarm.objects.exists()
    result = evaluation.tick()
    assert result["read"] >= 1
    assert Alarm.objects.get().value == 3.0
    # a second tick reads only the overlap and raises nothing new
    evaluation.tick()
    assert Alarm.objects.count() == 1
