"""File import of lab and manual monitoring results (手工监测/实验室数据导入).

Formats (``docs/observations.md`` has the full description and an example file):

* CSV (UTF-8 with or without BOM, GBK/GB18030 as Chinese Excel writes it; comma, tab or
  semicolon) or XLSX (first sheet, read with openpyxl in read-only mode).
* **Wide**: columns ``site`` (站点编码), ``time`` (采样时间), optional ``sample_id`` (样品编号)
  and ``flag`` (数据标记), and one column per parameter named by catalog key (``nh3_n``),
  HJ 212 code (``w21003``), alias or Chinese name (``氨氮``). A unit may follow the name in
  brackets (``氨氮(mg/L)``) or stand in a unit row right under the header (its site and time
  cells empty or ``单位``/``unit``).
* **Long**: columns ``site``, ``time``, ``parameter`` (因子), ``value`` (数值), optional
  ``unit`` (单位), ``flag``, ``sample_id``.

Every value (cell) gets a result: ``accepted``, ``duplicate`` (the same site, parameter and
time is already stored, or repeated in the file with the same value) or ``rejected`` with
the reason, the spreadsheet row and the column. By default the import is all-or-nothing:
one rejected value and nothing is written; ``partial=True`` writes the accepted ones.
Values are stored as kind ``sample`` with source ``IMPORT`` (or ``MANUAL``) through
:func:`~gongzhi.observations.services.write_observations` — idempotent, so importing the
same file twice stores nothing twice. Units: the few safe conversions (mass per volume:
ng/µg/mg/g per L, ng/µg/mg per m³) are applied and noted (QC bit ``unit_converted``);
any other unit that differs from the catalog unit is refused.
"""

from __future__ import annotations

import codecs
import csv
import datetime as dt
import hashlib
import io
import math
import re
import unicodedata
from dataclasses import dataclass, field
from typing import Any, Callable

from django.db import transaction
from django.utils import timezone

from gongzhi.observations import services
from gongzhi.observations.models import (
    QC_UNIT_CONVERTED,
    ImportBatch,
    Observation,
    SampleRecord,
    Series,
    SeriesKind,
    Source,
)
from gongzhi.registry import models as reg
from gongzhi.sharing import policy

BEIJING = dt.timezone(dt.timedelta(hours=8), "CST")
#: a sampling time later than now by more than this is refused
FUTURE_TOLERANCE = dt.timedelta(minutes=5)
HJ212_FLAGS = set("NFMSDCTB")

ACCEPTED, DUPLICATE, REJECTED = "accepted", "duplicate", "rejected"

SITE_HEADERS = {"site", "site_code", "station", "站点", "站点编码", "点位", "点位编码", "断面", "断面编码", "测站编码"}
TIME_HEADERS = {"time", "datetime", "sampled_at", "sample_time", "时间", "采样时间", "监测时间", "采样日期"}
SAMPLE_HEADERS = {"sample_id", "sample", "样品编号", "样品号"}
FLAG_HEADERS = {"flag", "标记", "数据标记"}
PARAM_HEADERS = {"parameter", "因子", "监测项目", "项目", "指标"}
VALUE_HEADERS = {"value", "数值", "监测值", "结果", "浓度"}
UNIT_HEADERS = {"unit", "单位"}
IGNORED_HEADERS = {"name", "site_name", "站点名称", "断面名称", "note", "notes", "remark", "备注", "说明"}

#: safe unit families: unit → factor to a base unit of the family
UNIT_FAMILIES: dict[str, tuple[str, float]] = {
    "g/l": ("mass/volume(L)", 1e3), "mg/l": ("mass/volume(L)", 1.0), "µg/l": ("mass/volume(L)", 1e-3),
    "ng/l": ("mass/volume(L)", 1e-6),
    "mg/m³": ("mass/volume(m3)", 1.0), "µg/m³": ("mass/volume(m3)", 1e-3), "ng/m³": ("mass/volume(m3)", 1e-6),
    # volume flow: a permitted daily volume (m³/d) is a flow rate, 1 L/s = 86.4 m³/d
    "m³/s": ("volume/time", 1.0), "l/s": ("volume/time", 1e-3), "m³/h": ("volume/time", 1 / 3600),
    "m³/d": ("volume/time", 1 / 86400),
}
DIMENSIONLESS = {"", "1", "-", "无量纲", "无", "dimensionless"}
#: quantities that may be negative (temperatures)
NEGATIVE_UNITS = {"°c", "℃"}


