"""Pages. Every object list goes through :mod:`gongzhi.sharing.policy`.

* ``/`` and ``/map/``: the one map of the joint region (一张图);
* ``/overview/``: the bureau overview (sites, partners' shared sites, agreements);
* ``/sites/<code>/``: one site: latest values, charts, table, export;
* ``/web-api/…``: the JSON the pages' scripts fetch (page data, not the public REST API).

A site the user may not see is 404 on every page and endpoint, as if it did not exist; a
visible site whose data is not shared with the user (a co-governance office without an
agreement) shows its registry record and no data (its data endpoints are 404).
"""

from __future__ import annotations

import csv
import datetime as dt
import functools
import io
import math

import numpy as np
import pydantic_core

from django.conf import settings
from django.contrib.auth.decorators import login_required
from django.db import connection
from django.http import Http404, HttpResponse, JsonResponse
from django.shortcuts import render
from django.utils import timezone
from django.utils.translation import get_language
from django.utils.translation import gettext as _

from gongzhi.observations import queries
from gongzhi.observations.models import Series
from gongzhi.registry import models as reg
from gongzhi.registry import services
from gongzhi.sharing import policy
from gongzhi.sharing.models import SharingAgreement
from gongzhi.web import layers, status

BEIJING = status.BEIJING
#: Longest period each resolution may be asked for at once (the chart stays readable and fast).
MAX_SPAN = {"raw": dt.timedelta(days=31), "hour": dt.timedelta(days=400), "day": dt.timedelta(days=3700), "month": dt.timedelta(days=36600)}
DEFAULT_DAYS = {"raw": 1, "hour": 7, "day": 90, "month": 730}
#: Rows of the on-page table (the export has them all).
TABLE_ROWS = 500
MAX_PARAMETERS = 12


def healthz(request):
    with connection.cursor() as cur:
        cur.execute("SELECT 1")
    return JsonResponse({"ok": True, "database": connection.vendor})


def _json_login_required(view):
    """Like ``login_required``, but a script's fetch gets 401 JSON instead of the login page."""

    @functools.wraps(view)
    def wrapper(request, *args, **kwargs):
        if not request.user.is_authenticated:
            return JsonResponse({"error": "not signed in"}, status=401)
        return view(request, *args, **kwargs)

    return wrapper


def _english() -> bool:
    return (get_language() or "").startswith("en")


def _name(obj) -> str:
    return (getattr(obj, "name_en", "") or obj.name) if _english() else obj.name


def _visible_site(user, code: str) -> reg.Site:
    site = reg.Site.objects.select_related("owner", "waterbody", "jurisdiction", "upstream_jurisdiction", "downstream_jurisdiction").filter(code=code).first()
    if site is None or not policy.can_view(user, site):
        raise Http404
    return site


# --- overview (the former home page) ------------------------------------------------------------------


def _overview_context(user) -> dict:
    """Own sites, partners' shared sites, agreements and joint zones (policy applied)."""
    sites = policy.visible(user, reg.Site.objects.select_related("owner", "waterbody"))
    enterprises = policy.visible(user, reg.Enterprise.objects.select_related("owner"))
    agreements = policy.visible(user, SharingAgreement.objects.select_related("provider", "recipient"))
    own = [s for s in sites if s.owner_id == user.bureau_id]
    shared = [s for s in sites if s.owner_id != user.bureau_id]
    zones = reg.JointGovernanceZone.objects.prefetch_related("bureaus")
    return {
        "own_sites": own,
        "shared_sites": shared,
        "enterprise_count": enterprises.count(),
        "agreements": agreements,
        "zones": zones,
    }


@login_required
def overview(request):
    return render(request, "web/home.html", _overview_context(request.user))


