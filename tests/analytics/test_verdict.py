"""Fault-vs-event verdicts on constructed stations (gongzhi.analytics.verdict.assess)."""

from __future__ import annotations

import numpy as np
import pytest
from analytics_synth import HOUR, T0

from gongzhi.analytics import EVENT, FAULT, UNCERTAIN, Upstream, assess, summarise

DAYS = 30
N = DAYS * 24
#: typical level and noise of each parameter at a river section
LEVELS = {"w01001": (7.5, 0.05), "w01009": (7.0, 0.2), "w01010": (24.0, 0.2), "w01014": (600.0, 8.0),
          "w01019": (4.0, 0.15), "w21003": (0.5, 0.03), "w21011": (0.15, 0.008), "w21001": (2.0, 0.08)}
#: a pollution pulse at its source: increments (DO and pH down)
PULSE = {"w21003": 2.0, "w01019": 4.0, "w21011": 0.3, "w21001": 2.5, "w01014": 200.0, "w01009": -2.5,
         "w01001": -0.3}
TAU_H = 6


def station(seed: int) -> tuple[np.ndarray, dict[str, np.ndarray]]:
    rng = np.random.default_rng(seed)
    t = T0 + HOUR * np.arange(N)
    return t, {c: lvl + rng.normal(0, sd, N) for c, (lvl, sd) in LEVELS.items()}


def add_pulse(vals, start_h: int, hours: int, factor: float = 1.0, codes=None):
    for c, inc in PULSE.items():
        if codes is None or c in codes:
            vals[c][start_h:start_h + hours] += factor * inc


def by(found, test=None, parameter=None):
    return [a for a in found if (test is None or a.test == test) and (parameter is None or a.parameter == parameter)]


@pytest.fixture
def pair():
    """An upstream and a downstream section, 6 h apart, clean."""
    return station(1), station(2)


def test_single_sensor_spike_is_a_fault(pair):
    _, (t, down) = pair
    down["w21003"][200] += 3.0
    found = assess(t, down)
    spikes = by(found, "spike", "w21003")
    assert len(spikes) == 1 and spikes[0].verdict == FAULT
    assert (spikes[0].peak_s - T0) / HOUR == 200
    assert "came straight back" in spikes[0].reasons[0]
    assert all(q in dict(spikes[0].details["quiet_related"]) for q in ("w01019", "w01009", "w21001"))


def test_upstream_led_multi_parameter_episode_is_an_event(pair):
    (tu, up), (t, down) = pair
    add_pulse(up, 300, 10)
    add_pulse(down, 300 + TAU_H, 10, factor=0.7)
    found = assess(t, down, upstream=[Upstream("S-up", tu, up, TAU_H * HOUR)])
    nh3 = [a for a in by(found, parameter="w21003") if a.test in ("excursion", "step")]
    assert nh3 and all(a.verdict == EVENT for a in nh3)
    exc = by(found, "excursion", "w21003")[0]
    assert (exc.start_s - T0) / HOUR == 306
    corroborating = dict(exc.details["corroborating"])
    assert {"w01019", "w21001", "w01014"} <= set(corroborating)
    assert corroborating["w01019"] > 3  # CODMn up with NH3-N
    assert "w01009" in corroborating  # DO down: counted in its own (negative) direction
    shown = exc.details["upstream_showed"]
    assert [s["upstream"] for s in shown] == ["S-up"] and shown[0]["travel_time_s"] == TAU_H * HOUR
    assert abs(shown[0]["lag_s"] - TAU_H * HOUR) <= 3 * HOUR  # the upstream peak came one travel time earlier
    assert any("upstream showed it first" in r for r in exc.reasons)
    # nothing of the episode is called a fault
    assert not [a for a in found if a.verdict == FAULT and 300 <= (a.start_s - T0) / HOUR <= 320]


def test_single_parameter_jump_that_nothing_else_saw_is_a_fault(pair):
    (tu, up), (t, down) = pair
    down["w21003"][400:410] += 2.0
    found = assess(t, down, upstream=[Upstream("S-up", tu, up, TAU_H * HOUR)])
    judged = [a for a in by(found, parameter="w21003") if a.test in ("excursion", "step")]
    assert judged and all(a.verdict == FAULT for a in judged)
    exc = by(found, "excursion", "w21003")[0]
    assert any("single-parameter" in r for r in exc.reasons)
    assert exc.details["upstream_silent"][0]["upstream"] == "S-up"
    assert exc.details["corroborating"] == []


