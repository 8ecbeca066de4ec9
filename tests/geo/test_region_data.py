"""Consistency of the shipped demo region (src/gongzhi/demo/region/region.json)."""
import re
from collections import Counter

import pytest
from shapely.geometry import Point, shape
from shapely.ops import unary_union

from gongzhi.demo.region import load_region, resource_path
from gongzhi.geo.geojson import read_features
from gongzhi.geo.metric import geodesic_distance_m
from gongzhi.geo.network import RiverNetwork

ROLES = {"administrator", "monitoring_staff", "analyst", "enforcement_officer", "river_chief",
         "emergency_duty_officer", "viewer"}
PARAM = re.compile(r"^([wa]\d{5}|x-[a-z0-9]+)$")


@pytest.fixture(scope="module")
def region():
    return load_region()


@pytest.fixture(scope="module")
def polys():
    return {f["properties"]["adcode"]: shape(f["geometry"]) for f in read_features(resource_path("districts.wgs84.geojson"))}


def _codes(items, key="code"):
    codes = [i[key] for i in items]
    dup = [c for c, n in Counter(codes).items() if n > 1]
    assert not dup, dup
    return set(codes)


def test_format_and_unique_codes(region):
    assert region["format"] == "gongzhi.demo-region/1" and region["datum"] == "WGS-84"
    for k in ("jurisdictions", "bureaus", "joint_zones", "waterbodies", "sites", "enterprises", "sharing_agreements"):
        _codes(region[k])
    _codes(region["river_network"]["nodes"])
    _codes(region["river_network"]["reaches"])
    _codes(region["users"], "username")
    _codes([o for e in region["enterprises"] for o in e["outlets"]])


def test_every_reference_resolves(region, polys):
    J = _codes(region["jurisdictions"])
    Bu = _codes(region["bureaus"])
    W = _codes(region["waterbodies"])
    N = _codes(region["river_network"]["nodes"])
    R = {r["code"]: r for r in region["river_network"]["reaches"]}
    S = _codes(region["sites"])
    O = {o["code"] for e in region["enterprises"] for o in e["outlets"]}
    Z = _codes(region["joint_zones"])
    for j in region["jurisdictions"]:
        assert j["parent"] is None or j["parent"] in J
        if j["level"] == "county":
            assert j["boundary"]["value"] in polys and j["boundary"]["file"] == "districts.wgs84.geojson"
    for b in region["bureaus"]:
        # a co-governance office (kind "office") spans several jurisdictions and has none of its own
        assert (b["jurisdiction"] in J or (b.get("kind") == "office" and b["jurisdiction"] is None)) and (
            b["parent"] is None or b["parent"] in Bu
        )
    for z in region["joint_zones"]:
        assert set(z["members"]) <= set(polys) and set(z["coordinating_bureaus"]) <= Bu and z["buffer_m"] == 500
    for w in region["waterbodies"]:
        assert set(w["jurisdictions"]) <= J
    for r in R.values():
        assert r["waterbody"] in W and r["from_node"] in N and r["to_node"] in N
        assert 0.05 <= r["velocity_m_s"] <= 0.5 and r["length_m"] > 0
    for s in region["sites"]:
        assert s["owner_bureau"] in Bu and s["jurisdiction"] in J
        if s["kind"] == "water_section":
            assert s["waterbody"] is None or s["waterbody"] in W
            assert s["target_class"] in {"I", "II", "III", "IV", "V"}
            if s["reach"] is not None:
                assert s["reach"] in R and 0 <= s["chainage_m"] <= R[s["reach"]]["length_m"]
                assert R[s["reach"]]["waterbody"] in {s["waterbody"], "dianshan", "dianpu", "lanlu"}
            if s["boundary_section"]:
                up, down = s["upstream_jurisdiction"], s["downstream_jurisdiction"]
                assert up in J and down in J and up != down and s["jurisdiction"] in (up, down)
        else:
            assert s["kind"] == "air_station"
    for e in region["enterprises"]:
        assert e["owner_bureau"] in Bu and e["jurisdiction"] in J and e["demo"] is True
        for o in e["outlets"]:
            assert o["kind"] in {"wastewater", "flue_gas"}
            if o["reach"] is not None:
                assert o["reach"] in R and 0 <= o["chainage_m"] <= R[o["reach"]]["length_m"]
                assert o["receiving_waterbody"] == R[o["reach"]]["waterbody"]
            for lim in o["limits"]:
                assert PARAM.match(lim["parameter"]), lim
                assert lim["confidence"] in {"cited", "demo"}
                assert (lim["confidence"] == "cited") == bool(lim["citation"])
    for d in region["devices"]:
        assert (d["site"] is None) != (d["outlet"] is None)
        assert d["site"] in S if d["site"] else d["outlet"] in O
        assert d["owner_bureau"] in Bu
    for u in region["users"]:
        assert u["bureau"] in Bu and u["role"] in ROLES
    for a in region["sharing_agreements"]:
        assert a["provider"] in Bu and set(a["recipients"]) <= Bu and a["provider"] not in a["recipients"]
        assert a["joint_zone"] is None or a["joint_zone"] in Z
        assert a["level"] in {"raw", "validated"}


