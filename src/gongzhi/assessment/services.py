"""Assessments (考核评价): water sections, air quality and rankings, by the standards engine.

Every function takes the requesting ``user`` and keyword-only arguments. The sharing policy
decides which sites count and at which data level (:func:`gongzhi.observations.queries.data_levels`):
a site whose data is not shared with the user is left out of every list **and** every
summary number; a site shared at the *validated* level counts only with aggregates whose
whole period lies in a period its owner approved; a site shared for some parameters only
counts with those.

How the numbers are made (formulas in ``docs/standards/``, period rules in
``docs/assessments.md``):

* **water** — the month aggregates of each indicator (:mod:`gongzhi.observations.aggregates`;
  automatic stations first, lab samples where the month has no automatic value); a quarter or
  a year is the mean of its valid months (pH via H⁺, :func:`gongzhi.standards.gb3838.period_mean`);
  then :func:`~gongzhi.standards.gb3838.section_class`, target compliance, main pollutants and
  exceedance multiples, class shares, :func:`~gongzhi.standards.gb3838.assess_river`, and the
  change on the previous period and on the same period last year;
* **air** — day aggregates of SO2, NO2, CO, PM10, PM2.5 and, from the hour values, the daily
  max 8-h (and 1-h) O3 (:mod:`gongzhi.standards.hj663`); daily AQI (:mod:`gongzhi.standards.hj633`);
  good-day ratio, period statistics, composite index (:mod:`gongzhi.standards.composite`);
* **rankings** — districts (and towns) by composite index, water compliance rate and good-day
  ratio, shared ranks for ties, change on the previous period.

Caching: the per-site inputs at the raw level are kept in :class:`CachedFacts`, keyed by kind,
site and period and valid while the site's month-aggregate fingerprint is unchanged (see
:func:`fingerprints`). Restricted views (validated level, some parameters only) are computed
on each request and not cached."""

from __future__ import annotations

import datetime as dt
import math
from collections import defaultdict
from dataclasses import dataclass, field
from typing import Iterable

import numpy as np
import polars as pl
from django.db import transaction
from django.db.models import Count, Max, Q, Sum
from django.utils import timezone
from django.utils.translation import gettext_noop

from gongzhi.assessment.models import CachedFacts, FactKind
from gongzhi.assessment.periods import Period, PeriodError
from gongzhi.ingest import qc
from gongzhi.observations import aggregates as agg
from gongzhi.observations import queries
from gongzhi.observations.models import Aggregate, Period as AggPeriod, Series, SeriesKind
from gongzhi.registry import models as reg
from gongzhi.registry.catalog import AMBIENT_UNITS
from gongzhi.sharing.models import DataLevel
from gongzhi.standards import composite, gb3838, hj633, hj663

#: Bumped when the computation of the cached inputs changes (old rows then never match).
FACTS_VERSION = "1"
AIR_KEYS = ("so2", "no2", "co", "pm10", "pm2_5", "o3")
DAILY_KEYS = ("so2", "no2", "co", "pm10", "pm2_5", "o3_8h_max", "o3_1h_max")
UTC = dt.timezone.utc

#: Change labels of gb3838.grade_change / proportion_change, marked for translation.
CHANGE_LABELS = {
    "无明显变化": gettext_noop("无明显变化"),
    "有所好转": gettext_noop("有所好转"),
    "有所变差": gettext_noop("有所变差"),
    "明显好转": gettext_noop("明显好转"),
    "明显变差": gettext_noop("明显变差"),
}
GRADE_LABELS = (gettext_noop("优"), gettext_noop("良好"), gettext_noop("轻度污染"), gettext_noop("中度污染"), gettext_noop("重度污染"))


class ScopeError(LookupError):
    """The scope names no bureau the user may see."""


def _clean(v):
    """JSON has no NaN: missing numbers are None."""
    if v is None:
        return None
    if isinstance(v, (float, np.floating)):
        f = float(v)
        return f if math.isfinite(f) else None
    if isinstance(v, np.integer):
        return int(v)
    return v


def _r(v, d: int = 4):
    v = _clean(v)
    return None if v is None else round(v, d) + 0.0  # + 0.0: no "-0"


# --- sites, grants and the cache -----------------------------------------------------------------


@dataclass
class Visible:
    """The sites of one kind a user's assessment counts, with the user's grants."""

    sites: list[reg.Site]
    grants: dict[int, queries.Grant]
    full: list[reg.Site] = field(default_factory=list)  # raw level for every parameter: cached path
    restricted: list[reg.Site] = field(default_factory=list)


