"""The data review page (数据审核): flagged values of the sites and outlets a user may review,
corrections and invalidations with a reason (new versions; the raw value stays), and approval
of periods as validated.

* ``GET /review/`` — filters (site/outlet, parameter, flag, period) and the list; 403 for a
  user who may review nothing (every decision is :mod:`gongzhi.sharing.policy`'s);
* ``POST /review/revise/`` — correct or invalidate one value (htmx swaps the table row);
* ``POST /review/approve/`` — approve a period of one site or outlet (all or one parameter).

A site, outlet or series the user may not see is 404; one the user sees but may not review
(a viewer of the owner bureau, a partner, a co-governance office) is 403. Bad input gives a
message and changes nothing.
"""

from __future__ import annotations

import datetime as dt

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import Http404, HttpResponse, HttpResponseForbidden
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.http import url_has_allowed_host_and_scheme
from django.utils.translation import get_language
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from gongzhi.observations import queries
from gongzhi.observations.models import QC_BITS, Series
from gongzhi.observations.services import ReviewError, revise
from gongzhi.registry import models as reg
from gongzhi.web import review

BEIJING = review.BEIJING
DEFAULT_DAYS = 7


class BadInput(ValueError):
    pass


def _english() -> bool:
    return (get_language() or "").startswith("en")


def _forbidden(request, message: str):
    return render(request, "web/forbidden.html", {"message": message}, status=403)


def _date(text: str, name: str) -> dt.date | None:
    if not text:
        return None
    try:
        return dt.date.fromisoformat(text)
    except ValueError:
        raise BadInput(_("日期格式应为 YYYY-MM-DD") + f" ({name})") from None


def _period(get, today: dt.date) -> tuple[dt.date, dt.date]:
    start = _date(get.get("start", ""), "start")
    end = _date(get.get("end", ""), "end") or today
    start = start or end - dt.timedelta(days=DEFAULT_DAYS - 1)
    if end < start:
        raise BadInput(_("结束日期早于起始日期"))
    if (end - start).days + 1 > review.MAX_DAYS:
        raise BadInput(_("一次最多查看 %(n)s 天") % {"n": review.MAX_DAYS})
    return start, end


def _bounds(start: dt.date, end: dt.date) -> tuple[dt.datetime, dt.datetime]:
    """Beijing dates, ``end`` inclusive → aware ``[start, end)``."""
    return (dt.datetime.combine(start, dt.time(), tzinfo=BEIJING),
            dt.datetime.combine(end + dt.timedelta(days=1), dt.time(), tzinfo=BEIJING))


def _parameter_choices(holders) -> list[reg.Parameter]:
    site_ids = [h.obj.pk for h in holders if h.is_site]
    outlet_ids = [h.obj.pk for h in holders if not h.is_site]
    from django.db.models import Q

    ids = set(Series.objects.filter(Q(site_id__in=site_ids) | Q(outlet_id__in=outlet_ids)).values_list("parameter_id", flat=True))
    return list(reg.Parameter.objects.filter(pk__in=ids).order_by("key"))


def _flag_label(choice: str) -> str:
    if choice == "":
        return _("全部待审")
    if choice == "invalid":
        return _("质控判无效")
    if choice == "revised":
        return _("已修正")
    if choice.startswith("qc:"):
        return _("质控") + ": " + choice[3:]
    return _("数据标记") + " " + choice[5:]


@login_required
def review_page(request):
    user = request.user
    holders = review.reviewable(user)
    if not holders:
        return _forbidden(request, _("只有站点所属局的监测人员和管理员可以审核数据。"))
    english = _english()
    today = timezone.now().astimezone(BEIJING).date()
    get = request.GET
    error = None
    rows, more = [], False
    chosen_holders = holders
    parameter = None
    flag = get.get("flag", "")
    try:
        start_d, end_d = _period(get, today)
        key = get.get("holder", "")
        if key:
            try:
                obj = review.holder_by_key(user, key)
            except review.NotFound:
                raise Http404 from None
            except review.Forbidden:
                return _forbidden(request, _("您无权审核该站点的数据。"))
            chosen_holders = [h for h in holders if h.obj.pk == obj.pk and type(h.obj) is type(obj)]
        pkey = get.get("parameter", "")
        if pkey:
            parameter = reg.Parameter.objects.filter(key=pkey).first()
            if parameter is None:
                raise BadInput(_("未知因子") + f": {pkey}")
        if flag not in review.FLAG_CHOICES:
            raise BadInput(_("未知的标记筛选") + f": {flag}")
        try:
            offset = max(0, int(get.get("offset", "0") or 0))
        except ValueError:
            raise BadInput(_("offset 应为整数")) from None
        start, end = _bounds(start_d, end_d)
        rows, more = review.flagged_rows(review.Filters(chosen_holders, start, end, parameter, flag, offset))
    except BadInput as exc:
        error = str(exc)
        start_d, end_d = today - dt.timedelta(days=DEFAULT_DAYS - 1), today
        offset = 0
    query = get.copy()
    query["offset"] = str(offset + review.PAGE_ROWS)
    context = {
        "holders": [{"key": h.key, "name": (h.name_en or h.name) if english else h.name, "is_site": h.is_site} for h in holders],
        "holder": get.get("holder", ""),
        "parameters": [{"key": p.key, "name": (p.name_en or p.name_zh) if english else p.name_zh} for p in _parameter_choices(holders)],
        "parameter": parameter.key if parameter else "",
        "flags": [(c, _flag_label(c)) for c in review.FLAG_CHOICES],
        "flag": flag,
        "start": start_d.isoformat(),
        "end": end_d.isoformat(),
        # only days that are over can be approved: the approval form proposes up to yesterday
        "approve_start": min(start_d, today - dt.timedelta(days=1)).isoformat(),
        "approve_end": min(end_d, today - dt.timedelta(days=1)).isoformat(),
        "rows": rows,
        "more": more,
        "offset": offset,
        "next_query": query.urlencode(),
        "error": error,
        "approvals": review.approved_periods(holders),
        "qc_names": list(QC_BITS.values()),
        "english": english,
        "next": request.get_full_path(),
    }
    return render(request, "web/review.html", context, status=400 if error else 200)


