"""In a real browser, as an analyst would: sign in → the one map (markers coloured) → a site →
its charts drawn → another resolution → CSV export downloaded → English. Screenshots of the
map and the site page are saved under var/screenshots/."""

from __future__ import annotations

import csv
import datetime as dt
import io
import math

import pytest
from django.utils import timezone

from gongzhi.accounts.models import Role, User
from gongzhi.demo.loader import load_demo_region
from gongzhi.observations import aggregates as agg
from gongzhi.observations import services as obs
from gongzhi.observations.models import SeriesKind, Source
from gongzhi.registry import models as reg

pytestmark = pytest.mark.django_db(transaction=True)

CST = dt.timezone(dt.timedelta(hours=8))
PASSWORD = "e2e-password-2026"
WATER = ("ph", "do", "codmn", "nh3_n", "tp")
AIR = ("pm2_5", "pm10", "o3", "no2", "so2", "co")


def _write_region_data(site_code: str, days: int = 30) -> None:
    """Latest values for every site (a spread of classes and AQI levels) and ``days`` of
    hourly history for one site, through the store's write path."""
    params = {p.key: p for p in reg.Parameter.objects.filter(key__in=WATER + AIR)}
    now_hour = timezone.now().astimezone(CST).replace(minute=0, second=0, microsecond=0)
    rows = []
    obs.series_resolver.clear()
    nh3 = (0.1, 0.4, 0.8, 1.3, 1.8, 2.5)  # Ⅰ … 劣Ⅴ
    pm25 = (20.0, 45.0, 80.0, 130.0, 200.0, 300.0)  # 优 … 严重污染
    for i, site in enumerate(reg.Site.objects.order_by("code")):
        if site.kind == "water_section":
            hist = days * 24 if site.code == site_code else 1
            for k in WATER:
                sid = obs.series_resolver.get(site=site, parameter=params[k], kind=SeriesKind.HOUR, unit="1" if k == "ph" else "mg/L")
                for h in range(hist):
                    t = now_hour - dt.timedelta(hours=h)
                    wave = math.sin(h / 24 * 2 * math.pi)
                    v = {"ph": 7.4 + 0.3 * wave, "do": 6.5 + 1.2 * wave, "codmn": 4.0 + wave, "tp": 0.12 + 0.04 * wave,
                         "nh3_n": (0.8 + 0.35 * wave + (0.5 if h % 97 < 6 else 0)) if hist > 1 else nh3[i % 6]}[k]
                    rows.append(obs.ObservationRow(sid, t, round(v, 3), "N"))
        else:
            for k in AIR:
                sid = obs.series_resolver.get(site=site, parameter=params[k], kind=SeriesKind.HOUR,
                                              unit="mg/m³" if k == "co" else "µg/m³")
                v = {"pm2_5": pm25[i % 6], "pm10": 60.0, "o3": 80.0, "no2": 30.0, "so2": 6.0, "co": 0.6}[k]
                rows.append(obs.ObservationRow(sid, now_hour, v, "N"))
    obs.write_observations(rows, source=Source.DEVICE)
    obs.apply_pending_changes(limit=100000)
    agg.recompute_dirty()


@pytest.fixture
def demo_region():
    load_demo_region(with_passwords=False)
    site = reg.Site.objects.filter(owner__code="qingpu", kind="water_section", is_boundary=True).order_by("code").first()
    assert site is not None
    _write_region_data(site.code)
    qp = reg.Bureau.objects.get(code="qingpu")
    ks = reg.Bureau.objects.get(code="kunshan")
    User.objects.create_user(username="e2e-qingpu", password=PASSWORD, bureau=qp, role=Role.ANALYST)
    User.objects.create_user(username="e2e-kunshan", password=PASSWORD, bureau=ks, role=Role.VIEWER)
    qingpu_sites = set(reg.Site.objects.filter(owner__code="qingpu").values_list("code", flat=True))
    return {"site": site, "qingpu_sites": qingpu_sites}


def _login(page, base: str, username: str, next_path: str = "/"):
    page.goto(f"{base}{next_path}")
    assert "/login/" in page.url
    page.fill("input[name=username]", username)
    page.fill("input[name=password]", PASSWORD)
    page.click("button[type=submit]")
    page.wait_for_load_state("networkidle")


