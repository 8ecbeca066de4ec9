"""Data validity and statistics for ambient air assessment, HJ 663-2013 (环境空气质量评价技术规范).

HJ 663-2026 (effective 2026-03-01: exceptional events, three-year rolling averages,
rounding details) has **not** been verified here. The 2013 rules sit behind a version
switch (:data:`EDITIONS`, :func:`rules_for`); whichever edition is asked for, the 2013
rules are applied and every result's metadata says
``"HJ 663-2026 not verified; 2013 rules applied"``.

Time convention. An hourly value is the mean of one clock hour. Arrays of shape
``(..., 24)`` hold one natural day (自然日), index ``h`` = the hour 𝒉:00–(𝒉+1):00, i.e.
*start-labelled*. The CNEMC publishes end-labelled hours ("16时" = 15:00–16:00) [S];
:func:`daily_from_hourly` takes ``hour_label="end"`` for such data.

Confidence: validity counts are [P] (GB 3095-2026 validity table, "unchanged") and [M]
for HJ 663-2013 itself; the daily max 8-h O3 windows are [S] (see
:data:`O3_8H_WINDOW_ENDS`); the percentile formula is [M] and equals NumPy's ``linear``.

Example
-------
>>> import numpy as np
>>> from gongzhi.standards import hj663
>>> day = np.full(24, 40.0); day[:5] = np.nan          # 19 hours → no valid 24-h mean
>>> r = hj663.daily_mean(day)
>>> bool(r.valid), int(r.count), r.metadata["note"]
(False, 19, 'HJ 663-2026 not verified; 2013 rules applied')
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date

import numpy as np

from gongzhi.standards.versions import Edition, edition_by_code

__all__ = [
    "EDITIONS", "RULES_2013", "ValidityRules", "NOT_VERIFIED_NOTE", "O3_8H_WINDOW_ENDS",
    "StatResult", "rules_for", "percentile", "daily_mean", "o3_8h_moving",
    "o3_daily_max_8h", "o3_daily_max_1h", "min_days_in_month", "monthly_mean",
    "annual_statistic", "good_day_ratio", "daily_from_hourly", "DailyTable",
]

NOT_VERIFIED_NOTE = "HJ 663-2026 not verified; 2013 rules applied"

EDITIONS: tuple[Edition, ...] = (
    Edition("HJ 663-2013", "环境空气质量评价技术规范（试行）", date(2013, 10, 1),
            date(2026, 2, 28), "M",
            ("effective date from memory [M]; rules as listed in ValidityRules",)),
    Edition("HJ 663-2026", "环境空气质量评价技术规范", date(2026, 3, 1), None, "U",
            (NOT_VERIFIED_NOTE,)),
)

#: The 8-h O3 windows that belong to a day: those *ending* at 08:00, 09:00, …, 24:00 of
#: that day (17 windows, each wholly inside the day: 00–08 … 16–24) [S: CNEMC release
#: notes "8小时滑动平均值是指当前小时前8小时…的算术平均值" and the day's T8…T24 values;
#: the widely used 8时至24时 rule of HJ 663-2013, text not re-read here].
O3_8H_WINDOW_ENDS: tuple[int, ...] = tuple(range(8, 25))


@dataclass(frozen=True)
class ValidityRules:
    """Validity and statistics rules (HJ 663-2013; GB 3095 Table "数据统计的有效性规定")."""

    #: a 24-h mean needs at least this many hourly values [P GB 3095-2026 table; M HJ 663]
    min_hours_per_day: int = 20
    #: an 8-h O3 mean needs at least this many of its 8 hourly values [P / M]
    min_hours_per_8h: int = 6
    #: the daily max 8-h O3 needs at least this many valid 8-h means among the day's 17 [M]
    min_8h_means_per_day: int = 14
    #: the daily max 1-h O3 is judged like a 24-h value: ≥ this many hours [M]
    min_hours_for_daily_max_1h: int = 20
    #: a monthly mean needs this many daily values; February fewer [P / M]
    min_days_per_month: int = 27
    min_days_per_february: int = 25
    #: an annual statistic needs this many daily values [P / M]
    min_days_per_year: int = 324
    #: annual CO: this percentile of the daily means; O3: of the daily max 8-h means [M]
    co_annual_percentile: float = 95.0
    o3_annual_percentile: float = 90.0
    #: a good day has AQI ≤ this (HJ 633 levels 1–2) [P]
    good_day_max_aqi: int = 100


RULES_2013 = ValidityRules()


def rules_for(edition: str | None = None) -> tuple[ValidityRules, dict]:
    """Rules and metadata for an HJ 663 edition (default HJ 663-2013).

    Asking for ``"HJ 663-2026"`` returns the 2013 rules: the 2026 text is not verified.
    The metadata always carries :data:`NOT_VERIFIED_NOTE`.
    """
    i = 0 if edition is None else edition_by_code(EDITIONS, edition)
    asked = EDITIONS[i]
    return RULES_2013, {
        "standard": "HJ 663",
        "edition_requested": asked.code,
        "edition_applied": EDITIONS[0].code,
        "note": NOT_VERIFIED_NOTE,
    }


@dataclass
class StatResult:
    """A statistic with its validity: ``value`` (NaN when invalid), ``count`` of values
    used, ``valid`` flag, and metadata naming the rule and :data:`NOT_VERIFIED_NOTE`."""

    value: np.ndarray
    count: np.ndarray
    valid: np.ndarray
    metadata: dict = field(default_factory=dict)


def _meta(edition: str | None, **rule) -> dict:
    _, m = rules_for(edition)
    m.update(rule)
    return m


def percentile(values, p: float) -> float:
    """The p-th percentile by the HJ 663 formula (NaN ignored).

    Sort ascending X(1) ≤ … ≤ X(n); k = 1 + (n − 1)·p/100; s = ⌊k⌋;
    P = X(s) + (X(s+1) − X(s))·(k − s). Equals ``numpy.percentile(..., method="linear")``.
    [M: HJ 663-2013 percentile formula]

    Parameters
    ----------
    values : array_like
        e.g. a year of daily CO means (mg/m³).
    p : float
        Percent, 0–100 (95 for CO, 90 for O3).

    Returns
    -------
    float
        NaN for no values.

    Examples
    --------
    >>> percentile([1, 2, 3, 4, 5, 6, 7, 8, 9, 10], 95)
    9.55
    >>> percentile([0.7], 95)
    0.7
    """
    x = np.sort(np.asarray(values, dtype=np.float64).reshape(-1))
    x = x[~np.isnan(x)]
    n = len(x)
    if n == 0:
        return float("nan")
    if not 0 <= p <= 100:
        raise ValueError("p is a percent between 0 and 100")
    k = 1 + (n - 1) * p / 100.0
    s = int(np.floor(k))
    if s >= n:
        return float(x[n - 1])
    return float(x[s - 1] + (x[s] - x[s - 1]) * (k - s))


def daily_mean(hourly, *, edition: str | None = None) -> StatResult:
    """24-h mean (24小时平均) of each day, valid with ≥ 20 hourly values.

    Parameters
    ----------
    hourly : array_like, shape (..., 24)
        One natural day per row of hourly means, µg/m³ (CO mg/m³); NaN = missing.

    Returns
    -------
    StatResult
        ``value`` NaN where fewer than 20 hours.

    Examples
    --------
    >>> x = np.array([np.r_[np.full(20, 30.0), np.full(4, np.nan)],
    ...               np.r_[np.full(19, 30.0), np.full(5, np.nan)]])
    >>> daily_mean(x).valid.tolist()
    [True, False]
    """
    rules, _ = rules_for(edition)
    h = np.asarray(hourly, dtype=np.float64)
    if h.shape[-1] != 24:
        raise ValueError("hourly values must have 24 per day on the last axis")
    ok = ~np.isnan(h)
    count = ok.sum(axis=-1)
    total = np.where(ok, h, 0.0).sum(axis=-1)
    valid = count >= rules.min_hours_per_day
    with np.errstate(invalid="ignore", divide="ignore"):
        value = np.where(valid, total / np.maximum(count, 1), np.nan)
    return StatResult(value, count, valid, _meta(
        edition, rule=f"24-h mean valid with ≥ {rules.min_hours_per_day} hourly values"))


def o3_8h_moving(hourly, *, edition: str | None = None) -> StatResult:
    """8-h moving means of a contiguous hourly O3 series (8小时滑动平均).

    The value at hour t is the mean of hours t−7 … t (the 8 hours ending with t's
    hour), valid with ≥ 6 of those 8 values; hours before the series start count as
    missing.

    Parameters
    ----------
    hourly : array_like, shape (..., n)
        Hourly O3 means, µg/m³, regularly spaced (one per hour), NaN = missing.

    Examples
    --------
    >>> x = np.r_[np.full(8, 80.0), [np.nan, np.nan, 200.0]]
    >>> o3_8h_moving(x).value[7:].tolist()      # last: (5·80 + 200) / 6 valid hours
    [80.0, 80.0, 80.0, 100.0]
    """
    rules, _ = rules_for(edition)
    h = np.asarray(hourly, dtype=np.float64)
    ok = ~np.isnan(h)
    pad = [(0, 0)] * (h.ndim - 1) + [(8, 0)]
    cs = np.cumsum(np.pad(np.where(ok, h, 0.0), pad), axis=-1)
    cc = np.cumsum(np.pad(ok.astype(np.int64), pad), axis=-1)
    total = cs[..., 8:] - cs[..., :-8]
    count = cc[..., 8:] - cc[..., :-8]
    valid = count >= rules.min_hours_per_8h
    with np.errstate(invalid="ignore", divide="ignore"):
        value = np.where(valid, total / np.maximum(count, 1), np.nan)
    return StatResult(value, count, valid, _meta(
        edition, rule=f"8-h mean valid with ≥ {rules.min_hours_per_8h} of 8 hourly values"))


def o3_daily_max_8h(hourly, *, edition: str | None = None) -> StatResult:
    """Daily maximum 8-h O3 mean (臭氧日最大8小时平均) of each natural day.

    The day's 8-h means are those ending at 08:00 … 24:00 (:data:`O3_8H_WINDOW_ENDS`,
    17 windows inside the day); each needs ≥ 6 hourly values; the daily maximum needs
    ≥ 14 valid 8-h means.

    Parameters
    ----------
    hourly : array_like, shape (..., 24)
        Start-labelled hourly O3 means of each day, µg/m³.

    Returns
    -------
    StatResult
        ``count`` = number of valid 8-h means (0–17).

    Examples
    --------
    >>> day = np.full(24, 60.0); day[12:20] = 120.0
    >>> float(o3_daily_max_8h(day).value)
    120.0
    """
    rules, _ = rules_for(edition)
    h = np.asarray(hourly, dtype=np.float64)
    if h.shape[-1] != 24:
        raise ValueError("hourly values must have 24 per day on the last axis")
    m8 = o3_8h_moving(h, edition=edition)
    ends = np.asarray(O3_8H_WINDOW_ENDS) - 1  # window ending at e:00 ends with hour e−1
    means = m8.value[..., ends]
    n_valid = (~np.isnan(means)).sum(axis=-1)
    valid = n_valid >= rules.min_8h_means_per_day
    with np.errstate(invalid="ignore"):
        mx = np.where(n_valid > 0, np.nanmax(np.where(np.isnan(means), -np.inf, means),
                                             axis=-1), np.nan)
    value = np.where(valid, mx, np.nan)
    return StatResult(value, n_valid, valid, _meta(
        edition, rule=(f"8-h means ending 08:00–24:00 of the day; each ≥ "
                       f"{rules.min_hours_per_8h} h; ≥ {rules.min_8h_means_per_day} "
                       "valid means"), confidence="S"))


def o3_daily_max_1h(hourly, *, edition: str | None = None) -> StatResult:
    """Daily maximum 1-h O3 (臭氧日最大1小时平均), valid with ≥ 20 hourly values [M].

    >>> float(o3_daily_max_1h(np.r_[np.full(23, 50.0), 210.0]).value)
    210.0
    """
    rules, _ = rules_for(edition)
    h = np.asarray(hourly, dtype=np.float64)
    ok = ~np.isnan(h)
    count = ok.sum(axis=-1)
    valid = count >= rules.min_hours_for_daily_max_1h
    mx = np.where(ok, h, -np.inf).max(axis=-1)
    value = np.where(valid, mx, np.nan)
    return StatResult(value, count, valid, _meta(
        edition, rule=f"daily max 1-h valid with ≥ {rules.min_hours_for_daily_max_1h} h",
        confidence="M"))


def min_days_in_month(month: int, *, edition: str | None = None) -> int:
    """Daily values a monthly mean needs: 27, February 25.

    >>> min_days_in_month(2), min_days_in_month(3)
    (25, 27)
    """
    rules, _ = rules_for(edition)
    return rules.min_days_per_february if month == 2 else rules.min_days_per_month


def monthly_mean(daily, month: int, *, edition: str | None = None) -> StatResult:
    """Monthly mean of daily values (月平均), valid with ≥ 27 days (February ≥ 25).

    >>> bool(monthly_mean(np.r_[np.full(25, 40.0), [np.nan] * 3], 2).valid)
    True
    >>> bool(monthly_mean(np.r_[np.full(26, 40.0), [np.nan] * 5], 3).valid)
    False
    """
    need = min_days_in_month(month, edition=edition)
    return _period_stat(daily, need, None, edition, f"monthly mean, ≥ {need} daily values")


def annual_statistic(daily, pollutant: str, *, edition: str | None = None) -> StatResult:
    """Annual statistic of daily values (年评价), valid with ≥ 324 daily values.

    ``so2, no2, pm10, pm2_5``: mean of the daily 24-h means. ``co``: 95th percentile of
    the daily 24-h means. ``o3``: 90th percentile of the daily max 8-h means.

    >>> r = annual_statistic(np.linspace(0.4, 1.2, 365), "co")
    >>> round(float(r.value), 3), bool(r.valid)
    (1.16, True)
    """
    rules, _ = rules_for(edition)
    p = {"co": rules.co_annual_percentile, "o3": rules.o3_annual_percentile}.get(pollutant)
    if pollutant not in ("so2", "no2", "pm10", "pm2_5", "co", "o3"):
        raise ValueError(f"no annual statistic for {pollutant!r}")
    what = "mean" if p is None else f"{p:g}th percentile (HJ 663 formula)"
    return _period_stat(daily, rules.min_days_per_year, p, edition,
                        f"annual {what}, ≥ {rules.min_days_per_year} daily values")


def _period_stat(daily, need: int, p: float | None, edition, rule: str) -> StatResult:
    d = np.asarray(daily, dtype=np.float64).reshape(-1)
    count = int((~np.isnan(d)).sum())
    valid = count >= need
    if not valid or count == 0:
        value = np.nan
    elif p is None:
        value = float(np.nanmean(d))
    else:
        value = percentile(d, p)
    return StatResult(np.asarray(value), np.asarray(count), np.asarray(valid),
                      _meta(edition, rule=rule))


def good_day_ratio(daily_aqi, *, edition: str | None = None) -> StatResult:
    """Good-day ratio (优良天数比例): days with AQI ≤ 100 / days with a valid AQI.

    ``value`` is a fraction (0–1); ``count`` the valid days. NaN AQI = no valid day.

    >>> float(good_day_ratio([30, 80, 100, 101, np.nan]).value)
    0.75
    """
    rules, _ = rules_for(edition)
    a = np.asarray(daily_aqi, dtype=np.float64).reshape(-1)
    ok = ~np.isnan(a)
    n = int(ok.sum())
    good = int((a[ok] <= rules.good_day_max_aqi).sum())
    value = good / n if n else np.nan
    return StatResult(np.asarray(value), np.asarray(n), np.asarray(n > 0),
                      _meta(edition, rule="good day: AQI ≤ 100", good_days=good))


# ---------------------------------------------------------------------------------------
# Polars: hourly frame → daily frame
# ---------------------------------------------------------------------------------------


@dataclass
class DailyTable:
    """Daily statistics per station and day, plus metadata (rules, note)."""

    frame: "object"  # polars.DataFrame
    metadata: dict


DAILY_MEAN_POLLUTANTS: tuple[str, ...] = ("so2", "no2", "co", "pm10", "pm2_5")


def daily_from_hourly(df, *, station: str = "station", time: str = "time",
                      hour_label: str = "start", edition: str | None = None) -> DailyTable:
    """Hourly station data → one row per station and natural day, with validity.

    Parameters
    ----------
    df : polars.DataFrame
        Columns ``station``, ``time`` (datetime), and any of ``so2, no2, co, o3, pm10,
        pm2_5`` (float, null/NaN = missing; µg/m³, CO mg/m³).
    hour_label : {"start", "end"}
        ``"end"``: a time stamps the end of its hour (CNEMC: "16时" = 15:00–16:00), so
        ``D+1 00:00`` is the last hour of day D.

    Returns
    -------
    DailyTable
        ``frame`` columns: station, date; for SO2, NO2, CO, PM10, PM2.5 the 24-h mean
        (null when invalid), ``n_hours_<p>``; ``o3_1h_max``, ``o3_8h_max``,
        ``n_hours_o3``, ``n_o3_8h`` (valid 8-h means of the day);
        ``invalid`` — comma-separated statistics that failed their validity rule.

    Raises
    ------
    ValueError
        Duplicate station-hours (named).
    """
    import polars as pl

    rules, meta = rules_for(edition)
    if hour_label not in ("start", "end"):
        raise ValueError("hour_label must be 'start' or 'end'")
    present = [p for p in (*DAILY_MEAN_POLLUTANTS, "o3") if p in df.columns]
    t = pl.col(time)
    if hour_label == "end":
        t = t - pl.duration(hours=1)
    base = df.select(
        pl.col(station).cast(pl.Utf8).alias("station"),
        t.dt.truncate("1h").alias("_t"),
        *[pl.col(p).cast(pl.Float64).fill_nan(None).alias(p) for p in present],
    ).with_columns(pl.col("_t").dt.date().alias("date"), pl.col("_t").dt.hour().alias("_h"))
    dup = base.filter(pl.struct("station", "_t").is_duplicated())
    if dup.height:
        first = dup.select("station", "_t").unique().sort("station", "_t").head(3).rows()
        raise ValueError(f"duplicate station-hours, e.g. {first}")
    keys = base.select("station", "date").unique(maintain_order=True).sort("station", "date")
    keys = keys.with_row_index("_g")
    base = base.join(keys, on=["station", "date"], how="left")
    g = base["_g"].to_numpy().astype(np.int64)
    hr = base["_h"].to_numpy().astype(np.int64)
    n = keys.height
    cols: dict[str, object] = {"station": keys["station"], "date": keys["date"]}
    invalid: list[list[str]] = [[] for _ in range(n)]

    def grid(p: str) -> np.ndarray:
        a = np.full((n, 24), np.nan)
        a[g, hr] = base[p].to_numpy().astype(np.float64)
        return a

    for p in DAILY_MEAN_POLLUTANTS:
        if p not in present:
            cols[p] = pl.Series(p, [None] * n, dtype=pl.Float64)
            cols[f"n_hours_{p}"] = pl.Series(f"n_hours_{p}", [0] * n, dtype=pl.Int32)
            continue
        r = daily_mean(grid(p), edition=edition)
        cols[p] = pl.Series(p, r.value).fill_nan(None)
        cols[f"n_hours_{p}"] = pl.Series(f"n_hours_{p}", r.count, dtype=pl.Int32)
        for i in np.flatnonzero(~r.valid).tolist():
            invalid[i].append(p)
    if "o3" in present:
        o3 = grid("o3")
        r1 = o3_daily_max_1h(o3, edition=edition)
        r8 = o3_daily_max_8h(o3, edition=edition)
        cols["o3_1h_max"] = pl.Series("o3_1h_max", r1.value).fill_nan(None)
        cols["o3_8h_max"] = pl.Series("o3_8h_max", r8.value).fill_nan(None)
        cols["n_hours_o3"] = pl.Series("n_hours_o3", r1.count, dtype=pl.Int32)
        cols["n_o3_8h"] = pl.Series("n_o3_8h", r8.count, dtype=pl.Int32)
        for i in np.flatnonzero(~r1.valid).tolist():
            invalid[i].append("o3_1h_max")
        for i in np.flatnonzero(~r8.valid).tolist():
            invalid[i].append("o3_8h_max")
    else:
        for c, dt in (("o3_1h_max", pl.Float64), ("o3_8h_max", pl.Float64),
                      ("n_hours_o3", pl.Int32), ("n_o3_8h", pl.Int32)):
            cols[c] = pl.Series(c, [None if dt == pl.Float64 else 0] * n, dtype=dt)
    cols["invalid"] = pl.Series("invalid", [",".join(x) for x in invalid], dtype=pl.Utf8)
    meta.update({
        "hour_label": hour_label,
        "rules": {
            "24h_mean": f"≥ {rules.min_hours_per_day} hourly values",
            "o3_8h": f"≥ {rules.min_hours_per_8h} of 8 hours; windows ending 08:00–24:00",
            "o3_8h_max": f"≥ {rules.min_8h_means_per_day} valid 8-h means",
            "o3_1h_max": f"≥ {rules.min_hours_for_daily_max_1h} hourly values [M]",
        },
    })
    return DailyTable(pl.DataFrame(cols), meta)

