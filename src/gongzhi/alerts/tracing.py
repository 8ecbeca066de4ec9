"""Source tracing (溯源) for an alarm: which upstream outlet or site the water came from.

Django glue around the pure :func:`gongzhi.analytics.rank_sources`: from the alarm's section
(or, for an outlet alarm, the first section downstream of the outlet) it walks the registry's
river network **upstream** (:func:`gongzhi.alerts.propagation.build_network`), loads the hourly
series of each upstream outlet and site for the alarm's parameter and, for enterprise outlets,
their characteristic factors, ranks them and returns the evidence.

Only data the viewer may read takes part: the section's series and every candidate's series
are read through :func:`gongzhi.observations.queries.series_data_many` (the sharing policy's
data levels and approved periods), and a candidate whose registry record the viewer may not
see (:func:`gongzhi.sharing.policy.can_view`) is neither ranked nor named — it only adds to
``hidden``. What was not considered is listed with the reason: ``no_data`` (nothing in the
window), ``not_shared`` (record visible, data not shared with the viewer), ``no_path`` (an
outlet on the same waterbody not placed on the river network), ``beyond`` (more than
``max_candidates`` nearer candidates).

Characteristic factors of an outlet: the enterprise's own ``characteristic_pollutants``
(registry, matched to parameters by Chinese name or key), plus :data:`INDUSTRY_FACTORS`.
"""

from __future__ import annotations

import datetime as dt
import math

import numpy as np
from django.core.cache import cache
from django.utils import timezone

from gongzhi.alerts.propagation import _outlet_code, build_network, downstream_of
from gongzhi.analytics import Candidate, rank_sources
from gongzhi.observations.queries import series_data_many
from gongzhi.registry import models as reg
from gongzhi.sharing import policy

#: Characteristic factors per industry (registry ``Enterprise.industry`` codes) looked at in
#: addition to the alarm's parameter. A project convention, following the characteristic
#: pollutants named in the sector discharge standards: antimony for textile dyeing
#: (GB 4287-2012 as amended, 总锑), copper/nickel for PCB and electroplating (GB 21900-2008),
#: ammonia nitrogen, total phosphorus and COD for municipal wastewater (GB 18918-2002).
INDUSTRY_FACTORS: dict[str, tuple[str, ...]] = {
    "textile_dyeing": ("sb", "cod", "nh3_n"),
    "pcb": ("cu", "ni"),
    "electroplating": ("cu", "ni", "cr6"),
    "municipal_wastewater": ("nh3_n", "tp", "cod"),
    "chemicals": ("volatile_phenol", "cod"),
}

CACHE_SECONDS = 300
#: Hours of data after the alarm began that the ranking uses (the pulse's tail).
AFTER_HOURS = 12


def _cache_key(alarm, user) -> str:
    return f"gongzhi:alerts:trace:{alarm.pk}:{getattr(user, 'pk', None)}"


def cached_trace(*, alarm, user, now=None, **kw) -> dict:
    """:func:`trace_sources` cached per alarm and viewer for :data:`CACHE_SECONDS`."""
    key = _cache_key(alarm, user)
    found = cache.get(key)
    if found is None:
        found = trace_sources(alarm=alarm, user=user, now=now, **kw)
        cache.set(key, found, CACHE_SECONDS)
    return found


def _finite(v):
    if v is None:
        return None
    v = float(v)
    return round(v, 4) if math.isfinite(v) else None


def _factor_parameters(enterprise: reg.Enterprise, by_name: dict, by_key: dict) -> list[reg.Parameter]:
    out = []
    for token in (enterprise.characteristic_pollutants or "").replace("，", ",").replace("、", ",").split(","):
        token = token.strip()
        p = by_name.get(token) or by_key.get(token)
        if p is not None:
            out.append(p)
    for key in INDUSTRY_FACTORS.get(enterprise.industry or "", ()):
        if key in by_key:
            out.append(by_key[key])
    seen, uniq = set(), []
    for p in out:
        if p.pk not in seen:
            seen.add(p.pk)
            uniq.append(p)
    return uniq


