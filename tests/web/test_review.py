"""The data review page (/review/): who may review what (policy), the flagged list and its
filters, corrections and invalidations as new versions (raw value kept), approval of periods —
and what a validated-level partner sees before and after an approval (site page, chart JSON,
REST API)."""

from __future__ import annotations

import datetime as dt

import pytest
from django.utils import timezone

from gongzhi.accounts.models import Role
from gongzhi.api import services as api_services
from gongzhi.observations.models import QC_OUT_OF_RANGE, QC_UNIT_CONVERTED, Observation, Revision, Series, ValidatedPeriod
from gongzhi.sharing.models import SharingAgreement

from web_helpers import CST, make_user, recompute, write

pytestmark = pytest.mark.django_db

# Three days of hourly NH3-N at the boundary section, ending two days ago (Beijing days that are over).
VALUES = [0.5 + 0.01 * i for i in range(72)]
D_FLAG_AT, OUT_OF_RANGE_AT = 10, 30  # indexes of the flagged hours


def day_start(days_back: int) -> dt.datetime:
    today = timezone.now().astimezone(CST).replace(hour=0, minute=0, second=0, microsecond=0)
    return today - dt.timedelta(days=days_back)


@pytest.fixture
def rv(web_region):
    r = web_region
    qp, ks, js = r["qp"], r["ks"], r["js"]
    r["qp_monitor"] = make_user("qp-monitor", qp, Role.MONITORING_STAFF)
    r["qp_admin"] = make_user("qp-admin", qp, Role.ADMINISTRATOR)
    r["qp_analyst"] = make_user("qp-analyst2", qp, Role.ANALYST)
    r["qp_enforcer"] = make_user("qp-enforcer", qp, Role.ENFORCEMENT_OFFICER)
    r["ks_monitor"] = make_user("ks-monitor", ks, Role.MONITORING_STAFF)
    r["js_monitor"] = make_user("js-monitor", js, Role.MONITORING_STAFF)
    # 嘉善 reads 青浦's boundary section at the validated level only
    sa = SharingAgreement.objects.create(provider=qp, recipient=js, title="青浦→嘉善 已审核数据", purpose="联防联治",
                                         valid_from=timezone.localdate() - dt.timedelta(days=400), level="validated")
    sa.sites.set([r["qp_boundary"]])
    start = day_start(4)
    hours = [start + dt.timedelta(hours=i) for i in range(72)]
    normal = [(t, v) for i, (t, v) in enumerate(zip(hours, VALUES)) if i not in (D_FLAG_AT, OUT_OF_RANGE_AT)]
    site = r["qp_boundary"]
    write(site, "nh3_n", normal, unit="mg/L")
    write(site, "nh3_n", [(hours[D_FLAG_AT], VALUES[D_FLAG_AT])], unit="mg/L", flag="D")
    write(site, "nh3_n", [(hours[OUT_OF_RANGE_AT], 99.0)], unit="mg/L", qc=QC_OUT_OF_RANGE)
    # unit-converted only: informational, not listed
    write(r["qp_lake"], "tp", [(hours[5], 0.04)], unit="mg/L", qc=QC_UNIT_CONVERTED)
    write(r["ks_water"], "nh3_n", [(hours[3], 5.0)], unit="mg/L", flag="D")  # 昆山's own flagged value
    recompute()
    r["hours"] = hours
    r["series"] = Series.objects.get(site=site, parameter__key="nh3_n")
    return r


def get_review(client, user, **params):
    client.force_login(user)
    return client.get("/review/", params)


def period_params(hours):
    return {"start": hours[0].date().isoformat(), "end": hours[-1].date().isoformat()}


# --- who may review ------------------------------------------------------------------------------------


@pytest.mark.parametrize("who,status", [
    ("qp_monitor", 200), ("qp_admin", 200), ("ks_monitor", 200), ("js_monitor", 200),  # their own bureau's sites
    ("qp_user", 403), ("qp_analyst", 403), ("qp_enforcer", 403), ("ks_user", 403),
])
def test_the_review_page_is_for_monitoring_staff_and_administrators(client, rv, who, status):
    r = get_review(client, rv[who], **period_params(rv["hours"]))
    assert r.status_code == status
    if status == 403:
        assert "只有站点所属局的监测人员和管理员可以审核数据" in r.content.decode()


def test_anonymous_users_are_sent_to_the_login_page(client, rv):
    r = client.get("/review/")
    assert r.status_code == 302 and "/login/" in r["Location"]


