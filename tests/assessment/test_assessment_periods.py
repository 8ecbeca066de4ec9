"""Period rules: calendar months, quarters and years in Beijing time."""

from __future__ import annotations

import datetime as dt

import pytest

from gongzhi.assessment.periods import BEIJING, PeriodError, latest_complete, parse


def test_parse_and_bounds():
    m = parse("month", "2026-02")
    assert (m.start, m.end, m.days) == (dt.datetime(2026, 2, 1, tzinfo=BEIJING), dt.datetime(2026, 3, 1, tzinfo=BEIJING), 28)
    assert m.start.astimezone(dt.timezone.utc) == dt.datetime(2026, 1, 31, 16, tzinfo=dt.timezone.utc)
    q = parse("quarter", "2026-Q4")
    assert (q.at, q.months(), q.end) == ("2026-Q4", [10, 11, 12], dt.datetime(2027, 1, 1, tzinfo=BEIJING))
    assert parse("quarter", "2026-11").at == "2026-Q4"  # a month names its quarter
    y = parse("year", "2024")
    assert (y.days, y.n_months) == (366, 12)


def test_previous_and_same_period_last_year():
    assert parse("month", "2026-01").previous().at == "2025-12"
    assert parse("month", "2026-01").last_year().at == "2025-01"
    assert parse("quarter", "2026-Q1").previous().at == "2025-Q4"
    assert parse("year", "2026").previous().at == "2025" == parse("year", "2026").last_year().at


def test_latest_complete_period_uses_beijing_time():
    # 2026-12-31 17:00 UTC is already 1 January 2027 in Beijing: December 2026 has ended
    now = dt.datetime(2026, 12, 31, 17, 0, tzinfo=dt.timezone.utc)
    assert latest_complete("month", now).at == "2026-12"
    assert latest_complete("quarter", now).at == "2026-Q4"
    assert latest_complete("year", now).at == "2026"
    assert latest_complete("month", dt.datetime(2026, 12, 31, 15, 0, tzinfo=dt.timezone.utc)).at == "2026-11"


@pytest.mark.parametrize("kind, at", [
    ("week", "2026-01"), ("month", "2026-13"), ("month", "2026"), ("month", "26-01"), ("quarter", "2026-Q5"),
    ("quarter", "2026"), ("year", "2026-01"), ("year", "1800"), ("month", ""), ("month", "2026-01; DROP"),
])
def test_bad_periods_raise_period_error(kind, at):
    with pytest.raises(PeriodError):
        parse(kind, at)