def test_login_map_site_chart_export_and_english(live_server, demo_region, browser_page, screenshot_dir):
    # (the database is set up before the browser starts: Playwright's event loop makes the ORM refuse)
    page, site = browser_page, demo_region["site"]
    base = live_server.url
    _login(page, base, "e2e-qingpu")

    # the one map: layers and markers
    assert page.url.rstrip("/") == base
    page.wait_for_selector("#map[data-loaded]")
    page.wait_for_selector("path.leaflet-interactive")
    markers = page.locator(".gz-marker")
    assert markers.count() == int(page.get_attribute("#map", "data-loaded")) > 10
    assert page.locator("path.leaflet-interactive").count() >= 5  # jurisdictions, waters, borders, bands
    colours = set(page.eval_on_selector_all(".gz-marker", "els => els.map(e => e.style.background)"))
    assert len(colours) >= 4  # several classes / AQI levels, not one grey
    assert "区域一张图" in page.content()
    page.screenshot(path=str(screenshot_dir / "map.png"))

    # filters: only air stations
    page.select_option("select[name=kind]", "air_station")
    page.wait_for_function("document.querySelectorAll('.gz-marker.water').length === 0")
    assert page.locator(".gz-marker.air").count() > 0
    page.select_option("select[name=kind]", "")
    page.wait_for_function("document.querySelectorAll('.gz-marker.water').length > 0")

    # one click opens the site
    page.click(f'.gz-marker[data-code="{site.code}"]')
    page.click(".leaflet-popup-content a")
    page.wait_for_url(f"**/sites/{site.code}/")
    page.wait_for_selector("#charts[data-drawn]")
    assert page.locator("#charts .chart canvas").count() == 5
    nh3_points = int(page.get_attribute('.chart[data-parameter="nh3_n"]', "data-points"))
    assert 24 * 7 - 2 <= nh3_points <= 24 * 7 + 1  # the default: last 7 days, hourly
    page.wait_for_selector("#data-rows")
    assert page.locator("#data-rows tbody tr").count() == nh3_points
    assert page.locator("#data-rows td.ex").count() > 0  # NH3-N above the target class limit
    assert page.locator("#latest tr").count() == 1 + 5

    # a month at daily resolution: aggregated on the server
    page.click("button[data-days='30']")
    page.check("input[name=resolution][value=day]")
    page.wait_for_function("document.querySelector('.chart[data-parameter=\"nh3_n\"]') && Number(document.querySelector('.chart[data-parameter=\"nh3_n\"]').dataset.points) <= 31")
    day_points = int(page.get_attribute('.chart[data-parameter="nh3_n"]', "data-points"))
    assert 29 <= day_points <= 31
    page.wait_for_function(f"document.querySelectorAll('#data-rows tbody tr').length === {day_points}")
    page.screenshot(path=str(screenshot_dir / "site.png"), full_page=True)

    # export what is shown
    with page.expect_download() as info:
        page.click("#export-csv")
    download = info.value
    assert download.suggested_filename.startswith(f"{site.code}_day_") and download.suggested_filename.endswith(".csv")
    rows = list(csv.reader(io.StringIO(open(download.path(), encoding="utf-8-sig").read())))
    assert rows[0][0] == "站点编码"
    assert len(rows) - 1 == sum(int(page.get_attribute(f'.chart[data-parameter="{k}"]', "data-points")) for k in WATER)

    # switch to English
    page.select_option("select[name=language]", "en")
    page.wait_for_load_state("networkidle")
    page.wait_for_selector("#charts[data-drawn]")
    assert page.get_attribute("html", "lang") == "en"
    assert "Charts" in page.content() and "Latest values" in page.content() and "监测曲线" not in page.content()
    page.screenshot(path=str(screenshot_dir / "site-en.png"), full_page=True)
    page.goto(f"{base}/map/")
    page.wait_for_selector("#map[data-loaded]")
    assert "The region on one map" in page.content()
    page.screenshot(path=str(screenshot_dir / "map-en.png"))
    assert page.js_errors == []


def test_a_partner_without_agreement_gets_404_in_the_browser(live_server, demo_region, browser_page):
    page = browser_page
    _login(page, live_server.url, "e2e-kunshan", "/map/")
    page.wait_for_selector("#map[data-loaded]")
    shown = set(page.eval_on_selector_all(".gz-marker", "els => els.map(e => e.dataset.code)"))
    qingpu_private = demo_region["qingpu_sites"] - shown
    assert qingpu_private  # 青浦 sites 昆山 has no agreement for are not on its map
    response = page.goto(f"{live_server.url}/sites/{sorted(qingpu_private)[0]}/")
    assert response.status == 404


@pytest.fixture
def review_data(demo_region):
    """A monitoring staff user of 青浦 and one value flagged D by its logger yesterday."""
    site = demo_region["site"]
    User.objects.create_user(username="e2e-qp-monitor", password=PASSWORD, bureau=site.owner, role=Role.MONITORING_STAFF)
    nh3 = reg.Parameter.objects.get(key="nh3_n")
    sid = obs.series_resolver.get(site=site, parameter=nh3, kind=SeriesKind.HOUR, unit="mg/L")
    t = (timezone.now().astimezone(CST) - dt.timedelta(days=1)).replace(minute=30, second=0, microsecond=0)
    obs.write_observations([obs.ObservationRow(sid, t, 9.9, "D")], source=Source.DEVICE)
    return {**demo_region, "time": t}


def test_review_a_flagged_value_in_the_browser(live_server, review_data, browser_page, screenshot_dir):
    """Data review: the flagged value is listed; a correction with a reason swaps its row (htmx)
    and shows the history; the raw value stays beside it."""
    page = browser_page
    _login(page, live_server.url, "e2e-qp-monitor", "/review/?flag=flag:D")
    row = page.locator("#review-rows tbody tr").filter(has_text="9.9")
    assert row.count() == 1
    form = row.locator("form.rev")
    form.locator("input[name=value]").fill("0.99")
    form.locator("input[name=reason]").fill("平行样复核")
    form.locator("button[value=correct]").click()
    page.wait_for_selector("#review-rows details")  # the swapped row carries the revision history
    swapped = page.locator("#review-rows tbody tr").filter(has_text="平行样复核")
    assert swapped.count() == 1
    cells = swapped.locator("td.num").all_inner_texts()
    assert cells[:2] == ["9.9", "0.99"]  # raw value, current value
    page.screenshot(path=str(screenshot_dir / "review.png"), full_page=False)
    assert page.js_errors == []
