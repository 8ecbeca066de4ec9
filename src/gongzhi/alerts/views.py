"""Pages of the alerts app: the alarm list, an alarm's detail (evidence, chart, history,
downstream warnings, the path on the map), and the actions (acknowledge, close with a note,
acknowledge a warning). Every permission question goes to :mod:`gongzhi.sharing.policy`."""

from __future__ import annotations

import datetime as dt

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.paginator import Paginator
from django.http import Http404, JsonResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.utils import timezone
from django.utils.translation import get_language
from django.utils.translation import gettext as _t
from django.views.decorators.http import require_POST

from gongzhi.alerts import services
from gongzhi.alerts.reasons import localize
from gongzhi.alerts.models import ACTIVE_STATES, Alarm, DownstreamWarning, RuleKind, Severity, WarningState
from gongzhi.observations.models import QC_INVALIDATING, Observation, SeriesKind
from gongzhi.registry.models import Parameter
from gongzhi.sharing import policy

STATE_FILTERS = ("active", "open", "acknowledged", "resolved", "closed", "all")


def _alarm_or_404(user, pk: int) -> Alarm:
    alarm = get_object_or_404(
        Alarm.objects.select_related("rule", "parameter", "site", "outlet__enterprise", "owner", "series"), pk=pk)
    if not policy.can_view_alarm(user, alarm):
        raise Http404
    return alarm


@login_required
def alarm_list(request):
    user = request.user
    qs = policy.visible_alarms(user, Alarm.objects.all()).select_related(
        "rule", "parameter", "site", "outlet__enterprise", "owner")
    state = request.GET.get("state") or "active"
    if state not in STATE_FILTERS:
        state = "active"
    if state == "active":
        qs = qs.filter(state__in=ACTIVE_STATES)
    elif state != "all":
        qs = qs.filter(state=state)
    kind = request.GET.get("kind") or ""
    if kind in RuleKind.values:
        qs = qs.filter(kind=kind)
    severity = request.GET.get("severity") or ""
    if severity in Severity.values:
        qs = qs.filter(severity=severity)
    scope = request.GET.get("scope") or ""
    if scope == "own" and user.bureau_id:
        qs = qs.filter(owner_id=user.bureau_id)
    elif scope == "warned" and user.bureau_id:
        qs = qs.filter(warnings__bureau_id=user.bureau_id)
    q = (request.GET.get("q") or "").strip()
    if q:
        from django.db.models import Q

        qs = qs.filter(Q(site__name__icontains=q) | Q(site__code__icontains=q) | Q(outlet__enterprise__name__icontains=q)
                       | Q(parameter__name_zh__icontains=q) | Q(rule__name__icontains=q))
    page = Paginator(qs.order_by("-raised_at", "-id"), 50).get_page(request.GET.get("page"))
    warnings = []
    if user.bureau_id:
        warnings = list(DownstreamWarning.objects.filter(bureau_id=user.bureau_id, state=WarningState.PENDING)
                        .select_related("alarm__site", "alarm__outlet__enterprise", "alarm__parameter")
                        .prefetch_related("joined__alarm__parameter")
                        .order_by("first_arrival")[:20])
    return render(request, "alerts/list.html", {
        "page": page, "state": state, "states": STATE_FILTERS, "kind": kind, "kinds": RuleKind.choices,
        "severity": severity, "severities": Severity.choices, "scope": scope, "q": q, "pending_warnings": warnings,
        "now": timezone.now(),
    })


