"""Directed river network with travel times (河网上下游追溯).

A river network is a set of **reaches** (河段): directed edges from an upstream node to a downstream
node, each with a length (m) and a representative flow velocity (m/s), so the travel time of water
along a reach is ``length_m / velocity_m_s`` seconds (plug flow, no dispersion). **Sites** (sections,
outlets) sit on a reach at a **chainage**: the distance in metres from the reach's upstream node.

:meth:`RiverNetwork.downstream` answers "where does water passing this site go, how far, and when
does it arrive": for every site and node reachable along the flow direction it returns the travel
distance and the first-arrival time, i.e. the shortest travel time over all paths (Dijkstra on
travel time; where the network splits, each branch is reached; where it rejoins, the faster path
wins). :meth:`RiverNetwork.upstream` is the reverse: every place whose water reaches the site, with
the time it takes to get there (溯源 candidates).

Model limits: velocities are constant per reach and flow never reverses. The plain river net of the
Taihu basin is tidal and sluice-controlled, so times are indicative (for ordering warnings and
choosing which sections to watch), not a transport model.

Codes of sites and nodes live in separate namespaces; a code used for both is ambiguous in
:meth:`RiverNetwork.downstream`, pass ``kind=`` then.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Iterable, Mapping

import networkx as nx

__all__ = ["Reach", "Arrival", "RiverNetwork"]


@dataclass(frozen=True)
class Reach:
    """A directed reach: water flows from ``from_node`` to ``to_node``."""

    code: str
    from_node: str
    to_node: str
    length_m: float
    velocity_m_s: float
    waterbody: str | None = None

    @property
    def travel_time_s(self) -> float:
        return self.length_m / self.velocity_m_s


@dataclass(frozen=True)
class Arrival:
    """A place reached from the start: ``kind`` is ``"node"`` or the site's kind (``"site"``,
    ``"outlet"`` …); ``distance_m`` is along the fastest path, ``travel_time_s`` the first-arrival
    time; ``path`` lists the (kind, code) vertices from the start to here."""

    kind: str
    code: str
    distance_m: float
    travel_time_s: float
    path: tuple[tuple[str, str], ...] = ()

    @property
    def travel_time_h(self) -> float:
        return self.travel_time_s / 3600.0


class RiverNetwork:
    """A directed river network of reaches with sites placed on them.

    Build it with :meth:`add_node`, :meth:`add_reach` and :meth:`add_site`, or from a demo region dict
    with :meth:`from_region`. The graph (``.graph``, a :class:`networkx.DiGraph`) is rebuilt lazily:
    each reach is split at its sites, vertices are ``(kind, code)`` tuples and edges carry
    ``length_m``, ``time_s`` and ``reach``.
    """

    def __init__(self) -> None:
        self.nodes: dict[str, dict] = {}
        self.reaches: dict[str, Reach] = {}
        self.sites: dict[str, tuple[str, str, float, dict]] = {}  # code -> (kind, reach, chainage, attrs)
        self._graph: nx.DiGraph | None = None

    # -- building -----------------------------------------------------------------------------
    def add_node(self, code: str, **attrs: Any) -> None:
        """Add a node (junction, source, outlet, station point); attributes are kept."""
        self.nodes[code] = dict(attrs)
        self._graph = None

    def add_reach(self, code: str, from_node: str, to_node: str, length_m: float, velocity_m_s: float,
                  waterbody: str | None = None) -> Reach:
        """Add a directed reach (from → to is the flow direction). Unknown nodes are created."""
        if code in self.reaches:
            raise ValueError(f"duplicate reach {code!r}")
        if not length_m >= 0:
            raise ValueError(f"reach {code}: length_m must be >= 0")
        if not velocity_m_s > 0:
            raise ValueError(f"reach {code}: velocity_m_s must be > 0")
        if from_node == to_node:
            raise ValueError(f"reach {code}: from_node == to_node")
        for n in (from_node, to_node):
            self.nodes.setdefault(n, {})
        r = Reach(code, from_node, to_node, float(length_m), float(velocity_m_s), waterbody)
        self.reaches[code] = r
        self._graph = None
        return r

    def add_site(self, code: str, reach: str, chainage_m: float, kind: str = "site", **attrs: Any) -> None:
        """Place a site on ``reach`` at ``chainage_m`` metres from the reach's upstream node."""
        if kind == "node":
            raise ValueError("kind 'node' is reserved")
        if code in self.sites:
            raise ValueError(f"duplicate site {code!r}")
        r = self.reaches.get(reach)
        if r is None:
            raise KeyError(f"site {code}: unknown reach {reach!r}")
        if not 0 <= chainage_m <= r.length_m:
            raise ValueError(f"site {code}: chainage {chainage_m} outside reach {reach} (0..{r.length_m})")
        self.sites[code] = (kind, reach, float(chainage_m), dict(attrs))
        self._graph = None

    @classmethod
    def from_region(cls, region: Mapping[str, Any], *, include_outlets: bool = True) -> "RiverNetwork":
        """Build from a ``gongzhi.demo-region/1`` dict (see docs/demo-region.md): its river network,
        every site with a ``reach`` (kind ``site``) and, with ``include_outlets``, every enterprise
        outlet with a ``reach`` (kind ``outlet``)."""
        net = cls()
        rn = region["river_network"]
        for n in rn["nodes"]:
            net.add_node(n["code"], name=n.get("name"), lon=n.get("lon"), lat=n.get("lat"), kind=n.get("kind"))
        for r in rn["reaches"]:
            net.add_reach(r["code"], r["from_node"], r["to_node"], r["length_m"], r["velocity_m_s"], r.get("waterbody"))
        for s in region.get("sites", []):
            if s.get("reach"):
                net.add_site(s["code"], s["reach"], s["chainage_m"], "site", name=s.get("name"))
        if include_outlets:
            for e in region.get("enterprises", []):
                for o in e.get("outlets", []):
                    if o.get("reach"):
                        net.add_site(o["code"], o["reach"], o["chainage_m"], "outlet", name=o.get("name"),
                                     enterprise=e["code"])
        return net

    # -- graph ---------------------------------------------------------------------------------
    @property
    def graph(self) -> nx.DiGraph:
        if self._graph is None:
            self._graph = self._build()
        return self._graph

    def _build(self) -> nx.DiGraph:
        g = nx.DiGraph()
        for code, attrs in self.nodes.items():
            g.add_node(("node", code), **attrs)
        on_reach: dict[str, list[tuple[float, str, str]]] = {}
        for code, (kind, reach, ch, attrs) in self.sites.items():
            g.add_node((kind, code), **attrs)
            on_reach.setdefault(reach, []).append((ch, kind, code))
        for r in self.reaches.values():
            stops = [(0.0, "node", r.from_node)] + sorted(on_reach.get(r.code, [])) + [(r.length_m, "node", r.to_node)]
            for (c0, k0, n0), (c1, k1, n1) in zip(stops, stops[1:]):
                length = c1 - c0
                t = length / r.velocity_m_s
                u, v = (k0, n0), (k1, n1)
                old = g.get_edge_data(u, v)
                if old is None or t < old["time_s"]:  # parallel reaches: keep the faster one
                    g.add_edge(u, v, length_m=length, time_s=t, reach=r.code)
        return g

    def _vertex(self, code: str, kind: str | None) -> tuple[str, str]:
        if kind is not None:
            v = (kind, code) if kind == "node" else (self.sites[code][0], code) if code in self.sites else None
            if v is None or v not in self.graph:
                raise KeyError(f"unknown {kind} {code!r}")
            return v
        is_site, is_node = code in self.sites, code in self.nodes
        if is_site and is_node:
            raise KeyError(f"{code!r} is both a site and a node: pass kind=")
        if is_site:
            return (self.sites[code][0], code)
        if is_node:
            return ("node", code)
        raise KeyError(f"unknown site or node {code!r}")

    def _trace(self, code: str, kind: str | None, reverse: bool, max_distance_m: float | None,
               max_time_s: float | None, include_nodes: bool) -> list[Arrival]:
        start = self._vertex(code, kind)
        g = self.graph.reverse(copy=False) if reverse else self.graph
        times, paths = nx.single_source_dijkstra(g, start, cutoff=max_time_s, weight="time_s")
        out = []
        for v, t in times.items():
            if v == start:
                continue
            if not include_nodes and v[0] == "node":
                continue
            path = paths[v]
            dist = sum(g.edges[a, b]["length_m"] for a, b in zip(path, path[1:]))
            if max_distance_m is not None and dist > max_distance_m:
                continue
            out.append(Arrival(v[0], v[1], dist, t, tuple(path)))
        out.sort(key=lambda a: (a.travel_time_s, a.distance_m, a.kind, a.code))
        return out

    # -- queries -------------------------------------------------------------------------------
    def downstream(self, code: str, *, kind: str | None = None, max_distance_m: float | None = None,
                   max_time_s: float | None = None, include_nodes: bool = True) -> list[Arrival]:
        """Everything downstream of site or node ``code``, ordered by first-arrival time.

        Times are seconds for water leaving ``code`` to arrive; distances metres along that fastest
        path. ``max_time_s`` / ``max_distance_m`` limit the search; ``include_nodes=False`` returns
        sites and outlets only.
        """
        return self._trace(code, kind, False, max_distance_m, max_time_s, include_nodes)

    def upstream(self, code: str, *, kind: str | None = None, max_distance_m: float | None = None,
                 max_time_s: float | None = None, include_nodes: bool = True) -> list[Arrival]:
        """Everything upstream of ``code``: each place whose water reaches ``code``, with the
        (shortest) time water takes from there to ``code`` and the distance along that path."""
        return self._trace(code, kind, True, max_distance_m, max_time_s, include_nodes)

    def travel(self, source: str, target: str) -> Arrival | None:
        """The first arrival at ``target`` of water leaving ``source`` (``None`` if not downstream)."""
        tv = self._vertex(target, None)
        for a in self.downstream(source):
            if (a.kind, a.code) == tv:
                return a
        return None

    def validate(self) -> list[str]:
        """Problems of the network as messages: cycles (flow loops) and nodes on no reach."""
        problems = []
        try:
            cycle = nx.find_cycle(self.graph)
            problems.append(f"cycle: {cycle}")
        except nx.NetworkXNoCycle:
            pass
        used = {r.from_node for r in self.reaches.values()} | {r.to_node for r in self.reaches.values()}
        problems += [f"isolated node {n}" for n in self.nodes if n not in used]
        return problems

    def sites_on(self, reaches: Iterable[str]) -> list[str]:
        """Codes of the sites on the given reaches."""
        rs = set(reaches)
        return [c for c, (_, r, _, _) in self.sites.items() if r in rs]
