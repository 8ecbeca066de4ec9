"""Assessments (评价) — the router the web issue extends with rankings and compliance.

For now one route: the GB 3838-2002 class of a water section for one month, from the
month aggregates the user may read (policy applied per parameter by
:func:`gongzhi.observations.queries.series_data`)."""

from __future__ import annotations

import datetime as dt
import math
import re
from typing import Optional

from ninja import Query, Router, Schema

from gongzhi.api.common import READ_ERRORS, SHANGHAI, iso, visible_site
from gongzhi.api.errors import ApiError
from gongzhi.ingest import qc
from gongzhi.observations import queries
from gongzhi.observations.models import Series, SeriesKind
from gongzhi.registry import models as reg
from gongzhi.standards import gb3838

router = Router(tags=["assessments"])

MONTH_RE = re.compile(r"^(\d{4})-(\d{2})$")


class IndicatorOut(Schema):
    indicator: str
    parameter: str
    value: float
    unit: str
    water_class: int
    level: str


class WaterClassOut(Schema):
    site: str
    period: str
    month: str
    start: str
    end: str
    waterbody_type: str
    water_class: Optional[int] = None
    label: Optional[str] = None
    grade_zh: Optional[str] = None
    indicators: list[IndicatorOut]
    main_pollutants: list[str]
    not_evaluated: list[str]


@router.get(
    "/sites/{code}/water-class", response={200: WaterClassOut, **READ_ERRORS},
    summary="GB 3838 water class of a water section for one month",
)
def water_class(
    request, code: str,
    period: str = Query("month", pattern="^month$", description="only month for now"),
    month: str = Query(..., description="YYYY-MM (Beijing time)", max_length=7),
):
    """Single-factor class (环办〔2011〕22号) of the month means of the indicators you may read.
    Parameters without a valid month aggregate, or in a unit that cannot be converted, are
    listed in ``not_evaluated``."""
    site = visible_site(request.auth, code)
    if site.kind != reg.SiteKind.WATER_SECTION:
        raise ApiError(400, "not_a_water_section", "the water class applies to water sections only")
    m = MONTH_RE.match(month)
    if not m or not (1 <= int(m.group(2)) <= 12) or not (1970 <= int(m.group(1)) <= 2200):
        raise ApiError(400, "invalid_request", "month is YYYY-MM", [{"loc": ["query", "month"]}])
    start = dt.datetime(int(m.group(1)), int(m.group(2)), 1, tzinfo=SHANGHAI)
    end = (start + dt.timedelta(days=32)).replace(day=1)
    param_ids = set(Series.objects.filter(site=site).exclude(kind=SeriesKind.SAMPLE).values_list("parameter_id", flat=True))
    values: dict[str, float] = {}
    used: dict[str, tuple] = {}
    not_evaluated: list[str] = []
    granted_any = False
    for param in reg.Parameter.objects.filter(pk__in=param_ids).order_by("key"):
        try:
            key, _ = gb3838.resolve_indicator(param.key)
        except KeyError:
            continue
        try:
            data = queries.series_data(request.auth, parameter=param, start=start, end=end, resolution="month", site=site)
        except queries.DataNotVisible:
            continue
        granted_any = True
        found = [v for v, ok in zip(data["values"], data["valid"]) if ok and v is not None and math.isfinite(v)]
        factor = qc.unit_factor(data["unit"], gb3838.INDICATORS[key].unit) if data["unit"] else 1.0
        if not found or factor is None or key in values:
            not_evaluated.append(param.key)
            continue
        values[key] = found[0] * factor
        used[key] = (param.key, data["level"])
    if not granted_any and param_ids:
        raise ApiError(404, "not_found", "no data of this site is shared with you")
    wtype = site.evaluation_waterbody_type or reg.WaterbodyKind.RIVER
    out = {
        "site": site.code, "period": "month", "month": month, "start": iso(start), "end": iso(end),
        "waterbody_type": wtype, "water_class": None, "label": None, "grade_zh": None,
        "indicators": [], "main_pollutants": [], "not_evaluated": not_evaluated,
    }
    if values:
        result = gb3838.section_class({k: [v] for k, v in values.items()}, wtype, on_invalid="missing")
        cls = int(result.class_num[0])
        out.update(water_class=cls or None, label=str(result.label[0]) if cls else None, grade_zh=str(result.grade_zh[0]) if cls else None)
        out["indicators"] = [
            {"indicator": k, "parameter": used[k][0], "value": v, "unit": gb3838.INDICATORS[k].unit,
             "water_class": int(result.by_indicator[k][0]), "level": used[k][1]}
            for k, v in values.items() if k in result.by_indicator
        ]
        if result.main_pollutants is not None:
            out["main_pollutants"] = [name for name, _ in result.main_pollutants[0]]
    return out
