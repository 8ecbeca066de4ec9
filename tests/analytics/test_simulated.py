"""End to end on the project's simulator (pure NumPy, no database): the demo dyeing-works
episode is an EVENT at the first section downstream, with the outlet upstream as evidence, and
labelled stuck sensors are FAULTs."""

from __future__ import annotations

import datetime as dt

import pytest

from gongzhi.analytics import EVENT, FAULT, Upstream, assess, summarise
from gongzhi.demo.region import load_region
from gongzhi.geo.network import RiverNetwork
from gongzhi.simulator import SimConfig, Simulator
from gongzhi.simulator.signals import DECIMALS

UTC = dt.timezone.utc
END = dt.datetime(2026, 11, 1, tzinfo=UTC)


@pytest.fixture(scope="module")
def world():
    region = load_region()
    sim = Simulator.from_region(region, config=SimConfig(seed=5, fault_rate=0.03, episodes_per_year=0))
    res = sim.generate(END - dt.timedelta(days=30), END)
    places = {(d.spec.site or d.spec.outlet): mn for mn, d in res.devices.items() if d.spec.site or d.spec.outlet}
    return res, RiverNetwork.from_region(region), places


def _epoch(t: dt.datetime) -> float:
    return t.timestamp()


def _station(res, mn):
    d = res.devices[mn]
    return d, {c: d.values[i] for i, c in enumerate(d.codes)}, {c: d.flags[i] for i, c in enumerate(d.codes)}


def test_demo_episode_is_an_event_seen_upstream_first(world):
    res, net, places = world
    ep = next(e for e in res.episodes if e.id == "demo-taipu")
    first = next(a for a in res.arrivals[ep.id] if a.travel_time_s > 0)
    d, vals, flags = _station(res, places[first.place])
    ups = []
    for u in net.upstream(first.place, include_nodes=False, max_time_s=72 * 3600)[:3]:
        ud, uvals, _ = _station(res, places[u.code])
        ups.append(Upstream(u.code, ud.times, uvals, u.travel_time_s))
    found = assess(d.times, vals, flags=flags, kind="section", upstream=ups, skip={"subset"})
    lo, hi = _epoch(first.arrival) - 3 * 3600, _epoch(first.arrival) + ep.duration_s + 6 * 3600
    nh3 = [g for g in summarise(found) if g["parameter"] == "w21003" and g["start_s"] <= hi and g["end_s"] >= lo]
    assert nh3 and nh3[0]["verdict"] == EVENT
    exc = next(a for a in nh3[0]["anomalies"] if a.test == "excursion")
    assert {"w01019", "w21011"} <= {q for q, _ in exc.details["corroborating"]}
    shown = {s["upstream"] for s in exc.details["upstream_showed"]}
    assert ep.source in shown  # the dyeing works' outlet, one travel time earlier


def test_labelled_stuck_sensors_are_faults(world):
    res, _, places = world
    stuck = [e for e in res.labels(kind="stuck") if res.devices[e.mn].spec.kind == "water"
             and (e.end - e.start) >= dt.timedelta(hours=8)]
    assert len(stuck) >= 3
    for e in stuck[:5]:
        d, vals, flags = _station(res, e.mn)
        found = assess(d.times, vals, flags=flags, kind="section", skip={"subset"})
        flat = [a for a in found if a.parameter == e.code and a.test == "flat"
                and a.overlaps(_epoch(e.start), _epoch(e.end) - 1)]
        assert flat and all(a.verdict == FAULT for a in flat)
        sent = 0.5 * 10.0 ** -DECIMALS["water"].get(e.code, 3)  # the logger rounds what it sends
        assert abs(flat[0].observed - e.detail["value"]) <= sent + 1e-9
        # starts with the stuck value: a few hours earlier when the rounded readings before it
        # happened to equal it, later when a flagged calibration hour or a gap cut the run
        assert _epoch(e.start) - 4 * 3600 <= flat[0].start_s < _epoch(e.end)
