"""Building HJ 212 packets: framing, data uploads, replies and platform commands.

Everything returns bytes ready to send (``##``, length, segment, CRC, CR LF —
§6.3.1, Appendix A).  Nothing reads a clock: QN and times are arguments
(a ``datetime`` is formatted, a ``str`` is used as given).

* :func:`frame` — frame any data segment (optionally with a wrong-on-purpose
  CRC variant, tail or length, for tests and simulators);
* data uploads (§6.6.2, Appendix C): :func:`build_data` and the named helpers
  for 2011/2051/2061/2031/2041/2021/2081, splitting a large CP into
  sub-packets (PNUM/PNO) so each segment stays within 1024 bytes and CP within
  950 characters;
* replies (§6.6.3): 9011 QnRtn, 9012 ExeRtn, 9013, 9014 (and the 2025 9015 heartbeat);
* platform→device commands (§6.6.1): 1000, 1011/1012, 1013, 1061–1064, 1072,
  2011/2012.
"""

from __future__ import annotations

import math
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any, Iterable, Mapping, Sequence

from .crc import crc16_hj212, crc16_modbus
from .messages import Message, format_time, parse_time

__all__ = [
    "frame",
    "build_segment",
    "format_cp",
    "flag_for",
    "build_packet",
    "build_data",
    "build_realtime",
    "build_minute",
    "build_hourly",
    "build_daily",
    "build_daily_runtime",
    "build_run_state",
    "build_restart",
    "build_reply",
    "build_qn_reply",
    "build_exe_reply",
    "build_notify_ack",
    "build_data_ack",
    "build_heartbeat",
    "build_command",
    "build_set_timeout",
    "build_get_time",
    "build_set_time",
    "build_time_calibration_request",
    "build_get_rtd_interval",
    "build_set_rtd_interval",
    "build_get_min_interval",
    "build_set_min_interval",
    "build_set_password",
    "build_start_realtime",
    "build_stop_realtime",
]

_VERSION_BITS = {"2005": 0, "2017": 1, "2025": 2}
MAX_SEGMENT = 1024
MAX_CP = 950


def frame(
    segment: str | bytes,
    *,
    crc: str = "hj212",
    lowercase: bool = False,
    tail: bytes = b"\r\n",
    length: int | None = None,
) -> bytes:
    """``##`` + length + segment + CRC + tail (§6.3.1).

    ``crc`` is ``"hj212"`` (Appendix A), or ``"modbus"`` / ``"modbus-le"`` to
    imitate loggers that send CRC-16/MODBUS.  ``length`` overrides the length
    field (default: UTF-8 byte count).
    """
    seg = segment.encode("utf-8") if isinstance(segment, str) else bytes(segment)
    n = len(seg) if length is None else length
    if not 0 <= n <= 9999:
        raise ValueError(f"a {n}-byte segment does not fit the 4-digit length field")
    if crc == "hj212":
        value = crc16_hj212(seg)
    elif crc in ("modbus", "modbus-le"):
        value = crc16_modbus(seg)
        if crc == "modbus-le":
            value = (value & 0xFF) << 8 | value >> 8
    else:
        raise ValueError(f"unknown CRC variant {crc!r}")
    hexdigits = f"{value:04x}" if lowercase else f"{value:04X}"
    return b"##%04d" % n + seg + hexdigits.encode("ascii") + tail


def _text(value: Any) -> str:
    """A CP value as text: numbers in plain decimal notation (never exponent form)."""
    if isinstance(value, str):
        return value
    if isinstance(value, bool):
        return "1" if value else "0"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        if not math.isfinite(value):
            raise ValueError(f"{value!r} cannot be sent in HJ 212")
        text = repr(value)
        return format(Decimal(text), "f") if "e" in text or "E" in text else text
    if isinstance(value, Decimal):
        return format(value, "f")
    if isinstance(value, datetime):
        return format_time(value)
    raise TypeError(f"cannot format {type(value).__name__} as an HJ 212 value")


def _qn(qn: str | datetime | None) -> str | None:
    if qn is None or isinstance(qn, str):
        return qn
    return format_time(qn, ms=True)


