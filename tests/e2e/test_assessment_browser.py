"""Assessments in a real browser: sign in → landing → water page → air AQI calendar drawn by
ECharts → a table exported as CSV → English. Screenshots under var/screenshots/."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "assessment"))
from assess_data import build_region  # noqa: E402

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def assessed_region(transactional_db):
    return build_region()


def test_assessment_pages_in_the_browser(live_server, assessed_region, browser_page, screenshot_dir):
    page, base = browser_page, live_server.url
    page.goto(f"{base}/assessments/")
    assert "/login/" in page.url
    page.fill("input[name=username]", "qp-analyst")
    page.fill("input[name=password]", "secret-pass-123")
    page.click("button[type=submit]")
    page.wait_for_load_state("networkidle")
    assert page.title().startswith("考核评价")

    page.goto(f"{base}/assessments/water/?period=month&at=2026-10")
    assert page.inner_text("#kpi-n") == "2" and page.inner_text("#kpi-good") == "50"
    page.wait_for_selector("#class-chart canvas")
    assert "KS-W1" not in page.content()  # 昆山 does not share it with 青浦
    page.screenshot(path=str(screenshot_dir / "assessment-water.png"), full_page=True)

    page.goto(f"{base}/assessments/air/?period=month&at=2026-10")
    page.wait_for_selector("#aqi-calendar canvas")
    options = page.eval_on_selector_all("#cal-entity option", "els => els.map(e => e.textContent)")
    assert options == ["青浦区 (310118)", "空气站QP-A1 (QP-A1)"]
    page.select_option("#cal-entity", "1")
    page.screenshot(path=str(screenshot_dir / "assessment-air.png"), full_page=True)

    with page.expect_download() as info:
        page.click("#table-stations a:text('CSV')")
    text = Path(info.value.path()).read_text(encoding="utf-8-sig")
    assert text.splitlines()[0].startswith("站点编码,站点,所属局")
    assert "QP-A1" in text and "KS-A1" not in text

    page.select_option("select[name=language]", "en")
    page.wait_for_selector("html[lang=en] #aqi-calendar")
    assert page.title().startswith("Ambient air quality")
    page.wait_for_selector("#aqi-calendar canvas")
    assert page.js_errors == []
