"""Sans-I/O framing of HJ 212 byte streams (HJ 212-2017 §6.3.1, Appendix A).

A packet is::

    ## | 4-digit decimal length of the data segment | data segment | 4 hex CRC | CR LF

:class:`Decoder` turns bytes, fed in any chunking (one packet split across TCP
reads, several packets in one read, garbage between them), into events:

* :class:`Packet` — a packet that framed, passed the CRC and parsed;
* :class:`FramingError` — anything else, with a short ``code`` (see
  :data:`gongzhi.hj212.errors.ERROR_CODES`) and a precise ``detail``.

No sockets, no clocks, no threads: the caller owns I/O (like h11).  Memory is
bounded: bytes that do not complete a packet within ``max_buffer`` are
reported (``buffer_overflow``) and discarded.

Resynchronisation: after garbage or a broken packet the decoder restarts at the
next ``##``.  A packet ends at the first LF after its header (a data segment
never contains CR or LF); if another packet start (``##`` and four digits)
comes first, the packet was cut short.  The length field is then checked against the segment: UTF-8 bytes
(the standard's "ASCII characters"), or in tolerant mode also the character
count, recorded as ``length_chars``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Iterable, Iterator, Union

from .crc import crc16_hj212, crc16_modbus, crc_hex, parse_crc_hex
from .errors import Hj212Error, check_mode
from .messages import DecryptHook, Message, decrypt_segment, is_encrypted_segment, parse_segment

__all__ = [
    "Packet",
    "FramingError",
    "Event",
    "Decoder",
    "Framer",
    "parse_packet",
    "decode_packet",
    "DEFAULT_MAX_BUFFER",
    "MAX_SEGMENT",
]

#: Default per-connection buffer cap (bytes).  The longest packet a 4-digit
#: length can announce is 10 011 bytes; 64 KiB leaves room for length fields
#: counting characters (a CJK character is 3 UTF-8 bytes).
DEFAULT_MAX_BUFFER = 64 * 1024

#: Longest data segment allowed by §6.3.1 (bytes).
MAX_SEGMENT = 1024

_WS = b" \t\r\n\x00"
_PREVIEW = 64


@dataclass(slots=True)
class Packet:
    """A framed packet whose CRC checked and whose data segment parsed.

    ``crc_variant`` is ``"hj212"`` (Appendix A) or, in tolerant mode,
    ``"modbus"`` / ``"modbus-le"``.  ``length_mode`` says what the length
    field counted: ``"bytes"`` (standard) or ``"chars"`` (tolerant).
    ``offset`` is the stream position of the ``##``.
    """

    message: Message
    raw: bytes
    segment: str
    crc_variant: str
    length_mode: str
    offset: int

    ok = True  # class constant, not a field
    error = None

    @property
    def deviations(self) -> list[str]:
        return self.message.deviations

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {"ok": True, "error": None, "crc_variant": self.crc_variant}
        out.update(self.message.to_dict())
        out["length_mode"] = self.length_mode
        out["offset"] = self.offset
        return out


@dataclass(slots=True)
class FramingError:
    """Bytes that did not yield a usable message, and why.

    ``code`` is a key of :data:`~gongzhi.hj212.errors.ERROR_CODES`; ``detail``
    says precisely what was seen.  ``raw`` is the packet's bytes (for garbage,
    at most the first 64 bytes; ``size`` is the full count).  ``partial`` is a
    best-effort tolerant parse of the segment when one was possible (a gateway
    can use its QN/MN to reply, e.g. QnRtn=9 for a CRC error).  ``deviation``
    names the deviation strict mode rejected, if that is the reason.
    """

    code: str
    detail: str
    raw: bytes
    offset: int
    size: int
    crc_variant: str | None = None
    partial: Message | None = None
    deviation: str | None = None

    ok = False

    @property
    def error(self) -> dict[str, Any]:
        out: dict[str, Any] = {"code": self.code, "message": self.detail}
        if self.deviation:
            out["deviation"] = self.deviation
        return out

    @property
    def deviations(self) -> list[str]:
        return self.partial.deviations if self.partial is not None else []

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {"ok": False, "error": self.error, "crc_variant": self.crc_variant}
        if self.partial is not None:
            out.update(self.partial.to_dict())
        else:
            out.update(_EMPTY_MESSAGE)
            out["deviations"] = []
            out["data"] = []
        out["offset"] = self.offset
        out["size"] = self.size
        return out


Event = Union[Packet, FramingError]

# The keys of Message.to_dict(), all empty: error events without a partial parse.
_EMPTY_MESSAGE: dict[str, Any] = {
    "version": None, "qn": None, "st": None, "cn": None, "mn": None, "flag": None,
    "pnum": None, "pno": None, "rf": None, "data_time": None, "fields": {}, "extra": {},
    "encrypted": False, "part_qns": [], "deviations": [], "data": [],
}


class Decoder:
    """Incremental HJ 212 decoder: ``feed(bytes) -> [events]``, ``close() -> [events]``
    (or ``events(chunks)`` to iterate over a whole stream).

    One instance per connection.  ``mode`` is ``"tolerant"`` (default: accept
    every deviation listed in ``docs/hj212.md`` and record it) or
    ``"strict"``.  ``max_buffer`` caps the bytes held while waiting for the end
    of a packet.  ``version_hint`` and ``decrypt`` are passed to
    :func:`~gongzhi.hj212.messages.parse_segment`.
    """

    __slots__ = (
        "mode", "max_buffer", "version_hint", "decrypt",
        "_buf", "_offset", "_g_size", "_g_start", "_g_code", "_g_preview", "_g_ws",
    )

    def __init__(
        self,
        mode: str = "tolerant",
        *,
        max_buffer: int = DEFAULT_MAX_BUFFER,
        version_hint: str | None = None,
        decrypt: DecryptHook | None = None,
    ) -> None:
        self.mode = check_mode(mode)
        if version_hint not in (None, "2005", "2017", "2025"):
            raise ValueError(f"unknown version_hint {version_hint!r}")
        if max_buffer < 64:
            raise ValueError("max_buffer must be at least 64 bytes")
        self.max_buffer = max_buffer
        self.version_hint = version_hint
        self.decrypt = decrypt
        self._buf = bytearray()
        self._offset = 0  # stream offset of _buf[0]
        self._g_size = 0  # pending run of skipped bytes
        self._g_start = 0
        self._g_code = "garbage"
        self._g_preview = b""
        self._g_ws = True

    @property
    def buffered(self) -> int:
        """Bytes held, waiting for the rest of a packet (never above ``max_buffer``)."""
        return len(self._buf)

    def feed(self, data: bytes | bytearray | memoryview) -> list[Event]:
        """Add received bytes; return the events they complete (maybe none)."""
        out: list[Event] = []
        cap = self.max_buffer
        if len(data) <= cap:
            self._buf += data
            self._drain(out)
        else:  # keep the buffer bounded even for a huge single read
            mv = memoryview(data)
            for start in range(0, len(mv), cap):
                self._buf += mv[start : start + cap]
                self._drain(out)
        return out

    def events(self, chunks: Iterable[bytes]) -> Iterator[Event]:
        """Feed every chunk of ``chunks`` in turn, yielding events as they complete, then close.

        For streams the caller already holds as an iterable, e.g.
        ``decoder.events(iter(lambda: f.read(65536), b""))``.
        """
        for chunk in chunks:
            yield from self.feed(chunk)
        yield from self.close()

    def close(self) -> list[Event]:
        """End of stream: report what is left in the buffer and reset."""
        out: list[Event] = []
        buf = self._buf
        if buf:
            if buf.startswith(b"##") and len(buf) >= 6 and buf[2:6].isdigit():
                out.append(self._cut(bytes(buf), int(buf[2:6]), self._offset, "the stream ended"))
            elif buf.startswith(b"##"):
                out.append(FramingError("truncated", f"the stream ended {len(buf)} bytes into a packet header",
                                        bytes(buf), self._offset, len(buf)))
            else:
                self._skip(buf, 0, len(buf), "garbage", out)
            self._offset += len(buf)
            buf.clear()
        if self._g_size:
            self._flush_garbage(out)
        return out

    # -- internals ------------------------------------------------------------

    def _drain(self, out: list[Event]) -> None:
        buf = self._buf
        n = len(buf)
        pos = 0
        while pos < n:
            if not buf.startswith(b"##", pos):
                k = buf.find(b"##", pos)
                if k < 0:
                    end = n - 1 if buf[n - 1] == 0x23 else n  # a lone '#' may start '##'
                    if end > pos:
                        self._skip(buf, pos, end, "garbage", out)
                    pos = end
                    break
                self._skip(buf, pos, k, "garbage", out)
                pos = k
            if n - pos < 6:
                break
            if not buf[pos + 2 : pos + 6].isdigit():
                self._skip(buf, pos, pos + 1, "bad_header", out)
                pos += 1
                continue
            if self._g_size:
                self._flush_garbage(out)
            length = int(buf[pos + 2 : pos + 6])
            j = buf.find(b"\n", pos + 6)
            k = _next_start(buf, pos + 6, j if j >= 0 else n)
            if k >= 0:  # a new packet starts before this one ended
                out.append(self._cut(bytes(buf[pos:k]), length, self._offset + pos, "a new '##' began"))
                pos = k
                continue
            if j < 0:
                if n - pos > self.max_buffer:
                    out.append(FramingError(
                        "buffer_overflow",
                        f"{n - pos} bytes after '##' without a packet end (cap {self.max_buffer}); discarded",
                        bytes(buf[pos : pos + _PREVIEW]), self._offset + pos, n - pos,
                    ))
                    pos = n
                break
            out.append(self._packet(bytes(buf[pos : j + 1]), length, self._offset + pos))
            pos = j + 1
        if pos:
            del buf[:pos]
            self._offset += pos

    def _skip(self, buf: bytearray, start: int, end: int, code: str, out: list[Event]) -> None:
        if not self._g_size:
            self._g_start = self._offset + start
            self._g_code = code
            self._g_preview = b""
            self._g_ws = True
        if len(self._g_preview) < _PREVIEW:
            self._g_preview += bytes(buf[start : min(end, start + _PREVIEW - len(self._g_preview))])
        if self._g_ws and buf[start:end].strip(_WS):
            self._g_ws = False
        if code != "garbage" and self._g_code == "garbage" and not self._g_ws:
            self._g_code = code
        self._g_size += end - start
        if self._g_size >= self.max_buffer:
            self._flush_garbage(out)

    def _flush_garbage(self, out: list[Event]) -> None:
        size, code = self._g_size, self._g_code
        self._g_size = 0
        if self._g_ws and code == "garbage":
            return  # blank lines / keep-alive whitespace between packets are not reported
        if code == "bad_header":
            detail = f"'##' not followed by 4 decimal digits ({self._g_preview[:8]!r}); {size} byte(s) skipped"
        else:
            detail = f"{size} byte(s) outside any packet skipped ({self._g_preview[:16]!r}...)"
        out.append(FramingError(code, detail, self._g_preview, self._g_start, size))

    def _cut(self, raw: bytes, length: int, offset: int, why: str) -> Event:
        """A packet with no LF before ``why`` (next '##' or end of stream)."""
        if len(raw) >= 10 and parse_crc_hex(raw[-4:]) is not None:
            event = self._packet(raw, length, offset, tail=False)
            if isinstance(event, Packet) or event.code not in ("bad_length", "bad_crc"):
                return event
        return FramingError(
            "truncated",
            f"{why} {len(raw)} bytes into a packet announcing a {length}-byte segment",
            raw, offset, len(raw), partial=self._partial(raw[6:]),
        )

    def _packet(self, raw: bytes, length: int, offset: int, tail: bool = True) -> Event:
        devs: dict[str, str] = {}
        if not tail:
            end = len(raw)
            devs["missing_tail"] = "no CR LF after the CRC"
        elif raw[-2:] == b"\r\n":
            end = len(raw) - 2
        else:
            end = len(raw) - 1
            devs["lf_tail"] = "LF without CR after the CRC"
        crc_start = end - 4
        if crc_start < 6:
            return FramingError("truncated", "packet too short to hold a CRC", raw, offset, len(raw))
        if parse_crc_hex(raw[crc_start:end]) is None:
            # CRC written without zero padding ('759' for 0759) after the closing '&&'
            amp = raw.rfind(b"&&", 6, end)
            if amp >= 0 and 1 <= end - amp - 2 <= 3 and parse_crc_hex(raw[amp + 2 : end].rjust(4, b"0")) is not None:
                crc_start = amp + 2
                devs["crc_unpadded"] = f"CRC {raw[crc_start:end].decode()} has {end - crc_start} digits"
        seg = raw[6:crc_start]
        crc_field = raw[crc_start:end]
        nb = len(seg)
        text: str | None = None
        length_mode = "bytes"
        if nb != length:
            try:
                text = seg.decode("utf-8")
            except UnicodeDecodeError:
                text = None
            if self.mode == "tolerant" and text is not None and len(text) == length:
                devs["length_chars"] = f"length {length} = characters; the segment has {nb} UTF-8 bytes"
                length_mode = "chars"
            else:
                chars = f" ({len(text)} characters)" if text is not None else ""
                as_chars = text is not None and len(text) == length
                return FramingError(
                    "bad_length", f"length field says {length}, the segment has {nb} bytes{chars}",
                    raw, offset, len(raw), partial=self._partial(seg),
                    deviation="length_chars" if as_chars else None,
                )
        if nb > MAX_SEGMENT:
            devs["too_long"] = f"{nb}-byte segment (at most {MAX_SEGMENT})"
        received = parse_crc_hex(crc_field.rjust(4, b"0"))
        if received is None:
            return FramingError(
                "bad_crc", f"CRC field {crc_field!r} is not 4 hexadecimal digits",
                raw, offset, len(raw), partial=self._partial(seg),
            )
        if crc_field != crc_field.upper():
            devs["crc_lowercase"] = f"CRC {crc_field.decode()}"
        variant: str | None = "hj212"
        computed = crc16_hj212(seg)
        if received != computed:
            m = crc16_modbus(seg)
            if received == m:
                variant = "modbus"
                devs["crc_modbus"] = f"CRC {crc_field.decode()} is CRC-16/MODBUS; Appendix A gives {crc_hex(computed)}"
            elif received == ((m & 0xFF) << 8 | m >> 8):
                variant = "modbus-le"
                devs["crc_modbus_le"] = (
                    f"CRC {crc_field.decode()} is CRC-16/MODBUS low byte first; Appendix A gives {crc_hex(computed)}"
                )
            else:
                variant = None
        if text is None:
            try:
                text = seg.decode("utf-8")
            except UnicodeDecodeError as exc:
                try:
                    text = seg.decode("gb18030")
                except UnicodeDecodeError:
                    return FramingError(
                        "bad_encoding", f"segment is neither UTF-8 nor GB 18030 ({exc.reason} at byte {exc.start})",
                        raw, offset, len(raw), crc_variant=variant,
                    )
                devs["not_utf8"] = f"invalid UTF-8 at byte {exc.start}; decoded as GB 18030"
        encrypted = False
        if variant is None:
            if is_encrypted_segment(text):
                if self.decrypt is None:
                    return FramingError(
                        "encrypted_cp_unsupported",
                        "CP is SM4-encrypted ({0x..}, HJ 212-2025 §6.4) and no decrypt hook is set",
                        raw, offset, len(raw), partial=self._partial(seg),
                    )
                try:
                    plain = decrypt_segment(text, self.decrypt)
                except Hj212Error as exc:
                    return FramingError(exc.code, exc.detail, raw, offset, len(raw))
                if crc16_hj212(plain.encode("utf-8")) == received:  # 2025 §6.4: CRC over plaintext
                    variant, text, encrypted = "hj212", plain, True
            if variant is None:
                return FramingError(
                    "bad_crc",
                    f"CRC {crc_field.decode()} received, Appendix A gives {crc_hex(computed)}",
                    raw, offset, len(raw), partial=self._partial(seg),
                )
        try:
            message = parse_segment(
                text, mode=self.mode, version_hint=self.version_hint, decrypt=self.decrypt,
                deviations=devs or None,
            )
        except Hj212Error as exc:
            partial = exc.partial if isinstance(exc.partial, Message) else None
            return FramingError(
                exc.code, exc.detail, raw, offset, len(raw), crc_variant=variant,
                partial=partial, deviation=exc.deviation,
            )
        if encrypted:
            message.encrypted = True
        return Packet(message, raw, text, variant, length_mode, offset)

    def _partial(self, seg: bytes) -> Message | None:
        """Best-effort tolerant parse of a rejected packet's segment (for replies and logs).

        A segment cut short is completed with the missing ``&&`` or ``CP=&&&&``
        so that its header (QN, MN, ...) can still be read.
        """
        text = seg.decode("utf-8", "replace")
        candidates = (text,) if text.endswith("&&") else (text, text + "&&", text.rstrip(";") + ";CP=&&&&")
        for candidate in candidates:
            try:
                return parse_segment(candidate, version_hint=self.version_hint)
            except Hj212Error as exc:
                if isinstance(exc.partial, Message):
                    return exc.partial
            except Exception:  # pragma: no cover - the partial parse must never raise
                return None
        return None


def _next_start(buf: bytearray, start: int, end: int) -> int:
    """Position of the next packet start (``##`` + 4 digits) in ``buf[start:end]``, or -1.

    A ``##`` whose next bytes are not yet all received counts as a start; a ``##``
    followed by anything but digits (possible inside a data segment) does not.
    """
    k = buf.find(b"##", start, end)
    while k >= 0:
        head = buf[k + 2 : k + 6]
        if len(head) < 4 or head.isdigit():
            return k
        k = buf.find(b"##", k + 1, end)
    return -1


#: Alias: the same object under the name used in the design notes.
Framer = Decoder


def decode_packet(
    data: bytes,
    *,
    mode: str = "tolerant",
    version_hint: str | None = None,
    decrypt: DecryptHook | None = None,
) -> Event:
    """Decode exactly one packet (bytes from ``##`` to the tail) into one event.

    Anything before or after the packet, or more than one packet, is an error
    event (``garbage`` or the first error found).
    """
    decoder = Decoder(mode, version_hint=version_hint, decrypt=decrypt,
                      max_buffer=max(DEFAULT_MAX_BUFFER, len(data) + 1))
    events = decoder.feed(data) + decoder.close()
    if not events:
        return FramingError("truncated", "no packet in the input", bytes(data[:_PREVIEW]), 0, len(data))
    for event in events:
        if not isinstance(event, Packet):
            return event
    if len(events) > 1:
        return FramingError("garbage", f"{len(events)} packets where one was expected",
                            bytes(data[:_PREVIEW]), 0, len(data))
    return events[0]


def parse_packet(
    data: bytes,
    *,
    mode: str = "tolerant",
    version_hint: str | None = None,
    decrypt: DecryptHook | None = None,
) -> Packet:
    """Decode exactly one packet, raising :class:`~gongzhi.hj212.errors.Hj212Error` if it is bad."""
    event = decode_packet(data, mode=mode, version_hint=version_hint, decrypt=decrypt)
    if isinstance(event, FramingError):
        raise Hj212Error(event.code, event.detail, deviation=event.deviation, partial=event.partial)
    return event