@login_required
def joint_zone(request, code: str):
    try:
        zone = reg.JointGovernanceZone.objects.get(code=code)
    except reg.JointGovernanceZone.DoesNotExist:
        raise Http404
    inside = services.objects_in_joint_zone(zone)
    user = request.user
    sites = [s for s in inside["sites"] if policy.can_view(user, s[0])]
    enterprises = [e for e in inside["enterprises"] if policy.can_view(user, e[0])]
    return render(request, "web/joint_zone.html", {"zone": zone, "sites": sites, "enterprises": enterprises})


# --- the one map ---------------------------------------------------------------------------------------


@login_required
def map_page(request):
    """The one map; the overview (own and shared sites, agreements, zones) is folded in below it."""
    user = request.user
    context = _overview_context(user)
    bureau_ids = sorted({s.owner_id for s in context["own_sites"] + context["shared_sites"]})
    bureaus = reg.Bureau.objects.filter(pk__in=bureau_ids).order_by("code")
    return render(request, "web/map.html", {
        **context,
        "bureaus": bureaus,
        "kinds": reg.SiteKind.choices,
        "levels": reg.AssessmentLevel.choices,
        "legend": status.legend(),
        "tile_url": getattr(settings, "GONGZHI_TILE_URL", ""),
        "tile_attribution": getattr(settings, "GONGZHI_TILE_ATTRIBUTION", ""),
    })


@_json_login_required
def map_layers(request):
    return HttpResponse(layers.layers_json(request.user), content_type="application/json")


def map_sites_data(user, *, bureau: str = "", kind: str = "", level: str = "", now: dt.datetime | None = None) -> dict:
    """The sites of the map the user may see, with their latest class or AQI (policy applied)."""
    now = now or timezone.now()
    qs = policy.visible(user, reg.Site.objects.select_related("owner", "waterbody").filter(active=True))
    if bureau:
        qs = qs.filter(owner__code=bureau)
    if kind:
        qs = qs.filter(kind=kind)
    if level:
        qs = qs.filter(assessment_level=level)
    sites = list(qs.order_by("code"))
    latest = queries.latest_values(user, sites)
    english = _english()
    out = []
    for s in sites:
        entries = latest.get(s.pk)
        st = status.site_status(s, entries, now=now) if entries else None
        out.append({
            "code": s.code,
            "name": (s.name_en or s.name) if english else s.name,
            "kind": s.kind,
            "owner": s.owner.code,
            "owner_name": (s.owner.name_en or s.owner.short_name) if english else s.owner.short_name,
            "own": s.owner_id == user.bureau_id,
            "lon": s.lon,
            "lat": s.lat,
            "level": s.assessment_level,
            "is_boundary": s.is_boundary,
            "target": gb_label(s.target_class),
            "waterbody": _name(s.waterbody) if s.waterbody_id else "",
            "data": s.pk in latest,
            "status": st,
            "url": f"/sites/{s.code}/",
        })
    return {"sites": out, "generated": now.isoformat()}


def gb_label(target: int | None) -> str:
    from gongzhi.standards import gb3838

    return gb3838.CLASS_LABELS[target] if target else ""


@_json_login_required
def map_sites(request):
    data = map_sites_data(
        request.user, bureau=request.GET.get("bureau", ""), kind=request.GET.get("kind", ""), level=request.GET.get("level", "")
    )
    return JsonResponse(data, json_dumps_params={"ensure_ascii": False, "separators": (",", ":")})


# --- the site page -------------------------------------------------------------------------------------


def _parameters(user, site) -> list[dict]:
    """Parameters with data at the site that the user may read, in the page's order."""
    grant = queries.data_levels(user, [site]).get(site.pk)
    if grant is None:
        return []
    rows = Series.objects.filter(site=site).values_list("parameter_id", "parameter__key", "parameter__name_zh", "parameter__name_en", "unit")
    found = {}
    for pid, key, name_zh, name_en, unit in rows:
        if grant.level(pid) is None or key in found:
            continue
        found[key] = {"id": pid, "key": key, "name": (name_en or name_zh) if _english() else name_zh, "unit": unit, "level": grant.level(pid)}
    return [found[k] for k in status.order_parameters(site.kind, found)]