def _back(request, fallback: str):
    target = request.POST.get("next", "")
    if target and url_has_allowed_host_and_scheme(target, allowed_hosts={request.get_host()}):
        return redirect(target)
    return redirect(fallback)


def _row_response(request, row, *, error: str = "", status: int = 200):
    return render(request, "web/review_row.html", {"row": row, "row_error": error, "english": _english(),
                                                   "next": request.POST.get("next", "")}, status=status)


@login_required
@require_POST
def review_revise(request):
    """Correct (``action=correct`` with ``value``) or invalidate (``action=invalidate``) one value."""
    user = request.user
    htmx = request.headers.get("HX-Request") == "true"
    post = request.POST
    try:
        series_id = int(post.get("series", ""))
        time = dt.datetime.fromisoformat(post.get("time", ""))
        if time.tzinfo is None:
            raise ValueError
    except ValueError:
        return HttpResponse(_("请求参数有误"), status=400)
    try:
        series = review.series_for_review(user, series_id)
    except review.NotFound:
        raise Http404 from None
    except review.Forbidden:
        return HttpResponseForbidden(_("您无权审核该站点的数据。"))
    row = review.review_row(series, time)
    if row is None:
        raise Http404
    action = post.get("action", "")
    reason = post.get("reason", "").strip()
    error = ""
    value = None
    if action == "correct":
        text = post.get("value", "").strip()
        try:
            value = float(text)
            if value != value or value in (float("inf"), float("-inf")):
                raise ValueError
        except ValueError:
            error = _("修正值应为数字")
    elif action != "invalidate":
        error = _("请选择修正或判为无效")
    if not error and not reason:
        error = _("请填写原因")
    if not error:
        try:
            revise(series=series, time=time, user=user, reason=reason, value=value, invalid=action == "invalidate")
        except ReviewError as exc:
            error = str(exc)
    if htmx:
        row = review.review_row(series, time)
        return _row_response(request, row, error=error)
    if error:
        messages.error(request, error)
    else:
        messages.success(request, _("已保存修正"))
    return _back(request, reverse("review"))


@login_required
@require_POST
def review_approve(request):
    """Approve ``[start, end]`` (Beijing dates, inclusive) of one site or outlet as validated."""
    user = request.user
    post = request.POST
    try:
        obj = review.holder_by_key(user, post.get("holder", ""))
    except review.NotFound:
        raise Http404 from None
    except review.Forbidden:
        return HttpResponseForbidden(_("您无权审核该站点的数据。"))
    error = ""
    parameter = None
    try:
        start_d = _date(post.get("start", ""), "start")
        end_d = _date(post.get("end", ""), "end")
        if start_d is None or end_d is None:
            raise BadInput(_("请填写起止日期"))
        if end_d < start_d:
            raise BadInput(_("结束日期早于起始日期"))
        if end_d >= timezone.now().astimezone(BEIJING).date():
            raise BadInput(_("不能审核尚未结束的日期"))
        pkey = post.get("parameter", "")
        if pkey:
            parameter = reg.Parameter.objects.filter(key=pkey).first()
            if parameter is None:
                raise BadInput(_("未知因子") + f": {pkey}")
        start, end = _bounds(start_d, end_d)
        site = obj if isinstance(obj, reg.Site) else None
        outlet = obj if isinstance(obj, reg.Outlet) else None
        queries.approve_period(user=user, start=start, end=end, site=site, outlet=outlet, parameter=parameter,
                               note=post.get("note", "").strip())
    except (BadInput, queries.ReviewError) as exc:
        error = str(exc)
    if error:
        messages.error(request, error)
    else:
        messages.success(request, _("已审核通过：%(start)s 至 %(end)s") % {"start": start_d, "end": end_d})
    return _back(request, reverse("review"))