def visible_sites(user, *, kind: str, bureau: reg.Bureau | None = None) -> Visible:
    """Active sites of ``kind`` (of ``bureau``, or all) whose data the user may read."""
    qs = (
        reg.Site.objects.filter(kind=kind, active=True)
        .select_related("owner", "jurisdiction__parent", "waterbody")
        # geometry is not needed here and is most of the bytes
        .defer("jurisdiction__boundary", "jurisdiction__parent__boundary", "waterbody__geometry")
    )
    if bureau is not None:
        qs = qs.filter(owner=bureau)
    sites = list(qs.order_by("code"))
    grants = queries.data_levels(user, sites)
    out = Visible([s for s in sites if s.pk in grants and grants[s.pk].any], grants)
    for s in out.sites:
        g = grants[s.pk]
        if g.default == DataLevel.RAW and all(v == DataLevel.RAW for v in g.by_parameter.values()):
            out.full.append(s)
        else:
            out.restricted.append(s)
    return out


def resolve_scope(user, scope: str) -> reg.Bureau | None:
    """``region`` (None: every bureau) or a bureau code. :class:`ScopeError` if unknown."""
    if not scope or scope == "region":
        return None
    bureau = reg.Bureau.objects.filter(code=scope).first()
    if bureau is None:
        raise ScopeError("unknown bureau")
    return bureau


def fingerprints(site_ids: Iterable[int], periods: Iterable[Period]) -> dict[tuple[Period, int], str]:
    """Data version of each site's aggregates in each period: count, newest ``computed`` time,
    value sum and ``n`` sum of its month aggregates. Every recompute of an hour re-stores its day
    and month (:func:`gongzhi.observations.aggregates.recompute_dirty`), so late data,
    corrections and invalidations all change it. One grouped query for all the periods."""
    periods = list(periods)
    site_ids = list(site_ids)
    if not periods or not site_ids:
        return {}
    bounds = [(p, p.start, p.end) for p in periods]
    within = Q()
    for _p, start, end in bounds:
        within |= Q(start__gte=start, start__lt=end)
    rows = (
        Aggregate.objects.filter(within, period=AggPeriod.MONTH, series__site_id__in=site_ids)
        .values("series__site_id", "start")
        .annotate(c=Count("id"), m=Max("computed"), s=Sum("value"), n=Sum("n"))
        .values_list("series__site_id", "start", "c", "m", "s", "n")
    )
    acc: dict[tuple[Period, int], list] = {}
    for sid, start, c, m, total, n in rows:
        for p, p_start, p_end in bounds:
            if p_start <= start < p_end:
                a = acc.setdefault((p, sid), [0, None, 0.0, 0])
                a[0] += c
                a[1] = m if a[1] is None or (m is not None and m > a[1]) else a[1]
                a[2] += total or 0.0
                a[3] += n or 0
    return {
        k: f"{FACTS_VERSION}:{c}:{m.astimezone(UTC).isoformat() if m else ''}:{round(total, 9)!r}:{n}"
        for k, (c, m, total, n) in acc.items()
    }


def _facts(kind: str, vis: Visible, period: Period) -> dict[int, dict]:
    return _facts_many(kind, vis, [period])[period]


def _facts_many(kind: str, vis: Visible, periods: list[Period]) -> dict[Period, dict[int, dict]]:
    """Per-site inputs for each period: from the cache when current, else computed (and cached
    for full-access sites). Three queries for the cached case, whatever the number of periods."""
    compute = _water_facts if kind == FactKind.WATER else _air_facts
    periods = list(dict.fromkeys(periods))
    out: dict[Period, dict[int, dict]] = {p: {} for p in periods}
    if vis.full:
        ids = [s.pk for s in vis.full]
        versions = fingerprints(ids, periods)
        q = Q()
        for p in periods:
            q |= Q(start=p.start, end=p.end)
        by_range = {(p.start, p.end): p for p in periods}
        cached = {}
        for sid, start, end, ver, payload in CachedFacts.objects.filter(q, kind=kind, site_id__in=ids).values_list(
            "site_id", "start", "end", "version", "payload"
        ):
            p = by_range.get((start, end))
            if p is not None:
                cached[(p, sid)] = (ver, payload)
        empty = f"{FACTS_VERSION}:empty"
        objs = []
        now = timezone.now()
        for p in periods:
            stale = []
            for s in vis.full:
                hit = cached.get((p, s.pk))
                if hit is not None and hit[0] == versions.get((p, s.pk), empty):
                    out[p][s.pk] = hit[1]
                else:
                    stale.append(s)
            if stale:
                fresh = compute(stale, p, None)
                for s in stale:
                    out[p][s.pk] = fresh.get(s.pk, {})
                    objs.append(CachedFacts(kind=kind, site=s, start=p.start, end=p.end, version=versions.get((p, s.pk), empty),
                                            payload=out[p][s.pk], computed=now))
        if objs:
            with transaction.atomic():
                CachedFacts.objects.bulk_create(
                    objs, update_conflicts=True, unique_fields=["kind", "site", "start", "end"],
                    update_fields=["version", "payload", "computed"],
                )
    if vis.restricted:
        for p in periods:
            out[p].update(compute(vis.restricted, p, vis.grants))
    return out


