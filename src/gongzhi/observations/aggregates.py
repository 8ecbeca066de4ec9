"""Hour, day and month aggregates (小时/日/月统计值), recomputed when data change.

How it works
------------
* :func:`~gongzhi.observations.services.write_observations` marks the clock hour of every
  newly stored value dirty (:class:`~gongzhi.observations.models.DirtyPeriod`) in the
  writer's transaction; :func:`~gongzhi.observations.services.revise` does the same for a
  corrected value. An hour implies its day and its month.
* :func:`recompute_dirty` takes a batch of dirty keys and recomputes, vectorised over every
  series in the batch with Polars: the dirty hours (from their raw values), then the days
  containing them (from hour values), then the months (from day values). It then deletes
  exactly the keys it has seen, comparing their ``version``: a key marked again during the
  computation survives and is recomputed by the next run.

Periods are Beijing time (UTC+8, no daylight saving since 1991; HJ 663 days run
00:00–24:00 北京时间): an hour starts on a UTC hour, a day at 16:00 UTC of the previous
UTC day, a month at local midnight of its first day. ``start`` is stored in UTC.

Measurement groups and double counting
--------------------------------------
A *group* is one site (or outlet) × parameter; its automatic series are the kinds
``rtd``, ``min``, ``hour`` and ``day`` a logger may send side by side (HJ 212 2011, 2051,
2061, 2031). Lab/manual ``sample`` series form a group of their own and are never mixed
with automatic data. To count every measurement once:

* **hour** aggregates are computed per real-time or minute series, from that series' own
  values only, and stored on it;
* the **hour value of a group** is taken from exactly one source per hour, in this order:
  the logger's own hour value (2061, kind ``hour``) → the hour aggregate of the minute
  series → the hour aggregate of the real-time series (:func:`resolved_hours`);
* a **day** is computed from the group's resolved hour values (or, when the logger sent a
  daily value (2031, kind ``day``) for that day, that value) and a **month** from the days.
  Day and month aggregates are stored on the group's *anchor*: its automatic series with
  the lowest id (stable for ever: series are never deleted).

Validity and flags
------------------
:data:`RULES` is the one table of validity rules, per parameter domain, with confidence
marks ([P] primary text read, [S] secondary, [M] from memory). Deployments may override
any number with the Django setting ``GONGZHI_AGGREGATE_RULES`` (e.g.
``{"water": {"day_min_hours": 6}}``).

* A value is *usable* when it is not null, carries no invalidating QC bit and its HJ 212
  flag is ``N`` (or empty, e.g. lab data); a reviewer's correction makes it usable, a
  reviewer's invalidation unusable (:mod:`gongzhi.observations.services`).
* Hour flag (HJ 212-2017 Appendix C notes): water — any abnormal value makes the hour
  abnormal (flag = the most frequent abnormal flag); gas — at least 75 % normal values make
  it ``N``, otherwise ``D``. An hour is *valid* when its coverage rule holds **and** its flag
  is ``N``.
* Day and month: valid when enough valid hours (days) exist; flag ``N`` when valid, empty
  otherwise. Their value is the mean of the valid hour (day) values.
"""

from __future__ import annotations

import calendar
import dataclasses
import datetime as dt
from collections import defaultdict
from dataclasses import dataclass
from typing import Iterable

import numpy as np
import polars as pl
from django.conf import settings
from django.db import connection, transaction
from django.db.models import Q
from django.utils import timezone

from gongzhi.observations.models import (
    QC_INVALIDATING,
    Aggregate,
    DirtyPeriod,
    PendingChange,
    Observation,
    Period,
    Revision,
    Series,
    SeriesKind,
)
from gongzhi.standards import hj663

UTC = dt.timezone.utc
#: Beijing time (北京时间), the clock of HJ 663 days and of every period here.
BEIJING = dt.timezone(dt.timedelta(hours=8), "CST")
OFFSET = dt.timedelta(hours=8)
HOUR = dt.timedelta(hours=1)
DAY = dt.timedelta(days=1)

AUTO_KINDS = (SeriesKind.REALTIME, SeriesKind.MINUTE, SeriesKind.HOUR, SeriesKind.DAY)
#: which automatic source wins an hour (lower first): the logger's own hour value, then minute, then real-time
HOUR_SOURCE_PRIORITY = {SeriesKind.HOUR: 0, SeriesKind.MINUTE: 1, SeriesKind.REALTIME: 2}
NORMAL_FLAGS = ("N", "")
#: HJ 212-2017 Appendix C: a gas interval is normal with at least this share of normal values
GAS_NORMAL_SHARE = 0.75
#: abnormal flags ranked for ties of the water rule (most frequent wins, then this order)
FLAG_ORDER = "DFBTCMS"


@dataclass(frozen=True)
class AggregateRules:
    """Validity rules of one parameter domain. ``None`` means "rule not used"."""

    name: str
    #: "gas" (≥ 75 % normal → N, else D) or "water" (any abnormal → abnormal) [P HJ 212-2017 App. C notes]
    flag_rule: str
    #: an hour from real-time/minute values needs this many minutes covered by usable values
    hour_min_minutes: int | None
    #: …or (water) this many usable values
    hour_min_values: int | None
    #: a day needs this many valid hour values
    day_min_hours: int
    #: a month needs this many valid days (February: ``february_min_days``)
    month_min_days: int
    february_min_days: int
    confidence: str
    note: str


