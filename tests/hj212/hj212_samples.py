"""Shared sample data for the HJ 212 codec tests (imported by the test modules)."""

from __future__ import annotations

from pathlib import Path

from gongzhi.hj212 import Decoder, build_segment, crc16_hj212, crc_hex, frame

DATA = Path(__file__).resolve().parent / "data"

#: The worked example of HJ 212-2017 Appendix A (101 bytes, CRC 1C80).
CRC_EXAMPLE = (
    "QN=20160801085857223;ST=32;CN=1062;PW=100000;MN=010000A8900016F000169DC0;"
    "Flag=5;CP=&&RtdInterval=30&&"
)

MN = "010000A8900016F000169DC0"


def appendix_c_segments() -> list[str]:
    """The 79 example data segments of Appendix C (test data copy, see its first line)."""
    lines = (DATA / "appendix_c_segments.txt").read_text("utf-8").splitlines()
    return [line for line in lines if line and not line.startswith("#")]


BASE = dict(
    qn="20240501120000001",
    st="32",
    cn="2011",
    pw="123456",
    mn=MN,
    flag=5,
    cp="DataTime=20240501120000;w01018-Rtd=20.1,w01018-Flag=N;w21003-Rtd=0.52,w21003-Flag=N",
)


def seg(**overrides) -> str:
    """A valid 2017 real-time water upload, with fields overridden (None drops a field)."""
    return build_segment(**{**BASE, **overrides})


def packet(**overrides) -> bytes:
    return frame(seg(**overrides))


def decode(data: bytes, mode: str = "tolerant", chunks: list[int] | None = None, **kw) -> list:
    """Feed ``data`` (optionally cut at the given offsets), then close; return all events."""
    decoder = Decoder(mode, **kw)
    events = []
    cuts = [0, *sorted(chunks or []), len(data)]
    for a, b in zip(cuts, cuts[1:]):
        events += decoder.feed(data[a:b])
    events += decoder.close()
    return events


def with_hex_letter(make, start: int = 1):
    """Call ``make(i)`` for i = start, start+1, ... until the segment's CRC contains a letter A-F."""
    i = start
    while True:
        segment = make(i)
        if any(c.isalpha() for c in crc_hex(crc16_hj212(segment.encode("utf-8")))):
            return segment
        i += 1