def clear_cache() -> int:
    """Delete every cached row (they are recomputed on the next read)."""
    return CachedFacts.objects.all().delete()[0]


# --- loading aggregates with the policy's restrictions --------------------------------------------


@dataclass
class _Group:
    site_id: int
    parameter_id: int
    key: str  # standards key
    family: str  # auto | sample
    anchor: int
    factor: float
    members: dict = field(default_factory=dict)


def _groups(sites: list[reg.Site], resolve, grants) -> list[_Group]:
    """Measurement groups (site × parameter × family, anchor = lowest series id) of the
    parameters ``resolve`` maps to a standards key (and unit factor); parameters the grant
    leaves out are skipped."""
    groups: dict[tuple, _Group] = {}
    rows = Series.objects.filter(site_id__in=[s.pk for s in sites]).values_list(
        "id", "site_id", "parameter_id", "parameter__key", "kind", "unit", "parameter__unit"
    ).order_by("id")
    for sid, site_id, pid, pkey, kind, unit, punit in rows:
        if grants is not None and grants[site_id].level(pid) is None:
            continue
        family = "sample" if kind == SeriesKind.SAMPLE else "auto"
        k = (site_id, pid, family)
        g = groups.get(k)
        if g is None:
            resolved = resolve(pkey, unit or punit)
            if resolved is None:
                continue
            g = groups[k] = _Group(site_id, pid, resolved[0], family, sid, resolved[1])
        g.members[kind] = sid
    return list(groups.values())


def _windows(sites: list[reg.Site], grants) -> dict[int, list]:
    if grants is None:
        return {}
    ids = [s.pk for s in sites if any(lv == DataLevel.VALIDATED for lv in [grants[s.pk].default, *grants[s.pk].by_parameter.values()])]
    if not ids:
        return {}
    return {k[1]: v for k, v in queries.approved_windows(site_ids=ids).items()}


def _allowed(g: _Group, grants, windows, start: dt.datetime, end: dt.datetime) -> bool:
    """May the aggregate of ``[start, end)`` of group ``g`` count (whole period approved when
    the grant is validated)?"""
    if grants is None:
        return True
    level = grants[g.site_id].level(g.parameter_id)
    if level == DataLevel.RAW:
        return True
    if level != DataLevel.VALIDATED:
        return False
    return any(ws <= start and end <= we for ws, we in _windows_of(windows.get(g.site_id, []), g.parameter_id))


def _windows_of(windows: list[tuple], parameter_id: int) -> list[tuple[dt.datetime, dt.datetime]]:
    """Approved (start, end) windows that cover ``parameter_id`` (a window without a parameter covers all)."""
    return [(ws, we) for p, ws, we in windows if p is None or p == parameter_id]


def _utc(naive: dt.datetime) -> dt.datetime:
    return naive.replace(tzinfo=UTC)


# --- water -------------------------------------------------------------------------------------------


def _water_indicator(pkey: str, unit: str):
    try:
        key, _ = gb3838.resolve_indicator(pkey)
    except KeyError:
        return None
    factor = qc.unit_factor(unit, gb3838.INDICATORS[key].unit) if unit else 1.0
    return None if factor is None else (key, factor)


def _water_facts(sites: list[reg.Site], period: Period, grants) -> dict[int, dict]:
    """Period mean of each indicator per section: ``{"means": {key: v}, "months": {key: n}}``."""
    groups = _groups(sites, _water_indicator, grants)
    out: dict[int, dict] = {s.pk: {"means": {}, "months": {}} for s in sites}
    if not groups:
        return out
    by_anchor = {g.anchor: g for g in groups}
    frame = agg.load_aggregates(AggPeriod.MONTH, [(tuple(sorted(by_anchor)), period.start, period.end)])
    frame = frame.filter(pl.col("valid") & pl.col("value").is_not_null())
    windows = _windows(sites, grants)
    # (site, key, month) → (family rank, value): automatic stations before lab samples
    best: dict[tuple, tuple] = {}
    for sid, start, value in frame.select("series_id", "start", "value").iter_rows():
        g = by_anchor[sid]
        s = _utc(start)
        if grants is not None and not _allowed(g, grants, windows, s, agg.next_month(s)):
            continue
        if not math.isfinite(value):
            continue
        k = (g.site_id, g.key, s)
        rank = 0 if g.family == "auto" else 1
        if k not in best or rank < best[k][0]:
            best[k] = (rank, value * g.factor)
    values: dict[tuple, list] = defaultdict(list)
    for (site_id, key, _m), (_rank, v) in best.items():
        values[(site_id, key)].append(v)
    for (site_id, key), vs in values.items():
        out[site_id]["means"][key] = float(gb3838.period_mean(key, np.asarray(vs)))
        out[site_id]["months"][key] = len(vs)
    return out


