"""``gongzhi standards``: apply the national standards to a table (CSV or XLSX).

Sub-commands:

* ``aqi`` — HJ 633 AQI of hourly (实时报) or daily (日报) values (this module);
* ``water-class`` — GB 3838 water classes (:mod:`gongzhi.cli.standards_water`, registered
  by :func:`_register_water_class` when that module is present).

``gongzhi standards aqi --period hour|day INPUT -o OUTPUT [--from-hourly] [--edition CODE]``

Hourly input columns: ``station, time, so2, no2, co, o3, pm10, pm2_5`` (1-h means, µg/m³,
CO mg/m³; optional ``so2_24h``, used by HJ 633-2012 when 1-h SO2 > 800). Daily input:
``station, date, so2, no2, co, pm10, pm2_5, o3_1h_max, o3_8h_max`` (24-h means, daily max
1-h and max 8-h O3) — or hourly input with ``--from-hourly``, which first applies the
HJ 663 validity rules and reports invalid days. Column names match case-insensitively;
a missing pollutant column counts as all missing.

Output: the input columns unchanged, then ``aqi`` (from the pollutants present),
``aqi_published`` (the AQI, or ``NA`` under the HJ 633-2026 missing-data rule),
``level`` (1–6), ``category`` (优 … 严重污染), ``category_en``, ``primary_pollutant``
(input column names, comma-separated, empty when AQI ≤ 50), ``iaqi_<column>`` per
pollutant, ``edition`` (HJ 633-2012/2026, chosen by each row's time unless
``--edition``) and ``notes`` (rules that fired: incomplete data, the 800 µg/m³ rules,
an IAQI capped at 500, a negative value left out).

Bad input: a non-numeric or non-finite cell, a negative concentration or an unreadable
time is an error naming the data row (1-based, header not counted; file line = row + 1)
and the column; all such cells are listed (up to 20) and the exit status is 1. With
``--on-invalid missing`` a non-numeric or negative cell is instead treated as missing,
with a warning and a note on its row. A concentration above the top breakpoint of its
table gets IAQI 500 (the top of the scale), flagged in ``notes``.
"""

from __future__ import annotations

import argparse
import importlib
import sys

__all__ = ["register", "run_aqi", "AqiInputError"]

HOURLY_COLUMNS = ("so2", "no2", "co", "o3", "pm10", "pm2_5")
DAILY_COLUMNS = ("so2", "no2", "co", "pm10", "pm2_5", "o3_1h_max", "o3_8h_max")
_MAX_ERRORS = 20
_CHUNK = 200_000


class AqiInputError(ValueError):
    """Bad input cells; ``problems`` lists one message per cell (row and column named)."""

    def __init__(self, problems: list[str]):
        self.problems = problems
        more = "" if len(problems) <= _MAX_ERRORS else f"\n… and {len(problems) - _MAX_ERRORS} more"
        super().__init__("\n".join(problems[:_MAX_ERRORS]) + more)


def register(subparsers) -> argparse.ArgumentParser:
    """Add ``standards`` and its sub-commands to the ``gongzhi`` parser."""
    p = subparsers.add_parser(
        "standards",
        help="apply national standards to a CSV/XLSX table (AQI, water classes)",
        description="Apply national standards (HJ 633 AQI, GB 3838 water classes, …) to a "
                    "CSV or XLSX table. The edition in force at each row's time is used "
                    "unless one is named.",
    )
    sub = p.add_subparsers(dest="standards_command", metavar="STANDARDS_COMMAND")
    _register_aqi(sub)
    _register_water_class(sub)

    def _help(_args) -> int:
        p.print_help()
        return 2

    p.set_defaults(func=_help)
    return p


