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
    "crc16_hj212_pairs",
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


# --- the CRC without a per-byte loop ----------------------------------------------------------
#
# The carried state evolves as s' = H(s ^ b) with H(x) = TABLE[x] >> 8.  H is GF(2)-linear (a
# CRC table is: TABLE[a ^ b] = TABLE[a] ^ TABLE[b]) and invertible, and H^8 is the identity
# (checked at import below).  Unrolling, the state after m bytes b_0..b_{m-1} is
#
#     s_m = H^m(s_0)  ^  XOR_j H^(m-j)(b_j)
#
# and H^(m-j) depends only on (m - j) mod 8.  Linearity lets the bytes sharing a power be XORed
# together first: left-pad the bytes with zeros to a multiple of 8 (zeros add nothing), XOR all
# 8-byte words together (a few big-integer folds, in C), and apply each power once to one byte
# of the folded word.  Eight table lookups instead of one per byte pair; the last byte then goes
# through the full 16-bit table as before.  Exactly equal to the per-byte loop for all input
# (tests/hj212/test_hj212_crc.py).


def _powers() -> list[bytes]:
    """_POW[e][x] = H^e(x) for e = 0..7 (H^0 the identity)."""
    out = [bytes(range(256))]
    for _ in range(7):
        out.append(out[-1].translate(_HIGH))  # H applied after the previous power
    return out


_POW = _powers()
assert bytes(range(256)).translate(_HIGH).translate(_POW[7]) == bytes(range(256))  # H^8 = identity
#: the state after m bytes of zeros from the initial 0xFF: H^(m mod 8)(0xFF)
_START = [p[0xFF] for p in _POW]
#: for the folded word's byte i (position i mod 8 of the padded input), the power applied: H^((8 - i) mod 8)
_FOLD_POW = [_POW[(8 - i) % 8] for i in range(8)]


def crc16_hj212(data: bytes | bytearray | memoryview) -> int:
    """Appendix A CRC of ``data`` (the data segment's UTF-8 bytes), as an int.

    Computed without a per-byte loop (see above); equal to :func:`crc16_hj212_pairs`,
    :func:`crc16_hj212_bytewise` and :func:`crc16_hj212_bitwise` for all input.
    The CRC of an empty segment is 0xFFFF.
    """
    n = len(data)
    if n == 0:
        return 0xFFFF
    mv = memoryview(data).cast("B")
    m = n - 1  # bytes through the 8-bit state; the last one uses the full table
    if m == 0:
        return TABLE[0xFF ^ mv[0]]
    pad = -m % 8
    x = int.from_bytes(bytes(pad) + mv[:m] if pad else mv[:m], "little")
    words = (m + pad) >> 3
    while words > 1:  # fold the upper half of the 8-byte words onto the lower half
        keep = (words + 1) >> 1
        bits = keep << 6
        x = (x & ((1 << bits) - 1)) ^ (x >> bits)
        words = keep
    f = _FOLD_POW
    state = (_START[m & 7] ^ f[0][x & 0xFF] ^ f[1][(x >> 8) & 0xFF] ^ f[2][(x >> 16) & 0xFF]
             ^ f[3][(x >> 24) & 0xFF] ^ f[4][(x >> 32) & 0xFF] ^ f[5][(x >> 40) & 0xFF]
             ^ f[6][(x >> 48) & 0xFF] ^ f[7][x >> 56])
    return TABLE[state ^ mv[m]]


def crc16_hj212_pairs(data: bytes | bytearray | memoryview) -> int:
    """Appendix A CRC, two bytes per table lookup (see :data:`_PAIR`): the previous
    implementation, kept as a reference and as the benchmark's middle baseline."""
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