def _classify(means: list[dict], waterbody_types: list[str]):
    """section_class over sections (rows) given their indicator means; None if no indicator."""
    keys = sorted({k for m in means for k in m}, key=list(gb3838.INDICATORS).index)
    if not keys or not means:
        return None
    values = {k: np.array([m.get(k, np.nan) for m in means], dtype=np.float64) for k in keys}
    return gb3838.section_class(values, np.array(waterbody_types, dtype=object), on_invalid="missing")


def _classes(facts: dict[int, dict], sites: list[reg.Site]) -> dict[int, int]:
    res = _classify([facts.get(s.pk, {}).get("means", {}) for s in sites], [_wtype(s) for s in sites])
    if res is None:
        return {s.pk: 0 for s in sites}
    return {s.pk: int(c) for s, c in zip(sites, res.class_num.tolist())}


def _wtype(site: reg.Site) -> str:
    return site.evaluation_waterbody_type or reg.WaterbodyKind.RIVER


def _change(before: int, after: int) -> dict:
    if not before or not after:
        return {"water_class": before or None, "label": gb3838.CLASS_LABELS[before] if before else None, "delta": None, "change": ""}
    delta, label = gb3838.grade_change(before, after)
    return {"water_class": before, "label": gb3838.CLASS_LABELS[before], "delta": int(delta), "change": str(label)}


def _summary(rows: list[dict], prev_classes: dict[str, int], ly_classes: dict[str, int]) -> dict:
    """Shares, compliance and change of a set of section rows (one bureau or the region)."""
    classes = np.array([r["water_class"] or 0 for r in rows], dtype=np.int8)
    shares = gb3838.class_shares(classes)
    with_target = [r for r in rows if r["target_class"] and r["water_class"]]
    meeting = sum(1 for r in with_target if r["meets_target"])
    out = {
        "n_sections": len(rows),
        "n_classified": shares["n"],
        "counts": shares["counts"],
        "good_share": _r(shares["good"], 2),
        "worse_v_share": _r(shares["worse_v"], 2),
        "n_target": len(with_target),
        "n_meeting": meeting,
        "compliance_rate": _r(100.0 * meeting / len(with_target), 2) if with_target else None,
    }
    for name, before in (("previous", prev_classes), ("last_year", ly_classes)):
        b = gb3838.class_shares(np.array([before.get(r["site"], 0) for r in rows], dtype=np.int8))
        if b["n"] and shares["n"]:
            x, label = gb3838.proportion_change(b["good"], b["worse_v"], shares["good"], shares["worse_v"])
            out[name] = {"good_share": _r(b["good"], 2), "worse_v_share": _r(b["worse_v"], 2), "index": _r(x, 2), "change": label}
        else:
            out[name] = {"good_share": _r(b["good"], 2), "worse_v_share": _r(b["worse_v"], 2), "index": None, "change": ""}
    return out


