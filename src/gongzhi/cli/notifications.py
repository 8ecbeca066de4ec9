"""``gongzhi notifications …``: send queued notification deliveries.

    gongzhi notifications dispatch [--once] [--interval SECONDS] [--limit N]
    gongzhi notifications status
    gongzhi notifications purge [--days 180]

``dispatch`` runs until Ctrl-C, sending due deliveries every ``--interval`` seconds (default 2);
with ``--once`` it sends everything due now, in batches of ``--limit``, and exits (for cron or
systemd timers). Several dispatchers may run at once: each delivery is claimed by one of them.
Exit codes: 0 done, 1 some deliveries failed for good in this run (``--once``), 2 usage error.
"""

from __future__ import annotations

import signal
import sys


def register(subparsers) -> None:
    p = subparsers.add_parser("notifications", help="notifications: send queued email, webhook and gateway deliveries")
    sub = p.add_subparsers(dest="notifications_command", metavar="ACTION")
    d = sub.add_parser("dispatch", help="send due deliveries (runs until stopped; --once: send what is due and exit)")
    d.add_argument("--once", action="store_true", help="send everything due now, then exit")
    d.add_argument("--interval", type=float, default=2.0, metavar="SECONDS", help="pause between rounds (default 2)")
    d.add_argument("--limit", type=int, default=200, metavar="N", help="deliveries claimed per batch (default 200)")
    d.set_defaults(func=run_dispatch)
    s = sub.add_parser("status", help="count deliveries by channel and status")
    s.set_defaults(func=run_status)
    pu = sub.add_parser("purge", help="delete notifications older than --days (never ones still waiting to be sent)")
    pu.add_argument("--days", type=int, default=180, metavar="N", help="keep the last N days (default 180)")
    pu.set_defaults(func=run_purge)
    p.set_defaults(func=lambda args: (p.print_help(), 2)[1])


def run_dispatch(args) -> int:
    if args.limit < 1 or args.interval <= 0:
        print("--limit must be at least 1 and --interval above 0", file=sys.stderr)
        return 2
    from gongzhi.cli._django import setup

    setup()
    from gongzhi.notifications import services

    if args.once:
        total = services.DispatchResult()
        while True:
            result = services.dispatch_due(limit=args.limit)
            for name in ("claimed", "sent", "retried", "failed", "deferred"):
                setattr(total, name, getattr(total, name) + getattr(result, name))
            if result.claimed < args.limit:
                break
        print(f"gongzhi notifications: {total}", flush=True)
        return 1 if total.failed else 0

    import threading

    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    print(f"gongzhi notifications: dispatching every {args.interval:g} s (Ctrl-C stops)", flush=True)
    try:
        services.run_dispatcher(stop, interval=args.interval, limit=args.limit)
    except KeyboardInterrupt:
        stop.set()
    return 0


def run_status(args) -> int:
    from gongzhi.cli._django import setup

    setup()
    from django.db.models import Count

    from gongzhi.notifications.models import Delivery

    rows = Delivery.objects.values("channel", "status").annotate(n=Count("id")).order_by("channel", "status")
    if not rows:
        print("no deliveries")
    for row in rows:
        print(f"{row['channel']:<12} {row['status']:<10} {row['n']}")
    return 0


def run_purge(args) -> int:
    if args.days < 1:
        print("--days must be at least 1", file=sys.stderr)
        return 2
    from gongzhi.cli._django import setup

    setup()
    from gongzhi.notifications import services

    print(f"gongzhi notifications: {services.purge(days=args.days)} notifications older than {args.days} days deleted")
    return 0
