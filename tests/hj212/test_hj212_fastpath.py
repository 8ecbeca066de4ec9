"""The codec's fast path for clean 2017 uploads gives exactly what the general parser gives.

``parse_segment`` first tries ``messages._parse_fast`` (str methods, one pass) and falls back
to the general parser on anything unusual. The property checked on valid, generated and
mutated segments: whenever the fast path answers, the general parser accepts the same segment
with no deviation and returns an equal message (every field, every record, the same
``details``), in tolerant and strict mode; and ``parse_segment`` (fast path on) always agrees
with ``parse_segment(fast=False)``, including the error raised.
"""

from __future__ import annotations

from datetime import datetime

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from gongzhi.hj212 import CST, Decoder, Packet, build_data, build_segment, frame, parse_segment
from gongzhi.hj212.codes import DATA_FLAGS, SYSTEM_CODES, VALUE_SUFFIXES
from gongzhi.hj212.errors import Hj212Error
from gongzhi.hj212.messages import _parse_fast
from hj212_samples import appendix_c_segments, seg

CNS = ["2011", "2051", "2061", "2031", "2041", "2021", "9014", "1011", "3020"]
CODES = ["w01018", "w21003", "a34004", "a01001", "01018", "B01", "060", "w00000", "a21026", "e70101"]
SUFFIXES = sorted(VALUE_SUFFIXES) + ["Flag", "EFlag", "SampleTime", "Foo"]

