"""Registry import from spreadsheets (登记信息批量导入): sites, enterprises with
their outlets, devices (data loggers) and permit limits, from CSV or XLSX.

A writer beside :mod:`gongzhi.registry.services`: keyword-only functions, every
change audited (``via="import"``) and every row checked against
:mod:`gongzhi.sharing.policy` for the importing user.

* One column layout per kind (:data:`LAYOUTS`); each column has an English and a
  Chinese header, both accepted (case, spaces, a trailing ``*`` and a trailing
  parenthesised unit such as ``(米)`` are ignored). Unknown columns and missing
  required columns are file-level errors: nothing is imported.
* CSV in UTF-8 (with or without BOM), UTF-16 with BOM, or GBK/GB18030 (what
  Chinese Excel writes), detected from the bytes; XLSX read with openpyxl in
  read-only mode (first worksheet).
* Every row is parsed, its references resolved by code, the model's
  ``full_clean`` run, uniqueness checked inside the file and against the
  database, and the policy asked. The report lists each problem with its row
  number (the spreadsheet row: the header is row 1), column and message.
* Modes: all-or-nothing (default; any failing row and nothing is written, one
  transaction) or ``partial`` (valid rows written, each in its own savepoint).
  ``dry_run`` does everything inside a transaction and rolls it back.
* Upsert by code: an existing object is updated (counted as ``updated``, or
  ``unchanged`` when the file says what the database already holds). A column
  absent from the file leaves that field alone; a blank cell in a present column
  clears it (or restores the field's default).

``user=None`` means the platform operator at the shell (the ``gongzhi`` command
without ``--user``): no policy check, audited as ``import``.

The layouts are documented in ``docs/registry-import.md``; an example file per
kind ships in ``gongzhi/registry/import_templates/``.
"""

from __future__ import annotations

import codecs
import csv
import datetime as dt
import io
import math
import re
from collections import Counter
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import Any, Callable, Iterable

from django.core.exceptions import ValidationError
from django.db import DatabaseError, IntegrityError, transaction
from django.utils.translation import gettext as _

from gongzhi.audit.context import acting_as
from gongzhi.audit.signals import snapshot
from gongzhi.registry import models as reg
from gongzhi.sharing import policy

KINDS = ("sites", "enterprises", "devices", "limits")

# --- column layouts -------------------------------------------------------------------------------


@dataclass(frozen=True)
class Column:
    """One column of an import layout.

    ``type``: ``text``, ``float``, ``int``, ``bool``, ``date``, ``choice`` (the
    model field's choices, by value or Chinese label), ``ref`` (another object,
    by code; ``ref`` names which) or ``refs`` (several, separated by ``;``)."""

    key: str
    zh: str
    type: str = "text"
    required: bool = False
    model: str = ""  # which model of the row the column fills ("" = the kind's main model)
    field: str = ""  # model field (default: key)
    ref: str = ""
    aliases: tuple[str, ...] = ()
    help: str = ""

    @property
    def field_name(self) -> str:
        return self.field or self.key

    def headers(self) -> tuple[str, ...]:
        return (self.key, self.zh, *self.aliases)


C = Column

SITE_COLUMNS = (
    C("code", "编码", required=True, aliases=("站点编码", "site_code"), help="唯一，字母数字与 - _"),
    C("name", "名称", required=True, aliases=("站点名称",)),
    C("kind", "类型", "choice", required=True),
    C("owner", "所属局", "ref", required=True, ref="bureau", help="生态环境局代码，如 kunshan"),
    C("lon", "经度", "float", required=True, help="WGS-84"),
    C("lat", "纬度", "float", required=True, help="WGS-84"),
    C("jurisdiction", "所在行政区", "ref", ref="jurisdiction", help="行政区划代码"),
    C("name_en", "英文名称"),
    C("location_note", "位置说明"),
    C("active", "启用", "bool"),
    C("automatic", "自动站", "bool"),
    C("station_type", "站型", "choice"),
    C("network", "所属网络", "choice"),
    C("external_code", "外部编码"),
    C("source", "数据来源"),
    C("schematic", "示意位置", "bool"),
    C("waterbody", "水体", "ref", ref="waterbody", help="水体代码"),
    C("waterbody_type", "评价水体类型", "choice"),
    C("reach", "所在河段", "ref", ref="reach", help="河段代码"),
    C("chainage_m", "距河段起点", "float", help="米"),
    C("assessment_level", "考核级别", "choice"),
    C("target_class", "水质目标", "choice", help="Ⅰ–Ⅴ 或 1–5"),
    C("is_boundary", "跨界断面", "bool"),
    C("upstream_jurisdiction", "上游行政区", "ref", ref="jurisdiction"),
    C("downstream_jurisdiction", "下游行政区", "ref", ref="jurisdiction"),
    C("drinking_water_source", "饮用水水源地", "bool"),
    C("control_point", "对照点", "bool"),
)

ENTERPRISE_COLUMNS = (
    C("code", "编码", required=True, aliases=("单位编码", "排污单位编码", "enterprise_code")),
    C("name", "名称", required=True, aliases=("单位名称", "排污单位名称")),
    C("owner", "监管局", "ref", required=True, ref="bureau", aliases=("所属局",)),
    C("lon", "经度", "float", required=True),
    C("lat", "纬度", "float", required=True),
    C("credit_code", "统一社会信用代码"),
    C("industry", "行业"),
    C("jurisdiction", "所在行政区", "ref", ref="jurisdiction"),
    C("address", "地址"),
    C("permit_number", "排污许可证编号"),
    C("characteristic_pollutants", "特征污染物"),
    C("active", "在产", "bool"),
    C("outlet_code", "排放口编号", model="outlet", field="code", help="每行一个排放口；同一单位可占多行"),
    C("outlet_name", "排放口名称", model="outlet", field="name"),
    C("outlet_kind", "排放口类型", "choice", model="outlet", field="kind"),
    C("outlet_lon", "排放口经度", "float", model="outlet", field="lon", help="留空取单位经度"),
    C("outlet_lat", "排放口纬度", "float", model="outlet", field="lat", help="留空取单位纬度"),
    C("receiving_waterbody", "受纳水体", "ref", model="outlet", ref="waterbody"),
    C("outlet_reach", "排放口所在河段", "ref", model="outlet", field="reach", ref="reach"),
    C("outlet_chainage_m", "排放口距河段起点", "float", model="outlet", field="chainage_m"),
    C("discharge_mode", "排放方式", model="outlet"),
)

