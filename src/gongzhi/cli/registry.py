"""``gongzhi registry …``: import registry spreadsheets, export them, get templates.

    gongzhi registry import KIND FILE [--partial] [--dry-run] [--user USERNAME] [--report REPORT.csv|.xlsx]
    gongzhi registry export KIND FILE [--user USERNAME] [--english-headers] [--template]

KIND is one of ``sites``, ``enterprises``, ``devices``, ``limits``; FILE is CSV
(UTF-8 or GBK) or XLSX. ``import`` exits 0 when every row is fine and 1 when any
row (or the file) failed; the per-row report is printed as a table. Column
layouts: ``docs/registry-import.md``.
"""

from __future__ import annotations

import sys
import unicodedata
from pathlib import Path

KINDS = ("sites", "enterprises", "devices", "limits")


def register(subparsers) -> None:
    p = subparsers.add_parser("registry", help="registry spreadsheets: import, export, templates")
    sub = p.add_subparsers(dest="registry_command", metavar="ACTION")

    imp = sub.add_parser("import", help="import sites, enterprises (with outlets), devices or permit limits")
    imp.add_argument("kind", choices=KINDS, metavar="KIND", help="one of: " + ", ".join(KINDS))
    imp.add_argument("file", metavar="FILE", help="CSV (UTF-8 or GBK) or XLSX")
    imp.add_argument("--partial", action="store_true", help="write the valid rows even if some rows fail")
    imp.add_argument("--dry-run", action="store_true", help="check everything, write nothing")
    imp.add_argument("--user", metavar="USERNAME", help="import as this user (checked by the sharing policy)")
    imp.add_argument("--report", metavar="REPORT", help="also write the row report (.csv or .xlsx)")
    imp.add_argument("--reason", default="", help="reason recorded in the audit trail")
    imp.add_argument("--quiet", action="store_true", help="no progress bar")
    imp.set_defaults(func=run_import)

    exp = sub.add_parser("export", help="write the registry objects of KIND in the import layout")
    exp.add_argument("kind", choices=KINDS, metavar="KIND", help="one of: " + ", ".join(KINDS))
    exp.add_argument("file", metavar="FILE", help="output .csv or .xlsx")
    exp.add_argument("--user", metavar="USERNAME", help="export only what this user may see")
    exp.add_argument("--english-headers", action="store_true", help="English column headers (default Chinese)")
    exp.add_argument("--template", action="store_true", help="write the example file for KIND instead")
    exp.set_defaults(func=run_export)
    p.set_defaults(func=lambda args: (p.print_help(), 2)[1])


class _NoSuchUser(Exception):
    pass


def _user(username: str | None):
    if not username:
        return None
    from gongzhi.accounts.models import User

    try:
        return User.objects.select_related("bureau").get(username=username)
    except User.DoesNotExist:
        raise _NoSuchUser(username) from None


def _width(text: str) -> int:
    return sum(2 if unicodedata.east_asian_width(ch) in "WF" else 1 for ch in text)


def _pad(text: str, width: int) -> str:
    return text + " " * (width - _width(text))


def format_table(header: list[str], rows: list[list]) -> str:
    cells = [[str(c) for c in header]] + [[str(c) for c in row] for row in rows]
    widths = [max(_width(r[i]) for r in cells) for i in range(len(header))]
    lines = []
    for n, row in enumerate(cells):
        lines.append("  ".join(_pad(c, w) for c, w in zip(row, widths)).rstrip())
        if n == 0:
            lines.append("  ".join("-" * w for w in widths))
    return "\n".join(lines)


class ProgressBar:
    """A one-line progress bar on stderr (``\\r`` updates on a terminal)."""

    STAGES = {"validate": "校验", "write": "写入"}

    def __init__(self, stream=None, width: int = 30) -> None:
        self.stream = stream or sys.stderr
        self.width = width
        self.last: tuple[str, int] | None = None
        self.tty = hasattr(self.stream, "isatty") and self.stream.isatty()

    def __call__(self, done: int, total: int, stage: str) -> None:
        percent = int(100 * done / total) if total else 100
        if self.last == (stage, percent) and done != total:
            return
        if not self.tty and done != total:
            return
        self.last = (stage, percent)
        filled = int(self.width * done / total) if total else self.width
        bar = "#" * filled + "." * (self.width - filled)
        label = self.STAGES.get(stage, stage)
        end = "\n" if done == total else ""
        self.stream.write(f"\r{label} [{bar}] {done}/{total} {percent:3d}%{end}")
        self.stream.flush()


def run_import(args) -> int:
    from gongzhi.cli import _django

    _django.setup()
    from gongzhi.registry import importers

    path = Path(args.file)
    if not path.is_file():
        print(f"gongzhi registry import: no such file: {path}", file=sys.stderr)
        return 2
    try:
        user = _user(args.user)
    except _NoSuchUser:
        print(f"gongzhi registry import: no user named {args.user!r}", file=sys.stderr)
        return 2
    report = importers.import_file(
        kind=args.kind,
        path=path,
        user=user,
        partial=args.partial,
        dry_run=args.dry_run,
        progress=None if args.quiet else ProgressBar(),
        reason=args.reason,
    )
    print(report.summary())
    if report.errors:
        print(format_table(["行号 row", "列 column", "问题 problem"], report.table_rows()))
    if args.report:
        out = Path(args.report)
        fmt = "xlsx" if out.suffix.lower() == ".xlsx" else "csv"
        out.write_bytes(importers.report_bytes(report, fmt=fmt))
        print(f"report written to {out}", file=sys.stderr)
    return 0 if report.ok else 1


def run_export(args) -> int:
    from gongzhi.cli import _django

    _django.setup()
    from gongzhi.registry import importers

    out = Path(args.file)
    if args.template:
        data = importers.template_bytes(args.kind)
        if out.suffix.lower() == ".xlsx":
            table = importers.read_table(data=data, filename=f"{args.kind}.csv")
            data = importers.write_table(table.header, [r for _n, r in table.rows], fmt="xlsx")
        out.write_bytes(data)
        print(f"wrote the {args.kind} template to {out}", file=sys.stderr)
        return 0
    fmt = "xlsx" if out.suffix.lower() == ".xlsx" else "csv"
    try:
        user = _user(args.user)
    except _NoSuchUser:
        print(f"gongzhi registry export: no user named {args.user!r}", file=sys.stderr)
        return 2
    header, rows = importers.export_rows(kind=args.kind, user=user, headers="en" if args.english_headers else "zh")
    out.write_bytes(importers.write_table(header, rows, fmt=fmt))
    print(f"wrote {len(rows)} {args.kind} rows to {out}", file=sys.stderr)
    return 0
