"""GCJ-02 ↔ WGS-84 conversion (火星坐标 ↔ GPS 坐标).

GCJ-02 (国测局坐标, "Mars coordinates") is the obfuscated datum that maps published in China must use:
Amap (高德), Aliyun DataV GeoAtlas, Tencent and Google China serve GCJ-02 coordinates. It is WGS-84
plus a smooth, position-dependent offset of a few hundred metres (around Shanghai about +0.0045° lon
and −0.002° lat, ~450–500 m). Baidu's BD-09 adds a further offset on top of GCJ-02 and is not handled
here.

Algorithm
---------
The forward transform (WGS-84 → GCJ-02) used here is the widely published public reconstruction:
an offset built from two polynomial-plus-sine series in ``x = lon − 105°`` and ``y = lat − 35°``,
scaled from metres to degrees on the Krasovsky 1940 ellipsoid (a = 6 378 245 m,
e² = 0.006 693 421 622 965 94). Its agreement with the official transform is at the metre level.

The inverse (GCJ-02 → WGS-84) has no closed form. :func:`gcj02_to_wgs84` solves
``forward(w) = g`` by fixed-point iteration ``w ← w − (forward(w) − g)``; the offset varies slowly
(its gradient is ~10⁻⁵ per degree), so each step gains about five decimal digits and two to three
steps reach the requested tolerance (default 1 × 10⁻⁹°, ~0.1 mm). Round trips are therefore exact to
far below the ~1 m accuracy of the forward model itself.

Outside mainland China no offset is applied (coordinates are returned unchanged), following the
common convention: a rough bounding box of China (lon 72.004–137.8347, lat 0.8293–55.8271) is used;
Hong Kong, Macao and Taiwan are not excluded by this box.

All functions accept scalars or array-likes (NumPy broadcasting) and return floats or arrays.
"""
from __future__ import annotations

import numpy as np
import shapely
from shapely.geometry.base import BaseGeometry

__all__ = [
    "KRASOVSKY_A",
    "KRASOVSKY_E2",
    "in_china",
    "wgs84_to_gcj02",
    "gcj02_to_wgs84",
    "gcj02_to_wgs84_geometry",
    "wgs84_to_gcj02_geometry",
]

#: Semi-major axis of the Krasovsky 1940 ellipsoid, metres.
KRASOVSKY_A = 6378245.0
#: First eccentricity squared of the Krasovsky 1940 ellipsoid.
KRASOVSKY_E2 = 0.00669342162296594323

# rough bounding box of mainland China used to decide whether an offset applies
_LON_MIN, _LON_MAX, _LAT_MIN, _LAT_MAX = 72.004, 137.8347, 0.8293, 55.8271


def in_china(lon, lat):
    """True where ``lon, lat`` (degrees) fall in the rough China box where GCJ-02 differs from WGS-84."""
    lon = np.asarray(lon, dtype=float)
    lat = np.asarray(lat, dtype=float)
    return (lon >= _LON_MIN) & (lon <= _LON_MAX) & (lat >= _LAT_MIN) & (lat <= _LAT_MAX)


def _series(x, y):
    """The two offset series (metres on the Krasovsky ellipsoid before scaling) at x=lon−105, y=lat−35."""
    pi = np.pi
    s_common = (20.0 * np.sin(6.0 * pi * x) + 20.0 * np.sin(2.0 * pi * x)) * (2.0 / 3.0)
    d_lat = (-100.0 + 2.0 * x + 3.0 * y + 0.2 * y * y + 0.1 * x * y + 0.2 * np.sqrt(np.abs(x)) + s_common
             + (20.0 * np.sin(pi * y) + 40.0 * np.sin(pi * y / 3.0)) * (2.0 / 3.0)
             + (160.0 * np.sin(pi * y / 12.0) + 320.0 * np.sin(pi * y / 30.0)) * (2.0 / 3.0))
    d_lon = (300.0 + x + 2.0 * y + 0.1 * x * x + 0.1 * x * y + 0.1 * np.sqrt(np.abs(x)) + s_common
             + (20.0 * np.sin(pi * x) + 40.0 * np.sin(pi * x / 3.0)) * (2.0 / 3.0)
             + (150.0 * np.sin(pi * x / 12.0) + 300.0 * np.sin(pi * x / 30.0)) * (2.0 / 3.0))
    return d_lon, d_lat


def _offset(lon, lat):
    """GCJ-02 minus WGS-84 offset in degrees at WGS-84 ``lon, lat`` (zero outside China)."""
    d_lon, d_lat = _series(lon - 105.0, lat - 35.0)
    phi = np.radians(lat)
    w = 1.0 - KRASOVSKY_E2 * np.sin(phi) ** 2
    sw = np.sqrt(w)
    # metres → degrees: meridian radius of curvature M = a(1−e²)/w^1.5, prime vertical N = a/w^0.5
    d_lat = d_lat * 180.0 / (KRASOVSKY_A * (1.0 - KRASOVSKY_E2) / (w * sw) * np.pi)
    d_lon = d_lon * 180.0 / (KRASOVSKY_A / sw * np.cos(phi) * np.pi)
    inside = in_china(lon, lat)
    return np.where(inside, d_lon, 0.0), np.where(inside, d_lat, 0.0)


def _out(a):
    return float(a) if np.ndim(a) == 0 else a


def wgs84_to_gcj02(lon, lat):
    """Convert WGS-84 ``lon, lat`` (degrees) to GCJ-02. Returns ``(lon, lat)``."""
    lon = np.asarray(lon, dtype=float)
    lat = np.asarray(lat, dtype=float)
    d_lon, d_lat = _offset(lon, lat)
    return _out(lon + d_lon), _out(lat + d_lat)


def gcj02_to_wgs84(lon, lat, *, tol_deg: float = 1e-9, max_iter: int = 20):
    """Convert GCJ-02 ``lon, lat`` (degrees) to WGS-84 by fixed-point iteration of the forward model.

    Iterates until the forward transform of the estimate reproduces the input within ``tol_deg``
    degrees in both coordinates (default 1e-9°, ~0.1 mm), at most ``max_iter`` times.
    Returns ``(lon, lat)``.
    """
    g_lon = np.asarray(lon, dtype=float)
    g_lat = np.asarray(lat, dtype=float)
    w_lon, w_lat = g_lon.copy(), g_lat.copy()
    for _ in range(max_iter):
        f_lon, f_lat = wgs84_to_gcj02(w_lon, w_lat)
        e_lon, e_lat = np.asarray(f_lon) - g_lon, np.asarray(f_lat) - g_lat
        w_lon = w_lon - e_lon
        w_lat = w_lat - e_lat
        if np.all(np.abs(e_lon) < tol_deg) and np.all(np.abs(e_lat) < tol_deg):
            break
    return _out(w_lon), _out(w_lat)


def _transform_geometry(geom: BaseGeometry, fn) -> BaseGeometry:
    def f(xy):
        x, y = fn(xy[:, 0], xy[:, 1])
        return np.column_stack([np.atleast_1d(x), np.atleast_1d(y)])

    return shapely.transform(geom, f)


def gcj02_to_wgs84_geometry(geom: BaseGeometry) -> BaseGeometry:
    """Convert every vertex of a Shapely geometry from GCJ-02 to WGS-84."""
    return _transform_geometry(geom, gcj02_to_wgs84)


def wgs84_to_gcj02_geometry(geom: BaseGeometry) -> BaseGeometry:
    """Convert every vertex of a Shapely geometry from WGS-84 to GCJ-02."""
    return _transform_geometry(geom, wgs84_to_gcj02)
