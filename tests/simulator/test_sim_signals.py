"""Value models, faults, labels and episodes of the simulator (pure NumPy; no database)."""

import datetime as dt

import numpy as np
import pytest

from gongzhi.demo.region import load_region
from gongzhi.geo.network import RiverNetwork
from gongzhi.simulator import FAULT_KINDS, SimConfig, Simulator, specs_from_region
from gongzhi.simulator.episodes import DEMO_PLACES, Episode, demo_episodes, demo_faults, propagate, pulse
from gongzhi.simulator.signals import o2_convert

UTC = dt.timezone.utc
CLEAN = dict(fault_rate=0.0, offline_rate=0.0, maintenance=False, exceedance_rate=0.0, episodes_per_year=0.0,
             demo_episodes=False)
YEAR_START = dt.datetime(2024, 1, 1, tzinfo=dt.timezone(dt.timedelta(hours=8))).astimezone(UTC)
YEAR_END = dt.datetime(2025, 1, 1, tzinfo=dt.timezone(dt.timedelta(hours=8))).astimezone(UTC)


@pytest.fixture(scope="module")
def region():
    return load_region()


@pytest.fixture(scope="module")
def specs(region):
    return {s.mn: s for s in specs_from_region(region)}


def one_of(specs, kind, **attrs):
    for s in specs.values():
        if s.kind == kind and all(getattr(s, k) == v for k, v in attrs.items()):
            return s
    raise LookupError(kind)


@pytest.fixture(scope="module")
def clean_year(region, specs):
    """A year of one device per kind (and a power-plant stack), without faults or episodes."""
    picks = [one_of(specs, "water", site="W310118-024"), one_of(specs, "water", site="W310118-057"),
             one_of(specs, "air", site="1985A"), one_of(specs, "wastewater", outlet="E320509-01-DW001"),
             one_of(specs, "flue_gas", outlet="E320585-03-DA001"), one_of(specs, "flue_gas", outlet="E320509-02-DA001")]
    sim = Simulator.from_region(region, config=SimConfig(seed=7, **CLEAN), specs=picks)
    return sim.generate(YEAR_START, YEAR_END, 3600)


def local_hours(times):
    return ((times.astype(np.int64) + 8 * 3600) % 86400) // 3600


def local_months(times):
    return ((times + np.timedelta64(8, "h")).astype("datetime64[M]").astype(int) % 12) + 1


def test_same_seed_same_values_other_seed_other_values(region):
    start = dt.datetime(2025, 3, 1, tzinfo=UTC)
    end = start + dt.timedelta(days=10)
    a = Simulator.from_region(region, config=SimConfig(seed=3, fault_rate=0.05)).generate(start, end)
    b = Simulator.from_region(region, config=SimConfig(seed=3, fault_rate=0.05)).generate(start, end)
    c = Simulator.from_region(region, config=SimConfig(seed=4, fault_rate=0.05)).generate(start, end)
    assert a.devices.keys() == b.devices.keys() and len(a.devices) == 72
    for mn in a.devices:
        np.testing.assert_array_equal(a.devices[mn].values, b.devices[mn].values)
        np.testing.assert_array_equal(a.devices[mn].flags, b.devices[mn].flags)
    assert a.events == b.events
    assert any(not np.array_equal(a.devices[mn].values, c.devices[mn].values, equal_nan=True) for mn in a.devices)
    # a device's values do not depend on which other devices are generated with it
    mn = next(iter(a.devices))
    alone = Simulator.from_region(region, config=SimConfig(seed=3, fault_rate=0.05)).generate(start, end, mns=[mn])
    np.testing.assert_array_equal(alone.devices[mn].values, a.devices[mn].values)


