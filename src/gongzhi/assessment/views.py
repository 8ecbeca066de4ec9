"""Assessment pages (考核评价): landing, water, air, rankings, and CSV/XLSX export of every table.

Views only parse the request and render; the numbers and the sharing policy are in
:mod:`gongzhi.assessment.services`."""

from __future__ import annotations

import csv
import io
import json
from urllib.parse import urlencode

from django.contrib.auth.decorators import login_required
from django.http import Http404, HttpResponse, HttpResponseBadRequest
from django.shortcuts import render
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext as _

from gongzhi.assessment import services, tables
from gongzhi.assessment.periods import KINDS, PeriodError, latest_complete, parse
from gongzhi.registry import models as reg

PAGES = ("water", "air", "rankings")


class BadRequest(ValueError):
    pass


def _period(request):
    kind = request.GET.get("period") or "month"
    if kind not in KINDS:
        raise BadRequest(_("时段须为 month、quarter 或 year"))
    at = request.GET.get("at") or latest_complete(kind, timezone.now()).at
    try:
        return parse(kind, at[:16])
    except PeriodError:
        raise BadRequest(_("时段格式：月 YYYY-MM，季 YYYY-Qn，年 YYYY")) from None


def compute(page: str, request) -> dict:
    """The data of ``page`` for the request (raises BadRequest, Http404)."""
    period = _period(request)
    try:
        if page == "water":
            return services.water_assessment(request.user, period=period, scope=request.GET.get("scope") or "region")
        if page == "air":
            return services.air_assessment(request.user, period=period, scope=request.GET.get("scope") or "region")
        level = request.GET.get("level") or "county"
        if level not in ("county", "town"):
            raise BadRequest(_("级别须为 county 或 town"))
        return services.rankings(request.user, period=period, level=level)
    except services.ScopeError:
        raise Http404 from None


def _bad(request, exc):
    return HttpResponseBadRequest(str(exc), content_type="text/plain; charset=utf-8")


def _nav(request, page: str, data: dict) -> dict:
    """Period links (previous, next, same period last year), the period and scope choices."""
    p = parse(data["period"]["kind"], data["period"]["at"])
    base = reverse(f"assessment-{page}")
    keep = {k: v for k, v in request.GET.items() if k not in ("at", "period")}

    def link(period):
        q = {**keep, "period": period.kind, "at": period.at}
        return base + "?" + urlencode(q)

    nxt = None
    cand = parse(p.kind, _next_at(p))
    if cand.end <= latest_complete(p.kind, timezone.now()).end:
        nxt = link(cand)
    return {
        "period": p, "prev_link": link(p.previous()), "next_link": nxt, "last_year_link": link(p.last_year()),
        "kinds": [(k, _({"month": "月", "quarter": "季度", "year": "年"}[k])) for k in KINDS],
        "bureaus": list(reg.Bureau.objects.filter(sites__kind__in=[reg.SiteKind.WATER_SECTION, reg.SiteKind.AIR_STATION]).distinct().order_by("code")),
        "export_base": reverse("assessment-export", args=[page]),
        "query": request.GET.urlencode(),
    }


def _next_at(p) -> str:
    if p.kind == "year":
        return f"{p.year + 1:04d}"
    top = 12 if p.kind == "month" else 4
    y, i = (p.year + 1, 1) if p.index == top else (p.year, p.index + 1)
    return f"{y:04d}-{i:02d}" if p.kind == "month" else f"{y:04d}-Q{i}"


@login_required
def landing(request):
    now = timezone.now()
    latest = {k: latest_complete(k, now) for k in KINDS}
    water = services.water_assessment(request.user, period=latest["month"])
    return render(request, "assessment/landing.html", {"latest": latest, "water": water, "scope_name": tables.scope_name(water)})


