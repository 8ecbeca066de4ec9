"""``gongzhi observations …``: import lab/manual results, recompute aggregates.

    gongzhi observations import FILE [--partial] [--dry-run] --user USERNAME [--report R.csv] [--manual] [--quiet]
    gongzhi observations aggregates [--recompute [--every SECONDS]] [--limit N] [--rebuild]

``import`` exits 0 when every value was accepted or a duplicate, 1 when any value (or the
file) was rejected, 2 on a usage error. File format: ``docs/observations.md``.
``aggregates`` shows the dirty hours waiting and the stored aggregates; ``--recompute``
processes every dirty hour (in batches of ``--limit``); with ``--every SECONDS`` it keeps running
and recomputes the hours that are over (what a deployment runs beside the gateway, so hourly and
daily means, and the alarm rules on them, follow the live data); ``--rebuild`` marks every stored
hour dirty first (after a change of the validity rules).
"""

from __future__ import annotations

import sys
import time
from pathlib import Path


def register(subparsers) -> None:
    p = subparsers.add_parser("observations", help="observation store: file import, aggregates")
    sub = p.add_subparsers(dest="observations_command", metavar="ACTION")

    imp = sub.add_parser("import", help="import lab/manual monitoring results (CSV or XLSX)")
    imp.add_argument("file", metavar="FILE", help="CSV (UTF-8 or GBK) or XLSX")
    imp.add_argument("--partial", action="store_true", help="write the accepted values even if some are rejected")
    imp.add_argument("--dry-run", action="store_true", help="check everything, write nothing")
    imp.add_argument("--user", metavar="USERNAME", required=True, help="import as this user (checked by the sharing policy)")
    imp.add_argument("--report", metavar="REPORT.csv", help="write the per-value report as CSV (UTF-8 with BOM)")
    imp.add_argument("--manual", action="store_true", help="record the source as manual entry (人工录入) instead of file import")
    imp.add_argument("--quiet", action="store_true", help="no progress bar")
    imp.set_defaults(func=run_import)

    ag = sub.add_parser("aggregates", help="show or recompute hour/day/month aggregates")
    ag.add_argument("--recompute", action="store_true", help="recompute every dirty hour now")
    ag.add_argument("--rebuild", action="store_true", help="mark every stored hour dirty, then recompute")
    ag.add_argument("--every", type=float, default=None, metavar="SECONDS",
                    help="with --recompute: keep running, every SECONDS recompute the hours that are over "
                         "(their aggregates then reach the alarm rules); Ctrl-C stops")
    ag.add_argument("--limit", type=int, default=20000, metavar="N", help="dirty hours per batch (default 20000)")
    ag.set_defaults(func=run_aggregates)
    p.set_defaults(func=lambda args: (p.print_help(), 2)[1])


class ProgressBar:
    """One line on stderr, redrawn with ``\\r`` on a terminal; only the final line otherwise."""

    LABELS = {"validate": "校验 validate", "write": "写入 write"}

    def __init__(self, stream=None, width: int = 30) -> None:
        self.stream = stream or sys.stderr
        self.width = width
        self.tty = hasattr(self.stream, "isatty") and self.stream.isatty()

    def __call__(self, stage: str, done: int, total: int) -> None:
        if not self.tty and done != total:
            return
        filled = int(self.width * done / total) if total else self.width
        end = "\n" if done == total else ""
        label = self.LABELS.get(stage, stage)
        self.stream.write(f"\r{label} [{'#' * filled}{'.' * (self.width - filled)}] {done}/{total}{end}")
        self.stream.flush()


def run_import(args) -> int:
    from gongzhi.cli import _django

    _django.setup()
    from gongzhi.accounts.models import User
    from gongzhi.observations import importers
    from gongzhi.observations.models import Source

    path = Path(args.file)
    if not path.is_file():
        print(f"gongzhi observations import: no such file: {path}", file=sys.stderr)
        return 2
    try:
        user = User.objects.select_related("bureau").get(username=args.user)
    except User.DoesNotExist:
        print(f"gongzhi observations import: no user named {args.user!r}", file=sys.stderr)
        return 2
    report = importers.import_file(
        data=path.read_bytes(), filename=path.name, user=user, partial=args.partial, dry_run=args.dry_run,
        source=Source.MANUAL if args.manual else Source.IMPORT, progress=None if args.quiet else ProgressBar(),
    )
    print(report.summary())
    problems = report.rejections()
    for r in problems[:50]:
        print(f"  row {r.row}, column {r.column}: {r.reason}")
    if len(problems) > 50:
        print(f"  … and {len(problems) - 50} more (see --report)")
    if args.report:
        report.write_csv(args.report)
        print(f"report written to {args.report}", file=sys.stderr)
    return 0 if report.ok else 1


def run_aggregates(args) -> int:
    from gongzhi.cli import _django

    _django.setup()
    from django.db.models import Count, Min

    from gongzhi.observations import aggregates
    from gongzhi.observations.models import Aggregate, DirtyPeriod

    if args.rebuild:
        started = time.perf_counter()
        r = aggregates.recompute_all()
        print(f"rebuilt: {r} in {time.perf_counter() - started:.1f} s")
    elif args.recompute and args.every:
        from django.utils import timezone

        print(f"recomputing the dirty hours that are over every {args.every:g} s (Ctrl-C stops)", flush=True)
        try:
            while True:
                r = aggregates.recompute_settled(limit=args.limit)
                if r:
                    print(f"{timezone.now():%Y-%m-%d %H:%M:%S} recomputed {r} dirty hours", flush=True)
                time.sleep(args.every)
        except KeyboardInterrupt:
            return 0
    elif args.recompute:
        started = time.perf_counter()
        total_keys = 0
        while True:
            r = aggregates.recompute_dirty(limit=args.limit)
            total_keys += r.keys
            if r.keys:
                print(r, file=sys.stderr)
            if not r.keys:
                break
        print(f"recomputed {total_keys} dirty hours in {time.perf_counter() - started:.1f} s")
    dirty = DirtyPeriod.objects.aggregate(n=Count("id"), oldest=Min("start"))
    print(f"dirty hours waiting: {dirty['n']}" + (f" (oldest {dirty['oldest']:%Y-%m-%d %H:%M} UTC)" if dirty["n"] else ""))
    for row in Aggregate.objects.values("period").annotate(n=Count("id")).order_by("period"):
        print(f"{row['period']:>6} aggregates: {row['n']}")
    return 0

