"""Reading and writing the tables users bring (CSV, XLSX), and progress for long runs.

I/O lives here, in the command layer; the standards engine stays pure.

* :func:`read_table` returns every column as text (``pl.Utf8``) exactly as written, with
  blank cells as nulls, so each command parses numbers itself and can name the row and
  column of a bad cell (rows are counted as *data rows*, 1-based, header not counted;
  the file line / spreadsheet row is one more).
* :func:`write_table` picks CSV or XLSX by the file suffix.
* :class:`Progress` prints progress to stderr for long runs.
"""

from __future__ import annotations

import datetime as _dt
import sys
import time
from pathlib import Path

import polars as pl

__all__ = ["TableError", "read_table", "write_table", "Progress", "row_msg"]


class TableError(ValueError):
    """A table that cannot be read; the message names the file and, where known, the row."""


def row_msg(i: int, column: str, what: str) -> str:
    """Message for data row ``i`` (0-based index) and a column, e.g. for a bad cell."""
    return f"data row {i + 1} (file line {i + 2}), column {column!r}: {what}"


def _cell_text(v) -> str | None:
    if v is None:
        return None
    if isinstance(v, str):
        v = v.strip()
        return v or None
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, float) and v.is_integer():
        return str(int(v))
    if isinstance(v, _dt.datetime):
        return v.isoformat(sep=" ")
    if isinstance(v, (_dt.date, _dt.time)):
        return v.isoformat()
    return str(v)


def read_table(path) -> pl.DataFrame:
    """Read a CSV (UTF-8 with or without BOM, or GBK/GB 18030) or XLSX (first sheet) as text.

    Parameters
    ----------
    path : str or Path
        ``.csv`` / ``.txt`` or ``.xlsx`` / ``.xlsm``.

    Returns
    -------
    polars.DataFrame
        One ``Utf8`` column per header cell; blank cells are null; surrounding spaces are
        stripped.

    Raises
    ------
    FileNotFoundError
        The file does not exist.
    TableError
        Unknown suffix, empty or blank header, duplicate column names, or a row longer
        than the header (named by row).
    """
    p = Path(path)
    if not p.exists():
        raise FileNotFoundError(str(p))
    suffix = p.suffix.lower()
    if suffix in (".csv", ".txt"):
        raw = p.read_bytes()
        try:
            text = raw.decode("utf-8-sig")
        except UnicodeDecodeError:
            # spreadsheets on Chinese Windows save CSV as GBK; GB 18030 is its superset
            try:
                text = raw.decode("gb18030")
            except UnicodeDecodeError as exc:
                raise TableError(f"{p}: not UTF-8 nor GB 18030 text") from exc
        if not text.strip():
            raise TableError(f"{p}: empty file")
        try:
            df = pl.read_csv(text.encode("utf-8"), infer_schema=False)
        except pl.exceptions.NoDataError as exc:
            raise TableError(f"{p}: empty file") from exc
        except pl.exceptions.ComputeError as exc:
            raise TableError(f"{p}: cannot read as CSV: {exc}".splitlines()[0]) from exc
        if df.columns and df.columns[0].startswith("\ufeff"):
            df = df.rename({df.columns[0]: df.columns[0].lstrip("\ufeff")})
        df = df.rename({c: c.strip() for c in df.columns})
        _check_header(p, df.columns)
        return df.with_columns(
            pl.col(c).str.strip_chars().replace("", None) for c in df.columns)
    if suffix in (".xlsx", ".xlsm"):
        return _read_xlsx(p)
    raise TableError(f"{p}: unknown table type {suffix!r} (use .csv or .xlsx)")


def _check_header(p: Path, cols) -> None:
    if not cols:
        raise TableError(f"{p}: no header row")
    for j, c in enumerate(cols):
        if not c:
            raise TableError(f"{p}: header cell {j + 1} is blank")
    seen = set()
    for c in cols:
        if c in seen:
            raise TableError(f"{p}: column {c!r} appears twice in the header")
        seen.add(c)