def test_values_in_plausible_ranges_and_units(clean_year):
    # (1st percentile floor, 99th percentile ceiling) per code, in the unit each device sends
    ranges = {
        "water": {"w01001": (6.5, 9.0), "w01009": (3.0, 15.0), "w01010": (2.0, 35.0), "w01014": (250, 1200),
                  "w01019": (0.5, 12.0), "w21003": (0.02, 3.0), "w21011": (0.005, 0.6), "w21001": (0.2, 8.0)},
        "air": {"a21026": (0, 60), "a21004": (2, 150), "a21005": (0.1, 3.0), "a05024": (1, 300), "a34002": (5, 400),
                "a34004": (2, 250)},
        # outlets: up to 1.5 × the permit limit (some run close to it and the noise crosses it)
        "wastewater": {"w00000": (1, 100), "w01018": (5, 120), "w21003": (0.3, 15), "w21011": (0.02, 0.75),
                       "w21001": (0.5, 22), "w01001": (6, 10), "x-sb": (0.005, 0.15)},
        "flue_gas": {"a00000": (1, 400), "a19001": (3, 20.9), "a01011": (5, 30), "a01012": (20, 200),
                     "a01013": (0.1, 0.8), "a01014": (0.5, 30),
                     "a21026": (1, 60), "a21002": (1, 80), "a34013": (0.1, 15), "a24088": (1, 50)},
    }
    for ds in clean_year.devices.values():
        for code in ds.codes:
            lo, hi = ranges[ds.spec.kind][code]
            x = ds.series(code)
            assert not np.isnan(x).any()
            p1, p99 = np.percentile(x, [1, 99])
            assert lo <= p1 and p99 <= hi, (ds.spec.location, code, p1, p99)
    air = next(d for d in clean_year.devices.values() if d.spec.kind == "air")
    assert air.unit("a34004") == "µg/m³" and air.unit("a21005") == "mg/m³"
    ww = next(d for d in clean_year.devices.values() if d.spec.kind == "wastewater")
    assert ww.unit("w01018") == "mg/L" and ww.unit("w00000") == "L/s"


def test_water_temperature_spans_the_seasons_and_do_follows(clean_year):
    ds = next(d for d in clean_year.devices.values() if d.spec.site == "W310118-024")
    months = local_months(ds.times)
    hours = local_hours(ds.times)
    temp, do = ds.series("w01010"), ds.series("w01009")
    assert temp[months == 1].mean() < 9 and temp[months == 7].mean() > 27
    assert temp.min() >= 1 and temp.max() <= 34
    assert do[months == 1].mean() > do[months == 7].mean() + 1.5  # colder water holds more oxygen
    summer = (months >= 6) & (months <= 8)
    assert do[summer & (hours == 15)].mean() > do[summer & (hours == 5)].mean()  # photosynthesis by day


def test_air_diurnal_and_seasonal_shapes(clean_year):
    ds = next(d for d in clean_year.devices.values() if d.spec.kind == "air")
    months, hours = local_months(ds.times), local_hours(ds.times)
    o3, pm = ds.series("a05024"), ds.series("a34004")
    july = months == 7
    assert o3[july & (hours == 15)].mean() > 2 * o3[july & (hours == 6)].mean()
    assert o3[july & (hours == 15)].mean() > o3[(months == 1) & (hours == 15)].mean()
    winter = (months == 12) | (months <= 2)
    assert pm[winter].mean() > 1.5 * pm[(months >= 6) & (months <= 8)].mean()
    assert pm[hours == 23].mean() > pm[hours == 14].mean()  # night higher than afternoon
    assert (ds.series("a34002") >= pm).mean() > 0.95  # PM10 contains PM2.5


def test_sections_around_their_target_class(region, specs):
    water = [s for s in specs.values() if s.kind == "water"]
    sim = Simulator.from_region(region, config=SimConfig(seed=11, **CLEAN), specs=water)
    res = sim.generate(YEAR_START, YEAR_START + dt.timedelta(days=60), 3600)
    shares = []
    for ds in res.devices.values():
        limit = {1: 0.15, 2: 0.5, 3: 1.0, 4: 1.5, 5: 2.0}[ds.spec.target_class]
        shares.append((ds.series("w21003") > limit).mean())
    shares = np.array(shares)
    assert np.median(shares) < 0.2  # most sections usually meet their target …
    assert (shares > 0.3).sum() >= 2  # … and some often do not