def test_reviewers_see_only_their_own_bureaus_sites(client, rv):
    r = get_review(client, rv["ks_monitor"], **period_params(rv["hours"]))
    keys = [h["key"] for h in r.context["holders"]]
    assert keys == ["site:KS-A1", "site:KS-W1"]  # not 青浦's boundary section, though it is shared with 昆山
    rows = r.context["rows"]
    assert [(row.series.site.code, row.flag) for row in rows] == [("KS-W1", "D")]


@pytest.mark.parametrize("who,holder,status", [
    ("ks_monitor", "site:QP-W1", 403),  # shared with 昆山 (raw): visible, but not 昆山's to review
    ("js_monitor", "site:QP-W1", 403),  # shared with 嘉善 (validated)
    ("ks_monitor", "site:QP-W2", 404),  # not shared: as if it did not exist
    ("qp_monitor", "site:NOPE", 404),
    ("qp_monitor", "outlet:abc", 404),
])
def test_filtering_on_a_site_of_another_bureau(client, rv, who, holder, status):
    assert get_review(client, rv[who], holder=holder).status_code == status


# --- the flagged list ---------------------------------------------------------------------------------------


def test_the_list_holds_the_flagged_values_newest_first(client, rv):
    r = get_review(client, rv["qp_monitor"], **period_params(rv["hours"]))
    assert r.status_code == 200
    rows = r.context["rows"]
    h = rv["hours"]
    assert [(row.time, row.flag, row.qc_names) for row in rows] == [
        (h[OUT_OF_RANGE_AT], "N", ["out_of_range"]),
        (h[D_FLAG_AT], "D", []),
    ]  # the unit-converted lake value and the 70 normal hours are not listed
    assert all(row.invalid for row in rows) and rows[0].raw == 99.0


@pytest.mark.parametrize("flag,expected", [
    ("flag:D", [D_FLAG_AT]), ("qc:out_of_range", [OUT_OF_RANGE_AT]), ("invalid", [OUT_OF_RANGE_AT]),
    ("flag:M", []), ("revised", []), ("qc:unit_converted", None),
])
def test_flag_filters(client, rv, flag, expected):
    r = get_review(client, rv["qp_monitor"], flag=flag, **period_params(rv["hours"]))
    if expected is None:  # informational bits are not a review filter
        assert r.status_code == 400 and r.context["rows"] == []
        return
    assert r.status_code == 200
    assert [row.time for row in r.context["rows"]] == [rv["hours"][i] for i in expected]


def test_site_parameter_and_period_filters(client, rv):
    h = rv["hours"]
    base = {"holder": "site:QP-W1", "parameter": "nh3_n"}
    assert len(get_review(client, rv["qp_monitor"], **base, **period_params(h)).context["rows"]) == 2
    day_of_d = h[D_FLAG_AT].date().isoformat()
    rows = get_review(client, rv["qp_monitor"], **base, start=day_of_d, end=day_of_d).context["rows"]
    assert [row.time for row in rows] == [h[D_FLAG_AT]]
    assert get_review(client, rv["qp_monitor"], holder="site:QP-W1", parameter="do", **period_params(h)).context["rows"] == []
    assert get_review(client, rv["qp_monitor"], holder="site:QP-A1", **period_params(h)).context["rows"] == []


@pytest.mark.parametrize("params,message", [
    ({"start": "2026-13-01"}, "日期格式应为 YYYY-MM-DD"),
    ({"start": "2026-05-02", "end": "2026-05-01"}, "结束日期早于起始日期"),
    ({"start": "2025-01-01", "end": "2026-01-01"}, "一次最多查看"),
    ({"parameter": "no_such"}, "未知因子"),
    ({"flag": "bogus"}, "未知的标记筛选"),
    ({"offset": "x"}, "offset"),
])
def test_bad_filters_give_a_message_not_an_error(client, rv, params, message):
    r = get_review(client, rv["qp_monitor"], **params)
    assert r.status_code == 400 and message in r.context["error"] and r.context["rows"] == []


# --- corrections and invalidations ---------------------------------------------------------------------------


def revise_post(client, user, series, time, *, htmx=True, **fields):
    client.force_login(user)
    headers = {"HX-Request": "true"} if htmx else {}
    data = {"series": series.pk, "time": time.astimezone(dt.timezone.utc).isoformat(), **fields}
    return client.post("/review/revise/", data, headers=headers)


