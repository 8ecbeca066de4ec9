"""Read routes under the sharing policy: every route for the owner, a raw partner, a validated
partner, a bureau without agreement and the co-governance office; pagination and filters;
columnar series data at each resolution; limits and bad input."""

from __future__ import annotations

import datetime as dt

import pytest
from django.test import override_settings

from api_helpers import assert_error, local, ms, share, write
from gongzhi.observations import aggregates as agg
from gongzhi.observations import queries
from gongzhi.observations.models import SeriesKind
from gongzhi.registry import models as reg

HOURS = [local(2026, 5, 1, h) for h in range(6)]
NH3 = [0.5, 0.6, 0.7, 0.8, 0.9, 1.0]


@pytest.fixture
def data(world):
    """Hourly NH3-N of W1 00:00–05:00 (the 02:00 value flagged invalid), approved 00:00–03:00."""
    w1 = world["sites"]["W1"]
    write(w1, world["nh3"], SeriesKind.HOUR, list(zip(HOURS[:2], NH3[:2])) + list(zip(HOURS[3:], NH3[3:])))
    write(w1, world["nh3"], SeriesKind.HOUR, [(HOURS[2], NH3[2])], flag="D")
    write(w1, world["tp"], SeriesKind.HOUR, [(HOURS[0], 0.1)])
    write(world["sites"]["W2"], world["nh3"], SeriesKind.HOUR, [(HOURS[0], 2.0)])
    queries.approve_period(user=world["users"]["qp_monitor"], site=w1, start=HOURS[0], end=local(2026, 5, 1, 3))
    agg.recompute_dirty()
    return world


OBS = "/api/v1/sites/W1/observations"
RANGE = {"parameter": "nh3_n", "start": "2026-05-01T00:00:00+08:00", "end": "2026-05-01T06:00:00+08:00"}


# --- sites -------------------------------------------------------------------------------------------


def test_site_list_follows_the_policy(world, api):
    def codes(user):
        return [s["code"] for s in api(user).get("/api/v1/sites").json()["items"]]

    assert codes("qp_monitor") == ["A1", "W1", "W3"]
    assert codes("ks_analyst") == ["W2"]
    assert codes("js_analyst") == []
    assert codes("office_admin") == ["A1", "W1", "W2", "W3"]  # offices see every site
    share(world, "validated")
    assert codes("ks_analyst") == ["W1", "W2"]
    assert codes("js_analyst") == []


def test_site_list_data_levels(world, api):
    share(world, "validated")
    items = {s["code"]: s for s in api("ks_analyst").get("/api/v1/sites").json()["items"]}
    assert items["W1"]["data_level"] == "validated" and items["W2"]["data_level"] == "raw"
    items = {s["code"]: s for s in api("office_admin").get("/api/v1/sites").json()["items"]}
    assert {c: s["data_level"] for c, s in items.items()} == {"A1": None, "W1": None, "W2": None, "W3": None}


def test_site_list_pagination(world, api):
    c = api("office_admin")
    first = c.get("/api/v1/sites", {"limit": 3}).json()
    assert (first["total"], first["limit"], first["offset"]) == (4, 3, 0)
    assert [s["code"] for s in first["items"]] == ["A1", "W1", "W2"]
    second = c.get("/api/v1/sites", {"limit": 3, "offset": 3}).json()
    assert second["total"] == 4 and [s["code"] for s in second["items"]] == ["W3"]
    assert c.get("/api/v1/sites", {"offset": 10}).json() == {"total": 4, "limit": 50, "offset": 10, "items": []}
    for bad in ({"limit": 0}, {"limit": 501}, {"offset": -1}, {"limit": "ten"}):
        err = assert_error(c.get("/api/v1/sites", bad), 400, "invalid_request")
        assert err["details"] and err["details"][0]["loc"][0] == "query"