def test_demo_places_meet_their_target_through_the_winter_peak(region, specs):
    """The places of the scripted demo stay within their class (so no alarm stands open there before
    the demo's events): ammonia peaks in winter (seasonal peak mid-January), so a year of hourly
    values must keep ammonia, TP and CODMn under the class limit in ≥ 99 % of the hours. GB
    3838-2002 Table 1, class Ⅲ: NH3-N 1.0, TP 0.2 (rivers), CODMn 6 mg/L."""
    assert {"W320583-S01", "W320583-S03"} <= DEMO_PLACES
    water = [s for s in specs.values() if s.kind == "water" and s.site in DEMO_PLACES]
    assert {s.site for s in water} == {p for p in DEMO_PLACES if p.startswith("W")}
    for seed in (0, 6, 11):
        res = Simulator.from_region(region, config=SimConfig(seed=seed, **CLEAN), specs=water).generate(
            YEAR_START, YEAR_END, 3600)
        for ds in res.devices.values():
            assert ds.spec.target_class == 3 and ds.spec.waterbody_type == "river"
            for code, limit in (("w21003", 1.0), ("w21011", 0.2), ("w01019", 6.0)):
                assert (ds.series(code) > limit).mean() <= 0.01, (seed, ds.spec.site, code)
            # ammonia is a part of total nitrogen
            assert (ds.series("w21003") < ds.series("w21001")).mean() >= 0.999, (seed, ds.spec.site)


def test_scripted_demo_fault_follows_the_demo_episodes(region, specs):
    """The demo's instrument fault: 40 min after the first demo episode, one hour of ammonia × 5
    at W320583-S03, flag N, labelled as a spike fault; only when the demo episodes run."""
    t0 = dt.datetime(2026, 12, 5, 3, 17, tzinfo=UTC)
    [fault] = demo_faults(t0)
    assert (fault.place, fault.code, fault.factor) == ("W320583-S03", "w21003", 5.0)
    spec = one_of(specs, "water", site="W320583-S03")
    start, end = t0 - dt.timedelta(hours=6), t0 + dt.timedelta(hours=6)
    with_demo = Simulator.from_region(region, config=SimConfig(seed=3, **{**CLEAN, "demo_episodes": True},
                                                               demo_anchor=t0), specs=[spec])
    plain = Simulator.from_region(region, config=SimConfig(seed=3, **CLEAN), specs=[spec])
    for step in (3600, 60):
        a = with_demo.generate(start, end, step).devices[spec.mn]
        b = plain.generate(start, end, step).devices[spec.mn]
        ratio = a.series("w21003") / b.series("w21003")
        hit = np.flatnonzero(~np.isclose(ratio, 1.0, atol=0.01))
        assert hit.size == 3600 // step  # one hour of slots
        assert np.allclose(ratio[hit], 5.0, rtol=0.01)
        t_hit = a.times[hit].astype("datetime64[s]").astype(np.int64)
        mid = t_hit + step / 2
        assert mid.min() >= fault.start.timestamp() and mid.max() < fault.end.timestamp()
        assert (a.flags[list(a.codes).index("w21003"), hit] == "N").all()
        for other in ("w21011", "w01019"):  # the water did not change
            assert np.allclose(a.series(other), b.series(other))
    labels = [e for e in with_demo.generate(start, end, 3600).events if e.detail.get("scripted")]
    assert [(e.kind, e.place, e.code) for e in labels] == [("spike", "W320583-S03", "w21003")]
    assert labels[0].is_fault


def test_outlets_below_limits_with_labelled_exceedances(region, specs):
    outlets = [s for s in specs.values() if s.kind in ("wastewater", "flue_gas")]
    cfg = SimConfig(seed=5, **{**CLEAN, "exceedance_rate": 0.1})
    res = Simulator.from_region(region, config=cfg, specs=outlets).generate(YEAR_START, YEAR_START + dt.timedelta(days=60))
    exceed = res.labels(kind="exceedance")
    assert len(exceed) > 0.5 * 0.1 * 60 * len(outlets)
    for ds in res.devices.values():
        for code, limit in ds.spec.limits.items():
            if code not in ds.codes or code in ("w00000",):
                continue
            judged = ds.zs.get(code, ds.series(code))
            mask = res.truth_mask(ds.spec.mn, code, kinds=["exceedance"])
            assert np.median(judged[~mask]) < limit
            if mask.any():
                assert (judged[mask] > limit).mean() > 0.9


