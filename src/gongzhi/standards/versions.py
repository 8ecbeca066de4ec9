"""Versioned standards: which edition of a standard applies to a value.

Every standard the platform computes is a table (or a rule set) with an effective
date. A computation over a time series picks, for each value, the edition in force
at that value's time, unless the caller names one edition explicitly.

Confidence marks follow ``shared/reference/standards.md``:
``P`` read in a copy of the primary text, ``S`` secondary source,
``M`` from memory (to be checked before it is relied on), ``U`` unverified.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Sequence

import numpy as np

__all__ = ["Edition", "editions_in_force", "edition_by_code"]


@dataclass(frozen=True)
class Edition:
    """One edition of a standard (e.g. ``HJ 633-2012``).

    ``effective`` is the first day the edition applies (local time, Asia/Shanghai,
    as the standards date themselves); ``until`` is the last day it applies, or
    ``None`` while in force.
    """

    code: str
    title: str
    effective: date
    until: date | None = None
    confidence: str = "P"
    notes: tuple[str, ...] = field(default_factory=tuple)

    def in_force_on(self, day: date) -> bool:
        return self.effective <= day and (self.until is None or day <= self.until)

    def as_metadata(self) -> dict:
        return {
            "code": self.code,
            "title": self.title,
            "effective": self.effective.isoformat(),
            "until": self.until.isoformat() if self.until else None,
            "confidence": self.confidence,
            "notes": list(self.notes),
        }


def _to_day_numbers(times) -> np.ndarray:
    """Days since the epoch (int64) for dates, datetimes or numpy datetime64 values."""
    arr = np.asarray(times)
    if arr.dtype.kind == "M":
        return arr.astype("datetime64[D]").astype(np.int64)
    if arr.dtype == object or arr.dtype.kind in "US":
        out = np.empty(arr.shape, dtype=np.int64)
        flat = arr.ravel()
        for i, t in enumerate(flat):
            if isinstance(t, datetime):
                t = t.date()
            elif isinstance(t, str):
                t = date.fromisoformat(t[:10])
            out.ravel()[i] = np.datetime64(t, "D").astype(np.int64)
        return out
    raise TypeError(f"cannot read times of dtype {arr.dtype}")


def editions_in_force(editions: Sequence[Edition], times) -> np.ndarray:
    """Index into ``editions`` of the edition in force at each time (vectorised).

    ``editions`` must be sorted by ``effective`` and contiguous. Times before the
    first edition get the first edition (the earliest rules are the best we know
    for old data); this is documented, not silent: callers put the edition used in
    their result metadata.
    """
    days = _to_day_numbers(times)
    starts = np.array([np.datetime64(e.effective, "D").astype(np.int64) for e in editions])
    if np.any(np.diff(starts) <= 0):
        raise ValueError("editions must be sorted by effective date")
    idx = np.searchsorted(starts, days, side="right") - 1
    return np.clip(idx, 0, len(editions) - 1)


def edition_by_code(editions: Sequence[Edition], code: str) -> int:
    """Index of the edition named ``code`` (e.g. ``"HJ 633-2026"``); ValueError names the choices."""
    for i, e in enumerate(editions):
        if e.code.replace(" ", "").upper() == code.replace(" ", "").upper():
            return i
    raise ValueError(f"unknown edition {code!r}; known: {', '.join(e.code for e in editions)}")