DEVICE_COLUMNS = (
    C("mn", "MN", required=True, aliases=("设备MN", "设备唯一标识", "设备唯一标识MN")),
    C("password", "密码", required=True, aliases=("访问密码", "PW")),
    C("system_code", "系统编码", required=True, aliases=("ST",), help="21 地表水、22 空气、31 废气源、32 废水源"),
    C("protocol_version", "协议版本", "choice"),
    C("name", "名称"),
    C("vendor", "厂商"),
    C("site", "监测站点", "ref", ref="site", help="站点编码；与排污单位+排放口二选一"),
    C("enterprise", "排污单位", "ref", ref="enterprise", field="-", help="排污单位编码"),
    C("outlet", "排放口", field="-", help="排放口编号（与排污单位同填）"),
    C("parameters", "监测因子", "refs", ref="parameter", help="因子标识或 HJ 212 编码，用 ; 分隔"),
    C("interval_s", "实时数据间隔", "int", help="秒"),
    C("enabled", "启用", "bool"),
    C("installed", "安装日期", "date"),
)

LIMIT_COLUMNS = (
    C("enterprise", "排污单位", "ref", required=True, ref="enterprise", field="-"),
    C("outlet", "排放口", required=True, field="-", help="排放口编号"),
    C("parameter", "因子", "ref", required=True, ref="parameter", aliases=("监测因子",)),
    C("period", "均值时段", "choice", required=True),
    C("limit", "上限", "float"),
    C("lower", "下限", "float"),
    C("unit", "单位", required=True),
    C("standard", "依据标准", required=True),
    C("reference_oxygen_pct", "基准氧含量", "float", help="%"),
    C("confidence", "限值可信度", "choice"),
    C("valid_from", "生效日期", "date"),
    C("valid_to", "失效日期", "date"),
    C("note", "备注"),
)

LAYOUTS: dict[str, tuple[Column, ...]] = {
    "sites": SITE_COLUMNS,
    "enterprises": ENTERPRISE_COLUMNS,
    "devices": DEVICE_COLUMNS,
    "limits": LIMIT_COLUMNS,
}

MAIN_MODEL = {"sites": reg.Site, "enterprises": reg.Enterprise, "devices": reg.Device, "limits": reg.PermitLimit}


def columns(kind: str) -> tuple[Column, ...]:
    try:
        return LAYOUTS[kind]
    except KeyError:
        raise ValueError(f"unknown import kind {kind!r}; one of {', '.join(KINDS)}") from None


def normalise_header(text: Any) -> str:
    s = str(text or "").replace("\ufeff", "").strip().lower()
    s = s.replace("（", "(").replace("）", ")")
    s = re.sub(r"\s+", "", s).rstrip("*")
    s = re.sub(r"\([^()]*\)$", "", s).rstrip("*")
    return s


def _column_model(kind: str, column: Column):
    if column.model == "outlet":
        return reg.Outlet
    return MAIN_MODEL[kind]


# --- report ---------------------------------------------------------------------------------------


@dataclass
class RowError:
    row: int | None  # spreadsheet row (header = 1); None: the file as a whole
    column: str
    message: str

    def as_list(self) -> list:
        return [self.row if self.row is not None else "", self.column, self.message]


@dataclass
class ImportReport:
    kind: str
    filename: str = ""
    format: str = ""
    encoding: str = ""
    partial: bool = False
    dry_run: bool = False
    rows: int = 0
    status: dict[int, str] = field(default_factory=dict)  # row → created/updated/unchanged/failed
    objects: Counter = field(default_factory=Counter)  # (model label, created/updated/unchanged) → n
    errors: list[RowError] = field(default_factory=list)
    written: bool = False

    def count(self, status: str) -> int:
        return sum(1 for s in self.status.values() if s == status)

    @property
    def created(self) -> int:
        return self.count("created")

    @property
    def updated(self) -> int:
        return self.count("updated")

    @property
    def unchanged(self) -> int:
        return self.count("unchanged")

    @property
    def failed(self) -> int:
        failed_rows = {e.row for e in self.errors if e.row is not None}
        return len(failed_rows | {r for r, s in self.status.items() if s == "failed"})

    @property
    def ok(self) -> bool:
        return not self.errors

    def add_error(self, row: int | None, column: str, message: str) -> None:
        self.errors.append(RowError(row, column, str(message)))
        if row is not None:
            self.status[row] = "failed"

    def summary(self) -> str:
        if self.written:
            head = _("已写入") if not self.dry_run else _("试运行（未写入）")
        elif self.dry_run:
            head = _("试运行（未写入）")
        else:
            head = _("未写入任何数据")
        return _(
            "%(head)s：共 %(rows)d 行，新增 %(created)d，更新 %(updated)d，未变 %(unchanged)d，出错 %(failed)d"
        ) % {
            "head": head, "rows": self.rows, "created": self.created, "updated": self.updated,
            "unchanged": self.unchanged, "failed": self.failed,
        }

    def table_rows(self) -> list[list]:
        return [e.as_list() for e in sorted(self.errors, key=lambda e: e.row or 0)]  # stable: file order in a row


