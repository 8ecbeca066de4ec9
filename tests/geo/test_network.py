"""Directed river network travel times (gongzhi.geo.network) on a hand-made network.

    A --r1 1000 m @0.5--> B --r2 3000 m @1.0--> D --r5 2000 m @0.2--> E
                           \\--r3 1000 m @0.1--> C --r4 500 m @0.5--/
    sites: S1 on r1 at 400 m, S3 on r3 at 500 m, S2 on r5 at 1000 m
Hand-computed answers are in the tests (time = length / velocity, first arrival = fastest path).
"""
import pytest

from gongzhi.geo.network import RiverNetwork


@pytest.fixture
def net():
    n = RiverNetwork()
    n.add_reach("r1", "A", "B", 1000, 0.5)
    n.add_reach("r2", "B", "D", 3000, 1.0)
    n.add_reach("r3", "B", "C", 1000, 0.1)
    n.add_reach("r4", "C", "D", 500, 0.5)
    n.add_reach("r5", "D", "E", 2000, 0.2)
    n.add_site("S1", "r1", 400)
    n.add_site("S3", "r3", 500)
    n.add_site("S2", "r5", 1000)
    return n


def _table(arrivals):
    return {a.code: (round(a.distance_m, 6), round(a.travel_time_s, 6)) for a in arrivals}


def test_downstream_first_arrivals(net):
    got = _table(net.downstream("S1"))
    assert got == {
        "B": (600, 1200),
        "D": (3600, 4200),  # via r2 (3000 s), not via C (11000 s)
        "S3": (1100, 6200),
        "S2": (4600, 9200),
        "C": (1600, 11200),
        "E": (5600, 14200),
    }
    order = [a.code for a in net.downstream("S1")]
    assert order == ["B", "D", "S3", "S2", "C", "E"]


def test_downstream_sites_only_and_cutoffs(net):
    assert [a.code for a in net.downstream("S1", include_nodes=False)] == ["S3", "S2"]
    assert set(_table(net.downstream("S1", max_time_s=6200))) == {"B", "D", "S3"}
    assert set(_table(net.downstream("S1", max_distance_m=1200))) == {"B", "S3"}


def test_upstream(net):
    got = _table(net.upstream("S2"))
    assert got == {
        "D": (1000, 5000),
        "C": (1500, 6000),
        "B": (4000, 8000),
        "S1": (4600, 9200),
        "A": (1000 + 3000 + 1000, 2000 + 3000 + 5000),
        "S3": (2000, 11000),
    }
    assert net.upstream("A") == []
    assert net.downstream("E") == []


def test_travel_and_path(net):
    a = net.travel("S1", "S2")
    assert (a.distance_m, a.travel_time_s) == (4600, 9200)
    assert a.path == (("site", "S1"), ("node", "B"), ("node", "D"), ("site", "S2"))
    assert a.travel_time_h == pytest.approx(9200 / 3600)
    assert net.travel("S2", "S1") is None


def test_site_at_reach_ends(net):
    net.add_site("AT_B", "r2", 0)
    net.add_site("AT_D", "r2", 3000)
    got = _table(net.downstream("AT_B"))
    assert got["AT_D"] == (3000, 3000) and got["D"] == (3000, 3000)


def test_validation_errors(net):
    with pytest.raises(ValueError):
        net.add_site("X", "r1", 1001)
    with pytest.raises(KeyError):
        net.add_site("X", "nope", 0)
    with pytest.raises(ValueError):
        net.add_reach("r9", "E", "F", 10, 0)
    with pytest.raises(ValueError):
        net.add_reach("r1", "E", "F", 10, 1)
    with pytest.raises(KeyError):
        net.downstream("nowhere")
    assert net.validate() == []
    net.add_reach("loop", "E", "A", 10, 1)
    assert any(p.startswith("cycle") for p in net.validate())


def test_same_code_for_site_and_node_needs_kind(net):
    net.add_site("B", "r2", 100)
    with pytest.raises(KeyError):
        net.downstream("B")
    assert _table(net.downstream("B", kind="site"))["D"] == (2900, 2900)
    assert _table(net.downstream("B", kind="node"))["B"] == (100, 100)