def water_assessment(user, *, period: Period, scope: str = "region") -> dict:
    """Water sections of ``period`` in ``scope`` (``region`` or a bureau code) as the user
    may see them: one row per section, a summary per bureau and for the scope, and the
    river/basin assessments. Raises :class:`ScopeError` for an unknown bureau."""
    bureau = resolve_scope(user, scope)
    vis = visible_sites(user, kind=reg.SiteKind.WATER_SECTION, bureau=bureau)
    sites = vis.sites
    many = _facts_many(FactKind.WATER, vis, [period, period.previous(), period.last_year()])
    facts = many[period]
    prev = _classes(many[period.previous()], sites)
    ly = _classes(many[period.last_year()], sites)
    res = _classify([facts[s.pk]["means"] for s in sites], [_wtype(s) for s in sites])
    rows = []
    for i, s in enumerate(sites):
        cls = int(res.class_num[i]) if res is not None else 0
        mp = [{"indicator": k, "multiple": _r(e, 4)} for k, e in res.main_pollutants[i]] if res is not None and cls else []
        indicators = {}
        if res is not None:
            for k, arr in res.by_indicator.items():
                v = facts[s.pk]["means"].get(k)
                if v is not None:
                    indicators[k] = {"value": _r(v, 6), "water_class": int(arr[i]) or None, "months": facts[s.pk]["months"].get(k)}
        target = s.target_class
        rows.append({
            "site": s.code, "name": s.name, "name_en": s.name_en, "bureau": s.owner.code, "bureau_name": s.owner.short_name,
            "bureau_name_en": s.owner.name_en, "jurisdiction": s.jurisdiction.adcode if s.jurisdiction_id else None,
            "waterbody": s.waterbody.code if s.waterbody_id else None,
            "waterbody_name": s.waterbody.name if s.waterbody_id else "", "waterbody_name_en": s.waterbody.name_en if s.waterbody_id else "",
            "waterbody_type": _wtype(s), "is_boundary": s.is_boundary, "assessment_level": s.assessment_level,
            "target_class": target, "target_label": gb3838.CLASS_LABELS[target] if target else None,
            "water_class": cls or None, "label": gb3838.CLASS_LABELS[cls] if cls else None,
            "grade_zh": gb3838.GRADE_ZH[cls] if cls else None, "grade_en": gb3838.GRADE_EN[cls] if cls else None,
            "meets_target": bool(gb3838.meets_target(cls, target)) if (cls and target) else None,
            "main_pollutants": mp, "main_pollutants_text": gb3838.format_main_pollutants([(m["indicator"], m["multiple"]) for m in mp]),
            "indicators": indicators,
            "previous": _change(prev.get(s.pk, 0), cls), "last_year": _change(ly.get(s.pk, 0), cls),
            "level": "raw" if s in vis.full else "restricted",
        })
    prev_by_code = {s.code: prev.get(s.pk, 0) for s in sites}
    ly_by_code = {s.code: ly.get(s.pk, 0) for s in sites}
    bureaus = []
    by_bureau: dict[str, list] = defaultdict(list)
    for r in rows:
        by_bureau[r["bureau"]].append(r)
    for code, brows in sorted(by_bureau.items()):
        bureaus.append({"code": code, "name": brows[0]["bureau_name"], "name_en": brows[0]["bureau_name_en"], **_summary(brows, prev_by_code, ly_by_code)})
    rivers = []
    by_river: dict[str, list] = defaultdict(list)
    for s, r in zip(sites, rows):
        if s.waterbody_id:
            by_river[s.waterbody.code].append((s, r))
    for code, members in sorted(by_river.items()):
        means = [facts[s.pk]["means"] for s, _ in members]
        keys = sorted({k for m in means for k in m}, key=list(gb3838.INDICATORS).index)
        try:
            ra = gb3838.assess_river({k: np.array([m.get(k, np.nan) for m in means]) for k in keys},
                                     np.array([_wtype(s) for s, _ in members], dtype=object))
        except (ValueError, KeyError):
            continue
        s0 = members[0][0]
        rivers.append({
            "waterbody": code, "name": s0.waterbody.name, "name_en": s0.waterbody.name_en, "n_sections": ra.n_sections,
            "method": ra.method, "grade_level": ra.grade_level, "grade_zh": ra.grade_zh, "grade_en": ra.grade_en,
            "water_class": ra.class_num, "label": gb3838.CLASS_LABELS[ra.class_num] if ra.class_num else None,
            "good_share": _r(ra.shares["good"], 2), "worse_v_share": _r(ra.shares["worse_v"], 2),
            "main_pollutants": [{"indicator": k, "value": _r(v, 4)} for k, v in ra.main_pollutants],
        })
    scope_name = bureau.short_name if bureau else "region"
    return {
        "kind": "water", "period": _period_out(period), "scope": scope or "region", "scope_name": scope_name,
        "scope_name_en": (bureau.name_en if bureau else "region"),
        "sections": rows, "bureaus": bureaus, "summary": _summary(rows, prev_by_code, ly_by_code), "rivers": rivers,
    }


def _period_out(p: Period) -> dict:
    return {
        "kind": p.kind, "at": p.at, "start": p.start.isoformat(), "end": p.end.isoformat(),
        "previous": p.previous().at, "last_year": p.last_year().at,
    }


# --- air -----------------------------------------------------------------------------------------------


def _air_indicator(pkey: str, unit: str):
    if pkey not in AIR_KEYS:
        return None
    factor = qc.unit_factor(unit, AMBIENT_UNITS[pkey]) if unit else 1.0
    return None if factor is None else (pkey, factor)


