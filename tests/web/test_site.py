"""The site page: latest values, chart data at each resolution (target limit, exceedances),
the table fragment and the CSV/XLSX export — and the sharing policy on every one of them."""

from __future__ import annotations

import csv
import datetime as dt
import io

import pytest
from openpyxl import load_workbook

from gongzhi.accounts.models import Role
from gongzhi.registry import models as reg

from web_helpers import CST, hours_back, make_user, recompute, write

pytestmark = pytest.mark.django_db

NH3 = [0.4, 0.8, 1.2, 0.9, 1.6, 0.7]  # mg/L; target Ⅲ (≤ 1.0): the 3rd and 5th exceed


@pytest.fixture
def data(web_region):
    hours = hours_back(6)
    site = web_region["qp_boundary"]
    write(site, "nh3_n", list(zip(hours, NH3)), unit="mg/L")
    write(site, "do", list(zip(hours, [6.0, 5.5, 4.8, 5.0, 6.1, 7.0])), unit="mg/L")  # ≥ 5.0: the 3rd is below
    write(site, "ph", list(zip(hours, [7.1, 7.2, 9.3, 7.0, 7.1, 7.2])), unit="1")  # 6–9: the 3rd is outside
    lake = web_region["qp_lake"]
    write(lake, "tp", list(zip(hours, [0.03, 0.04, 0.06, 0.05, 0.02, 0.12])), unit="mg/L")  # lake Ⅲ ≤ 0.05
    air = web_region["qp_air"]
    write(air, "pm2_5", list(zip(hours, [30.0, 50.0, 61.0, 116.0, 40.0, 20.0])), unit="µg/m³")  # IAQI > 100 above 60 (2026)
    recompute()
    return {"hours": hours, **web_region}


def series(client, user, code, **params):
    client.force_login(user)
    return client.get(f"/web-api/sites/{code}/series.json", params)


def expand(p, params):
    if "times_of" in p:
        return expand(next(q for q in params if q["key"] == p["times_of"]), params)
    out = [p["t0"]] if p["t0"] is not None else []
    for d in p["dt"]:
        out.append(out[-1] + d * 1000)
    return out


def test_site_page_for_the_owner_and_the_partner(client, data):
    for user in (data["qp_user"], data["ks_user"]):
        client.force_login(user)
        page = client.get("/sites/QP-W1/")
        assert page.status_code == 200
        html = page.content.decode()
        assert "急水港交界断面" in html and "跨界断面" in html and "Ⅲ类" in html and "国考" in html
        assert "昆山市 → 青浦区" in html  # upstream → downstream
        latest = {e["parameter"]: e for e in page.context["latest"]}
        assert latest["nh3_n"]["value"] == 0.7 and latest["nh3_n"]["unit"] == "mg/L" and latest["nh3_n"]["flag"] == "N"
        assert latest["nh3_n"]["class"] == "Ⅲ"  # 0.5 < 0.7 ≤ 1.0
        assert page.context["status"]["label"] == "Ⅲ"
        assert [p["key"] for p in page.context["parameters"]] == ["ph", "do", "nh3_n"]
        assert "/static/vendor/echarts/echarts.min.js" in html and "/static/vendor/htmx.org/htmx.min.js" in html


@pytest.mark.parametrize("user_key, code", [
    ("js_user", "QP-W1"),  # no agreement with 青浦
    ("ks_user", "QP-W2"),  # an agreement, but not for this site
    ("ks_user", "QP-A1"),
    ("qp_user", "JS-W1"),
    ("qp_user", "NO-SUCH"),
])
def test_sites_without_an_agreement_are_404_everywhere(client, data, user_key, code):
    client.force_login(data[user_key])
    for url in (f"/sites/{code}/", f"/sites/{code}/table/", f"/sites/{code}/export.csv", f"/sites/{code}/export.xlsx",
                f"/web-api/sites/{code}/series.json"):
        assert client.get(url).status_code == 404, url