@pytest.mark.parametrize(
    "params, expected",
    [
        ({"kind": "air_station"}, ["A1"]),
        ({"kind": "water_section"}, ["W1", "W2", "W3"]),
        ({"owner": "kunshan"}, ["W2"]),
        ({"owner": "nobody"}, []),
        ({"waterbody": "dianshan"}, ["W3"]),
        ({"boundary": "true"}, ["W1"]),
        ({"boundary": "false"}, ["A1", "W2", "W3"]),
        ({"assessment_level": "national"}, ["W1"]),
        ({"assessment_level": "none"}, ["A1"]),
        ({"jurisdiction": "320583"}, ["W2"]),
        ({"kind": "water_section", "owner": "qingpu", "waterbody": "jishui"}, ["W1"]),
    ],
)
def test_site_list_filters(world, api, params, expected):
    body = api("office_admin").get("/api/v1/sites", params).json()
    assert [s["code"] for s in body["items"]] == expected
    assert body["total"] == len(expected)


def test_site_list_filters_keep_the_policy(world, api):
    assert api("ks_analyst").get("/api/v1/sites", {"owner": "qingpu"}).json()["total"] == 0
    assert_error(api("ks_analyst").get("/api/v1/sites", {"kind": "river"}), 400, "invalid_request")
    assert_error(api("ks_analyst").get("/api/v1/sites", {"assessment_level": "x"}), 400, "invalid_request")


def test_site_detail(world, api):
    body = api("qp_monitor").get("/api/v1/sites/W1").json()
    assert body["code"] == "W1" and body["owner"]["code"] == "qingpu" and body["is_boundary"] is True
    assert (body["upstream_jurisdiction"], body["downstream_jurisdiction"]) == ("320583", "310118")
    assert body["waterbody"] == "jishui" and body["waterbody_type"] == "river" and body["data_level"] == "raw"
    assert_error(api("ks_analyst").get("/api/v1/sites/W1"), 404, "not_found")
    assert_error(api("ks_analyst").get("/api/v1/sites/NOPE"), 404, "not_found")
    # same answer for a site that exists and one that does not
    assert api("ks_analyst").get("/api/v1/sites/W1").json() == api("ks_analyst").get("/api/v1/sites/NOPE").json()
    share(world, "raw")
    assert api("ks_analyst").get("/api/v1/sites/W1").json()["data_level"] == "raw"
    assert_error(api("js_analyst").get("/api/v1/sites/W1"), 404)


def test_parameters(world, api):
    body = api("js_analyst").get("/api/v1/parameters", {"domain": "water", "limit": 1000}).json()
    keys = [p["key"] for p in body["items"]]
    assert "nh3_n" in keys and "pm2_5" not in keys and body["total"] == len(keys)
    nh3 = next(p for p in body["items"] if p["key"] == "nh3_n")
    assert nh3["code_2017"] == world["nh3"].code_2017 and nh3["unit"] == world["nh3"].unit
    page = api("js_analyst").get("/api/v1/parameters", {"limit": 2, "offset": 1}).json()
    assert len(page["items"]) == 2 and page["total"] == reg.Parameter.objects.count()
    assert_error(api("js_analyst").get("/api/v1/parameters", {"domain": "lava"}), 400, "invalid_request")


# --- latest values -----------------------------------------------------------------------------------


def test_latest_owner_reads_raw(data, api):
    body = api("qp_monitor").get("/api/v1/sites/W1/latest").json()
    by = {e["parameter"]: e for e in body["values"]}
    assert set(by) == {"nh3_n", "tp"}
    assert by["nh3_n"]["value"] == 1.0 and by["nh3_n"]["raw"] == 1.0 and by["nh3_n"]["level"] == "raw"
    assert by["nh3_n"]["time"] == "2026-05-01T05:00:00+08:00"