_H = hj663.RULES_2013

RULES: dict[str, AggregateRules] = {
    # GB 3095-2026 "数据统计的有效性规定" (unchanged from 2012): ≥ 45 min an hour, ≥ 20 h a day,
    # ≥ 27 days a month, February ≥ 25 [P, standards.md]; the same numbers as HJ 663-2013 [M]
    # (gongzhi.standards.hj663.RULES_2013, which this table reuses).
    "air": AggregateRules(
        "air", "gas", 45, None, _H.min_hours_per_day, _H.min_days_per_month, _H.min_days_per_february, "P",
        "GB 3095-2026 validity table; HJ 663-2013",
    ),
    # Surface-water automatic stations report every 1–4 h. No national day/month validity
    # count has been checked here: these numbers are placeholders [M] to be checked against
    # 《地表水环境质量监测数据统计技术规定（试行）》(环办监测函〔2020〕82号). Day: 4 values
    # (two thirds of the 6 values a 4-hourly station sends); month: as for air.
    "water": AggregateRules(
        "water", "water", None, 1, 4, 27, 25, "M",
        "placeholder: check against 环办监测函〔2020〕82号; configurable (GONGZHI_AGGREGATE_RULES)",
    ),
    # Lab and manual samples (手工监测): every usable sample counts; a day or month with one
    # valid sample is valid (its mean is the period's value). A design choice, not a standard.
    "sample": AggregateRules("sample", "water", None, 1, 1, 1, 1, "M", "design choice: any usable sample"),
}

#: parameter domain → rules name; anything not listed follows the water rules (any abnormal → abnormal)
DOMAIN_RULES = {
    "air": "air",
    "flue_gas_process": "air",
    "water": "water",
    "wastewater_process": "water",
}


def rules_for(name: str) -> AggregateRules:
    """The rules named ``name`` with the deployment's overrides applied."""
    base = RULES[name]
    overrides = (getattr(settings, "GONGZHI_AGGREGATE_RULES", None) or {}).get(name)
    return dataclasses.replace(base, **overrides) if overrides else base


def rules_for_domain(domain: str, kind: str = "") -> AggregateRules:
    if kind == SeriesKind.SAMPLE:
        return rules_for("sample")
    return rules_for(DOMAIN_RULES.get(domain, "water"))


# --- periods -----------------------------------------------------------------------------------


def hour_start(t: dt.datetime) -> dt.datetime:
    return t.astimezone(UTC).replace(minute=0, second=0, microsecond=0)


def day_start(t: dt.datetime) -> dt.datetime:
    local = t.astimezone(BEIJING)
    return local.replace(hour=0, minute=0, second=0, microsecond=0).astimezone(UTC)


def month_start(t: dt.datetime) -> dt.datetime:
    local = t.astimezone(BEIJING)
    return local.replace(day=1, hour=0, minute=0, second=0, microsecond=0).astimezone(UTC)


def next_month(start: dt.datetime) -> dt.datetime:
    local = start.astimezone(BEIJING)
    y, m = (local.year + 1, 1) if local.month == 12 else (local.year, local.month + 1)
    return local.replace(year=y, month=m).astimezone(UTC)


def period_end(period: str, start: dt.datetime) -> dt.datetime:
    if period == Period.HOUR:
        return start + HOUR
    if period == Period.DAY:
        return start + DAY
    return next_month(start)


def days_in_month(start: dt.datetime) -> int:
    local = start.astimezone(BEIJING)
    return calendar.monthrange(local.year, local.month)[1]


def _floor_day(col: pl.Expr) -> pl.Expr:
    return (col + pl.duration(hours=8)).dt.truncate("1d") - pl.duration(hours=8)


def _floor_month(col: pl.Expr) -> pl.Expr:
    return (col + pl.duration(hours=8)).dt.truncate("1mo") - pl.duration(hours=8)


# --- database reads --------------------------------------------------------------------------------

_OBS = Observation._meta.db_table
_REV = Revision._meta.db_table
_AGG = Aggregate._meta.db_table
_DIRTY = DirtyPeriod._meta.db_table


def _adapt(t: dt.datetime):
    return connection.ops.adapt_datetimefield_value(t)


def _time_sql(column: str) -> str:
    """Select a datetime column in a form Polars converts without Python objects: epoch
    microseconds on PostgreSQL, the stored UTC text on SQLite."""
    if connection.vendor == "postgresql":
        # date_part is double precision (EXTRACT is numeric since PostgreSQL 14, several times
        # slower). Exact: a time is < 2^53 µs from 1970 and the double's error (< 0.2 µs for any
        # time before 2200) vanishes in the rounding cast.
        return f"(date_part('epoch', {column}) * 1000000)::bigint"
    return f"CAST({column} AS TEXT)"


Window = tuple[tuple[int, ...], dt.datetime, dt.datetime]  # (series ids, start, end)


def _windows_sql(column: str, windows: list[Window]) -> tuple[str, list]:
    parts, params = [], []
    for ids, start, end in windows:
        parts.append(f"(series_id IN ({', '.join(['%s'] * len(ids))}) AND {column} >= %s AND {column} < %s)")
        params.extend(ids)
        params.extend((_adapt(start), _adapt(end)))
    return " OR ".join(parts), params