def test_flue_gas_converted_values_and_oxygen(clean_year):
    ds = next(d for d in clean_year.devices.values() if d.spec.outlet == "E320585-03-DA001")
    assert ds.spec.reference_o2 == 6
    o2 = ds.series("a19001")
    assert 6.0 < np.median(o2) < 9.0
    for code in ("a21026", "a21002", "a34013"):
        expected = o2_convert(ds.series(code), o2, 6.0)
        np.testing.assert_allclose(ds.zs[code], expected, rtol=0.01, atol=0.02)
        assert (ds.zs[code] > ds.series(code)).mean() > 0.9  # O2 above the reference: converted is higher
    voc = next(d for d in clean_year.devices.values() if d.spec.outlet == "E320509-02-DA001")
    assert voc.zs == {}  # no reference oxygen for this permit: nothing converted


def test_faults_at_the_configured_rate_and_labelled(region, specs):
    picks = [s for s in specs.values() if s.kind in ("water", "air")][:20]
    rate = 0.05
    cfg = SimConfig(seed=9, fault_rate=rate, offline_rate=0.0, maintenance=True, exceedance_rate=0.0,
                    episodes_per_year=0.0, demo_episodes=False)
    start, days = YEAR_START, 120
    res = Simulator.from_region(region, config=cfg, specs=picks).generate(start, start + dt.timedelta(days=days))
    n_series = sum(len(s.codes) for s in picks)
    faults = res.labels(kind=FAULT_KINDS)
    expected = rate * n_series * days
    assert abs(len(faults) - expected) < 4 * np.sqrt(expected)
    assert {e.kind for e in faults} == set(FAULT_KINDS)
    for e in faults:
        ds = res.devices[e.mn]
        i = ds.index(e.code)
        t = ds.times.astype(np.int64)
        span = (t >= e.start.timestamp()) & (t < e.end.timestamp())
        assert span.any()
        x, f = ds.values[i, span], ds.flags[i, span]
        if e.kind == "dropout":
            assert np.isnan(x).all() and e.flag == ""
        elif e.kind == "fault":
            assert e.flag == "D" and ((f == "D") | (f == "C") | (f == "M")).all() and (f == "D").any()
        else:
            assert e.flag == "N"
    stuck = [e for e in faults if e.kind == "stuck"]
    assert stuck
    # planned calibration: weekly, flagged C on every code of the device
    cal = res.labels(kind="calibration", mn=picks[0].mn)
    assert abs(len(cal) - days / 7) <= 1
    ds = res.devices[picks[0].mn]
    t = ds.times.astype(np.int64)
    for e in cal:
        span = (t >= e.start.timestamp()) & (t < e.end.timestamp())
        assert (ds.flags[:, span] == "C").all()
    # no faults at all when the rate is zero
    none = Simulator.from_region(region, config=SimConfig(seed=9, **CLEAN), specs=picks).generate(
        start, start + dt.timedelta(days=days))
    assert none.labels(kind=FAULT_KINDS) == []
    assert all((d.flags == "N").all() and not np.isnan(d.values).any() for d in none.devices.values())


def test_stuck_values_are_flat(region, specs):
    picks = [s for s in specs.values() if s.kind == "water"][:10]
    cfg = SimConfig(seed=2, **{**CLEAN, "fault_rate": 0.05})
    res = Simulator.from_region(region, config=cfg, specs=picks).generate(YEAR_START, YEAR_START + dt.timedelta(days=90))
    stuck = res.labels(kind="stuck")
    assert stuck
    for e in stuck:
        ds = res.devices[e.mn]
        t = ds.times.astype(np.int64)
        span = (t >= e.start.timestamp()) & (t < e.end.timestamp())
        x = ds.values[ds.index(e.code), span]
        overlapped = [o for o in res.labels(mn=e.mn, code=e.code) if o is not e and o.start < e.end and e.start < o.end]
        if not overlapped:
            assert np.ptp(x) == 0