def normalise_unit(text: str | None) -> str:
    u = unicodedata.normalize("NFKC", str(text or "")).strip().lower().replace(" ", "")
    u = u.replace("μ", "µ").replace("ug", "µg").replace("m3", "m³").replace("℃", "°c")
    return "" if u in DIMENSIONLESS else u


def unit_factor(from_unit: str, to_unit: str) -> float | None:
    """Factor converting values in ``from_unit`` to ``to_unit`` (1.0 when equal), None if unsafe."""
    a, b = normalise_unit(from_unit), normalise_unit(to_unit)
    if a == b:
        return 1.0
    fa, fb = UNIT_FAMILIES.get(a), UNIT_FAMILIES.get(b)
    if fa and fb and fa[0] == fb[0]:
        return fa[1] / fb[1]
    return None


def _key(text: Any) -> str:
    return re.sub(r"\s+", "", unicodedata.normalize("NFKC", str(text or ""))).lower()


# --- report ------------------------------------------------------------------------------------------


@dataclass
class CellResult:
    row: int
    column: str
    status: str
    reason: str = ""
    site: str = ""
    parameter: str = ""
    time: dt.datetime | None = None
    value: float | None = None

    def as_list(self) -> list:
        t = self.time.astimezone(BEIJING).strftime("%Y-%m-%d %H:%M:%S") if self.time else ""
        v = "" if self.value is None else f"{self.value:g}"
        return [self.row, self.column, self.site, self.parameter, t, v, self.status, self.reason]


REPORT_HEADER = ["row", "column", "site", "parameter", "time", "value", "status", "reason"]


@dataclass
class ImportReport:
    filename: str = ""
    format: str = ""
    encoding: str = ""
    dry_run: bool = False
    partial: bool = False
    results: list[CellResult] = field(default_factory=list)
    file_errors: list[str] = field(default_factory=list)
    written: bool = False
    batch_id: int | None = None

    def count(self, status: str) -> int:
        return sum(1 for r in self.results if r.status == status)

    @property
    def accepted(self) -> int:
        return self.count(ACCEPTED)

    @property
    def duplicates(self) -> int:
        return self.count(DUPLICATE)

    @property
    def rejected(self) -> int:
        return self.count(REJECTED)

    @property
    def ok(self) -> bool:
        return not self.file_errors and not self.rejected

    def rejections(self) -> list[CellResult]:
        return [r for r in self.results if r.status == REJECTED]

    def summary(self) -> str:
        if self.file_errors:
            return "file refused: " + "; ".join(self.file_errors)
        what = "would write" if self.dry_run else ("wrote" if self.written else "wrote nothing:")
        tail = "" if self.written or self.dry_run or not self.rejected else " (all-or-nothing; use --partial to write the accepted values)"
        return (
            f"{what} {self.accepted} values accepted, {self.duplicates} duplicates, {self.rejected} rejected{tail}"
        )

    def write_csv(self, path) -> None:
        with open(path, "w", newline="", encoding="utf-8-sig") as fh:
            w = csv.writer(fh)
            w.writerow(REPORT_HEADER)
            for r in self.results:
                w.writerow(r.as_list())
            for e in self.file_errors:
                w.writerow(["", "", "", "", "", "", REJECTED, e])


class ImportFileError(Exception):
    pass


# --- reading ---------------------------------------------------------------------------------------


def decode_text(data: bytes) -> tuple[str, str]:
    if data.startswith(codecs.BOM_UTF8):
        return data[3:].decode("utf-8"), "utf-8-sig"
    try:
        return data.decode("utf-8"), "utf-8"
    except UnicodeDecodeError:
        pass
    try:
        return data.decode("gb18030"), "gb18030"  # a superset of GBK and GB2312
    except UnicodeDecodeError:
        raise ImportFileError("encoding not recognised (UTF-8 or GBK/GB18030 expected)") from None