@login_required
def alarm_detail(request, pk: int):
    user = request.user
    alarm = _alarm_or_404(user, pk)
    holder = alarm.site or alarm.outlet
    can_data = policy.can_view_data(user, holder, alarm.parameter_id)
    warnings = list(alarm.warnings.select_related("bureau", "acknowledged_by").order_by("first_arrival"))
    for w in warnings:
        w.can_ack = w.state == WarningState.PENDING and policy.can_acknowledge_warning(user, w)
    events = list(alarm.events.select_related("user", "bureau").order_by("at", "id"))
    origin = [holder.lon, holder.lat]
    map_data = {
        "origin": {"lonlat": origin, "name": str(holder)},
        "warnings": [{"bureau": w.bureau.short_name, "path": w.path, "targets": w.targets,
                      "first_arrival": w.first_arrival.isoformat(), "state": w.state} for w in warnings],
        "downstream": alarm.evidence.get("downstream", []),
    }
    # the other kinds of data of this place that met the condition too (services.MERGED_KINDS)
    joined = alarm.evidence.get("also_on", [])
    others = {p.pk: p for p in Parameter.objects.filter(pk__in={a.get("parameter") for a in joined} - {alarm.parameter_id})}
    also_on = [{"kind": SeriesKind(a["kind"]).label if a["kind"] in SeriesKind.values else a["kind"],
                "parameter": others.get(a.get("parameter")), "value": a.get("value"),
                "since": dt.datetime.fromisoformat(a["started_at"]), "cleared": a.get("cleared_at") is not None}
               for a in joined]
    return render(request, "alerts/detail.html", {
        "alarm": alarm, "holder": holder, "warnings": warnings, "events": events, "can_data": can_data,
        "also_on": also_on,
        "can_handle": policy.can_handle_alarm(user, alarm), "map_data": map_data,
        "downstream": alarm.evidence.get("downstream", []),
        "evidence": {k: v for k, v in alarm.evidence.items() if k not in ("downstream", "also_on", "cleared_on")},
        "verdict_reasons": [localize(r, get_language()) for r in (alarm.evidence.get("verdict") or {}).get("reasons", [])],
    })


@login_required
def alarm_sources(request, pk: int):
    """The source-tracing fragment (htmx) of an alarm: ranking, evidence, candidates for the map."""
    from gongzhi.alerts import tracing

    alarm = _alarm_or_404(request.user, pk)
    result = tracing.cached_trace(alarm=alarm, user=request.user)
    points = [{"lon": c["lon"], "lat": c["lat"], "name": c["name_en"] if request.LANGUAGE_CODE == "en" else c["name"],
               "rank": c["rank"], "score": c["score"], "waypoint": c["waypoint"]}
              for c in result["candidates"] if c.get("lon") is not None]
    return render(request, "alerts/_sources.html", {"alarm": alarm, "trace": result, "trace_points": points})


@login_required
def alarm_series(request, pk: int):
    """The values around the alarm (12 h before it began to 12 h after, or now) for the chart."""
    user = request.user
    alarm = _alarm_or_404(user, pk)
    holder = alarm.site or alarm.outlet
    if not policy.can_view_data(user, holder, alarm.parameter_id):
        raise Http404
    start = alarm.started_at - dt.timedelta(hours=12)
    end = min(alarm.started_at + dt.timedelta(hours=12), timezone.now() + dt.timedelta(minutes=1))
    if alarm.resolved_at or alarm.closed_at:
        end = max(end, (alarm.resolved_at or alarm.closed_at) + dt.timedelta(hours=1))
    rows = (Observation.objects.filter(series_id=alarm.series_id, time__gte=start, time__lt=end)
            .order_by("time").values_list("time", "value", "flag", "qc")[:5000])
    points = [[int(t.timestamp() * 1000), v, f, bool(q & QC_INVALIDATING)] for t, v, f, q in rows]
    return JsonResponse({"unit": alarm.unit, "limit": alarm.limit, "limits": alarm.evidence.get("limits", {}),
                         "started": int(alarm.started_at.timestamp() * 1000), "points": points})


def _act(request, fn, ok: str):
    try:
        fn()
        messages.success(request, ok)
    except services.AlertsError as exc:
        messages.error(request, str(exc))


@login_required
@require_POST
def alarm_acknowledge(request, pk: int):
    alarm = _alarm_or_404(request.user, pk)
    _act(request, lambda: services.acknowledge_alarm(alarm=alarm, user=request.user, note=request.POST.get("note", "")),
         _t("告警已确认"))
    return redirect("alarm-detail", pk=pk)


@login_required
@require_POST
def alarm_close(request, pk: int):
    alarm = _alarm_or_404(request.user, pk)
    _act(request, lambda: services.close_alarm(alarm=alarm, user=request.user, note=request.POST.get("note", "")),
         _t("告警已关闭"))
    return redirect("alarm-detail", pk=pk)


@login_required
@require_POST
def warning_acknowledge(request, pk: int):
    w = get_object_or_404(DownstreamWarning.objects.select_related("alarm"), pk=pk)
    if not policy.can_view_alarm(request.user, w.alarm):
        raise Http404
    _act(request, lambda: services.acknowledge_warning(warning=w, user=request.user, note=request.POST.get("note", "")),
         _t("预警已确认"))
    return redirect("alarm-detail", pk=w.alarm_id)
