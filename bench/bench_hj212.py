"""Benchmark of the HJ 212 codec (gongzhi.hj212): decoded packets per second, and CRC throughput.

Run:  .venv/bin/python bench/bench_hj212.py [--packets N] [--repeat R]

What is measured (one core, CPython):

* decode: a stream of realistic packets — 2011 real-time uploads of air and
  water stations with 8 factors each (Rtd + Flag, ~360 bytes), and separately
  2061 hourly water uploads (8 factors with Min/Avg/Max/Cou/Flag, ~750 bytes) —
  fed to ``Decoder.feed`` in 4 KiB reads (as a socket delivers them), framed,
  CRC-checked and fully parsed into ``Message`` objects;
* baselines, in the same run: the same decode with the CRC computed by a plain
  per-byte bitwise loop (Appendix A written out literally), i.e. what a naive
  implementation pays; with the previous two-bytes-per-lookup CRC loop; and with
  the parser's fast path switched off (every segment through the general parser);
* CRC alone: folded (no per-byte loop), table-driven (two bytes per lookup and one
  byte per lookup) versus bitwise, in MB/s.

Figures are the best of ``--repeat`` runs in CPU time of this process
(``time.process_time``), which is less disturbed by other load on the machine
than wall time; wall time of the best run is printed beside it.
"""

from __future__ import annotations

import argparse
import os
import platform
import random
import sys
import time
from datetime import datetime, timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "src"))

from gongzhi.hj212 import (  # noqa: E402
    CST,
    Decoder,
    Packet,
    build_hourly,
    build_realtime,
    crc16_hj212,
    crc16_hj212_bitwise,
    crc16_hj212_bytewise,
    crc16_hj212_pairs,
    crc16_modbus,
)
from gongzhi.hj212 import messages as _messages  # noqa: E402
from gongzhi.hj212 import framing as _framing  # noqa: E402

AIR = ["a21026", "a21004", "a21005", "a05024", "a34002", "a34004", "a01001", "a01002"]
WATER = ["w01001", "w01009", "w01010", "w01014", "w01018", "w21003", "w21011", "w21001"]


def make_packets(n: int, kind: str = "2011", seed: int = 212) -> list[bytes]:
    """``n`` distinct packets: 2011 real-time (air and water alternating, 8 factors
    with Rtd and Flag) or 2061 hourly water data (8 factors, Min/Avg/Max/Cou/Flag)."""
    rng = random.Random(seed)
    t0 = datetime(2024, 5, 1, 0, 0, tzinfo=CST)
    out: list[bytes] = []
    for i in range(n):
        t = t0 + timedelta(seconds=30 * i)
        mn = f"{rng.randrange(16**24):024X}"
        qn = t.strftime("%Y%m%d%H%M%S") + f"{i % 1000:03d}"
        if kind == "2011":
            air = i % 2 == 0
            factors = {c: {"Rtd": round(rng.uniform(0, 300), 1), "Flag": "N"} for c in (AIR if air else WATER)}
            (data,) = build_realtime(mn=mn, pw="123456", st="22" if air else "21", qn=qn, data_time=t,
                                     factors=factors)
        else:
            factors = {
                c: {"Min": round(v * 0.9, 2), "Avg": round(v, 2), "Max": round(v * 1.1, 2),
                    "Cou": round(v * 3.6, 1), "Flag": "N"}
                for c in WATER
                for v in [rng.uniform(0.1, 40)]
            }
            (data,) = build_hourly(mn=mn, pw="123456", st="21", qn=qn, data_time=t, factors=factors)
        out.append(data)
    return out


def decode_stream(stream: bytes, mode: str, chunk: int = 4096) -> tuple[int, float, float]:
    decoder = Decoder(mode)
    feed = decoder.feed
    good = 0
    c0, w0 = time.process_time(), time.perf_counter()
    for i in range(0, len(stream), chunk):
        for event in feed(stream[i : i + chunk]):
            if isinstance(event, Packet):
                good += 1
    decoder.close()
    return good, time.process_time() - c0, time.perf_counter() - w0


def best(fn, repeat: int):
    results = [fn() for _ in range(repeat)]
    return min(results, key=lambda r: r[1])