def test_an_office_sees_the_site_record_but_not_its_data(client, data):
    office = reg.Bureau.objects.create(code="office", name="协同办", short_name="协同办", kind="office")
    client.force_login(make_user("office-admin", office, Role.ADMINISTRATOR))
    page = client.get("/sites/QP-W1/")
    assert page.status_code == 200
    html = page.content.decode()
    assert "未与本局共享" in html and "echarts" not in html and page.context["latest"] == []
    for url in ("/sites/QP-W1/table/", "/sites/QP-W1/export.csv", "/web-api/sites/QP-W1/series.json"):
        assert client.get(url).status_code == 404


def test_chart_data_has_the_target_limit_and_the_exceedances(client, data):
    r = series(client, data["ks_user"], "QP-W1", resolution="hour", days=1, parameters="nh3_n,do,ph,tp")
    assert r.status_code == 200
    body = r.json()
    params = {p["key"]: p for p in body["parameters"]}
    assert list(params) == ["nh3_n", "do", "ph"]  # tp: no data at this site
    nh3 = params["nh3_n"]
    assert nh3["values"] == NH3
    assert expand(nh3, body["parameters"]) == [int(h.timestamp() * 1000) for h in data["hours"]]
    assert nh3["limit"] == {"lines": [1.0], "kind": "le", "class": "Ⅲ", "basis": "GB 3838-2002"}
    assert nh3["exceed"] == [2, 4]
    assert params["do"]["limit"]["lines"] == [5.0] and params["do"]["limit"]["kind"] == "ge" and params["do"]["exceed"] == [2]
    assert params["ph"]["limit"]["lines"] == [6.0, 9.0] and params["ph"]["exceed"] == [2]
    assert nh3["level"] == "raw" and nh3["flagged"] == {} and nh3["invalid"] == []
    assert body["target"] == "Ⅲ"


def test_lake_sections_use_the_lake_tp_limits(client, data):
    body = series(client, data["qp_user"], "QP-W2", resolution="hour", days=1, parameters="tp").json()
    tp = body["parameters"][0]
    assert tp["limit"]["lines"] == [0.05] and tp["exceed"] == [2, 5]


def test_air_chart_marks_iaqi_above_100(client, data):
    body = series(client, data["qp_user"], "QP-A1", resolution="hour", days=1).json()
    pm = body["parameters"][0]
    assert pm["key"] == "pm2_5"
    # HJ 633-2026 (in force from 2026-03-01): PM2.5 IAQI 100 at 60 µg/m³; 2012: at 75
    expected_line = 60 if data["hours"][-1].date() >= dt.date(2026, 3, 1) else 75
    assert pm["limit"]["lines"] == [expected_line] and pm["limit"]["class"] == "IAQI 100"
    assert pm["exceed"] == ([2, 3] if expected_line == 60 else [3])


def test_resolutions_aggregate_on_the_server(client, data):
    user = data["qp_user"]
    day = series(client, user, "QP-W1", resolution="day", days=3, parameters="nh3_n").json()["parameters"][0]
    hours = data["hours"]
    by_day = {}
    for h, v in zip(hours, NH3):
        by_day.setdefault(h.astimezone(CST).date(), []).append(v)
    assert len(day["values"]) == len(by_day)
    for got, vals in zip(day["values"], [by_day[d] for d in sorted(by_day)]):
        assert got == pytest.approx(sum(vals) / len(vals))
    raw = series(client, user, "QP-W1", resolution="raw", days=1, parameters="nh3_n").json()["parameters"][0]
    assert raw["values"] == NH3
    month = series(client, user, "QP-W1", resolution="month", days=60, parameters="nh3_n").json()["parameters"][0]
    assert len(month["values"]) in (1, 2)


@pytest.mark.parametrize("params, message", [
    ({"resolution": "week"}, "resolution"),
    ({"resolution": "raw", "days": "60"}, "at most 31 days"),
    ({"start": "2026-13-01"}, "start must be a date"),
    ({"start": "2026-05-02", "end": "2026-05-01"}, "end must be after start"),
])
def test_bad_chart_requests_are_400(client, data, params, message):
    r = series(client, data["qp_user"], "QP-W1", **params)
    assert r.status_code == 400 and message in r.json()["error"]


