"""``gongzhi hj212 replay``: re-ingest archived packets of a time range through the same pipeline.

Typical use: a logger was quarantined (``unknown_mn``) until an administrator
registered it, or a catalog alias was added for an unknown code.  Replay is
idempotent: values already stored come back as duplicates.  Replay writes no
new archive rows; stored values point at the archived packet they came from
(``Observation.packet_id``).  ``--dry-run`` runs everything in a transaction
that is rolled back and prints what would happen.

Wired into ``gongzhi hj212`` through :data:`gongzhi.cli.hj212.EXTENSION_MODULES`.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import sys
from collections import Counter


def _when(text: str) -> dt.datetime:
    """ISO date or date-time; without a zone it is Beijing time (HJ 212's zone)."""
    from gongzhi.hj212 import CST

    try:
        value = dt.datetime.fromisoformat(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not an ISO date or date-time: {text!r}") from None
    return value if value.tzinfo else value.replace(tzinfo=CST)


def register(subparsers) -> None:
    p = subparsers.add_parser(
        "replay", help="re-ingest archived packets of a time range (idempotent)",
        description="Re-run archived HJ 212 packets received in [FROM, TO) through the ingest pipeline.",
    )
    p.add_argument("--from", dest="start", type=_when, required=True, metavar="T",
                   help="start of the reception time range (ISO; Beijing time if no zone)")
    p.add_argument("--to", dest="end", type=_when, required=True, metavar="T", help="end (exclusive)")
    p.add_argument("--mn", help="only this device")
    p.add_argument("--verdict", action="append", choices=("accepted", "duplicate", "rejected", "quarantined"),
                   help="only packets archived with this verdict (repeatable; default all)")
    p.add_argument("--dry-run", action="store_true", help="report what would be stored, change nothing")
    p.add_argument("--batch", type=int, default=500, help="packets per transaction (default 500)")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from gongzhi.cli import _django

    _django.setup()
    summary = replay(start=args.start, end=args.end, mn=args.mn, verdicts=args.verdict,
                     dry_run=args.dry_run, batch=args.batch)
    json.dump(summary, sys.stdout, ensure_ascii=False, indent=2)
    sys.stdout.write("\n")
    return 0


class _Rollback(Exception):
    pass


def replay(*, start: dt.datetime, end: dt.datetime, mn: str | None = None, verdicts: list[str] | None = None,
           dry_run: bool = False, batch: int = 500) -> dict:
    """Replay archived packets received in ``[start, end)``; return a summary."""
    from django.db import transaction

    from gongzhi.hj212 import Decoder
    from gongzhi.ingest.models import RawPacket
    from gongzhi.ingest.pipeline import Item, Pipeline

    qs = RawPacket.objects.filter(received__gte=start, received__lt=end)
    if mn:
        qs = qs.filter(mn=mn)
    if verdicts:
        qs = qs.filter(verdict__in=verdicts)
    pipeline = Pipeline()
    verdict_count: Counter = Counter()
    reasons: Counter = Counter()
    totals = {"packets": 0, "values_stored": 0, "values_duplicate": 0}

    def flush(items: list) -> None:
        for out in pipeline.process_batch(items, archive=False):
            verdict_count[str(out.verdict)] += 1
            if out.reason:
                reasons[out.reason] += 1
            totals["values_stored"] += out.values_stored
            totals["values_duplicate"] += out.duplicates

    def work() -> None:
        items: list = []
        for pk, received, peer, raw in qs.order_by("id").values_list("id", "received", "peer", "raw").iterator(2000):
            decoder = Decoder()
            events = decoder.feed(bytes(raw)) + decoder.close()
            for ev in events:
                items.append(Item(f"replay:{peer}"[:64], received, ev, packet_id=pk))
            totals["packets"] += 1
            if len(items) >= batch:
                flush(items)
                items = []
        if items:
            flush(items)

    if dry_run:
        try:
            with transaction.atomic():
                work()
                raise _Rollback
        except _Rollback:
            pipeline.invalidate()  # caches may name rows that were rolled back
    else:
        work()
    return {**totals, "dry_run": dry_run, "verdicts": dict(verdict_count), "reasons": dict(reasons)}