@login_required
def site_page(request, code: str):
    user = request.user
    site = _visible_site(user, code)
    entries = queries.latest_values(user, [site]).get(site.pk)
    now = timezone.now()
    st = status.site_status(site, entries, now=now) if entries else None
    params = _parameters(user, site)
    latest_rows = []
    for e in entries or []:
        cls = None
        if st and st["type"] == "water":
            c = st["by_parameter"].get(e["parameter"])
            cls = gb_label(c) or None
        latest_rows.append({**e, "class": cls, "usable": status.usable(e),
                            "name": next((p["name"] for p in params if p["key"] == e["parameter"]), e["name"])})
    return render(request, "web/site.html", {
        "site": site,
        "status": st,
        "latest": latest_rows,
        "parameters": params,
        "default_parameters": [p["key"] for p in params[:9]],
        "resolutions": [("raw", _("原始")), ("hour", _("小时")), ("day", _("日")), ("month", _("月"))],
        "legend": status.legend(),
        "can_view_data": bool(params) or bool(entries),
    })


class BadRequest(ValueError):
    pass


def _parse_range(request, resolution: str, now: dt.datetime) -> tuple[dt.datetime, dt.datetime]:
    """``start``/``end`` as Beijing dates (``end`` inclusive) or ``days`` back from now."""
    def day(name):
        text = request.GET.get(name, "")
        if not text:
            return None
        try:
            return dt.datetime.combine(dt.date.fromisoformat(text), dt.time(), tzinfo=BEIJING)
        except ValueError:
            raise BadRequest(f"{name} must be a date (YYYY-MM-DD)") from None

    start, end = day("start"), day("end")
    end = end + dt.timedelta(days=1) if end else (now + dt.timedelta(hours=1)).replace(minute=0, second=0, microsecond=0)
    if start is None:
        try:
            days = float(request.GET.get("days") or DEFAULT_DAYS[resolution])
        except ValueError:
            raise BadRequest("days must be a number") from None
        start = end - dt.timedelta(days=days)
    if end <= start:
        raise BadRequest("end must be after start")
    if end - start > MAX_SPAN[resolution]:
        raise BadRequest(f"at most {MAX_SPAN[resolution].days} days at resolution {resolution}")
    return start, end


def _selection(request, site, params: list[dict]) -> tuple[str, list[dict]]:
    resolution = request.GET.get("resolution", "hour")
    if resolution not in queries.RESOLUTIONS:
        raise BadRequest("resolution must be raw, hour, day or month")
    wanted = [k for k in request.GET.get("parameters", "").split(",") if k]
    by_key = {p["key"]: p for p in params}
    if wanted:
        chosen = [by_key[k] for k in wanted if k in by_key]  # others: not readable, left out
    else:
        chosen = params[:9]
    return resolution, chosen[:MAX_PARAMETERS]


def site_series(user, site, *, parameters: list[dict], resolution: str, start: dt.datetime, end: dt.datetime) -> dict:
    """Chart data of a site: one columnar block per parameter (``series_data_many``: one batched
    read for all of them), the target limit and the indexes of exceedances. Policy applied by
    ``series_data_many``."""
    wb_type = site.waterbody_type or (site.waterbody.assessment_type if site.waterbody_id else None)
    pmap = {p.pk: p for p in reg.Parameter.objects.filter(pk__in=[p["id"] for p in parameters])}
    found = queries.series_data_many(user, parameters=[pmap[p["id"]] for p in parameters], start=start, end=end,
                                     resolution=resolution, site=site)
    out = []
    for p in parameters:
        d = found.get(p["id"])
        if d is None:  # not readable by this user
            continue
        values = d["values"]
        if values and int(np.isnan(np.array(values, dtype=np.float64)).sum()) > values.count(None):
            values = [None if v is not None and math.isnan(v) else v for v in values]  # NaN is not JSON
        if site.kind == "water_section":
            limit = status.water_limit(p["key"], site.target_class, wb_type)
            exceed = status.water_exceedances(p["key"], values, d["unit"], site.target_class, wb_type)
        else:
            limit = status.air_limit(p["key"], resolution, end - dt.timedelta(seconds=1))
            exceed = status.air_exceedances(p["key"], d["times"], values, d["unit"], resolution)
        out.append({
            "key": p["key"], "name": p["name"], "unit": d["unit"] or p["unit"], "level": d["level"],
            "source_kind": d["source_kind"], "pending": d["pending"],
            "times": d["times"], "values": values, "flags": d["flags"], "valid": d["valid"],
            "raw": d.get("raw"), "exceed": exceed, "limit": limit,
        })
    return {
        "site": site.code, "resolution": resolution, "start": start.isoformat(), "end": end.isoformat(),
        "target": gb_label(site.target_class), "parameters": out,
    }


