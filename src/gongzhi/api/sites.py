"""Sites, their latest values and their series data (``/api/v1/sites``, ``/api/v1/latest``).

Every answer goes through :mod:`gongzhi.sharing.policy`: a site the user may not see is
404 (as if it did not exist); data of a visible site that is not shared with the user
is 404 too; partners read the level their agreement grants."""

from __future__ import annotations

import datetime as dt
import math
import re
from typing import Literal, Optional

import pydantic_core
from django.http import HttpResponse
from django.utils import timezone
from ninja import Field, Query, Router, Schema

from gongzhi.api.common import (
    ADCODE,
    READ_ERRORS,
    SLUG,
    Page,
    bureau_ref,
    finite,
    iso,
    parameter_by_code,
    query_time,
    setting,
    visible_site,
)
from gongzhi.api.errors import ApiError
from gongzhi.observations import queries
from gongzhi.observations.models import Observation, SeriesKind
from gongzhi.registry import models as reg
from gongzhi.sharing import policy

router = Router(tags=["sites"])

SiteKindLit = Literal["water_section", "air_station"]
AssessmentLit = Literal["national", "provincial", "municipal", "district", "none"]
ResolutionLit = Literal["raw", "hour", "day", "month"]
KindLit = Literal["rtd", "min", "hour", "day", "sample"]

#: Most points one series request returns (``GONGZHI_API_MAX_POINTS``).
DEFAULT_MAX_POINTS = 10_000
PERIOD_SECONDS = {"hour": 3600, "day": 86400, "month": 28 * 86400}
COARSER = {"raw": "hour", "hour": "day", "day": "month", "month": None}
MAX_LATEST_SITES = 200


class BureauRef(Schema):
    code: str
    name: str
    short_name: str


class SiteOut(Schema):
    code: str
    name: str
    name_en: str
    kind: str
    owner: BureauRef
    jurisdiction: Optional[str] = Field(None, description="adcode of the jurisdiction the site lies in")
    lon: float
    lat: float
    active: bool
    automatic: bool
    station_type: str
    network: str
    schematic: bool
    waterbody: Optional[str] = Field(None, description="waterbody code (water sections)")
    waterbody_type: Optional[str] = None
    assessment_level: str
    target_class: Optional[int] = None
    is_boundary: bool
    upstream_jurisdiction: Optional[str] = None
    downstream_jurisdiction: Optional[str] = None
    drinking_water_source: bool
    control_point: bool
    data_level: Optional[str] = Field(None, description="raw, validated (some or all parameters) or null: no data shared with you")


def site_out(site: reg.Site, level: Optional[str]) -> dict:
    return {
        "code": site.code, "name": site.name, "name_en": site.name_en, "kind": site.kind,
        "owner": bureau_ref(site.owner),
        "jurisdiction": site.jurisdiction.adcode if site.jurisdiction_id else None,
        "lon": site.lon, "lat": site.lat, "active": site.active, "automatic": site.automatic,
        "station_type": site.station_type, "network": site.network, "schematic": site.schematic,
        "waterbody": site.waterbody.code if site.waterbody_id else None,
        "waterbody_type": site.evaluation_waterbody_type,
        "assessment_level": site.assessment_level, "target_class": site.target_class,
        "is_boundary": site.is_boundary,
        "upstream_jurisdiction": site.upstream_jurisdiction.adcode if site.upstream_jurisdiction_id else None,
        "downstream_jurisdiction": site.downstream_jurisdiction.adcode if site.downstream_jurisdiction_id else None,
        "drinking_water_source": site.drinking_water_source, "control_point": site.control_point,
        "data_level": level,
    }


def _grant_level(grant) -> Optional[str]:
    if grant is None or not grant.any:
        return None
    levels = {grant.default, *grant.by_parameter.values()} - {None}
    return "raw" if "raw" in levels else "validated"


SITE_RELATED = ("owner", "jurisdiction", "waterbody", "upstream_jurisdiction", "downstream_jurisdiction")


@router.get("/sites", response={200: Page[SiteOut], **READ_ERRORS}, summary="List the sites you may see")
def list_sites(
    request,
    kind: Optional[SiteKindLit] = None,
    owner: Optional[str] = Query(None, description="owner bureau code", max_length=40, pattern=SLUG),
    waterbody: Optional[str] = Query(None, description="waterbody code", max_length=40, pattern=SLUG),
    boundary: Optional[bool] = Query(None, description="cross-boundary (跨界) water sections only / none of them"),
    assessment_level: Optional[AssessmentLit] = None,
    jurisdiction: Optional[str] = Query(None, description="adcode of the jurisdiction", pattern=ADCODE),
    active: Optional[bool] = None,
    limit: int = Query(50, ge=1, le=500),
    offset: int = Query(0, ge=0, le=10_000_000),
):
    """Sites visible to you under the sharing policy, ordered by code, with a total for paging."""
    qs = policy.visible(request.auth, reg.Site.objects.all())
    if kind:
        qs = qs.filter(kind=kind)
    if owner:
        qs = qs.filter(owner__code=owner)
    if waterbody:
        qs = qs.filter(waterbody__code=waterbody)
    if boundary is not None:
        qs = qs.filter(is_boundary=boundary)
    if assessment_level:
        qs = qs.filter(assessment_level=assessment_level)
    if jurisdiction:
        qs = qs.filter(jurisdiction__adcode=jurisdiction)
    if active is not None:
        qs = qs.filter(active=active)
    qs = qs.order_by("code")
    total = qs.count()
    page = list(qs.select_related(*SITE_RELATED)[offset : offset + limit])
    grants = queries.data_levels(request.auth, page)
    items = [site_out(s, _grant_level(grants.get(s.pk))) for s in page]
    return {"total": total, "limit": limit, "offset": offset, "items": items}


