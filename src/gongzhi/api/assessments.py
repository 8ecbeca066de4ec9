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


# --- assessments of periods: water sections, air quality, rankings ------------------------------------
# Same numbers as the pages (/assessments/…): gongzhi.assessment.services, the sharing policy applied.

from gongzhi.assessment import services as assess  # noqa: E402
from gongzhi.assessment.periods import PeriodError, latest_complete, parse  # noqa: E402
from django.utils import timezone  # noqa: E402

PERIOD_Q = Query("month", pattern="^(month|quarter|year)$", description="month, quarter or year (Beijing time)")
AT_Q = Query(None, max_length=8, description="YYYY-MM (month), YYYY-Qn or YYYY-MM (quarter), YYYY (year); default: the latest complete period")
SCOPE_Q = Query("region", max_length=40, pattern=r"^[-a-zA-Z0-9_]+$", description="region (every bureau) or a bureau code")
SITE_Q = Query(None, max_length=40, pattern=r"^[-a-zA-Z0-9_]+$", description="only this site (404 if its data is not shared with you)")


class PeriodOut(Schema):
    kind: str
    at: str
    start: str
    end: str
    previous: str
    last_year: str


class ClassChangeOut(Schema):
    water_class: Optional[int] = None
    label: Optional[str] = None
    delta: Optional[int] = None
    change: str = ""


class MainPollutantOut(Schema):
    indicator: str
    multiple: Optional[float] = None


class IndicatorMeanOut(Schema):
    value: Optional[float] = None
    water_class: Optional[int] = None
    months: Optional[int] = None


class SectionOut(Schema):
    site: str
    name: str
    name_en: str
    bureau: str
    waterbody: Optional[str] = None
    waterbody_type: str
    is_boundary: bool
    assessment_level: str
    target_class: Optional[int] = None
    water_class: Optional[int] = None
    label: Optional[str] = None
    grade_zh: Optional[str] = None
    grade_en: Optional[str] = None
    meets_target: Optional[bool] = None
    main_pollutants: list[MainPollutantOut]
    indicators: dict[str, IndicatorMeanOut]
    previous: ClassChangeOut
    last_year: ClassChangeOut


class ShareChangeOut(Schema):
    good_share: Optional[float] = None
    worse_v_share: Optional[float] = None
    index: Optional[float] = None
    change: str = ""


class SummaryOut(Schema):
    n_sections: int
    n_classified: int
    counts: dict[str, int]
    good_share: Optional[float] = None
    worse_v_share: Optional[float] = None
    n_target: int
    n_meeting: int
    compliance_rate: Optional[float] = None
    previous: ShareChangeOut
    last_year: ShareChangeOut


class BureauSummaryOut(SummaryOut):
    code: str
    name: str


class RiverPollutantOut(Schema):
    indicator: str
    value: Optional[float] = None


class RiverOut(Schema):
    waterbody: str
    name: str
    n_sections: int
    method: str
    grade_level: int
    grade_zh: str
    grade_en: str
    water_class: Optional[int] = None
    label: Optional[str] = None
    good_share: Optional[float] = None
    worse_v_share: Optional[float] = None
    main_pollutants: list[RiverPollutantOut]


class WaterAssessmentOut(Schema):
    period: PeriodOut
    scope: str
    sections: list[SectionOut]
    bureaus: list[BureauSummaryOut]
    summary: SummaryOut
    rivers: list[RiverOut]


class CalendarDayOut(Schema):
    date: str
    aqi: int
    level: int
    primary: str


class AirStatsOut(Schema):
    valid_days: int
    good_days: int
    good_day_ratio: Optional[float] = None
    days_by_level: dict[str, int] = {}
    pm2_5_mean: Optional[float] = None
    o3_8h_p90: Optional[float] = None
    so2_mean: Optional[float] = None
    no2_mean: Optional[float] = None
    pm10_mean: Optional[float] = None
    co_p95: Optional[float] = None
    composite_index: Optional[float] = None
    composite_primary: str = ""
    complete: bool
    calendar: list[CalendarDayOut] = []


class AirStationOut(AirStatsOut):
    site: str
    name: str
    bureau: str


class AirJurisdictionOut(AirStatsOut):
    code: str
    name: str
    n_stations: int


class AirAssessmentOut(Schema):
    period: PeriodOut
    scope: str
    stations: list[AirStationOut]
    jurisdictions: list[AirJurisdictionOut]


