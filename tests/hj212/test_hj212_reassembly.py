"""Sub-packet reassembly (§6.3.2 PNUM/PNO): order, duplicates, timeouts (explicit ``now``)."""

from __future__ import annotations

import itertools

import pytest

from gongzhi.hj212 import Hj212Error, Message, Reassembler, merge_parts, parse_segment
from hj212_samples import seg


def part(pno: int, pnum: int = 3, *, data_time: str = "20240501120000", mn: str = "010000A8900016F000169DC0") -> Message:
    code = f"w0{pno:04d}"
    return parse_segment(seg(
        mn=mn, flag=7, pnum=pnum, pno=pno, qn=f"2024050112000000{pno}",
        cp=f"DataTime={data_time};{code}-Rtd={pno}.5,{code}-Flag=N",
    ))


@pytest.mark.parametrize("order", list(itertools.permutations([1, 2, 3])))
def test_any_order(order):
    r = Reassembler()
    results = [r.add(part(n), now=float(i)) for i, n in enumerate(order)]
    assert results[:2] == [None, None]
    whole = results[2]
    assert [x.code for x in whole.records] == ["w00001", "w00002", "w00003"]
    assert whole.part_qns == ("20240501120000001", "20240501120000002", "20240501120000003")
    assert whole.qn == "20240501120000001" and whole.flag == 5 and whole.pnum is None
    assert r.pending == 0


def test_a_message_that_is_not_split_passes_through():
    r = Reassembler()
    m = parse_segment(seg())
    assert r.add(m, now=0) is m and r.pending == 0


def test_single_part_message():
    whole = Reassembler().add(part(1, pnum=1), now=0)
    assert whole is not None and whole.pnum is None


def test_interleaved_messages_of_two_loggers_and_two_periods():
    r = Reassembler()
    done = []
    parts = [part(n, 2, mn=mn, data_time=t) for n in (1, 2) for mn in ("A" * 24, "B" * 24)
             for t in ("20240501120000", "20240501130000")]
    for i, p in enumerate(parts):
        out = r.add(p, now=i)
        if out is not None:
            done.append((out.mn, out.data_time.hour))
    assert sorted(done) == [("A" * 24, 12), ("A" * 24, 13), ("B" * 24, 12), ("B" * 24, 13)]


def test_retransmitted_part_replaces_the_first_copy():
    r = Reassembler()
    r.add(part(1, 2), now=0)
    r.add(part(1, 2), now=1)
    assert r.pending == 1
    assert len(r.add(part(2, 2), now=2).records) == 2


def test_timeout_uses_the_callers_clock():
    r = Reassembler(timeout=10)
    r.add(part(1), now=100.0)
    r.add(part(3), now=105.0)
    assert r.expire(now=109.9) == []
    (gone,) = r.expire(now=110.0)
    assert gone.missing == [2] and sorted(gone.parts) == [1, 3] and gone.reason == "reassembly_timeout"
    assert r.pending == 0
    # a late part starts a new group instead of completing the expired one
    assert r.add(part(2), now=111) is None and r.pending == 1


def test_pending_groups_are_bounded():
    r = Reassembler(max_pending=2)
    for i in range(3):
        r.add(part(1, mn=str(i) * 24), now=i)
    assert r.pending == 2
    (evicted,) = r.expire(now=3)
    assert evicted.reason == "evicted" and evicted.parts[1].mn == "0" * 24


def test_bad_part_number():
    m = part(1)
    m.pno = 4
    with pytest.raises(Hj212Error) as info:
        Reassembler().add(m, now=0)
    assert info.value.code == "bad_subpacket"


def test_merge_keeps_deviations_of_all_parts():
    a = parse_segment(seg(flag=7, pnum=2, pno=1, cp="DataTime=20240501120000; w01018-Rtd=1"))
    b = parse_segment(seg(flag=7, pnum="02", pno=2, cp="DataTime=20240501120000;w21003-Rtd=2"))
    m = merge_parts([b, a])
    assert m.deviations == ["stray_space", "zero_padded_number"]
    assert m.fields == {"DataTime": "20240501120000"}


def test_invalid_settings():
    with pytest.raises(ValueError):
        Reassembler(timeout=0)
    with pytest.raises(ValueError):
        merge_parts([])
