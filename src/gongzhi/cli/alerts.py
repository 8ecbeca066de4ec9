"""``gongzhi alerts …``: the alarm timer and demo rules.

    gongzhi alerts tick [--every SECONDS]   catch-up evaluation, missing-data rules, escalation
    gongzhi alerts seed-demo                the demo region's default alarm rules

``tick`` runs once (cron) or, with ``--every``, in a loop until interrupted.
"""

from __future__ import annotations

import time


def register(subparsers) -> None:
    p = subparsers.add_parser("alerts", help="alarms: the timer job (tick), demo rules")
    sub = p.add_subparsers(dest="alerts_command", metavar="ACTION")
    t = sub.add_parser("tick", help="evaluate what was missed, judge missing data, escalate overdue warnings")
    t.add_argument("--every", type=float, metavar="SECONDS", help="repeat every SECONDS until interrupted")
    t.set_defaults(func=tick)
    s = sub.add_parser("seed-demo", help="create the demo region's default alarm rules (idempotent)")
    s.set_defaults(func=seed_demo)
    p.set_defaults(func=lambda args: (p.print_help(), 2)[1])


def tick(args) -> int:
    from gongzhi.cli import _django

    _django.setup()
    from gongzhi.alerts.evaluation import tick as run_tick

    while True:
        result = run_tick()
        print(f"alerts tick: read {result['read']} values, {result['missing']} missing-data changes, "
              f"{result['escalated']} warnings escalated", flush=True)
        if not args.every:
            return 0
        time.sleep(max(1.0, args.every))


def seed_demo(args) -> int:
    from gongzhi.cli import _django

    _django.setup()
    from gongzhi.alerts.services import seed_demo_rules

    print(f"alerts: {seed_demo_rules()} demo rules created")
    return 0