def test_demo_episode_travels_downstream_with_network_delays(region):
    net = RiverNetwork.from_region(region)
    lakes = {w["code"] for w in region["waterbodies"] if w["kind"] == "lake"}
    t0 = dt.datetime(2025, 5, 10, 18, tzinfo=UTC)
    [taipu, jishui] = demo_episodes(t0)
    assert (taipu.source, jishui.source) == ("E320509-01-DW001", "W320583-S01")
    arrivals = propagate(taipu, net, lakes=lakes)
    assert [a.place for a in arrivals] == ["E320509-01-DW001", "W320509-S02", "W310118-024", "W310118-025"]
    for a in arrivals[1:]:
        assert a.travel_time_s == pytest.approx(net.travel(taipu.source, a.place).travel_time_s)
    assert [a.attenuation for a in arrivals] == sorted((a.attenuation for a in arrivals), reverse=True)

    # in the data: values with the episode minus the same run without it
    base = dict(CLEAN)
    sim = Simulator.from_region(region, config=SimConfig(seed=1, **base))
    start, end = t0 - dt.timedelta(days=1), t0 + dt.timedelta(days=8)
    with_ep = sim.generate(start, end, 3600, episodes=[taipu, jishui])
    without = sim.generate(start, end, 3600, episodes=[])
    labels = with_ep.labels(kind="episode")
    by_place = {}
    for e in labels:
        by_place.setdefault(e.episode, []).append(e)
    taipu_sites = [e for e in sorted(by_place["demo-taipu"], key=lambda e: e.detail["travel_time_s"])]
    assert [e.place for e in taipu_sites] == ["E320509-01-DW001", "W320509-S02", "W310118-024", "W310118-025"]
    jishui_places = [e.place for e in sorted(by_place["demo-jishui"], key=lambda e: e.detail["travel_time_s"])]
    assert jishui_places[:3] == ["W320583-S01", "W310118-051", "W310118-054"]
    assert len(jishui_places) >= 6  # into 淀山湖 and beyond
    peaks = []
    for e in taipu_sites[1:]:
        ds_with, ds_without = with_ep.devices[e.mn], without.devices[e.mn]
        excess = ds_with.series("w21003") - ds_without.series("w21003")
        assert excess.min() > -1e-6
        t = ds_with.times.astype(np.int64).astype(float)
        centroid = (excess * t).sum() / excess.sum()
        expected = t0.timestamp() + e.detail["travel_time_s"] + taipu.duration_s / 2
        assert abs(centroid - expected) <= 3600  # within one step
        peaks.append(excess.max())
        do_drop = ds_without.series("w01009") - ds_with.series("w01009")
        assert do_drop.max() > 0.2
    assert peaks == sorted(peaks, reverse=True)  # weaker downstream
    outlet = with_ep.devices[taipu_sites[0].mn]
    sb = outlet.series("x-sb") - without.devices[taipu_sites[0].mn].series("x-sb")
    assert sb.max() > 0.3  # antimony at the dyeing outlet itself


def test_pulse_keeps_mass_and_centroid():
    t = np.arange(0, 200 * 3600, 600, dtype=float)
    for sigma in (600.0, 3600.0, 5 * 3600.0):
        p = pulse(t, 50 * 3600.0, 8 * 3600.0, sigma)
        assert p.sum() * 600 == pytest.approx(8 * 3600.0, rel=1e-3)
        assert (p * t).sum() / p.sum() == pytest.approx(54 * 3600.0, abs=60)


def test_random_episodes_start_at_boundary_sections_or_outlets(region):
    sim = Simulator.from_region(region, config=SimConfig(seed=4, episodes_per_year=50.0, demo_episodes=False))
    eps = sim.episodes(YEAR_START, YEAR_END)
    assert 25 <= len(eps) <= 80
    boundary = {s["code"] for s in region["sites"] if s.get("boundary_section")}
    outlets = {o["code"] for e in region["enterprises"] for o in e["outlets"] if o.get("reach")}
    assert all(e.source in boundary | outlets for e in eps)
    assert all(YEAR_START <= e.start < YEAR_END for e in eps)
    assert isinstance(eps[0], Episode)


def test_noise_state_continues_across_windows(region, specs):
    pick = [one_of(specs, "air", site="1985A")]
    sim = Simulator.from_region(region, config=SimConfig(seed=1, **CLEAN), specs=pick)
    a = sim.generate(YEAR_START, YEAR_START + dt.timedelta(days=2))
    b = sim.generate(YEAR_START + dt.timedelta(days=2), YEAR_START + dt.timedelta(days=4), state=a.state)
    pm_a, pm_b = a.devices[pick[0].mn].series("a34004"), b.devices[pick[0].mn].series("a34004")
    # the AR(1) noise carries over: the step across the boundary is like any other hourly step
    steps = np.abs(np.diff(np.log(np.maximum(pm_a, 1))))
    assert abs(np.log(max(pm_b[0], 1)) - np.log(max(pm_a[-1], 1))) < np.percentile(steps, 99.5) + 0.2


