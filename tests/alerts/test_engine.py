"""The pure evaluation core: every rule kind on both sides of its threshold, duration, hysteresis
and minimum clear time, missing data on a fake clock, and the indexed evaluation agreeing with
the naive one. No database."""

import math
import random

import pytest

from gongzhi.alerts import engine
from gongzhi.alerts.engine import Check, RuleIndex, check_missing, evaluate, naive_evaluate

S = ("s1", "value")


def run(check, values, state=None):
    """values: [(t, value[, flag])] on stream S → list of (action, t)."""
    state = {} if state is None else state
    recs = [(S, t, v, rest[0] if rest else "") for t, v, *rest in values]
    return [(tr.action, tr.t) for tr in evaluate(RuleIndex([check]), recs, state)], state


def test_exceedance_upper_both_sides():
    c = Check(rule=1, stream=S, kind=engine.EXCEEDANCE, upper=1.0)
    assert run(c, [(0, 0.99), (60, 1.0)])[0] == []  # at the limit is compliant (≤)
    assert run(c, [(0, 0.99), (60, 1.01)])[0] == [("raise", 60)]


def test_exceedance_lower_bound_dissolved_oxygen():
    c = Check(rule=1, stream=S, kind=engine.EXCEEDANCE, lower=5.0)
    assert run(c, [(0, 5.0)])[0] == []
    out, _ = run(c, [(0, 4.9), (60, 6.0)])
    assert out == [("raise", 0), ("clear", 60)]


def test_range_limit_ph():
    c = Check(rule=1, stream=S, kind=engine.EXCEEDANCE, upper=9.0, lower=6.0)
    assert run(c, [(0, 6.0), (1, 9.0)])[0] == []
    assert run(c, [(0, 9.2)])[0] == [("raise", 0)]
    assert run(c, [(0, 5.8)])[0] == [("raise", 0)]


def test_transition_carries_evidence_and_peak():
    c = Check(rule=7, stream=S, kind=engine.EXCEEDANCE, upper=1.0)
    st = {}
    trs = evaluate(RuleIndex([c]), [(S, 0, 1.5, ""), (S, 60, 2.5, ""), (S, 120, 0.5, "")], st)
    assert [t.action for t in trs] == ["raise", "clear"]
    assert trs[0].evidence["limit"] == 1.0 and trs[0].value == 1.5
    assert trs[1].peak == 2.5


def test_sustained_duration():
    c = Check(rule=1, stream=S, kind=engine.EXCEEDANCE, upper=1.0, duration_s=600)
    # bad for 9 minutes, a good value, bad again: the count restarts, nothing raised
    vals = [(t, 2.0) for t in range(0, 541, 60)] + [(600, 0.5)] + [(t, 2.0) for t in range(660, 1200, 60)]
    assert run(c, vals)[0] == []
    # bad for exactly 10 minutes: raised at the value that completes the duration
    out, _ = run(c, [(t, 2.0) for t in range(0, 601, 60)])
    assert out == [("raise", 600)]


def test_hysteresis_suppresses_flapping():
    c = Check(rule=1, stream=S, kind=engine.EXCEEDANCE, upper=1.0, hysteresis=0.1)
    # dithering around the limit: raised once, not cleared while inside the 10 % band
    out, _ = run(c, [(0, 1.05), (60, 0.98), (120, 1.02), (180, 0.95), (240, 0.89)])
    assert out == [("raise", 0), ("clear", 240)]


def test_minimum_clear_time():
    c = Check(rule=1, stream=S, kind=engine.EXCEEDANCE, upper=1.0, min_clear_s=1800)
    out, _ = run(c, [(0, 2.0), (600, 0.5), (1200, 1.5), (1800, 0.5), (3000, 0.5), (3600, 0.5)])
    # good at 600 but bad again at 1200; good from 1800, cleared once good for 30 minutes (3600)
    assert out == [("raise", 0), ("clear", 3600)]


def test_rate_of_change_both_sides():
    c = Check(rule=1, stream=S, kind=engine.RATE, rate_per_h=2.0)
    # +1.0 in 30 minutes = 2.0/h: at the limit, no alarm; +1.1 in 30 minutes = 2.2/h: alarm
    assert run(c, [(0, 1.0), (1800, 2.0)])[0] == []
    out, _ = run(c, [(0, 1.0), (1800, 2.1)])
    assert out == [("raise", 1800)]


def test_rate_falls_too():
    c = Check(rule=1, stream=S, kind=engine.RATE, rate_per_h=2.0)
    out, _ = run(c, [(0, 5.0), (3600, 2.0), (7200, 2.1)])
    assert out == [("raise", 3600), ("clear", 7200)]