def chart_payload(data: dict) -> dict:
    """The chart's JSON, compact: per parameter ``t0`` (epoch ms) and ``dt`` (seconds between
    consecutive values) instead of full times, or ``times_of`` naming an earlier parameter
    with the same times; flags and validity only where they are not the usual (``flagged``
    {index: flag} for flags other than N, ``invalid`` [index]). The table and the export are
    rendered on the server from the full data."""
    out = {k: v for k, v in data.items() if k != "parameters"}
    params, seen = [], []
    for p in data["parameters"]:
        times = np.asarray(p["times"], dtype=np.int64)
        q = {k: p[k] for k in ("key", "name", "unit", "level", "source_kind", "pending", "values", "exceed", "limit")}
        same = next((key for key, t in seen if t.shape == times.shape and np.array_equal(t, times)), None)
        if same is not None:
            q["times_of"] = same
        else:
            q["t0"] = int(times[0]) if times.size else None
            q["dt"] = (np.diff(times) // 1000).tolist()
            seen.append((p["key"], times))
        flags = np.asarray(p["flags"], dtype=object)
        odd = np.flatnonzero((flags != "N") & (flags != "") & (flags != None)) if flags.size else []  # noqa: E711
        q["flagged"] = {str(i): flags[i] for i in odd.tolist()} if len(odd) else {}
        valid = np.asarray(p["valid"], dtype=object)
        q["invalid"] = np.flatnonzero(valid != True).tolist() if valid.size else []  # noqa: E712 (None counts as invalid)
        params.append(q)
    out["parameters"] = params
    return out


@_json_login_required
def site_series_view(request, code: str):
    user = request.user
    try:
        site = _visible_site(user, code)
    except Http404:
        return JsonResponse({"error": "not found"}, status=404)
    params = _parameters(user, site)
    if not params:
        return JsonResponse({"error": "not found"}, status=404)  # no data shared: as if there were none
    try:
        resolution, chosen = _selection(request, site, params)
        start, end = _parse_range(request, resolution, timezone.now())
    except BadRequest as exc:
        return JsonResponse({"error": str(exc)}, status=400)
    data = chart_payload(site_series(user, site, parameters=chosen, resolution=resolution, start=start, end=end))
    # pydantic-core's encoder (installed with django-ninja): ~5× faster than json.dumps on ~80,000 numbers
    body = pydantic_core.to_json(data, inf_nan_mode="null")
    return HttpResponse(body, content_type="application/json")


def _rows(data: dict) -> list[dict]:
    """Long rows (one per time and parameter) of chart data, newest first."""
    rows = []
    for p in data["parameters"]:
        exceed = set(p["exceed"])
        for i, (t, v, f, ok) in enumerate(zip(p["times"], p["values"], p["flags"], p["valid"])):
            rows.append({
                "time": dt.datetime.fromtimestamp(t / 1000, BEIJING), "parameter": p["key"], "name": p["name"],
                "value": v, "unit": p["unit"], "flag": f or "", "valid": bool(ok), "exceed": i in exceed,
                "raw": p["raw"][i] if p.get("raw") else None,
            })
    rows.sort(key=lambda r: (r["time"], r["parameter"]), reverse=True)
    return rows


def _wide(data: dict, limit: int) -> tuple[list[dict], list[dict], int]:
    """Rows keyed by time (newest first) with one cell per parameter, for the page's table."""
    cols = [{"key": p["key"], "name": p["name"], "unit": p["unit"]} for p in data["parameters"]]
    by_time: dict[int, dict] = {}
    for p in data["parameters"]:
        exceed = set(p["exceed"])
        for i, (t, v, f, ok) in enumerate(zip(p["times"], p["values"], p["flags"], p["valid"])):
            by_time.setdefault(t, {})[p["key"]] = {"value": v, "flag": f or "", "valid": bool(ok), "exceed": i in exceed}
    times = sorted(by_time, reverse=True)
    rows = [{"time": dt.datetime.fromtimestamp(t / 1000, BEIJING), "cells": [by_time[t].get(c["key"]) for c in cols]} for t in times[:limit]]
    return cols, rows, len(times)


def _series_for_request(request, code: str):
    user = request.user
    site = _visible_site(user, code)
    params = _parameters(user, site)
    if not params:
        raise Http404
    resolution, chosen = _selection(request, site, params)
    start, end = _parse_range(request, resolution, timezone.now())
    return site, site_series(user, site, parameters=chosen, resolution=resolution, start=start, end=end)


@login_required
def site_table(request, code: str):
    """The table under the charts (an HTMX fragment)."""
    try:
        site, data = _series_for_request(request, code)
    except BadRequest as exc:
        return HttpResponse(str(exc), status=400)
    cols, rows, total = _wide(data, TABLE_ROWS)
    fmt = {"raw": "Y-m-d H:i:s", "hour": "Y-m-d H:i", "day": "Y-m-d", "month": "Y-m"}[data["resolution"]]  # Django date formats
    return render(request, "web/site_table.html", {"site": site, "cols": cols, "rows": rows, "total": total, "shown": len(rows), "fmt": fmt})


@login_required
def site_export(request, code: str, fmt: str):
    """The data shown (same selection as the chart), policy applied, as CSV or XLSX."""
    if fmt not in ("csv", "xlsx"):
        raise Http404
    try:
        site, data = _series_for_request(request, code)
    except BadRequest as exc:
        return HttpResponse(str(exc), status=400)
    rows = _rows(data)
    raw_col = any(p.get("raw") for p in data["parameters"])
    header = [_("站点编码"), _("站点"), _("时间（北京时间）"), _("因子"), _("因子名称"), _("数值"), _("单位"), _("数据标记"), _("有效"), _("超过目标")]
    if raw_col:
        header.append(_("原始值"))
    name = (site.name_en or site.name) if _english() else site.name

    def cells(r):
        row = [site.code, name, r["time"].strftime("%Y-%m-%d %H:%M"), r["parameter"], r["name"], r["value"], r["unit"], r["flag"],
               _("是") if r["valid"] else _("否"), _("是") if r["exceed"] else ""]
        if raw_col:
            row.append(r["raw"])
        return row

    stem = f"{site.code}_{data['resolution']}_{data['start'][:10]}_{data['end'][:10]}"
    if fmt == "csv":
        buf = io.StringIO()
        w = csv.writer(buf)
        w.writerow(header)
        for r in rows:
            w.writerow(["" if c is None else c for c in cells(r)])
        resp = HttpResponse("\ufeff" + buf.getvalue(), content_type="text/csv; charset=utf-8")  # BOM: Excel opens UTF-8
    else:
        from openpyxl import Workbook

        wb = Workbook(write_only=True)
        ws = wb.create_sheet(title=site.code[:31])
        ws.append(header)
        for r in rows:
            ws.append(cells(r))
        out = io.BytesIO()
        wb.save(out)
        resp = HttpResponse(out.getvalue(), content_type="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet")
    resp["Content-Disposition"] = f'attachment; filename="{stem}.{fmt}"'
    return resp