def _chunks(windows: list[Window], budget: int = 900) -> Iterable[list[Window]]:
    """Split windows so one statement binds at most ~``budget`` parameters (SQLite limits)."""
    out, used = [], 0
    for w in windows:
        ids, start, end = w
        for i in range(0, len(ids), budget):
            piece = (ids[i : i + budget], start, end)
            cost = len(piece[0]) + 2
            if out and used + cost > budget:
                yield out
                out, used = [], 0
            out.append(piece)
            used += cost
    if out:
        yield out


OBS_SCHEMA = {
    "series_id": pl.Int64, "time": pl.Datetime("us"), "raw": pl.Float64, "flag": pl.Utf8, "qc": pl.Int64,
    "rev_version": pl.Int64, "rev_value": pl.Float64, "rev_invalid": pl.Boolean,
}


def _time_column() -> pl.DataType:
    """The dtype the database hands :func:`_time_sql` columns over in."""
    return pl.Int64 if connection.vendor == "postgresql" else pl.Utf8


def _to_datetime(col: str) -> pl.Expr:
    """A :func:`_time_sql` column (epoch µs or SQLite text) → naive UTC ``Datetime("us")``."""
    if connection.vendor == "postgresql":
        return pl.col(col).cast(pl.Datetime("us"))
    return pl.col(col).str.to_datetime("%Y-%m-%d %H:%M:%S%.f", time_unit="us")


def _fetch_frame(cur, chunks: list[tuple[str, list]], schema: dict) -> pl.DataFrame:
    """Run each (sql, params) and build ONE frame from all rows, handed to Polars in one call.
    ``schema`` maps each selected column to its dtype; the time column is declared as
    ``"time"`` and converted with :func:`_to_datetime`."""
    raw_schema = {k: (_time_column() if v == "time" else v) for k, v in schema.items()}
    rows: list = []
    for sql, params in chunks:
        cur.execute(sql, params)
        rows.extend(cur.fetchall())
    frame = pl.DataFrame(rows, schema=raw_schema, orient="row")
    return frame.with_columns(_to_datetime(k) for k, v in schema.items() if v == "time")


#: Separator of the flags packed by :func:`_observations_packed` (ASCII unit separator).
_FLAG_SEP = "\x1f"


def _observations_packed(cur, chunks: list[tuple[str, list]]) -> pl.DataFrame | None:
    """PostgreSQL: the observations of the windows as a few packed rows, one per series — times,
    values and QC bits as big-endian binary arrays (``int8send``/``float8send`` aggregated with
    ``string_agg``), NULL values as a mask, flags joined by a separator — unpacked with NumPy.
    No Python object per value on either side (a row-by-row fetch of a year × 9 parameters
    creates ~400,000). Returns None if a flag holds the separator (the caller falls back)."""
    t = _time_sql("time")
    frames = []
    for where, params in chunks:
        cur.execute(
            f"SELECT series_id, count(*), string_agg(int8send({t}), ''::bytea), "
            f"string_agg(float8send(coalesce(value, 0)), ''::bytea), "
            f"string_agg(CASE WHEN value IS NULL THEN '1' ELSE '0' END, ''), "
            f"string_agg(int8send(qc::bigint), ''::bytea), string_agg(flag, E'\\x1f') "
            f"FROM {_OBS} WHERE {where} GROUP BY series_id",
            params,
        )
        for sid, n, times, values, nulls, qcs, flags in cur.fetchall():
            flag_list = flags.split(_FLAG_SEP)
            if len(flag_list) != n:
                return None
            raw = pl.Series("raw", np.frombuffer(bytes(values), dtype=">f8").astype(np.float64))
            null_mask = np.frombuffer(nulls.encode("ascii"), dtype=np.uint8) == ord("1")
            if null_mask.any():
                raw = pl.select(pl.when(pl.Series(null_mask)).then(None).otherwise(raw).alias("raw")).to_series()
            frames.append(pl.DataFrame({
                "series_id": np.full(n, sid, dtype=np.int64),
                "time": np.frombuffer(bytes(times), dtype=">i8").astype(np.int64),
                "raw": raw,
                "flag": pl.Series(flag_list, dtype=pl.Utf8),
                "qc": np.frombuffer(bytes(qcs), dtype=">i8").astype(np.int64),
            }))
    schema = {"series_id": pl.Int64, "time": pl.Int64, "raw": pl.Float64, "flag": pl.Utf8, "qc": pl.Int64}
    frame = pl.concat(frames) if frames else pl.DataFrame(schema=schema)
    return frame.with_columns(pl.col("time").cast(pl.Datetime("us")))


