"""``gongzhi standards water-class``: GB 3838-2002 classes of a table of water samples.

Registered under ``gongzhi standards`` by :mod:`gongzhi.cli.standards`, which calls
:func:`register` with its sub-parsers object.

Input (CSV or XLSX) columns, matched case-insensitively:

* ``site`` — section/site id (required with ``--period``);
* ``time`` — sampling time (required with ``--period``; ISO dates or date-times);
* ``waterbody`` — ``river``, ``lake``, ``reservoir`` or ``river_reservoir`` (also
  河流/湖泊/水库/河道型水库); required;
* indicator columns by short name (``nh3_n``, mg/L) or HJ 212-2017 code
  (``w21003``), values in the code's HJ 212 unit (e.g. ``w20142`` mercury in µg/L,
  converted to mg/L). Reference indicators ``tn`` and ``fecal_coliform`` get their
  own class column but never enter the class.

Output: the input columns plus ``class`` (Ⅰ … 劣Ⅴ), ``class_num`` (1–6),
``grade`` (优 … 重度污染), ``grade_en``, ``main_pollutants`` (``nh3_n(1.6),tp(0.75)``,
exceedance multiples over the class Ⅲ limit) and ``class_<indicator>`` per
indicator. Rows without any class indicator value have empty class cells. With
``--period`` the rows are first averaged per site and period; the output then has
``site, period, waterbody, n`` and the period means (short names, GB 3838 units).

Errors (exit status 1, message on stderr) name the data row (1-based, header not
counted; the file line is one more) and the column: a non-numeric value, a negative
concentration, pH outside 0–14, an infinite value, a missing or unknown waterbody,
an unknown column (unless ``--ignore-unknown``, which passes it through with a
warning), an indicator given twice, or an unreadable time with ``--period``.
Empty cells are missing values.
"""

from __future__ import annotations

import argparse
import sys

__all__ = ["register", "run_water_class", "WaterInputError"]

_META = ("site", "time", "waterbody")


class WaterInputError(ValueError):
    """A problem with the input table; the message names row and column."""


def register(standards_subparsers) -> argparse.ArgumentParser:
    """Add ``water-class`` to the ``gongzhi standards`` sub-parsers and return its parser."""
    p = standards_subparsers.add_parser(
        "water-class",
        help="GB 3838-2002 water classes of a CSV/XLSX table (环办〔2011〕22号 rules)",
        description=(
            "Classify surface-water samples by GB 3838-2002 Table 1 with the 环办〔2011〕22号 "
            "rules: single-factor class, grade, main pollutants. Input columns: site, time, "
            "waterbody (river/lake/reservoir/river_reservoir) and indicators by short name "
            "(ph, do, codmn, cod, bod5, nh3_n, tp, tn, cu, zn, fluoride, se, as, hg, cd, cr6, "
            "pb, cyanide, phenol, petroleum, las, sulfide, fecal_coliform; mg/L) or HJ 212 code "
            "(e.g. w21003; in the code's unit)."),
    )
    p.add_argument("input", help="input table (.csv or .xlsx)")
    p.add_argument("-o", "--output", required=True, help="output table (.csv or .xlsx)")
    p.add_argument("--period", choices=("month", "quarter", "year"),
                   help="average per site and period first (arithmetic means; pH see --ph-mean)")
    p.add_argument("--ph-mean", choices=("hplus", "arithmetic"), default="hplus",
                   help="pH period mean: mean H+ activity (default, 环办监测函〔2020〕82号) "
                        "or arithmetic")
    p.add_argument("--tn-in-lake-class", action="store_true",
                   help="let TN enter the class of lake/reservoir rows (local practice; "
                        "never rivers)")
    p.add_argument("--ignore-unknown", action="store_true",
                   help="pass unknown columns through (with a warning) instead of failing")
    p.set_defaults(func=run_water_class)
    return p