def crc_rate(fn, data: bytes, repeat: int) -> float:
    loops = max(1, 2_000_000 // len(data))
    if fn is crc16_hj212_bitwise:
        loops = max(1, loops // 20)
    times = []
    for _ in range(repeat):
        c0 = time.process_time()
        for _ in range(loops):
            fn(data)
        times.append(time.process_time() - c0)
    return loops * len(data) / min(times) / 1e6


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--packets", type=int, default=20_000)
    ap.add_argument("--repeat", type=int, default=5)
    args = ap.parse_args()

    streams = {}
    for kind in ("2011", "2061"):
        packets = make_packets(args.packets if kind == "2011" else args.packets // 2, kind)
        stream = b"".join(packets)
        sizes = sorted(len(p) for p in packets)
        probe = Decoder().feed(b"".join(packets[:100]))
        values = sum(len(ev.message.records) for ev in probe) / len(probe)
        streams[kind] = (packets, stream, sizes, values)

    rows = []

    def measure(label: str, kind: str, mode: str, repeat: int) -> tuple:
        packets, stream, sizes, values = streams[kind]
        good, cpu, wall = best(lambda: decode_stream(stream, mode), repeat)
        assert good == len(packets), (good, len(packets))
        return (label, len(packets) / cpu, len(stream) / cpu / 1e6, len(packets) * values / cpu, wall)

    rows.append(measure("2011 real-time, tolerant", "2011", "tolerant", args.repeat))
    rows.append(measure("2011 real-time, strict", "2011", "strict", args.repeat))
    rows.append(measure("2061 hourly, tolerant", "2061", "tolerant", args.repeat))
    # baselines in the same run: the previous CRC loop; the general parser only; the literal bitwise CRC
    saved = _framing.crc16_hj212
    _framing.crc16_hj212 = crc16_hj212_pairs
    try:
        rows.append(measure("2061, 2-byte-lookup CRC loop", "2061", "tolerant", args.repeat))
    finally:
        _framing.crc16_hj212 = saved
    saved_fast = _messages._parse_fast
    _messages._parse_fast = lambda segment: None
    try:
        rows.append(measure("2061, general parser only", "2061", "tolerant", args.repeat))
        _framing.crc16_hj212 = crc16_hj212_pairs
        rows.append(measure("2061, previous codec (both)", "2061", "tolerant", args.repeat))
    finally:
        _messages._parse_fast = saved_fast
        _framing.crc16_hj212 = saved
    _framing.crc16_hj212 = crc16_hj212_bitwise
    try:
        baseline = measure("2011, bitwise CRC (baseline)", "2011", "tolerant", max(1, args.repeat // 2))
    finally:
        _framing.crc16_hj212 = saved

    packets = streams["2011"][0]
    seg_300 = packets[0][6:-6]
    seg_1k = (seg_300 * 4)[:1024]
    crc_rows = []
    for name, fn in (("folded, no byte loop (crc16_hj212)", crc16_hj212),
                     ("table, 2 bytes/lookup (pairs)", crc16_hj212_pairs),
                     ("table, 1 byte/lookup (bytewise)", crc16_hj212_bytewise),
                     ("bitwise, Appendix A literal", crc16_hj212_bitwise),
                     ("CRC-16/MODBUS table (detection)", crc16_modbus)):
        crc_rows.append((name, crc_rate(fn, seg_300, args.repeat), crc_rate(fn, seg_1k, args.repeat)))

    print("=" * 78)
    print("HJ 212 codec benchmark (gongzhi.hj212)")
    print(f"python {platform.python_version()} on {platform.machine()}, {os.cpu_count()} CPU(s); "
          f"one core used; best of {args.repeat} runs, CPU time")
    for kind, (pk, stream, sizes, values) in streams.items():
        print(f"stream {kind}: {len(pk)} packets, {len(stream) / 1e6:.2f} MB, {sizes[0]}-{sizes[-1]} bytes/packet "
              f"(median {sizes[len(sizes) // 2]}), {values:.0f} values/packet, fed in 4 KiB reads")
    print("-" * 78)
    print(f"{'decode (frame + CRC + parse)':32s} {'packets/s':>10s} {'MB/s':>6s} {'values/s':>10s} {'wall s':>7s}")
    for label, pps, mbs, vps, wall in rows + [baseline]:
        print(f"{label:32s} {pps:10,.0f} {mbs:6.2f} {vps:10,.0f} {wall:7.2f}")
    print(f"2011 decode vs bitwise-CRC baseline: {rows[0][1] / baseline[1]:.1f}x faster; 2061 decode vs the "
          f"previous codec (2-byte-lookup CRC loop, general parser only): {rows[2][1] / rows[5][1]:.2f}x")
    print("-" * 78)
    print(f"{'CRC alone':40s} {'MB/s @300 B':>12s} {'MB/s @1 KiB':>12s}")
    for name, r300, r1k in crc_rows:
        print(f"{name:40s} {r300:12.2f} {r1k:12.2f}")
    print(f"folded vs 2 bytes/lookup: {crc_rows[0][2] / crc_rows[1][2]:.1f}x; vs bitwise: "
          f"{crc_rows[0][2] / crc_rows[3][2]:.0f}x (1 KiB)")
    print("=" * 78)
    return 0


if __name__ == "__main__":
    sys.exit(main())