class ImportFileError(Exception):
    """The file cannot be read at all (encoding, format)."""


# --- reading --------------------------------------------------------------------------------------


@dataclass
class Table:
    header: list[str]
    rows: list[tuple[int, list[Any]]]  # (spreadsheet row number, cells)
    format: str
    encoding: str = ""


def decode_text(data: bytes) -> tuple[str, str]:
    """CSV bytes → text and the encoding used (UTF-8 with or without BOM, UTF-16 with BOM, GB18030)."""
    if data.startswith(codecs.BOM_UTF8):
        return data[len(codecs.BOM_UTF8):].decode("utf-8"), "utf-8-sig"
    if data.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        return data.decode("utf-16"), "utf-16"
    try:
        return data.decode("utf-8"), "utf-8"
    except UnicodeDecodeError:
        pass
    try:
        # GB18030 is a superset of GBK and GB2312: what Chinese Excel writes as "CSV".
        return data.decode("gb18030"), "gb18030"
    except UnicodeDecodeError:
        raise ImportFileError(_("无法识别文件编码（支持 UTF-8、GBK/GB18030）")) from None


def _is_xlsx(data: bytes, filename: str) -> bool:
    return data[:4] == b"PK\x03\x04" or filename.lower().endswith((".xlsx", ".xlsm"))


def read_table(*, data: bytes, filename: str = "") -> Table:
    """Read a CSV or XLSX file into a header and numbered rows (blank rows dropped)."""
    if _is_xlsx(data, filename):
        return _read_xlsx(data)
    text, encoding = decode_text(data)
    sample = text[:4096]
    first_line = sample.splitlines()[0] if sample.strip() else ""
    delimiter = max(",\t;", key=first_line.count) if first_line else ","
    if first_line.count(delimiter) == 0:
        delimiter = ","
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=delimiter)
    header: list[str] = []
    rows: list[tuple[int, list[Any]]] = []
    for number, record in enumerate(reader, start=1):
        if number == 1:
            header = record
            continue
        if any(str(c).strip() for c in record):
            rows.append((number, record))
    return Table(header=header, rows=rows, format="csv", encoding=encoding)


def _read_xlsx(data: bytes) -> Table:
    import zipfile

    from openpyxl import load_workbook

    try:
        wb = load_workbook(io.BytesIO(data), read_only=True, data_only=True)
    except (zipfile.BadZipFile, KeyError, OSError, ValueError) as exc:
        raise ImportFileError(_("无法读取 XLSX 文件：%(error)s") % {"error": exc}) from None
    try:
        ws = wb.worksheets[0]
        header: list[str] = []
        rows: list[tuple[int, list[Any]]] = []
        for number, values in enumerate(ws.iter_rows(values_only=True), start=1):
            values = list(values)
            if number == 1:
                while values and (values[-1] is None or str(values[-1]).strip() == ""):
                    values.pop()
                header = ["" if v is None else str(v) for v in values]
                continue
            if any(v is not None and str(v).strip() != "" for v in values):
                rows.append((number, values))
        return Table(header=header, rows=rows, format="xlsx")
    finally:
        wb.close()


# --- cell parsing ---------------------------------------------------------------------------------

TRUE = {"1", "true", "t", "yes", "y", "是", "对", "√", "✓", "启用", "x"}
FALSE = {"0", "false", "f", "no", "n", "否", "不", "×", "停用"}
ROMAN = {"i": 1, "ii": 2, "iii": 3, "iv": 4, "v": 5, "Ⅰ": 1, "Ⅱ": 2, "Ⅲ": 3, "Ⅳ": 4, "Ⅴ": 5}


class CellError(ValueError):
    pass


class _Blank:
    """A blank cell in a column the file has."""

    def __repr__(self) -> str:
        return "BLANK"


BLANK = _Blank()


def _blank(value) -> bool:
    return value is None or (isinstance(value, str) and value.strip() == "")


def _text(value) -> str:
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    if isinstance(value, (dt.datetime, dt.date)):
        return value.isoformat()
    return str(value).strip()


def parse_float(value) -> float:
    if isinstance(value, bool):
        raise CellError(_("应为数字"))
    if isinstance(value, (int, float)):
        x = float(value)
    else:
        try:
            x = float(_text(value).replace("，", ","))
        except ValueError:
            raise CellError(_("应为数字，而不是“%(value)s”") % {"value": _text(value)}) from None
    if not math.isfinite(x):
        raise CellError(_("应为有限的数字"))
    return x


def parse_int(value) -> int:
    x = parse_float(value)
    if not x.is_integer():
        raise CellError(_("应为整数，而不是“%(value)s”") % {"value": _text(value)})
    return int(x)


def parse_bool(value) -> bool:
    if isinstance(value, bool):
        return value
    s = _text(value).lower()
    if s in TRUE:
        return True
    if s in FALSE:
        return False
    raise CellError(_("应为 是/否（1/0、true/false），而不是“%(value)s”") % {"value": _text(value)})


def parse_date(value) -> dt.date:
    if isinstance(value, dt.datetime):
        return value.date()
    if isinstance(value, dt.date):
        return value
    s = _text(value)
    m = re.fullmatch(r"(\d{4})[-/.年](\d{1,2})[-/.月](\d{1,2})日?(?:[ T]00:00(?::00)?)?", s)
    if m:
        try:
            return dt.date(int(m[1]), int(m[2]), int(m[3]))
        except ValueError:
            pass
    raise CellError(_("应为日期（如 2024-01-31），而不是“%(value)s”") % {"value": s})


def _choice_map(model, field_name: str) -> dict[str, Any]:
    f = model._meta.get_field(field_name)
    out: dict[str, Any] = {}
    for value, label in f.flatchoices:
        out[str(value).lower()] = value
        out[str(label).lower()] = value
        out[str(label).replace(" ", "").lower()] = value
    if field_name == "target_class":
        for k, v in ROMAN.items():
            out[k.lower()] = v
            out[k.lower() + "类"] = v
    if field_name == "protocol_version":
        for value, label in f.flatchoices:
            out[f"hj212-{value}"] = value
    return out