def test_demo_schedule_names_the_scripted_events_in_beijing_time(region):
    """What the live simulator prints at start: both demo episodes (the second ``demo_gap`` after the
    first) with their first places downstream, and the instrument fault's hour."""
    anchor = dt.datetime(2026, 12, 5, 12, 20, tzinfo=UTC)  # 20:20 in Beijing
    sim = Simulator.from_region(region, config=SimConfig(seed=1, demo_gap=dt.timedelta(minutes=90)))
    lines = sim.demo_schedule(anchor)
    assert len(lines) == 3
    taipu, jishui, fault = lines
    assert taipu.startswith("12-05 20:20 (Beijing) demo episode") and "E320509-01-DW001" in taipu
    net = RiverNetwork.from_region(region)
    first = (anchor + dt.timedelta(seconds=net.travel("E320509-01-DW001", "W320509-S02").travel_time_s))
    assert f"W320509-S02 ≈ {first.astimezone(dt.timezone(dt.timedelta(hours=8))):%m-%d %H:%M}" in taipu
    assert jishui.startswith("12-05 21:50 (Beijing)") and "W320583-S01" in jishui
    # the fault starts 40 minutes after the first episode (13:00 UTC): the hour slot 21:00–22:00 Beijing
    assert fault.startswith("12-05 21:00–12-05 22:00 (Beijing) demo instrument fault") and "W320583-S03" in fault


def test_live_loggers_continue_the_backfill_without_a_step(region, specs, tmp_path):
    """The live source started right after a back-fill continues its noise state (saved by the
    back-fill, loaded by the live loggers): slow signals such as conductivity do not step at the
    hand-over, which alarm rules and verdicts would see as a change at every station at once
    (seen in make demo: conductivity z +10 at the first live value, an analyser fault judged an
    event). Without the state the step is several times larger."""
    from gongzhi.simulator.loggers import LiveSource, load_state, save_state

    water = [s for s in specs.values() if s.kind == "water"]
    sim = Simulator.from_region(region, config=SimConfig(seed=1, **CLEAN), specs=water)
    end = YEAR_START + dt.timedelta(days=3)
    history = sim.generate(YEAR_START, end)
    save_state(tmp_path, end=end, seed=1, state=history.state)
    start = end + dt.timedelta(minutes=37)
    state = load_state(tmp_path, start=start, seed=1)
    assert state == history.state

    def step(state):
        live = LiveSource(sim, start, state=state)
        jumps = [abs(np.log(live.result.devices[s.mn].series("w01014")[0] / history.devices[s.mn].series("w01014")[-1]))
                 for s in water]
        return float(np.mean(jumps))

    hourly = float(np.mean([np.mean(np.abs(np.diff(np.log(history.devices[s.mn].series("w01014"))))) for s in water]))
    assert step(state) < 2 * hourly  # like any other hourly step
    assert step(None) > 3 * step(state)


def test_saved_state_is_used_only_for_its_seed_and_a_start_right_after(tmp_path):
    from gongzhi.simulator.loggers import STATE_FILE, load_state, save_state

    end = dt.datetime(2026, 12, 5, 19, tzinfo=UTC)
    save_state(tmp_path, end=end, seed=7, state={("regional", "wtemp"): 0.25, ("SIMW", "cond"): -1.5})
    assert load_state(tmp_path, start=end + dt.timedelta(minutes=5), seed=7) == {("regional", "wtemp"): 0.25,
                                                                                 ("SIMW", "cond"): -1.5}
    assert load_state(tmp_path, start=end, seed=8) is None  # another generator
    assert load_state(tmp_path, start=end + dt.timedelta(hours=7), seed=7) is None  # a long pause since
    assert load_state(tmp_path, start=end - dt.timedelta(hours=1), seed=7) is None  # before the back-fill's end
    (tmp_path / STATE_FILE).write_text("{not json", encoding="utf-8")
    assert load_state(tmp_path, start=end, seed=7) is None  # damaged: a fresh start, no crash
    assert load_state(tmp_path / "missing", start=end, seed=7) is None