def load_values(windows: list[Window]) -> pl.DataFrame:
    """Observations in the windows with their latest revision, as a Polars frame with the
    columns of :data:`OBS_SCHEMA` plus ``value`` (effective), ``usable`` and ``flag_eff``.

    One statement per chunk of windows (all series of a window in one ``IN``), and each frame
    built from the fetched rows as whole columns."""
    obs_sql, rev_sql, packed = [], [], []
    for chunk in _chunks(windows):
        where, params = _windows_sql("time", chunk)
        packed.append((where, params))
        obs_sql.append((f"SELECT series_id, {_time_sql('time')}, value, flag, qc FROM {_OBS} WHERE {where}", params))
        rev_sql.append((
            f"SELECT series_id, {_time_sql('time')}, version, value, CASE WHEN invalid THEN 1 ELSE 0 END FROM {_REV} WHERE {where}",
            params,
        ))
    with connection.cursor() as cur:
        obs = _observations_packed(cur, packed) if connection.vendor == "postgresql" else None
        if obs is None:
            obs = _fetch_frame(cur, obs_sql, {"series_id": pl.Int64, "time": "time", "raw": pl.Float64, "flag": pl.Utf8, "qc": pl.Int64})
        revs = _fetch_frame(cur, rev_sql, {"series_id": pl.Int64, "time": "time", "rev_version": pl.Int64,
                                           "rev_value": pl.Float64, "rev_invalid": pl.Int64})
    revs = revs.with_columns(pl.col("rev_invalid").cast(pl.Boolean))
    if revs.height:
        revs = revs.sort("rev_version").group_by(["series_id", "time"]).last()
        obs = obs.join(revs, on=["series_id", "time"], how="left")
    else:
        obs = obs.with_columns(
            pl.lit(None, pl.Int64).alias("rev_version"), pl.lit(None, pl.Float64).alias("rev_value"),
            pl.lit(None, pl.Boolean).alias("rev_invalid"),
        )
    return with_effective(obs)


def with_effective(obs: pl.DataFrame) -> pl.DataFrame:
    revised = pl.col("rev_version").is_not_null()
    return obs.with_columns(
        pl.when(revised).then(pl.col("rev_value")).otherwise(pl.col("raw")).alias("value"),
        pl.when(revised)
        .then(~pl.col("rev_invalid") & pl.col("rev_value").is_not_null())
        .otherwise(
            pl.col("raw").is_not_null()
            & ((pl.col("qc") & QC_INVALIDATING) == 0)
            & pl.col("flag").is_in(list(NORMAL_FLAGS))
        )
        .alias("usable"),
        # a reviewer's correction counts as normal; otherwise the flag as received ("" → N)
        pl.when(revised & ~pl.col("rev_invalid"))
        .then(pl.lit("N"))
        .when(pl.col("flag") == "")
        .then(pl.lit("N"))
        .otherwise(pl.col("flag"))
        .alias("flag_eff"),
    )


def load_aggregates(period: str, windows: list[Window]) -> pl.DataFrame:
    chunks = []
    for chunk in _chunks(windows):
        where, params = _windows_sql("start", chunk)
        chunks.append((
            f"SELECT series_id, {_time_sql('start')}, value, vmin, vmax, n, coverage, CASE WHEN valid THEN 1 ELSE 0 END, "
            f"flag, source_kind FROM {_AGG} WHERE period = %s AND ({where})",
            [period, *params],
        ))
    with connection.cursor() as cur:
        frame = _fetch_frame(cur, chunks, {
            "series_id": pl.Int64, "start": "time", "value": pl.Float64, "vmin": pl.Float64, "vmax": pl.Float64,
            "n": pl.Int64, "coverage": pl.Float64, "valid": pl.Int64, "flag": pl.Utf8, "source_kind": pl.Utf8,
        })
    return frame.with_columns(pl.col("valid").cast(pl.Boolean))


# --- groups ---------------------------------------------------------------------------------------


@dataclass
class Group:
    key: tuple  # ("s", site id | "o", outlet id, parameter id, family)
    anchor: int
    domain: str
    members: dict[str, int]  # kind → series id

    @property
    def family(self) -> str:
        return self.key[3]

    @property
    def rules(self) -> AggregateRules:
        return rules_for("sample") if self.family == "sample" else rules_for_domain(self.domain)


def _family(kind: str) -> str:
    return "sample" if kind == SeriesKind.SAMPLE else "auto"


def groups_for(series_ids: Iterable[int]) -> tuple[dict[int, Group], dict[tuple, Group]]:
    """The measurement groups of ``series_ids``: (series id → group, key → group)."""
    ids = set(series_ids)
    if not ids:
        return {}, {}
    heads = list(Series.objects.filter(pk__in=ids).values_list("site_id", "outlet_id", "parameter_id", "kind"))
    wanted = {(("s", s) if s else ("o", o)) + (p, _family(k)) for s, o, p, k in heads}
    sites = {k[1] for k in wanted if k[0] == "s"}
    outlets = {k[1] for k in wanted if k[0] == "o"}
    params = {k[2] for k in wanted}
    rows = Series.objects.filter(Q(site_id__in=sites) | Q(outlet_id__in=outlets), parameter_id__in=params).values_list(
        "id", "site_id", "outlet_id", "parameter_id", "kind", "parameter__domain"
    )
    groups: dict[tuple, Group] = {}
    for sid, s, o, p, kind, domain in sorted(rows):
        key = (("s", s) if s else ("o", o)) + (p, _family(kind))
        if key not in wanted:
            continue
        g = groups.get(key)
        if g is None:
            g = groups[key] = Group(key, sid, domain, {})  # sorted by id: the first is the anchor
        g.members[kind] = sid
    by_series = {sid: g for g in groups.values() for sid in g.members.values()}
    return by_series, groups


# --- computations (pure on frames) ----------------------------------------------------------------


