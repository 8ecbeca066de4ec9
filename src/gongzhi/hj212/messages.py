"""Data segment parsing (HJ 212-2017 §6.3.2 data segment, §6.3.3 command parameters).

A data segment is ``QN=..;ST=..;CN=..;PW=..;MN=..;Flag=..;[PNUM=..;PNO=..;]CP=&&..&&``.
Inside CP, ``;`` separates factors/fields, ``,`` separates the items of one
factor and ``=`` joins a name and its value.  Factor fields are
``<code>-<suffix>=value`` (Table 6); other CP fields are plain names
(``DataTime``, ``QnRtn``, ``PolId``, ...).

:func:`parse_segment` returns a :class:`Message`.  Every departure from the
standard it accepts is recorded as a deviation code (see
:data:`gongzhi.hj212.errors.DEVIATIONS`) in ``Message.deviations``; strict mode
turns the first one into an :class:`~gongzhi.hj212.errors.Hj212Error`.

Times in HJ 212 are local (Beijing) time; they are returned as aware
datetimes in UTC+08:00 (:data:`CST`).
"""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from typing import Any, Callable

from .codes import (
    COMMANDS,
    COMMANDS_2025,
    DATA_FLAGS,
    FLAG_VERSIONS,
    META_SUFFIXES,
    REPLY_COMMANDS,
    SYSTEM_CODES,
    SYSTEM_CODES_2025,
    VALUE_SUFFIXES,
    codes_2005,
)
from .errors import DEVIATIONS, Hj212Error, check_mode

__all__ = [
    "CST",
    "DataRecord",
    "Message",
    "parse_segment",
    "parse_time",
    "format_time",
    "is_encrypted_segment",
    "decrypt_segment",
    "DecryptHook",
]

#: China Standard Time, the time zone of every HJ 212 time field.
CST = timezone(timedelta(hours=8), "CST")

#: ``decrypt(ciphertext, mn) -> plaintext``: the SM4 seam of HJ 212-2025 §6.4.
#: SM4 is not in the standard library; a deployment that needs it plugs a
#: function here (key chosen by MN).  The codec never implements SM4 itself.
DecryptHook = Callable[[bytes, "str | None"], bytes]

# Standard order of header fields (§6.3.2 Table 3).
_HEADER_ORDER = {"QN": 0, "ST": 1, "CN": 2, "PW": 3, "MN": 4, "Flag": 5, "PNUM": 6, "PNO": 7}
_HEADER_KEYS = frozenset(_HEADER_ORDER) | {"RF"}
_ELLIPSIS = "\u2026"
_TIME_FIELDS = ("SystemTime", "RestartTime", "BeginTime", "EndTime")
_CMDS_2017 = frozenset(COMMANDS)
_CMDS_2025 = frozenset(COMMANDS) | frozenset(COMMANDS_2025)
_ST_2017 = frozenset(SYSTEM_CODES)
_ST_2025 = frozenset(SYSTEM_CODES) | frozenset(SYSTEM_CODES_2025)
_DATA_FLAGS = frozenset(DATA_FLAGS)
_ISSUED_2025 = "20250606"
_META_SLOT = {"Flag": 0, "EFlag": 1, "SampleTime": 2}
_VERSIONS = tuple(FLAG_VERSIONS.values())
assert frozenset(_META_SLOT) == META_SUFFIXES  # HJ 212-2025 issue date: earlier packets are 2017-era


@dataclass(slots=True)
class DataRecord:
    """One value of one factor: ``<code>-<suffix>=value`` (§6.3.3 Table 6).

    ``value`` is the text as sent (``"7.10"`` stays ``"7.10"``); :attr:`number`
    is its float value.  ``flag`` and ``eflag`` come from ``<code>-Flag`` /
    ``<code>-EFlag``; ``time`` is the packet's DataTime (start of the period for
    2051/2061/2031/2041, the sampling instant for 2011/2021);
    ``sample_time`` is ``<code>-SampleTime`` when sent.
    """

    code: str
    suffix: str
    value: str
    flag: str | None = None
    eflag: str | None = None
    time: datetime | None = None
    sample_time: datetime | None = None

    @property
    def number(self) -> float | None:
        """The value as a float, or ``None`` if it is not a finite number."""
        value = self.value
        if "_" in value:
            return None
        try:
            number = float(value)
        except ValueError:
            return None
        return number if math.isfinite(number) else None

    def to_dict(self) -> dict[str, Any]:
        number = self.number
        return {
            "code": self.code,
            "suffix": self.suffix,
            "value": number if number is not None else self.value,
            "flag": self.flag,
            "eflag": self.eflag,
            "time": self.time.isoformat() if self.time else None,
            "sample_time": self.sample_time.isoformat() if self.sample_time else None,
        }


