"""The asyncio gateway with a real server on 127.0.0.1 (ephemeral ports) and the real pipeline.

The gateway runs in a thread with its own event loop (its writer thread has its
own database connection); the test thread talks to it with ordinary sockets and
reads the store through its own connection, so it sees committed data only.
"""

import asyncio
import datetime as dt
import socket
import threading
import time

import pytest

from gongzhi.hj212 import Decoder, Packet
from gongzhi.ingest.gateway import Gateway, GatewayConfig
from gongzhi.ingest.loadgen import Client, reply_qns
from gongzhi.ingest.models import RawPacket
from gongzhi.observations.models import Observation
from ingest_helpers import MN_WATER, MN_WW, hour_start, now_cst, upload

pytestmark = pytest.mark.django_db(transaction=True)


class GatewayThread:
    def __init__(self, **cfg) -> None:
        cfg.setdefault("port", 0)
        cfg.setdefault("metrics_port", 0)
        self.config = GatewayConfig(**cfg)
        self.processor_wrapper = None
        self.loop = asyncio.new_event_loop()
        self.gw: Gateway | None = None
        ready = threading.Event()
        self.error = None

        def run() -> None:
            asyncio.set_event_loop(self.loop)
            try:
                self.gw = Gateway(self.config)
                self.loop.run_until_complete(self.gw.start())
            except BaseException as exc:  # pragma: no cover - reported by the test
                self.error = exc
                ready.set()
                return
            ready.set()
            self.loop.run_until_complete(self.gw.wait_closed())

        self.thread = threading.Thread(target=run, daemon=True)
        self.thread.start()
        assert ready.wait(20) and self.error is None, self.error

    @property
    def port(self) -> int:
        return self.gw.port

    def wrap_processor(self, fn) -> None:
        """Wrap the writer's processor (after start: the default one is created in the writer thread)."""
        inner = self.gw._processor
        self.gw._processor = lambda items: fn(inner, items)

    def shutdown(self, timeout: float = 30) -> None:
        if self.thread.is_alive():
            asyncio.run_coroutine_threadsafe(self.gw.shutdown(), self.loop).result(timeout)
            self.thread.join(timeout)
        self.loop.close()

    def metric(self, name: str, label: str = "") -> float:
        m = getattr(self.gw.metrics, name)
        return m.get(label) if hasattr(m, "get") else m.value


@pytest.fixture
def gateway(ingest_registry):
    made = []

    def start(**cfg) -> GatewayThread:
        g = GatewayThread(**cfg)
        made.append(g)
        return g

    yield start
    for g in made:
        g.shutdown()


def connect(port: int, timeout: float = 10) -> socket.socket:
    s = socket.create_connection(("127.0.0.1", port), timeout=timeout)
    return s


def read_replies(s: socket.socket, n: int, timeout: float = 10) -> list[Packet]:
    d = Decoder()
    got: list[Packet] = []
    deadline = time.monotonic() + timeout
    while len(got) < n:
        s.settimeout(max(0.01, deadline - time.monotonic()))
        data = s.recv(65536)
        if not data:
            break
        got.extend(e for e in d.feed(data) if isinstance(e, Packet))
    return got


def test_ack_only_after_commit(gateway):
    g = gateway()
    slow_commit = []

    def slow(inner, items):
        out = inner(items)  # returns after the commit
        slow_commit.append(time.monotonic())
        time.sleep(0.2)  # a slow fsync: the ack must wait for it
        return out

    g.wrap_processor(slow)
    pkts = upload(MN_WW, {"w01018": {"Avg": 12.5, "Flag": "N"}})
    s = connect(g.port)
    sent = time.monotonic()
    s.sendall(pkts[0])
    [ack] = read_replies(s, 1)
    acked = time.monotonic()
    assert ack.message.cn == "9014"
    # the row is visible to another connection the moment the ack is read: it was committed
    assert Observation.objects.filter(value=12.5).count() == 1
    assert RawPacket.objects.get(qn=ack.message.qn).verdict == "accepted"
    assert acked - sent >= 0.2 and slow_commit[0] < acked
    s.close()