def read_rows(data: bytes, filename: str = "") -> tuple[list[tuple[int, list]], str, str]:
    """(row number, cells) for every non-blank row including the header; format; encoding."""
    if data[:4] == b"PK\x03\x04" or filename.lower().endswith((".xlsx", ".xlsm")):
        return _read_xlsx(data), "xlsx", ""
    text, encoding = decode_text(data)
    first = text.split("\n", 1)[0]
    delimiter = max(",\t;", key=first.count) if first else ","
    if not first.count(delimiter):
        delimiter = ","
    rows = []
    for n, rec in enumerate(csv.reader(io.StringIO(text, newline=""), delimiter=delimiter), start=1):
        if any(str(c).strip() for c in rec):
            rows.append((n, rec))
    return rows, "csv", encoding


def _read_xlsx(data: bytes) -> list[tuple[int, list]]:
    import zipfile

    from openpyxl import load_workbook

    try:
        wb = load_workbook(io.BytesIO(data), read_only=True, data_only=True)
    except (zipfile.BadZipFile, OSError, KeyError, ValueError) as exc:
        raise ImportFileError(f"not a readable XLSX file ({exc.__class__.__name__})") from None
    try:
        ws = wb.worksheets[0]
        rows = []
        for n, rec in enumerate(ws.iter_rows(values_only=True), start=1):
            cells = ["" if c is None else c for c in rec]
            if any(str(c).strip() for c in cells):
                rows.append((n, cells))
        return rows
    finally:
        wb.close()


# --- parsing cells -----------------------------------------------------------------------------------


class CellError(ValueError):
    pass


TIME_FORMATS = (
    "%Y-%m-%d %H:%M:%S", "%Y-%m-%d %H:%M", "%Y/%m/%d %H:%M:%S", "%Y/%m/%d %H:%M", "%Y-%m-%d", "%Y/%m/%d",
    "%Y%m%d%H%M%S", "%Y%m%d%H%M", "%Y%m%d", "%Y年%m月%d日 %H:%M", "%Y年%m月%d日 %H时", "%Y年%m月%d日",
)


def parse_time(value: Any) -> dt.datetime:
    """A sampling time; naive times are Beijing time."""
    if isinstance(value, dt.datetime):
        t = value
    elif isinstance(value, dt.date):
        t = dt.datetime(value.year, value.month, value.day)
    else:
        text = unicodedata.normalize("NFKC", str(value or "")).strip()
        if not text:
            raise CellError("missing time")
        t = None
        try:
            t = dt.datetime.fromisoformat(text.replace("Z", "+00:00"))
        except ValueError:
            for fmt in TIME_FORMATS:
                try:
                    t = dt.datetime.strptime(text, fmt)
                    break
                except ValueError:
                    continue
        if t is None:
            raise CellError(f"time not understood: {text!r}")
    return t.replace(tzinfo=BEIJING) if t.tzinfo is None else t


def parse_number(value: Any) -> float | None:
    """None for a blank cell; CellError for anything not a finite number."""
    if value is None or (isinstance(value, str) and not value.strip()):
        return None
    if isinstance(value, bool):
        raise CellError(f"non-numeric value {value!r}")
    if isinstance(value, (int, float)):
        x = float(value)
    else:
        text = unicodedata.normalize("NFKC", str(value)).strip()
        try:
            x = float(text)
        except ValueError:
            raise CellError(f"non-numeric value {text!r}") from None
    if not math.isfinite(x):
        raise CellError(f"non-numeric value {value!r}")
    return x


_UNIT_IN_HEADER = re.compile(r"^(?P<name>.+?)\s*[\(\[（【](?P<unit>[^\)\]）】]*)[\)\]）】]\s*$")


def split_header(text: Any) -> tuple[str, str | None]:
    """``氨氮(mg/L)`` → (``氨氮``, ``mg/L``); no unit → (text, None)."""
    s = unicodedata.normalize("NFKC", str(text or "")).strip()
    m = _UNIT_IN_HEADER.match(s)
    if m:
        return m.group("name").strip(), m.group("unit").strip()
    return s, None


