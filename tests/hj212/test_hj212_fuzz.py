"""Fuzzing the decoder: random bytes and mutated packets never raise, memory stays bounded,
and good packets beside bad ones still get through."""

from __future__ import annotations

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from gongzhi.hj212 import Decoder, FramingError, Packet, build_realtime, parse_segment
from gongzhi.hj212.errors import ERROR_CODES
from hj212_samples import appendix_c_segments

CAP = 2048
SEGMENTS = appendix_c_segments()


def good(i: int) -> bytes:
    (data,) = build_realtime(
        mn="010000A8900016F000169DC0", pw="123456", st="32", qn=f"20240501120000{i:03d}",
        data_time="20240501120000", factors={"w01018": {"Rtd": i, "Flag": "N"}},
    )
    return data


GOOD = [good(i) for i in range(6)]


def run(data: bytes, cuts: list[int], mode: str) -> list:
    decoder = Decoder(mode, max_buffer=CAP)
    events = []
    last = 0
    for cut in sorted(c % (len(data) + 1) for c in cuts) + [len(data)]:
        events += decoder.feed(data[last:cut])
        assert decoder.buffered <= CAP
        last = cut
    events += decoder.close()
    assert decoder.buffered == 0
    for e in events:
        assert isinstance(e, (Packet, FramingError))
        if isinstance(e, FramingError):
            assert e.code in ERROR_CODES and e.detail
    return events


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.binary(max_size=3000), st.lists(st.integers(0, 5000), max_size=8), st.sampled_from(["tolerant", "strict"]))
def test_random_bytes(data, cuts, mode):
    run(data, cuts, mode)


# random bytes that look more like HJ 212 than uniform noise does
hj_alphabet = st.sampled_from([b"#", b"##", b"0", b"1", b"9", b"Q", b"=", b";", b",", b"&&", b"CP=&&",
                               b"\r", b"\n", b"\r\n", b"-", b"A", b"\xe6", b" ", b"\xff", b"{0x"])


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(hj_alphabet, max_size=400).map(b"".join), st.lists(st.integers(0, 5000), max_size=6),
       st.sampled_from(["tolerant", "strict"]))
def test_protocol_shaped_noise(data, cuts, mode):
    run(data, cuts, mode)


mutation = st.tuples(st.sampled_from(["flip", "insert", "delete", "replace"]), st.integers(0, 10**6),
                     st.binary(min_size=1, max_size=8))


def mutate(data: bytes, ops) -> bytes:
    buf = bytearray(data)
    for kind, at, blob in ops:
        at %= max(len(buf), 1)
        if kind == "flip" and buf:
            buf[at] ^= 1 << (blob[0] % 8)
        elif kind == "insert":
            buf[at:at] = blob
        elif kind == "delete":
            del buf[at : at + len(blob)]
        else:
            buf[at : at + len(blob)] = blob
    return bytes(buf)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.integers(0, len(GOOD) - 1), st.lists(mutation, min_size=1, max_size=4),
       st.lists(st.integers(0, 5000), max_size=6), st.sampled_from(["tolerant", "strict"]))
def test_good_packets_survive_a_mutated_neighbour(victim, ops, cuts, mode):
    parts = list(GOOD)
    parts[victim] = mutate(parts[victim], ops)
    events = run(b"".join(parts), cuts, mode)
    got = {e.message.qn for e in events if isinstance(e, Packet)}
    expected = {f"20240501120000{i:03d}" for i in range(len(GOOD)) if i != victim}
    assert expected <= got


@settings(max_examples=200, deadline=None)
@given(st.sampled_from(SEGMENTS), st.lists(mutation, min_size=1, max_size=3), st.sampled_from(["tolerant", "strict"]))
def test_mutated_segments_raise_only_codec_errors(segment, ops, mode):
    text = mutate(segment.encode(), ops).decode("utf-8", "replace")
    try:
        parse_segment(text, mode=mode)
    except Exception as exc:  # noqa: BLE001 - the point is which exceptions escape
        assert type(exc).__name__ == "Hj212Error", repr(exc)
        assert exc.code in ERROR_CODES