def test_split_and_merged_tcp_writes(gateway):
    g = gateway()
    t = hour_start(now_cst()) - dt.timedelta(hours=1)
    one = upload(MN_WW, {"w01018": {"Avg": 1.0}}, data_time=t)[0]
    three = [upload(MN_WW, {"w21003": {"Avg": float(i)}}, data_time=t - dt.timedelta(hours=i))[0] for i in range(1, 4)]
    s = connect(g.port)
    for i in range(0, len(one), 7):  # one packet in many small writes
        s.sendall(one[i : i + 7])
        time.sleep(0.002)
    s.sendall(b"".join(three))  # three packets in one write
    acks = read_replies(s, 4)
    assert len(acks) == 4 and all(a.message.cn == "9014" for a in acks)
    assert Observation.objects.count() == 4
    s.close()


def test_interleaved_partial_packets_of_two_connections(gateway):
    """Every connection reads into the gateway's one read buffer (``_Conn`` is a buffered
    protocol): the half packet a connection holds must survive the other connection's reads
    into the same buffer."""
    g = gateway()
    t = hour_start(now_cst()) - dt.timedelta(hours=1)
    a = upload(MN_WW, {"w01018": {"Avg": 11.5}}, data_time=t)[0]
    b = upload(MN_WATER, {"w21003": {"Avg": 0.25}}, data_time=t)[0]
    sa, sb = connect(g.port), connect(g.port)
    for k in range(4):  # a's quarter, then b's quarter, … : each read lands between the other's
        for s, p in ((sa, a), (sb, b)):
            q = len(p) // 4 + 1
            s.sendall(p[k * q : (k + 1) * q])
            time.sleep(0.02)
    [ack_a], [ack_b] = read_replies(sa, 1), read_replies(sb, 1)
    assert ack_a.message.cn == ack_b.message.cn == "9014"
    assert sorted(Observation.objects.values_list("value", flat=True)) == [0.25, 11.5]
    assert sorted(RawPacket.objects.values_list("verdict", "reason")) == [("accepted", ""), ("accepted", "")]
    sa.close(), sb.close()


def test_many_concurrent_clients(gateway):
    g = gateway()
    from gongzhi.registry import models as reg

    ww = reg.Outlet.objects.get(code="DW001")
    mns = [f"MANY{i:020d}" for i in range(40)]
    reg.Device.objects.bulk_create([reg.Device(mn=mn, password="123456", system_code="32", outlet=ww) for mn in mns])
    base = hour_start(now_cst()) - dt.timedelta(days=1)

    async def run():
        clients = []
        for ci, mn in enumerate(mns):
            pk = []
            for k in range(10):
                p = upload(mn, {"w01018": {"Avg": ci + k / 100}, "w21003": {"Avg": 0.5}},
                           data_time=base - dt.timedelta(hours=k))
                pk.append((Decoder().feed(p[0])[0].message.qn, p[0]))
            clients.append((Client("127.0.0.1", g.port, window=3), pk))
        results = await asyncio.gather(*(c.send(pk, timeout=30) for c, pk in clients))
        return results, clients

    results, clients = asyncio.run(run())
    assert all(results)
    assert sum(len(c.acked) for c, _ in clients) == 400
    # one outlet, all devices: same series, 10 hours -> the first value of each hour wins
    assert RawPacket.objects.filter(verdict="accepted").count() == 400
    assert sum(RawPacket.objects.values_list("values_stored", flat=True)) == Observation.objects.count() == 20


