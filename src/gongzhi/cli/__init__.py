"""The ``gongzhi`` command.

Each sub-command lives in its own module of this package and exposes
``register(subparsers)``, which adds its parser and sets ``func`` (a callable
taking the parsed ``argparse.Namespace`` and returning an exit code).
Commands that need the database call :func:`gongzhi.cli._django.setup` first;
the pure ones (``standards``, ``hj212 parse``) never touch Django.
"""

from __future__ import annotations

import argparse
import importlib
import sys

# Module names under gongzhi.cli, in the order they appear in --help.
COMMAND_MODULES = (
    "demo",
    "serve",
    "notifications",
    "gateway",
    "simulate",
    "manage",
    "registry",
    "standards",
    "hj212",
    "observations",
    "api",
    "alerts",
)


def build_parser() -> argparse.ArgumentParser:
    from gongzhi import __version__

    parser = argparse.ArgumentParser(
        prog="gongzhi",
        description="gongzhi (共治): cross-jurisdiction environmental co-governance platform.",
    )
    parser.add_argument("--version", action="version", version=f"gongzhi {__version__}")
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND")
    for name in COMMAND_MODULES:
        try:
            module = importlib.import_module(f"gongzhi.cli.{name}")
        except ModuleNotFoundError as exc:  # a command module not written yet
            if exc.name == f"gongzhi.cli.{name}":
                continue
            raise
        module.register(subparsers)
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if not getattr(args, "func", None):
        parser.print_help()
        return 2
    try:
        return int(args.func(args) or 0)
    except KeyboardInterrupt:
        return 130
    except BrokenPipeError:  # e.g. `gongzhi hj212 parse ... | head`
        return 0


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