def test_latest_validated_partner_sees_only_approved_values(data, api):
    share(data, "validated")
    body = api("ks_analyst").get("/api/v1/sites/W1/latest").json()
    by = {e["parameter"]: e for e in body["values"]}
    assert by["nh3_n"]["time"] == "2026-05-01T02:00:00+08:00"  # newest inside the approved 00–03
    assert by["nh3_n"]["value"] == 0.7 and by["nh3_n"]["raw"] is None and by["nh3_n"]["level"] == "validated"


def test_latest_partner_with_parameter_subset(data, api):
    share(data, "raw", parameters=[data["tp"]])
    body = api("ks_analyst").get("/api/v1/sites/W1/latest").json()
    assert [e["parameter"] for e in body["values"]] == ["tp"]


def test_latest_without_agreement_is_404(data, api):
    assert_error(api("js_analyst").get("/api/v1/sites/W1/latest"), 404, "not_found")
    assert_error(api("office_admin").get("/api/v1/sites/W1/latest"), 404, "not_found")  # sees the site, not its data


def test_many_latest(data, api):
    share(data, "raw")
    body = api("ks_analyst").get("/api/v1/latest", {"sites": "W1,W2,W3,NOPE,W1"}).json()
    assert [i["site"] for i in body["items"]] == ["W1", "W2"]
    assert body["not_found"] == ["W3", "NOPE"]
    w2 = body["items"][1]["values"]
    assert [(e["parameter"], e["value"]) for e in w2] == [("nh3_n", 2.0)]
    body = api("js_analyst").get("/api/v1/latest", {"sites": "W1,W2"}).json()
    assert body == {"items": [], "not_found": ["W1", "W2"]}
    assert api("ks_analyst").get("/api/v1/latest", {"sites": " , "}).json() == {"items": [], "not_found": []}
    # no list: every site whose data the user may read (W3 is visible to 昆山 but shares no data)
    listed = api("ks_analyst").get("/api/v1/latest", {"sites": "W1,W2"}).json()
    every = api("ks_analyst").get("/api/v1/latest").json()
    assert every == {"items": listed["items"], "not_found": []} and [i["site"] for i in every["items"]] == ["W1", "W2"]
    many = ",".join(f"S{i}" for i in range(201))
    err = assert_error(api("ks_analyst").get("/api/v1/latest", {"sites": many}), 400, "invalid_request")
    assert err["details"][0]["loc"] == ["query", "sites"]
    assert api("ks_analyst").get("/api/v1/latest", {"sites": many.rsplit(",", 1)[0]}).status_code == 200


# --- series data -----------------------------------------------------------------------------------


def test_series_owner_raw(data, api):
    body = api("qp_monitor").get(OBS, {**RANGE, "resolution": "raw"}).json()
    assert body["times"] == [ms(t) for t in HOURS]
    assert body["values"] == NH3 and body["raw"] == NH3
    assert body["valid"] == [True, True, False, True, True, True]
    assert body["flags"][2] == "D" and body["level"] == "raw" and body["source_kind"] == "hour"
    assert body["start"] == "2026-05-01T00:00:00+08:00" and body["end"] == "2026-05-01T06:00:00+08:00"


def test_series_validated_partner_gets_only_approved_data(data, api):
    share(data, "validated")
    body = api("ks_analyst").get(OBS, {**RANGE, "resolution": "raw"}).json()
    assert body["level"] == "validated"
    assert body["times"] == [ms(t) for t in HOURS[:3]]
    assert body["values"] == NH3[:3] and body["raw"] is None
    hourly = api("ks_analyst").get(OBS, {**RANGE, "resolution": "hour"}).json()
    assert hourly["times"] == [ms(t) for t in HOURS[:3]]


def test_series_raw_partner_sees_everything(data, api):
    share(data, "raw")
    body = api("ks_analyst").get(OBS, {**RANGE, "resolution": "raw"}).json()
    assert body["level"] == "raw" and body["values"] == NH3 and body["raw"] == NH3