class RankingRowOut(Schema):
    code: str
    name: str
    level: str
    composite_index: Optional[float] = None
    composite_index_rank: Optional[int] = None
    composite_index_previous: Optional[float] = None
    composite_index_previous_rank: Optional[int] = None
    composite_index_rank_change: Optional[int] = None
    composite_index_change_rate: Optional[float] = None
    compliance_rate: Optional[float] = None
    compliance_rate_rank: Optional[int] = None
    compliance_rate_previous: Optional[float] = None
    compliance_rate_previous_rank: Optional[int] = None
    compliance_rate_rank_change: Optional[int] = None
    good_day_ratio: Optional[float] = None
    good_day_ratio_rank: Optional[int] = None
    good_day_ratio_previous: Optional[float] = None
    good_day_ratio_previous_rank: Optional[int] = None
    good_day_ratio_rank_change: Optional[int] = None


class RankingsOut(Schema):
    period: PeriodOut
    level: str
    rows: list[RankingRowOut]


def _period_of(kind: str, at: Optional[str]):
    try:
        return parse(kind, at or latest_complete(kind, timezone.now()).at)
    except PeriodError as exc:
        raise ApiError(400, "invalid_period", str(exc), [{"loc": ["query", "at"], "message": str(exc)}]) from None


def _only_site(user, rows: list[dict], code: Optional[str], kind: str) -> list[dict]:
    """Rows of one site, or 404 when the site is unknown, invisible, of another kind, or its
    data is not shared with the user (the same answer in every case)."""
    if code is None:
        return rows
    site = visible_site(user, code)
    picked = [r for r in rows if r["site"] == site.code]
    if site.kind != kind or not picked:
        raise ApiError(404, "not_found", "no data of this site is shared with you")
    return picked


def _scope_error():
    return ApiError(404, "not_found", "bureau not found", [{"loc": ["query", "scope"]}])


@router.get("/assessments/water", response={200: WaterAssessmentOut, **READ_ERRORS}, summary="Water sections of a month, quarter or year")
def water_assessment(request, period: str = PERIOD_Q, at: Optional[str] = AT_Q, scope: str = SCOPE_Q, site: Optional[str] = SITE_Q):
    """GB 3838 class of each section you may read (period mean of its month aggregates), target
    compliance, main pollutants with exceedance multiples, change on the previous period and the
    same period last year; shares and compliance rate per bureau and for the scope; river
    assessments. Sections whose data is not shared with you count nowhere."""
    p = _period_of(period, at)
    try:
        data = assess.water_assessment(request.auth, period=p, scope=scope)
    except assess.ScopeError:
        raise _scope_error() from None
    data["sections"] = _only_site(request.auth, data["sections"], site, reg.SiteKind.WATER_SECTION)
    return data


def _calendar_objects(items: list[dict]) -> list[dict]:
    for it in items:
        it["calendar"] = [{"date": d, "aqi": a, "level": lv, "primary": pp} for d, a, lv, pp in it["calendar"]]
    return items


@router.get("/assessments/air", response={200: AirAssessmentOut, **READ_ERRORS}, summary="Air quality of a month, quarter or year")
def air_assessment(
    request, period: str = PERIOD_Q, at: Optional[str] = AT_Q, scope: str = SCOPE_Q, site: Optional[str] = SITE_Q,
    calendar: bool = Query(True, description="include the daily AQI calendar"),
):
    """Per air station and district: daily AQI (HJ 633), good-day ratio, PM2.5 mean, O3 daily
    max 8-h 90th percentile and the other HJ 663 statistics, composite index."""
    p = _period_of(period, at)
    try:
        data = assess.air_assessment(request.auth, period=p, scope=scope)
    except assess.ScopeError:
        raise _scope_error() from None
    data["stations"] = _only_site(request.auth, data["stations"], site, reg.SiteKind.AIR_STATION)
    for it in data["stations"] + data["jurisdictions"]:
        if not calendar:
            it["calendar"] = []
    _calendar_objects(data["stations"])
    _calendar_objects(data["jurisdictions"])
    return data


rankings_router = Router(tags=["assessments"])


@rankings_router.get("/rankings", response={200: RankingsOut, **READ_ERRORS}, summary="Rankings of districts or towns")
def rankings(request, period: str = PERIOD_Q, at: Optional[str] = AT_Q,
             level: str = Query("county", pattern="^(county|town)$", description="county (districts) or town")):
    """Composite index (lower is better), water compliance rate and good-day ratio per district
    (or town) with competition ranks (ties share a rank), the previous period's values and ranks."""
    p = _period_of(period, at)
    return assess.rankings(request.auth, period=p, level=level)