def flag_for(version: str = "2017", *, ack: bool = False, split: bool = False) -> int:
    """Flag byte: version bits V5..V0, D (split), A (ack wanted) (§6.3.2)."""
    return _VERSION_BITS[version] << 2 | (2 if split else 0) | (1 if ack else 0)


def format_cp(groups: Iterable[Iterable[tuple[str, Any]]]) -> str:
    """CP text: groups joined by ``;``, items of a group by ``,`` (§6.3.3)."""
    return ";".join(",".join(f"{k}={_text(v)}" for k, v in group) for group in groups)


def build_segment(
    *,
    cn: str,
    mn: str,
    st: str,
    qn: str | datetime | None = None,
    pw: str | None = None,
    flag: int | None = None,
    pnum: int | None = None,
    pno: int | None = None,
    rf: str | None = None,
    cp: str = "",
) -> str:
    """The data segment ``QN=..;ST=..;CN=..;PW=..;MN=..;Flag=..;[RF=..;][PNUM=..;PNO=..;]CP=&&..&&``.

    Fields that are ``None`` are left out (to build deviating packets in tests).
    """
    parts = []
    qn = _qn(qn)
    for name, value in (("QN", qn), ("ST", st), ("CN", cn), ("PW", pw), ("MN", mn), ("Flag", flag),
                        ("RF", rf), ("PNUM", pnum), ("PNO", pno)):
        if value is not None:
            parts.append(f"{name}={value}")
    parts.append(f"CP=&&{cp}&&")
    return ";".join(parts)


def build_packet(**kwargs: Any) -> bytes:
    """:func:`build_segment` then :func:`frame`."""
    return frame(build_segment(**kwargs))


def _next_qn(qn: str | None, step: int) -> str | None:
    if not step or qn is None:
        return qn
    t = parse_time(qn) if len(qn) == 17 else None
    if t is None:
        return qn
    return format_time(t + timedelta(milliseconds=step), ms=True)


def _split_cp(head: list[str], groups: list[str], room_segment: int, max_cp: int) -> list[str]:
    """Pack groups into CPs, each starting with ``head`` (DataTime), within both limits."""

    def fits(parts: list[str]) -> bool:
        text = ";".join(parts)
        return len(text) <= max_cp and len(text.encode("utf-8")) <= room_segment

    cps: list[str] = []
    current: list[str] = []
    for group in groups:
        if fits(head + current + [group]):
            current.append(group)
            continue
        if not current or not fits(head + [group]):
            raise ValueError(f"one factor group is too large to send: {group[:40]}...")
        cps.append(";".join(head + current))
        current = [group]
    cps.append(";".join(head + current))
    return cps


def build_data(
    cn: str,
    *,
    mn: str,
    pw: str,
    st: str,
    qn: str | datetime,
    data_time: datetime | str | None,
    factors: Mapping[str, Mapping[str, Any]] | None = None,
    fields: Mapping[str, Any] | None = None,
    version: str = "2017",
    ack: bool = True,
    rf: str | None = None,
    max_segment: int = MAX_SEGMENT,
    max_cp: int = MAX_CP,
) -> list[bytes]:
    """A data upload (2011, 2051, 2061, 2031, 2041, 2021, ...) as one or more packets.

    ``factors`` maps a code to its fields by suffix, in the order to send:
    ``{"w01018": {"Rtd": 2.2, "Flag": "N"}}`` becomes ``w01018-Rtd=2.2,w01018-Flag=N``.
    ``fields`` are extra plain CP fields sent after DataTime.  When the segment
    would exceed ``max_segment`` bytes or CP ``max_cp`` characters (§6.3.1) the
    factors are split over PNUM sub-packets (Flag D bit, PNUM/PNO), each
    repeating DataTime; the QN of part *k* is QN + (k-1) ms, as in the
    Appendix C example.
    """
    head: list[str] = []
    if data_time is not None:
        head.append(f"DataTime={_text(data_time)}")
    for k, v in (fields or {}).items():
        head.append(f"{k}={_text(v)}")
    groups = [
        ",".join(f"{code}-{suffix}={_text(value)}" for suffix, value in items.items())
        for code, items in (factors or {}).items()
        if items
    ]
    qn = _qn(qn)
    cp = ";".join(head + groups)
    single = build_segment(cn=cn, mn=mn, st=st, qn=qn, pw=pw, flag=flag_for(version, ack=ack), rf=rf, cp=cp)
    if len(single.encode("utf-8")) <= max_segment and len(cp) <= max_cp:
        return [frame(single)]
    # room for CP in a split segment: reserve the widest PNUM/PNO and flag
    skeleton = build_segment(cn=cn, mn=mn, st=st, qn=qn, pw=pw, flag=255, rf=rf, pnum=9999, pno=9999, cp="")
    room = max_segment - len(skeleton.encode("utf-8"))
    cps = _split_cp(head, groups, room, max_cp)
    pnum = len(cps)
    flag = flag_for(version, ack=ack, split=True)
    return [
        frame(build_segment(cn=cn, mn=mn, st=st, qn=_next_qn(qn, i), pw=pw, flag=flag, rf=rf,
                            pnum=pnum, pno=i + 1, cp=part))
        for i, part in enumerate(cps)
    ]