class Catalog:
    """Parameter lookup by key, HJ 212-2017/2005 code, alias or Chinese/English name (no side effects)."""

    def __init__(self) -> None:
        self.by: dict[str, reg.Parameter] = {}
        params = list(reg.Parameter.objects.all())
        for p in params:  # weakest first: later entries win
            for name in (p.name_en, p.name_zh):
                if name:
                    self.by.setdefault(_key(name), p)
            if p.code_2005:
                self.by.setdefault(_key(p.code_2005), p)
        ids = {p.pk: p for p in params}
        for code, pid in reg.ParameterAlias.objects.values_list("code", "parameter_id"):
            self.by[_key(code)] = ids[pid]
        for p in params:
            if p.code_2017:
                self.by[_key(p.code_2017)] = p
            self.by[_key(p.key)] = p

    def get(self, text: str) -> reg.Parameter | None:
        return self.by.get(_key(text))


# --- the importer -------------------------------------------------------------------------------------


@dataclass
class _Value:
    result: CellResult
    site: reg.Site
    parameter: reg.Parameter
    time: dt.datetime
    value: float
    flag: str
    qc: int
    sample_id: str


Progress = Callable[[str, int, int], None]


def import_file(
    *, data: bytes, filename: str = "", user, partial: bool = False, dry_run: bool = False,
    source: int = Source.IMPORT, progress: Progress | None = None, now: dt.datetime | None = None,
) -> ImportReport:
    """Import one lab/manual results file; see the module docstring. Never raises for bad
    content: every problem is in the report (``report.ok`` is False)."""
    report = ImportReport(filename=filename, dry_run=dry_run, partial=partial)
    if source not in (Source.IMPORT, Source.MANUAL):
        raise ValueError("file imports are Source.IMPORT or Source.MANUAL")
    if user is None or not getattr(user, "is_authenticated", False):
        report.file_errors.append("an importing user is required")
        return report
    try:
        rows, report.format, report.encoding = read_rows(data, filename)
    except ImportFileError as exc:
        report.file_errors.append(str(exc))
        return report
    if len(rows) < 2:
        report.file_errors.append("no data rows")
        return report
    values = _Parser(rows, user=user, report=report, now=now or timezone.now(), progress=progress).run()
    if values is None:
        return report
    _find_duplicates(values)
    if dry_run or (report.rejected and not partial):
        return report
    _write(values, report=report, user=user, source=source, data=data, filename=filename, progress=progress)
    return report


