"""Alarms in the REST API (``/api/v1/alarms``): list, detail with warnings and history,
acknowledge. The sharing policy decides: an alarm the user may not see is 404."""

from __future__ import annotations

import math
from typing import Literal, Optional

from django.db.models import Q
from ninja import Field, Query, Router, Schema

from gongzhi.alerts import services
from gongzhi.alerts.models import ACTIVE_STATES, Alarm, DownstreamWarning
from gongzhi.api.common import READ_ERRORS, SLUG, Page, iso
from gongzhi.api.errors import ApiError, ErrorOut
from gongzhi.sharing import policy

router = Router(tags=["alarms"])

StateLit = Literal["active", "open", "acknowledged", "resolved", "closed", "all"]
KindLit = Literal["exceedance", "rate", "missing", "flag", "bloom"]
MAX_LIMIT = 500


class PlaceOut(Schema):
    type: str
    code: str
    name: str
    owner: str


class AlarmOut(Schema):
    id: int
    state: str
    kind: str
    severity: str
    rule: str
    data: str
    place: PlaceOut
    parameter: str
    parameter_name: str
    value: Optional[float] = None
    peak: Optional[float] = None
    limit: Optional[float] = None
    unit: str
    started_at: str
    raised_at: str
    acknowledged_at: Optional[str] = None
    resolved_at: Optional[str] = None
    closed_at: Optional[str] = None


class TargetOut(Schema):
    site: str
    name: str
    travel_time_s: float
    distance_m: float
    arrival: str
    drinking_water_source: bool


class WarningOut(Schema):
    id: int
    bureau: str
    state: str
    level: int
    first_arrival: str
    travel_time_s: float
    distance_m: float
    deadline: str
    acknowledged_at: Optional[str] = None
    targets: list[TargetOut]


class EventOut(Schema):
    at: str
    kind: str
    user: Optional[str] = None
    bureau: Optional[str] = None
    note: str


class AlarmDetail(AlarmOut):
    evidence: dict
    warnings: list[WarningOut]
    events: list[EventOut]


class TracePlaceOut(Schema):
    type: str
    code: str
    name: str
    name_en: str
    owner: str
    lon: Optional[float] = None
    lat: Optional[float] = None


class FactorEvidenceOut(Schema):
    factor: str
    factor_name: str
    score: Optional[float] = None
    correlation: Optional[float] = None
    best_lag_s: Optional[float] = None
    expected_lag_s: Optional[float] = None
    lag_error_s: Optional[float] = None
    overlap: int
    peak_z: Optional[float] = None
    timing: Optional[float] = None
    magnitude: Optional[float] = None
    reasons: list[str]
    waypoint_of: Optional[str] = None


class SourceCandidateOut(TracePlaceOut, FactorEvidenceOut):
    rank: int
    travel_time_s: float
    distance_m: float
    waypoint: bool
    other_factors: list[FactorEvidenceOut]


class NotConsideredOut(TracePlaceOut):
    travel_time_s: Optional[float] = None
    reason: Literal["no_data", "not_shared", "no_path", "beyond"]


class SourcesOut(Schema):
    alarm: int
    status: Literal["ok", "no_section", "not_on_network", "section_not_shared", "section_no_data", "no_candidates"]
    section: Optional[TracePlaceOut] = None
    parameter: str
    window: Optional[list[str]] = None
    candidates: list[SourceCandidateOut]
    not_considered: list[NotConsideredOut]
    hidden: int = Field(..., description="upstream places you may not see (never named)")


class AckIn(Schema):
    note: str = Field("", max_length=2000)


def finite(v):
    """JSON has no NaN or infinity: they become null."""
    return None if isinstance(v, float) and not math.isfinite(v) else v


def _place(a: Alarm) -> dict:
    if a.site_id:
        return {"type": "site", "code": a.site.code, "name": a.site.name, "owner": a.owner.code}
    o = a.outlet
    return {"type": "outlet", "code": f"{o.enterprise.code}/{o.code}", "name": f"{o.enterprise.name} {o.name}", "owner": a.owner.code}


def alarm_out(a: Alarm) -> dict:
    return {
        "id": a.pk, "state": a.state, "kind": a.kind, "severity": a.severity, "rule": a.rule.name, "data": a.data,
        "place": _place(a), "parameter": a.parameter.key, "parameter_name": a.parameter.name_zh,
        "value": finite(a.value), "peak": finite(a.peak), "limit": finite(a.limit), "unit": a.unit,
        "started_at": iso(a.started_at), "raised_at": iso(a.raised_at),
        "acknowledged_at": iso(a.acknowledged_at) if a.acknowledged_at else None,
        "resolved_at": iso(a.resolved_at) if a.resolved_at else None,
        "closed_at": iso(a.closed_at) if a.closed_at else None,
    }


