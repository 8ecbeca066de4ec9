"""Source tracing ranking on constructed cases (gongzhi.analytics.tracing.rank_sources)."""

from __future__ import annotations

import numpy as np
import pytest
from analytics_synth import HOUR, T0

from gongzhi.analytics import Candidate, rank_sources
from gongzhi.analytics.tracing import lagged_correlation

N = 24 * 20


def pulses(starts, width=6, height=1.0, n=N):
    x = np.zeros(n)
    for s in starts:
        x[s:s + width] += height
    return x


@pytest.fixture
def case():
    """A dyeing works discharges antimony in three bursts; the section sees them 9 h later,
    diluted. A decoy outlet discharges at other times; a second decoy at the same times but
    with a travel time of 30 h (its bursts would arrive 21 h late)."""
    rng = np.random.default_rng(7)
    t = T0 + HOUR * np.arange(N)
    bursts = [60, 200, 330]
    source = 0.05 + pulses(bursts, height=0.6) + rng.normal(0, 0.01, N)
    section = 0.002 + pulses([b + 9 for b in bursts], height=0.03) + rng.normal(0, 0.002, N)
    decoy = 0.05 + pulses([100, 250, 400], height=0.6) + rng.normal(0, 0.01, N)
    far = 0.05 + pulses(bursts, height=0.6) + rng.normal(0, 0.01, N)
    cands = [
        Candidate("decoy", t, decoy, 9 * HOUR, factor="x-sb"),
        Candidate("far", t, far, 30 * HOUR, factor="x-sb"),
        Candidate("dyeing works", t, source, 9 * HOUR, factor="x-sb"),
    ]
    return t, section, cands


def test_true_source_first_with_the_right_lag(case):
    t, section, cands = case
    ranked = rank_sources(t, section, cands)
    assert [r.name for r in ranked][0] == "dyeing works"
    top = ranked[0]
    assert top.rank == 1 and top.best_lag_s == 9 * HOUR and top.lag_error_s == 0
    assert top.correlation > 0.9 and top.timing == pytest.approx(1.0)
    assert top.overlap == N - 9  # pairs where both series have a value at that lag
    assert top.peak_z > 4 and top.magnitude == 1.0
    assert top.score == pytest.approx(top.correlation)
    assert "best lag 9.0 h" in top.reasons[0]
    assert top.correlation_by_lag[int(9 * HOUR)] == pytest.approx(top.correlation, abs=1e-4)
    far = next(r for r in ranked if r.name == "far")
    # the far candidate's best lag inside its window (30 h ± 15 h) cannot reach 9 h: weak score
    assert far.best_lag_s >= 15 * HOUR and far.score < 0.3 * top.score
    decoy = next(r for r in ranked if r.name == "decoy")
    assert decoy.score < 0.3 * top.score


def test_ranking_is_robust_to_gaps(case):
    t, section, cands = case
    rng = np.random.default_rng(8)
    gappy = section.copy()
    gappy[rng.random(N) < 0.2] = np.nan  # a fifth of the section's values missing
    keep = rng.random(N) > 0.15  # and some samples of the source not sent at all
    src = cands[2]
    cands[2] = Candidate(src.name, np.asarray(src.times)[keep], np.asarray(src.values)[keep], src.travel_time_s)
    ranked = rank_sources(t, gappy, cands)
    assert ranked[0].name == "dyeing works" and ranked[0].best_lag_s == 9 * HOUR
    assert ranked[0].overlap < N - 9


def test_lag_found_even_when_the_travel_time_is_off(case):
    t, section, cands = case
    src = cands[2]
    wrong = Candidate(src.name, src.times, src.values, 12 * HOUR)  # real lag 9 h, assumed 12 h
    r = rank_sources(t, section, [wrong])[0]
    assert r.best_lag_s == 9 * HOUR and r.lag_error_s == -3 * HOUR
    assert r.timing == pytest.approx(np.exp(-0.5 * (3 / (0.25 * 12)) ** 2))