class _Parser:
    def __init__(self, rows, *, user, report: ImportReport, now, progress):
        self.rows, self.user, self.report, self.now, self.progress = rows, user, report, now, progress
        self.catalog = Catalog()
        self.sites: dict[str, reg.Site] = {}

    def reject(self, number, column, reason, **kw) -> None:
        self.report.results.append(CellResult(number, column, REJECTED, reason, **kw))

    def run(self) -> list[_Value] | None:
        header_no, header = self.rows[0]
        names = [unicodedata.normalize("NFKC", str(h or "")).strip() for h in header]
        keys = [_key(split_header(h)[0]) for h in names]

        def find(options):
            opts = {_key(o) for o in options}
            hits = [i for i, k in enumerate(keys) if k in opts]
            return hits[0] if hits else None

        self.c_site, self.c_time = find(SITE_HEADERS), find(TIME_HEADERS)
        self.c_sample, self.c_flag = find(SAMPLE_HEADERS), find(FLAG_HEADERS)
        self.c_param, self.c_value, self.c_unit = find(PARAM_HEADERS), find(VALUE_HEADERS), find(UNIT_HEADERS)
        missing = [n for n, c in (("site", self.c_site), ("time", self.c_time)) if c is None]
        if missing:
            self.report.file_errors.append(f"header row {header_no}: missing column(s) {', '.join(missing)}")
            return None
        self.long = self.c_param is not None and self.c_value is not None
        used = {c for c in (self.c_site, self.c_time, self.c_sample, self.c_flag, self.c_param, self.c_value, self.c_unit) if c is not None}
        data_rows = self.rows[1:]
        # wide: parameter columns, optional unit row
        self.columns: list[tuple[int, str, reg.Parameter | None, str | None]] = []
        if not self.long:
            unit_row = None
            first_no, first = data_rows[0]
            cell = lambda rec, i: rec[i] if i is not None and i < len(rec) else ""  # noqa: E731
            if _key(cell(first, self.c_site)) in {"单位", "unit", ""} and not str(cell(first, self.c_time)).strip():
                unit_row = first
                data_rows = data_rows[1:]
            for i, h in enumerate(names):
                if i in used or not h or keys[i] in {_key(x) for x in IGNORED_HEADERS}:
                    continue
                name, unit = split_header(h)
                if unit_row is not None and i < len(unit_row) and str(unit_row[i]).strip():
                    unit = str(unit_row[i]).strip()
                self.columns.append((i, h, self.catalog.get(name), unit))
            if not self.columns:
                self.report.file_errors.append(f"header row {header_no}: no parameter columns")
                return None
        self.site_codes = {s.code: s for s in reg.Site.objects.filter(code__in={str(self._cell(r, self.c_site)).strip() for _, r in data_rows})}
        self.series_units = {
            (s, p): u for s, p, u in Series.objects.filter(site__in=self.site_codes.values(), kind=SeriesKind.SAMPLE).values_list("site_id", "parameter_id", "unit")
        }
        out: list[_Value] = []
        total = len(data_rows)
        for k, (number, rec) in enumerate(data_rows, start=1):
            out.extend(self.parse_row(number, rec, names))
            if self.progress and (k % 200 == 0 or k == total):
                self.progress("validate", k, total)
        return out

    @staticmethod
    def _cell(rec, i):
        return rec[i] if i is not None and i < len(rec) else ""

    def parse_row(self, number: int, rec: list, names: list[str]) -> list[_Value]:
        cells = []  # (column name, parameter or None, unit, raw cell)
        if self.long:
            pname = str(self._cell(rec, self.c_param)).strip()
            unit = str(self._cell(rec, self.c_unit)).strip() if self.c_unit is not None else None
            cells.append((names[self.c_value], pname, self.catalog.get(pname), unit or None, self._cell(rec, self.c_value)))
        else:
            for i, h, p, unit in self.columns:
                cells.append((h, h, p, unit, self._cell(rec, i)))
        cells = [c for c in cells if not (c[4] is None or (isinstance(c[4], str) and not c[4].strip()))]
        if not cells:
            return []
        code = str(self._cell(rec, self.c_site)).strip()
        site = self.site_codes.get(code)
        row_error = None
        if not code:
            row_error = "missing site"
        elif site is None:
            row_error = f"unknown site {code!r}"
        elif not policy.can_review_data(self.user, site):
            row_error = f"not allowed: only the owner bureau's monitoring staff may import data of site {code}"
        t = None
        if row_error is None:
            try:
                t = parse_time(self._cell(rec, self.c_time))
                if t > self.now + FUTURE_TOLERANCE:
                    row_error = f"time in the future: {t.astimezone(BEIJING):%Y-%m-%d %H:%M}"
            except CellError as exc:
                row_error = str(exc)
        flag = ""
        if row_error is None and self.c_flag is not None:
            flag = str(self._cell(rec, self.c_flag)).strip().upper()
            if flag and flag not in HJ212_FLAGS:
                row_error = f"unknown data flag {flag!r} (HJ 212: N F M S D C T B)"
        sample_id = str(self._cell(rec, self.c_sample)).strip()[:64] if self.c_sample is not None else ""
        out = []
        for column, pname, p, unit, raw in cells:
            base = dict(site=code, parameter=p.key if p else str(pname), time=t)
            if row_error:
                self.reject(number, column, row_error, **base)
                continue
            if p is None:
                self.reject(number, column, f"unknown parameter {pname!r}", **base)
                continue
            try:
                x = parse_number(raw)
            except CellError as exc:
                self.reject(number, column, str(exc), **base)
                continue
            target = self.series_units.get((site.pk, p.pk)) or _catalog_unit(site, p)
            note, qc = "", 0
            if unit is not None and normalise_unit(unit) != normalise_unit(target):
                f = unit_factor(unit, target)
                if f is None:
                    self.reject(number, column, f"unit mismatch: file {unit!r}, catalog {target!r} (no safe conversion)", value=x, **base)
                    continue
                note, qc = f"converted from {unit} to {target} (×{f:g})", QC_UNIT_CONVERTED
                x = x * f
            if x < 0 and normalise_unit(target) not in NEGATIVE_UNITS:
                self.reject(number, column, "negative value", value=x, **base)
                continue
            res = CellResult(number, column, ACCEPTED, note, value=x, **base)
            self.report.results.append(res)
            out.append(_Value(res, site, p, t, x, flag, qc, sample_id))
        return out


