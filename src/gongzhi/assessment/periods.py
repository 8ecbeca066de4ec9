"""Assessment periods (评价时段): calendar months, quarters and years in Beijing time.

A period is named by its kind and an ``at`` text: ``month`` + ``2026-10``, ``quarter`` +
``2026-Q4`` (``2026-10`` also names the quarter holding October), ``year`` + ``2026``.
Periods start and end at Beijing midnight (UTC+8), as the store's aggregates do
(:mod:`gongzhi.observations.aggregates`). No Django here."""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass

BEIJING = dt.timezone(dt.timedelta(hours=8), "CST")
KINDS = ("month", "quarter", "year")

_MONTH = re.compile(r"^(\d{4})-(\d{1,2})$")
_QUARTER = re.compile(r"^(\d{4})-?[Qq]([1-4])$")
_YEAR = re.compile(r"^(\d{4})$")


class PeriodError(ValueError):
    """A period kind or ``at`` text that names no period."""


@dataclass(frozen=True)
class Period:
    kind: str
    year: int
    index: int  # month 1–12, quarter 1–4, year 1

    @property
    def first_month(self) -> int:
        return {"month": self.index, "quarter": 3 * self.index - 2, "year": 1}[self.kind]

    @property
    def n_months(self) -> int:
        return {"month": 1, "quarter": 3, "year": 12}[self.kind]

    @property
    def start(self) -> dt.datetime:
        return dt.datetime(self.year, self.first_month, 1, tzinfo=BEIJING)

    @property
    def end(self) -> dt.datetime:
        m = self.first_month + self.n_months
        y = self.year + (m - 1) // 12
        return dt.datetime(y, (m - 1) % 12 + 1, 1, tzinfo=BEIJING)

    def months(self) -> list[int]:
        return [self.first_month + i for i in range(self.n_months)]

    @property
    def at(self) -> str:
        if self.kind == "month":
            return f"{self.year:04d}-{self.index:02d}"
        if self.kind == "quarter":
            return f"{self.year:04d}-Q{self.index}"
        return f"{self.year:04d}"

    @property
    def days(self) -> int:
        return (self.end - self.start).days

    def previous(self) -> "Period":
        """The period just before (环比): last month, last quarter, last year."""
        if self.kind == "year":
            return Period("year", self.year - 1, 1)
        top = 12 if self.kind == "month" else 4
        return Period(self.kind, self.year, self.index - 1) if self.index > 1 else Period(self.kind, self.year - 1, top)

    def last_year(self) -> "Period":
        """The same period a year earlier (同比)."""
        return Period(self.kind, self.year - 1, self.index)

    def __str__(self) -> str:
        return self.at


def parse(kind: str, at: str) -> Period:
    """The period of ``kind`` named by ``at`` (see the module text); :class:`PeriodError` if none."""
    if kind not in KINDS:
        raise PeriodError(f"period must be one of {', '.join(KINDS)}")
    text = (at or "").strip()
    m = _MONTH.match(text)
    q = _QUARTER.match(text)
    y = _YEAR.match(text)
    if m:
        year, month = int(m.group(1)), int(m.group(2))
        if not 1 <= month <= 12:
            raise PeriodError("month must be 1–12")
    elif q:
        year, month = int(q.group(1)), 3 * int(q.group(2)) - 2
    elif y:
        year, month = int(y.group(1)), 1
    else:
        raise PeriodError("at is YYYY-MM, YYYY-Qn or YYYY")
    if not 1970 <= year <= 2200:
        raise PeriodError("year must be 1970–2200")
    if kind == "month":
        if not m:
            raise PeriodError("a month is YYYY-MM")
        return Period("month", year, month)
    if kind == "quarter":
        if y:
            raise PeriodError("a quarter is YYYY-Qn or YYYY-MM")
        return Period("quarter", year, (month - 1) // 3 + 1)
    if not y:
        raise PeriodError("a year is YYYY")
    return Period("year", year, 1)


def latest_complete(kind: str, now: dt.datetime) -> Period:
    """The newest period of ``kind`` that has ended by ``now`` (Beijing time)."""
    local = now.astimezone(BEIJING)
    if kind == "month":
        current = Period("month", local.year, local.month)
    elif kind == "quarter":
        current = Period("quarter", local.year, (local.month - 1) // 3 + 1)
    elif kind == "year":
        current = Period("year", local.year, 1)
    else:
        raise PeriodError(f"period must be one of {', '.join(KINDS)}")
    return current.previous()
