"""Simulated loggers for tests and benchmarks (not used in production paths).

* ``python -m gongzhi.ingest.loadgen seed --devices N`` — migrate the configured
  database and register N wastewater loggers (ST 32) on generated outlets;
* :func:`make_upload` — a deterministic hourly upload (2061) of one device;
* :class:`Client` — one TCP connection that pipelines uploads and records which
  QNs were acknowledged (9014), with the time each ack took.

The client side is pure asyncio + the codec (no Django).
"""

from __future__ import annotations

import argparse
import asyncio
import datetime as dt
import json
import sys
import time
from dataclasses import dataclass, field

from gongzhi.hj212 import CST, build_data, format_time

PASSWORD = "123456"
#: water factors (mg/L in the catalog) used by generated uploads
CODES = (
    "w01018", "w21003", "w21011", "w21001", "w01019", "w01017", "w20117", "w20138", "w20139", "w20140",
    "w20141", "w20142", "w20143", "w20144", "w21016", "w21017", "w21019", "w22001", "w23002", "w19002",
)
BASE_TIME = dt.datetime(2020, 1, 1, tzinfo=CST)


def mn_for(i: int) -> str:
    return f"GZLG{i:020d}"


def value_for(device: int, seq: int, j: int) -> float:
    """A value that identifies (device, seq, factor): checked by the reliability test."""
    return round(device * 1000 + seq + j / 100, 2)


def make_upload(device: int, seq: int, *, factors: int = 5, ack: bool = True, cn: str = "2061") -> tuple[str, bytes]:
    """(QN, packet) of device ``device``'s ``seq``-th hourly upload."""
    t = BASE_TIME + dt.timedelta(hours=seq)
    qn = format_time(t + dt.timedelta(milliseconds=device % 1000), ms=True)
    fac = {code: {"Avg": value_for(device, seq, j), "Min": 0.01, "Max": 9999.0, "Flag": "N"}
           for j, code in enumerate(CODES[:factors])}
    packets = build_data(cn, mn=mn_for(device), pw=PASSWORD, st="32", qn=qn, data_time=t, factors=fac, ack=ack)
    return qn, b"".join(packets)


# --- the client ------------------------------------------------------------------------------


def reply_qns(data: bytes) -> list[tuple[str, str]]:
    """(CN, QN) of each reply in ``data`` (replies are short: a plain scan is enough here)."""
    out = []
    for seg in data.split(b"##")[1:]:
        q = seg.find(b"QN=")
        c = seg.find(b"CN=")
        if q < 0 or c < 0:
            continue
        out.append((seg[c + 3 : c + 7].decode(), seg[q + 3 : q + 20].decode()))
    return out