def test_series_partner_for_other_parameters_only_is_404(data, api):
    share(data, "raw", parameters=[data["tp"]])
    assert api("ks_analyst").get(OBS, {**RANGE, "parameter": "tp"}).status_code == 200
    assert_error(api("ks_analyst").get(OBS, RANGE), 404, "not_found")


def test_series_without_agreement_is_404_like_an_unknown_site(data, api):
    r = api("js_analyst").get(OBS, RANGE)
    assert_error(r, 404, "not_found")
    assert r.json() == api("js_analyst").get("/api/v1/sites/NOPE/observations", RANGE).json()
    assert_error(api("office_admin").get(OBS, RANGE), 404, "not_found")


def test_series_aggregates(data, api):
    c = api("qp_monitor")
    hour = c.get(OBS, {**RANGE, "resolution": "hour"}).json()
    assert hour["times"] == [ms(t) for t in HOURS] and hour["values"] == NH3
    day = c.get(OBS, {**RANGE, "start": "2026-05-01T00:00:00", "end": "2026-05-02T00:00:00", "resolution": "day"}).json()
    assert day["times"] == [ms(local(2026, 5, 1))] and len(day["n"]) == 1 and len(day["coverage"]) == 1
    month = c.get(OBS, {**RANGE, "start": "2026-05-01T00:00:00", "end": "2026-06-01T00:00:00", "resolution": "month"}).json()
    assert month["times"] == [ms(local(2026, 5, 1))] and month["raw"] is None


def test_series_parameter_by_hj212_code(data, api):
    body = api("qp_monitor").get(OBS, {**RANGE, "parameter": data["nh3"].code_2017, "resolution": "raw"}).json()
    assert body["parameter"] == "nh3_n" and body["values"] == NH3


def test_series_naive_times_are_beijing_time(data, api):
    body = api("qp_monitor").get(OBS, {**RANGE, "start": "2026-05-01T03:00:00", "end": "2026-05-01T04:00:00", "resolution": "raw"}).json()
    assert body["times"] == [ms(HOURS[3])]


def test_series_empty_and_no_series(data, api):
    body = api("qp_monitor").get(OBS, {**RANGE, "start": "2025-01-01T00:00:00+08:00", "end": "2025-01-02T00:00:00+08:00"}).json()
    assert body["times"] == [] and body["values"] == []
    body = api("qp_monitor").get("/api/v1/sites/W3/observations", RANGE).json()
    assert body["times"] == [] and body["level"] == "raw"


@pytest.mark.parametrize(
    "params, code",
    [
        ({"start": "2026-05-02T00:00:00+08:00", "end": "2026-05-01T00:00:00+08:00"}, "bad_range"),
        ({"start": "2026-05-01T00:00:00+08:00", "end": "2026-05-01T00:00:00+08:00"}, "bad_range"),
        ({"start": "yesterday"}, "bad_time"),
        ({"end": "2026-13-01T00:00:00"}, "bad_time"),
        ({"start": "2026-05-01"}, "bad_time"),
        ({"start": "0001-01-01T00:00:00+14:00", "end": "0001-01-02T00:00:00+14:00"}, None),
        ({"resolution": "week"}, "invalid_request"),
        ({"kind": "weekly"}, "invalid_request"),
        ({"parameter": "no_such_parameter"}, "unknown_parameter"),
        ({"parameter": ""}, None),
    ],
)
def test_series_bad_requests_are_400(data, api, params, code):
    assert_error(api("qp_monitor").get(OBS, {**RANGE, **params}), 400, code)


