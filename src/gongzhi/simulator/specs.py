"""What each simulated logger is (模拟数采仪): device specs from a demo region dict.

Pure (no Django): :func:`specs_from_region` reads a ``gongzhi.demo-region/1`` dict
(docs/demo-region.md) and returns one :class:`DeviceSpec` per device with what the value
models need: the HJ 212 codes it sends, its interval, the water section's target class and
waterbody type, the outlet's permit limits, reference oxygen and industry.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from typing import Any, Mapping

__all__ = ["DeviceSpec", "specs_from_region", "stable_hash", "KIND_BY_ST", "UNITS", "unit_of"]

#: HJ 212 system code (ST) -> what the logger measures
KIND_BY_ST = {"21": "water", "22": "air", "31": "flue_gas", "32": "wastewater"}
ROMAN = {"I": 1, "II": 2, "III": 3, "IV": 4, "V": 5}


def stable_hash(*parts: Any) -> int:
    """A 63-bit hash of ``parts`` that is the same in every process (``hash()`` is salted)."""
    text = "\x1f".join(str(p) for p in parts).encode("utf-8")
    return int.from_bytes(hashlib.sha256(text).digest()[:8], "big") >> 1


@dataclass(frozen=True)
class DeviceSpec:
    """One logger: identity (MN/PW/ST), what it sends and the context of its values."""

    mn: str
    password: str
    st: str
    codes: tuple[str, ...]
    interval_s: int = 60
    protocol: str = "2017"
    site: str | None = None
    outlet: str | None = None
    name: str = ""
    #: water sections
    waterbody_type: str = "river"
    target_class: int | None = None
    #: outlets: HJ 212 code -> upper permit limit (flow ``w00000``: permitted m³/d)
    limits: Mapping[str, float] = field(default_factory=dict)
    #: flue gas: limits are judged on values converted to this O2 content (%)
    reference_o2: float | None = None
    industry: str = ""
    #: air station is a background (对照) point
    control_point: bool = False

    @property
    def kind(self) -> str:
        """``water``, ``air``, ``wastewater`` or ``flue_gas`` (from ST)."""
        return KIND_BY_ST.get(self.st, "water")

    @property
    def location(self) -> str:
        """The site or outlet code (the place on the river network for sections and outlets)."""
        return self.site or self.outlet or ""


#: units each code is sent in, by device kind (HJ 212 carries no units: Appendix B units for
#: sources, µg/m³ — CO mg/m³ — for ambient air stations)
UNITS: dict[str, dict[str, str]] = {
    "water": {"w01001": "1", "w01009": "mg/L", "w01010": "°C", "w01014": "µS/cm", "w01019": "mg/L",
              "w21003": "mg/L", "w21011": "mg/L", "w21001": "mg/L"},
    "air": {"a21026": "µg/m³", "a21004": "µg/m³", "a21005": "mg/m³", "a05024": "µg/m³", "a34002": "µg/m³",
            "a34004": "µg/m³"},
    "wastewater": {"w00000": "L/s", "w01001": "1"},
    "flue_gas": {"a00000": "m³/s", "a19001": "%", "a01011": "m/s", "a01012": "°C", "a01013": "kPa", "a01014": "%"},
}
_DEFAULT_UNIT = {"water": "mg/L", "air": "µg/m³", "wastewater": "mg/L", "flue_gas": "mg/m³"}


def unit_of(kind: str, code: str) -> str:
    return UNITS.get(kind, {}).get(code, _DEFAULT_UNIT.get(kind, ""))


def specs_from_region(region: Mapping[str, Any], *, mns: set[str] | None = None) -> list[DeviceSpec]:
    """A spec per device of ``region`` (only those in ``mns`` when given), in file order."""
    sites = {s["code"]: s for s in region.get("sites", [])}
    outlets: dict[str, tuple[dict, dict]] = {}
    for e in region.get("enterprises", []):
        for o in e.get("outlets", []):
            outlets[o["code"]] = (e, o)
    out = []
    for d in region.get("devices", []):
        if mns is not None and d["mn"] not in mns:
            continue
        kw: dict[str, Any] = {}
        if d.get("site"):
            s = sites.get(d["site"], {})
            kw.update(
                site=d["site"], waterbody_type=s.get("waterbody_type") or "river",
                target_class=ROMAN.get(s.get("target_class") or ""), control_point=bool(s.get("control_point")),
            )
        else:
            e, o = outlets.get(d.get("outlet") or "", ({}, {}))
            limits, ref = {}, None
            for lim in o.get("limits", []):
                if lim.get("limit") is not None:
                    limits[lim["parameter"]] = float(lim["limit"])
                if lim.get("reference_oxygen_pct") is not None:
                    ref = float(lim["reference_oxygen_pct"])
            kw.update(outlet=d.get("outlet"), limits=limits, reference_o2=ref, industry=e.get("industry") or "")
        out.append(DeviceSpec(
            mn=d["mn"], password=d["password"], st=str(d["st"]), codes=tuple(d.get("parameters") or ()),
            interval_s=int(d.get("interval_s") or 60), protocol=str(d.get("protocol", "hj212-2017"))[-4:],
            name=d.get("name") or "", **kw,
        ))
    return out
