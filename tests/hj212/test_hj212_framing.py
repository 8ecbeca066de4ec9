"""Framing (§6.3.1): chunking, resynchronisation, buffer cap, length and CRC errors."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from gongzhi.hj212 import (
    Decoder,
    FramingError,
    Hj212Error,
    Packet,
    decode_packet,
    frame,
    parse_packet,
)
from hj212_samples import CRC_EXAMPLE, decode, packet, seg

P1 = packet(qn="20240501120000001")
P2 = packet(qn="20240501120000002", cp="DataTime=20240501120000;i11001-Info=//清洗管路//", cn="3020")
P3 = packet(qn="20240501120000003", cn="9014", st="91", flag=4, cp="")
STREAM = P1 + P2 + P3


def qns(events):
    return [e.message.qn for e in events if isinstance(e, Packet)]


def test_example_packet():
    data = frame(CRC_EXAMPLE)
    assert data == b"##0101" + CRC_EXAMPLE.encode() + b"1C80\r\n"
    p = parse_packet(data, mode="strict")
    assert p.crc_variant == "hj212" and p.message.fields == {"RtdInterval": "30"}
    assert p.message.ack_requested and p.offset == 0 and p.raw == data


def test_several_packets_in_one_read():
    events = Decoder().feed(STREAM)
    assert qns(events) == ["20240501120000001", "20240501120000002", "20240501120000003"]
    assert [e.offset for e in events] == [0, len(P1), len(P1) + len(P2)]


def test_every_single_split_point():
    expected = [e.to_dict() for e in decode(STREAM)]
    for cut in range(1, len(STREAM)):
        assert [e.to_dict() for e in decode(STREAM, chunks=[cut])] == expected, cut


def test_byte_by_byte():
    decoder = Decoder()
    events = []
    for i in range(len(STREAM)):
        events += decoder.feed(STREAM[i : i + 1])
        assert decoder.buffered < max(len(P1), len(P2), len(P3))
    assert len(qns(events)) == 3 and decoder.close() == []


@settings(max_examples=150, deadline=None)
@given(st.lists(st.integers(min_value=0, max_value=len(STREAM) * 2), max_size=12), st.sampled_from(["tolerant", "strict"]))
def test_random_chunkings_give_the_same_events(cuts, mode):
    noisy = b"xx" + P1 + b"garbage\r\n" + P2 + b"##12" + P3 + b"##0101QN=cut"
    cuts = [c % (len(noisy) + 1) for c in cuts]
    expected = [e.to_dict() for e in decode(noisy, mode=mode)]
    assert [e.to_dict() for e in decode(noisy, mode=mode, chunks=cuts)] == expected
    assert qns(decode(noisy, mode=mode, chunks=cuts)) == qns(decode(STREAM))


def test_garbage_between_packets_is_reported_once_and_skipped():
    events = decode(b"hello" + P1 + b"\x00\xffjunk" + P2 + b"tail")
    kinds = [(e.code if isinstance(e, FramingError) else "packet") for e in events]
    assert kinds == ["garbage", "packet", "garbage", "packet", "garbage"]
    assert [e.size for e in events if not e.ok] == [5, 6, 4]
    assert events[0].offset == 0 and events[2].offset == 5 + len(P1)


def test_blank_lines_between_packets_are_not_errors():
    events = decode(b"\r\n" + P1 + b"\r\n\r\n" + P2 + b"\n")
    assert all(isinstance(e, Packet) for e in events) and len(events) == 2


def test_bad_header_resynchronises():
    events = decode(b"##ABCD" + P1)
    assert [type(e).__name__ for e in events] == ["FramingError", "Packet"]
    assert events[0].code == "bad_header"


def test_extra_hash_before_a_packet():
    events = decode(b"#" + P1)
    assert isinstance(events[-1], Packet) and events[-1].message.qn == "20240501120000001"


def test_packet_cut_short_by_the_next_one():
    events = decode(P1[:100] + P2)  # cut after MN
    assert [getattr(e, "code", "packet") for e in events] == ["truncated", "packet"]
    assert events[0].partial is not None and events[0].partial.qn == "20240501120000001"


def test_stream_ending_mid_packet():
    decoder = Decoder()
    assert decoder.feed(P1 + P2[:40]) and decoder.buffered == 40
    (event,) = decoder.close()
    assert event.code == "truncated" and event.offset == len(P1)
    assert decoder.buffered == 0


def test_stream_ending_mid_header():
    events = decode(P1 + b"##01")
    assert events[-1].code == "truncated"


def test_buffer_cap():
    decoder = Decoder(max_buffer=4096)
    events = decoder.feed(b"##0101" + b"A" * 10000)
    assert [e.code for e in events] == ["buffer_overflow"]
    assert decoder.buffered <= 4096
    assert qns(decoder.feed(P1)) == ["20240501120000001"]


def test_garbage_never_accumulates():
    decoder = Decoder(max_buffer=1024)
    events = []
    for _ in range(100):
        events += decoder.feed(b"abcdefgh" * 128)
        assert decoder.buffered <= 1
    events += decoder.close()
    assert all(e.code == "garbage" for e in events)
    assert sum(e.size for e in events) == 100 * 1024
    assert len(events) <= 101


def test_a_huge_single_read_is_processed_in_bounded_slices():
    decoder = Decoder(max_buffer=4096)
    events = decoder.feed((P1 + b"x" * 5000) * 20)
    assert decoder.buffered <= 4096
    assert len(qns(events)) == 20


def test_wrong_length_field():
    body = seg()
    for mode in ("tolerant", "strict"):
        (event,) = decode(frame(body, length=len(body) + 3), mode=mode)
        assert event.code == "bad_length" and event.deviation is None
        assert "says" in event.detail and event.partial.qn == "20240501120000001"


def test_length_field_counting_characters_in_strict_mode():
    body = seg(cn="3020", cp="i11001-Info=//清洗管路//")
    (event,) = decode(frame(body, length=len(body)), mode="strict")
    assert event.code == "bad_length" and event.deviation == "length_chars"


def test_bad_crc_gives_a_partial_message_for_the_reply():
    data = bytearray(P1)
    data[-6:-2] = b"0000" if data[-6:-2] != b"0000" else b"0001"
    (event,) = decode(bytes(data))
    assert event.code == "bad_crc" and event.crc_variant is None
    assert event.partial.qn == "20240501120000001" and event.partial.mn == "010000A8900016F000169DC0"


def test_non_hex_crc():
    data = P1[:-6] + b"1G80\r\n"
    (event,) = decode(data)
    assert event.code == "bad_crc" and "hexadecimal" in event.detail


def test_crc_with_cr_missing_but_no_lf_tolerance_in_strict():
    (event,) = decode(frame(seg(), tail=b"\n"), mode="strict")
    assert event.code == "bad_tail" and event.deviation == "lf_tail"


def test_invalid_utf8_that_is_not_gb18030():
    (event,) = decode(frame(seg().encode() [:-2] + b"\x81\x20&&"))
    assert event.code == "bad_encoding"


def test_decode_packet_and_parse_packet():
    assert isinstance(decode_packet(P1), Packet)
    assert decode_packet(P1 + P2).code == "garbage"
    assert decode_packet(b"").code == "truncated"
    with pytest.raises(Hj212Error) as info:
        parse_packet(P1[:-3] + b"\r\n")
    assert info.value.code in ("bad_crc", "bad_length")


def test_modes_are_checked():
    with pytest.raises(ValueError):
        Decoder("lenient")
    with pytest.raises(ValueError):
        Decoder(max_buffer=10)


def test_event_dicts_have_the_documented_keys():
    keys = {"ok", "error", "crc_variant", "version", "qn", "st", "cn", "mn", "flag", "deviations", "data"}
    good, bad = decode(P1 + b"junk")
    assert keys <= set(good.to_dict()) and keys <= set(bad.to_dict())
    assert good.to_dict()["error"] is None and bad.to_dict()["error"]["code"] == "garbage"
    assert set(good.to_dict()["data"][0]) >= {"code", "suffix", "value", "flag", "time"}


def test_hashes_inside_a_segment_do_not_cut_the_packet():
    body = seg(cn="3020", cp="DataTime=20240501120000;i11001-Info=//##ok##//")
    events = decode(frame(body) + P1)
    assert [e.ok for e in events] == [True, True]
    assert events[0].message.records[0].value == "//##ok##//"


def test_events_iterates_a_chunked_stream_and_closes():
    chunks = [STREAM[i : i + 97] for i in range(0, len(STREAM), 97)] + [b"##0101QN"]
    events = list(Decoder().events(chunks))
    assert qns(events) == qns(decode(STREAM)) and events[-1].code == "truncated"