@dataclass
class Client:
    host: str
    port: int
    window: int = 4
    acked: dict[str, float] = field(default_factory=dict)  # QN -> ack latency (s)
    other_replies: list[tuple[str, str]] = field(default_factory=list)

    async def send(self, packets: list[tuple[str, bytes]], *, rate: float | None = None,
                   timeout: float = 30.0, stop: asyncio.Event | None = None) -> bool:
        """Send ``packets`` (at most ``window`` unacknowledged, at most ``rate`` per second).

        Returns True if every packet was acknowledged, False if the connection
        broke or ``timeout`` passed first; :attr:`acked` says which were.
        """
        try:
            reader, writer = await asyncio.open_connection(self.host, self.port)
        except OSError:
            return False
        sent: dict[str, float] = {}
        free = asyncio.Semaphore(self.window)
        done = asyncio.Event()
        want = {qn for qn, _ in packets}

        async def read_acks() -> None:
            buf = b""
            try:
                while True:
                    data = await reader.read(65536)
                    if not data:
                        return
                    buf += data
                    cut = buf.rfind(b"\r\n")
                    if cut < 0:
                        continue
                    now = time.perf_counter()
                    for cn, qn in reply_qns(buf[: cut + 2]):
                        if cn == "9014" and qn in sent and qn not in self.acked:
                            self.acked[qn] = now - sent[qn]
                            free.release()
                            if want <= self.acked.keys():
                                done.set()
                        elif cn != "9014":
                            self.other_replies.append((cn, qn))
                    buf = buf[cut + 2 :]
            except (OSError, asyncio.CancelledError):
                return
            finally:
                for _ in range(self.window + 1):  # wake a sender waiting for a free slot
                    free.release()

        reader_task = asyncio.create_task(read_acks())
        ok = False
        try:
            async with asyncio.timeout(timeout):
                gap = 1.0 / rate if rate else 0.0
                next_t = time.perf_counter()
                for qn, pkt in packets:
                    if stop is not None and stop.is_set():
                        return False
                    await free.acquire()
                    if reader_task.done():  # connection closed or broken
                        return False
                    if gap:
                        next_t += gap
                        delay = next_t - time.perf_counter()
                        if delay > 0:
                            await asyncio.sleep(delay)
                    sent[qn] = time.perf_counter()
                    writer.write(pkt)
                    await writer.drain()
                if not want <= self.acked.keys():
                    waiter = asyncio.create_task(done.wait())
                    await asyncio.wait({waiter, reader_task}, return_when=asyncio.FIRST_COMPLETED)
                    waiter.cancel()
                ok = want <= self.acked.keys()
        except (OSError, TimeoutError):
            ok = False
        finally:
            reader_task.cancel()
            writer.close()
            try:
                await writer.wait_closed()
            except (OSError, asyncio.CancelledError):
                pass
        return ok


# --- seeding (Django) ------------------------------------------------------------------------------


def seed(devices: int) -> dict:
    """Register ``devices`` wastewater loggers (one outlet each) in the configured database."""
    from gongzhi.cli import _django

    _django.setup()
    _django.migrate(verbosity=0)
    from gongzhi.registry import models as reg
    from gongzhi.registry import services as reg_services

    reg_services.seed_parameter_catalog()
    j, _ = reg.Jurisdiction.objects.get_or_create(adcode="320583", defaults={"name": "昆山市", "level": "county"})
    b, _ = reg.Bureau.objects.get_or_create(code="loadgen", defaults={"name": "负载测试局", "short_name": "测试", "jurisdiction": j})
    have = set(reg.Device.objects.values_list("mn", flat=True))
    ents, outs, devs = [], [], []
    for i in range(devices):
        if mn_for(i) in have:
            continue
        ents.append(reg.Enterprise(code=f"lg-{i}", name=f"测试企业 {i}", owner=b, lon=120.9, lat=31.3))
    reg.Enterprise.objects.bulk_create(ents)
    by_code = {e.code: e for e in reg.Enterprise.objects.filter(code__startswith="lg-")}
    for i in range(devices):
        if mn_for(i) in have:
            continue
        outs.append(reg.Outlet(enterprise=by_code[f"lg-{i}"], code="DW001", name="废水总排口", kind="wastewater",
                               lon=120.9, lat=31.3))
    reg.Outlet.objects.bulk_create(outs)
    outlet = {o.enterprise.code: o for o in reg.Outlet.objects.select_related("enterprise").filter(enterprise__code__startswith="lg-")}
    for i in range(devices):
        if mn_for(i) in have:
            continue
        devs.append(reg.Device(mn=mn_for(i), password=PASSWORD, system_code="32", outlet=outlet[f"lg-{i}"]))
    reg.Device.objects.bulk_create(devs)
    return {"devices": reg.Device.objects.count()}


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m gongzhi.ingest.loadgen")
    sub = p.add_subparsers(dest="cmd", required=True)
    s = sub.add_parser("seed")
    s.add_argument("--devices", type=int, default=100)
    args = p.parse_args(argv)
    if args.cmd == "seed":
        print(json.dumps(seed(args.devices)), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
