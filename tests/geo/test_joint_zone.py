"""Shared borders and joint zones (gongzhi.geo.joint_zone) on synthetic squares and the demo counties."""
import pytest
from shapely.geometry import Point, box

from gongzhi.demo.region import load_region, resource_path
from gongzhi.geo.geojson import read_features
from gongzhi.geo.joint_zone import compute_joint_zone, distance_to_border_m, points_in_zone, shared_borders
from gongzhi.geo.metric import from_metric, to_metric

# SOURCES.md lengths of the cross-province shared borders, km
SOURCES_KM = {("310118", "320583"): 63.3, ("310114", "320585"): 48.5, ("310118", "330421"): 24.5,
              ("320509", "330421"): 21.8, ("310114", "320583"): 18.9, ("310118", "320509"): 15.7}


@pytest.fixture(scope="module")
def counties():
    return {f["properties"]["adcode"]: f for f in read_features(resource_path("districts.wgs84.geojson"))}


def _squares(overlap_m=10.0):
    # two 1 km squares side by side, as independently "simplified" polygons: B overlaps A by a sliver
    a = from_metric(box(0, 0, 1000, 1000))
    b = from_metric(box(1000 - overlap_m, 0, 2000, 1000))
    far = from_metric(box(5000, 0, 6000, 1000))
    return a, b, far


def test_synthetic_shared_border_and_band():
    a, b, far = _squares()
    borders = shared_borders({"A": a, "B": b, "F": far})
    assert [(x.a, x.b) for x in borders] == [("A", "B")]  # F is not adjacent
    # the method's end effect: up to tolerance + overlap of A's outer edge at each end (documented)
    assert 1000 <= borders[0].length_m <= 1000 + 2 * (30 + 10) + 1
    zone = compute_joint_zone({"A": a, "B": b}, width_m=200)
    band_area = to_metric(zone.union).area
    # 200 m each side of a 1 km border, clipped to the squares (plus the 30 m tolerance rim)
    assert 400 * 1000 <= band_area <= 400 * (1000 + 2 * 30) + 2 * 40 * 200  # + rim and end stubs
    x_in = from_metric(Point(1150, 500))
    x_out = from_metric(Point(1300, 500))
    assert points_in_zone([(x_in.x, x_in.y), x_out], zone).tolist() == [True, False]
    d = distance_to_border_m([x_in, x_out], zone)
    assert d[0] == pytest.approx(150, abs=11) and d[1] == pytest.approx(300, abs=11)


def test_synthetic_gap_within_tolerance_still_shares_a_border():
    a = from_metric(box(0, 0, 1000, 1000))
    b = from_metric(box(1020, 0, 2000, 1000))  # 20 m gap
    assert 1000 <= shared_borders({"A": a, "B": b})[0].length_m <= 1000 + 2 * 30 + 1
    assert shared_borders({"A": a, "B": b}, tolerance_m=10) == []


def test_width_must_be_positive():
    a, b, _ = _squares()
    with pytest.raises(ValueError):
        compute_joint_zone({"A": a, "B": b}, width_m=0)


def test_demo_shared_border_lengths_match_sources(counties):
    borders = {x.pair: x for x in shared_borders(counties)}
    assert len(borders) == 9  # 9 adjacent pairs, 6 of them cross-province
    assert ("320509", "320585") not in borders and ("310114", "330421") not in borders
    for pair, km in SOURCES_KM.items():
        assert borders[pair].length_m / 1000 == pytest.approx(km, rel=0.03), pair


def test_demo_shared_borders_match_the_shipped_reference_lines(counties):
    ref = {tuple(sorted((f["properties"]["a"], f["properties"]["b"]))): f for f in read_features(resource_path("shared_borders.wgs84.geojson"))}
    mine = {x.pair: x for x in shared_borders(counties)}
    assert set(ref) == set(mine)
    for pair, f in ref.items():
        assert mine[pair].length_m / 1000 == pytest.approx(f["properties"]["length_km"], abs=0.3)


def _zone(counties, code):
    z = next(z for z in load_region()["joint_zones"] if z["code"] == code)
    return compute_joint_zone({c: counties[c] for c in z["members"]}, width_m=z["buffer_m"])


def test_jinze_hydrological_station_is_in_the_qingwujia_zone(counties):
    zone = _zone(counties, "qingwujia")
    jinze = (120.9013, 31.0184)  # 金泽水文站, Sinoyd id 24, 116 m inside Jiashan per SOURCES.md
    assert zone.contains(*jinze)
    d = distance_to_border_m([jinze], zone)[0]
    assert 50 < d < 200
    assert {tuple(sorted(p)) for p in zone.bands} == {("310118", "320509"), ("310118", "330421"), ("320509", "330421")}


def test_nanxiang_air_station_is_outside_the_jiakuntai_zone(counties):
    zone = _zone(counties, "jiakuntai")
    nanxiang = (121.3162, 31.2838)  # 3268A 嘉定南翔, well inside Jiading
    assert not zone.contains(*nanxiang)
    assert distance_to_border_m([nanxiang], zone)[0] > 10_000


def test_zone_geojson_has_borders_bands_and_union(counties):
    fc = _zone(counties, "jiakuntai").to_geojson()
    kinds = [f["properties"]["kind"] for f in fc["features"]]
    assert kinds.count("shared_border") == 3 and kinds.count("band") == 3 and kinds.count("zone") == 1
    assert fc["features"][-1]["geometry"]["type"] in ("Polygon", "MultiPolygon")