def test_no_overlap_and_empty_section_give_score_zero(case):
    t, section, cands = case
    later = Candidate("later", t + 1000 * HOUR, cands[2].values, 9 * HOUR)
    r = rank_sources(t, section, [later])[0]
    assert r.score == 0.0 and r.overlap == 0 and "not enough overlapping data" in r.reasons[0]
    empty = rank_sources([], [], cands)
    assert [x.score for x in empty] == [0.0, 0.0, 0.0]
    assert rank_sources(t, section, []) == []


def test_lagged_correlation_definition():
    a = np.array([0, 0, 1, 0, 0, 2, 0, 0, 0], float)
    b = np.array([0, 1, 0, 0, 2, 0, 0, 0, 0], float)  # b leads a by one slot
    r, n = lagged_correlation(a, b, np.array([0, 1, 2]), min_overlap=3)
    assert r[1] == pytest.approx(1.0) and n.tolist() == [9, 8, 7]
    assert r[0] < 0.5


def test_to_dict_json(case):
    import json
    t, section, cands = case
    later = Candidate("later", t + 1000 * HOUR, cands[2].values, 9 * HOUR)  # no overlap: NaN lag and r
    out = [r.to_dict() for r in rank_sources(t, section, cands + [later])]
    json.dumps(out, allow_nan=False)
    assert out[-1]["name"] == "later" and out[-1]["correlation"] is None and out[0]["rank"] == 1


def test_a_site_the_plume_passed_is_a_waypoint_of_the_source_upstream():
    rng = np.random.default_rng(9)
    t = T0 + HOUR * np.arange(N)
    bursts = [60, 200, 330]
    outlet = 0.05 + pulses(bursts, height=0.6) + rng.normal(0, 0.02, N)  # the source, 20 h up
    site = 0.3 + pulses([b + 12 for b in bursts], height=0.2) + rng.normal(0, 0.002, N)  # passed 12 h later
    section = 0.3 + pulses([b + 20 for b in bursts], height=0.15) + rng.normal(0, 0.004, N)
    other = 0.3 + pulses([90, 260], height=0.2) + rng.normal(0, 0.002, N)  # a site with its own changes
    cands = [Candidate("works", t, outlet, 20 * HOUR), Candidate("site", t, site, 8 * HOUR, kind="site"),
             Candidate("other", t, other, 8 * HOUR, kind="site")]
    plain = rank_sources(t, section, cands)
    assert plain[0].name == "site"  # closer and cleaner: without the network it looks like the source
    ranked = rank_sources(t, section, cands, upstream_of={"site": {"works"}, "other": {"works"}})
    # the waypoint ranks after every candidate that could still be a source, with its reason
    assert [r.name for r in ranked] == ["works", "other", "site"]
    assert ranked[0].waypoint_of is None and ranked[0].best_lag_s == 20 * HOUR
    assert ranked[2].waypoint_of == "works" and "waypoint" in ranked[2].reasons[-1]
    assert ranked[2].score > ranked[1].score and ranked[1].waypoint_of is None


def test_an_outlet_is_never_a_waypoint():
    rng = np.random.default_rng(10)
    t = T0 + HOUR * np.arange(N)
    bursts = [60, 200, 330]
    up = 0.05 + pulses(bursts, height=0.6) + rng.normal(0, 0.02, N)
    mid = 0.05 + pulses([b + 12 for b in bursts], height=0.6) + rng.normal(0, 0.02, N)  # same shape, but an outlet
    section = 0.3 + pulses([b + 20 for b in bursts], height=0.15) + rng.normal(0, 0.004, N)
    ranked = rank_sources(t, section, [Candidate("up", t, up, 20 * HOUR), Candidate("mid", t, mid, 8 * HOUR)],
                          upstream_of={"mid": {"up"}})
    assert all(r.waypoint_of is None for r in ranked)
