"""Demo region data (package data): the Shanghai–Jiangsu–Zhejiang border counties.

``region.json`` (format ``gongzhi.demo-region/1``, described in docs/demo-region.md) and the
WGS-84 GeoJSON files beside it. See PROVENANCE.md for sources and licence caveats: the county
boundaries are Amap/DataV geometry without an open licence, for demonstration only.
"""
from __future__ import annotations

import json
from importlib import resources
from pathlib import Path

__all__ = ["resource_path", "load_region", "load_geojson"]


def resource_path(name: str) -> Path:
    """Filesystem path of a file shipped in this package (e.g. ``"districts.wgs84.geojson"``)."""
    p = resources.files(__name__).joinpath(name)
    return Path(str(p))


def load_region() -> dict:
    """The parsed ``region.json``."""
    return json.loads(resources.files(__name__).joinpath("region.json").read_text(encoding="utf-8"))


def load_geojson(name: str) -> dict:
    """A parsed GeoJSON file of this package."""
    return json.loads(resources.files(__name__).joinpath(name).read_text(encoding="utf-8"))