def _air_facts(sites: list[reg.Site], period: Period, grants) -> dict[int, dict]:
    """Daily concentrations of each station (µg/m³, CO mg/m³) and the daily AQI:
    ``{"days": n, "so2": [...], …, "o3_8h_max": [...], "aqi": [...], "level": [...], "primary": [...]}``."""
    ndays = period.days
    groups = [g for g in _groups(sites, _air_indicator, grants) if g.family == "auto"]
    arrays = {s.pk: {k: np.full(ndays, np.nan) for k in DAILY_KEYS} for s in sites}
    windows = _windows(sites, grants)
    day0 = period.start.astimezone(UTC).replace(tzinfo=None)
    daily = [g for g in groups if g.key != "o3"]
    if daily:
        by_anchor = {g.anchor: g for g in daily}
        frame = agg.load_aggregates(AggPeriod.DAY, [(tuple(sorted(by_anchor)), period.start, period.end)])
        frame = frame.filter(pl.col("valid") & pl.col("value").is_not_null())
        for sid, start, value in frame.select("series_id", "start", "value").iter_rows():
            g = by_anchor[sid]
            s = _utc(start)
            if grants is not None and not _allowed(g, grants, windows, s, s + agg.DAY):
                continue
            i = (start - day0).days
            if 0 <= i < ndays and math.isfinite(value):
                arrays[g.site_id][g.key][i] = value * g.factor
    o3 = [g for g in groups if g.key == "o3"]
    if o3:
        _, agroups = agg.groups_for([g.anchor for g in o3])
        ours = {g.anchor: g for g in o3}
        items = [(ag, period.start, period.end) for ag in agroups.values() if ag.anchor in ours]
        gindex = {ag.key: i for i, (ag, _s, _e) in enumerate(items)}
        cand = agg.hour_candidates(items, gindex)
        if cand.height:
            hours = agg.resolve_hour_candidates(cand).filter(pl.col("valid") & pl.col("value").is_not_null())
            for i_item, (ag, _s, _e) in enumerate(items):
                g = ours[ag.anchor]
                sub = hours.filter(pl.col("g") == i_item)
                grid = np.full((ndays, 24), np.nan)
                if sub.height:
                    offs = ((sub["start"] - day0).dt.total_hours()).to_numpy().astype(np.int64)
                    vals = sub["value"].to_numpy().astype(np.float64) * g.factor
                    ok = (offs >= 0) & (offs < ndays * 24) & np.isfinite(vals)
                    if grants is not None and grants[g.site_id].level(g.parameter_id) == DataLevel.VALIDATED:
                        wins = _windows_of(windows.get(g.site_id, []), g.parameter_id)
                        starts = sub["start"].to_list()
                        ok &= np.array([any(ws <= _utc(t) and _utc(t) + agg.HOUR <= we for ws, we in wins) for t in starts], dtype=bool)
                    grid.reshape(-1)[offs[ok]] = vals[ok]
                arrays[g.site_id]["o3_8h_max"] = hj663.o3_daily_max_8h(grid).value
                arrays[g.site_id]["o3_1h_max"] = hj663.o3_daily_max_1h(grid).value
    out = {}
    for s in sites:
        a = arrays[s.pk]
        out[s.pk] = _with_aqi(a, period)
    return out


def _with_aqi(a: dict[str, np.ndarray], period: Period) -> dict:
    """Daily AQI (日报) of daily arrays; the payload stored and used by the pages."""
    ndays = period.days
    times = np.datetime64(period.start.date()) + np.arange(ndays)
    res = hj633.aqi({k: a[k] for k in DAILY_KEYS}, period="day", times=times)
    primary = res.primary_pollutants()
    out = {"days": ndays, "start": period.start.date().isoformat()}
    for k in DAILY_KEYS:
        out[k] = [_r(v, 4) for v in a[k].tolist()]
    out["aqi"] = [None if v != v else int(v) for v in res.aqi.tolist()]
    out["level"] = [int(v) for v in res.level.tolist()]
    out["primary"] = primary
    return out


def _arr(payload: dict, key: str) -> np.ndarray:
    return np.array([np.nan if v is None else v for v in payload.get(key, [])], dtype=np.float64)


def _min_days(period: Period) -> int:
    if period.kind == "year":
        rules, _ = hj663.rules_for()
        return rules.min_days_per_year
    return sum(hj663.min_days_in_month(m) for m in period.months())