def test_slow_client_does_not_delay_a_fast_one(gateway):
    g = gateway()
    t = hour_start(now_cst()) - dt.timedelta(hours=1)
    slow_pkt = upload(MN_WATER, {"w21003": {"Avg": 0.7}}, data_time=t)[0]
    fast = [upload(MN_WW, {"w01018": {"Avg": float(i)}}, data_time=t - dt.timedelta(hours=i))[0] for i in range(10)]
    slow_done = threading.Event()
    times = {}

    def slow_sender():
        s = connect(g.port)
        for i in range(len(slow_pkt)):  # one byte every 20 ms: ~5 s for the packet
            s.sendall(slow_pkt[i : i + 1])
            time.sleep(0.02)
        [ack] = read_replies(s, 1)
        times["slow_ack"] = time.monotonic()
        slow_done.set()
        s.close()

    th = threading.Thread(target=slow_sender)
    th.start()
    time.sleep(0.1)  # the slow client is mid-packet
    s = connect(g.port)
    start = time.monotonic()
    for p in fast:  # strictly one after the other: each waits for its ack
        s.sendall(p)
        assert len(read_replies(s, 1)) == 1
    times["fast_done"] = time.monotonic()
    s.close()
    assert not slow_done.is_set()  # all ten acks came while the slow packet was still arriving
    th.join(30)
    assert times["fast_done"] < times["slow_ack"]
    assert times["fast_done"] - start < (times["slow_ack"] - start) / 2
    assert Observation.objects.count() == 11


def test_idle_timeout_closes_quiet_connections(gateway):
    g = gateway(idle_timeout=0.3)
    s = connect(g.port)
    t0 = time.monotonic()
    s.settimeout(10)
    assert s.recv(100) == b""  # closed by the gateway
    assert time.monotonic() - t0 >= 0.25
    assert g.metric("connections_closed", "idle") == 1
    # an active connection is not closed while it keeps sending
    s2 = connect(g.port)
    for i in range(4):
        s2.sendall(upload(MN_WW, {"w01018": {"Avg": float(i)}},
                          data_time=hour_start(now_cst()) - dt.timedelta(hours=i + 1))[0])
        assert len(read_replies(s2, 1)) == 1
        time.sleep(0.15)
    s2.close()


def test_connection_limit(gateway):
    g = gateway(max_connections=3)
    socks = [connect(g.port) for _ in range(3)]
    for i, s in enumerate(socks):  # make sure all three are registered
        s.sendall(upload(MN_WW, {"w01018": {"Avg": float(i)}}, data_time=hour_start(now_cst()) - dt.timedelta(hours=i + 1))[0])
        assert len(read_replies(s, 1)) == 1
    extra = connect(g.port)
    extra.settimeout(10)
    assert extra.recv(100) == b""  # closed at once, politely
    assert g.metric("connections_refused") == 1
    socks[0].close()
    deadline = time.monotonic() + 5
    while g.metric("connections") > 2 and time.monotonic() < deadline:
        time.sleep(0.01)
    again = connect(g.port)
    again.sendall(upload(MN_WW, {"w21003": {"Avg": 1.0}})[0])
    assert len(read_replies(again, 1)) == 1
    for s in [*socks[1:], extra, again]:
        s.close()


def test_bad_input_never_crashes_the_gateway(gateway):
    g = gateway(max_buffer=4096)
    s = connect(g.port)
    s.sendall(bytes(range(256)) * 4 + b"##" + b"9" * 5000 + b"##12")  # garbage, an endless header
    s.sendall(b"A" * 10000)  # no line end: the buffer cap discards it
    good = upload(MN_WW, {"w01018": {"Avg": 3.25}})[0]
    s.sendall(b"\r\n" + good)
    acks = read_replies(s, 1)
    assert [a.message.cn for a in acks] == ["9014"]
    assert Observation.objects.filter(value=3.25).exists()
    assert RawPacket.objects.filter(verdict="rejected").exists()
    s.close()


