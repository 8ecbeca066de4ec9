"""Joint governance zones (联防联治协作区) and what lies inside their joint zone band.

The zones are region-wide (visible to every signed-in user); the sites and enterprises
listed inside a zone are only those the user may see (:func:`gongzhi.sharing.policy.can_view`)."""

from __future__ import annotations

import math
import re
from typing import Any, Optional

from ninja import Query, Router, Schema

from gongzhi.api.common import READ_ERRORS, SLUG, bureau_ref
from gongzhi.api.errors import ApiError
from gongzhi.registry import models as reg
from gongzhi.registry import services as reg_services
from gongzhi.sharing import policy

router = Router(tags=["joint zones"])


class BureauRef(Schema):
    code: str
    name: str
    short_name: str


class ZoneOut(Schema):
    code: str
    name: str
    name_en: str
    bureaus: list[BureauRef]
    agreement_title: str
    agreement_signed: Optional[str] = None
    description: str
    band_width_m: int
    band_computed: bool


class InsideItem(Schema):
    code: str
    name: str
    kind: str
    owner: str
    lon: float
    lat: float
    distance_m: Optional[float] = None


class ZoneDetail(ZoneOut):
    sites: list[InsideItem]
    enterprises: list[InsideItem]
    band: Optional[dict[str, Any]] = None


def zone_out(zone: reg.JointGovernanceZone) -> dict:
    return {
        "code": zone.code, "name": zone.name, "name_en": zone.name_en,
        "bureaus": [bureau_ref(b) for b in zone.bureaus.all()],
        "agreement_title": zone.agreement_title,
        "agreement_signed": zone.agreement_signed.isoformat() if zone.agreement_signed else None,
        "description": zone.description, "band_width_m": zone.band_width_m, "band_computed": zone.band is not None,
    }


@router.get("/joint-zones", response={200: list[ZoneOut], **READ_ERRORS}, summary="Joint governance zones")
def list_zones(request):
    zones = policy.visible(request.auth, reg.JointGovernanceZone.objects.prefetch_related("bureaus").order_by("code"))
    return [zone_out(z) for z in zones]


def _item(obj, distance: float, kind: str) -> dict:
    return {
        "code": obj.code, "name": obj.name, "kind": kind, "owner": obj.owner.code, "lon": obj.lon, "lat": obj.lat,
        "distance_m": round(distance, 1) if math.isfinite(distance) else None,
    }


@router.get("/joint-zones/{code}", response={200: ZoneDetail, **READ_ERRORS}, summary="One zone with the sites and enterprises inside it")
def get_zone(request, code: str, geometry: bool = Query(False, description="include the band (GeoJSON)")):
    zone = None
    if re.fullmatch(SLUG, code) and len(code) <= 40:
        zone = reg.JointGovernanceZone.objects.prefetch_related("bureaus").filter(code=code).first()
    if zone is None or not policy.can_view(request.auth, zone):
        raise ApiError(404, "not_found", "joint zone not found")
    out = zone_out(zone)
    sites: list[dict] = []
    enterprises: list[dict] = []
    if zone.band is not None:
        inside = reg_services.objects_in_joint_zone(zone)
        user = request.auth
        site_ids = set(policy.visible(user, reg.Site.objects.filter(pk__in=[s.pk for s, _ in inside["sites"]])).values_list("pk", flat=True))
        ent_ids = set(policy.visible(user, reg.Enterprise.objects.filter(pk__in=[e.pk for e, _ in inside["enterprises"]])).values_list("pk", flat=True))
        sites = [_item(s, d, s.kind) for s, d in inside["sites"] if s.pk in site_ids]
        enterprises = [_item(e, d, "enterprise") for e, d in inside["enterprises"] if e.pk in ent_ids]
    out.update(sites=sites, enterprises=enterprises, band=zone.band if geometry else None)
    return out