def test_device_flags():
    c = Check(rule=1, stream=S, kind=engine.FLAG, flags=frozenset({"D", "C", "M", "F"}))
    assert run(c, [(0, 1.0, "N"), (60, 1.0, ""), (120, 1.0, "T")])[0] == []
    out, _ = run(c, [(0, 1.0, "N"), (60, None, "D"), (120, None, "D"), (180, 1.0, "N")])
    assert out == [("raise", 60), ("clear", 180)]


def test_bloom_levels_from_algal_density():
    # HJ 1098-2020 density grades (gongzhi.standards.bloom.DENSITY_BREAKS): level Ⅳ (中度水华)
    # from 5.0×10^7 cells/L
    c = Check(rule=1, stream=S, kind=engine.BLOOM, bloom_level=4)
    assert run(c, [(0, 4.99e7)])[0] == []
    out, st = run(c, [(0, 5.0e7)])
    assert out == [("raise", 0)]
    assert engine.bloom_level(5.0e7) == 4 and engine.bloom_level(1.0e8) == 5 and engine.bloom_level(1.9e6) == 1


def test_bloom_with_configured_chla_breaks():
    c = Check(rule=1, stream=S, kind=engine.BLOOM, bloom_level=3, bloom_breaks=(10.0, 20.0, 40.0, 80.0))
    assert run(c, [(0, 19.9)])[0] == []
    assert run(c, [(0, 20.0)])[0] == [("raise", 0)]


def test_missing_data_on_a_fake_clock():
    c = Check(rule=1, stream=S, kind=engine.MISSING, missing_s=1800)
    idx, st = RuleIndex([c]), {}
    last = {S: 1000.0}
    assert check_missing(idx, 1000 + 1800, last, st) == []  # exactly 30 minutes: not yet
    out = check_missing(idx, 1000 + 1801, last, st)
    assert [(t.action, t.since) for t in out] == [("raise", 1000.0)]
    assert check_missing(idx, 5000, last, st) == []  # raised once
    # data arrives: the next value clears it
    trs = evaluate(idx, [(S, 5100, 1.0, "")], st)
    assert [t.action for t in trs] == ["clear"]
    assert check_missing(idx, 5200, {S: 5100.0}, st) == []


def test_missing_without_any_data_has_no_clock():
    c = Check(rule=1, stream=S, kind=engine.MISSING, missing_s=60)
    assert check_missing(RuleIndex([c]), 10_000, {}, {}) == []


def test_replayed_and_late_values_are_ignored():
    c = Check(rule=1, stream=S, kind=engine.EXCEEDANCE, upper=1.0)
    out, st = run(c, [(0, 2.0), (60, 0.5)])
    assert out == [("raise", 0), ("clear", 60)]
    again, _ = run(c, [(0, 2.0), (30, 3.0), (60, 0.5)], st)  # a replay after a restart
    assert again == []


def test_none_and_nan_values_decide_nothing():
    c = Check(rule=1, stream=S, kind=engine.EXCEEDANCE, upper=1.0)
    out, _ = run(c, [(0, 2.0), (60, None), (120, math.nan)])
    assert out == [("raise", 0)]


def test_bad_checks_are_refused():
    with pytest.raises(ValueError):
        Check(rule=1, stream=S, kind=engine.EXCEEDANCE)
    with pytest.raises(ValueError):
        Check(rule=1, stream=S, kind=engine.BLOOM, bloom_level=1)
    with pytest.raises(ValueError):
        Check(rule=1, stream=S, kind="nonsense")
    with pytest.raises(ValueError):
        Check(rule=1, stream=S, kind=engine.MISSING)


def test_indexed_evaluation_equals_naive():
    rnd = random.Random(6)
    streams = [(i, "value") for i in range(30)]
    checks = []
    for r in range(200):
        s = rnd.choice(streams)
        kind = rnd.choice([engine.EXCEEDANCE, engine.RATE, engine.FLAG])
        kw = {engine.EXCEEDANCE: {"upper": rnd.uniform(0.5, 1.5)}, engine.RATE: {"rate_per_h": rnd.uniform(1, 5)},
              engine.FLAG: {"flags": frozenset({"D"})}}[kind]
        checks.append(Check(rule=r, stream=s, kind=kind, duration_s=rnd.choice([0, 120]), hysteresis=0.05, **kw))
    recs = []
    for t in range(0, 6000, 60):
        for s in rnd.sample(streams, 10):
            recs.append((s, float(t), rnd.uniform(0, 2), rnd.choice(["N", "N", "D"])))
    a = evaluate(RuleIndex(checks), recs, {})
    b = naive_evaluate(checks, recs, {})
    assert len(a) > 20
    assert sorted((t.action, t.rule, t.stream, t.t) for t in a) == sorted((t.action, t.rule, t.stream, t.t) for t in b)


def test_engine_imports_no_django():
    import subprocess
    import sys

    code = "import sys, gongzhi.alerts.engine; print(any(m == 'django' or m.startswith('django.') for m in sys.modules))"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"
