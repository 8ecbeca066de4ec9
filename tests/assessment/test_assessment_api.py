"""REST: /api/v1/assessments/water, /assessments/air, /rankings — the services' numbers, the policy, errors."""

from __future__ import annotations

import pytest
from django.test import Client

from gongzhi.api import services as api_services
from gongzhi.assessment import services
from gongzhi.assessment.periods import parse

OCT = {"period": "month", "at": "2026-10"}


def get(user, path, params=None):
    token = api_services.create_token(user=user).secret
    return Client().get(path, params or {}, headers={"Authorization": f"Bearer {token}"})


def error(resp, status, code=None):
    assert resp.status_code == status, resp.content[:300]
    body = resp.json()
    assert set(body) == {"error"} and set(body["error"]) == {"code", "message", "details"}
    if code:
        assert body["error"]["code"] == code


def test_water_same_numbers_as_the_page(region):
    body = get(region["users"]["admin"], "/api/v1/assessments/water", OCT).json()
    expected = services.water_assessment(region["users"]["admin"], period=parse("month", "2026-10"))
    assert body["summary"]["good_share"] == expected["summary"]["good_share"] == 50.0
    assert body["summary"]["compliance_rate"] == 50.0
    rows = {r["site"]: r for r in body["sections"]}
    assert rows["KS-W1"]["label"] == "劣Ⅴ" and rows["KS-W1"]["main_pollutants"][0] == {"indicator": "nh3_n", "multiple": 1.5}
    assert rows["QP-W2"]["previous"]["change"] == "有所变差"
    assert body["period"] == {"kind": "month", "at": "2026-10", "start": "2026-10-01T00:00:00+08:00",
                              "end": "2026-11-01T00:00:00+08:00", "previous": "2026-09", "last_year": "2025-10"}


def test_water_policy_and_the_404_of_an_unshared_site(region):
    qp = region["users"]["qp"]
    body = get(qp, "/api/v1/assessments/water", OCT).json()
    assert sorted(r["site"] for r in body["sections"]) == ["QP-W1", "QP-W2"]
    assert body["summary"]["worse_v_share"] == 0.0
    # 嘉善 has no agreement with 青浦: its section is 404, as is a site that does not exist
    error(get(qp, "/api/v1/assessments/water", {**OCT, "site": "JS-W1"}), 404, "not_found")
    error(get(qp, "/api/v1/assessments/water", {**OCT, "site": "NOPE"}), 404, "not_found")
    one = get(region["users"]["ks"], "/api/v1/assessments/water", {**OCT, "site": "QP-W1"}).json()
    assert [r["site"] for r in one["sections"]] == ["QP-W1"]  # shared with 昆山
    error(get(region["users"]["ks"], "/api/v1/assessments/water", {**OCT, "site": "QP-W2"}), 404)
    error(get(qp, "/api/v1/assessments/water", {**OCT, "scope": "nobody"}), 404)


def test_air_and_rankings(region):
    admin = region["users"]["admin"]
    air = get(admin, "/api/v1/assessments/air", OCT).json()
    js = next(s for s in air["stations"] if s["site"] == "JS-A1")
    assert js["calendar"][0] == {"date": "2026-10-01", "aqi": 119, "level": 3, "primary": "pm2_5"}
    assert js["composite_index"] == 3.77 and js["good_days"] == 21
    short = get(admin, "/api/v1/assessments/air", {**OCT, "calendar": "false"}).json()
    assert all(s["calendar"] == [] for s in short["stations"])
    error(get(region["users"]["qp"], "/api/v1/assessments/air", {**OCT, "site": "KS-A1"}), 404)
    ranks = get(admin, "/api/v1/rankings", OCT).json()
    assert {r["code"]: r["composite_index_rank"] for r in ranks["rows"]} == {"310118": 1, "320583": 1, "330421": 3}
    assert [r["code"] for r in get(region["users"]["qp"], "/api/v1/rankings", OCT).json()["rows"]] == ["310118"]


@pytest.mark.parametrize("params", [{"period": "week"}, {"period": "month", "at": "2026-13"}, {"period": "year", "at": "2026-10"}])
def test_bad_periods_are_400_in_the_one_error_format(region, params):
    error(get(region["users"]["qp"], "/api/v1/assessments/water", params), 400)


def test_anonymous_is_401(region):
    error(Client().get("/api/v1/rankings"), 401)
