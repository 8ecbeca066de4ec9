"""Round-trip properties: build -> decode (in any chunking) -> reassemble gives back the message."""

from __future__ import annotations

from datetime import datetime, timedelta

from hypothesis import given, settings
from hypothesis import strategies as st

from gongzhi.hj212 import CST, Decoder, Packet, Reassembler, build_data, build_segment, frame, parse_segment
from gongzhi.hj212.codes import DATA_FLAGS, SYSTEM_CODES

CNS = ["2011", "2051", "2061", "2031"]
SUFFIXES = ["Rtd", "Min", "Avg", "Max", "Cou", "ZsRtd", "ZsAvg"]
CODES = [f"{m}{n:05d}" for m in "wa" for n in range(0, 99999, 997)]

times = st.datetimes(min_value=datetime(2017, 1, 1), max_value=datetime(2025, 6, 1)).map(
    lambda t: t.replace(microsecond=t.microsecond // 1000 * 1000, tzinfo=CST)
)
values = st.decimals(min_value=-10**6, max_value=10**7, places=3, allow_nan=False, allow_infinity=False)
factor = st.fixed_dictionaries(
    {},
    optional={s: values for s in SUFFIXES} | {"Flag": st.sampled_from(sorted(DATA_FLAGS))},
).filter(lambda d: any(k != "Flag" for k in d))
messages = st.fixed_dictionaries(
    {
        "cn": st.sampled_from(CNS),
        "st": st.sampled_from(sorted(SYSTEM_CODES)),
        "mn": st.text("0123456789ABCDEF", min_size=24, max_size=24),
        "pw": st.text("0123456789abcdefXYZ", min_size=6, max_size=6),
        "qn": times,
        "data_time": times.map(lambda t: t.replace(microsecond=0)),
        "factors": st.dictionaries(st.sampled_from(CODES), factor, min_size=0, max_size=40),
        "ack": st.booleans(),
        "info": st.none() | st.text("清洗管路时间校准维护ABC/", min_size=1, max_size=30),
    }
)


def _expected_records(factors):
    out = []
    for code, items in factors.items():
        flag = items.get("Flag")
        for suffix, value in items.items():
            if suffix != "Flag":
                out.append((code, suffix, value if isinstance(value, str) else format(value, "f"), flag))
    return out


@settings(max_examples=120, deadline=None)
@given(messages, st.lists(st.integers(min_value=1, max_value=4000), max_size=6))
def test_build_then_decode(msg, cuts):
    factors = dict(msg["factors"])
    if msg["info"] is not None:
        factors["i11001"] = {"Info": f"//{msg['info']}//"}
    packets = build_data(
        msg["cn"], mn=msg["mn"], pw=msg["pw"], st=msg["st"], qn=msg["qn"],
        data_time=msg["data_time"], factors=factors, ack=msg["ack"],
    )
    stream = b"".join(packets)
    decoder = Decoder("strict")
    events = []
    last = 0
    for cut in sorted(c % (len(stream) + 1) for c in cuts) + [len(stream)]:
        events += decoder.feed(stream[last:cut])
        last = cut
    events += decoder.close()
    assert len(events) == len(packets) and all(isinstance(e, Packet) for e in events), events
    r = Reassembler()
    done = [m for m in (r.add(e.message, now=0) for e in events) if m is not None]
    assert len(done) == 1 and r.pending == 0
    m = done[0]
    assert (m.cn, m.st, m.mn, m.pw, m.version) == (msg["cn"], msg["st"], msg["mn"], msg["pw"], "2017")
    assert m.qn == msg["qn"].strftime("%Y%m%d%H%M%S") + f"{msg['qn'].microsecond // 1000:03d}"
    assert m.data_time == msg["data_time"]
    assert m.ack_requested == msg["ack"]
    assert [(r.code, r.suffix, r.value, r.flag) for r in m.records] == _expected_records(factors)
    assert m.deviations == []


@settings(max_examples=80, deadline=None)
@given(
    cn=st.sampled_from(["1000", "1011", "1062", "3020", "9011", "9014"]),
    fields=st.dictionaries(
        st.text("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz", min_size=1, max_size=12).filter(
            lambda k: k not in ("DataTime", "SystemTime", "RestartTime", "BeginTime", "EndTime")
        ),
        st.text("0123456789abcdefXYZ./:清洗", min_size=0, max_size=20),
        max_size=8,
    ),
)
def test_plain_fields_round_trip(cn, fields):
    cp = ";".join(f"{k}={v}" for k, v in fields.items())
    segment = build_segment(cn=cn, mn="A" * 24, st="32", qn="20240501120000001", pw="123456", flag=4, cp=cp)
    m = parse_segment(segment, mode="strict")
    assert m.fields == fields
    (event,) = Decoder().feed(frame(segment))
    assert event.message.fields == fields


@settings(max_examples=60, deadline=None)
@given(st.sampled_from(["tolerant", "strict"]), st.integers(0, 999))
def test_qn_increment_for_parts_carries_into_seconds(mode, ms):
    qn = datetime(2024, 12, 31, 23, 59, 59, tzinfo=CST) + timedelta(milliseconds=ms)
    factors = {f"a{20000 + i}": {"Avg": 1, "Flag": "N"} for i in range(120)}
    packets = build_data("2061", mn="A" * 24, pw="123456", st="22", qn=qn, data_time=qn, factors=factors)
    qns = [e.message.qn for e in Decoder(mode).feed(b"".join(packets))]
    assert len(packets) > 1 and len(qns) == len(packets)
    assert qns == [(qn + timedelta(milliseconds=k)).strftime("%Y%m%d%H%M%S") + f"{(ms + k) % 1000:03d}"
                   for k in range(len(packets))]
