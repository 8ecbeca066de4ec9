"""Simulated loggers for tests and benchmarks (not used in production paths).

* ``python -m gongzhi.ingest.loadgen seed --devices N`` — migrate the configured
  database and register N wastewater loggers (ST 32) on generated outlets;
* :func:`make_upload` — a deterministic hourly upload (2061) of one device;
* :class:`Client` — one TCP connection that pipelines uploads and records which
  uploads were acknowledged (9014 for every sub-packet), with the time each ack took.

The client side is pure asyncio + the codec (no Django).
"""

from __future__ import annotations

import argparse
import asyncio
import datetime as dt
import json
import sys
import time
import re
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


_QN = re.compile(rb"QN=([0-9]+)")


def part_qns(packet: bytes) -> list[str]:
    """QN of every packet in ``packet`` (an upload split into sub-packets has one QN per part)."""
    return [q.decode() for q in _QN.findall(packet)]


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


class _ReplyReader(asyncio.BufferedProtocol):
    """The client's side of a connection: reads into one buffer (asyncio's default read makes
    a new 256 KiB ``bytes`` per read, see bench/bench_recv.py) and hands each run of whole
    replies to ``on_replies``."""

    def __init__(self, on_replies, on_closed) -> None:
        self.on_replies, self.on_closed = on_replies, on_closed
        self.view = memoryview(bytearray(65536))
        self.pending = b""
        self.closed = False

    def get_buffer(self, sizehint: int) -> memoryview:
        return self.view

    def buffer_updated(self, nbytes: int) -> None:
        data = self.pending + self.view[:nbytes] if self.pending else bytes(self.view[:nbytes])
        cut = data.rfind(b"\r\n")
        if cut < 0:
            self.pending = data
            return
        self.pending = data[cut + 2 :]
        self.on_replies(data[: cut + 2])

    def eof_received(self) -> bool:
        return False  # close

    def connection_lost(self, exc) -> None:
        self.closed = True
        self.on_closed()


@dataclass
class Client:
    host: str
    port: int
    window: int = 4
    acked: dict[str, float] = field(default_factory=dict)  # QN -> ack latency (s)
    other_replies: list[tuple[str, str]] = field(default_factory=list)
    sent: int = 0  # uploads written to the connection

    async def send(self, packets: list[tuple[str, bytes]], *, rate: float | None = None,
                   timeout: float = 30.0, stop: asyncio.Event | None = None, phase: float = 0.0) -> bool:
        """Send ``packets`` (at most ``window`` unacknowledged, at most ``rate`` per second).

        With ``rate``, the first upload goes out ``phase`` (0 <= phase < 1) of a period after
        the connection opens: many clients with spread phases offer a steady stream rather
        than all sending in the same millisecond of every period.

        Returns True if every packet was acknowledged, False if the connection
        broke or ``timeout`` passed first; :attr:`acked` says which were.
        """
        sent: dict[str, float] = {}
        free = asyncio.Semaphore(self.window)
        want = {qn for qn, _ in packets}
        # an upload split into sub-packets is acknowledged when every part is (each has its own QN)
        upload_of: dict[str, str] = {}
        missing: dict[str, set[str]] = {}
        for qn, pkt in packets:
            parts = part_qns(pkt) or [qn]
            missing[qn] = set(parts)
            for pq in parts:
                upload_of[pq] = qn

        def on_replies(data: bytes) -> None:
            now = time.perf_counter()
            for cn, pq in reply_qns(data):
                qn = upload_of.get(pq)
                if cn == "9014" and qn in sent and qn not in self.acked:
                    missing[qn].discard(pq)
                    if missing[qn]:
                        continue
                    self.acked[qn] = now - sent[qn]
                    free.release()
                elif cn != "9014":
                    self.other_replies.append((cn, pq))

        def on_closed() -> None:
            for _ in range(self.window + 1):  # wake a sender waiting for a free slot
                free.release()

        try:
            transport, conn = await asyncio.get_running_loop().create_connection(
                lambda: _ReplyReader(on_replies, on_closed), self.host, self.port)
        except OSError:
            return False
        ok = False
        try:
            async with asyncio.timeout(timeout):
                gap = 1.0 / rate if rate else 0.0
                next_t = time.perf_counter() + (phase - 1.0) * gap  # the first wait is phase x gap
                for qn, pkt in packets:
                    if stop is not None and stop.is_set():
                        break  # stop sending; still wait for the acks of what was sent
                    await free.acquire()
                    if conn.closed:  # connection closed or broken
                        return False
                    if gap:
                        next_t += gap
                        delay = next_t - time.perf_counter()
                        if delay > 0:
                            await asyncio.sleep(delay)
                    sent[qn] = time.perf_counter()
                    self.sent += 1
                    transport.write(pkt)
                # every ack frees a slot (the ack reader frees them all when the connection ends):
                # holding all the slots means nothing sent is still waiting for its ack
                for _ in range(self.window):
                    await free.acquire()
                ok = want <= self.acked.keys()
        except (OSError, TimeoutError):
            ok = False
        finally:
            transport.close()
        return ok


# --- seeding (Django) ------------------------------------------------------------------------------


def seed(devices: int, *, series_kind: str = "") -> dict:
    """Register ``devices`` wastewater loggers (one outlet each) in the configured database.

    ``series_kind`` (e.g. ``"hour"``): also create the series of every factor in :data:`CODES`
    for each logger's outlet, as a store in service has them (the benchmark's warm-up then
    measures no series creation)."""
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
    out = {"devices": reg.Device.objects.count()}
    if series_kind:
        from gongzhi.observations.models import Series

        reg_services.code_index.invalidate()
        params = {pk: reg.Parameter.objects.get(pk=pk) for pk in
                  (reg_services.code_index.lookup(code, "water") for code in CODES) if pk is not None}
        have_series = set(Series.objects.filter(outlet__enterprise__code__startswith="lg-", kind=series_kind)
                          .values_list("outlet_id", "parameter_id"))
        new = [Series(outlet=o, parameter=prm, kind=series_kind, unit=prm.unit, owner_id=o.enterprise.owner_id)
               for o in outlet.values() for prm in params.values() if (o.pk, prm.pk) not in have_series]
        Series.objects.bulk_create(new, batch_size=2000)
        out["series_created"] = len(new)
    return out


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m gongzhi.ingest.loadgen")
    sub = p.add_subparsers(dest="cmd", required=True)
    s = sub.add_parser("seed")
    s.add_argument("--devices", type=int, default=100)
    s.add_argument("--series", default="", metavar="KIND", help="also create the series of kind KIND (e.g. hour)")
    args = p.parse_args(argv)
    if args.cmd == "seed":
        print(json.dumps(seed(args.devices, series_kind=args.series)), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
