"""CRC of HJ 212-2017 Appendix A, and recognition of CRC-16/MODBUS."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from gongzhi.hj212 import (
    Decoder,
    Packet,
    crc16_hj212,
    crc16_hj212_bitwise,
    crc16_hj212_pairs,
    crc16_hj212_bytewise,
    crc16_modbus,
    crc_hex,
    crc_matches,
    frame,
    identify_crc,
    parse_crc_hex,
)
from gongzhi.hj212.crc import TABLE
from hj212_samples import CRC_EXAMPLE

EXAMPLE = CRC_EXAMPLE.encode("ascii")


def test_appendix_a_worked_example_is_1c80():
    # Appendix A: the 101-byte example gives 1C80 (the prose misprints it as 1C08).
    assert len(EXAMPLE) == 101
    assert crc_hex(crc16_hj212(EXAMPLE)) == "1C80"
    assert crc_hex(crc16_hj212_bytewise(EXAMPLE)) == "1C80"
    assert crc_hex(crc16_hj212_bitwise(EXAMPLE)) == "1C80"


def test_modbus_of_the_example_is_0759():
    assert crc_hex(crc16_modbus(EXAMPLE)) == "0759"
    assert identify_crc(EXAMPLE, "0759") == "modbus"
    assert identify_crc(EXAMPLE, "5907") == "modbus-le"
    assert identify_crc(EXAMPLE, "1C80") == "hj212"
    assert identify_crc(EXAMPLE, "1C08") is None  # the misprint is not a valid CRC


def test_crc_table_is_the_crc16_arc_table():
    # Spot values of the reflected 0xA001 table (CRC-16/ARC).
    assert TABLE[0] == 0x0000 and TABLE[1] == 0xC0C1 and TABLE[2] == 0xC181
    assert TABLE[0x80] == 0xA001 and TABLE[0xFF] == 0x4040


@settings(deadline=None, max_examples=400)
@given(st.binary(max_size=2100))
def test_all_implementations_agree(data):
    """The folded CRC (no per-byte loop), the two-bytes-per-lookup loop, the table loop and
    Appendix A's bit loop give the same value for any input."""
    assert crc16_hj212(data) == crc16_hj212_pairs(data) == crc16_hj212_bytewise(data) == crc16_hj212_bitwise(data)


@pytest.mark.parametrize("n", [*range(0, 41), 63, 64, 65, 127, 128, 129, 1023, 1024, 1025, 10011])
def test_folded_crc_at_every_length_around_word_boundaries(n):
    """Lengths around multiples of 8 (the fold's word size) and of its halvings, bytes of all values."""
    for data in (bytes(range(256)) * (n // 256 + 1), bytes([0xFF]) * n, bytes(n), bytes((i * 37 + 11) & 0xFF for i in range(n))):
        data = data[:n]
        assert crc16_hj212(data) == crc16_hj212_bytewise(data)


def test_the_state_map_has_period_eight():
    """What the folded CRC relies on: H(x) = TABLE[x] >> 8 is linear and H^8 is the identity."""
    h = [t >> 8 for t in TABLE]
    assert all(h[a ^ b] == h[a] ^ h[b] for a in range(256) for b in (1, 2, 4, 8, 16, 32, 64, 128))
    for x in range(256):
        y = x
        for _ in range(8):
            y = h[y]
        assert y == x
    assert any(h[h[h[h[x]]]] != x for x in range(256))  # and not a shorter period that divides 8


@settings(deadline=None)
@given(st.binary(min_size=1, max_size=200))
def test_crc_takes_only_256_values(data):
    # The state entering each byte is 8 bits wide, so the CRC is a table entry
    # and its low byte is one of 00 01 40 41 80 81 C0 C1 (hj212.md).
    value = crc16_hj212(data)
    assert value in set(TABLE)
    assert value & 0xFF in {0x00, 0x01, 0x40, 0x41, 0x80, 0x81, 0xC0, 0xC1}


def test_empty_input():
    assert crc16_hj212(b"") == crc16_hj212_bitwise(b"") == 0xFFFF


def test_memoryview_and_bytearray_inputs():
    assert crc16_hj212(bytearray(EXAMPLE)) == crc16_hj212(memoryview(EXAMPLE)) == 0x1C80


def test_hex_parsing_is_case_insensitive_and_strict_about_form():
    assert parse_crc_hex("1c80") == parse_crc_hex(b"1C80") == 0x1C80
    assert crc_matches(EXAMPLE, "1c80") and crc_matches(EXAMPLE, b"1C80")
    for bad in ("1C8", "1C800", "+C80", " C80", "1_80", "0x1C", "1C8G", "１C80"):
        assert parse_crc_hex(bad) is None, bad
    assert not crc_matches(EXAMPLE, "1C81")


def test_crc_is_zero_padded():
    # Some implementations drop leading zeros; the field is always 4 digits.
    assert crc_hex(0x0759) == "0759" and crc_hex(0) == "0000"


def _segment_with_crc_zero() -> str:
    # The CRC of the segment is TABLE[idx] of the last byte; TABLE[idx] == 0 only
    # for idx == 0, so search a value that drives the state there.
    for n in range(100000):
        segment = f"QN=20240501120000001;ST=32;CN=1062;PW=123456;MN=010000A8900016F000169DC0;Flag=5;CP=&&RtdInterval={n}&&"
        if crc16_hj212(segment.encode()) == 0:
            return segment
    raise AssertionError("no segment with CRC 0000 found")  # pragma: no cover


@pytest.mark.parametrize("mode", ["tolerant", "strict"])
def test_crc_0000_is_a_legal_value(mode):
    segment = _segment_with_crc_zero()
    data = frame(segment)
    assert data.endswith(b"0000\r\n")
    events = Decoder(mode).feed(data)
    assert len(events) == 1 and isinstance(events[0], Packet), events
    assert events[0].crc_variant == "hj212"


def test_crc_is_over_utf8_bytes():
    text = "QN=1;ST=32;CN=3020;MN=X;CP=&&i11001-Info=//清洗管路//&&"
    utf8 = crc16_hj212(text.encode("utf-8"))
    assert utf8 != crc16_hj212(text.encode("gbk"))
    assert utf8 != crc16_hj212(text.encode("utf-16-le"))