def parse_choice(value, model, field_name: str):
    mapping = _choice_map(model, field_name)
    s = _text(value).lower()
    if s in mapping:
        return mapping[s]
    if s.replace(" ", "") in mapping:
        return mapping[s.replace(" ", "")]
    allowed = "、".join(str(v) for v, _label in model._meta.get_field(field_name).flatchoices)
    raise CellError(_("“%(value)s”不是可选值（%(allowed)s）") % {"value": _text(value), "allowed": allowed})


# --- references -----------------------------------------------------------------------------------


class References:
    """Look-ups by code, built once per import."""

    LABELS = {
        "bureau": "生态环境局", "jurisdiction": "行政区", "waterbody": "水体", "reach": "河段",
        "site": "监测站点", "enterprise": "排污单位", "parameter": "监测因子",
    }

    def __init__(self) -> None:
        self._maps: dict[str, dict[str, Any]] = {}

    def _build(self, ref: str) -> dict[str, Any]:
        m: dict[str, Any] = {}
        ambiguous: set[str] = set()

        def add(key, obj, weak=False):
            if not key:
                return
            key = str(key).strip().lower()
            if weak:
                if key in m and m[key] is not obj:
                    ambiguous.add(key)
                m.setdefault(key, obj)
            else:
                m[key] = obj

        if ref == "bureau":
            objs = list(reg.Bureau.objects.all())
            for o in objs:
                add(o.name, o, True)
                add(o.short_name, o, True)
            for o in objs:
                add(o.code, o)
        elif ref == "jurisdiction":
            objs = list(reg.Jurisdiction.objects.all())
            for o in objs:
                add(o.name, o, True)
            for o in objs:
                add(o.adcode, o)
        elif ref == "waterbody":
            objs = list(reg.Waterbody.objects.all())
            for o in objs:
                add(o.name, o, True)
            for o in objs:
                add(o.code, o)
        elif ref == "reach":
            for o in reg.Reach.objects.select_related("waterbody"):
                add(o.code, o)
        elif ref == "site":
            for o in reg.Site.objects.select_related("owner"):
                add(o.code, o)
        elif ref == "enterprise":
            for o in reg.Enterprise.objects.select_related("owner"):
                add(o.code, o)
        elif ref == "parameter":
            params = {p.pk: p for p in reg.Parameter.objects.all()}
            for p in params.values():
                add(p.name_zh, p, True)
                add(p.code_2005, p, True)
            for code, pk in reg.ParameterAlias.objects.values_list("code", "parameter_id"):
                add(code, params[pk])
            for p in params.values():
                add(p.code_2017, p)
            for p in params.values():
                add(p.key, p)
        for key in ambiguous:
            m[key] = None  # same name for two objects: the code is needed
        return m

    def get(self, ref: str, value) -> Any:
        if ref not in self._maps:
            self._maps[ref] = self._build(ref)
        key = _text(value).lower()
        found = self._maps[ref].get(key)
        if found is None:
            if key in self._maps[ref]:
                raise CellError(_("“%(value)s”对应多个%(what)s，请使用编码") % {"value": _text(value), "what": _(self.LABELS[ref])})
            raise CellError(_("未找到%(what)s“%(value)s”") % {"value": _text(value), "what": _(self.LABELS[ref])})
        return found


def parse_cell(column: Column, value, *, kind: str, refs: References):
    """Parse one non-blank cell; raise :class:`CellError` with a message."""
    if column.type == "text":
        return _text(value)
    if column.type == "float":
        return parse_float(value)
    if column.type == "int":
        return parse_int(value)
    if column.type == "bool":
        return parse_bool(value)
    if column.type == "date":
        return parse_date(value)
    if column.type == "choice":
        return parse_choice(value, _column_model(kind, column), column.field_name)
    if column.type == "ref":
        return refs.get(column.ref, value)
    if column.type == "refs":
        out, missing = [], []
        for part in re.split(r"[;,，；、|\s]+", _text(value)):
            if not part:
                continue
            try:
                out.append(refs.get(column.ref, part))
            except CellError:
                missing.append(part)
        if missing:
            raise CellError(_("未找到%(what)s：%(codes)s") % {"what": _(References.LABELS[column.ref]), "codes": "、".join(missing)})
        return out
    raise AssertionError(column.type)


def blank_value(model, field_name: str):
    """What a blank cell means for a model field: its default, else empty."""
    f = model._meta.get_field(field_name)
    if f.has_default():
        return f.get_default()
    if f.is_relation or f.null:
        return None
    return ""


# --- planning -------------------------------------------------------------------------------------


@dataclass
class Op:
    """One object to save for a row."""

    obj: Any
    new: bool
    changed: bool
    m2m: dict[str, list] = field(default_factory=dict)
    label: str = ""


@dataclass
class RowPlan:
    row: int
    ops: list[Op]
    depends_on: int | None = None  # another row whose ops must succeed first


