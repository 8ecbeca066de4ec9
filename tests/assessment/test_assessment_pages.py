"""Assessment pages and exports: same numbers as the services, policy, both languages."""

from __future__ import annotations

import csv
import io
import json
import re

import pytest
from django.test import Client
from openpyxl import load_workbook

OCT = {"period": "month", "at": "2026-10"}


def login(user) -> Client:
    c = Client()
    c.force_login(user)
    return c


def english(c: Client) -> Client:
    c.post("/i18n/setlang/", {"language": "en", "next": "/"})
    return c


def csv_rows(resp) -> list[list[str]]:
    text = resp.content.decode("utf-8")
    assert text.startswith("\ufeff")  # Excel opens UTF-8 with a BOM
    return list(csv.reader(io.StringIO(text[1:])))


def test_pages_need_a_login(region):
    for url in ("/assessments/", "/assessments/water/", "/assessments/air/", "/assessments/rankings/", "/assessments/water/export/sections.csv"):
        resp = Client().get(url)
        assert resp.status_code == 302 and "/login/" in resp["Location"]


def test_landing_links_the_latest_complete_period(region):
    resp = login(region["users"]["qp"]).get("/assessments/")
    assert resp.status_code == 200
    html = resp.content.decode()
    assert "地表水断面评价" in html
    assert re.search(r'/assessments/water/\?period=month&amp;at=\d{4}-\d{2}', html)
    assert re.search(r'/assessments/rankings/\?period=year&amp;at=\d{4}"', html)


def test_water_page_numbers_follow_the_policy(region):
    resp = login(region["users"]["qp"]).get("/assessments/water/", OCT)
    assert resp.status_code == 200
    html = resp.content.decode()
    assert "QP-W2" in html and "KS-W1" not in html and "JS-W1" not in html
    assert re.search(r'id="kpi-n">2<', html)
    assert re.search(r'id="kpi-good">50<', html)
    assert re.search(r'id="kpi-worse">0<', html)
    assert "氨氮(0.2)" in html
    chart = json.loads(re.search(r'<script id="class-data" type="application/json">(.*?)</script>', html, re.S).group(1))
    assert chart["values"] == [0, 1, 0, 1, 0, 0]  # QP-W1 Ⅱ, QP-W2 Ⅳ


def test_bad_input_is_a_400_and_an_unknown_bureau_a_404(region):
    c = login(region["users"]["qp"])
    assert c.get("/assessments/water/", {"period": "week"}).status_code == 400
    assert c.get("/assessments/water/", {"period": "month", "at": "2026-13"}).status_code == 400
    assert c.get("/assessments/air/", {"period": "year", "at": "26"}).status_code == 400
    assert c.get("/assessments/rankings/", {"level": "province"}).status_code == 400
    assert c.get("/assessments/water/", {**OCT, "scope": "nobody"}).status_code == 404
    assert c.get("/assessments/water/export/nothing.csv").status_code == 404
    assert c.get("/assessments/water/export/sections.pdf").status_code == 404


def test_water_csv_and_xlsx_export_the_table_shown(region):
    c = login(region["users"]["admin"])
    rows = csv_rows(c.get("/assessments/water/export/sections.csv", OCT))
    assert rows[0][:3] == ["断面编码", "断面", "所属局"]
    by_code = {r[0]: r for r in rows[1:]}
    assert sorted(by_code) == ["JS-W1", "KS-W1", "QP-W1", "QP-W2"]
    assert by_code["QP-W2"][6] == "Ⅳ" and by_code["QP-W2"][8] == "否" and by_code["QP-W2"][9] == "氨氮(0.2)"
    assert by_code["QP-W2"][10:12] == ["Ⅲ", "有所变差"]
    resp = c.get("/assessments/water/export/bureaus.xlsx", OCT)
    assert resp["Content-Type"].startswith("application/vnd.openxmlformats")
    assert 'filename="water_bureaus_month_2026-10_region.xlsx"' in resp["Content-Disposition"]
    ws = load_workbook(io.BytesIO(resp.content)).active
    values = [[c.value for c in row] for row in ws.iter_rows()]
    assert values[0][0] == "范围"
    region_row = values[-1]
    assert region_row[0] == "全区域"
    assert region_row[3:5] == [50, 25] and region_row[7] == 50  # I–III share, worse-than-V share, compliance


