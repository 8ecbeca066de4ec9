"""Live virtual loggers: against a scripted TCP peer (resend, reconnect, 1012) and end to end
against the real gateway on 127.0.0.1 (ephemeral port) with the real pipeline and store."""

import asyncio
import datetime as dt
import threading
import time

import pytest

from gongzhi.hj212 import Decoder, Packet, build_data_ack, build_set_time, format_time
from gongzhi.ingest.gateway import Gateway, GatewayConfig
from gongzhi.ingest.models import RawPacket
from gongzhi.observations.models import Observation, Series
from gongzhi.simulator import DeviceSpec, SimConfig, Simulator
from gongzhi.simulator.backfill import registry_specs
from gongzhi.simulator.loggers import LiveSource, LoggerThread, VirtualLogger, period_flag

UTC = dt.timezone.utc
QUIET = SimConfig(seed=1, fault_rate=0.0, offline_rate=0.0, maintenance=False, exceedance_rate=0.0,
                  episodes_per_year=0.0, demo_episodes=False)
WW = DeviceSpec(mn="SIMD0000000000000000032A", password="123456", st="32", codes=("w00000", "w01018", "w21003"),
                interval_s=60, outlet="e1-DW001", limits={"w01018": 80.0})
GAS = DeviceSpec(mn="SIMG0000000000000000031A", password="123456", st="31", codes=("a00000", "a19001", "a21026"),
                 interval_s=60, outlet="e1-DA001", limits={"a21026": 35.0}, reference_o2=6.0, industry="power")


def logger_for(spec, port, **kw):
    source = LiveSource(Simulator([spec], config=QUIET), dt.datetime.now(UTC))
    return VirtualLogger(spec, source, "127.0.0.1", port, **kw)


def decode(data: bytes) -> list:
    return [e.message for e in Decoder().feed(data) if isinstance(e, Packet)]


def test_period_values_follow_the_samples_and_appendix_c_flags():
    lg = logger_for(WW, 1)
    start = dt.datetime(2025, 7, 1, 2, tzinfo=UTC)
    samples = {"w00000": [(10.0, "N", None), (20.0, "N", None)], "w01018": [(40.0, "N", None), (60.0, "C", None)]}
    [pending] = lg.period("2061", start, 3600, samples)
    [m] = decode(pending.packet)
    assert (m.cn, m.st, m.mn, m.flag) == ("2061", "32", WW.mn, 5)
    assert m.data_time == start
    got = {(r.code, r.suffix): r.value for r in m.records}
    flags = {r.code: r.flag for r in m.records}
    assert float(got[("w00000", "Avg")]) == 15.0 and float(got[("w00000", "Cou")]) == 54.0  # 15 L/s for an hour = 54 m³
    assert float(got[("w01018", "Avg")]) == 50.0
    assert float(got[("w01018", "Min")]) == 40.0 and float(got[("w01018", "Max")]) == 60.0
    assert float(got[("w01018", "Cou")]) == pytest.approx(50.0 * 54.0 / 1000)  # kg
    assert flags["w01018"] == "C" and flags["w00000"] == "N"  # water: any abnormal sample makes the hour abnormal
    assert period_flag(["N", "N", "N", "C"], gas=True) == "N"  # gas: ≥ 75 % normal
    assert period_flag(["N", "N", "C", "C"], gas=True) == "D"


def test_flue_gas_realtime_has_converted_values():
    lg = logger_for(GAS, 1)
    [pending] = lg.realtime(dt.datetime.now(UTC).replace(microsecond=0))
    [m] = decode(pending.packet)
    got = {(r.code, r.suffix): r.value for r in m.records}
    flags = {r.code: r.flag for r in m.records}
    o2, so2, zs = float(got[("a19001", "Rtd")]), float(got[("a21026", "Rtd")]), float(got[("a21026", "ZsRtd")])
    assert zs == pytest.approx(so2 * (21 - 6) / (21 - o2), rel=0.02, abs=0.02)
    assert flags["a21026"] == "N"