@router.get("/sites/{code}", response={200: SiteOut, **READ_ERRORS}, summary="One site")
def get_site(request, code: str):
    site = visible_site(request.auth, code)
    grants = queries.data_levels(request.auth, [site])
    return site_out(site, _grant_level(grants.get(site.pk)))


# --- latest values -----------------------------------------------------------------------------------


class LatestEntry(Schema):
    parameter: str
    name: str
    unit: str
    kind: str
    time: str = Field(..., description="ISO 8601, Beijing time")
    value: Optional[float] = Field(None, description="corrections applied")
    raw: Optional[float] = Field(None, description="the value as received (raw-level readers only)")
    flag: Optional[str] = None
    qc: int
    qc_names: list[str]
    version: int
    invalid: bool
    level: str


class SiteLatest(Schema):
    site: str
    values: list[LatestEntry]


class ManyLatest(Schema):
    items: list[SiteLatest]
    not_found: list[str] = Field(..., description="codes asked for that are unknown, not visible or share no data with you")


def _num(v):
    """JSON has no NaN or infinity: they become null."""
    return None if v is not None and not math.isfinite(v) else v


def _latest_entries(entries: list[dict]) -> list[dict]:
    return [
        {
            "parameter": e["parameter"], "name": e["name"], "unit": e["unit"], "kind": e["kind"],
            "time": e["time"].isoformat(),  # already Beijing time (queries.latest_values)
            "value": _num(e["value"]), "raw": _num(e.get("raw")), "flag": e["flag"], "qc": e["qc"],
            "qc_names": e["qc_names"], "version": e["version"], "invalid": e["invalid"], "level": e["level"],
        }
        for e in entries
    ]


def _latest_body(pairs, not_found: list[str]) -> HttpResponse:
    """The ``ManyLatest`` answer from ``(site code, JSON array of its entries)`` pairs, joined as
    bytes: the entries come encoded from :func:`queries.latest_values_json` (on PostgreSQL by
    the database), so thousands of values are never turned into Python objects. Tests compare
    the answers with the schema and with :func:`queries.latest_values`."""
    items = b",".join(b'{"site":' + pydantic_core.to_json(code) + b',"values":' + values + b"}" for code, values in pairs)
    body = b'{"items":[' + items + b'],"not_found":' + pydantic_core.to_json(not_found) + b"}"
    return HttpResponse(body, content_type="application/json")


@router.get("/sites/{code}/latest", response={200: SiteLatest, **READ_ERRORS}, summary="Latest value of every parameter of a site")
def site_latest(request, code: str):
    site = visible_site(request.auth, code)
    found = queries.latest_values(request.auth, [site])
    if site.pk not in found:
        raise ApiError(404, "not_found", "no data of this site is shared with you")
    return {"site": site.code, "values": _latest_entries(found[site.pk])}


@router.get("/latest", response={200: ManyLatest, **READ_ERRORS}, summary="Latest values of many sites at once")
def many_latest(
    request,
    sites: Optional[str] = Query(
        None, description=f"comma-separated site codes (at most {MAX_LATEST_SITES}); omitted: every site whose data you may read",
        max_length=10_000, pattern=rf"^[^,]*(,[^,]*){{0,{MAX_LATEST_SITES - 1}}}$",
    ),
):
    """Latest values of the listed sites, or of every site whose data is shared with you (in site-code order)."""
    if sites is None:
        every = queries.site_refs(policy.visible(request.auth, reg.Site.objects.all()).order_by("code"))
        found = queries.latest_values_json(request.auth, every)
        return _latest_body([(s.code, found[s.pk]) for s in every if s.pk in found], [])
    codes = list(dict.fromkeys(c.strip() for c in sites.split(",") if c.strip()))
    if len(codes) > MAX_LATEST_SITES:  # the pattern already says so; kept for direct callers
        raise ApiError(400, "too_many_sites", f"at most {MAX_LATEST_SITES} sites per request", [{"loc": ["query", "sites"], "max": MAX_LATEST_SITES}])
    lookup = [c for c in codes if len(c) <= 40 and re.fullmatch(SLUG, c)]
    visible = list(policy.visible(request.auth, reg.Site.objects.filter(code__in=lookup)))
    found = queries.latest_values_json(request.auth, visible)
    items = {s.code: found[s.pk] for s in visible if s.pk in found}
    return _latest_body([(c, items[c]) for c in codes if c in items], [c for c in codes if c not in items])