def air_stats(payload: dict, period: Period) -> dict:
    """Period statistics (HJ 663) of one station's or jurisdiction's daily payload."""
    if not payload or not payload.get("days"):
        return {"valid_days": 0, "good_days": 0, "good_day_ratio": None, "complete": False, "composite_index": None}
    need = _min_days(period)
    aqi = _arr(payload, "aqi")
    gdr = hj663.good_day_ratio(aqi)
    stats, complete = {}, True
    for key, p in (("so2", None), ("no2", None), ("pm10", None), ("pm2_5", None), ("co", 95), ("o3_8h_max", 90)):
        d = _arr(payload, key)
        n = int((~np.isnan(d)).sum())
        if n == 0:
            v = float("nan")
        elif p is None:
            v = float(np.nanmean(d))
        else:
            v = hj663.percentile(d, p)
        stats[key] = (v, n)
        complete &= n >= need
    ci = composite.composite_index(
        so2=stats["so2"][0], no2=stats["no2"][0], pm10=stats["pm10"][0], pm2_5=stats["pm2_5"][0],
        co=stats["co"][0], o3=stats["o3_8h_max"][0],
    )
    levels = np.array(payload.get("level", []), dtype=np.int64)
    return {
        "valid_days": int(gdr.count), "good_days": int(gdr.metadata["good_days"]),
        "good_day_ratio": _r(100.0 * float(gdr.value), 2) if gdr.valid else None,
        "days_by_level": {str(i): int((levels == i).sum()) for i in range(1, 7)},
        "pm2_5_mean": _r(stats["pm2_5"][0], 1), "pm2_5_days": stats["pm2_5"][1],
        "o3_8h_p90": _r(stats["o3_8h_max"][0], 1), "o3_days": stats["o3_8h_max"][1],
        "so2_mean": _r(stats["so2"][0], 1), "no2_mean": _r(stats["no2"][0], 1), "pm10_mean": _r(stats["pm10"][0], 1),
        "co_p95": _r(stats["co"][0], 2),
        "composite_index": _r(float(composite.round_index(ci.i_sum)[0]), 2) if math.isfinite(float(ci.i_sum[0])) else None,
        "composite_primary": ci.primary_pollutant()[0],
        "min_days": need, "complete": bool(complete),
    }


def _district(site: reg.Site, level: str) -> reg.Jurisdiction | None:
    """The district (county level) or town of a site; None where there is none."""
    j = site.jurisdiction if site.jurisdiction_id else None
    if j is None:
        return None
    if level == "town":
        return j if j.level == reg.JurisdictionLevel.TOWN else None
    node = j
    while node is not None and node.level == reg.JurisdictionLevel.TOWN:
        node = node.parent
    return node if node is not None and node.level == reg.JurisdictionLevel.COUNTY else None


def _combine(payloads: list[dict], period: Period) -> dict:
    """A jurisdiction's daily values: the mean of its stations' daily values (NaN ignored), then
    the AQI of those means [M: city method of HJ 663 applied to daily station values]."""
    a = {}
    for k in DAILY_KEYS:
        stack = np.stack([_arr(p, k) for p in payloads]) if payloads else np.full((1, period.days), np.nan)
        ok = ~np.isnan(stack)
        n = ok.sum(axis=0)
        total = np.where(ok, stack, 0.0).sum(axis=0)
        a[k] = np.where(n > 0, total / np.maximum(n, 1), np.nan)
    return _with_aqi(a, period)


def air_assessment(user, *, period: Period, scope: str = "region") -> dict:
    """Air stations and districts of ``period`` in ``scope``: daily AQI calendars, good-day
    ratio, PM2.5 and O3 statistics and the composite index."""
    bureau = resolve_scope(user, scope)
    vis = visible_sites(user, kind=reg.SiteKind.AIR_STATION, bureau=bureau)
    facts = _facts(FactKind.AIR, vis, period)
    stations = []
    by_district: dict[int, list] = defaultdict(list)
    districts: dict[int, reg.Jurisdiction] = {}
    for s in vis.sites:
        p = facts.get(s.pk, {})
        stations.append({
            "site": s.code, "name": s.name, "name_en": s.name_en, "bureau": s.owner.code, "bureau_name": s.owner.short_name,
            "bureau_name_en": s.owner.name_en, "jurisdiction": s.jurisdiction.adcode if s.jurisdiction_id else None,
            **air_stats(p, period), "calendar": _calendar(p),
        })
        d = _district(s, "county")
        if d is not None and _has_aqi(p):
            by_district[d.pk].append(p)
            districts[d.pk] = d
    jurisdictions = []
    for pk, payloads in sorted(by_district.items(), key=lambda kv: districts[kv[0]].adcode):
        j = districts[pk]
        p = _combine(payloads, period)
        jurisdictions.append({"code": j.adcode, "name": j.name, "name_en": j.name_en, "n_stations": len(payloads),
                              **air_stats(p, period), "calendar": _calendar(p)})
    return {
        "kind": "air", "period": _period_out(period), "scope": scope or "region",
        "scope_name": bureau.short_name if bureau else "region", "scope_name_en": bureau.name_en if bureau else "region",
        "stations": stations, "jurisdictions": jurisdictions,
        "categories": [{"level": c.level, "zh": c.zh, "en": c.en, "colour": "#%02x%02x%02x" % c.rgb} for c in hj633.CATEGORIES],
    }