def test_resend_without_ack_reconnect_and_set_time():
    """A scripted platform: ignores the first upload (the logger resends it), answers the resend
    with 9014 and a 1012 set-time, then drops the connection (the logger reconnects)."""
    seen: list[tuple[int, str, str]] = []  # (connection number, CN, QN)
    replies: list = []
    result = {}

    async def main():
        conns = [0]

        async def handle(reader, writer):
            conns[0] += 1
            me = conns[0]
            dec = Decoder()
            try:
                while True:
                    data = await reader.read(65536)
                    if not data:
                        return
                    for ev in dec.feed(data):
                        if not isinstance(ev, Packet):
                            continue
                        m = ev.message
                        seen.append((me, m.cn, m.qn))
                        if m.cn.startswith("90"):
                            replies.append(m)
                            continue
                        uploads = [s for s in seen if s[1] == "2011"]
                        if me == 1 and len(uploads) == 1:
                            continue  # lost: no 9014
                        writer.write(build_data_ack(m))
                        if me == 1 and [q for _, cn, q in uploads].count(m.qn) == 2:  # the resend
                            now = dt.datetime.now(UTC)
                            writer.write(build_set_time(system_time=format_time(now), mn=m.mn, pw=m.pw, st=m.st,
                                                        qn=format_time(now, ms=True)))
                            await writer.drain()
                            end = time.monotonic() + 1.0  # read the logger's 9011/9012, then hang up
                            while time.monotonic() < end:
                                try:
                                    more = await asyncio.wait_for(reader.read(65536), end - time.monotonic())
                                except TimeoutError:
                                    break
                                replies.extend(e.message for e in dec.feed(more)
                                               if isinstance(e, Packet) and e.message.cn.startswith("90"))
                            writer.close()
                            return
            except ConnectionError:
                return

        server = await asyncio.start_server(handle, "127.0.0.1", 0)
        port = server.sockets[0].getsockname()[1]
        spec = DeviceSpec(mn="SIMR0000000000000000032A", password="123456", st="32", codes=("w01018",),
                          interval_s=3600, outlet="x")
        lg = logger_for(spec, port, speed=3600 * 2, ack_timeout=0.5, clock_offset_s=-7200, backoff_max=1.0)
        task = asyncio.create_task(lg.run())
        deadline = time.monotonic() + 15
        while time.monotonic() < deadline and not (lg.stats.connects >= 2 and lg.stats.acked >= 3):
            await asyncio.sleep(0.1)
        lg.stop()
        await task
        server.close()
        result["lg"] = lg

    asyncio.run(main())
    lg = result["lg"]
    first_qn = next(q for c, cn, q in seen if cn == "2011")
    assert [c for c, cn, q in seen if q == first_qn and cn == "2011"] == [1, 1]  # sent, then resent on the same link
    assert lg.stats.resent >= 1 and lg.stats.connects >= 2 and lg.stats.acked >= 3
    assert lg.stats.time_sets == 1 and abs(lg.offset) < 5  # the 2-hour skew was corrected by 1012
    assert {("9011", "1"), ("9012", "1")} <= {(m.cn, m.fields.get("QnRtn") or m.fields.get("ExeRtn")) for m in replies}
    assert any(c == 2 for c, cn, q in seen)  # uploads continued on a new connection


class GatewayThread:
    def __init__(self) -> None:
        self.loop = asyncio.new_event_loop()
        self.gw = Gateway(GatewayConfig(port=0, metrics_port=None))
        ready = threading.Event()

        def run() -> None:
            asyncio.set_event_loop(self.loop)
            self.loop.run_until_complete(self.gw.start())
            ready.set()
            self.loop.run_until_complete(self.gw.wait_closed())

        self.thread = threading.Thread(target=run, daemon=True)
        self.thread.start()
        assert ready.wait(20)

    def shutdown(self) -> None:
        asyncio.run_coroutine_threadsafe(self.gw.shutdown(), self.loop).result(30)
        self.thread.join(30)
        self.loop.close()


@pytest.mark.django_db(transaction=True)
def test_three_live_loggers_against_the_gateway(small_registry):
    pairs = registry_specs(region={"devices": []})
    specs = [s for s, _ in pairs]
    assert len(specs) == 3
    gw = GatewayThread()
    try:
        sim = Simulator(specs, config=QUIET)
        source = LiveSource(sim, dt.datetime.now(UTC))
        water = next(s for s in specs if s.st == "21")
        loggers = [VirtualLogger(s, source, "127.0.0.1", gw.gw.port, speed=3600,
                                 clock_offset_s=-1800 if s is water else 0.0) for s in specs]
        runner = LoggerThread(loggers)
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline and not all(lg.stats.acked >= 4 and lg.stats.time_sets >= (lg.spec is water)
                                                       for lg in loggers):
            time.sleep(0.2)
        runner.stop()
    finally:
        gw.shutdown()
    for lg in loggers:
        assert lg.stats.acked >= 4, (lg.spec.mn, lg.stats)
        assert lg.stats.gave_up == 0 and not lg.stats.rejected
    wlog = next(lg for lg in loggers if lg.spec is water)
    assert wlog.stats.time_sets >= 1 and abs(wlog.offset) < 5  # the gateway's 1012 corrected the clock
    accepted = RawPacket.objects.filter(verdict="accepted", cn="2011")
    for lg in loggers:
        assert accepted.filter(mn=lg.spec.mn).count() >= lg.stats.acked - 1
    # the values are in the store, on the device's real-time series, one per code and packet
    for place, n_codes in ((small_registry["water"], 8), (small_registry["air"], 6)):
        series = Series.objects.filter(site=place, kind="rtd")
        assert series.count() == n_codes
        assert Observation.objects.filter(series__in=series).count() >= 4 * n_codes
    ww = Series.objects.filter(outlet=small_registry["ww"], kind="rtd")
    assert ww.count() == 4
    cod = ww.get(parameter__key="cod")
    values = list(Observation.objects.filter(series=cod).values_list("value", flat=True))
    assert len(values) >= 4 and all(0 < v < 200 for v in values)
