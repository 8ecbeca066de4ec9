"""Suite-wide fixtures and the SQLite/PostgreSQL switch.

Tests under the pure packages' folders (standards, hj212, geo, analytics) are
marked ``pure``: they need no database and run once. Every other test may use
the database and runs on SQLite and again on PostgreSQL (``make test``)."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

PURE_DIRS = {"standards", "hj212", "geo", "analytics"}
TESTS = Path(__file__).resolve().parent


def pytest_configure(config):
    config.addinivalue_line("markers", "pure: needs no database (runs once, on no database)")
    url = os.environ.get("GONGZHI_DATABASE_URL", "")
    if url.startswith(("postgres://", "postgresql://")):
        from gongzhi.devtools.pgcheck import reachable

        ok, why = reachable(url)
        if not ok:
            msg = f"PostgreSQL not reachable at {url}: {why}"
            if os.environ.get("CI") == "true":
                pytest.exit(msg + " (CI requires the PostgreSQL run)", returncode=1)
            config._gongzhi_pg_missing = msg


def pytest_collection_modifyitems(config, items):
    missing = getattr(config, "_gongzhi_pg_missing", None)
    for item in items:
        rel = Path(str(item.fspath)).resolve().relative_to(TESTS)
        if rel.parts and rel.parts[0] in PURE_DIRS:
            item.add_marker(pytest.mark.pure)
        elif missing:
            item.add_marker(pytest.mark.skip(reason=missing))


def pytest_report_header(config):
    from django.conf import settings

    db = settings.DATABASES["default"]
    return f"gongzhi database: {db['ENGINE'].rsplit('.', 1)[-1]} {db.get('HOST') or ''} {db['NAME']}"


@pytest.fixture(autouse=True)
def _reset_language():
    """Requests activate a language on the test thread; start every test from the default."""
    yield
    from django.utils import translation

    translation.activate("zh-hans")