def _prepare(df, *, ignore_unknown: bool, need_time: bool):
    """Validate and type the input. Returns (frame, indicator column names, meta names)."""
    import numpy as np
    import polars as pl

    from gongzhi.cli._tables import row_msg as _row_msg
    from gongzhi.standards import gb3838

    lower = {c: c.strip().lower() for c in df.columns}
    meta: dict[str, str] = {}
    ind_cols: dict[str, str] = {}  # short name → column
    unknown: list[str] = []
    for col, low in lower.items():
        if low in _META:
            if low in meta:
                raise WaterInputError(f"column {low!r} given twice")
            meta[low] = col
            continue
        try:
            key, _ = gb3838.resolve_indicator(low)
        except KeyError:
            unknown.append(col)
            continue
        if key in ind_cols:
            raise WaterInputError(
                f"indicator {key!r} given twice: columns {ind_cols[key]!r} and {col!r}")
        ind_cols[key] = col
    if unknown and not ignore_unknown:
        raise WaterInputError(
            f"column {unknown[0]!r} is not a known indicator (short name or HJ 212 code) nor "
            f"site/time/waterbody; use --ignore-unknown to pass it through")
    for u in unknown:
        print(f"warning: column {u!r} is not an indicator; passed through unchanged",
              file=sys.stderr)
    if "waterbody" not in meta:
        raise WaterInputError(
            "missing column 'waterbody' (river, lake, reservoir or river_reservoir)")
    if need_time:
        for m in ("site", "time"):
            if m not in meta:
                raise WaterInputError(f"missing column {m!r} (needed with --period)")
    if not ind_cols:
        raise WaterInputError("no indicator column (e.g. nh3_n or w21003)")

    # indicators → Float64, naming the first bad cell
    casts = {}
    for key, col in ind_cols.items():
        s = df[col]
        if s.dtype == pl.Utf8 or s.dtype == pl.String:
            raw = s.str.strip_chars().replace("", None)
            f = raw.cast(pl.Float64, strict=False)
            bad = (f.is_null() & raw.is_not_null()).to_numpy()
            if bad.any():
                i = int(np.flatnonzero(bad)[0])
                raise WaterInputError(_row_msg(i, col, f"{raw[i]!r} is not a number"))
        elif s.dtype.is_numeric() or s.dtype == pl.Null:
            f = s.cast(pl.Float64)
        else:
            raise WaterInputError(f"column {col!r}: values of type {s.dtype} are not numbers")
        v = f.to_numpy().astype(np.float64)  # null → NaN
        if key == "ph":
            bad = (v < 0) | (v > 14) | np.isinf(v)
            what = "pH must be within 0–14"
        else:
            bad = (v < 0) | np.isinf(v)
            what = "concentration must be a finite non-negative number"
        if bad.any():
            i = int(np.flatnonzero(bad)[0])
            raise WaterInputError(_row_msg(i, col, f"{float(v[i])!r}: {what}"))
        casts[col] = pl.Series(col, v, dtype=pl.Float64, nan_to_null=True)
    df = df.with_columns(list(casts.values()))

    # waterbody
    wcol = meta["waterbody"]
    wb = (df[wcol].cast(pl.Utf8).fill_null("").str.strip_chars().str.to_lowercase()
          .str.replace_all(r"[- ]", "_"))
    bad = (~wb.is_in(list(gb3838.WATERBODY_TYPES)) | (wb == "")).to_numpy()
    if bad.any():
        i = int(np.flatnonzero(bad)[0])  # the first bad row
        if wb[i] == "":
            raise WaterInputError(_row_msg(i, wcol, "waterbody is empty"))
        raise WaterInputError(_row_msg(
            i, wcol, f"unknown waterbody {df[wcol][i]!r} "
                     "(river, lake, reservoir or river_reservoir)"))
    norm = wb
    df = df.with_columns(pl.Series(wcol, norm, dtype=pl.Utf8))

    if need_time:
        tcol = meta["time"]
        t = df[tcol]
        if t.dtype in (pl.Date, pl.Datetime) or isinstance(t.dtype, pl.Datetime):
            parsed = t.cast(pl.Datetime)
        else:
            raw = t.cast(pl.Utf8).str.strip_chars()
            parsed = raw.str.to_datetime(strict=False)
            bad = (parsed.is_null() & raw.is_not_null() & (raw != "")).to_numpy()
            if bad.any():
                i = int(np.flatnonzero(bad)[0])
                raise WaterInputError(_row_msg(i, tcol, f"{raw[i]!r} is not a date or date-time"))
        nulls = parsed.is_null().to_numpy()
        if nulls.any():
            i = int(np.flatnonzero(nulls)[0])
            raise WaterInputError(_row_msg(i, tcol, "time is empty"))
        df = df.with_columns(parsed.alias(tcol))
        scol = meta["site"]
        snull = df[scol].is_null().to_numpy()
        if snull.any():
            i = int(np.flatnonzero(snull)[0])
            raise WaterInputError(_row_msg(i, scol, "site is empty"))
    return df, ind_cols, meta