class _Importer:
    def __init__(self, *, kind: str, table: Table, user, report: ImportReport):
        self.kind = kind
        self.table = table
        self.user = user
        self.report = report
        self.refs = References()
        self.layout = columns(kind)
        self.present: dict[str, int] = {}  # column key → index in row
        self.header_of: dict[str, str] = {}  # column key → header as written in the file
        self.seen: dict[Any, int] = {}
        self.first_row_of: dict[str, int] = {}  # enterprises: code → first row naming it
        self.enterprise_rows: dict[str, tuple[int, Any, dict]] = {}

    # header ---------------------------------------------------------------------------------
    def check_header(self) -> bool:
        by_header: dict[str, Column] = {}
        for col in self.layout:
            for h in col.headers():
                by_header[normalise_header(h)] = col
        ok = True
        for index, raw in enumerate(self.table.header):
            name = normalise_header(raw)
            if not name:
                if any(index < len(r) and not _blank(r[index]) for _n, r in self.table.rows):
                    self.report.add_error(1, "", _("第 %(n)d 列没有列名") % {"n": index + 1})
                    ok = False
                continue
            col = by_header.get(name)
            if col is None:
                self.report.add_error(1, str(raw).strip(), _("未知列“%(name)s”") % {"name": str(raw).strip()})
                ok = False
                continue
            if col.key in self.present:
                self.report.add_error(1, str(raw).strip(), _("列“%(name)s”重复") % {"name": str(raw).strip()})
                ok = False
                continue
            self.present[col.key] = index
            self.header_of[col.key] = str(raw).strip()
        for col in self.layout:
            if col.required and col.key not in self.present:
                self.report.add_error(1, col.key, _("缺少必填列“%(en)s”（%(zh)s）") % {"en": col.key, "zh": col.zh})
                ok = False
        return ok

    def col_name(self, key: str) -> str:
        return self.header_of.get(key, key)

    # cells ----------------------------------------------------------------------------------
    def parse_row(self, number: int, cells: list) -> dict[str, Any] | None:
        """{column key: parsed value or BLANK} for the present columns; None if a cell failed."""
        values: dict[str, Any] = {}
        ok = True
        repeated = False
        if self.kind == "enterprises":
            # an enterprise's later rows (more outlets) may leave its own columns blank
            raw_code = cells[self.present["code"]] if self.present["code"] < len(cells) else None
            if not _blank(raw_code):
                code = _text(raw_code)
                repeated = code in self.first_row_of
                self.first_row_of.setdefault(code, number)
        for col in self.layout:
            if col.key not in self.present:
                continue
            index = self.present[col.key]
            raw = cells[index] if index < len(cells) else None
            if _blank(raw):
                if col.required and not (repeated and col.key != "code"):
                    self.report.add_error(number, self.col_name(col.key), _("必填"))
                    ok = False
                values[col.key] = BLANK
                continue
            try:
                values[col.key] = parse_cell(col, raw, kind=self.kind, refs=self.refs)
            except CellError as exc:
                self.report.add_error(number, self.col_name(col.key), str(exc))
                ok = False
        return values if ok else None

    def assign(self, obj, values: dict[str, Any], *, model_tag: str = "") -> None:
        model = type(obj)
        for col in self.layout:
            if col.model != model_tag or col.key not in values or col.field == "-":
                continue
            value = values[col.key]
            name = col.field_name
            if col.type == "refs":
                continue
            if value is BLANK:
                value = blank_value(model, name)
            setattr(obj, name, value)

    def clean(self, number: int, obj, *, exclude: Iterable[str] = (), field_columns: dict[str, str] | None = None) -> bool:
        try:
            obj.full_clean(exclude=list(exclude))
        except ValidationError as exc:
            columns_by_field = field_columns or {}
            found = [
                ("" if fname == "__all__" else columns_by_field.get(fname, fname), message)
                for fname, messages in exc.message_dict.items()
                for message in messages
            ]
            # a database constraint's generic message only helps when nothing more specific was said
            names = [c.name for c in type(obj)._meta.constraints]
            specific = [(c, m) for c, m in found if not any(n in m for n in names)]
            for column, message in specific or found:
                self.report.add_error(number, column, message)
            return False
        return True

    def field_columns(self, model_tag: str = "") -> dict[str, str]:
        return {
            c.field_name: self.col_name(c.key) for c in self.layout if c.model == model_tag and c.field != "-"
        }

    def duplicate(self, number: int, key, column: str, text: str) -> bool:
        if key in self.seen:
            self.report.add_error(
                number, self.col_name(column),
                _("%(what)s与第 %(row)d 行重复") % {"what": text, "row": self.seen[key]},
            )
            return True
        self.seen[key] = number
        return False

    # policy ---------------------------------------------------------------------------------
    def may_change(self, number: int, existing, column: str, what: str) -> bool:
        if self.user is None or policy.can_change(self.user, existing):
            return True
        self.report.add_error(number, self.col_name(column), _("%(what)s已存在，您无权修改它") % {"what": what})
        return False

    def may_write(self, number: int, obj, model, owner, column: str) -> bool:
        if self.user is None:
            return True
        allowed = policy.can_change(self.user, obj) if obj.pk else policy.can_create(self.user, model, owner=owner)
        if not allowed:
            self.report.add_error(
                number, self.col_name(column),
                _("您无权导入属于“%(owner)s”的%(what)s") % {"owner": owner, "what": model._meta.verbose_name},
            )
        return allowed

    # kinds ----------------------------------------------------------------------------------
    def plan(self, number: int, values: dict[str, Any]) -> RowPlan | None:
        return getattr(self, f"plan_{self.kind}")(number, values)

    def _upsert(self, number, values, model, lookup: dict, key_column: str, what: str, *, model_tag=""):
        existing = model._default_manager.filter(**lookup).first()
        if existing is not None:
            if not self.may_change(number, existing, key_column, what):
                return None
            before = snapshot(existing)
            self.assign(existing, values, model_tag=model_tag)
            return existing, False, before
        obj = model(**lookup)
        self.assign(obj, values, model_tag=model_tag)
        return obj, True, None

    def plan_sites(self, number, values) -> RowPlan | None:
        code = values["code"]
        if self.duplicate(number, ("site", code), "code", _("编码“%(code)s”") % {"code": code}):
            return None
        found = self._upsert(number, values, reg.Site, {"code": code}, "code", _("站点“%(code)s”") % {"code": code})
        if found is None:
            return None
        obj, new, before = found
        if not self.may_write(number, obj, reg.Site, obj.owner, "owner"):
            return None
        if not self.clean(number, obj, field_columns=self.field_columns()):
            return None
        return RowPlan(number, [Op(obj, new, new or snapshot(obj) != before, label=reg.Site._meta.verbose_name)])

    def plan_enterprises(self, number, values) -> RowPlan | None:
        code = values["code"]
        first = self.first_row_of.get(code, number)
        ops: list[Op] = []
        depends_on = None
        if first == number:
            found = self._upsert(
                number, values, reg.Enterprise, {"code": code}, "code", _("排污单位“%(code)s”") % {"code": code}
            )
            if found is None:
                return None
            ent, new, before = found
            if not self.may_write(number, ent, reg.Enterprise, ent.owner, "owner"):
                return None
            if not self.clean(number, ent, field_columns=self.field_columns()):
                return None
            ops.append(Op(ent, new, new or snapshot(ent) != before, label=reg.Enterprise._meta.verbose_name))
            self.enterprise_rows[code] = (number, ent, values)
        else:
            if code not in self.enterprise_rows:
                self.report.add_error(
                    number, self.col_name("code"), _("同一排污单位的第 %(row)d 行有误") % {"row": first}
                )
                return None
            first_row, ent, first_values = self.enterprise_rows[code]
            depends_on = first_row
            bad = False
            for col in self.layout:
                if col.model or col.key not in values or values[col.key] is BLANK or col.key == "code":
                    continue
                if values[col.key] != first_values.get(col.key):
                    self.report.add_error(
                        number, self.col_name(col.key),
                        _("与第 %(row)d 行同一排污单位的内容不一致") % {"row": first_row},
                    )
                    bad = True
            if bad:
                return None
        outlet_code = values.get("outlet_code", BLANK)
        outlet_cells = [k for k, v in values.items() if v is not BLANK and self._is_outlet(k) and k != "outlet_code"]
        if outlet_code is BLANK:
            if outlet_cells:
                self.report.add_error(number, self.col_name("outlet_code"), _("填写排放口信息时须填写排放口编号"))
                return None
            if first != number:
                self.report.add_error(
                    number, self.col_name("code"), _("排污单位“%(code)s”与第 %(row)d 行重复") % {"code": code, "row": first}
                )
                return None
            return RowPlan(number, ops, depends_on)
        if self.duplicate(
            number, ("outlet", code, outlet_code), "outlet_code",
            _("排放口“%(code)s/%(outlet)s”") % {"code": code, "outlet": outlet_code},
        ):
            return None
        outlet_values = dict(values)
        for coord in ("lon", "lat"):  # an outlet without a position sits at its enterprise
            if outlet_values.get(f"outlet_{coord}", BLANK) is BLANK:
                outlet_values[f"outlet_{coord}"] = getattr(ent, coord)
        existing = ent.outlets.filter(code=outlet_code).first() if ent.pk else None
        if existing is not None:
            if not self.may_change(number, existing, "outlet_code", _("排放口“%(code)s”") % {"code": outlet_code}):
                return None
            before = snapshot(existing)
            outlet = existing
            # keep the stored position unless the file gives one
            for coord in ("lon", "lat"):
                if values.get(f"outlet_{coord}", BLANK) is BLANK:
                    outlet_values.pop(f"outlet_{coord}")
        else:
            before = None
            outlet = reg.Outlet(code=outlet_code)
        outlet.enterprise = ent
        self.assign(outlet, outlet_values, model_tag="outlet")
        if outlet.pk is None and self.user is not None and not policy.can_create(self.user, reg.Outlet, owner=ent.owner):
            self.report.add_error(
                number, self.col_name("owner"),
                _("您无权导入属于“%(owner)s”的%(what)s") % {"owner": ent.owner, "what": reg.Outlet._meta.verbose_name},
            )
            return None
        exclude = ["enterprise"] if ent.pk is None else []
        if not self.clean(number, outlet, exclude=exclude, field_columns=self.field_columns("outlet")):
            return None
        ops.append(Op(outlet, before is None, before is None or snapshot(outlet) != before, label=reg.Outlet._meta.verbose_name))
        return RowPlan(number, ops, depends_on)

    @staticmethod
    def _is_outlet(key: str) -> bool:
        return any(c.key == key and c.model == "outlet" for c in ENTERPRISE_COLUMNS)

    def _outlet(self, number, values, *, required: bool):
        ent = values.get("enterprise", BLANK)
        code = values.get("outlet", BLANK)
        if ent is BLANK and code is BLANK:
            if required:
                self.report.add_error(number, self.col_name("outlet"), _("必填"))
                return False
            return None
        if ent is BLANK or code is BLANK:
            missing = "enterprise" if ent is BLANK else "outlet"
            self.report.add_error(number, self.col_name(missing), _("排污单位与排放口须同时填写"))
            return False
        outlet = ent.outlets.filter(code=code).first()
        if outlet is None:
            self.report.add_error(
                number, self.col_name("outlet"),
                _("未找到排放口“%(outlet)s”（排污单位 %(code)s）") % {"outlet": code, "code": ent.code},
            )
            return False
        return outlet

    def plan_devices(self, number, values) -> RowPlan | None:
        mn = values["mn"]
        if self.duplicate(number, ("device", mn), "mn", _("MN“%(mn)s”") % {"mn": mn}):
            return None
        outlet = self._outlet(number, values, required=False)
        if outlet is False:
            return None
        found = self._upsert(number, values, reg.Device, {"mn": mn}, "mn", _("数采仪“%(mn)s”") % {"mn": mn})
        if found is None:
            return None
        dev, new, before = found
        if "enterprise" in values or "outlet" in values:
            dev.outlet = outlet
        site_or_outlet = dev.site if dev.site_id else (dev.outlet if dev.outlet_id else None)
        if dev.site_id and dev.outlet_id:
            self.report.add_error(number, "", _("数采仪必须且只能关联一个监测站点或一个排放口"))
            return None
        if site_or_outlet is None:
            self.report.add_error(number, self.col_name("site"), _("须填写监测站点，或排污单位与排放口"))
            return None
        owner = dev.site.owner if dev.site_id else dev.outlet.enterprise.owner
        if not self.may_write(number, dev, reg.Device, owner, "site" if dev.site_id else "enterprise"):
            return None
        if not self.clean(number, dev, field_columns=self.field_columns()):
            return None
        m2m = {}
        changed = new or snapshot(dev) != before
        if "parameters" in values:
            params = [] if values["parameters"] is BLANK else values["parameters"]
            m2m["parameters"] = params
            if not new and {p.pk for p in params} != set(dev.parameters.values_list("pk", flat=True)):
                changed = True
        return RowPlan(number, [Op(dev, new, changed, m2m, label=reg.Device._meta.verbose_name)])

    def plan_limits(self, number, values) -> RowPlan | None:
        outlet = self._outlet(number, values, required=True)
        if not outlet:
            return None
        parameter, period = values["parameter"], values["period"]
        valid_from = values.get("valid_from", BLANK)
        valid_from = None if valid_from is BLANK else valid_from
        key = ("limit", outlet.pk, parameter.pk, period, valid_from)
        if self.duplicate(
            number, key, "parameter", _("同一排放口、因子、均值时段和生效日期的限值")
        ):
            return None
        lookup = {"outlet": outlet, "parameter": parameter, "period": period}
        existing = reg.PermitLimit.objects.filter(**lookup, valid_from=valid_from).first() if valid_from else (
            reg.PermitLimit.objects.filter(**lookup, valid_from__isnull=True).first()
        )
        what = _("限值“%(outlet)s %(param)s”") % {"outlet": outlet, "param": parameter.key}
        if existing is not None:
            if not self.may_change(number, existing, "parameter", what):
                return None
            before = snapshot(existing)
            obj, new = existing, False
        else:
            before = None
            obj, new = reg.PermitLimit(**lookup, valid_from=valid_from), True
        self.assign(obj, values)
        if not self.may_write(number, obj, reg.PermitLimit, outlet.enterprise.owner, "enterprise"):
            return None
        if not self.clean(number, obj, field_columns=self.field_columns()):
            return None
        return RowPlan(number, [Op(obj, new, new or snapshot(obj) != before, label=reg.PermitLimit._meta.verbose_name)])


