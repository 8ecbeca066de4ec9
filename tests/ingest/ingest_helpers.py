"""Helpers shared by the ingest tests (imported by name: tests/ingest has no __init__.py)."""

import datetime as dt

from gongzhi.hj212 import CST, Decoder, build_data, format_time
from gongzhi.ingest.pipeline import Item

PW = "123456"
MN_WATER = "WATER000000000000000021A"  # ST 21 surface-water station
MN_AIR = "AIR00000000000000000022A"  # ST 22 ambient air station
MN_GAS = "GAS00000000000000000031A"  # ST 31 flue-gas source
MN_WW = "WW000000000000000000032A"  # ST 32 wastewater source
MN_OFF = "OFF00000000000000000032A"  # disabled


def now_cst() -> dt.datetime:
    return dt.datetime.now(CST).replace(microsecond=0)


def hour_start(t: dt.datetime) -> dt.datetime:
    return t.replace(minute=0, second=0, microsecond=0)


_qn_counter = [0]


def next_qn(t: dt.datetime | None = None) -> str:
    """A fresh QN (milliseconds advance so that two packets never share one by accident)."""
    _qn_counter[0] += 1
    base = (t or now_cst()) + dt.timedelta(milliseconds=_qn_counter[0] % 1000)
    return format_time(base, ms=True)


def upload(mn, factors, *, cn="2061", st=None, pw=PW, data_time=None, qn=None, ack=True, **kw) -> list[bytes]:
    st = st or {MN_WATER: "21", MN_AIR: "22", MN_GAS: "31"}.get(mn, "32")
    data_time = data_time if data_time is not None else hour_start(now_cst()) - dt.timedelta(hours=1)
    return build_data(cn, mn=mn, pw=pw, st=st, qn=qn or next_qn(), data_time=data_time, factors=factors, ack=ack, **kw)


def events(*packets: bytes) -> list:
    d = Decoder()
    out = []
    for p in packets:
        out.extend(d.feed(p))
    return out + d.close()


def items(*packets: bytes, peer="127.0.0.1:5000", received=None) -> list[Item]:
    received = received or dt.datetime.now(dt.timezone.utc)
    return [Item(peer, received, ev) for ev in events(*packets)]