def test_a_correction_is_a_new_version_and_the_raw_value_stays(client, rv):
    series, t = rv["series"], rv["hours"][OUT_OF_RANGE_AT]
    r = revise_post(client, rv["qp_monitor"], series, t, action="correct", value="0.72", reason="按平行样复核")
    assert r.status_code == 200
    html = r.content.decode()
    assert html.startswith("<tr") and "0.72" in html and "按平行样复核" in html and "qp-monitor" in html
    rev = Revision.objects.get(series=series, time=t)
    assert (rev.version, rev.value, rev.invalid, rev.reason, rev.user) == (1, 0.72, False, "按平行样复核", rv["qp_monitor"])
    assert Observation.objects.get(series=series, time=t).value == 99.0  # raw kept
    # the administrator invalidates it after all: version 2, history shows both
    r = revise_post(client, rv["qp_admin"], series, t, action="invalidate", reason="仪器故障")
    assert r.status_code == 200
    assert list(Revision.objects.filter(series=series, time=t).values_list("version", "invalid")) == [(1, False), (2, True)]
    assert Observation.objects.get(series=series, time=t).value == 99.0
    page = get_review(client, rv["qp_monitor"], flag="revised", **period_params(rv["hours"]))
    (row,) = page.context["rows"]
    assert [v.version for v in row.revisions] == [1, 2] and row.invalid and row.raw == 99.0
    assert "按平行样复核" in page.content.decode() and "仪器故障" in page.content.decode()


def test_a_correction_reaches_the_owners_chart(client, rv):
    series, t = rv["series"], rv["hours"][D_FLAG_AT]
    assert revise_post(client, rv["qp_monitor"], series, t, action="correct", value="0.3", reason="复核").status_code == 200
    recompute()
    client.force_login(rv["qp_user"])
    data = client.get("/web-api/sites/QP-W1/series.json", {"resolution": "raw", **period_params(rv["hours"]), "parameters": "nh3_n"}).json()
    (p,) = data["parameters"]
    assert p["values"][D_FLAG_AT] == 0.3 and D_FLAG_AT not in p["invalid"]


def test_a_plain_form_post_redirects_back_with_a_message(client, rv):
    series, t = rv["series"], rv["hours"][D_FLAG_AT]
    r = revise_post(client, rv["qp_monitor"], series, t, htmx=False, action="invalidate", reason="停运", next="/review/?flag=invalid")
    assert r.status_code == 302 and r["Location"] == "/review/?flag=invalid"
    assert Revision.objects.filter(series=series, time=t, invalid=True).count() == 1
    r = revise_post(client, rv["qp_monitor"], series, t, htmx=False, action="invalidate", reason="x", next="https://evil.example/")
    assert r.status_code == 302 and r["Location"] == "/review/"


@pytest.mark.parametrize("who,status", [
    ("qp_user", 403), ("qp_analyst", 403), ("qp_enforcer", 403),
    ("ks_monitor", 403),  # a partner that sees the site may still not correct it
    ("js_monitor", 403),
])
def test_others_may_not_correct(client, rv, who, status):
    series, t = rv["series"], rv["hours"][D_FLAG_AT]
    r = revise_post(client, rv[who], series, t, action="correct", value="1", reason="x")
    assert r.status_code == status
    assert not Revision.objects.exists()


def test_a_partner_without_the_site_gets_404(client, rv):
    lake_series = Series.objects.get(site=rv["qp_lake"], parameter__key="tp")
    r = revise_post(client, rv["ks_monitor"], lake_series, rv["hours"][5], action="invalidate", reason="x")
    assert r.status_code == 404 and not Revision.objects.exists()


@pytest.mark.parametrize("fields,message", [
    ({"action": "correct", "value": "", "reason": "x"}, "修正值应为数字"),
    ({"action": "correct", "value": "abc", "reason": "x"}, "修正值应为数字"),
    ({"action": "correct", "value": "nan", "reason": "x"}, "修正值应为数字"),
    ({"action": "correct", "value": "1.5", "reason": "  "}, "请填写原因"),
    ({"action": "delete", "reason": "x"}, "请选择修正或判为无效"),
])
def test_bad_corrections_change_nothing(client, rv, fields, message):
    series, t = rv["series"], rv["hours"][D_FLAG_AT]
    r = revise_post(client, rv["qp_monitor"], series, t, **fields)
    assert r.status_code == 200 and message in r.content.decode()  # the row again, with the message
    assert not Revision.objects.exists()