def _register_aqi(sub) -> None:
    p = sub.add_parser(
        "aqi",
        help="HJ 633 AQI of hourly or daily air-quality values",
        description=__doc__.split("\n\n", 3)[3] if __doc__ else None,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("input", help="input table (.csv or .xlsx)")
    p.add_argument("-o", "--output", required=True, help="output table (.csv or .xlsx)")
    p.add_argument("--period", required=True, choices=("hour", "day"),
                   help="hour: 实时报 from 1-h means; day: 日报 from daily values")
    p.add_argument("--from-hourly", action="store_true",
                   help="with --period day: input is hourly; daily values are computed "
                        "with the HJ 663 validity rules and invalid days reported")
    p.add_argument("--edition", metavar="CODE",
                   help="HJ 633 edition for all rows (HJ 633-2012 or HJ 633-2026); "
                        "default: by each row's time (before 2026-03-01 → 2012)")
    p.add_argument("--hour-label", choices=("start", "end"), default="start",
                   help="an hourly time stamps the start (default) or the end of its hour "
                        "(CNEMC: '16时' = 15:00–16:00 → end)")
    p.add_argument("--on-invalid", choices=("error", "missing"), default="error",
                   help="non-numeric or negative cells: fail listing them (default) or "
                        "treat them as missing with a warning")
    p.set_defaults(func=run_aqi)


# ---------------------------------------------------------------------------------------
# WATER: the water engineer's ``water-class`` command lives in gongzhi.cli.standards_water.
# ---------------------------------------------------------------------------------------
def _register_water_class(sub) -> None:
    """Register ``gongzhi standards water-class`` if :mod:`gongzhi.cli.standards_water` exists.

    That module exposes ``register(standards_subparsers)``.
    """
    try:
        module = importlib.import_module("gongzhi.cli.standards_water")
    except ModuleNotFoundError as exc:
        if exc.name == "gongzhi.cli.standards_water":
            return
        raise
    module.register(sub)


# ---------------------------------------------------------------------------------------
# aqi
# ---------------------------------------------------------------------------------------


def _resolve(df, wanted: tuple[str, ...], required: tuple[str, ...]) -> dict[str, str]:
    """Canonical name → the input column, matching case-insensitively."""
    lower: dict[str, str] = {}
    for c in df.columns:
        key = c.strip().lower()
        if key in lower:
            raise AqiInputError([f"columns {lower[key]!r} and {c!r} are the same column"])
        lower[key] = c
    found = {w: lower[w] for w in wanted if w in lower}
    missing = [r for r in required if r not in found]
    if missing:
        raise AqiInputError([f"missing column {m!r} (columns: {', '.join(df.columns)})"
                             for m in missing])
    return found


def _parse_numbers(df, cols: dict[str, str], on_invalid: str, problems: list[str],
                   warnings: list[tuple[int, str]]):
    """Text columns → float64 arrays (NaN = missing), collecting bad cells by row/column."""
    import numpy as np
    import polars as pl

    from gongzhi.cli._tables import row_msg

    out = {}
    for key, col in cols.items():
        s = df[col]
        raw = s if s.dtype == pl.Utf8 else s.cast(pl.Utf8)
        f = raw.str.strip_chars().cast(pl.Float64, strict=False)
        v = f.to_numpy().astype(np.float64)
        is_text = raw.is_not_null().to_numpy()
        bad_text = is_text & ~np.isfinite(v)  # not a number, or nan/inf written out
        negative = v < 0
        for i in np.flatnonzero(bad_text).tolist():
            what = f"{raw[i]!r} is not a number"
            if on_invalid == "missing":
                warnings.append((i, f"{col}: {raw[i]!r} is not a number, treated as missing"))
            else:
                problems.append(row_msg(i, col, what))
        for i in np.flatnonzero(negative).tolist():
            what = f"negative concentration {raw[i]}"
            if on_invalid == "missing":
                warnings.append((i, f"{col}: negative value {raw[i]} treated as missing"))
            else:
                problems.append(row_msg(i, col, what + " (a concentration cannot be below 0)"))
        v[bad_text | negative] = np.nan
        out[key] = v
    return out


_TIME_FORMATS = ("%Y-%m-%d %H:%M:%S", "%Y-%m-%d %H:%M", "%Y-%m-%dT%H:%M:%S",
                 "%Y-%m-%dT%H:%M", "%Y/%m/%d %H:%M:%S", "%Y/%m/%d %H:%M")
_DATE_FORMATS = ("%Y-%m-%d", "%Y/%m/%d", "%Y%m%d")


def _parse_times(df, col: str, *, dates: bool, problems: list[str]):
    """Text column → polars Datetime/Date series; unreadable cells named by row."""
    import numpy as np
    import polars as pl

    from gongzhi.cli._tables import row_msg

    raw = df[col].cast(pl.Utf8).str.strip_chars()
    fmts = _DATE_FORMATS if dates else _TIME_FORMATS
    conv = (lambda f: raw.str.to_date(f, strict=False)) if dates else \
        (lambda f: raw.str.to_datetime(f, strict=False, time_unit="us"))
    parsed = pl.select(pl.coalesce([conv(f) for f in fmts])).to_series()
    if not dates:
        # a bare date counts as its 00:00
        bare = raw.str.to_date("%Y-%m-%d", strict=False).cast(pl.Datetime("us"))
        parsed = pl.select(pl.coalesce([parsed, bare])).to_series()
    bad = (parsed.is_null() & raw.is_not_null()).to_numpy()
    for i in np.flatnonzero(bad).tolist():
        problems.append(row_msg(i, col, f"{raw[i]!r} is not a {'date' if dates else 'time'} "
                                        f"(e.g. {'2026-03-01' if dates else '2026-03-01 14:00'})"))
    for i in np.flatnonzero(raw.is_null().to_numpy()).tolist():
        problems.append(row_msg(i, col, "blank"))
    return parsed


def _aqi_columns(result, keys_to_cols: dict[str, str], all_keys: tuple[str, ...],
                 warnings: list[tuple[int, str]], n: int):
    """The added output columns of an AqiResult."""
    import numpy as np
    import polars as pl

    def ints(a, name):
        return pl.Series(name, a).fill_nan(None).cast(pl.Int64)

    prim_masks = result.primary
    names = {k: keys_to_cols.get(k, k) for k in all_keys}
    stacked = np.stack([prim_masks[k] for k in all_keys], axis=1)
    primary = [""] * n
    for i in np.flatnonzero(stacked.any(axis=1)).tolist():
        primary[i] = ",".join(names[k] for k, hit in zip(all_keys, stacked[i]) if hit)

    notes: list[list[str]] = [[] for _ in range(n)]
    for i, msg in warnings:
        notes[i].append(msg)
    flags = result.flags
    for i in np.flatnonzero(flags["so2_1h_above_800"]).tolist():
        code = result.editions[result.edition_index[i]].code
        notes[i].append("SO2 1-h > 800: " + ("24-h SO2 IAQI used" if code.endswith("2012")
                                              else "IAQI 200"))
    for i in np.flatnonzero(flags["so2_24h_missing_for_fallback"]).tolist():
        notes[i].append("SO2 1-h > 800 and no so2_24h: SO2 left out")
    for i in np.flatnonzero(flags["o3_8h_above_800"]).tolist():
        code = result.editions[result.edition_index[i]].code
        notes[i].append("O3 8-h > 800: " + ("1-h O3 IAQI used" if code.endswith("2012")
                                             else "IAQI 300"))
    for k in all_keys:
        for i in np.flatnonzero(result.capped[k]).tolist():
            notes[i].append(f"{names[k]} above the top breakpoint: IAQI capped at 500")
    for i in np.flatnonzero(~result.complete & ~np.isnan(result.aqi)).tolist():
        code = result.editions[result.edition_index[i]].code
        miss = [names[k] for k in all_keys
                if np.isnan(result.iaqi[k][i]) and _in_set(code, k, result)]
        notes[i].append("incomplete: " + ",".join(miss) + " missing")
    for i in np.flatnonzero(~result.publishable & ~np.isnan(result.aqi)).tolist():
        notes[i].append("AQI NA: HJ 633-2026 publishes an incomplete AQI only above 100")
    for i in np.flatnonzero(np.isnan(result.aqi)).tolist():
        notes[i].append("no pollutant value: no AQI")

    cols = [
        ints(result.aqi, "aqi"),
        pl.Series("aqi_published", result.published_aqi(), dtype=pl.Utf8),
        pl.Series("level", result.level).cast(pl.Int64).replace(0, None),
        pl.Series("category", result.category_zh().tolist(), dtype=pl.Utf8),
        pl.Series("category_en", result.category_en().tolist(), dtype=pl.Utf8),
        pl.Series("primary_pollutant", primary, dtype=pl.Utf8),
    ]
    cols += [ints(result.iaqi[k], f"iaqi_{names[k]}") for k in all_keys]
    cols += [
        pl.Series("edition", result.edition_codes().tolist(), dtype=pl.Utf8),
        pl.Series("notes", ["; ".join(x) for x in notes], dtype=pl.Utf8),
    ]
    return cols


def _in_set(code: str, key: str, result) -> bool:
    from gongzhi.standards import hj633

    sets = hj633.HOURLY_SET if result.metadata["period"] == "hour" else hj633.DAILY_SET
    return key in sets[code]


def _compute(arrays, *, period, times, edition, hour_label, n, progress_label):
    """hj633.aqi in chunks, with progress on stderr for long runs."""
    import numpy as np

    from gongzhi.cli._tables import Progress
    from gongzhi.standards import hj633

    if n <= _CHUNK:
        return hj633.aqi(arrays, period=period, times=times, edition=edition,
                         hour_label=hour_label)
    parts = []
    with Progress(n, progress_label) as pr:
        for s in range(0, n, _CHUNK):
            e = min(n, s + _CHUNK)
            parts.append(hj633.aqi({k: v[s:e] for k, v in arrays.items()}, period=period,
                                   times=None if times is None else times[s:e],
                                   edition=edition, hour_label=hour_label))
            pr.update(e - s)
    first = parts[0]
    cat = np.concatenate
    return hj633.AqiResult(
        aqi=cat([p.aqi for p in parts]), level=cat([p.level for p in parts]),
        iaqi={k: cat([p.iaqi[k] for p in parts]) for k in first.iaqi},
        edition_index=cat([p.edition_index for p in parts]), editions=first.editions,
        complete=cat([p.complete for p in parts]),
        publishable=cat([p.publishable for p in parts]),
        flags={k: cat([p.flags[k] for p in parts]) for k in first.flags},
        metadata=first.metadata,
        has_exceeding_rule=cat([p.has_exceeding_rule for p in parts]),
        capped={k: cat([p.capped[k] for p in parts]) for k in first.capped},
    )


def _hourly(df, args, problems, warnings):
    cols = _resolve(df, ("station", "time", *HOURLY_COLUMNS, "so2_24h"), ("station", "time"))
    pcols = {k: c for k, c in cols.items() if k not in ("station", "time")}
    times = _parse_times(df, cols["time"], dates=False, problems=problems)
    arrays = _parse_numbers(df, pcols, args.on_invalid, problems, warnings)
    return cols, pcols, times, arrays


def run_aqi(args: argparse.Namespace) -> int:
    """Entry point of ``gongzhi standards aqi``; returns the exit status."""
    import numpy as np
    import polars as pl

    from gongzhi.cli._tables import TableError, read_table, write_table
    from gongzhi.standards import hj633, hj663

    if args.edition:
        try:
            hj633.select_editions(edition=args.edition)
        except ValueError as exc:
            print(f"error: --edition: {exc}", file=sys.stderr)
            return 2
    if args.from_hourly and args.period != "day":
        print("error: --from-hourly goes with --period day", file=sys.stderr)
        return 2
    try:
        df = read_table(args.input)
    except FileNotFoundError:
        print(f"error: {args.input}: no such file", file=sys.stderr)
        return 1
    except TableError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1

    problems: list[str] = []
    warnings: list[tuple[int, str]] = []
    try:
        if args.period == "hour" or args.from_hourly:
            cols, pcols, times, arrays = _hourly(df, args, problems, warnings)
        else:
            cols = _resolve(df, ("station", "date", *DAILY_COLUMNS), ("station", "date"))
            pcols = {k: c for k, c in cols.items() if k not in ("station", "date")}
            times = _parse_times(df, cols["date"], dates=True, problems=problems)
            arrays = _parse_numbers(df, pcols, args.on_invalid, problems, warnings)
        if not pcols:
            wanted = HOURLY_COLUMNS if args.period == "hour" or args.from_hourly \
                else DAILY_COLUMNS
            problems.append(f"no pollutant column (expected some of {', '.join(wanted)})")
        if problems:
            raise AqiInputError(problems)
    except AqiInputError as exc:
        print(f"error: {args.input}: {len(exc.problems)} problem(s):\n{exc}", file=sys.stderr)
        return 1
    for i, msg in warnings[:_MAX_ERRORS]:
        print(f"warning: data row {i + 1}: {msg}", file=sys.stderr)

    if args.period == "hour":
        keys = HOURLY_COLUMNS
        t = times.to_numpy().astype("datetime64[s]")
        result = _compute(arrays, period="hour", times=t, edition=args.edition,
                          hour_label=args.hour_label, n=df.height, progress_label="rows")
        out = df.with_columns(_aqi_columns(result, pcols, keys, warnings, df.height))
    elif not args.from_hourly:
        keys = DAILY_COLUMNS
        t = times.to_numpy().astype("datetime64[D]")
        result = _compute(arrays, period="day", times=t, edition=args.edition,
                          hour_label="start", n=df.height, progress_label="rows")
        out = df.with_columns(_aqi_columns(result, pcols, keys, warnings, df.height))
    else:
        hourly = pl.DataFrame({
            "station": df[cols["station"]], "time": times,
            **{k: pl.Series(k, arrays[k]) for k in arrays if k in HOURLY_COLUMNS},
        })
        try:
            daily = hj663.daily_from_hourly(hourly, hour_label=args.hour_label)
        except ValueError as exc:
            print(f"error: {args.input}: {exc}", file=sys.stderr)
            return 1
        d = daily.frame
        n_inv = int((d["invalid"] != "").sum())
        print(f"HJ 663 validity: {n_inv} of {d.height} station-days have statistics that "
              f"fail their rule (column 'invalid'; such a statistic is left out of the AQI). "
              f"{daily.metadata['note']}.", file=sys.stderr)
        for row in d.filter(pl.col("invalid") != "").head(_MAX_ERRORS).iter_rows(named=True):
            print(f"  invalid: {row['station']} {row['date']}: {row['invalid']}",
                  file=sys.stderr)
        darr = {k: d[k].cast(pl.Float64).fill_null(np.nan).to_numpy() for k in DAILY_COLUMNS}
        result = _compute(darr, period="day", times=d["date"].to_numpy().astype("datetime64[D]"),
                          edition=args.edition, hour_label="start", n=d.height,
                          progress_label="station-days")
        keys = DAILY_COLUMNS
        out = d.with_columns(*_aqi_columns(result, {}, keys, [], d.height),
                             pl.lit(daily.metadata["note"]).alias("hj663_rules"))
        # display only: the AQI above used the unrounded means
        out = out.with_columns(pl.col(c).round(6) for c in DAILY_COLUMNS)
    try:
        write_table(out, args.output)
    except (OSError, TableError) as exc:
        print(f"error: {args.output}: {exc}", file=sys.stderr)
        return 1
    n_na = int((~result.publishable & ~np.isnan(result.aqi)).sum())
    print(f"{out.height} row{'s' if out.height != 1 else ''} → {args.output}"
          + (f" ({n_na} with AQI 'NA' under the HJ 633-2026 missing-data rule)" if n_na else ""),
          file=sys.stderr)
    return 0