def _read_xlsx(p: Path) -> pl.DataFrame:
    import openpyxl

    try:
        wb = openpyxl.load_workbook(p, read_only=True, data_only=True)
    except Exception as exc:  # openpyxl raises several types for a bad file
        raise TableError(f"{p}: cannot read as XLSX: {exc}") from exc
    try:
        ws = wb.worksheets[0]
        rows = ws.iter_rows(values_only=True)
        try:
            header = next(rows)
        except StopIteration:
            raise TableError(f"{p}: empty sheet") from None
        header = list(header)
        while header and (header[-1] is None or str(header[-1]).strip() == ""):
            header.pop()
        cols = [_cell_text(h) or "" for h in header]
        _check_header(p, cols)
        data: list[list[str | None]] = [[] for _ in cols]
        i = 0
        for row in rows:
            cells = [_cell_text(v) for v in row]
            if all(c is None for c in cells):
                continue  # trailing blank rows of spreadsheets
            extra = [c for c in cells[len(cols):] if c is not None]
            if extra:
                raise TableError(f"{p}: data row {i + 1} (sheet row {i + 2}) has more cells "
                                 f"than the header ({len(cols)})")
            for j in range(len(cols)):
                data[j].append(cells[j] if j < len(cells) else None)
            i += 1
    finally:
        wb.close()
    return pl.DataFrame({c: pl.Series(c, d, dtype=pl.Utf8) for c, d in zip(cols, data)})


def write_table(df: pl.DataFrame, path) -> None:
    """Write ``df`` as CSV (UTF-8) or XLSX, chosen by the suffix of ``path``.

    Nulls become blank cells. XLSX cells keep numbers as numbers and text as text.
    """
    p = Path(path)
    suffix = p.suffix.lower()
    if suffix in (".csv", ".txt"):
        df.write_csv(p)
        return
    if suffix in (".xlsx", ".xlsm"):
        import openpyxl

        wb = openpyxl.Workbook(write_only=True)
        ws = wb.create_sheet()
        ws.append(list(df.columns))
        for row in df.iter_rows():
            ws.append([_xlsx_value(v) for v in row])
        wb.save(p)
        return
    raise TableError(f"{p}: unknown table type {suffix!r} (use .csv or .xlsx)")


def _xlsx_value(v):
    if isinstance(v, float) and v != v:
        return None
    return v


class Progress:
    """Progress of a long run, printed to stderr at most every ``interval`` seconds.

    Silent for runs under ``min_total`` items. Use as a context manager or call
    :meth:`update` and :meth:`done`.

    >>> import io
    >>> buf = io.StringIO()
    >>> with Progress(10, "rows", stream=buf, min_total=1, interval=0) as pr:
    ...     pr.update(10)
    >>> "10/10 rows" in buf.getvalue()
    True
    """

    def __init__(self, total: int, label: str = "rows", *, stream=None,
                 min_total: int = 100_000, interval: float = 1.0):
        self.total = total
        self.label = label
        self.stream = stream if stream is not None else sys.stderr
        self.enabled = total >= min_total
        self.interval = interval
        self.count = 0
        self._t0 = time.monotonic()
        self._last = -1e9

    def update(self, n: int) -> None:
        self.count += n
        now = time.monotonic()
        if self.enabled and (now - self._last >= self.interval or self.count >= self.total):
            self._last = now
            pct = 100.0 * self.count / self.total if self.total else 100.0
            print(f"  {self.count:,}/{self.total:,} {self.label} ({pct:.0f} %, "
                  f"{now - self._t0:.1f} s)", file=self.stream, flush=True)

    def done(self) -> None:
        if self.enabled and self.count < self.total:
            self.update(self.total - self.count)

    def __enter__(self) -> "Progress":
        return self

    def __exit__(self, *exc) -> None:
        if exc[0] is None:
            self.done()