def _has_aqi(payload: dict | None) -> bool:
    """A station counts in its district when it has at least one daily AQI in the period."""
    return bool(payload) and any(a is not None for a in payload.get("aqi", []))


def _calendar(payload: dict) -> list[list]:
    """[[date, AQI, level, primary], …] for the ECharts calendar (days with an AQI)."""
    if not payload:
        return []
    d0 = dt.date.fromisoformat(payload["start"])
    out = []
    for i, (a, lv, pp) in enumerate(zip(payload["aqi"], payload["level"], payload["primary"])):
        if a is not None:
            out.append([(d0 + dt.timedelta(days=i)).isoformat(), a, lv, pp])
    return out


# --- rankings -----------------------------------------------------------------------------------------


def _rank(values: list, *, descending: bool, decimals: int) -> list[int | None]:
    v = np.array([np.nan if x is None else x for x in values], dtype=np.float64)
    r = composite.rank(-v if descending else v, decimals=decimals)
    return [int(x) or None for x in r.tolist()]


def _district_values(user, period: Period, level: str) -> dict[str, dict]:
    """composite index, good-day ratio and water compliance rate per district (or town)."""
    out: dict[str, dict] = {}
    air_vis = visible_sites(user, kind=reg.SiteKind.AIR_STATION)
    air = _facts(FactKind.AIR, air_vis, period)
    groups: dict[int, list] = defaultdict(list)
    juris: dict[int, reg.Jurisdiction] = {}
    for s in air_vis.sites:
        d = _district(s, level)
        if d is not None and _has_aqi(air.get(s.pk)):
            groups[d.pk].append(air[s.pk])
            juris[d.pk] = d
    for pk, payloads in groups.items():
        st = air_stats(_combine(payloads, period), period)
        out.setdefault(juris[pk].adcode, {"j": juris[pk]}).update(
            composite_index=st["composite_index"] if st["complete"] else None,
            good_day_ratio=st["good_day_ratio"], n_stations=len(payloads), air_complete=st["complete"],
        )
    water_vis = visible_sites(user, kind=reg.SiteKind.WATER_SECTION)
    classes = _classes(_facts(FactKind.WATER, water_vis, period), water_vis.sites)
    wgroups: dict[int, list] = defaultdict(list)
    for s in water_vis.sites:
        d = _district(s, level)
        if d is not None and s.target_class and classes.get(s.pk):
            wgroups[d.pk].append(bool(gb3838.meets_target(classes[s.pk], s.target_class)))
            juris[d.pk] = d
    for pk, meets in wgroups.items():
        out.setdefault(juris[pk].adcode, {"j": juris[pk]}).update(
            compliance_rate=_r(100.0 * sum(meets) / len(meets), 2), n_sections=len(meets), n_meeting=sum(meets),
        )
    return out


RANK_MEASURES = (("composite_index", False, 2), ("compliance_rate", True, 2), ("good_day_ratio", True, 2))


def rankings(user, *, period: Period, level: str = "county") -> dict:
    """Districts (``level="county"``) or towns ranked by composite index (lower is better),
    water compliance rate and good-day ratio (higher is better); equal values (as published,
    2 decimals) share a rank; change on the previous period."""
    if level not in ("county", "town"):
        raise PeriodError("level must be county or town")
    now = _district_values(user, period=period, level=level)
    before = _district_values(user, period=period.previous(), level=level)
    codes = sorted(now, key=lambda c: c)
    rows = []
    for c in codes:
        j = now[c]["j"]
        rows.append({"code": c, "name": j.name, "name_en": j.name_en, "level": j.level,
                     **{k: v for k, v in now[c].items() if k != "j"}})
    for measure, desc, dec in RANK_MEASURES:
        cur = _rank([r.get(measure) for r in rows], descending=desc, decimals=dec)
        prev_vals = [before.get(r["code"], {}).get(measure) for r in rows]
        prev = _rank(prev_vals, descending=desc, decimals=dec)
        for r, rk, pv, prk in zip(rows, cur, prev_vals, prev):
            r.setdefault(measure, None)
            r[f"{measure}_rank"] = rk
            r[f"{measure}_previous"] = pv
            r[f"{measure}_previous_rank"] = prk
            r[f"{measure}_rank_change"] = (prk - rk) if (rk and prk) else None  # positive: moved up
            v = r.get(measure)
            if measure == "composite_index":
                r[f"{measure}_change_rate"] = _r(100.0 * float(composite.change_rate(v, pv)), 2) if (v is not None and pv) else None
            else:
                r[f"{measure}_change"] = _r(v - pv, 2) if (v is not None and pv is not None) else None
    rows.sort(key=lambda r: (r["composite_index_rank"] or 10**6, r["code"]))
    return {"kind": "rankings", "period": _period_out(period), "level": level, "rows": rows}