def compute_hours(values: pl.DataFrame, meta: pl.DataFrame) -> pl.DataFrame:
    """Hour aggregates of real-time/minute values. ``meta``: series_id, flag_rule,
    hour_min_minutes, hour_min_values. Returns one row per (series_id, start)."""
    if values.height == 0:
        return _empty_aggs()
    v = values.with_columns(pl.col("time").dt.truncate("1h").alias("start"))
    use = pl.col("usable")
    agg = v.group_by(["series_id", "start"]).agg(
        pl.col("value").filter(use).mean().alias("value"),
        pl.col("value").filter(use).min().alias("vmin"),
        pl.col("value").filter(use).max().alias("vmax"),
        use.sum().cast(pl.Int64).alias("n"),
        pl.col("time").filter(use).dt.truncate("1m").n_unique().alias("minutes"),
        pl.col("time").unique().sort().diff().dt.total_seconds().median().alias("spacing_s"),
        pl.len().alias("n_all"),
        (pl.col("flag_eff") == "N").sum().alias("n_normal"),
        pl.col("flag_eff").filter(pl.col("flag_eff") != "N").alias("abnormal"),
    )
    agg = agg.join(meta, on="series_id", how="left")
    step = (pl.col("spacing_s") / 60).round(0).fill_null(1).clip(1, 60)
    covered = pl.min_horizontal(pl.col("minutes") * step, pl.lit(60.0))
    agg = agg.with_columns(
        covered.alias("covered"),
        pl.col("abnormal").map_elements(_most_frequent_flag, return_dtype=pl.Utf8).alias("worst"),
    )
    flag = (
        pl.when(pl.col("flag_rule") == "gas")
        .then(pl.when(pl.col("n_normal") >= GAS_NORMAL_SHARE * pl.col("n_all")).then(pl.lit("N")).otherwise(pl.lit("D")))
        .otherwise(pl.when(pl.col("n_normal") == pl.col("n_all")).then(pl.lit("N")).otherwise(pl.col("worst")))
    )
    enough = (
        pl.when(pl.col("hour_min_minutes").is_not_null())
        .then(pl.col("covered") >= pl.col("hour_min_minutes"))
        .otherwise(pl.col("n") >= pl.col("hour_min_values"))
    )
    agg = agg.with_columns(flag.alias("flag"))
    return agg.select(
        "series_id", "start", "value", "vmin", "vmax", "n",
        (pl.col("covered") / 60.0).alias("coverage"),
        (enough & (pl.col("flag") == "N")).alias("valid"),
        "flag",
        pl.col("source_kind"),
    )


def _most_frequent_flag(flags) -> str | None:
    flags = list(flags)
    if not flags:
        return None
    counts: dict[str, int] = defaultdict(int)
    for f in flags:
        counts[f] += 1
    return max(counts, key=lambda f: (counts[f], -FLAG_ORDER.find(f) if f in FLAG_ORDER else -99))


def _empty_aggs() -> pl.DataFrame:
    return pl.DataFrame(
        schema={
            "series_id": pl.Int64, "start": pl.Datetime("us"), "value": pl.Float64, "vmin": pl.Float64,
            "vmax": pl.Float64, "n": pl.Int64, "coverage": pl.Float64, "valid": pl.Boolean, "flag": pl.Utf8,
            "source_kind": pl.Utf8,
        }
    )


def resolve_hour_candidates(candidates: pl.DataFrame) -> pl.DataFrame:
    """One hour value per (g, start): the candidate with the lowest ``priority`` (rows sorted by
    g, start, priority; the first row of each (g, start) run is kept — a sort and a vectorised
    comparison with the previous row, no group-by)."""
    ordered = candidates.sort(["g", "start", "priority"])
    first = (pl.col("g") != pl.col("g").shift(1)) | (pl.col("start") != pl.col("start").shift(1))
    return ordered.filter(first.fill_null(True))


def compute_periods(sub: pl.DataFrame, meta: pl.DataFrame, *, period: str) -> pl.DataFrame:
    """Day (from hour values) or month (from day values) aggregates per group ``g``.

    ``sub``: g, start, value, valid (one row per sub-period). ``meta``: g, min_count,
    min_count_feb (month only). The period's value is the mean of the valid sub-period
    values; it is valid with at least the rule's count of valid sub-periods."""
    if sub.height == 0:
        return pl.DataFrame(schema={"g": pl.Int64, "start": pl.Datetime("us")})
    floor = _floor_day if period == Period.DAY else _floor_month
    s = sub.with_columns(floor(pl.col("start")).alias("pstart"))
    ok = pl.col("valid")
    agg = s.group_by(["g", "pstart"]).agg(
        pl.col("value").filter(ok).mean().alias("value"),
        pl.col("value").filter(ok).min().alias("vmin"),
        pl.col("value").filter(ok).max().alias("vmax"),
        ok.sum().cast(pl.Int64).alias("n"),
    ).rename({"pstart": "start"})
    agg = agg.join(meta, on="g", how="left")
    if period == Period.DAY:
        need = pl.col("min_count")
        slots = pl.lit(24.0)
    else:
        local = pl.col("start") + pl.duration(hours=8)
        need = pl.when(local.dt.month() == 2).then(pl.col("min_count_feb")).otherwise(pl.col("min_count"))
        slots = ((local.dt.offset_by("1mo") - local).dt.total_days()).cast(pl.Float64)
    valid = pl.col("n") >= need
    return agg.with_columns(
        (pl.col("n") / slots).alias("coverage"),
        valid.alias("valid"),
        pl.when(valid).then(pl.lit("N")).otherwise(pl.lit("")).alias("flag"),
    )