def _warning_out(w: DownstreamWarning) -> dict:
    return {
        "id": w.pk, "bureau": w.bureau.code, "state": w.state, "level": w.level, "first_arrival": iso(w.first_arrival),
        "travel_time_s": w.travel_time_s, "distance_m": w.distance_m, "deadline": iso(w.deadline),
        "acknowledged_at": iso(w.acknowledged_at) if w.acknowledged_at else None,
        "targets": [{k: t[k] for k in ("site", "name", "travel_time_s", "distance_m", "arrival", "drinking_water_source")}
                    for t in w.targets],
    }


def _visible(user):
    return policy.visible_alarms(user, Alarm.objects.all()).select_related(
        "rule", "parameter", "site", "outlet__enterprise", "owner")


def _get(user, alarm_id: int) -> Alarm:
    a = _visible(user).filter(pk=alarm_id).first()
    if a is None:
        raise ApiError(404, "not_found", "no such alarm visible to you")
    return a


@router.get("/alarms", response={200: Page[AlarmOut], **READ_ERRORS}, summary="Alarms visible to you")
def list_alarms(request, state: StateLit = "active", kind: Optional[KindLit] = None,
                site: Optional[str] = Query(None, pattern=SLUG, max_length=40),
                limit: int = Query(100, ge=1, le=MAX_LIMIT), offset: int = Query(0, ge=0, le=10_000_000)):
    qs = _visible(request.auth)
    if state == "active":
        qs = qs.filter(state__in=ACTIVE_STATES)
    elif state != "all":
        qs = qs.filter(state=state)
    if kind:
        qs = qs.filter(kind=kind)
    if site:
        qs = qs.filter(Q(site__code=site))
    qs = qs.order_by("-raised_at", "-id")
    total = qs.count()
    return {"total": total, "limit": limit, "offset": offset, "items": [alarm_out(a) for a in qs[offset:offset + limit]]}


@router.get("/alarms/{int:alarm_id}", response={200: AlarmDetail, **READ_ERRORS}, summary="One alarm with its warnings and history")
def get_alarm(request, alarm_id: int):
    a = _get(request.auth, alarm_id)
    out = alarm_out(a)
    out["evidence"] = a.evidence
    out["warnings"] = [_warning_out(w) for w in a.warnings.select_related("bureau").order_by("first_arrival")]
    out["events"] = [{"at": iso(e.at), "kind": e.kind, "user": e.user.username if e.user_id else None,
                      "bureau": e.bureau.code if e.bureau_id else None, "note": e.note}
                     for e in a.events.select_related("user", "bureau").order_by("at", "id")]
    return out


@router.get("/alarms/{int:alarm_id}/sources", response={200: SourcesOut, **READ_ERRORS},
            summary="Source tracing (溯源): upstream outlets and sites ranked as the alarm's source, with the evidence")
def alarm_sources(request, alarm_id: int):
    """Only data you may read takes part; upstream places you may not see are counted in
    ``hidden``, never named. Cached per alarm and user for a few minutes."""
    from gongzhi.alerts import tracing

    a = _get(request.auth, alarm_id)
    return tracing.cached_trace(alarm=a, user=request.auth)


@router.post("/alarms/{int:alarm_id}/ack", response={200: AlarmOut, **READ_ERRORS, 409: ErrorOut},
             summary="Acknowledge an alarm (owner bureau's handlers) or your bureau's warning about it")
def acknowledge(request, alarm_id: int, body: AckIn):
    user = request.auth
    a = _get(user, alarm_id)
    try:
        if policy.can_handle_alarm(user, a):
            a = services.acknowledge_alarm(alarm=a, user=user, note=body.note)
        else:
            w = a.warnings.filter(bureau_id=user.bureau_id).first() if user.bureau_id else None
            if w is None or not policy.can_acknowledge_warning(user, w):
                raise ApiError(403, "forbidden", "you may not acknowledge this alarm")
            services.acknowledge_warning(warning=w, user=user, note=body.note)
    except services.AlertsError as exc:
        raise ApiError(409, "conflict", str(exc))
    return alarm_out(_get(user, alarm_id))


__all__ = ["router"]