def build_realtime(**kwargs: Any) -> list[bytes]:
    """2011 real-time data (DataTime = sampling instant)."""
    return build_data("2011", **kwargs)


def build_minute(**kwargs: Any) -> list[bytes]:
    """2051 minute data (DataTime = start of the period)."""
    return build_data("2051", **kwargs)


def build_hourly(**kwargs: Any) -> list[bytes]:
    """2061 hourly data (DataTime = start of the hour)."""
    return build_data("2061", **kwargs)


def build_daily(**kwargs: Any) -> list[bytes]:
    """2031 daily data (DataTime = start of the day)."""
    return build_data("2031", **kwargs)


def build_daily_runtime(*, run_hours: Mapping[str, Any], **kwargs: Any) -> list[bytes]:
    """2041 daily equipment run time: ``{"SB1": 1.1}`` -> ``SB1-RT=1.1``."""
    return build_data("2041", factors={sb: {"RT": v} for sb, v in run_hours.items()}, **kwargs)


def build_run_state(*, states: Mapping[str, Any], **kwargs: Any) -> list[bytes]:
    """2021 equipment run state: ``{"SB1": 1}`` -> ``SB1-RS=1`` (1 running, 0 stopped)."""
    return build_data("2021", factors={sb: {"RS": v} for sb, v in states.items()}, **kwargs)


def build_restart(*, restart_time: datetime | str, **kwargs: Any) -> list[bytes]:
    """2081 logger restart: ``DataTime=..;RestartTime=..``."""
    return build_data("2081", fields={"RestartTime": restart_time}, **kwargs)


# -- replies (§6.6.3) -----------------------------------------------------------


def build_reply(request: Message, cn: str, cp: str = "", *, version: str | None = None) -> bytes:
    """A reply to ``request``: ST=91, same QN, PW and MN, Flag without the A bit."""
    version = version or (request.version if request.version in _VERSION_BITS else "2017")
    return frame(build_segment(cn=cn, mn=request.mn, st="91", qn=request.qn, pw=request.pw,
                               flag=flag_for(version), cp=cp))


def build_qn_reply(request: Message, qn_rtn: int | str = 1) -> bytes:
    """9011 request acknowledgement, ``QnRtn`` (1 ready ... 9 CRC error, 100 unknown)."""
    return build_reply(request, "9011", f"QnRtn={qn_rtn}")


def build_exe_reply(request: Message, exe_rtn: int | str = 1) -> bytes:
    """9012 execution result, ``ExeRtn`` (1 success ... 100 no data)."""
    return build_reply(request, "9012", f"ExeRtn={exe_rtn}")


def build_notify_ack(request: Message) -> bytes:
    """9013 notification acknowledgement."""
    return build_reply(request, "9013")


