"""CRC of HJ 212 packets (HJ 212-2017 Appendix A) and detection of CRC-16/MODBUS.

Appendix A's algorithm, over the UTF-8 bytes of the data segment::

    crc = 0xFFFF
    for each byte b:
        crc = (crc >> 8) ^ b
        repeat 8 times: lsb = crc & 1; crc >>= 1; if lsb: crc ^= 0xA001
    written as 4 hexadecimal digits, high byte first

This is *not* CRC-16/MODBUS: the register is shifted right by 8 before the
byte is mixed in, so the value entering the 8 shift steps is only 8 bits wide
(``(crc >> 8) ^ b`` < 256).  Two consequences used here:

* one table lookup per byte: ``crc = TABLE[(crc >> 8) ^ b]`` where TABLE is the
  CRC-16/ARC table (reflected polynomial 0xA001);
* the CRC takes only 256 distinct values (the table entries), so the state
  carried from one byte to the next is just the table index's high byte.
  That lets :func:`crc16_hj212` consume *two* bytes per lookup with a 64 KiB
  table of next states (:data:`_PAIR`), which roughly halves the time of the
  per-byte loop in CPython.

Random corruption passes this CRC with probability about 1/256, so the
decoder never relies on it alone: structure is validated too.

The worked example of Appendix A (its prose misprints the result as 1C08)::

    >>> crc16_hj212(b"QN=20160801085857223;ST=32;CN=1062;PW=100000;"
    ...             b"MN=010000A8900016F000169DC0;Flag=5;CP=&&RtdInterval=30&&")
    7296
    >>> crc_hex(7296)
    '1C80'

Many loggers use CRC-16/MODBUS instead (0759 for that example), written high
byte first (variant ``modbus``) or low byte first as MODBUS puts it on the
wire (variant ``modbus-le``: ``5907``).  :func:`identify_crc` tells which.
"""

from __future__ import annotations

import sys

__all__ = [
    "crc16_hj212",
    "crc16_hj212_bytewise",
    "crc16_hj212_bitwise",
    "crc16_modbus",
    "crc_hex",
    "parse_crc_hex",
    "crc_matches",
    "identify_crc",
    "CRC_VARIANTS",
    "TABLE",
]

#: CRC variants :func:`identify_crc` can report.
CRC_VARIANTS = ("hj212", "modbus", "modbus-le")

_POLY = 0xA001  # x^16 + x^15 + x^2 + 1, bit-reversed (Appendix A)


def _make_table() -> tuple[int, ...]:
    table = []
    for i in range(256):
        crc = i
        for _ in range(8):
            crc = (crc >> 1) ^ _POLY if crc & 1 else crc >> 1
        table.append(crc)
    return tuple(table)


#: TABLE[i] is the Appendix A register after the 8 shift steps applied to i
#: (the CRC-16/ARC table).  ``crc = TABLE[(crc >> 8) ^ b]`` processes one byte.
TABLE: tuple[int, ...] = _make_table()

# High byte of each entry: the 8-bit state carried into the next byte.
_HIGH = bytes(t >> 8 for t in TABLE)


def _make_pair_table() -> bytes:
    """Next-state table for two bytes per lookup.

    With ``s`` the carried 8-bit state and bytes ``b1, b2``:
    ``s' = HIGH[HIGH[s ^ b1] ^ b2]``.  Indexed by a 16-bit word holding
    ``s ^ b1`` and ``b2`` in the positions a native ``memoryview.cast('H')``
    puts the first and second byte, so the loop is ``s = PAIR[w ^ s]``.
    Built with ``bytes.translate`` (256 rows of 256) in well under a millisecond.
    """
    identity = bytes(range(256))
    rows = []
    for b2 in range(256):
        xor_b2 = bytes(i ^ b2 for i in identity)
        # row[x] = HIGH[HIGH[x] ^ b2] for x = s ^ b1
        rows.append(_HIGH.translate(xor_b2).translate(_HIGH))
    if sys.byteorder == "little":  # word = b1 | b2 << 8 -> index = row b2, column x
        return b"".join(rows)
    # big-endian: word = b1 << 8 | b2 -> index = x * 256 + b2
    return bytes(rows[b2][x] for x in range(256) for b2 in range(256))