@override_settings(GONGZHI_API_MAX_POINTS=4)
def test_series_point_limit(data, api):
    c = api("qp_monitor")
    err = assert_error(c.get(OBS, {**RANGE, "resolution": "raw"}), 400, "too_many_points")
    assert err["details"][0]["points"] == 6 and err["details"][0]["max_points"] == 4
    assert err["details"][0]["suggested_resolution"] == "hour"
    assert c.get(OBS, {**RANGE, "start": "2026-05-01T02:00:00+08:00", "resolution": "raw"}).status_code == 200
    err = assert_error(c.get(OBS, {**RANGE, "resolution": "hour"}), 400, "too_many_points")
    assert err["details"][0]["suggested_resolution"] == "day" and err["details"][0]["max_range_seconds"] == 4 * 3600
    assert c.get(OBS, {**RANGE, "resolution": "day"}).status_code == 200
    # the limit is checked after the policy: a stranger learns nothing from it
    assert_error(api("js_analyst").get(OBS, {**RANGE, "resolution": "raw"}), 404)


# --- joint zones --------------------------------------------------------------------------------------


@pytest.fixture
def zone(world):
    z = reg.JointGovernanceZone.objects.create(code="qingkun", name="青昆联防联治区", agreement_title="协议")
    z.bureaus.add(world["bureaus"]["qingpu"], world["bureaus"]["kunshan"])
    band = {"type": "Polygon", "coordinates": [[[120.8, 31.05], [121.0, 31.05], [121.0, 31.2], [120.8, 31.2], [120.8, 31.05]]]}
    reg.JointGovernanceZone.objects.filter(pk=z.pk).update(band=band)
    reg.JointGovernanceZone.objects.create(code="other", name="未计算区")
    return z


def test_joint_zones_list(zone, api):
    body = api("js_analyst").get("/api/v1/joint-zones").json()
    assert [z["code"] for z in body] == ["other", "qingkun"]
    qk = body[1]
    assert {b["code"] for b in qk["bureaus"]} == {"qingpu", "kunshan"} and qk["band_computed"] is True
    assert body[0]["band_computed"] is False


def test_joint_zone_lists_only_visible_sites(zone, api, world):
    def inside(user):
        body = api(user).get("/api/v1/joint-zones/qingkun").json()
        return [s["code"] for s in body["sites"]]

    assert sorted(inside("office_admin")) == ["W1", "W2", "W3"]  # A1 lies outside the band
    assert sorted(inside("qp_monitor")) == ["W1", "W3"]
    assert inside("ks_analyst") == ["W2"]
    assert inside("js_analyst") == []
    share(world, "validated")
    assert sorted(inside("ks_analyst")) == ["W1", "W2"]
    body = api("qp_monitor").get("/api/v1/joint-zones/qingkun", {"geometry": "true"}).json()
    assert body["band"]["type"] == "Polygon"
    assert api("qp_monitor").get("/api/v1/joint-zones/qingkun").json()["band"] is None
    other = api("qp_monitor").get("/api/v1/joint-zones/other").json()
    assert other["sites"] == [] and other["band_computed"] is False
    assert_error(api("qp_monitor").get("/api/v1/joint-zones/nope"), 404, "not_found")


# --- assessments ---------------------------------------------------------------------------------------


def test_water_class_of_a_month(world, api):
    w1 = world["sites"]["W1"]
    days = [local(2026, 5, d, h) for d in range(1, 31) for h in range(24)]
    write(w1, world["nh3"], SeriesKind.HOUR, [(t, 1.2) for t in days])  # Ⅳ (1.0 < x ≤ 1.5)
    write(w1, world["tp"], SeriesKind.HOUR, [(t, 0.15) for t in days])  # Ⅲ for rivers (0.1 < x ≤ 0.2)
    agg.recompute_dirty()
    body = api("qp_monitor").get("/api/v1/sites/W1/water-class", {"month": "2026-05"}).json()
    assert body["water_class"] == 4 and body["label"] == "Ⅳ"
    assert {i["indicator"]: i["water_class"] for i in body["indicators"]} == {"nh3_n": 4, "tp": 3}
    assert body["main_pollutants"] == ["nh3_n"]
    assert_error(api("js_analyst").get("/api/v1/sites/W1/water-class", {"month": "2026-05"}), 404)
    assert_error(api("office_admin").get("/api/v1/sites/W1/water-class", {"month": "2026-05"}), 404)
    share(world, "raw", parameters=[world["tp"]])
    body = api("ks_analyst").get("/api/v1/sites/W1/water-class", {"month": "2026-05"}).json()
    assert body["water_class"] == 3 and [i["indicator"] for i in body["indicators"]] == ["tp"]
    for bad in ("2026-13", "2026-5", "May", ""):
        assert_error(api("qp_monitor").get("/api/v1/sites/W1/water-class", {"month": bad}), 400)
    assert_error(api("qp_monitor").get("/api/v1/sites/A1/water-class", {"month": "2026-05"}), 400, "not_a_water_section")