def test_devices(region):
    mns = [d["mn"] for d in region["devices"]]
    assert len(mns) == len(set(mns))
    sites = {s["code"]: s for s in region["sites"]}
    outlets = {o["code"]: o for e in region["enterprises"] for o in e["outlets"]}
    for d in region["devices"]:
        assert re.fullmatch(r"[0-9A-F]{24}", d["mn"]), d["mn"]
        assert len(d["password"]) == 6 and d["protocol"] == "hj212-2017"
        if d["site"]:
            expected = {"water_section": "21", "air_station": "22"}[sites[d["site"]]["kind"]]
        else:
            expected = {"wastewater": "32", "flue_gas": "31"}[outlets[d["outlet"]]["kind"]]
        assert d["st"] == expected
        assert d["parameters"] and all(PARAM.match(p) for p in d["parameters"])
        if d["st"] == "22":
            assert "a05024" in d["parameters"]  # O3 as in shared/reference/hj212.md


def test_coordinates_in_region_bbox(region, polys):
    minx, miny, maxx, maxy = unary_union(list(polys.values())).bounds
    pts = [(s["lon"], s["lat"]) for s in region["sites"]]
    pts += [(n["lon"], n["lat"]) for n in region["river_network"]["nodes"]]
    pts += [(e["lon"], e["lat"]) for e in region["enterprises"]]
    pts += [(o["lon"], o["lat"]) for e in region["enterprises"] for o in e["outlets"]]
    for lon, lat in pts:
        assert minx <= lon <= maxx and miny <= lat <= maxy, (lon, lat)


def test_sites_and_enterprises_inside_their_county_or_flagged(region, polys):
    flagged = []
    for s in region["sites"]:
        inside = polys[s["jurisdiction"]].contains(Point(s["lon"], s["lat"]))
        assert inside or s["district_assignment_uncertain"], s["code"]
        if not inside:
            flagged.append(s["name"])
    # the known cross-line points of SOURCES.md are flagged, not silently moved
    assert {"金泽水文站", "大朱厍", "白石矶（浮标）", "黄渡站"} <= set(flagged)
    for e in region["enterprises"]:
        for lon, lat in [(e["lon"], e["lat"])] + [(o["lon"], o["lat"]) for o in e["outlets"]]:
            assert polys[e["jurisdiction"]].contains(Point(lon, lat)), e["code"]


def test_every_bureau_has_core_roles(region):
    roles = {}
    for u in region["users"]:
        roles.setdefault(u["bureau"], set()).add(u["role"])
    for b in region["bureaus"]:
        assert {"administrator", "analyst", "monitoring_staff"} <= roles[b["code"]], b["code"]


def test_air_stations_and_levels(region):
    air = [s for s in region["sites"] if s["kind"] == "air_station"]
    real = {s["cnemc_code"] for s in air if not s["schematic"]}
    assert real == {"1146A", "3271A", "3268A", "1988A", "1989A", "1995A", "1996A", "1985A", "1986A", "1987A", "3425A"}
    assert [s["jurisdiction"] for s in air if s["schematic"]] == ["330421"]  # 嘉善 has no national station
    level = {"国控": "national", "市控": "municipal", "区控": "district"}
    for s in region["sites"]:
        ct = (s.get("source") or {}).get("control_type")
        if s["kind"] == "water_section" and ct:
            assert s["assessment_level"] == level[ct], s["code"]


def test_network_geometry_and_directions(region):
    rn = region["river_network"]
    nodes = {n["code"]: n for n in rn["nodes"]}
    for r in rn["reaches"]:
        a, b = nodes[r["from_node"]], nodes[r["to_node"]]
        straight = geodesic_distance_m(a["lon"], a["lat"], b["lon"], b["lat"])
        assert r["length_m"] == pytest.approx(straight * rn["sinuosity"], abs=10)
    net = RiverNetwork.from_region(region)
    assert net.validate() == []
    name = {s["code"]: s["name"] for s in region["sites"]}

    def down(site_name):
        code = next(c for c, n in name.items() if n == site_name)
        return [name.get(a.code) for a in net.downstream(code, include_nodes=False)]

    assert "金泽水文站" in down("太浦河芦墟（示意）") and "太浦河原水厂" in down("金泽水文站")
    assert "淀峰" in down("急水港")  # 急水港 → 淀山湖 → 淀峰/拦路港
    assert "赵屯站" in down("吴淞江昆山（示意）") and "黄渡站" in down("赵屯站")
    assert "浏岛大桥" in down("浏河太仓（示意）")
    assert "红旗塘" in down("红旗塘西塘（示意）")
    assert "急水港" not in down("淀峰")