# --- entry points ---------------------------------------------------------------------------------

Progress = Callable[[int, int, str], None]


def import_file(
    *,
    kind: str,
    data: bytes | None = None,
    path: str | Path | None = None,
    filename: str = "",
    user=None,
    partial: bool = False,
    dry_run: bool = False,
    progress: Progress | None = None,
    reason: str = "",
) -> ImportReport:
    """Import a CSV or XLSX file of ``kind`` (``sites``, ``enterprises``, ``devices``,
    ``limits``) as ``user``; see the module docstring for the rules.

    ``progress(done, total, stage)`` is called while validating (``stage="validate"``)
    and writing (``"write"``)."""
    columns(kind)
    if data is None:
        if path is None:
            raise TypeError("import_file needs data= or path=")
        data = Path(path).read_bytes()
        filename = filename or Path(path).name
    report = ImportReport(kind=kind, filename=filename, partial=partial, dry_run=dry_run)
    if not data or not data.strip(b"\r\n\t \xef\xbb\xbf"):
        report.add_error(None, "", _("文件为空"))
        return report
    try:
        table = read_table(data=data, filename=filename)
    except ImportFileError as exc:
        report.add_error(None, "", str(exc))
        return report
    report.format, report.encoding = table.format, table.encoding
    report.rows = len(table.rows)
    if not any(normalise_header(h) for h in table.header):
        report.add_error(None, "", _("文件为空"))
        return report
    importer = _Importer(kind=kind, table=table, user=user, report=report)
    if not importer.check_header():
        return report
    if not table.rows:
        report.add_error(None, "", _("文件中没有数据行"))
        return report

    total = len(table.rows)
    plans: list[RowPlan] = []
    failed_rows: set[int] = set()
    for i, (number, cells) in enumerate(table.rows, start=1):
        values = importer.parse_row(number, cells)
        plan = importer.plan(number, values) if values is not None else None
        if plan is None:
            failed_rows.add(number)
            report.status[number] = "failed"
        else:
            plans.append(plan)
        if progress:
            progress(i, total, "validate")

    # rows that depend on a failed row fail too (an enterprise's later outlet rows)
    for plan in plans:
        if plan.depends_on in failed_rows:
            report.add_error(plan.row, importer.col_name("code"), _("同一排污单位的第 %(row)d 行有误") % {"row": plan.depends_on})
            failed_rows.add(plan.row)
    plans = [p for p in plans if p.row not in failed_rows]

    if report.errors and not partial:
        return report

    actor_reason = reason or f"import {kind} {filename}".strip()
    with acting_as(user, via="import", reason=actor_reason):
        _write(plans, report=report, partial=partial, dry_run=dry_run, progress=progress)
    return report