# --- recompute --------------------------------------------------------------------------------------


@dataclass
class RecomputeResult:
    keys: int = 0
    hours: int = 0
    days: int = 0
    months: int = 0
    values: int = 0  # raw values read
    remaining: int = 0  # dirty keys left after this run (re-marked or beyond the limit)

    def __str__(self) -> str:
        return (
            f"{self.keys} dirty hours → {self.hours} hour, {self.days} day, {self.months} month aggregates "
            f"from {self.values} values; {self.remaining} dirty hours left"
        )


def _lock_recompute() -> None:
    """One recompute at a time: a slower run finishing after a faster one must not put back
    older results. PostgreSQL: a transaction-scoped advisory lock; SQLite serialises writers."""
    if connection.vendor == "postgresql":
        with connection.cursor() as cur:
            cur.execute("SELECT pg_advisory_xact_lock(%s)", [0x67_7A_61_67])  # "gzag"


def recompute_dirty(*, limit: int = 20000, now: dt.datetime | None = None, settled: bool = False) -> RecomputeResult:
    """Recompute the aggregates of up to ``limit`` dirty hours (oldest marks first) and their
    days and months, then delete the keys seen (unless marked again meanwhile).

    ``settled``: only hours that are over (``start + 1 h ≤ now``); the hour still running stays
    dirty for a later round. A periodic recompute uses it, so an hourly mean, and an alarm on it,
    is computed once its hour is complete, not again at every new value."""
    from gongzhi.observations.services import apply_pending_changes

    result = RecomputeResult()
    now = now or timezone.now()
    apply_pending_changes()
    with transaction.atomic():
        _lock_recompute()
        qs = DirtyPeriod.objects.order_by("id")
        if settled:
            qs = qs.filter(start__lte=now - dt.timedelta(hours=1))
        keys = list(qs.values_list("id", "series_id", "start", "version")[:limit])
        if keys:
            result.keys = len(keys)
            _recompute(keys, now, result)
            _delete_seen(keys)
    # work left: hours still dirty, plus writes not yet folded into dirty hours
    result.remaining = DirtyPeriod.objects.count() + PendingChange.objects.count()
    return result


def recompute_settled(*, limit: int = 20000, now: dt.datetime | None = None) -> int:
    """One round of a periodic recompute: every dirty hour that is over, in batches of ``limit``;
    returns how many dirty hours were recomputed."""
    total = 0
    while True:
        r = recompute_dirty(limit=limit, now=now, settled=True)
        total += r.keys
        if r.keys < limit:
            return total


def _delete_seen(keys: list[tuple]) -> None:
    """Delete the dirty keys seen, unless marked again since (their version moved on):
    one row-value statement per 2,000 keys on either database."""
    with connection.cursor() as cur:
        for i in range(0, len(keys), 2000):
            part = keys[i : i + 2000]
            cur.execute(
                f"DELETE FROM {_DIRTY} WHERE (id, version) IN (VALUES "
                + ", ".join(["(%s, %s)"] * len(part))
                + ")",
                [x for kid, _sid, _start, version in part for x in (kid, version)],
            )


def recompute_all(*, series_ids: Iterable[int] | None = None) -> RecomputeResult:
    """Mark every stored hour (of ``series_ids`` or of all series) dirty and recompute:
    for a rebuild after a rule change. Runs in batches."""
    from gongzhi.observations.services import mark_dirty

    qs = Observation.objects.all()
    if series_ids is not None:
        qs = qs.filter(series_id__in=list(series_ids))
    with transaction.atomic():
        batch = []
        for sid, t in qs.values_list("series_id", "time").iterator(chunk_size=20000):
            batch.append((sid, t))
            if len(batch) >= 20000:
                mark_dirty(batch)
                batch = []
        mark_dirty(batch)
    total = RecomputeResult()
    while True:
        r = recompute_dirty()
        for f in ("keys", "hours", "days", "months", "values"):
            setattr(total, f, getattr(total, f) + getattr(r, f))
        total.remaining = r.remaining
        if not r.keys:
            return total


def _recompute(keys: list[tuple], now: dt.datetime, result: RecomputeResult) -> None:
    by_series, groups = groups_for(k[1] for k in keys)
    kinds = {sid: kind for g in groups.values() for kind, sid in g.members.items()}
    gindex = {key: i for i, key in enumerate(groups)}
    glist = list(groups.values())

    # 1. hours of real-time and minute series, from their raw values
    hour_keys: dict[dt.datetime, set[int]] = defaultdict(set)
    days: dict[dt.datetime, set[int]] = defaultdict(set)  # day start → group indexes
    for _kid, sid, start, _v in keys:
        g = by_series.get(sid)
        if g is None:
            continue
        start = start.astimezone(UTC) if start.tzinfo else start.replace(tzinfo=UTC)
        if kinds[sid] in (SeriesKind.REALTIME, SeriesKind.MINUTE):
            hour_keys[start].add(sid)
        days[day_start(start)].add(gindex[g.key])
    windows = [(tuple(sorted(ids)), h, h + HOUR) for h, ids in sorted(hour_keys.items())]
    if windows:
        values = load_values(windows)
        result.values += values.height
        meta = pl.DataFrame(
            [
                (sid, r.flag_rule, r.hour_min_minutes, r.hour_min_values, kinds[sid])
                for sid in {s for _, ids in hour_keys.items() for s in ids}
                for r in [by_series[sid].rules]
            ],
            schema={"series_id": pl.Int64, "flag_rule": pl.Utf8, "hour_min_minutes": pl.Int64, "hour_min_values": pl.Int64, "source_kind": pl.Utf8},
            orient="row",
        )
        hours = compute_hours(values, meta)
        result.hours += _store(hours, Period.HOUR, now)

    # 2. days of every touched group, from resolved hour values (or the logger's daily value)
    day_windows_by_group = [(glist[gi], d) for d, gis in days.items() for gi in gis]
    day_aggs = _compute_days(day_windows_by_group, gindex)
    result.days += _store(day_aggs, Period.DAY, now)

    # 3. months, from the day aggregates just stored
    months: dict[dt.datetime, set[int]] = defaultdict(set)
    for d, gis in days.items():
        months[month_start(d)].update(gis)
    month_aggs = _compute_months([(glist[gi], m) for m, gis in months.items() for gi in gis], gindex)
    result.months += _store(month_aggs, Period.MONTH, now)


