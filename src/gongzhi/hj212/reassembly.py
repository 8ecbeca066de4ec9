"""Reassembly of split messages (HJ 212-2017 §6.3.2 PNUM/PNO, Flag D bit).

A message whose data segment would exceed 1024 bytes is sent as PNUM
sub-packets numbered PNO = 1..PNUM.  Each sub-packet is acknowledged on its
own (9014 echoing *its* QN); in the standard's own example (Appendix C) the
parts carry *different* QNs (…534, …535), so parts are grouped by
``(MN, ST, CN, PNUM, DataTime)`` rather than by QN.

:class:`Reassembler` is sans-I/O: time is an explicit ``now`` argument (any
monotonic number of seconds the caller chooses); nothing here reads a clock.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from .errors import Hj212Error
from .messages import Message

__all__ = ["Reassembler", "Incomplete", "merge_parts"]

_Key = tuple[str, "str | None", str, int, "str | None"]


@dataclass(slots=True)
class Incomplete:
    """A split message given up on: the parts that arrived and the PNOs missing."""

    key: tuple
    pnum: int
    parts: dict[int, Message]
    first_seen: float
    reason: str = "reassembly_timeout"

    @property
    def missing(self) -> list[int]:
        return [n for n in range(1, self.pnum + 1) if n not in self.parts]


@dataclass(slots=True)
class _Pending:
    pnum: int
    first_seen: float
    parts: dict[int, Message] = field(default_factory=dict)


def _key(message: Message) -> _Key:
    return (message.mn, message.st, message.cn, message.pnum or 0, message.fields.get("DataTime"))


def merge_parts(parts: list[Message]) -> Message:
    """One message from its sub-packets (in any order).

    Header fields come from PNO=1; CP fields and records are concatenated in PNO
    order (the first value of a repeated plain field wins); deviations are the
    union.  ``pnum``/``pno`` are cleared, the D bit of ``flag`` is cleared and
    ``part_qns`` lists each part's QN.
    """
    if not parts:
        raise ValueError("no parts")
    ordered = sorted(parts, key=lambda m: m.pno or 0)
    first = ordered[0]
    fields: dict[str, str] = {}
    records = []
    deviations: list[str] = []
    details: dict[str, str] = {}
    for part in ordered:
        for k, v in part.fields.items():
            fields.setdefault(k, v)
        records.extend(part.records)
        for d in part.deviations:
            if d not in details:
                deviations.append(d)
                details[d] = part.details.get(d, "")
    return Message(
        cn=first.cn, mn=first.mn, st=first.st, qn=first.qn, pw=first.pw,
        flag=None if first.flag is None else first.flag & ~2,
        pnum=None, pno=None, rf=first.rf, fields=fields, records=records,
        data_time=first.data_time, version=first.version, deviations=deviations,
        extra=dict(first.extra), encrypted=any(p.encrypted for p in ordered),
        part_qns=tuple(p.qn or "" for p in ordered), details=details,
    )


class Reassembler:
    """Collects sub-packets until a message is complete.

    ``add(message, now)`` returns the complete message (a message that is not
    split is returned at once), or ``None`` while parts are missing.
    ``expire(now)`` returns the groups older than ``timeout`` seconds (and any
    evicted because more than ``max_pending`` groups were open).  A repeated
    PNO replaces the earlier copy (a retransmission).
    """

    def __init__(self, *, timeout: float = 60.0, max_pending: int = 10_000) -> None:
        if timeout <= 0 or max_pending < 1:
            raise ValueError("timeout must be > 0 and max_pending >= 1")
        self.timeout = timeout
        self.max_pending = max_pending
        self._pending: dict[tuple, _Pending] = {}
        self._evicted: list[Incomplete] = []

    @property
    def pending(self) -> int:
        """Number of split messages waiting for parts."""
        return len(self._pending)

    def add(self, message: Message, now: float) -> Message | None:
        if message.pnum is None or message.pno is None:
            return message
        pnum, pno = message.pnum, message.pno
        if not 1 <= pno <= pnum:
            raise Hj212Error("bad_subpacket", f"PNO={pno} outside 1..PNUM={pnum}")
        if pnum == 1:
            return merge_parts([message])
        key = _key(message)
        group = self._pending.get(key)
        if group is None:
            if len(self._pending) >= self.max_pending:
                old_key = next(iter(self._pending))  # insertion order = oldest first
                old = self._pending.pop(old_key)
                self._evicted.append(Incomplete(old_key, old.pnum, old.parts, old.first_seen, "evicted"))
            group = self._pending[key] = _Pending(pnum, now)
        group.parts[pno] = message
        if len(group.parts) == pnum:
            del self._pending[key]
            return merge_parts(list(group.parts.values()))
        return None

    def expire(self, now: float) -> list[Incomplete]:
        """Give up on groups whose first part arrived more than ``timeout`` ago."""
        out, self._evicted = self._evicted, []
        limit = now - self.timeout
        stale = [k for k, g in self._pending.items() if g.first_seen <= limit]
        for k in stale:
            g = self._pending.pop(k)
            out.append(Incomplete(k, g.pnum, g.parts, g.first_seen))
        return out