def _write(plans: list[RowPlan], *, report: ImportReport, partial: bool, dry_run: bool, progress: Progress | None) -> None:
    total = len(plans)
    done_rows: set[int] = set()

    def write_plan(plan: RowPlan) -> str:
        statuses = []
        for op in plan.ops:
            if op.new or op.changed:
                op.obj.save()
                for name, values in op.m2m.items():
                    getattr(op.obj, name).set(values)
                statuses.append("created" if op.new else "updated")
            else:
                statuses.append("unchanged")
            report.objects[(str(op.label), statuses[-1])] += 1
        return statuses[-1] if statuses else "unchanged"

    try:
        with transaction.atomic():
            for i, plan in enumerate(plans, start=1):
                if plan.depends_on is not None and plan.depends_on not in done_rows and partial:
                    report.add_error(plan.row, "", _("同一排污单位的第 %(row)d 行未能写入") % {"row": plan.depends_on})
                    continue
                if partial:
                    try:
                        with transaction.atomic():
                            status = write_plan(plan)
                    except (IntegrityError, DatabaseError, ValidationError, ValueError) as exc:
                        report.add_error(plan.row, "", _("写入失败：%(error)s") % {"error": exc})
                        continue
                else:
                    try:
                        status = write_plan(plan)
                    except (IntegrityError, DatabaseError, ValidationError, ValueError) as exc:
                        report.add_error(plan.row, "", _("写入失败：%(error)s") % {"error": exc})
                        raise _Rollback from exc
                report.status[plan.row] = status
                done_rows.add(plan.row)
                if progress:
                    progress(i, total, "write")
            if dry_run:
                raise _Rollback
    except _Rollback:
        if not dry_run:
            report.written = False
            for plan in plans:
                if report.status.get(plan.row) != "failed":
                    report.status.pop(plan.row, None)
            report.objects.clear()
            return
        report.written = False
        return
    report.written = True