def test_air_page_calendar_and_export(region):
    c = login(region["users"]["admin"])
    html = c.get("/assessments/air/", OCT).content.decode()
    cal = json.loads(re.search(r'<script id="calendar-data" type="application/json">(.*?)</script>', html, re.S).group(1))
    assert (cal["start"], cal["end"]) == ("2026-10-01", "2026-11-01")
    js = next(e for e in cal["entities"] if e["code"] == "JS-A1")
    assert js["calendar"][0] == ["2026-10-01", 119, 3, "PM₂.₅"]
    assert [x["colour"] for x in cal["categories"]][:3] == ["#00e400", "#ffff00", "#ff7e00"]  # HJ 633 Table 2 colours
    rows = csv_rows(c.get("/assessments/air/export/stations.csv", OCT))
    js_row = next(r for r in rows if r[0] == "JS-A1")
    assert js_row[3:6] == ["31", "21", "67.74"] and js_row[8] == "3.77"
    days = csv_rows(c.get("/assessments/air/export/calendar.csv", OCT))
    assert len([r for r in days if r[0] == "QP-A1"]) == 31


def test_rankings_page_and_export_with_a_tie(region):
    c = login(region["users"]["admin"])
    assert c.get("/assessments/rankings/", OCT).status_code == 200
    rows = csv_rows(c.get("/assessments/rankings/export/rankings.csv", OCT))
    ranks = {r[0]: (r[2], r[3]) for r in rows[1:]}
    assert ranks == {"310118": ("3.31", "1"), "320583": ("3.31", "1"), "330421": ("3.77", "3")}


def test_english_pages_and_exports(region):
    c = english(login(region["users"]["admin"]))
    for url, title in (("/assessments/", "Assessments"), ("/assessments/water/", "Surface water sections"),
                       ("/assessments/air/", "Ambient air quality"), ("/assessments/rankings/", "District rankings")):
        html = c.get(url, OCT).content.decode()
        assert f"<title>{title}" in html, url
    html = c.get("/assessments/water/", OCT).content.decode()
    assert "Share of class I–III (%)" in html and "Slightly worse" in html and "ammonia nitrogen(0.2)" in html
    rows = csv_rows(c.get("/assessments/water/export/sections.csv", OCT))
    assert rows[0][:2] == ["Section code", "Section"]
    assert next(r for r in rows if r[0] == "QP-W2")[1] == "Section QP-W2"


def test_chinese_is_the_default(region):
    html = login(region["users"]["admin"]).get("/assessments/water/", OCT, HTTP_ACCEPT_LANGUAGE="en").content.decode()
    assert "<title>地表水断面评价" in html and "有所变差" in html


def test_navigation_links_the_assessments(region):
    html = login(region["users"]["qp"]).get("/assessments/water/", OCT).content.decode()
    assert re.search(r'<a href="/assessments/" class="active" aria-current="page">', html)


@pytest.mark.parametrize("page", ["water", "air", "rankings"])
def test_every_page_table_has_both_exports(region, page):
    from gongzhi.assessment.tables import TABLES

    c = login(region["users"]["ks"])
    for table in TABLES[page]:
        for fmt in ("csv", "xlsx"):
            resp = c.get(f"/assessments/{page}/export/{table}.{fmt}", OCT)
            assert resp.status_code == 200, (table, fmt)


def test_every_assessment_string_has_an_english_translation():
    """Template strings and the strings marked in the app's Python modules are all in the .po file."""
    from pathlib import Path

    from gongzhi.devtools import msgfmt

    po = msgfmt.LOCALE_DIR / "en" / "LC_MESSAGES" / "django.po"
    known = {e.msgid for e in msgfmt.parse_po(po.read_text(encoding="utf-8"))}
    app = Path(msgfmt.LOCALE_DIR).parent / "assessment"
    found = set()
    for template in (app / "templates").rglob("*.html"):
        found |= set(re.findall(r'{%\s*translate\s+"([^"]+)"', template.read_text(encoding="utf-8")))
    for module in app.glob("*.py"):
        text = module.read_text(encoding="utf-8")
        found |= set(re.findall(r'\b(?:_|gettext_noop)\("([^"]+)"\)', text))
        for group in re.findall(r"(?:SUMMARY_HEADER|AIR_HEADER) = \((.*?)\)\n", text, flags=re.S):
            found |= set(re.findall(r'"([^"]+)"', group))
    assert len(found) > 80
    assert sorted(found - known) == []