def build_data_ack(request: Message) -> bytes:
    """9014 data acknowledgement (echoes the QN of the packet acknowledged).

    The gateway sends one per packet: the common case (QN, PW and MN present) is one format
    and one CRC; the same bytes as ``build_reply(request, "9014")``."""
    qn, pw, mn = request.qn, request.pw, request.mn
    if type(qn) is str and type(pw) is str and type(mn) is str:
        flag = _ACK_FLAGS.get(request.version, 4)  # 2017's bits for an unknown version, as build_reply
        seg = f"QN={qn};ST=91;CN=9014;PW={pw};MN={mn};Flag={flag};CP=&&&&".encode("utf-8")
        if len(seg) <= 9999:
            return b"##%04d%s%04X\r\n" % (len(seg), seg, crc16_hj212(seg))
    return build_reply(request, "9014")


#: Flag of a reply (no A bit) by the request's version
_ACK_FLAGS = {v: flag_for(v) for v in _VERSION_BITS}


def build_heartbeat(*, mn: str, pw: str, qn: str | datetime, st: str = "91") -> bytes:
    """9015 heartbeat of HJ 212-2025 (Flag version 000010) [secondary sources]."""
    return frame(build_segment(cn="9015", mn=mn, st=st, qn=qn, pw=pw, flag=flag_for("2025")))


# -- platform -> device commands (§6.6.1) -------------------------------------------


def build_command(
    cn: str,
    *,
    mn: str,
    pw: str,
    st: str,
    qn: str | datetime,
    cp: Sequence[tuple[str, Any]] | Mapping[str, Any] = (),
    version: str = "2017",
    ack: bool = True,
) -> bytes:
    """A request packet; by default it asks for a reply (A bit), as Appendix C's requests do."""
    items = list(cp.items()) if isinstance(cp, Mapping) else list(cp)
    cp_text = ";".join(f"{k}={_text(v)}" for k, v in items)
    return frame(build_segment(cn=cn, mn=mn, st=st, qn=qn, pw=pw, flag=flag_for(version, ack=ack), cp=cp_text))


def build_set_timeout(*, overtime: int, recount: int, **kw: Any) -> bytes:
    """1000 set reply timeout (s) and retry count: ``OverTime=..;ReCount=..``."""
    return build_command("1000", cp={"OverTime": overtime, "ReCount": recount}, **kw)


def build_get_time(*, pol_id: str | None = None, **kw: Any) -> bytes:
    """1011 get the logger (or one instrument's) time: ``PolId=..``."""
    return build_command("1011", cp={"PolId": pol_id} if pol_id else {}, **kw)


def build_set_time(*, system_time: datetime | str, pol_id: str | None = None, **kw: Any) -> bytes:
    """1012 set the time: ``[PolId=..;]SystemTime=YYYYMMDDhhmmss``."""
    cp: dict[str, Any] = {"PolId": pol_id} if pol_id else {}
    cp["SystemTime"] = system_time
    return build_command("1012", cp=cp, **kw)


def build_time_calibration_request(*, pol_id: str | None = None, **kw: Any) -> bytes:
    """1013 (logger -> platform) time calibration request: ``PolId=..``."""
    return build_command("1013", cp={"PolId": pol_id} if pol_id else {}, **kw)


def build_get_rtd_interval(**kw: Any) -> bytes:
    """1061 get the real-time data interval."""
    return build_command("1061", **kw)


def build_set_rtd_interval(*, seconds: int, **kw: Any) -> bytes:
    """1062 set the real-time data interval: ``RtdInterval=..`` (seconds)."""
    return build_command("1062", cp={"RtdInterval": seconds}, **kw)


def build_get_min_interval(**kw: Any) -> bytes:
    """1063 get the minute data interval."""
    return build_command("1063", **kw)


def build_set_min_interval(*, minutes: int, **kw: Any) -> bytes:
    """1064 set the minute data interval: ``MinInterval=..`` (minutes)."""
    return build_command("1064", cp={"MinInterval": minutes}, **kw)


def build_set_password(*, new_pw: str, **kw: Any) -> bytes:
    """1072 set the logger password: ``NewPW=..``."""
    return build_command("1072", cp={"NewPW": new_pw}, **kw)


def build_start_realtime(**kw: Any) -> bytes:
    """2011 (platform -> logger) start sending real-time data."""
    return build_command("2011", **kw)


def build_stop_realtime(**kw: Any) -> bytes:
    """2012 stop sending real-time data."""
    return build_command("2012", **kw)
