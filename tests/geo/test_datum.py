"""GCJ-02 ↔ WGS-84 (gongzhi.geo.datum)."""
import json
from pathlib import Path

import numpy as np
import pytest
import shapely
from shapely.geometry import shape

from gongzhi.demo.region import resource_path
from gongzhi.geo.datum import gcj02_to_wgs84, gcj02_to_wgs84_geometry, in_china, wgs84_to_gcj02
from gongzhi.geo.metric import to_metric

DATA = Path(__file__).parent / "data"


def test_offset_near_shanghai_matches_the_documented_size():
    # SOURCES.md: around the demo region GCJ-02 is about +0.0045° lon / -0.002° lat from WGS-84
    lon, lat = wgs84_to_gcj02(121.0, 31.1)
    assert 0.004 < lon - 121.0 < 0.005
    assert -0.0025 < lat - 31.1 < -0.0015


def test_no_offset_outside_china():
    assert wgs84_to_gcj02(2.3522, 48.8566) == (2.3522, 48.8566)
    assert gcj02_to_wgs84(-74.0, 40.7) == (-74.0, 40.7)
    assert not in_china(150.0, 31.0) and in_china(121.0, 31.0)


@pytest.mark.parametrize("lon,lat", [(121.0, 31.0), (120.35, 30.76), (121.38, 31.76), (87.6, 43.8), (126.6, 45.75)])
def test_round_trip_to_1e_7_degree(lon, lat):
    g = wgs84_to_gcj02(lon, lat)
    assert g != (lon, lat)
    w = gcj02_to_wgs84(*g)
    assert abs(w[0] - lon) < 1e-7 and abs(w[1] - lat) < 1e-7


def test_vectorised_equals_scalar():
    lons = np.array([120.5, 121.0, 121.3])
    lats = np.array([30.8, 31.1, 31.6])
    vx, vy = gcj02_to_wgs84(lons, lats)
    for i in range(3):
        sx, sy = gcj02_to_wgs84(float(lons[i]), float(lats[i]))
        assert vx[i] == pytest.approx(sx, abs=1e-12) and vy[i] == pytest.approx(sy, abs=1e-12)


def _by_code(path):
    fc = json.loads(Path(path).read_text(encoding="utf-8"))
    return {f["properties"]["adcode"]: shape(f["geometry"]) for f in fc["features"]}


def test_converting_shared_gcj02_districts_gives_the_derived_wgs84_within_1_m():
    gcj = _by_code(DATA / "districts.gcj02.geojson")
    wgs = _by_code(resource_path("districts.wgs84.geojson"))
    assert set(gcj) == set(wgs) == {"310114", "310118", "320583", "320585", "320509", "330421"}
    for code in gcj:
        mine = gcj02_to_wgs84_geometry(gcj[code])
        ref = wgs[code]
        # vertex-wise when the vertex lists line up, else the Hausdorff distance
        a, b = shapely.get_coordinates(mine), shapely.get_coordinates(ref)
        if a.shape == b.shape:
            d_m = np.hypot((a[:, 0] - b[:, 0]) * 95_000, (a[:, 1] - b[:, 1]) * 111_000)
            assert d_m.max() < 1.0, code
        h = to_metric(mine).hausdorff_distance(to_metric(ref))
        assert h < 1.0, (code, h)
        # and the conversion really moved the polygon by ~500 m
        assert to_metric(gcj[code]).hausdorff_distance(to_metric(ref)) > 300
