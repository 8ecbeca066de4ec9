"""Pollution episodes that travel downstream (污染团沿河网传播).

An :class:`Episode` starts at a place on the river network — a boundary section or a direct
discharge outlet — at ``start`` and lasts ``duration_s``. It raises the in-stream
concentrations by ``river`` (HJ 212 code -> increment at the source, mg/L; DO negative) and, at
an outlet source, the outlet's own discharge by ``outlet``.

:func:`propagate` places it at every site downstream (:meth:`gongzhi.geo.network.RiverNetwork.downstream`):
it arrives after the network travel time τ, weakened by first-order decay ``exp(-τ/decay)``
and by mixing in each lake reach passed, and spread out by dispersion: the box pulse of the
source is convolved with a Gaussian whose width grows with τ. The shape keeps its centroid
(arrival + duration/2) and its mass times the attenuation, so :func:`pulse` can be checked.
"""

from __future__ import annotations

import datetime as dt
import math
from dataclasses import dataclass, field
from typing import Iterable, Mapping

import numpy as np

from gongzhi.geo.network import RiverNetwork

__all__ = [
    "Episode", "EpisodeArrival", "propagate", "pulse", "demo_episodes", "random_episodes", "episode_sources",
    "ScriptedFault", "demo_faults", "DEMO_PLACES", "DECAY_S", "LAKE_FACTOR", "SIGMA0_S", "DISPERSION",
]

UTC = dt.timezone.utc
#: first-order decay time of the excess (ammonia nitrification, settling of TP): 4 days [demo assumption]
DECAY_S = 4 * 86400.0
#: share of the excess left after mixing through one lake reach [demo assumption]
LAKE_FACTOR = 0.6
#: width (s) of the pulse edges at the source, and growth of the Gaussian width with travel time
SIGMA0_S = 900.0
DISPERSION = 0.12

#: in-stream increments at the source of a typical organic / nutrient episode (mg/L; DO negative)
RIVER_TYPICAL = {"w21003": 2.4, "w01019": 5.0, "w21011": 0.35, "w21001": 3.0, "w01009": -3.0, "w01014": 250.0,
                 "w01001": -0.3}
#: increments of the discharge of a dyeing outlet during an illicit discharge (mg/L)
OUTLET_DYEING = {"w01018": 260.0, "w21003": 18.0, "w21011": 1.5, "w21001": 20.0, "x-sb": 0.6}


@dataclass(frozen=True)
class EpisodeArrival:
    """Where and when an episode is seen: ``travel_time_s`` after the source, ``attenuation``
    of its amplitude, ``sigma_s`` the Gaussian spread of its edges."""

    place: str
    kind: str  # "site" or "outlet" (the source outlet itself)
    travel_time_s: float
    distance_m: float
    attenuation: float
    sigma_s: float
    arrival: dt.datetime  # start + travel time (onset of the box before dispersion)
    duration_s: float
    lake_reaches: int = 0

    @property
    def centroid(self) -> dt.datetime:
        """Mass centre of the pulse here: arrival + duration / 2 (the dispersion is symmetric)."""
        return self.arrival + dt.timedelta(seconds=self.duration_s / 2)

    @property
    def peak_factor(self) -> float:
        """Peak of the dispersed pulse relative to the source amplitude (attenuation × spreading)."""
        return self.attenuation * float(pulse(np.array([self.duration_s / 2]), 0.0, self.duration_s, self.sigma_s)[0])


@dataclass(frozen=True)
class Episode:
    id: str
    source: str
    start: dt.datetime
    duration_s: float
    river: Mapping[str, float] = field(default_factory=dict)
    outlet: Mapping[str, float] = field(default_factory=dict)
    name: str = ""
    demo: bool = False

    @property
    def end(self) -> dt.datetime:
        return self.start + dt.timedelta(seconds=self.duration_s)


def _lake_reaches(net: RiverNetwork, path, lakes: set[str]) -> int:
    seen = set()
    for a, b in zip(path, path[1:]):
        r = net.graph.edges[a, b]["reach"]
        if net.reaches[r].waterbody in lakes:
            seen.add(r)
    return len(seen)


def propagate(episode: Episode, net: RiverNetwork, *, lakes: Iterable[str] = ()) -> list[EpisodeArrival]:
    """The episode at its source and at every site downstream, in order of arrival."""
    lakes = set(lakes)
    kind = net.sites[episode.source][0] if episode.source in net.sites else "node"
    out = [EpisodeArrival(episode.source, kind, 0.0, 0.0, 1.0, SIGMA0_S, episode.start, episode.duration_s)]
    for a in net.downstream(episode.source, include_nodes=False):
        if a.kind != "site":
            continue  # outlets discharge into the river; a passing pulse does not change them
        n_lake = _lake_reaches(net, a.path, lakes)
        att = math.exp(-a.travel_time_s / DECAY_S) * LAKE_FACTOR ** n_lake
        sigma = SIGMA0_S + DISPERSION * a.travel_time_s
        out.append(EpisodeArrival(a.code, a.kind, a.travel_time_s, a.distance_m, att, sigma,
                                  episode.start + dt.timedelta(seconds=a.travel_time_s),
                                  episode.duration_s, n_lake))
    return out


def _erf(x: np.ndarray) -> np.ndarray:
    """Error function, vectorised (Abramowitz & Stegun 7.1.26, |error| < 1.5e-7)."""
    s = np.sign(x)
    x = np.abs(x)
    t = 1.0 / (1.0 + 0.3275911 * x)
    y = 1.0 - (((((1.061405429 * t - 1.453152027) * t) + 1.421413741) * t - 0.284496736) * t + 0.254829592) * t * np.exp(-x * x)
    return s * y