def test_graceful_shutdown_loses_nothing(gateway):
    g = gateway(max_batch=5)

    def slow(inner, items):
        time.sleep(0.1)  # eight batches of five: ~0.8 s to drain
        return inner(items)

    g.wrap_processor(slow)
    base = hour_start(now_cst()) - dt.timedelta(days=2)
    pkts = [upload(MN_WW, {"w01018": {"Avg": 100.0 + i}}, data_time=base - dt.timedelta(hours=i))[0] for i in range(40)]
    s = connect(g.port)
    s.sendall(b"".join(pkts))
    first = read_replies(s, 1)
    # shutdown begins while most packets are still queued (a busy machine may let one
    # read gather two batches' acks, so only "not everything yet" is asserted)
    assert 0 < len(first) <= 20
    stopper = threading.Thread(target=g.shutdown)
    stopper.start()  # most packets are still queued
    rest = read_replies(s, 40 - len(first), timeout=20)
    stopper.join(30)
    s.settimeout(5)
    assert s.recv(100) == b""  # closed after the last ack
    assert len(first) + len(rest) == 40
    assert Observation.objects.filter(value__gte=100).count() == 40
    s.close()


def test_metrics_endpoint(gateway):
    g = gateway()
    s = connect(g.port)
    s.sendall(upload(MN_WW, {"w01018": {"Avg": 1.0}, "w21003": {"Avg": 0.1}})[0] + b"junk##0005x\r\n")
    assert len(read_replies(s, 1)) == 1
    deadline = time.monotonic() + 5
    while g.metric("packets", "rejected") < 1 and time.monotonic() < deadline:
        time.sleep(0.01)

    def get(path: str) -> tuple[str, str]:
        m = socket.create_connection(("127.0.0.1", g.gw.metrics_port), timeout=5)
        m.sendall(f"GET {path} HTTP/1.1\r\nHost: x\r\n\r\n".encode())
        data = b""
        while chunk := m.recv(65536):
            data += chunk
        m.close()
        head, _, body = data.decode().partition("\r\n\r\n")
        return head, body

    head, body = get("/metrics")
    assert head.startswith("HTTP/1.0 200") and "text/plain; version=0.0.4" in head
    lines = dict(line.rsplit(" ", 1) for line in body.splitlines() if line and not line.startswith("#"))
    assert lines["gongzhi_gateway_connections"] == "1"
    assert lines["gongzhi_gateway_connections_total"] == "1"
    assert lines['gongzhi_gateway_packets_total{verdict="accepted"}'] == "1"
    assert float(lines['gongzhi_gateway_errors_total{reason="garbage"}']) >= 1
    assert lines["gongzhi_gateway_values_stored_total"] == "2"
    assert lines["gongzhi_gateway_queue_depth"] == "0"
    assert int(lines['gongzhi_gateway_commit_seconds_bucket{le="+Inf"}']) >= 1
    assert "# TYPE gongzhi_gateway_batch_size histogram" in body
    assert get("/other")[0].startswith("HTTP/1.0 404")
    s.close()


def test_backpressure_with_a_tiny_queue(gateway):
    g = gateway(queue_size=2, max_batch=2)
    depths, held = [], []

    def slow(inner, items):
        depths.append(len(g.gw._queue))
        held.append(sum(len(c.held) for c in list(g.gw._conns.values())))
        time.sleep(0.01)
        return inner(items)

    g.wrap_processor(slow)
    base = hour_start(now_cst()) - dt.timedelta(days=3)
    pkts = [upload(MN_WW, {"w01018": {"Avg": float(i)}}, data_time=base - dt.timedelta(hours=i))[0] for i in range(30)]
    s = connect(g.port)
    s.sendall(b"".join(pkts))
    assert len(read_replies(s, 30, timeout=20)) == 30
    assert max(depths) <= 2  # the queue never grew past its size
    assert max(held) > 0  # the connection kept the rest of its read and stopped reading meanwhile
    assert Observation.objects.count() == 30
    s.close()


def test_reply_parser_of_the_load_generator():
    # the load generator's quick scan must agree with the codec on real replies
    from gongzhi.hj212 import build_data_ack

    msgs = [Decoder().feed(upload(MN_WW, {"w01018": {"Avg": 1.0}})[0])[0].message for _ in range(3)]
    data = b"".join(build_data_ack(m) for m in msgs)
    assert reply_qns(data) == [("9014", m.qn) for m in msgs]