def test_upstream_alone_makes_a_single_parameter_change_an_event(pair):
    (tu, up), (t, down) = pair
    up["w21003"][300:310] += 2.0
    down["w21003"][306:316] += 1.5
    found = assess(t, down, upstream=[Upstream("S-up", tu, up, TAU_H * HOUR)])
    exc = by(found, "excursion", "w21003")[0]
    assert exc.verdict == EVENT and exc.details["upstream_showed"]


def test_upstream_change_at_the_wrong_time_does_not_count(pair):
    (tu, up), (t, down) = pair
    up["w21003"][100:110] += 2.0  # ~200 h before: not one travel time earlier
    down["w21003"][306:316] += 1.5
    found = assess(t, down, upstream=[Upstream("S-up", tu, up, TAU_H * HOUR)])
    assert by(found, "excursion", "w21003")[0].verdict == FAULT


def test_nothing_to_compare_with_is_uncertain(pair):
    _, (t, down) = pair
    x = down["w21003"].copy()
    x[400:410] += 2.0
    found = assess(t, {"w21003": x})
    exc = by(found, "excursion", "w21003")[0]
    assert exc.verdict == UNCERTAIN and "no related parameter" in exc.reasons[0]


def test_outlet_sustained_change_is_an_event_but_a_flat_line_is_a_fault(pair):
    _, (t, down) = pair
    cod = 60 + np.random.default_rng(3).normal(0, 2.0, N)
    cod[400:406] += 40.0
    cod[500:520] = cod[500]
    found = assess(t, {"w01018": cod}, kind="outlet")
    assert by(found, "excursion", "w01018")[0].verdict == EVENT
    flat = by(found, "flat", "w01018")
    assert len(flat) == 1 and flat[0].verdict == FAULT


def test_device_flag_makes_an_overlapping_change_a_fault(pair):
    _, (t, down) = pair
    down["w21003"][400:406] *= 0.05  # near-zero readings, flagged D
    flags = {"w21003": np.array(["N"] * N, dtype=object)}
    flags["w21003"][400:406] = "D"
    found = assess(t, down, flags=flags)
    assert by(found, "flag", "w21003")[0].verdict == FAULT
    for a in by(found, parameter="w21003"):
        if a.test != "flag" and a.overlaps(T0 + 400 * HOUR, T0 + 405 * HOUR):
            assert a.verdict == FAULT and "lies in a flag anomaly" in a.reasons[-1]


def test_impossible_pairs_are_faults(pair):
    _, (t, down) = pair
    down["w21003"][250:253] = 5.0  # NH3-N above TN (2.0)
    down["w01009"][260] = 25.0  # DO 25 mg/L at 24 °C: ~300 % saturation
    found = assess(t, down)
    sub = by(found, "subset")
    assert len(sub) == 1 and sub[0].verdict == FAULT and sub[0].parameter == "w21003/w21001"
    do = by(found, "do_saturation")
    assert len(do) == 1 and do[0].verdict == FAULT
    assert not by(assess(t, down, skip={"subset", "do_saturation"}), "subset")


def test_range_given_per_parameter(pair):
    _, (t, down) = pair
    down["w01001"][100] = 15.2
    found = assess(t, down, ranges={"w01001": (0.0, 14.0)})
    assert [a.verdict for a in by(found, "range", "w01001")] == [FAULT]


def test_bad_input_gives_defined_outcomes_and_keeps_the_good_data(pair):
    _, (t, down) = pair
    down["w21003"][200] += 3.0
    vals = dict(down)
    vals["w01010"] = np.arange(5.0)  # wrong length: skipped
    vals["w21011"] = np.full(N, np.nan)  # nothing sent
    found = assess(t, vals)
    assert by(found, "spike", "w21003")  # the good parameter is still judged
    assert not by(found, parameter="w01010") and not by(found, parameter="w21011")
    assert assess(t, {}) == []
    assert assess(np.zeros(0), {"w21003": np.zeros(0)}) == []
    bad_flags = assess(t, down, flags={"w21003": ["D"] * 3})  # flags of the wrong length: ignored
    assert not by(bad_flags, "flag")


def test_since_reports_only_recent_anomalies(pair):
    _, (t, down) = pair
    down["w21003"][100] += 3.0
    down["w21003"][600] += 3.0
    found = assess(t, down, since_s=T0 + 500 * HOUR)
    assert [(a.peak_s - T0) / HOUR for a in by(found, "spike")] == [600]


