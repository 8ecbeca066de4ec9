"""Where water from an alarm's site or outlet goes, and when (下游传播).

Builds a :class:`gongzhi.geo.network.RiverNetwork` from the registry (reaches with lengths and
velocities, sites and outlets placed on them) and answers, for an alarm place, the downstream
sections, the jurisdictions and bureaus they belong to (and, for a boundary section, the
downstream jurisdiction it hands water to), drinking-water sources, with first-arrival times.
Read-only: the warnings themselves are written by :mod:`gongzhi.alerts.services`.
"""

from __future__ import annotations

import datetime as dt
import threading
from dataclasses import dataclass, field

from django.db.models import Count, Max

from gongzhi.geo.network import RiverNetwork
from gongzhi.registry import models as reg

#: How far ahead warnings look (water further than this is not warned about).
HORIZON_S = 72 * 3600

_cache_lock = threading.Lock()
_cache: dict = {}


def _outlet_code(pk: int) -> str:
    return f"outlet-{pk}"


def _network_version() -> tuple:
    r = reg.Reach.objects.aggregate(n=Count("pk"), m=Max("pk"))
    s = reg.Site.objects.filter(reach__isnull=False).aggregate(n=Count("pk"), m=Max("pk"))
    o = reg.Outlet.objects.filter(reach__isnull=False).aggregate(n=Count("pk"), m=Max("pk"))
    return (r["n"], r["m"], s["n"], s["m"], o["n"], o["m"])


def build_network() -> RiverNetwork:
    """The registry's river network (cached until reaches or placed sites change)."""
    version = _network_version()
    with _cache_lock:
        if _cache.get("version") == version:
            return _cache["net"]
    net = RiverNetwork()
    for n in reg.RiverNode.objects.all():
        net.add_node(n.code, name=n.name, lon=n.lon, lat=n.lat)
    for r in reg.Reach.objects.select_related("from_node", "to_node", "waterbody"):
        net.add_reach(r.code, r.from_node.code, r.to_node.code, r.length_m, r.velocity_m_s, r.waterbody.code)
    for s in reg.Site.objects.filter(reach__isnull=False).select_related("reach"):
        ch = min(max(s.chainage_m or 0.0, 0.0), s.reach.length_m)
        net.add_site(s.code, s.reach.code, ch, "site", name=s.name)
    for o in reg.Outlet.objects.filter(reach__isnull=False).select_related("reach"):
        ch = min(max(o.chainage_m or 0.0, 0.0), o.reach.length_m)
        net.add_site(_outlet_code(o.pk), o.reach.code, ch, "outlet", name=o.name)
    with _cache_lock:
        _cache["version"], _cache["net"] = version, net
    return net


@dataclass
class Place:
    """A place reached downstream: a section or a drinking-water source (a site)."""

    site: reg.Site
    travel_time_s: float
    distance_m: float
    path: list  # [[lon, lat], …] from the alarm place to here


@dataclass
class BureauReach:
    """What one downstream bureau is told: its places with arrival times."""

    bureau: reg.Bureau
    travel_time_s: float
    distance_m: float
    places: list[Place] = field(default_factory=list)
    jurisdictions: set = field(default_factory=set)
    path: list = field(default_factory=list)
    reason: str = ""


def _coords(net: RiverNetwork, vertex, sites: dict, outlets: dict) -> list | None:
    kind, code = vertex
    if kind == "node":
        a = net.nodes.get(code) or {}
        return [a["lon"], a["lat"]] if a.get("lon") is not None else None
    if kind == "site":
        s = sites.get(code)
        return [s.lon, s.lat] if s else None
    o = outlets.get(code)
    return [o.lon, o.lat] if o else None


def downstream_of(*, site: reg.Site | None = None, outlet: reg.Outlet | None = None,
                  horizon_s: float = HORIZON_S) -> tuple[list[Place], dict[int, BureauReach]]:
    """Places downstream of ``site`` or ``outlet`` (first arrival order) and, per bureau other
    than the owner, what it must be warned about. ``([], {})`` when the place is not on the network."""
    net = build_network()
    if site is not None:
        code, kind, owner_id = site.code, "site", site.owner_id
    else:
        code, kind, owner_id = _outlet_code(outlet.pk), "outlet", outlet.enterprise.owner_id
    if code not in net.sites:
        return [], {}
    arrivals = net.downstream(code, kind=kind, max_time_s=horizon_s, include_nodes=False)
    site_codes = [a.code for a in arrivals if a.kind == "site"]
    sites = {s.code: s for s in reg.Site.objects.filter(code__in=site_codes + ([site.code] if site else []))
             .select_related("owner", "jurisdiction", "downstream_jurisdiction")}
    outlet_pks = [int(a.code.split("-", 1)[1]) for a in arrivals if a.kind == "outlet"]
    if outlet is not None:
        outlet_pks.append(outlet.pk)
    outlets = {_outlet_code(o.pk): o for o in reg.Outlet.objects.filter(pk__in=outlet_pks)}
    places: list[Place] = []
    for a in arrivals:
        if a.kind != "site" or a.code not in sites:
            continue
        path = [c for c in (_coords(net, v, sites, outlets) for v in a.path) if c is not None]
        places.append(Place(sites[a.code], a.travel_time_s, a.distance_m, path))

    bureaus_of_j: dict[int, list[reg.Bureau]] = {}

    def jurisdiction_bureaus(jid: int) -> list[reg.Bureau]:
        if jid not in bureaus_of_j:
            bureaus_of_j[jid] = list(reg.Bureau.objects.filter(jurisdiction_id=jid, kind=reg.BureauKind.BUREAU))
        return bureaus_of_j[jid]

    reached: dict[int, BureauReach] = {}

    def add(bureau: reg.Bureau, place: Place | None, t: float, d: float, path: list, jid: int | None, reason: str) -> None:
        if bureau.pk == owner_id or bureau.kind != reg.BureauKind.BUREAU:
            return
        br = reached.get(bureau.pk)
        if br is None:
            br = reached[bureau.pk] = BureauReach(bureau, t, d, path=path, reason=reason)
        elif t < br.travel_time_s:
            br.travel_time_s, br.distance_m, br.path, br.reason = t, d, path, reason
        if place is not None and all(p.site.pk != place.site.pk for p in br.places):
            br.places.append(place)
        if jid:
            br.jurisdictions.add(jid)

    # the alarm place itself, if it is a boundary section: the downstream jurisdiction gets the water now
    if site is not None and site.is_boundary and site.downstream_jurisdiction_id:
        here = [[site.lon, site.lat]]
        for b in jurisdiction_bureaus(site.downstream_jurisdiction_id):
            add(b, None, 0.0, 0.0, here, site.downstream_jurisdiction_id, "boundary")
    for p in places:
        s = p.site
        add(s.owner, p, p.travel_time_s, p.distance_m, p.path, s.jurisdiction_id, "section")
        if s.jurisdiction_id:
            for b in jurisdiction_bureaus(s.jurisdiction_id):
                add(b, p, p.travel_time_s, p.distance_m, p.path, s.jurisdiction_id, "jurisdiction")
        if s.is_boundary and s.downstream_jurisdiction_id:
            for b in jurisdiction_bureaus(s.downstream_jurisdiction_id):
                add(b, None, p.travel_time_s, p.distance_m, p.path, s.downstream_jurisdiction_id, "boundary")
    return places, reached


def arrival(start: dt.datetime, seconds: float) -> dt.datetime:
    return start + dt.timedelta(seconds=seconds)