def _arrays(data: dict) -> tuple[np.ndarray, np.ndarray]:
    t = np.asarray(data.get("times") or [], dtype=float) / 1000.0
    vals = [v if (v is not None and ok is not False) else np.nan
            for v, ok in zip(data.get("values") or [], data.get("valid") or [True] * len(t))]
    x = np.asarray(vals, dtype=float)
    return t, x


def _label(holder) -> dict:
    if isinstance(holder, reg.Site):
        return {"type": "site", "code": holder.code, "name": holder.name, "name_en": holder.name_en or holder.name,
                "owner": holder.owner.short_name or holder.owner.name, "lon": holder.lon, "lat": holder.lat}
    e = holder.enterprise
    return {"type": "outlet", "code": f"{e.code}/{holder.code}", "name": f"{e.name} {holder.name}",
            "name_en": f"{getattr(e, 'name_en', '') or e.name} {holder.code}",
            "owner": e.owner.short_name or e.owner.name, "industry": e.industry, "lon": holder.lon, "lat": holder.lat}


def trace_sources(*, alarm, user, now: dt.datetime | None = None, window_hours: float = 72,
                  max_candidates: int = 30) -> dict:
    """Rank the upstream outlets and sites of ``alarm`` as its source, as ``user`` may see them.

    Returns a JSON-friendly dict: ``status`` (``ok`` or why nothing was ranked), ``section``
    (where the alarm's series is read), ``parameter``, ``window`` (ISO start, end),
    ``candidates`` (best first: place, factor, rank, score, travel time, best lag, correlation,
    overlap, lag error, peak z, waypoint_of, reasons), ``not_considered`` (place, reason) and
    ``hidden`` (how many upstream places the user may not see; never named)."""
    now = now or timezone.now()
    out = {"alarm": alarm.pk, "status": "ok", "section": None, "parameter": alarm.parameter.key,
           "window": None, "candidates": [], "not_considered": [], "hidden": 0}
    site = alarm.site
    if site is None:
        places, _ = downstream_of(outlet=alarm.outlet)
        sections = [p.site for p in places if p.site.kind == reg.SiteKind.WATER_SECTION] if places else []
        if not sections:
            out["status"] = "no_section"
            return out
        site = sections[0]
    out["section"] = _label(site)
    net = build_network()
    if site.code not in net.sites:
        out["status"] = "not_on_network"
        return out
    start = alarm.started_at - dt.timedelta(hours=window_hours)
    end = min(alarm.started_at + dt.timedelta(hours=AFTER_HOURS), now)
    if end <= start:
        end = alarm.started_at + dt.timedelta(hours=1)
    out["window"] = [start.isoformat(), end.isoformat()]
    found = series_data_many(user, parameters=[alarm.parameter], start=start, end=end, resolution="hour", site=site)
    if alarm.parameter_id not in found:
        out["status"] = "section_not_shared"
        return out
    st, sx = _arrays(found[alarm.parameter_id])
    if not np.isfinite(sx).any():
        out["status"] = "section_no_data"
        return out

    horizon = window_hours * 3600.0
    arrivals = [a for a in net.upstream(site.code, kind="site", max_time_s=horizon, include_nodes=False)
                if a.code != site.code and a.kind in ("site", "outlet")]
    arrivals.sort(key=lambda a: (a.travel_time_s, a.code))
    site_codes = [a.code for a in arrivals if a.kind == "site"]
    outlet_pks = [int(a.code.split("-", 1)[1]) for a in arrivals if a.kind == "outlet"]
    sites = {s.code: s for s in reg.Site.objects.filter(code__in=site_codes).select_related("owner")}
    outlets = {_outlet_code(o.pk): o for o in reg.Outlet.objects.filter(pk__in=outlet_pks)
               .select_related("enterprise__owner")}
    params = list(reg.Parameter.objects.all())
    by_name = {p.name_zh: p for p in params}
    by_key = {p.key: p for p in params}

    visible = []
    for a in arrivals:
        holder = sites.get(a.code) if a.kind == "site" else outlets.get(a.code)
        if holder is None:
            continue
        if not policy.can_view(user, holder):
            out["hidden"] += 1
            continue
        if a.kind == "outlet" and holder.kind != reg.OutletKind.WASTEWATER:
            continue
        visible.append((a, holder))
    for a, holder in visible[max_candidates:]:
        out["not_considered"].append({**_label(holder), "travel_time_s": a.travel_time_s, "reason": "beyond"})
    visible = visible[:max_candidates]

    cands: list[Candidate] = []
    meta: dict[str, dict] = {}
    lo = start - dt.timedelta(seconds=max((a.travel_time_s for a, _ in visible), default=0) * 1.5 + 3 * 3600)
    for a, holder in visible:
        wanted = [alarm.parameter]
        if a.kind == "outlet":
            wanted += [p for p in _factor_parameters(holder.enterprise, by_name, by_key) if p.pk != alarm.parameter_id]
        kw = {"site": holder} if a.kind == "site" else {"outlet": holder}
        data = series_data_many(user, parameters=wanted, start=lo, end=end, resolution="hour", **kw)
        label = {**_label(holder), "travel_time_s": a.travel_time_s, "distance_m": a.distance_m}
        if not data:
            out["not_considered"].append({**label, "reason": "not_shared"})
            continue
        used = 0
        for p in wanted:
            if p.pk not in data:
                continue
            t, x = _arrays(data[p.pk])
            if not np.isfinite(x).any():
                continue
            name = f"{a.code}|{p.key}"
            cands.append(Candidate(name, t, x, travel_time_s=a.travel_time_s, kind=a.kind, factor=p.key))
            meta[name] = {**label, "place": a.code, "factor": p.key, "factor_name": p.name_zh,
                          "factor_name_en": p.name_en or p.key}
            used += 1
        if not used:
            out["not_considered"].append({**label, "reason": "no_data"})

    # outlets on the alarm section's waterbody that are not on the river network: no path known
    if site.waterbody_id:
        for o in (reg.Outlet.objects.filter(receiving_waterbody_id=site.waterbody_id, reach__isnull=True,
                                            kind=reg.OutletKind.WASTEWATER).select_related("enterprise__owner")):
            if policy.can_view(user, o):
                out["not_considered"].append({**_label(o), "travel_time_s": None, "reason": "no_path"})
            else:
                out["hidden"] += 1

    if not cands:
        out["status"] = "no_candidates"
        return out
    names = {a.code: [n for n in meta if meta[n]["place"] == a.code] for a, _ in visible}
    upstream_of = {}
    for a, _h in visible:
        ups = net.upstream(a.code, kind=a.kind, max_time_s=horizon, include_nodes=False)
        upstream_of.update({n: {m for u in ups for m in names.get(u.code, ())} for n in names.get(a.code, ())})
    ranked = rank_sources(st, sx, cands, upstream_of=upstream_of)
    seen: dict[str, dict] = {}
    for r in ranked:
        m = meta[r.name]
        entry = {
            "factor": r.factor, "factor_name": m["factor_name"], "factor_name_en": m["factor_name_en"],
            "score": _finite(r.score), "correlation": _finite(r.correlation), "best_lag_s": _finite(r.best_lag_s),
            "expected_lag_s": _finite(r.expected_lag_s), "lag_error_s": _finite(r.lag_error_s), "overlap": r.overlap,
            "peak_z": _finite(r.peak_z), "timing": _finite(r.timing), "magnitude": _finite(r.magnitude),
            "reasons": list(r.reasons),
            "waypoint_of": meta[r.waypoint_of]["code"] if r.waypoint_of in meta else None,
            "waypoint_of_name": meta[r.waypoint_of]["name"] if r.waypoint_of in meta else None,
            "waypoint_of_name_en": meta[r.waypoint_of]["name_en"] if r.waypoint_of in meta else None,
        }
        if m["place"] in seen:
            seen[m["place"]]["other_factors"].append(entry)
            continue
        seen[m["place"]] = {k: v for k, v in m.items() if k not in ("factor", "factor_name", "factor_name_en")} | entry \
            | {"other_factors": []}
    out["candidates"] = list(seen.values())
    for i, c in enumerate(out["candidates"]):
        c["rank"] = i + 1
        c["waypoint"] = c["waypoint_of"] is not None
        c["travel_time_h"] = round(c["travel_time_s"] / 3600.0, 1)
        c["best_lag_h"] = round(c["best_lag_s"] / 3600.0, 1) if c["best_lag_s"] is not None else None
    return out