def _catalog_unit(site: reg.Site, p: reg.Parameter) -> str:
    if site.kind == reg.SiteKind.AIR_STATION and p.ambient_unit:
        return p.ambient_unit
    return p.unit


def _find_duplicates(values: list[_Value]) -> None:
    """Mark values repeated in the file or already stored (a different stored value is kept
    and reported: changing it is a correction, not an import)."""
    seen: dict[tuple, _Value] = {}
    for v in values:
        k = (v.site.pk, v.parameter.pk, v.time)
        first = seen.get(k)
        if first is None:
            seen[k] = v
        elif first.value == v.value:
            v.result.status, v.result.reason = DUPLICATE, f"repeated in the file (row {first.result.row})"
        else:
            v.result.status = REJECTED
            v.result.reason = f"conflicts with row {first.result.row} (same site, parameter and time, value {first.value:g})"
    live = [v for v in values if v.result.status == ACCEPTED]
    if not live:
        return
    series = {
        (s, p): sid
        for sid, s, p in Series.objects.filter(
            site__in={v.site.pk for v in live}, parameter__in={v.parameter.pk for v in live}, kind=SeriesKind.SAMPLE
        ).values_list("id", "site_id", "parameter_id")
    }
    by_series: dict[int, list[_Value]] = {}
    for v in live:
        sid = series.get((v.site.pk, v.parameter.pk))
        if sid is not None:
            by_series.setdefault(sid, []).append(v)
    for sid, vs in by_series.items():
        times = [v.time for v in vs]
        stored = dict(
            Observation.objects.filter(series_id=sid, time__gte=min(times), time__lte=max(times)).values_list("time", "value")
        )
        for v in vs:
            if v.time in stored:
                old = stored[v.time]
                v.result.status = DUPLICATE
                v.result.reason = (
                    "already stored" if old == v.value
                    else f"already stored with value {old:g}; the stored value is kept (correct it with a revision)"
                )


def _write(values: list[_Value], *, report: ImportReport, user, source: int, data: bytes, filename: str, progress) -> None:
    live = [v for v in values if v.result.status == ACCEPTED]
    with transaction.atomic():
        batch = ImportBatch.objects.create(
            filename=filename[:255], sha256=hashlib.sha256(data).hexdigest(), user=user, source=source,
        )
        series_ids: dict[tuple[int, int], int] = {}
        for v in live:
            k = (v.site.pk, v.parameter.pk)
            if k not in series_ids:
                s, _ = Series.objects.get_or_create(
                    site=v.site, parameter=v.parameter, kind=SeriesKind.SAMPLE,
                    defaults={"unit": _catalog_unit(v.site, v.parameter), "owner_id": v.site.owner_id},
                )
                series_ids[k] = s.pk
        rows = [
            services.ObservationRow(series_ids[(v.site.pk, v.parameter.pk)], v.time, v.value, v.flag, v.qc) for v in live
        ]
        done = 0
        step = 5000
        for i in range(0, len(rows), step):
            part = rows[i : i + step]
            res = services.write_observations(part, source=source)
            for j in res.duplicate_indexes:  # stored meanwhile by someone else
                r = live[i + j].result
                r.status, r.reason = DUPLICATE, "already stored"
            done += len(part)
            if progress:
                progress("write", done, len(rows))
        samples = {}
        for v in live:
            if v.sample_id and v.result.status == ACCEPTED:
                samples[(v.site.pk, v.time)] = SampleRecord(site=v.site, time=v.time, sample_id=v.sample_id, batch=batch)
        SampleRecord.objects.bulk_create(list(samples.values()), ignore_conflicts=True)
        batch.accepted, batch.duplicates, batch.rejected = report.accepted, report.duplicates, report.rejected
        batch.save(update_fields=["accepted", "duplicates", "rejected"])
    report.written = True
    report.batch_id = batch.pk


__all__ = ["import_file", "ImportReport", "CellResult", "unit_factor", "normalise_unit", "parse_time"]
