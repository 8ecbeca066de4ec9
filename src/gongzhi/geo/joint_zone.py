"""Shared boundaries and the joint zone (联防联治区) between adjacent jurisdictions.

The joint zone is the band within ``width_m`` metres (500 m by default) of the boundaries shared by
the member jurisdictions of a joint governance area (e.g. 嘉昆太: Jiading, Kunshan, Taicang).
Monitoring points and enterprises inside it are of common interest to both sides.

Method
------
Boundary polygons of neighbouring jurisdictions are usually simplified independently, so they do not
share vertices: they overlap in slivers (up to 0.07 km² in the demo data) and leave small gaps.
Intersecting the two polygons' boundaries directly would therefore return scattered points.
Instead, for each pair (A, B), all in a local metric projection (:data:`gongzhi.geo.metric.REGION_TM`):

1. the shared border is the part of A's boundary that lies within ``tolerance_m`` (30 m by default)
   of B: ``boundary(A) ∩ buffer(B, tolerance_m)``; only its linear parts are kept, contiguous pieces
   are merged and pieces shorter than ``min_piece_m`` (tolerance-sized stubs where a boundary merely
   touches the buffer) are dropped; pairs with less than ``min_length_m`` of shared border are not
   adjacent;
2. the pair's band is ``buffer(border, width_m)`` (round caps and joins), optionally clipped to the
   members' union (buffered by ``tolerance_m`` so that gaps between polygons stay covered);
3. the zone is the union of the pair bands.

Lengths are geodesic on the WGS-84 ellipsoid; everything returned is WGS-84 lon/lat. At each end of a
shared border the method keeps the stub of A's outer boundary that still lies within ``tolerance_m`` of
B, so a border is over-estimated by at most about ``2 × (tolerance_m + overlap)`` per piece (tens of
metres on borders of tens of kilometres); a 500 m band hides it.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from itertools import combinations
from typing import Any, Iterable, Mapping

import numpy as np
import shapely
from shapely.geometry import LineString, MultiLineString, Point
from shapely.geometry.base import BaseGeometry
from shapely.ops import unary_union

from .geojson import feature, feature_collection, to_shape
from .metric import REGION_TM, from_metric, geodesic_length_m, to_metric

__all__ = [
    "DEFAULT_WIDTH_M",
    "SharedBorder",
    "JointZone",
    "shared_borders",
    "compute_joint_zone",
    "points_in_zone",
    "distance_to_border_m",
]

#: Default half-width of the joint zone band, metres (联防联治区 500 m).
DEFAULT_WIDTH_M = 500.0


@dataclass(frozen=True)
class SharedBorder:
    """The boundary shared by jurisdictions ``a`` and ``b`` (codes, ``a < b``).

    ``line`` is a WGS-84 (Multi)LineString, ``length_m`` its geodesic length in metres.
    """

    a: str
    b: str
    line: BaseGeometry
    length_m: float

    @property
    def pair(self) -> tuple[str, str]:
        return (self.a, self.b)


@dataclass
class JointZone:
    """A joint zone: shared borders, the band around each, and their union (all WGS-84)."""

    width_m: float
    borders: list[SharedBorder]
    bands: dict[tuple[str, str], BaseGeometry]
    union: BaseGeometry
    members: tuple[str, ...] = field(default_factory=tuple)

    def to_geojson(self, precision: int | None = 7) -> dict:
        """A FeatureCollection with one ``shared_border`` and one ``band`` Feature per adjacent pair and
        one ``zone`` Feature (the union). Properties: ``kind``, ``a``, ``b``, ``length_m``, ``width_m``."""
        feats = []
        for sb in self.borders:
            feats.append(feature(sb.line, {"kind": "shared_border", "a": sb.a, "b": sb.b,
                                           "length_m": round(sb.length_m, 1), "width_m": None}, precision))
            feats.append(feature(self.bands[sb.pair], {"kind": "band", "a": sb.a, "b": sb.b,
                                                        "length_m": round(sb.length_m, 1), "width_m": self.width_m},
                                 precision))
        feats.append(feature(self.union, {"kind": "zone", "a": None, "b": None, "length_m": None,
                                          "width_m": self.width_m, "members": list(self.members)}, precision))
        return feature_collection(feats, datum="WGS-84")

    def contains(self, lon: float, lat: float) -> bool:
        """True if the point lies in the zone (boundary included)."""
        return bool(points_in_zone([(lon, lat)], self)[0])


def _linear_parts(geom: BaseGeometry) -> list[LineString]:
    if geom.is_empty:
        return []
    if isinstance(geom, LineString):
        return [geom]
    if isinstance(geom, MultiLineString):
        return list(geom.geoms)
    if hasattr(geom, "geoms"):
        out: list[LineString] = []
        for g in geom.geoms:
            out.extend(_linear_parts(g))
        return out
    return []


def _as_geoms(jurisdictions: Mapping[str, Any]) -> dict[str, BaseGeometry]:
    return {str(code): to_shape(g) for code, g in jurisdictions.items()}


def shared_borders(jurisdictions: Mapping[str, Any], *, tolerance_m: float = 30.0, min_length_m: float = 200.0,
                   min_piece_m: float | None = None, crs: str = REGION_TM) -> list[SharedBorder]:
    """Shared borders between every adjacent pair of ``jurisdictions``.

    Parameters
    ----------
    jurisdictions
        ``{code: polygon}``; polygons as Shapely geometries, GeoJSON geometry dicts or Features,
        WGS-84 lon/lat.
    tolerance_m
        How far (metres) A's boundary may lie from B and still count as shared. Must exceed the
        typical gap between the independently simplified polygons; 30 m suits 1:100 000-ish data.
    min_length_m
        Pairs sharing less than this (metres) are not adjacent (e.g. they only touch at a corner).
    min_piece_m
        Merged pieces shorter than this are dropped (default ``4 × tolerance_m``).
    crs
        The metric projection used for the buffer.

    Returns
    -------
    list of :class:`SharedBorder`, ordered by pair, with ``a < b``.
    """
    geoms = _as_geoms(jurisdictions)
    metric = {c: to_metric(g, crs) for c, g in geoms.items()}
    min_piece = 4.0 * tolerance_m if min_piece_m is None else min_piece_m
    out = []
    for a, b in combinations(sorted(metric), 2):
        ga, gb = metric[a], metric[b]
        if ga.distance(gb) > tolerance_m:
            continue
        seg = ga.boundary.intersection(gb.buffer(tolerance_m))
        parts = _linear_parts(seg)
        if not parts:
            continue
        merged = shapely.line_merge(MultiLineString(parts)) if len(parts) > 1 else parts[0]
        pieces = [p for p in _linear_parts(merged) if p.length >= min_piece]
        if not pieces:
            continue
        line_m = pieces[0] if len(pieces) == 1 else MultiLineString(pieces)
        line = from_metric(line_m, crs)
        length = geodesic_length_m(line)
        if length < min_length_m:
            continue
        out.append(SharedBorder(a, b, line, length))
    return out


def compute_joint_zone(jurisdictions: Mapping[str, Any], width_m: float = DEFAULT_WIDTH_M, *,
                       tolerance_m: float = 30.0, clip_to_members: bool = True, crs: str = REGION_TM,
                       quad_segs: int = 8) -> JointZone:
    """The joint zone of the member ``jurisdictions`` (``{code: polygon}``, WGS-84).

    ``width_m`` is the band half-width in metres (500 by default). With ``clip_to_members`` the bands
    are clipped to the union of the members (plus ``tolerance_m``), so the zone does not spill into
    non-member neighbours at tri-points or along the outer coast.
    """
    if width_m <= 0:
        raise ValueError("width_m must be positive")
    geoms = _as_geoms(jurisdictions)
    borders = shared_borders(geoms, tolerance_m=tolerance_m, crs=crs)
    clip = None
    if clip_to_members:
        clip = unary_union([to_metric(g, crs) for g in geoms.values()]).buffer(tolerance_m)
    bands = {}
    for sb in borders:
        band = to_metric(sb.line, crs).buffer(width_m, quad_segs=quad_segs)
        if clip is not None:
            band = band.intersection(clip)
        bands[sb.pair] = from_metric(band, crs)
    union = unary_union(list(bands.values())) if bands else shapely.Polygon()
    return JointZone(width_m=float(width_m), borders=borders, bands=bands, union=union, members=tuple(sorted(geoms)))


def _xy(points: Iterable[Any]) -> tuple[np.ndarray, np.ndarray]:
    xs, ys = [], []
    for p in points:
        if isinstance(p, Point):
            xs.append(p.x)
            ys.append(p.y)
        elif isinstance(p, Mapping):
            g = p["geometry"] if p.get("type") == "Feature" else p
            xs.append(g["coordinates"][0])
            ys.append(g["coordinates"][1])
        else:
            xs.append(p[0])
            ys.append(p[1])
    return np.asarray(xs, dtype=float), np.asarray(ys, dtype=float)


def points_in_zone(points: Iterable[Any], zone: JointZone | BaseGeometry) -> np.ndarray:
    """Boolean array: which ``points`` lie in ``zone`` (boundary counts as inside).

    ``points`` are ``(lon, lat)`` pairs, Shapely Points or GeoJSON Point geometries/Features (WGS-84);
    ``zone`` is a :class:`JointZone` or a WGS-84 polygon.
    """
    geom = zone.union if isinstance(zone, JointZone) else to_shape(zone)
    x, y = _xy(points)
    if x.size == 0:
        return np.zeros(0, dtype=bool)
    shapely.prepare(geom)
    return shapely.intersects_xy(geom, x, y)


def distance_to_border_m(points: Iterable[Any], borders: JointZone | Iterable[SharedBorder] | BaseGeometry, *,
                         crs: str = REGION_TM) -> np.ndarray:
    """Distance in metres from each point to the nearest shared border (planar, in ``crs``).

    ``borders`` is a :class:`JointZone`, a list of :class:`SharedBorder` or a WGS-84 line geometry.
    """
    if isinstance(borders, JointZone):
        line = unary_union([b.line for b in borders.borders])
    elif isinstance(borders, BaseGeometry):
        line = borders
    else:
        line = unary_union([b.line for b in borders])
    x, y = _xy(points)
    line_m = to_metric(line, crs)
    pts_m = to_metric(shapely.points(np.column_stack([x, y])) if x.size else shapely.MultiPoint(), crs) \
        if x.size else None
    if pts_m is None:
        return np.zeros(0)
    return np.asarray(shapely.distance(pts_m, line_m), dtype=float)