@dataclass(slots=True)
class Message:
    """A parsed data segment (§6.3.2).

    ``fields`` holds the plain CP fields in order (``DataTime``, ``QnRtn``,
    ``PolId``...), ``records`` the factor values, ``extra`` unknown header
    fields.  ``version`` is ``"2005"``, ``"2017"`` or ``"2025"``.
    ``deviations`` lists the deviation codes found (tolerant mode), and
    ``details`` says for each what exactly was seen.  ``part_qns`` is set on a
    message reassembled from sub-packets (the QN of each part, PNO order).
    """

    cn: str
    mn: str
    st: str | None = None
    qn: str | None = None
    pw: str | None = None
    flag: int | None = None
    pnum: int | None = None
    pno: int | None = None
    rf: str | None = None
    fields: dict[str, str] = field(default_factory=dict)
    records: list[DataRecord] = field(default_factory=list)
    data_time: datetime | None = None
    version: str | None = None
    deviations: list[str] = field(default_factory=list)
    extra: dict[str, str] = field(default_factory=dict)
    encrypted: bool = False
    part_qns: tuple[str, ...] = ()
    details: dict[str, str] = field(default_factory=dict, compare=False, repr=False)

    # Flag bits (§6.3.2): V5..V0 D A
    @property
    def ack_requested(self) -> bool:
        """A bit: the sender wants a reply (e.g. 9014 for a data upload)."""
        return bool(self.flag is not None and self.flag & 1)

    @property
    def is_split(self) -> bool:
        """D bit: this is one sub-packet of a split message (PNUM/PNO present)."""
        return bool(self.flag is not None and self.flag & 2) or self.pnum is not None

    @property
    def version_bits(self) -> int | None:
        return None if self.flag is None else self.flag >> 2

    @property
    def back_fill(self) -> bool:
        """HJ 212-2025 RF=1: the packet re-sends (补传) data recorded earlier."""
        return self.rf == "1"

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready form (PW is left out: it is a credential)."""
        return {
            "version": self.version,
            "qn": self.qn,
            "st": self.st,
            "cn": self.cn,
            "mn": self.mn,
            "flag": self.flag,
            "pnum": self.pnum,
            "pno": self.pno,
            "rf": self.rf,
            "data_time": self.data_time.isoformat() if self.data_time else None,
            "fields": dict(self.fields),
            "extra": dict(self.extra),
            "encrypted": self.encrypted,
            "part_qns": list(self.part_qns),
            "deviations": list(self.deviations),
            "data": [r.to_dict() for r in self.records],
        }


def parse_time(text: str) -> datetime | None:
    """``YYYYMMDDhhmmss`` (or 17 digits with milliseconds) -> aware datetime in CST.

    Returns ``None`` when the text is not a valid time of that form.
    """
    n = len(text)
    if (n != 14 and n != 17) or not (text.isascii() and text.isdigit()):
        return None
    try:
        return datetime(
            int(text[0:4]), int(text[4:6]), int(text[6:8]),
            int(text[8:10]), int(text[10:12]), int(text[12:14]),
            int(text[14:17]) * 1000 if n == 17 else 0,
            tzinfo=CST,
        )
    except ValueError:
        return None


def format_time(value: datetime, *, ms: bool = False) -> str:
    """Datetime -> ``YYYYMMDDhhmmss`` (``ms=True``: 17 digits, the QN form) in CST."""
    if value.tzinfo is not None:
        value = value.astimezone(CST)
    text = value.strftime("%Y%m%d%H%M%S")
    return text + f"{value.microsecond // 1000:03d}" if ms else text


def _time_field(text: str, name: str, devs: dict[str, str]) -> datetime | None:
    value = parse_time(text)
    if value is None:
        devs.setdefault("bad_time", f"{name}={text!r} is not YYYYMMDDhhmmss")
    elif len(text) == 17:
        devs.setdefault("datatime_ms", f"{name}={text} has 17 digits (milliseconds)")
    return value


def is_encrypted_segment(segment: str) -> bool:
    """True if CP holds SM4 ciphertext in the ``{0x..}`` form (HJ 212-2025 §6.4)."""
    i = segment.find("CP=&&")
    return i >= 0 and segment[i + 5 : i + 8].lower() == "{0x"


def _decrypt_cp(cp: str, decrypt: DecryptHook, mn: str | None) -> str:
    """``{0x<hex ciphertext>}<plain tail>`` -> plaintext CP (2025 §6.4).

    ECB without padding: a tail shorter than 16 bytes stays plain after ``}``.
    """
    end = cp.find("}")
    if end < 0:
        raise Hj212Error("bad_cp", "encrypted CP '{0x..' not closed by '}'")
    try:
        cipher = bytes.fromhex(cp[3:end])
    except ValueError:
        raise Hj212Error("bad_cp", "encrypted CP is not hexadecimal") from None
    try:
        plain = decrypt(cipher, mn)
        return plain.decode("utf-8") + cp[end + 1 :]
    except Hj212Error:
        raise
    except Exception as exc:  # a plug-in failing must not crash the decoder
        raise Hj212Error("bad_cp", f"decrypting CP failed: {exc!r}") from None


def decrypt_segment(segment: str, decrypt: DecryptHook, mn: str | None = None) -> str:
    """The plaintext segment of an encrypted one (CP decrypted in place)."""
    i = segment.find("CP=&&")
    j = segment.rfind("&&")
    if i < 0 or j < i + 5:
        raise Hj212Error("bad_cp", "CP not closed by '&&'")
    if mn is None:
        k = segment.find("MN=")
        if 0 <= k < i:
            e = segment.find(";", k)
            mn = segment[k + 3 : e if 0 <= e < i else i].strip()
    return segment[: i + 5] + _decrypt_cp(segment[i + 5 : j], decrypt, mn) + segment[j:]


def parse_segment(
    segment: str,
    *,
    mode: str = "tolerant",
    version_hint: str | None = None,
    decrypt: DecryptHook | None = None,
    deviations: dict[str, str] | None = None,
    fast: bool = True,
) -> Message:
    """Parse one data segment (no ``##``, length, CRC or tail) into a :class:`Message`.

    ``mode`` is ``"tolerant"`` (accept and record deviations) or ``"strict"``
    (reject the first deviation).  ``version_hint`` (``"2005"``, ``"2017"``,
    ``"2025"``) is what the caller knows of the device; it resolves the
    ambiguous Flag=8 (see ``flag_version_mismatch``).  ``decrypt`` is the
    SM4 hook for HJ 212-2025 encrypted CP.  ``deviations`` (code -> detail)
    seeds the list with deviations found by the framer.

    A clean HJ 212-2017 data upload (the overwhelming majority of traffic) is
    recognised by :func:`_parse_fast`; anything it is not sure of goes to the
    general parser. Both give the same :class:`Message` (a hypothesis test
    compares them on valid and mutated segments); ``fast=False`` forces the
    general parser.

    Raises :class:`~gongzhi.hj212.errors.Hj212Error`.
    """
    check_mode(mode)
    if version_hint is not None and version_hint not in _VERSIONS:
        raise ValueError(f"version_hint must be one of {_VERSIONS} or None, not {version_hint!r}")
    if fast and not deviations:
        message = _parse_fast(segment)
        if message is not None:
            return message
    devs: dict[str, str] = dict(deviations) if deviations else {}
    message = _parse(segment, devs, version_hint, decrypt)
    if devs:
        message.deviations = list(devs)
        message.details = devs
        if mode == "strict":
            code = next(iter(devs))
            dev = DEVIATIONS[code]
            raise Hj212Error(
                dev.error, f"{dev.meaning}: {devs[code]}", deviation=code, partial=message
            )
    return message


def _parse(
    seg: str,
    devs: dict[str, str],
    version_hint: str | None,
    decrypt: DecryptHook | None,
) -> Message:
    # --- split header / CP (§6.3.2) ---------------------------------------
    i = seg.find("CP=&&")
    if i < 0:
        raise Hj212Error("bad_segment", "no 'CP=&&' in the data segment")
    j = seg.rfind("&&")
    if j < i + 5:
        raise Hj212Error("bad_cp", "CP=&& is not closed by '&&'")
    cp = seg[i + 5 : j]
    if j + 2 < len(seg):
        rest = seg[j + 2 :]
        if rest.strip():
            raise Hj212Error("bad_cp", f"text after the closing '&&': {rest[:32]!r}")
        devs.setdefault("stray_space", "whitespace after the closing '&&'")

    head = seg[:i]
    hs = head.rstrip()
    if len(hs) != len(head):
        devs.setdefault("stray_space", "whitespace before 'CP='")
    if hs.endswith(";"):
        hs = hs[:-1]
    elif hs:
        devs.setdefault("missing_separator", f"no ';' between {hs[-12:]!r} and 'CP='")

    hdr: dict[str, str] = {}
    if hs:
        parts = hs.split(";")
        if "," in hs:
            devs.setdefault("header_comma", "',' between header fields")
            parts = [p for part in parts for p in part.split(",")]
        last_rank = -1
        hws = " " in hs or "\t" in hs
        for part in parts:
            key, eq, value = part.partition("=")
            if not eq:
                if not part.strip():
                    devs.setdefault("empty_item", "empty header item (';;')")
                    continue
                raise Hj212Error("bad_segment", f"header item without '=': {part[:32]!r}")
            if hws:
                k = key.strip()
                v = value.strip()
                if len(k) != len(key) or len(v) != len(value):
                    devs.setdefault("stray_space", f"whitespace around header field {k!r}")
            else:
                k, v = key, value
            if k in hdr:
                devs.setdefault("duplicate_field", f"header field {k} repeated (first kept)")
                continue
            hdr[k] = v
            rank = _HEADER_ORDER.get(k)
            if rank is not None:
                if rank < last_rank:
                    devs.setdefault("field_order", f"{k} after a field that follows it in the standard")
                else:
                    last_rank = rank

    # --- required header fields ---------------------------------------------
    cn = hdr.get("CN") or None
    mn = hdr.get("MN") or None
    st = hdr.get("ST") or None
    if cn is None or mn is None or st is None:
        missing = [n for n, v in (("ST", st), ("CN", cn), ("MN", mn)) if v is None]
        raise Hj212Error("missing_field", f"{', '.join(missing)} missing from the header")
    qn = hdr.get("QN") or None
    pw = hdr.get("PW")
    if qn is None:
        devs.setdefault("missing_qn", "no QN field")
    else:
        nq = len(qn)
        if not (qn.isascii() and qn.isdigit()) or (nq != 17 and nq != 13):
            devs.setdefault("qn_format", f"QN={qn!r}")
        elif nq == 13:
            devs.setdefault("qn_epoch_ms", f"QN={qn} (epoch milliseconds)")
    if pw is None:
        devs.setdefault("missing_pw", "no PW field")
    if len(mn) > 24:
        devs.setdefault("mn_format", f"MN has {len(mn)} characters (at most 24)")

    flag_text = hdr.get("Flag")
    flag: int | None = None
    if flag_text is None or flag_text == "":
        devs.setdefault("missing_flag", "no Flag field")
    else:
        if not (flag_text.isascii() and flag_text.isdigit()) or int(flag_text) > 255:
            raise Hj212Error("bad_flag", f"Flag={flag_text!r} is not an integer 0-255")
        flag = int(flag_text)

    pnum = _subpacket_number(hdr, "PNUM", devs)
    pno = _subpacket_number(hdr, "PNO", devs)
    if (pnum is None) != (pno is None):
        raise Hj212Error("missing_field", "PNUM and PNO must come together")
    if pnum is not None and not 1 <= pno <= pnum:  # type: ignore[operator]
        raise Hj212Error("bad_field", f"PNO={pno} outside 1..PNUM={pnum}")
    rf = hdr.get("RF")

    extra: dict[str, str] = {}
    for k, v in hdr.items():
        if k not in _HEADER_KEYS:
            extra[k] = v
    if extra:
        devs.setdefault("unknown_field", f"header field(s) {', '.join(extra)}")

    # --- CP (§6.3.3) ------------------------------------------------------
    encrypted = False
    if cp[:3].lower() == "{0x":
        if decrypt is None:
            raise Hj212Error(
                "encrypted_cp_unsupported",
                "CP is SM4-encrypted ({0x..}, HJ 212-2025 §6.4) and no decrypt hook is set",
                partial=Message(cn=cn, mn=mn, st=st, qn=qn, pw=pw, flag=flag, pnum=pnum, pno=pno, rf=rf,
                                encrypted=True, extra=extra),
            )
        cp = _decrypt_cp(cp, decrypt, mn)
        encrypted = True

    fields: dict[str, str] = {}
    raw: list[tuple[str, str, str]] = []  # (code, suffix, value) of each value field
    odd: set[str] = set()  # codes of unusual shape (see _classify)
    meta: dict[str, list[str | None]] = {}
    seen: set[str] = set()  # factor-field keys, for duplicate detection
    if cp:
        # Whitespace and '…' are rare: test the whole CP once, not every item.
        ws = " " in cp or "\t" in cp
        ell = _ELLIPSIS in cp
        append = raw.append
        kinds = _CODE_KIND
        for group in cp.split(";"):
            for item in group.split(",") if "," in group else (group,):
                key, eq, value = item.partition("=")
                if not eq:
                    s = item.strip()
                    if not s:
                        if item:
                            devs.setdefault("stray_space", "whitespace-only item in CP")
                        else:
                            devs.setdefault("empty_item", "empty item in CP")
                    elif _ELLIPSIS in s:
                        devs.setdefault("ellipsis", f"'…' in CP ({s!r})")
                    else:
                        devs.setdefault("malformed_item", f"CP item without '=': {s[:32]!r}")
                    continue
                if ws:
                    k = key.strip()
                    v = value.strip()
                    if len(k) != len(key) or len(v) != len(value):
                        devs.setdefault("stray_space", f"whitespace around {k}")
                    key, value = k, v
                if ell and _ELLIPSIS in value:
                    devs.setdefault("ellipsis", f"'…' in the value of {key}")
                    value = value.replace(_ELLIPSIS, "").strip()
                dash = key.find("-")
                if dash <= 0:
                    if key in fields:
                        devs.setdefault("duplicate_field", f"{key} repeated (first kept)")
                    else:
                        fields[key] = value
                    continue
                if key in seen:
                    devs.setdefault("duplicate_field", f"{key} repeated")
                else:
                    seen.add(key)
                suffix = key[dash + 1 :]
                if suffix in VALUE_SUFFIXES:
                    code = key[:dash]
                    kind = kinds.get(code)
                    if kind is None:
                        kind = _classify(code)
                    if kind:
                        odd.add(code)
                    append((code, suffix, value))
                    continue
                slot = _META_SLOT.get(suffix)
                if slot is not None:
                    code = key[:dash]
                    m = meta.get(code)
                    if m is None:
                        m = meta[code] = [None, None, None]
                    if m[slot] is None:
                        m[slot] = value
                else:
                    code = key[:dash]
                    devs.setdefault("unknown_suffix", f"suffix -{suffix} of {code} (kept)")
                    kind = kinds.get(code)
                    if kind is None:
                        kind = _classify(code)
                    if kind:
                        odd.add(code)
                    append((code, suffix, value))

    # --- times ---------------------------------------------------------------
    data_time = None
    dt_text = fields.get("DataTime")
    if dt_text is not None:
        data_time = _time_field(dt_text, "DataTime", devs)
    for name in _TIME_FIELDS:
        text = fields.get(name)
        if text is not None:
            _time_field(text, name, devs)

    # --- protocol version (§6.3.2 Flag V5..V0; 2025 per secondary sources) ----
    if flag is None:
        if rf is not None or cn == "9015":
            version = "2025"
        elif version_hint is not None:
            version = version_hint
        else:
            version = "2005" if len(mn) == 14 else "2017"
    else:
        version = FLAG_VERSIONS.get(flag >> 2)
        if version == "2025" and rf is None and cn != "9015":
            if version_hint == "2017" or (version_hint is None and _before_2025(qn, dt_text)):
                devs.setdefault(
                    "flag_version_mismatch",
                    f"Flag={flag} (version 000010) on a packet dated before HJ 212-2025 was issued",
                )
                version = "2017"
        elif version is None:
            devs.setdefault("flag_unknown_version", f"Flag={flag}: version bits {flag >> 2:06b}")
            version = version_hint or "2017"
        if cn in REPLY_COMMANDS and flag & 1:
            devs.setdefault("reply_ack_flag", f"reply CN={cn} with Flag={flag} (A bit set)")
        if bool(flag & 2) != (pnum is not None):
            devs.setdefault(
                "flag_split_mismatch",
                f"Flag={flag} D bit {'set' if flag & 2 else 'clear'} but PNUM/PNO "
                f"{'present' if pnum is not None else 'absent'}",
            )

    if version != "2005":
        if st not in (_ST_2025 if version == "2025" else _ST_2017):
            devs.setdefault("unknown_st", f"ST={st}")
        if cn not in (_CMDS_2025 if version == "2025" else _CMDS_2017):
            devs.setdefault("unknown_cn", f"CN={cn}")

    # --- factor codes and flags (Appendix B) -----------------------------------
    records: list[DataRecord] = []
    if raw or meta:
        for code in meta:
            kind = _CODE_KIND.get(code)
            if kind is None:
                kind = _classify(code)
            if kind:
                odd.add(code)
        if odd:
            raw = _check_codes(odd, raw, meta, version, devs)
        sample_times: dict[str, datetime | None] = {}
        for code, m in meta.items():
            if m[0] is not None and m[0] not in _DATA_FLAGS:
                devs.setdefault("unknown_data_flag", f"{code}-Flag={m[0]}")
            if m[2] is not None:
                sample_times[code] = _time_field(m[2], f"{code}-SampleTime", devs)
        append = records.append
        for code, suffix, value in raw:
            m = meta.get(code)
            if m is None:
                append(DataRecord(code, suffix, value, None, None, data_time, None))
            else:
                append(DataRecord(code, suffix, value, m[0], m[1], data_time, sample_times.get(code)))

    return Message(
        cn=cn, mn=mn, st=st, qn=qn, pw=pw, flag=flag, pnum=pnum, pno=pno, rf=rf,
        fields=fields, records=records, data_time=data_time, version=version,
        extra=extra, encrypted=encrypted,
    )


# --- the fast path ----------------------------------------------------------------------------
#
# The common shape of a 2017 upload, recognised with str methods in one pass: ASCII, no space or
# tab, the header fields in the standard's order and nothing else (QN of 17 digits, no RF, no
# extra fields, PNUM/PNO without zero padding), nothing after the closing '&&', CP items
# ``name=value`` with fields (DataTime ...) and ``code-Suffix`` factor items of known suffixes.
# The checks are exactly the conditions under which the general parser finds no deviation and
# raises no error; if one fails, _parse_fast returns None and the general parser decides. So
# it never accepts anything the general parser would reject or flag (tests/hj212/
# test_hj212_fastpath.py compares the two on valid and mutated segments).

_FAST_HEAD = ("QN=", "ST=", "CN=", "PW=", "MN=", "Flag=", "PNUM=", "PNO=")
#: DataTime text -> its datetime (immutable, so shared): the loggers of a region send the same
#: DataTime for the same hour or minute, so most packets find theirs here
_DATA_TIMES: dict[str, datetime] = {}


#: item key -> (what, code, suffix) for the fast path: 1 value, 2 -Flag, 3 -EFlag, 4 plain
#: field, 0 anything the fast path leaves to the general parser. Keys repeat from packet to
#: packet (a logger sends the same factors every time), so each is classified once.
_FAST_KEYS: dict[str, tuple[int, str, str]] = {}


def _fast_key(key: str) -> tuple[int, str, str]:
    if len(_FAST_KEYS) >= _KIND_MAX:
        _FAST_KEYS.clear()
    dash = key.find("-")
    if dash <= 0:
        k = (0 if key in _TIME_FIELDS else 4, "", "")
    else:
        code, suffix = key[:dash], key[dash + 1 :]
        kind = _CODE_KIND.get(code)
        if kind is None:
            kind = _classify(code)
        if kind:
            k = (0, code, suffix)
        elif suffix in VALUE_SUFFIXES:
            k = (1, code, suffix)
        else:
            k = ({"Flag": 2, "EFlag": 3}.get(suffix, 0), code, suffix)
    _FAST_KEYS[key] = k
    return k


def _parse_fast(seg: str) -> Message | None:
    """The :class:`Message` of a clean 2017 segment, or None (use the general parser)."""
    if not seg.isascii() or " " in seg or "\t" in seg:
        return None
    i = seg.find("CP=&&")
    j = len(seg) - 2
    if i < 0 or j < i + 5 or seg[j:] != "&&" or seg[i - 1 : i] != ";":
        return None
    head = seg[: i - 1]
    if "," in head:
        return None
    parts = head.split(";")
    n = len(parts)
    if n != 6 and n != 8:
        return None
    if not all(map(str.startswith, parts, _FAST_HEAD)):
        return None
    qn = parts[0][3:]
    st = parts[1][3:]
    cn = parts[2][3:]
    pw = parts[3][3:]
    mn = parts[4][3:]
    flag_text = parts[5][5:]
    if len(qn) != 17 or not qn.isdigit() or st not in _ST_2017 or cn not in _CMDS_2017:
        return None
    if not 0 < len(mn) <= 24 or not 0 < len(flag_text) <= 3 or not flag_text.isdigit():
        return None
    flag = int(flag_text)
    if flag >> 2 != 1:  # the version bits of HJ 212-2017 (Flag 4-7)
        return None
    if cn in REPLY_COMMANDS and flag & 1:
        return None
    if n == 6:
        pnum = pno = None
        if flag & 2:
            return None
    else:
        pnum_text, pno_text = parts[6][5:], parts[7][4:]
        if not (0 < len(pnum_text) <= 4 and pnum_text.isdigit() and pnum_text[0] != "0"
                and 0 < len(pno_text) <= 4 and pno_text.isdigit() and pno_text[0] != "0"):
            return None
        pnum, pno = int(pnum_text), int(pno_text)
        if pno > pnum or not flag & 2:
            return None
    cp = seg[i + 5 : j]
    if cp:
        # ';' between factors and ',' between the items of one factor: here both just separate
        # items. Split on '=' too and the names and values alternate; joining them back must give
        # the CP again (exactly one '=' per item), else the general parser decides.
        items = cp.replace(",", ";") if "," in cp else cp
        parts = items.replace("=", ";").split(";")
        keys = tuple(parts[0::2])
        vals = parts[1::2]
        if len(keys) != len(vals) or ";".join(map(_EQ_JOIN, zip(keys, vals))) != items:
            return None
        shape = _CP_SHAPES.get(keys)
        if shape is None:
            shape = _cp_shape(keys)
            if shape is None:
                return None
        field_slots, record_slots, flag_slots = shape
        for k in flag_slots:
            if vals[k] not in _DATA_FLAGS:
                return None
        fields = {key: vals[k] for k, key in field_slots}
    else:
        vals, fields, record_slots = [], {}, ()
    data_time = None
    dt_text = fields.get("DataTime")
    if dt_text is not None:
        if len(dt_text) != 14:
            return None
        data_time = _DATA_TIMES.get(dt_text)
        if data_time is None:
            data_time = parse_time(dt_text)
            if data_time is None:
                return None
            if len(_DATA_TIMES) >= 4096:
                _DATA_TIMES.clear()
            _DATA_TIMES[dt_text] = data_time
    m = CompactMessage(
        cn=cn, mn=mn, st=st, qn=qn, pw=pw, flag=flag, pnum=pnum, pno=pno, rf=None, fields=fields,
        records=_LAZY, data_time=data_time, version="2017",
    )
    m.cp_shape = record_slots
    m.cp_values = vals
    return m


_LAZY: Any = object()  # "records: build them when first read" (CompactMessage)
_RECORDS_SLOT = Message.__dict__["records"]  # the slot behind Message.records
_MESSAGE_FIELDS = tuple(f.name for f in dataclasses.fields(Message) if f.compare)


class CompactMessage(Message):
    """A :class:`Message` of the fast path that builds its :attr:`records` when they are first
    read: from ``cp_values`` (the CP's values as sent, in order) and ``cp_shape`` (per record
    ``(index of its value, code, suffix, index of its -Flag or -1, index of its -EFlag or
    -1)``). A consumer that only needs values (the gateway's pipeline) reads those two and no
    :class:`DataRecord` is ever made; everything else sees an ordinary Message (equal to the
    general parser's for the same segment)."""

    __slots__ = ("cp_shape", "cp_values")

    def _get_records(self) -> list[DataRecord]:
        try:
            return _RECORDS_SLOT.__get__(self)
        except AttributeError:
            vals, t = self.cp_values, self.data_time
            records = [DataRecord(code, suffix, vals[k], None if f < 0 else vals[f], None if e < 0 else vals[e], t,
                                  None)
                       for k, code, suffix, f, e in self.cp_shape]
            _RECORDS_SLOT.__set__(self, records)
            return records

    def _set_records(self, value: list[DataRecord]) -> None:
        if value is not _LAZY:
            _RECORDS_SLOT.__set__(self, value)

    records = property(_get_records, _set_records)  # type: ignore[assignment]

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Message):
            return NotImplemented
        return all(getattr(self, n) == getattr(other, n) for n in _MESSAGE_FIELDS)

    __hash__ = None  # type: ignore[assignment]


#: a CP's item names in order -> (plain-field slots, value-record slots, -Flag slots), or None for
#: a sequence the fast path leaves to the general parser. A logger sends the same names in the
#: same order every time, so each sequence is classified once (bounded like _FAST_KEYS).
_CP_SHAPES: dict[tuple[str, ...], tuple | None] = {}
_EQ_JOIN = "=".join


def _cp_shape(keys: tuple[str, ...]) -> tuple | None:
    """Classify a CP's item names one by one: no name twice; only values of known suffixes,
    -Flag, -EFlag and plain fields (DataTime …); anything else (a time field other than
    DataTime, SampleTime, an unknown suffix, an unusual code) is left to the general parser."""
    if len(_CP_SHAPES) >= 4096:
        _CP_SHAPES.clear()
    info = _FAST_KEYS
    seen: set[str] = set()
    field_slots: list[tuple[int, str]] = []
    values: list[tuple[int, str, str]] = []
    flag_of: dict[str, int] = {}
    eflag_of: dict[str, int] = {}
    flag_slots: list[int] = []
    shape: tuple | None = None
    for k, key in enumerate(keys):
        what, code, suffix = info.get(key) or _fast_key(key)
        if what == 0 or key in seen:
            break
        seen.add(key)
        if what == 1:
            values.append((k, code, suffix))
        elif what == 2:
            flag_of[code] = k
            flag_slots.append(k)
        elif what == 3:
            eflag_of[code] = k
        else:
            field_slots.append((k, key))
    else:
        records = tuple((k, code, suffix, flag_of.get(code, -1), eflag_of.get(code, -1)) for k, code, suffix in values)
        shape = (tuple(field_slots), records, tuple(flag_slots))
    _CP_SHAPES[keys] = shape
    return shape


def _subpacket_number(hdr: dict[str, str], name: str, devs: dict[str, str]) -> int | None:
    text = hdr.get(name)
    if text is None:
        return None
    if not (text.isascii() and text.isdigit()) or len(text) > 4:
        raise Hj212Error("bad_field", f"{name}={text!r} is not a number of up to 4 digits")
    if len(text) > 1 and text[0] == "0":
        devs.setdefault("zero_padded_number", f"{name}={text}")
    return int(text)


def _before_2025(qn: str | None, data_time: str | None) -> bool:
    for text in (qn, data_time):
        if text is not None and len(text) >= 14 and text[:8].isdigit():
            return text[:8] < _ISSUED_2025
    return False


# Code shape cache: 0 an ordinary code, 1 five digits without the letter prefix,
# 2 an HJ/T 212-2005 code.  Bounded: cleared when it grows past _KIND_MAX.
_CODE_KIND: dict[str, int] = {}
_KIND_MAX = 65536


def _classify(code: str) -> int:
    if len(_CODE_KIND) >= _KIND_MAX:
        _CODE_KIND.clear()
    if code.isascii() and code.isdigit():
        kind = 1 if len(code) == 5 else 2 if len(code) in (2, 3) else 0
    else:
        kind = 2 if code in codes_2005() else 0
    _CODE_KIND[code] = kind
    return kind


def _check_codes(
    odd: set[str],
    raw: list[tuple[str, str, str]],
    meta: dict[str, list[str | None]],
    version: str | None,
    devs: dict[str, str],
) -> list[tuple[str, str, str]]:
    """Deviations of unusual factor codes; repairs the Appendix C typo '01018-Rtd'."""
    codes = {c for c, _, _ in raw}.union(meta)
    for code in sorted(odd):
        if _CODE_KIND.get(code) == 1:
            # repair from a prefixed twin in the packet (w01018-Flag beside 01018-Rtd)
            twin = next((c for c in sorted(codes) if len(c) == 6 and c[1:] == code and c[0].isalpha()), None)
            devs.setdefault(
                "code_missing_prefix",
                f"code {code!r} without its letter prefix" + (f" (read as {twin})" if twin else ""),
            )
            if twin:
                raw = [(twin if c == code else c, s, v) for c, s, v in raw]
        elif version != "2005":
            devs.setdefault("code_2005", f"HJ/T 212-2005 code {code}")
    return raw