def test_series_needs_signing_in(client, data):
    assert client.get("/web-api/sites/QP-W1/series.json").status_code == 401


def test_table_fragment(client, data):
    client.force_login(data["qp_user"])
    r = client.get("/sites/QP-W1/table/", {"resolution": "hour", "days": 1, "parameters": "nh3_n,do"})
    assert r.status_code == 200
    html = r.content.decode()
    assert html.count("<tr>") == 1 + 6
    assert html.count('class="ex"') == 3  # NH3-N twice, DO once
    assert html.index("0.7") < html.index("0.4")  # newest first


def _csv_rows(response):
    text = b"".join(response.streaming_content).decode("utf-8-sig") if response.streaming else response.content.decode("utf-8-sig")
    return list(csv.reader(io.StringIO(text)))


def test_csv_export_is_the_data_shown(client, data):
    client.force_login(data["ks_user"])  # the partner: its agreement covers this section, raw level
    r = client.get("/sites/QP-W1/export.csv", {"resolution": "hour", "days": 1, "parameters": "nh3_n"})
    assert r.status_code == 200 and r["Content-Type"].startswith("text/csv")
    assert r["Content-Disposition"].startswith('attachment; filename="QP-W1_hour_')
    rows = _csv_rows(r)
    assert rows[0][:10] == ["站点编码", "站点", "时间（北京时间）", "因子", "因子名称", "数值", "单位", "数据标记", "有效", "超过目标"]
    body = rows[1:]
    assert len(body) == 6 and {r[3] for r in body} == {"nh3_n"}
    assert [float(r[5]) for r in body] == list(reversed(NH3))  # newest first
    assert [r[9] for r in body] == ["", "是", "", "是", "", ""]
    assert body[0][2] == data["hours"][-1].astimezone(CST).strftime("%Y-%m-%d %H:%M")


def test_xlsx_export_and_english_headers(client, data):
    client.force_login(data["qp_user"])
    client.post("/i18n/setlang/", {"language": "en", "next": "/"})
    r = client.get("/sites/QP-W1/export.xlsx", {"resolution": "hour", "days": 1, "parameters": "nh3_n,do"})
    assert r.status_code == 200 and "spreadsheetml" in r["Content-Type"]
    ws = load_workbook(io.BytesIO(r.content)).active
    rows = list(ws.iter_rows(values_only=True))
    assert rows[0][:6] == ("Site code", "Site", "Time (Beijing)", "Parameter", "Parameter name", "Value")
    assert len(rows) == 1 + 12
    assert rows[1][1] == "Jishuigang boundary"
    assert {r[3] for r in rows[1:]} == {"nh3_n", "do"}
    assert sorted(r[5] for r in rows[1:] if r[3] == "nh3_n") == sorted(NH3)
    assert client.get("/sites/QP-W1/export.pdf").status_code == 404


def test_validated_partner_gets_only_approved_periods(client, data):
    """A partner at the validated level sees only what the owner approved — in the chart and in the export."""
    from gongzhi.observations import queries
    from gongzhi.sharing.models import SharingAgreement

    jiashan_user = data["js_user"]
    sa = SharingAgreement.objects.create(provider=data["qp"], recipient=data["js"], title="审核数据", purpose="p",
                                         valid_from=dt.date(2020, 1, 1), level="validated")
    sa.sites.set([data["qp_boundary"]])
    reviewer = make_user("qp-monitor", data["qp"], Role.MONITORING_STAFF)
    hours = data["hours"]
    queries.approve_period(user=reviewer, site=data["qp_boundary"], start=hours[0], end=hours[3])
    body = series(client, jiashan_user, "QP-W1", resolution="hour", days=1, parameters="nh3_n").json()
    nh3 = body["parameters"][0]
    assert nh3["level"] == "validated" and nh3["values"] == NH3[:3]
    rows = _csv_rows(client.get("/sites/QP-W1/export.csv", {"resolution": "hour", "days": 1, "parameters": "nh3_n"}))
    assert len(rows) == 1 + 3 and "原始值" not in rows[0]