def test_requests_naming_no_stored_value(client, rv):
    client.force_login(rv["qp_monitor"])
    series = rv["series"]
    assert client.post("/review/revise/", {"series": "x", "time": "2026-01-01T00:00:00+00:00"}).status_code == 400
    assert client.post("/review/revise/", {"series": series.pk, "time": "2026-01-01T00:00:00"}).status_code == 400  # naive
    assert client.post("/review/revise/", {"series": 999999, "time": "2026-01-01T00:00:00+00:00", "action": "invalidate", "reason": "x"}).status_code == 404
    r = revise_post(client, rv["qp_monitor"], series, rv["hours"][0] + dt.timedelta(minutes=7), action="invalidate", reason="x")
    assert r.status_code == 404
    assert client.get("/review/revise/").status_code == 405
    assert not Revision.objects.exists()


# --- approval, and what a validated-level partner sees -------------------------------------------------------


def approve(client, user, **fields):
    client.force_login(user)
    return client.post("/review/approve/", fields)


def partner_view(client, rv):
    """What 嘉善 (validated level) reads of the boundary section: chart points, latest values
    on the site page, and the REST API's points."""
    client.force_login(rv["js_monitor"])
    q = {"resolution": "raw", **period_params(rv["hours"]), "parameters": "nh3_n"}
    chart = client.get("/web-api/sites/QP-W1/series.json", q).json()["parameters"]
    page = client.get("/sites/QP-W1/")
    latest = [(e["parameter"], e["time"], e["level"]) for e in page.context["latest"]]
    token = api_services.create_token(user=rv["js_monitor"]).secret
    start = rv["hours"][0].isoformat()
    end = (rv["hours"][-1] + dt.timedelta(hours=1)).isoformat()
    api = client.get("/api/v1/sites/QP-W1/observations", {"parameter": "nh3_n", "resolution": "raw", "start": start, "end": end},
                     headers={"Authorization": f"Bearer {token}"})
    assert api.status_code == 200, api.content
    return chart, latest, api.json()


def test_approving_a_period_publishes_it_to_validated_partners(client, rv):
    h = rv["hours"]
    series, t = rv["series"], h[D_FLAG_AT]
    revise_post(client, rv["qp_monitor"], series, t, action="correct", value="0.61", reason="复核")
    chart, latest, api = partner_view(client, rv)
    assert chart[0]["values"] == [] and latest == [] and api["values"] == []  # nothing approved yet
    first_day = h[0].date().isoformat()
    r = approve(client, rv["qp_monitor"], holder="site:QP-W1", start=first_day, end=first_day, note="第一天", next="/review/")
    assert r.status_code == 302
    vp = ValidatedPeriod.objects.get()
    assert (vp.site, vp.parameter, vp.start, vp.end, vp.approved_by, vp.note) == (
        rv["qp_boundary"], None, h[0], h[0] + dt.timedelta(days=1), rv["qp_monitor"], "第一天")
    chart, latest, api = partner_view(client, rv)
    assert len(chart[0]["values"]) == 24 and chart[0]["level"] == "validated"
    assert chart[0]["values"][D_FLAG_AT] == 0.61  # the correction, not the raw value
    assert latest == [("nh3_n", h[23], "validated")]  # the newest value inside the approved day
    assert api["times"][0] == int(h[0].timestamp() * 1000) and len(api["times"]) == 24 and api["raw"] is None
    assert api["values"][D_FLAG_AT] == 0.61
    # the approval is listed on the review page
    page = get_review(client, rv["qp_monitor"])
    assert [a.pk for a in page.context["approvals"]] == [vp.pk] and "第一天" in page.content.decode()


def test_approval_of_one_parameter(client, rv):
    h = rv["hours"]
    approve(client, rv["qp_admin"], holder="site:QP-W1", parameter="do", start=h[0].date().isoformat(), end=h[-1].date().isoformat())
    assert ValidatedPeriod.objects.get().parameter.key == "do"
    chart, latest, api = partner_view(client, rv)
    assert chart[0]["values"] == [] and api["values"] == []  # NH3-N is still unapproved


