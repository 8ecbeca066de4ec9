"""``python -m gongzhi.devtools.pgcheck URL``: exit 0 if PostgreSQL answers at URL, 1 if not."""

from __future__ import annotations

import sys

from gongzhi.config import parse_database_url


def reachable(url: str, timeout: int = 3) -> tuple[bool, str]:
    import psycopg

    cfg = parse_database_url(url)
    try:
        # connect to the maintenance database: the test database is created by the suite
        with psycopg.connect(
            dbname="postgres", user=cfg.user or None, password=cfg.password or None,
            host=cfg.host or None, port=cfg.port or None, connect_timeout=timeout,
        ) as conn:
            conn.execute("SELECT 1")
        return True, ""
    except Exception as exc:  # any failure means "not usable here"
        return False, str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    ok, why = reachable(argv[0])
    if not ok:
        print(f"PostgreSQL not reachable: {why}", file=sys.stderr)
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