def _period_label(period: str, dt) -> str:
    if period == "month":
        return f"{dt.year:04d}-{dt.month:02d}"
    if period == "quarter":
        return f"{dt.year:04d}Q{(dt.month - 1) // 3 + 1}"
    return f"{dt.year:04d}"


def classify_table(df, *, period: str | None = None, ph_mean: str = "hplus",
                   tn_in_lake_class: bool = False, ignore_unknown: bool = False):
    """The command's computation on a Polars frame (no file I/O); raises WaterInputError."""
    import polars as pl

    from gongzhi.standards import gb3838

    df, ind_cols, meta = _prepare(df, ignore_unknown=ignore_unknown, need_time=period is not None)
    keys = [k for k in gb3838.INDICATORS if k in ind_cols]
    site = meta.get("site", "site")
    time = meta.get("time", "time")
    wcol = meta["waterbody"]
    work = df.select(
        ([pl.col(site)] if site in df.columns else [])
        + ([pl.col(time)] if time in df.columns else [])
        + [pl.col(wcol)] + [pl.col(ind_cols[k]) for k in keys])
    res = gb3838.classify_frame(work, site=site, time=time, waterbody=wcol, period=period,
                                ph_method=ph_mean, tn_in_lake_class=tn_in_lake_class)
    result_cols = ["class", "class_num", "grade", "grade_en", "main_pollutants"] + [
        f"class_{k}" for k in keys]
    res = res.with_columns(
        [pl.when(pl.col(c) == 0).then(None).otherwise(pl.col(c)).alias(c)
         for c in ["class_num"] + [f"class_{k}" for k in keys]]
        + [pl.col("main_pollutants").replace("", None)])
    if period is None:
        return df.hstack(res.select(result_cols))
    labels = [_period_label(period, d) for d in res["period"].to_list()]
    res = res.with_columns(pl.Series("period", labels, dtype=pl.Utf8))
    return res.select([site, "period", wcol, "n"] + keys + result_cols)


def run_water_class(args: argparse.Namespace) -> int:
    """Entry point of ``gongzhi standards water-class``; returns the exit status."""
    from gongzhi.cli._tables import TableError, read_table, write_table

    try:
        df = read_table(args.input)
    except FileNotFoundError:
        print(f"error: {args.input}: no such file", file=sys.stderr)
        return 1
    except TableError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    try:
        out = classify_table(df, period=args.period, ph_mean=args.ph_mean,
                             tn_in_lake_class=args.tn_in_lake_class,
                             ignore_unknown=args.ignore_unknown)
    except WaterInputError as exc:
        print(f"error: {args.input}: {exc}", file=sys.stderr)
        return 1
    try:
        write_table(out, args.output)
    except (TableError, OSError) as exc:
        print(f"error: {args.output}: {exc}", file=sys.stderr)
        return 1
    n = out.height
    print(f"{n} row{'s' if n != 1 else ''} classified → {args.output}", file=sys.stderr)
    return 0