_PAIR = _make_pair_table()
_WORD_SHIFT_OK = sys.byteorder == "little"


def crc16_hj212(data: bytes | bytearray | memoryview) -> int:
    """Appendix A CRC of ``data`` (the data segment's UTF-8 bytes), as an int.

    Two bytes per table lookup (see :data:`_PAIR`); equal to
    :func:`crc16_hj212_bytewise` and :func:`crc16_hj212_bitwise` for all input.
    The CRC of an empty segment is 0xFFFF.
    """
    n = len(data)
    if n == 0:
        return 0xFFFF
    mv = memoryview(data).cast("B")
    state = 0xFF  # high byte of the initial register 0xFFFF
    last = n - 1  # the final byte is done with the full 16-bit table
    head = 0
    if last & 1:  # odd number of bytes before the last one: do one singly
        state = _HIGH[state ^ mv[0]]
        head = 1
    if last - head:
        words = mv[head:last].cast("H")
        pair = _PAIR
        if _WORD_SHIFT_OK:
            for w in words:
                state = pair[w ^ state]
        else:  # pragma: no cover - big-endian hosts
            for w in words:
                state = pair[w ^ (state << 8)]
    return TABLE[state ^ mv[last]]


def crc16_hj212_bytewise(data: bytes | bytearray | memoryview) -> int:
    """Appendix A CRC, one table lookup per byte (the plain table-driven form)."""
    crc = 0xFFFF
    table = TABLE
    for b in bytes(data):
        crc = table[(crc >> 8) ^ b]
    return crc


def crc16_hj212_bitwise(data: bytes | bytearray | memoryview) -> int:
    """Appendix A CRC exactly as the standard writes it, bit by bit (reference)."""
    crc = 0xFFFF
    for b in bytes(data):
        crc = (crc >> 8) ^ b
        for _ in range(8):
            lsb = crc & 1
            crc >>= 1
            if lsb:
                crc ^= _POLY
    return crc


def crc16_modbus(data: bytes | bytearray | memoryview) -> int:
    """CRC-16/MODBUS (init 0xFFFF, reflected 0xA001), as an int.

    Not the HJ 212 CRC; used only to recognise loggers that send it.
    """
    crc = 0xFFFF
    table = TABLE
    for b in bytes(data):
        crc = (crc >> 8) ^ table[(crc ^ b) & 0xFF]
    return crc


def crc_hex(crc: int) -> str:
    """The 4-digit uppercase hex form written in a packet (high byte first, zero-padded)."""
    return f"{crc:04X}"


_HEX_DIGITS = b"0123456789ABCDEFabcdef"


def parse_crc_hex(field: bytes | str) -> int | None:
    """The value of a 4-hex-digit CRC field, case-insensitive; ``None`` if not 4 hex digits.

    ``int(x, 16)`` alone would also accept signs, spaces and underscores.
    """
    if isinstance(field, str):
        try:
            field = field.encode("ascii")
        except UnicodeEncodeError:
            return None
    if len(field) != 4 or bytes(field).translate(None, _HEX_DIGITS):
        return None
    return int(field, 16)


def crc_matches(data: bytes, field: bytes | str) -> bool:
    """True if ``field`` is the Appendix A CRC of ``data`` (hex compared case-insensitively)."""
    value = parse_crc_hex(field)
    return value is not None and value == crc16_hj212(data)


def identify_crc(data: bytes, field: bytes | str) -> str | None:
    """Which CRC the sender used: ``"hj212"``, ``"modbus"``, ``"modbus-le"`` or ``None``.

    ``modbus`` is CRC-16/MODBUS written high byte first (as Appendix A writes
    its CRC); ``modbus-le`` is the same value low byte first.  Case-insensitive.
    """
    value = parse_crc_hex(field)
    if value is None:
        return None
    if value == crc16_hj212(data):
        return "hj212"
    m = crc16_modbus(data)
    if value == m:
        return "modbus"
    if value == ((m & 0xFF) << 8 | m >> 8):
        return "modbus-le"
    return None