@pytest.mark.parametrize("who,holder,status", [
    ("qp_user", "site:QP-W1", 403), ("qp_analyst", "site:QP-W1", 403),
    ("ks_monitor", "site:QP-W1", 403), ("js_monitor", "site:QP-W1", 403),
    ("ks_monitor", "site:QP-W2", 404), ("qp_monitor", "site:NOPE", 404),
])
def test_others_may_not_approve(client, rv, who, holder, status):
    day = rv["hours"][0].date().isoformat()
    assert approve(client, rv[who], holder=holder, start=day, end=day).status_code == status
    assert not ValidatedPeriod.objects.exists()


@pytest.mark.parametrize("fields", [
    {"start": "", "end": ""},
    {"start": "2026-02-30", "end": "2026-03-01"},
    {"start": "2026-03-02", "end": "2026-03-01"},
    {"start": "TODAY", "end": "TODAY"},  # a day that is not over
    {"start": "2026-03-01", "end": "2026-03-01", "parameter": "no_such"},
])
def test_bad_approvals_change_nothing(client, rv, fields):
    today = timezone.now().astimezone(CST).date().isoformat()
    fields = {k: (today if v == "TODAY" else v) for k, v in fields.items()}
    r = approve(client, rv["qp_monitor"], holder="site:QP-W1", **fields)
    assert r.status_code == 302
    assert not ValidatedPeriod.objects.exists()
    page = client.get(r["Location"])
    assert any(m.level_tag == "error" for m in page.context["messages"])


# --- languages -------------------------------------------------------------------------------------------------


def test_the_page_in_both_languages(client, rv):
    r = get_review(client, rv["qp_monitor"], **period_params(rv["hours"]))
    html = r.content.decode()
    assert "数据审核" in html and "判为无效" in html and "审核通过时段" in html
    client.cookies["django_language"] = "en"
    html = client.get("/review/", period_params(rv["hours"])).content.decode()
    assert "Data review" in html and "Invalidate" in html and "Approved periods" in html
    assert "Jishuigang boundary" in html and "判为无效" not in html


# --- outlets ---------------------------------------------------------------------------------------------------


def test_outlets_are_reviewed_like_sites(client, rv):
    from gongzhi.observations import services as obs
    from gongzhi.observations.models import SeriesKind, Source
    from gongzhi.registry import models as reg

    ent = reg.Enterprise.objects.create(code="qp-dye", name="青浦某印染厂", owner=rv["qp"], lon=121.05, lat=31.13)
    outlet = reg.Outlet.objects.create(enterprise=ent, code="DW001", name="总排口", kind="wastewater", lon=121.05, lat=31.13)
    sid = obs.series_resolver.get(outlet=outlet, parameter=reg.Parameter.objects.get(key="cod"), kind=SeriesKind.HOUR, unit="mg/L")
    t = rv["hours"][40]
    obs.write_observations([obs.ObservationRow(sid, t, 480.0, "C")], source=Source.DEVICE)
    page = get_review(client, rv["qp_monitor"], holder=f"outlet:{outlet.pk}", **period_params(rv["hours"]))
    assert page.status_code == 200 and [(r.holder, r.flag, r.raw) for r in page.context["rows"]] == [(outlet, "C", 480.0)]
    assert "青浦某印染厂 · DW001" in page.content.decode()
    r = revise_post(client, rv["qp_monitor"], Series.objects.get(pk=sid), t, action="invalidate", reason="校准")
    assert r.status_code == 200 and Revision.objects.get(series_id=sid).invalid
    day = rv["hours"][0].date().isoformat()
    assert approve(client, rv["qp_monitor"], holder=f"outlet:{outlet.pk}", start=day, end=day).status_code == 302
    assert ValidatedPeriod.objects.get().outlet == outlet
    # 昆山 does not see 青浦's enterprise: 404; 青浦's viewer sees it but may not review: 403
    assert get_review(client, rv["ks_monitor"], holder=f"outlet:{outlet.pk}").status_code == 404
    assert get_review(client, rv["qp_user"], holder=f"outlet:{outlet.pk}").status_code == 403


def test_the_approval_form_proposes_days_that_are_over(client, rv):
    today = timezone.now().astimezone(CST).date()
    page = get_review(client, rv["qp_monitor"])  # default period: the last 7 days, today included
    assert page.context["end"] == today.isoformat()
    assert page.context["approve_end"] == (today - dt.timedelta(days=1)).isoformat()
    assert f'name="end" value="{(today - dt.timedelta(days=1)).isoformat()}" required' in page.content.decode()