def test_summarise_groups_one_condition_per_parameter(pair):
    (tu, up), (t, down) = pair
    add_pulse(up, 300, 10)
    add_pulse(down, 306, 10, factor=0.7)
    down["w21003"][200] += 3.0
    groups = summarise(assess(t, down, upstream=[Upstream("S-up", tu, up, TAU_H * HOUR)]))
    nh3 = [g for g in groups if g["parameter"] == "w21003"]
    assert [(round((g["start_s"] - T0) / HOUR), g["verdict"]) for g in nh3][:1] == [(200, FAULT)]
    episode = [g for g in nh3 if g["start_s"] >= T0 + 300 * HOUR]
    assert episode and episode[0]["verdict"] == EVENT and "excursion" in episode[0]["tests"]


def test_flagged_values_are_reported_by_their_flag_only(pair):
    _, (t, down) = pair
    flags = {c: np.array(["N"] * N, dtype=object) for c in down}
    for c in down:  # one calibration hour: every analyser reads its span standard, flagged C
        down[c][300] *= 2.0
        flags[c][300] = "C"
    down["w21003"][500] += 3.0  # and a real single-sensor spike elsewhere
    found = assess(t, down, flags=flags)
    at_cal = [a for a in found if a.start_s <= T0 + 300 * HOUR <= a.end_s]
    assert at_cal and {a.test for a in at_cal} == {"flag"}
    assert all(a.verdict == FAULT and "calibration" in a.reasons[0] for a in at_cal)
    spikes = by(found, "spike", "w21003")
    assert [(a.peak_s - T0) / HOUR for a in spikes] == [500]
    # without the flags the calibration hour is a spike on every parameter, multi-parameter and
    # so an EVENT — the reason the device flag is used when there is one
    unflagged = [a for a in assess(t, down) if a.test == "spike" and a.start_s == T0 + 300 * HOUR]
    assert len(unflagged) >= 6


def test_a_spike_is_not_rescued_by_upstream_but_by_two_related_spikes(pair):
    (tu, up), (t, down) = pair
    up["w21003"][190:196] += 2.0  # something upstream one travel time before
    down["w21003"][200] += 3.0
    spike = by(assess(t, down, upstream=[Upstream("S-up", tu, up, TAU_H * HOUR)]), "spike", "w21003")[0]
    assert spike.verdict == FAULT and spike.details["upstream_showed"] == []
    # the same sample jumping on three signature parameters at once (a slug passing the intake)
    down["w01019"][200] += 4.0
    down["w21001"][200] += 2.5
    spike = by(assess(t, down), "spike", "w21003")[0]
    assert spike.verdict == EVENT
    assert {q for q, _ in spike.details["corroborating"]} >= {"w01019", "w21001"}


def test_an_upstream_with_unusable_data_is_ignored(pair):
    _, (t, down) = pair
    down["w21003"][200] += 3.0
    junk = Upstream("junk", np.array([0.0, 1.0, 2.0, 1e9]), {"w21003": [1.0, 2.0, 3.0, 4.0]}, TAU_H * HOUR)
    short = Upstream("short", t[:10], {"w21003": np.ones(3)}, TAU_H * HOUR)
    found = assess(t, down, upstream=[junk, short])
    assert by(found, "spike", "w21003")[0].verdict == FAULT
    with pytest.raises(ValueError):
        assess(np.array([0.0, 1.0, 2.0, 1e9]), {"w21003": [1.0, 2.0, 3.0, 4.0]})


def test_a_drift_nothing_else_shares_is_a_fault_and_a_shared_one_is_dropped(pair):
    _, (t, down) = pair
    ramp = np.linspace(0.0, 1.0, 120)
    alone = {c: v.copy() for c, v in down.items()}
    alone["w21003"][400:520] += 2.0 * ramp
    alone["w21003"][520:] += 2.0
    drifts = by(assess(t, alone), "drift", "w21003")
    assert drifts and all(a.verdict == FAULT for a in drifts)
    assert any("single-parameter drift" in r for r in drifts[0].reasons)
    shared = {c: v.copy() for c, v in down.items()}
    for c, inc in PULSE.items():  # the whole signature creeps together: the water changed
        shared[c][400:520] += inc * ramp
        shared[c][520:] += inc
    assert not by(assess(t, shared), "drift", "w21003")
    kept = by(assess(t, shared, keep_shared_drifts=True), "drift", "w21003")
    assert kept and all(a.verdict == EVENT for a in kept)