def test_every_read_route_hides_unshared_sites(data, api, zone):
    """A bureau without an agreement gets 404 (or nothing) from every route that names W1."""
    c = api("js_analyst")
    for path in ("/api/v1/sites/W1", "/api/v1/sites/W1/latest", OBS, "/api/v1/sites/W1/water-class"):
        r = c.get(path, {**RANGE, "month": "2026-05"})
        assert_error(r, 404, "not_found")
        assert "W1" not in r.content.decode() and "急水港" not in r.content.decode()
    assert c.get("/api/v1/sites").json()["total"] == 0
    assert c.get("/api/v1/latest", {"sites": "W1"}).json()["items"] == []
    assert c.get("/api/v1/joint-zones/qingkun").json()["sites"] == []


def test_agreement_out_of_force_hides_again(data, api):
    a = share(data, "raw")
    assert api("ks_analyst").get(OBS, RANGE).status_code == 200
    a.valid_to = dt.date(2021, 1, 1)
    a.save()
    assert_error(api("ks_analyst").get(OBS, RANGE), 404)
    assert_error(api("ks_analyst").get("/api/v1/sites/W1"), 404)


@pytest.mark.parametrize("code", ["W1\x00", "W1%00", "W1;x", "../W1", "W 1", "威"])
def test_codes_that_cannot_exist_are_refused_cleanly(world, api, code):
    c = api("office_admin")
    assert_error(c.get(f"/api/v1/sites/{code}"), 404)
    assert_error(c.get(f"/api/v1/joint-zones/{code}"), 404)
    r = c.get("/api/v1/latest", {"sites": f"{code},W2"})
    assert r.status_code == 200 and r.json()["items"] == [] and r.json()["not_found"][-1] == "W2"
    assert_error(c.get("/api/v1/sites", {"owner": code}), 400, "invalid_request")
    assert_error(c.get("/api/v1/sites", {"waterbody": code}), 400, "invalid_request")


def test_many_latest_answers_exactly_its_documented_schema(data, api):
    """/latest is encoded without ninja's response validation (speed): check the shape here."""
    from gongzhi.api.sites import ManyLatest

    share(data, "raw")
    for params in ({"sites": "W1,W2,NOPE"}, {}):
        body = api("ks_analyst").get("/api/v1/latest", params).json()
        assert body["items"] and ManyLatest.model_validate(body).model_dump(mode="json") == body


@pytest.mark.parametrize("level", ["raw", "validated"])
def test_many_latest_equals_the_per_site_answers(data, api, level):
    """/latest (entries built by the database on PostgreSQL) holds, for every site, what
    /sites/{code}/latest (the Python path, validated by ninja) answers: owner, partner at the
    agreement's level, a reader without data."""
    share(data, level)
    for user in ("qp_monitor", "ks_analyst", "js_analyst"):
        c = api(user)
        every = c.get("/api/v1/latest").json()
        assert every["not_found"] == []
        for item in every["items"]:
            assert c.get(f"/api/v1/sites/{item['site']}/latest").json() == item, (user, item["site"])
        if user == "js_analyst":
            assert every["items"] == []
        else:
            assert every["items"], user
