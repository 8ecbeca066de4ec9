"""End-to-end tests in a real browser: Debian's chromium driven by Playwright for Python.

The browser is never downloaded: Playwright is given ``executable_path`` (``/usr/bin/chromium``,
or ``GONGZHI_CHROMIUM``). ``make install`` installs Debian's chromium when it is missing and
the user is root. When chromium (or Playwright) is still missing, these tests **fail** in CI
(``CI=true``) with a message saying so, and are skipped with that reason elsewhere.

Screenshots go to ``var/screenshots/`` at the repository root (git-ignored), made by the tests.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
SCREENSHOTS = ROOT / "var" / "screenshots"
CHROMIUM_ARGS = [
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
    "--disable-component-update", "--disable-sync", "--no-first-run",
]


def chromium_path() -> str | None:
    for candidate in (os.environ.get("GONGZHI_CHROMIUM"), "/usr/bin/chromium", shutil.which("chromium")):
        if candidate and Path(candidate).is_file() and os.access(candidate, os.X_OK):
            return candidate
    return None


def _unavailable() -> str | None:
    try:
        import playwright.sync_api  # noqa: F401
    except ImportError:
        return "Playwright for Python is not installed (pip install -e '.[dev]')"
    if chromium_path() is None:
        return "chromium not found at /usr/bin/chromium (make install installs Debian's chromium as root; or set GONGZHI_CHROMIUM)"
    from gongzhi.web import assets

    gone = assets.missing()
    if gone:
        return f"web assets missing ({', '.join(gone)}): run make web-assets"
    return None


@pytest.fixture(scope="session")
def chromium_executable() -> str:
    why = _unavailable()
    if why:
        if os.environ.get("CI") == "true":
            pytest.fail(f"end-to-end tests cannot run in CI: {why}", pytrace=False)
        pytest.skip(why)
    return chromium_path()


@pytest.fixture(scope="session")
def screenshot_dir() -> Path:
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    return SCREENSHOTS


@pytest.fixture
def browser_page(chromium_executable, tmp_path):
    """A fresh headless chromium page (Chinese locale, 1400×900); closed after the test."""
    from playwright.sync_api import sync_playwright

    pw = sync_playwright().start()
    browser = pw.chromium.launch(executable_path=chromium_executable, headless=True, args=CHROMIUM_ARGS)
    context = browser.new_context(viewport={"width": 1400, "height": 900}, locale="zh-CN", accept_downloads=True,
                                  timezone_id="Asia/Shanghai")
    page = context.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    page.js_errors = errors
    try:
        yield page
    finally:
        context.close()
        browser.close()
        pw.stop()