def pulse(t_s: np.ndarray, onset_s: float, duration_s: float, sigma_s: float) -> np.ndarray:
    """A unit box ``[onset, onset + duration)`` convolved with a Gaussian of width ``sigma_s``
    at times ``t_s`` (epoch seconds). Its integral is ``duration_s`` and its centroid
    ``onset + duration / 2`` whatever the width."""
    k = 1.0 / (math.sqrt(2.0) * max(sigma_s, 1e-6))
    return 0.5 * (_erf((t_s - onset_s) * k) - _erf((t_s - onset_s - duration_s) * k))


def episode_sources(region: Mapping, net: RiverNetwork) -> list[str]:
    """Places random episodes may start: upstream boundary sections and direct-discharge outlets on
    the network that have something downstream."""
    out = []
    for s in region.get("sites", []):
        if s.get("boundary_section") and s.get("reach") and s["code"] in net.sites:
            if any(a.kind == "site" for a in net.downstream(s["code"], include_nodes=False)):
                out.append(s["code"])
    for e in region.get("enterprises", []):
        for o in e.get("outlets", []):
            if o.get("reach") and o["code"] in net.sites:
                out.append(o["code"])
    return out


def demo_episodes(t0: dt.datetime, gap: dt.timedelta = dt.timedelta(days=3)) -> list[Episode]:
    """The two deterministic demo episodes, the first starting at ``t0``, the second ``gap`` later:

    * ``demo-taipu``: a night-time discharge of the dyeing works E320509-01 (吴江) into 太浦河:
      seen at 芦墟, then at 金泽 and at the 太浦河 raw-water intake (Shanghai's drinking-water
      source) — antimony, COD and ammonia at the outlet, ammonia/CODMn/TP in the river;
    * ``demo-jishui``: ``gap`` later (three days in a back-fill; the live simulator of
      ``gongzhi demo`` uses 90 minutes), a plume crossing the 昆山→青浦 boundary on 急水港 at
      周庄 and entering 淀山湖.
    """
    t0 = t0.astimezone(UTC)
    return [
        Episode("demo-taipu", "E320509-01-DW001", t0, 8 * 3600.0,
                river={"w21003": 2.6, "w01019": 5.5, "w21011": 0.30, "w21001": 3.2, "w01009": -2.5,
                       "w01014": 300.0, "w01001": -0.25},
                outlet=dict(OUTLET_DYEING), name="太浦河印染废水偷排（演示）", demo=True),
        Episode("demo-jishui", "W320583-S01", t0 + gap, 12 * 3600.0,
                river={"w21003": 2.2, "w01019": 4.5, "w21011": 0.40, "w21001": 2.8, "w01009": -2.8,
                       "w01014": 200.0, "w01001": -0.2},
                name="急水港跨界污染团（演示）", demo=True),
    ]


@dataclass(frozen=True)
class ScriptedFault:
    """An instrument fault the demo schedules: from ``start`` for ``duration_s`` the analyser of
    ``code`` at ``place`` reads ``factor`` × the water's value (flag N: the logger does not know)."""

    place: str
    code: str
    start: dt.datetime
    duration_s: float
    factor: float
    name: str = ""

    @property
    def end(self) -> dt.datetime:
        return self.start + dt.timedelta(seconds=self.duration_s)


def demo_faults(t0: dt.datetime) -> list[ScriptedFault]:
    """The demo's instrument fault, 40 minutes after the first demo episode starts at ``t0``: the
    ammonia analyser at 吴淞江昆山 (W320583-S03, a 昆山→青浦 boundary section on another river)
    reads five times the water's value for an hour. The platform should label the alarm it
    raises 疑似仪器故障 and warn nobody downstream."""
    return [ScriptedFault("W320583-S03", "w21003", t0.astimezone(UTC) + dt.timedelta(minutes=40), 3600.0, 5.0,
                          name="吴淞江昆山氨氮分析仪故障（演示）")]


#: Where the scripted demo happens (episode sources at sections, the faulty analyser): the
#: simulator keeps these sections within their target class, so no alarm stands open there
#: before the demo's events arrive.
DEMO_PLACES = frozenset({e.source for e in demo_episodes(dt.datetime(2000, 1, 1, tzinfo=UTC))}
                        | {f.place for f in demo_faults(dt.datetime(2000, 1, 1, tzinfo=UTC))})


def random_episodes(rng: np.random.Generator, sources: list[str], start: dt.datetime, end: dt.datetime,
                    *, per_year: float, outlets: set[str] = frozenset()) -> list[Episode]:
    """Random episodes (Poisson, ``per_year`` on average) over ``[start, end)`` from ``sources``."""
    if not sources or per_year <= 0:
        return []
    span = (end - start).total_seconds()
    n = int(rng.poisson(per_year * span / (365.0 * 86400.0)))
    out = []
    for i in range(n):
        src = sources[int(rng.integers(len(sources)))]
        t = start + dt.timedelta(seconds=float(rng.uniform(0, span)))
        t = t.replace(second=0, microsecond=0)
        scale = float(rng.uniform(0.4, 1.3))
        river = {k: v * scale for k, v in RIVER_TYPICAL.items()}
        outlet = {k: v * scale for k, v in OUTLET_DYEING.items()} if src in outlets else {}
        out.append(Episode(f"ep-{t:%Y%m%d%H%M}-{i}", src, t.astimezone(UTC), float(rng.uniform(3, 18)) * 3600.0,
                           river=river, outlet=outlet, name="随机污染事件"))
    return out