times = st.datetimes(min_value=datetime(2017, 1, 1), max_value=datetime(2026, 12, 31)).map(
    lambda t: t.replace(microsecond=t.microsecond // 1000 * 1000, tzinfo=CST)
)
values = st.one_of(
    st.decimals(min_value=-10**6, max_value=10**7, places=3, allow_nan=False, allow_infinity=False).map(
        lambda d: format(d, "f")),
    st.sampled_from(["", "1_000", "nan", "inf", "1e5", "-0", "7.10", "..", "N"]),
)


CLEAN_CNS = ["2011", "2051", "2061", "2031"]
CLEAN_CODES = ["w01018", "w21003", "a34004", "a01001", "w00000", "a21026", "e70101"]
CLEAN_SUFFIXES = ["Rtd", "Avg", "Min", "Max", "Cou", "ZsAvg", "Flag", "EFlag"]


@st.composite
def uploads(draw, clean=None) -> str:
    """A data segment as a logger would build it: half of them clean (the fast path's shape),
    the others with unusual codes, suffixes, flags, commands, times, MN, Flag or PNUM/PNO."""
    if clean is None:
        clean = draw(st.booleans())
    codes, suffixes = (CLEAN_CODES, CLEAN_SUFFIXES) if clean else (CODES, SUFFIXES)
    factors = draw(st.dictionaries(st.sampled_from(codes),
                                   st.dictionaries(st.sampled_from(suffixes), values, min_size=1, max_size=5),
                                   max_size=12))
    for items in factors.values():
        if "Flag" in items:
            items["Flag"] = draw(st.sampled_from(sorted(DATA_FLAGS) + ([] if clean else ["X", ""])))
    cp = ";".join(",".join(f"{c}-{s}={v}" for s, v in items.items()) for c, items in factors.items())
    odd_times = [] if clean else ["20241301000000", "2024050112000", "202405011200001"]
    data_time = draw(st.one_of(times.map(lambda t: t.strftime("%Y%m%d%H%M%S")), st.sampled_from(odd_times))
                     if odd_times else times.map(lambda t: t.strftime("%Y%m%d%H%M%S")))
    cp = f"DataTime={data_time}" + (";" + cp if cp else "")
    pnum = draw(st.sampled_from([None, None, (2, 1), (2, 2), (9999, 17)] + ([] if clean else [(3, 4), (1, 1)])))
    if clean:
        flag = draw(st.sampled_from([4, 5])) | (2 if pnum else 0)
    else:
        flag = draw(st.sampled_from([5, 4, 7, 6, 1, 0, 9, 13, 3]))
    return build_segment(
        qn=draw(times).strftime("%Y%m%d%H%M%S") + "123",
        st=draw(st.sampled_from(sorted(SYSTEM_CODES) + ([] if clean else ["99"]))),
        cn=draw(st.sampled_from(CLEAN_CNS if clean else CNS)), pw=draw(st.sampled_from(["123456", "", "a=b"])),
        mn=draw(st.sampled_from(["010000A8900016F000169DC0", "GZLG00000000000000000003", "88888880000001"]
                                + ([] if clean else ["A" * 25]))),
        flag=flag, pnum=pnum[0] if pnum else None, pno=pnum[1] if pnum else None, cp=cp,
    )


#: small edits that make a clean segment unusual in one of the ways the general parser notices
EDITS = [";", ",", "=", "&", "&&", " ", "\t", "-", "0", "9", "…", "中", "\x0b", "CP=&&", "Flag", "-Flag=N",
         ";;", "DataTime=", "PNO=", "RF=1;", "w01018-Avg=1", "-SampleTime=20240501120000", "-ZsAvg=1"]


@st.composite
def mutated(draw) -> str:
    text = draw(uploads(clean=True))
    for _ in range(draw(st.integers(1, 3))):
        pos = draw(st.integers(0, len(text)))
        kind = draw(st.sampled_from(["insert", "delete", "replace", "swap", "digit", "digit"]))
        if kind == "digit":  # another digit somewhere: values, times, QN, Flag, PNUM/PNO, codes
            digits = [k for k, ch in enumerate(text) if ch.isdigit()]
            if digits:
                k = digits[pos % len(digits)]
                text = text[:k] + draw(st.sampled_from("0123456789")) + text[k + 1:]
        elif kind == "insert":
            text = text[:pos] + draw(st.sampled_from(EDITS)) + text[pos:]
        elif kind == "delete":
            text = text[:pos] + text[pos + draw(st.integers(1, 6)):]
        elif kind == "replace":
            text = text[:pos] + draw(st.sampled_from(EDITS)) + text[pos + 1:]
        else:  # swap two ';'-separated parts: order and duplicates
            parts = text.split(";")
            i, j = draw(st.integers(0, len(parts) - 1)), draw(st.integers(0, len(parts) - 1))
            parts[i], parts[j] = parts[j], parts[i]
            if draw(st.booleans()):
                parts.insert(i, parts[j])
            text = ";".join(parts)
    return text


def outcome(text: str, *, mode: str, fast: bool):
    try:
        m = parse_segment(text, mode=mode, fast=fast)
    except Hj212Error as exc:
        return ("error", exc.code, exc.detail, exc.deviation)
    return ("ok", m, dict(m.details))


def check(text: str) -> bool:
    """The property; returns whether the fast path answered."""
    fast = _parse_fast(text)
    if fast is not None:
        full = parse_segment(text, fast=False)
        assert full.deviations == [] and full.details == {}
        assert fast == full
        assert fast.records == full.records and fast.fields == full.fields and fast.details == full.details
        assert parse_segment(text, mode="strict", fast=False) == fast
    for mode in ("tolerant", "strict"):
        assert outcome(text, mode=mode, fast=True) == outcome(text, mode=mode, fast=False)
    return fast is not None


@settings(max_examples=600, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(uploads())
def test_generated_uploads(text):
    check(text)


@settings(max_examples=1000, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(mutated())
def test_mutated_uploads(text):
    check(text)


@settings(max_examples=300, deadline=None)
@given(st.text(alphabet=st.sampled_from(list("QNSTCPWMFlagDt=;,&-0123456789w.Rvx ")), max_size=120))
def test_random_text(text):
    check("QN=20240501120000001;ST=32;CN=2011;PW=1;MN=M;Flag=5;CP=&&" + text + "&&")
    check(text)


def test_the_fast_path_answers_for_clean_uploads():
    """The common case really takes the fast path (otherwise the property above proves nothing)."""
    packets = build_data("2061", mn="GZLG00000000000000000003", pw="123456", st="32", qn=datetime(2024, 5, 1, tzinfo=CST),
                         data_time=datetime(2024, 5, 1, tzinfo=CST),
                         factors={f"w{20100 + i}": {"Avg": 1.5 + i, "Min": 0.1, "Max": 9.0, "Flag": "N"}
                                  for i in range(20)})
    assert len(packets) == 2  # split into sub-packets: PNUM/PNO on the fast path too
    for packet in packets:
        text = packet[6:-6].decode()
        assert check(text)
        m = _parse_fast(text)
        assert m.pnum == 2 and m.data_time == datetime(2024, 5, 1, tzinfo=CST) and m.records[0].flag == "N"
    assert check(seg())  # the real-time sample of the other tests


@pytest.mark.parametrize("text", appendix_c_segments())
def test_appendix_c(text):
    """Every example of Appendix C: same outcome with and without the fast path."""
    check(text)


@pytest.mark.parametrize("edit", [
    ("ST=32", "ST=32 "), ("PW=123456;", ""), ("w01018-Rtd=20.1", "w01018-Rtd=20.1,w01018-Rtd=20.2"),
    ("w01018-Flag=N", "w01018-Flag=X"), ("DataTime=20240501120000", "DataTime=20241301120000"),
    ("w01018-Rtd", "01018-Rtd"), ("w01018-Rtd", "w01018-Foo"), ("CN=2011", "CN=9014"), ("ST=32", "ST=99"),
    ("QN=20240501120000001", "QN=2024050112000000"), (";CP=", ",CP="), ("Flag=5", "Flag=9"),
    ("&&", "&& "), ("w01018-Rtd=20.1", "w01018-Rtd=20…1"),
])
def test_each_unusual_shape_goes_to_the_general_parser(edit):
    """Each of these makes the general parser record a deviation or raise: the fast path declines."""
    old, new = edit
    text = seg().replace(old, new, 1)
    assert text != seg()
    assert _parse_fast(text) is None
    try:
        m = parse_segment(text)
    except Hj212Error:
        return
    assert m.deviations


def test_shapes_the_fast_path_leaves_to_the_general_parser():
    """Valid but less common shapes (RF, SampleTime) are declined, and parsed the same."""
    for text in (seg().replace("Flag=5;", "Flag=5;RF=1;"),
                 seg(cp="DataTime=20240501120000;w01018-Rtd=1,w01018-SampleTime=20240501115900")):
        assert _parse_fast(text) is None
        check(text)
    # plain CP fields besides DataTime, in any order, are on the fast path
    text = seg(cp="w01018-Rtd=1;DataTime=20240501120000;QnRtn=1")
    assert check(text) and _parse_fast(text).fields == {"DataTime": "20240501120000", "QnRtn": "1"}


def test_decoder_events_identical_with_fast_path(monkeypatch):
    """Whole packets through the Decoder: the same events with the fast path switched off."""
    from gongzhi.hj212 import messages

    stream = b"".join(frame(seg(qn=f"20240501120000{i:03d}")) for i in range(5)) + frame(seg(flag=9))
    fast = [e.message for e in Decoder().feed(stream) if isinstance(e, Packet)]
    monkeypatch.setattr(messages, "_parse_fast", lambda text: None)
    slow = [e.message for e in Decoder().feed(stream) if isinstance(e, Packet)]
    assert len(fast) == 6 and fast == slow