def _tables(page: str, data: dict) -> list[dict]:
    titles = {
        "sections": _("断面水质"), "bureaus": _("按局汇总"), "rivers": _("河流/湖库评价"),
        "stations": _("空气站"), "jurisdictions": _("行政区"), "rankings": _("区县排名"),
    }
    out = []
    for which in tables.TABLES[page]:
        if which == "calendar":
            continue
        header, rows = tables.table(page, data, which)
        out.append({"key": which, "title": titles[which], "header": header, "rows": rows})
    return out


@login_required
def water(request):
    try:
        data = compute("water", request)
    except BadRequest as exc:
        return _bad(request, exc)
    counts = data["summary"]["counts"]
    chart = {"labels": list(counts), "values": list(counts.values())}
    return render(request, "assessment/water.html", {
        "data": data, "tables": _tables("water", data), "chart_json": json.dumps(chart, ensure_ascii=False),
        "scope_name": tables.scope_name(data), **_nav(request, "water", data),
    })


@login_required
def air(request):
    try:
        data = compute("air", request)
    except BadRequest as exc:
        return _bad(request, exc)
    en = tables.english()
    def days(cal):
        return [[d, a, lv, tables.air_pollutants(pp)] for d, a, lv, pp in cal]

    entities = [{"code": j["code"], "name": tables.name(j), "calendar": days(j["calendar"])} for j in data["jurisdictions"]]
    entities += [{"code": s["site"], "name": tables.name(s), "calendar": days(s["calendar"])} for s in data["stations"]]
    cal = {
        "start": data["period"]["start"][:10], "end": data["period"]["end"][:10], "kind": data["period"]["kind"], "entities": entities,
        "categories": [{"level": c["level"], "name": c["en"] if en else c["zh"], "colour": c["colour"]} for c in data["categories"]],
        "text": {"aqi": "AQI", "primary": _("首要污染物")},
    }
    return render(request, "assessment/air.html", {
        "data": data, "tables": _tables("air", data), "calendar_json": json.dumps(cal, ensure_ascii=False),
        "scope_name": tables.scope_name(data), **_nav(request, "air", data),
    })


@login_required
def rankings(request):
    try:
        data = compute("rankings", request)
    except BadRequest as exc:
        return _bad(request, exc)
    bars = [{"name": tables.name(r), "rank": r["composite_index_rank"], "value": r["composite_index"]}
            for r in data["rows"] if r.get("composite_index") is not None]
    chart = {"title": _("综合指数"), "bars": bars}
    return render(request, "assessment/rankings.html", {
        "data": data, "tables": _tables("rankings", data), "chart_json": json.dumps(chart, ensure_ascii=False),
        "chart_height": 60 + 30 * len(bars), **_nav(request, "rankings", data),
    })


@login_required
def export(request, page: str, table: str, fmt: str):
    """One table of a page as CSV (UTF-8 with BOM, Excel opens it) or XLSX, same numbers as the page."""
    if page not in PAGES or fmt not in ("csv", "xlsx") or table not in tables.TABLES[page]:
        raise Http404
    try:
        data = compute(page, request)
    except BadRequest as exc:
        return _bad(request, exc)
    header, rows = tables.table(page, data, table)
    stem = f"{page}_{table}_{data['period']['kind']}_{data['period']['at']}_{data.get('scope') or data.get('level')}"
    if fmt == "csv":
        buf = io.StringIO()
        w = csv.writer(buf)
        w.writerow(header)
        for r in rows:
            w.writerow(["" if c is None else c for c in r])
        resp = HttpResponse("\ufeff" + buf.getvalue(), content_type="text/csv; charset=utf-8")
    else:
        from openpyxl import Workbook

        wb = Workbook(write_only=True)
        ws = wb.create_sheet(title=f"{page}-{table}"[:31])
        ws.append(header)
        for r in rows:
            ws.append(r)
        out = io.BytesIO()
        wb.save(out)
        resp = HttpResponse(out.getvalue(), content_type="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet")
    resp["Content-Disposition"] = f'attachment; filename="{stem}.{fmt}"'
    return resp


def export_index(request, page: str):
    """Base of the export links (``<base><table>.<fmt>?<query>``); not a page of its own."""
    raise Http404