# --- series data -------------------------------------------------------------------------------------


class SeriesOut(Schema):
    site: str
    parameter: str
    unit: str
    resolution: str
    level: str = Field(..., description="raw or validated: what you are reading")
    source_kind: str
    pending: bool = Field(..., description="some hours in the range wait for aggregate recomputation")
    start: str
    end: str
    times: list[int] = Field(..., description="epoch milliseconds: value time (raw) or period start")
    values: list[Optional[float]]
    raw: Optional[list[Optional[float]]] = Field(None, description="raw values (raw resolution, raw-level readers)")
    flags: list[Optional[str]]
    valid: list[Optional[bool]]
    n: Optional[list[Optional[int]]] = None
    coverage: Optional[list[Optional[float]]] = None


def _too_many(resolution: str, points: int, limit: int, start, end) -> ApiError:
    coarser = COARSER[resolution]
    span = (end - start).total_seconds()
    detail = {"max_points": limit, "points": points, "resolution": resolution, "suggested_resolution": coarser}
    if resolution in PERIOD_SECONDS:
        detail["max_range_seconds"] = limit * PERIOD_SECONDS[resolution]
    elif points:
        detail["max_range_seconds"] = int(span * limit / points)
    return ApiError(
        400, "too_many_points",
        f"the request would return {points} points, more than {limit}: ask for a shorter range "
        f"(page by time) or a coarser resolution{f' ({coarser})' if coarser else ''}",
        [detail],
    )


@router.get(
    "/sites/{code}/observations", response={200: SeriesOut, **READ_ERRORS},
    summary="Series data of one site and parameter (columnar)",
)
def site_observations(
    request,
    code: str,
    parameter: str = Query(..., description="parameter key, HJ 212 code or alias", max_length=40),
    start: Optional[str] = Query(None, description="ISO 8601 (naive = Beijing time); default: end − 24 h", max_length=40),
    end: Optional[str] = Query(None, description="ISO 8601, exclusive; default: now", max_length=40),
    resolution: ResolutionLit = "hour",
    kind: Optional[KindLit] = Query(None, description="raw resolution: which series (default the finest automatic one); sample: lab/manual samples"),
):
    """Columnar data in ``[start, end)``. Owner: raw; partner: its agreement's level; no agreement: 404.
    More than ``GONGZHI_API_MAX_POINTS`` points (default 10,000) is refused with ``too_many_points``."""
    user = request.auth
    site = visible_site(user, code)
    param = parameter_by_code(parameter)
    now = timezone.now()
    t_end = query_time("end", end, now)
    t_start = query_time("start", start, t_end - dt.timedelta(days=1))
    if t_end <= t_start:
        raise ApiError(400, "bad_range", "end must be after start", [{"loc": ["query", "end"]}])
    if t_start.year < 1970 or t_end.year > 2200:
        raise ApiError(400, "bad_range", "the range must lie between 1970 and 2200", [{"loc": ["query", "start"]}])
    level = policy.data_level(user, site, param)
    if level is None:
        raise ApiError(404, "not_found", "no data of this site and parameter is shared with you")
    limit = setting("GONGZHI_API_MAX_POINTS", DEFAULT_MAX_POINTS)
    if resolution in PERIOD_SECONDS:
        estimate = int((t_end - t_start).total_seconds() // PERIOD_SECONDS[resolution]) + 1
        if estimate > limit:
            raise _too_many(resolution, estimate, limit, t_start, t_end)
    else:
        group = queries.measurement_group(site=site, parameter=param, sample=kind == SeriesKind.SAMPLE)
        if group is not None:
            sid = group.members.get(kind) if kind else None
            if sid is None:
                sid = min(group.members.items(), key=lambda kv: queries.KIND_ORDER[kv[0]])[1]
            count = Observation.objects.filter(series_id=sid, time__gte=t_start, time__lt=t_end).count()
            if count > limit:
                raise _too_many(resolution, count, limit, t_start, t_end)
    try:
        data = queries.series_data(user, parameter=param, start=t_start, end=t_end, resolution=resolution, site=site, kind=kind)
    except queries.DataNotVisible:
        raise ApiError(404, "not_found", "no data of this site and parameter is shared with you") from None
    out = {
        "site": site.code, "parameter": param.key, "unit": data["unit"], "resolution": resolution, "level": data["level"],
        "source_kind": data["source_kind"], "pending": data["pending"], "start": iso(t_start), "end": iso(t_end),
        "times": data["times"], "values": finite(data["values"]),
        "raw": finite(data["raw"]) if isinstance(data.get("raw"), list) and resolution == "raw" else None,
        "flags": data["flags"], "valid": data["valid"],
    }
    if resolution != "raw":
        out["n"] = data.get("n", [])
        out["coverage"] = finite(data.get("coverage", []))
    return out


__all__ = ["router", "site_out", "SiteOut"]