class _Rollback(Exception):
    pass


# --- export, templates, reports ------------------------------------------------------------------


def _export_value(col: Column, value) -> Any:
    if value is None:
        return ""
    if col.type == "bool":
        return "是" if value else "否"
    if col.type == "ref":
        return getattr(value, "adcode", None) or getattr(value, "key", None) or getattr(value, "code", "")
    if col.type == "refs":
        return ";".join(p.key for p in value)
    if isinstance(value, dt.date):
        return value.isoformat()
    if isinstance(value, float) and value.is_integer():
        return int(value)
    return value


def export_rows(*, kind: str, user=None, headers: str = "zh") -> tuple[list[str], list[list]]:
    """The registry objects of ``kind`` that ``user`` may see (all for ``None``), in
    the import layout: re-importing the result changes nothing."""
    layout = columns(kind)
    head = [c.zh if headers == "zh" else c.key for c in layout]
    rows: list[list] = []

    def visible(qs):
        return qs if user is None else policy.visible(user, qs)

    if kind == "sites":
        for s in visible(reg.Site.objects.select_related(
            "owner", "jurisdiction", "waterbody", "reach", "upstream_jurisdiction", "downstream_jurisdiction"
        )):
            rows.append([_export_value(c, getattr(s, c.field_name)) for c in layout])
    elif kind == "enterprises":
        for e in visible(reg.Enterprise.objects.select_related("owner", "jurisdiction").prefetch_related(
            "outlets__receiving_waterbody", "outlets__reach"
        )):
            base = [_export_value(c, getattr(e, c.field_name)) for c in layout if not c.model]
            outlets = list(e.outlets.all())
            if not outlets:
                rows.append(base + [""] * sum(1 for c in layout if c.model))
            for o in outlets:
                rows.append(base + [_export_value(c, getattr(o, c.field_name)) for c in layout if c.model])
    elif kind == "devices":
        qs = reg.Device.objects.select_related("site", "outlet__enterprise").prefetch_related("parameters")
        for d in visible(qs):
            row = []
            for c in layout:
                if c.key == "enterprise":
                    value = d.outlet.enterprise.code if d.outlet_id else ""
                elif c.key == "outlet":
                    value = d.outlet.code if d.outlet_id else ""
                elif c.key == "parameters":
                    value = _export_value(c, list(d.parameters.all()))
                elif c.key == "password" and user is not None and not policy.can_change(user, d):
                    value = ""
                else:
                    value = _export_value(c, getattr(d, c.field_name))
                row.append(value)
            rows.append(row)
    elif kind == "limits":
        qs = reg.PermitLimit.objects.select_related("outlet__enterprise", "parameter")
        for lim in visible(qs).order_by("outlet__enterprise__code", "outlet__code", "parameter__key", "period"):
            row = []
            for c in layout:
                if c.key == "enterprise":
                    value = lim.outlet.enterprise.code
                elif c.key == "outlet":
                    value = lim.outlet.code
                else:
                    value = _export_value(c, getattr(lim, c.field_name))
                row.append(value)
            rows.append(row)
    return head, rows


def write_table(header: list[str], rows: list[list], *, fmt: str) -> bytes:
    """CSV (UTF-8 with BOM, so Excel opens it correctly) or XLSX bytes."""
    if fmt == "xlsx":
        from openpyxl import Workbook

        wb = Workbook(write_only=True)
        ws = wb.create_sheet()
        ws.append(header)
        for row in rows:
            ws.append(row)
        buf = io.BytesIO()
        wb.save(buf)
        return buf.getvalue()
    buf = io.StringIO(newline="")
    writer = csv.writer(buf, lineterminator="\r\n")
    writer.writerow(header)
    writer.writerows(rows)
    return codecs.BOM_UTF8 + buf.getvalue().encode("utf-8")


def export(*, kind: str, user=None, fmt: str = "csv", headers: str = "zh") -> bytes:
    header, rows = export_rows(kind=kind, user=user, headers=headers)
    return write_table(header, rows, fmt=fmt)


def template_bytes(kind: str) -> bytes:
    """The example file shipped for ``kind`` (CSV, UTF-8 with BOM)."""
    columns(kind)
    data = resources.files("gongzhi.registry").joinpath("import_templates", f"{kind}.csv").read_bytes()
    return data if data.startswith(codecs.BOM_UTF8) else codecs.BOM_UTF8 + data


def report_bytes(report: ImportReport, *, fmt: str = "csv") -> bytes:
    header = [_("行号"), _("列"), _("问题")]
    return write_table(header, report.table_rows(), fmt=fmt)
