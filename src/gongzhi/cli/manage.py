"""``gongzhi manage …``: any Django management command (migrate, createsuperuser, shell …)."""

from __future__ import annotations

import argparse
import os


def register(subparsers) -> None:
    p = subparsers.add_parser(
        "manage", help="run a Django management command (e.g. migrate, createsuperuser)", add_help=False
    )
    p.add_argument("args", nargs=argparse.REMAINDER)
    p.set_defaults(func=run)
    m = subparsers.add_parser("migrate", help="create or upgrade the database schema")
    m.set_defaults(func=run_migrate)


def run(args) -> int:
    from gongzhi.cli import _django

    # management commands run in development mode unless the caller chose an environment
    _django.setup(env=None if os.environ.get("GONGZHI_ENV") else "development")
    from django.core.management import execute_from_command_line

    execute_from_command_line(["gongzhi manage", *args.args])
    return 0


def run_migrate(args) -> int:
    from gongzhi.cli import _django

    _django.setup()
    _django.migrate()
    return 0