def hour_candidates(items: list[tuple[Group, dt.datetime, dt.datetime]], gindex: dict) -> pl.DataFrame:
    """Every hour value candidate of the groups in the ranges, with its priority: the
    logger's hour values (effective, revisions applied) and the hour aggregates of the
    minute and real-time series. Columns g, start, value, valid, flag, n, coverage, priority, source_kind."""
    agg_windows: dict[tuple, list[int]] = defaultdict(list)
    obs_windows: dict[tuple, list[int]] = defaultdict(list)
    prio: dict[int, tuple[int, int, str]] = {}
    for g, start, end in items:
        gi = gindex[g.key]
        for kind, sid in g.members.items():
            if kind in (SeriesKind.REALTIME, SeriesKind.MINUTE):
                agg_windows[(start, end)].append(sid)
            elif kind == SeriesKind.HOUR:
                obs_windows[(start, end)].append(sid)
            else:
                continue
            prio[sid] = (gi, HOUR_SOURCE_PRIORITY[kind], kind)
    frames = []
    if agg_windows:
        a = load_aggregates(Period.HOUR, [(tuple(sorted(set(v))), s, e) for (s, e), v in agg_windows.items()])
        frames.append(a.select("series_id", "start", "value", "valid", "flag", "n", "coverage"))
    if obs_windows:
        o = load_values([(tuple(sorted(set(v))), s, e) for (s, e), v in obs_windows.items()])
        frames.append(
            o.select(
                "series_id",
                pl.col("time").dt.truncate("1h").alias("start"),
                "value",
                pl.col("usable").alias("valid"),
                pl.col("flag_eff").alias("flag"),
                pl.col("usable").cast(pl.Int64).alias("n"),
                pl.lit(1.0).alias("coverage"),
            )
        )
    if not frames:
        return pl.DataFrame(schema={"g": pl.Int64, "start": pl.Datetime("us"), "value": pl.Float64, "valid": pl.Boolean})
    cand = pl.concat(frames, how="vertical_relaxed")
    pm = pl.DataFrame(
        [(sid, gi, p, k) for sid, (gi, p, k) in prio.items()],
        schema={"series_id": pl.Int64, "g": pl.Int64, "priority": pl.Int64, "source_kind": pl.Utf8},
        orient="row",
    )
    return cand.join(pm, on="series_id", how="inner")


def _compute_days(items: list[tuple[Group, dt.datetime]], gindex: dict) -> pl.DataFrame:
    if not items:
        return _empty_aggs()
    auto = [(g, d, d + DAY) for g, d in items if g.family == "auto"]
    sample = [(g, d, d + DAY) for g, d in items if g.family == "sample"]
    frames = []
    if auto:
        cand = hour_candidates(auto, gindex)
        hours = resolve_hour_candidates(cand) if cand.height else cand
        meta = _meta_frame([g for g, _, _ in auto], gindex, "day")
        computed = compute_periods(hours.select("g", "start", "value", "valid"), meta, period=Period.DAY)
        if computed.height:
            frames.append(computed.with_columns(pl.lit(SeriesKind.HOUR).alias("source_kind")))
        # the logger's own daily value (2031) wins its day
        daily = [(g, s, e) for g, s, e in auto if SeriesKind.DAY in g.members]
        if daily:
            dv = load_values([((g.members[SeriesKind.DAY],), s, e) for g, s, e in daily])
            if dv.height:
                gmap = pl.DataFrame(
                    [(g.members[SeriesKind.DAY], gindex[g.key]) for g, _, _ in daily],
                    schema={"series_id": pl.Int64, "g": pl.Int64}, orient="row",
                ).unique()
                dv = dv.join(gmap, on="series_id").select(
                    "g", _floor_day(pl.col("time")).alias("start"), "value",
                    pl.col("value").alias("vmin"), pl.col("value").alias("vmax"),
                    pl.col("usable").cast(pl.Int64).alias("n"), pl.lit(1.0).alias("coverage"),
                    pl.col("usable").alias("valid"), pl.col("flag_eff").alias("flag"),
                    pl.lit(SeriesKind.DAY).alias("source_kind"),
                ).group_by(["g", "start"]).first()
                frames.append(dv)
    if sample:
        sv = load_values([((g.members[SeriesKind.SAMPLE],), s, e) for g, s, e in sample])
        gmap = pl.DataFrame(
            [(g.members[SeriesKind.SAMPLE], gindex[g.key]) for g, _, _ in sample],
            schema={"series_id": pl.Int64, "g": pl.Int64}, orient="row",
        ).unique()
        sv = sv.join(gmap, on="series_id").select("g", pl.col("time").alias("start"), "value", pl.col("usable").alias("valid"))
        meta = _meta_frame([g for g, _, _ in sample], gindex, "day")
        computed = compute_periods(sv, meta, period=Period.DAY)
        if computed.height:
            frames.append(computed.with_columns(pl.lit(SeriesKind.SAMPLE).alias("source_kind")))
    if not frames:
        return _empty_aggs()
    cols = ["g", "start", "value", "vmin", "vmax", "n", "coverage", "valid", "flag", "source_kind"]
    # a logger's daily value (appended last) replaces the day computed from hours
    out = pl.concat([f.select(cols) for f in frames], how="vertical_relaxed")
    out = out.with_row_index("_i").sort("_i", descending=True).group_by(["g", "start"], maintain_order=True).first()
    return _to_anchor(out.drop("_i"), [g for g, _ in items], gindex)


