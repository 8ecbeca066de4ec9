"""Region-wide map layers (一张图): jurisdiction boundaries, waters, shared boundaries and the
joint-zone bands, simplified for display and cached as ready-to-send JSON bytes.

Jurisdictions, waterbodies, reaches, shared boundaries and joint zones are region-wide
(every signed-in user sees them, :data:`gongzhi.sharing.policy.REGION_WIDE`), so one cached
answer serves everybody. The full-resolution boundaries stay in the database; here they
are simplified with Shapely (Douglas–Peucker, topology preserved, tolerance
:data:`TOLERANCE_DEG` ≈ 40 m) and rounded to 5 decimals (≈ 1 m). The cache is cleared when
any of those records is saved or deleted in this process (signals, see
:mod:`gongzhi.web.apps`) and expires after :data:`CACHE_SECONDS` for the other processes.
"""

from __future__ import annotations

import json

from django.core.cache import cache
from shapely.geometry import mapping, shape

from gongzhi.registry import models as reg
from gongzhi.sharing import policy

CACHE_KEY = "gongzhi:web:map-layers:v1"
CACHE_SECONDS = 300
TOLERANCE_DEG = 0.0004
PRECISION = 5
LAYER_MODELS = (reg.Jurisdiction, reg.Waterbody, reg.Reach, reg.SharedBoundary, reg.JointGovernanceZone)


def _round(coords, ndigits: int = PRECISION):
    if isinstance(coords, (int, float)):
        return round(coords, ndigits)
    return [_round(c, ndigits) for c in coords]


def simplify(geojson: dict | None, tolerance: float = TOLERANCE_DEG) -> dict | None:
    """A GeoJSON geometry simplified for display (never empty: falls back to the original)."""
    if not geojson:
        return None
    geom = shape(geojson)
    if geom.is_empty:
        return None
    simple = geom.simplify(tolerance, preserve_topology=True)
    if simple.is_empty:
        simple = geom
    out = mapping(simple)
    return {"type": out["type"], "coordinates": _round(out["coordinates"])}


def _feature(geometry, **properties) -> dict:
    return {"type": "Feature", "geometry": geometry, "properties": properties}


def build_layers() -> dict:
    jurisdictions = []
    for j in reg.Jurisdiction.objects.exclude(boundary__isnull=True).order_by("adcode"):
        g = simplify(j.boundary)
        if g:
            jurisdictions.append(_feature(g, adcode=j.adcode, name=j.name, name_en=j.name_en, level=j.level))
    waters = []
    for w in reg.Waterbody.objects.exclude(geometry__isnull=True).order_by("code"):
        g = simplify(w.geometry, TOLERANCE_DEG / 2)
        if g:
            waters.append(_feature(g, code=w.code, name=w.name, name_en=w.name_en, kind=w.kind, layer="waterbody"))
    for r in reg.Reach.objects.select_related("waterbody").exclude(geometry__isnull=True).order_by("code"):
        g = simplify(r.geometry, TOLERANCE_DEG / 2)
        if g:
            waters.append(_feature(
                g, code=r.code, name=r.waterbody.name, name_en=r.waterbody.name_en, kind=r.waterbody.kind,
                layer="reach", schematic=r.schematic,
            ))
    borders = []
    for b in reg.SharedBoundary.objects.select_related("a", "b").order_by("a__adcode", "b__adcode"):
        g = simplify(b.line)
        if g:
            borders.append(_feature(g, a=b.a.name, b=b.b.name, cross_province=b.cross_province, length_m=round(b.length_m)))
    bands = []
    for z in reg.JointGovernanceZone.objects.exclude(band__isnull=True).order_by("code"):
        g = simplify(z.band)
        if g:
            bands.append(_feature(g, code=z.code, name=z.name, name_en=z.name_en, width_m=z.band_width_m))
    fc = lambda feats: {"type": "FeatureCollection", "features": feats}  # noqa: E731
    return {"jurisdictions": fc(jurisdictions), "waters": fc(waters), "borders": fc(borders), "bands": fc(bands)}


def layers_json(user) -> bytes:
    """The layers as JSON bytes (cached). Region-wide data: any signed-in user may read it."""
    if not policy.can_view(user, reg.Jurisdiction()):
        raise PermissionError("sign in first")
    data = cache.get(CACHE_KEY)
    if data is None:
        data = json.dumps(build_layers(), ensure_ascii=False, separators=(",", ":")).encode()
        cache.set(CACHE_KEY, data, CACHE_SECONDS)
    return data


def invalidate(**kwargs) -> None:
    cache.delete(CACHE_KEY)