def _compute_months(items: list[tuple[Group, dt.datetime]], gindex: dict) -> pl.DataFrame:
    if not items:
        return _empty_aggs()
    windows: dict[tuple, list[int]] = defaultdict(list)
    for g, m in items:
        windows[(m, next_month(m))].append(g.anchor)
    days = load_aggregates(Period.DAY, [(tuple(sorted(set(v))), s, e) for (s, e), v in windows.items()])
    amap = pl.DataFrame(
        [(g.anchor, gindex[g.key]) for g, _ in items], schema={"series_id": pl.Int64, "g": pl.Int64}, orient="row"
    ).unique()
    days = days.join(amap, on="series_id")
    meta = _meta_frame([g for g, _ in items], gindex, "month")
    out = compute_periods(days.select("g", "start", "value", "valid"), meta, period=Period.MONTH)
    if out.height == 0:
        return _empty_aggs()
    return _to_anchor(out.with_columns(pl.lit(Period.DAY).alias("source_kind")), [g for g, _ in items], gindex)


def _meta_frame(groups: list[Group], gindex: dict, period: str) -> pl.DataFrame:
    rows = {}
    for g in groups:
        r = g.rules
        if period == "day":
            rows[gindex[g.key]] = (r.day_min_hours, r.day_min_hours)
        else:
            rows[gindex[g.key]] = (r.month_min_days, r.february_min_days)
    return pl.DataFrame(
        [(gi, a, b) for gi, (a, b) in rows.items()],
        schema={"g": pl.Int64, "min_count": pl.Int64, "min_count_feb": pl.Int64}, orient="row",
    )


def _to_anchor(frame: pl.DataFrame, groups: Iterable[Group], gindex: dict) -> pl.DataFrame:
    """Replace the group index ``g`` by the group's anchor series id."""
    anchors = {gindex[g.key]: g.anchor for g in groups}
    return frame.with_columns(
        pl.col("g").replace_strict(anchors, return_dtype=pl.Int64).alias("series_id")
    ).drop("g")


#: Callables run after the transaction that stored recomputed aggregates commits, each with
#: the rows as ``(series_id, period, start, value, valid, flag)`` tuples (hour and day periods).
#: Like the write listeners of :mod:`gongzhi.observations.services`: hand the rows on, return.
_aggregate_listeners: list = []


def add_aggregate_listener(fn) -> None:
    if fn not in _aggregate_listeners:
        _aggregate_listeners.append(fn)


def remove_aggregate_listener(fn) -> None:
    if fn in _aggregate_listeners:
        _aggregate_listeners.remove(fn)


def _fire_aggregate_listeners(rows: list[tuple]) -> None:
    import logging

    for fn in list(_aggregate_listeners):
        try:
            fn(rows)
        except Exception:  # never let a listener break the recompute
            logging.getLogger(__name__).exception("aggregate listener %r failed", fn)


def _store(frame: pl.DataFrame, period: str, now: dt.datetime) -> int:
    if frame.height == 0:
        return 0
    if _aggregate_listeners and period in (Period.HOUR, Period.DAY):
        rows = [
            (r["series_id"], str(period), r["start"].replace(tzinfo=UTC), r["value"], bool(r["valid"]), r["flag"] or "")
            for r in frame.select("series_id", "start", "value", "valid", "flag").iter_rows(named=True)
        ]
        transaction.on_commit(lambda: _fire_aggregate_listeners(rows))
    objs = [
        Aggregate(
            series_id=r["series_id"], period=period, start=r["start"].replace(tzinfo=UTC), value=r["value"],
            vmin=r["vmin"], vmax=r["vmax"], n=r["n"] or 0, coverage=r["coverage"] or 0.0, valid=bool(r["valid"]),
            flag=r["flag"] or "", source_kind=r["source_kind"] or "", computed=now,
        )
        for r in frame.iter_rows(named=True)
    ]
    Aggregate.objects.bulk_create(
        objs, batch_size=2000, update_conflicts=True, unique_fields=["series", "period", "start"],
        update_fields=["value", "vmin", "vmax", "n", "coverage", "valid", "flag", "source_kind", "computed"],
    )
    return len(objs)
