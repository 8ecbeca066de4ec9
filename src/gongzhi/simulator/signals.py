"""Value models of the simulated loggers (模拟监测数据), vectorised with NumPy; no Django.

:class:`Simulator` turns device specs (:mod:`gongzhi.simulator.specs`) into values on a regular
time grid — the HJ 212 codes each device sends, in its units — plus the **ground-truth labels**
(:class:`LabelledEvent`) of every injected fault, scheduled calibration/maintenance, outlet
exceedance and pollution episode, so detectors can be scored against them.

Layers, applied in this order (docs/simulator.md has the assumptions behind each number):

1. the *true* signal: seasonal and diurnal cycles per parameter, site levels (water sections
   around their target class, outlets around a fraction of their permit limits), autocorrelated
   noise (AR(1) — an Ornstein–Uhlenbeck process sampled at the grid step, so the same correlation
   time holds at any step) and regional drivers shared by all air stations (weather);
2. real events: pollution episodes travelling downstream (:mod:`gongzhi.simulator.episodes`)
   and outlet exceedances;
3. what the instrument does: random faults (spike, stuck value, drift, fault flag D,
   dropout), weekly calibration (flag C), monthly maintenance (flag M), communication outages.

Deterministic: every random draw comes from a generator seeded by (seed, device, code, purpose,
window start), so the same seed and window give the same values, and a device's values do not
depend on which other devices are generated with it.
"""

from __future__ import annotations

import datetime as dt
import math
from collections import defaultdict
from dataclasses import dataclass, field
from typing import Any, Iterable, Mapping, Sequence

import numpy as np

from gongzhi.simulator.episodes import (
    DEMO_PLACES,
    Episode,
    EpisodeArrival,
    ScriptedFault,
    demo_episodes,
    demo_faults,
    episode_sources,
    propagate,
    pulse,
    random_episodes,
)
from gongzhi.simulator.specs import DeviceSpec, specs_from_region, stable_hash, unit_of
from gongzhi.standards import gb3838

__all__ = [
    "SimConfig", "Simulator", "SimulationResult", "DeviceSeries", "LabelledEvent",
    "FAULT_KINDS", "SCHEDULED_KINDS", "SIGNAL_KINDS", "EVENT_FLAGS", "DECIMALS", "o2_convert", "do_saturation",
]

UTC = dt.timezone.utc
BEIJING_S = 8 * 3600
HOUR_S = 3600
DAY_S = 86400
#: clean water sections: their 99th percentile at the seasonal peak is below this share of the
#: target-class limit (the standard normal quantile of p99 is Z99)
CLEAN_P99 = 0.95
Z99 = 2.326
YEAR_D = 365.25

#: random instrument faults, drawn at ``SimConfig.fault_rate`` per series and day
FAULT_KINDS = ("spike", "stuck", "drift", "fault", "dropout")
FAULT_WEIGHTS = (0.35, 0.2, 0.15, 0.15, 0.15)
#: planned work on the analysers
SCHEDULED_KINDS = ("calibration", "maintenance")
#: real changes of the water or the discharge (not instrument errors)
SIGNAL_KINDS = ("episode", "exceedance")
#: HJ 212 data flag the logger puts on values affected by each kind ("" = nothing sent). Spikes,
#: stuck values and drift are invisible to the instrument: it reports them as normal (N).
EVENT_FLAGS = {"spike": "N", "stuck": "N", "drift": "N", "fault": "D", "dropout": "", "offline": "",
               "calibration": "C", "maintenance": "M", "episode": "N", "exceedance": "N"}

#: decimals sent, per device kind and code (defaults: 3)
DECIMALS = {
    "water": {"w01001": 2, "w01009": 2, "w01010": 1, "w01014": 0, "w01019": 2, "w21003": 3, "w21011": 3, "w21001": 2},
    "air": {"a21026": 0, "a21004": 0, "a21005": 2, "a05024": 0, "a34002": 0, "a34004": 0},
    "wastewater": {"w00000": 2, "w01001": 2, "w01018": 1, "w21003": 2, "w21011": 3, "w21001": 2, "x-sb": 4},
    "flue_gas": {"a00000": 2, "a19001": 2, "a01011": 2, "a01012": 1, "a01013": 3, "a01014": 1, "a21026": 2,
                 "a21002": 1, "a34013": 2, "a24088": 2},
}

#: typical discharge concentrations (mg/L) where the permit gives no limit for a code a logger sends
TYPICAL_SOURCE = {"w01018": 120.0, "w21003": 8.0, "w21011": 1.0, "w21001": 15.0, "x-sb": 0.05, "w20122": 0.2,
                  "w20121": 0.2, "w23002": 0.1, "a24088": 15.0, "a21026": 20.0, "a21002": 40.0, "a34013": 5.0}
#: codes that are not concentrations of a pollutant (no exceedance, additive faults)
STATE_CODES = {"w00000", "w01001", "w01009", "w01010", "w01014", "a00000", "a19001", "a01011", "a01012", "a01013",
               "a01014"}
ADDITIVE_CODES = {"w01001", "w01010", "a01012", "a01013", "a19001", "a01014"}
_PH_LIMITS = {"w01001"}


@dataclass(frozen=True)
class SimConfig:
    seed: int = 0
    #: random instrument faults per series (device × code) per day
    fault_rate: float = 0.01
    #: communication outages (nothing sent) per device per day
    offline_rate: float = 0.003
    #: weekly calibration (C) and monthly maintenance (M)
    maintenance: bool = True
    #: exceedance events per outlet device per day
    exceedance_rate: float = 0.04
    #: random pollution episodes per year over the region
    episodes_per_year: float = 8.0
    #: include the deterministic demo episodes (:func:`gongzhi.simulator.episodes.demo_episodes`)
    demo_episodes: bool = True
    #: start of the first demo episode; default: 6 days before the end of the window
    demo_anchor: dt.datetime | None = None
    #: time from the first demo episode to the second
    demo_gap: dt.timedelta = dt.timedelta(days=3)


@dataclass(frozen=True)
class LabelledEvent:
    """Ground truth of one injected event.

    ``kind``: one of :data:`FAULT_KINDS`, :data:`SCHEDULED_KINDS`, ``offline`` or
    :data:`SIGNAL_KINDS`; ``code`` ``None`` means every code of the device; ``[start, end)`` in
    UTC; ``flag`` the HJ 212 flag the logger sent on the affected values ("" when nothing was
    sent); ``place`` the site or outlet code; ``episode`` the episode id for ``episode`` events;
    ``detail`` kind-specific numbers (factor, drift, travel time, attenuation …)."""

    kind: str
    mn: str
    code: str | None
    start: dt.datetime
    end: dt.datetime
    flag: str
    place: str
    episode: str | None = None
    detail: Mapping[str, Any] = field(default_factory=dict)

    @property
    def is_fault(self) -> bool:
        return self.kind in FAULT_KINDS or self.kind == "offline"

    def covers(self, code: str) -> bool:
        return self.code is None or self.code == code


@dataclass
class DeviceSeries:
    """Values of one device on the grid: ``values[i, k]`` is code ``codes[i]`` at ``times[k]``
    (NaN: not sent), ``flags`` the HJ 212 data flag, ``zs`` converted (折算) values of flue-gas
    pollutants, ``totals`` -Cou amounts over each step (flows m³, pollutant loads kg)."""

    spec: DeviceSpec
    times: np.ndarray  # datetime64[s], UTC
    codes: tuple[str, ...]
    values: np.ndarray
    flags: np.ndarray
    zs: dict[str, np.ndarray] = field(default_factory=dict)
    totals: dict[str, np.ndarray] = field(default_factory=dict)

    def index(self, code: str) -> int:
        return self.codes.index(code)

    def series(self, code: str) -> np.ndarray:
        return self.values[self.codes.index(code)]

    def unit(self, code: str) -> str:
        return unit_of(self.spec.kind, code)


@dataclass
class SimulationResult:
    start: dt.datetime
    end: dt.datetime
    step_s: int
    devices: dict[str, DeviceSeries]
    events: list[LabelledEvent]
    episodes: list[Episode]
    arrivals: dict[str, list[EpisodeArrival]]
    state: dict[Any, float]

    @property
    def times(self) -> np.ndarray:
        return np.arange(_epoch(self.start), _epoch(self.end), self.step_s).astype("datetime64[s]")

    def labels(self, *, kind: str | Iterable[str] | None = None, mn: str | None = None,
               code: str | None = None) -> list[LabelledEvent]:
        """Labelled events, filtered by kind(s), device and code (events on every code match any code)."""
        kinds = {kind} if isinstance(kind, str) else set(kind) if kind is not None else None
        return [e for e in self.events
                if (kinds is None or e.kind in kinds) and (mn is None or e.mn == mn) and (code is None or e.covers(code))]

    def truth_mask(self, mn: str, code: str, *, kinds: Iterable[str] | None = None) -> np.ndarray:
        """Boolean mask over the grid: where a labelled event of ``kinds`` (default: faults,
        offline, episodes, exceedances — not planned calibration/maintenance) affects ``code``."""
        kinds = set(kinds) if kinds is not None else set(FAULT_KINDS) | {"offline"} | set(SIGNAL_KINDS)
        t = _epoch_array(self.devices[mn].times)
        mask = np.zeros(t.shape, bool)
        for e in self.labels(kind=kinds, mn=mn, code=code):
            mask |= (t >= _epoch(e.start)) & (t < _epoch(e.end))
        return mask


# --- helpers -----------------------------------------------------------------------------------


def _epoch(t: dt.datetime) -> int:
    if t.tzinfo is None:
        raise ValueError("naive datetime: give timezone-aware times")
    return int(t.timestamp())


def _epoch_array(times: np.ndarray) -> np.ndarray:
    return times.astype("datetime64[s]").astype(np.int64)


def _dt(sec: float) -> dt.datetime:
    return dt.datetime.fromtimestamp(int(sec), UTC)


def _rng(seed: int, *parts: Any) -> np.random.Generator:
    return np.random.default_rng([seed & (2**63 - 1), stable_hash(*parts)])


_TOEPLITZ: dict[tuple[float, int], np.ndarray] = {}
_BLOCK = 64


def ou(eps: np.ndarray, phi: float, x0: float) -> np.ndarray:
    """Unit-variance AR(1) ``x_k = φ x_{k-1} + √(1-φ²) ε_k`` from ``x_{-1} = x0``, vectorised in
    blocks (a lower-triangular Toeplitz product per block, one carry per block)."""
    T = eps.shape[0]
    if T == 0:
        return eps.copy()
    key = (round(phi, 12), _BLOCK)
    L = _TOEPLITZ.get(key)
    if L is None:
        i = np.arange(_BLOCK)
        d = i[:, None] - i[None, :]
        L = np.where(d >= 0, phi ** np.maximum(d, 0), 0.0)
        _TOEPLITZ[key] = L
    nb = -(-T // _BLOCK)
    E = np.zeros(nb * _BLOCK)
    E[:T] = eps * math.sqrt(max(0.0, 1.0 - phi * phi))
    Y = E.reshape(nb, _BLOCK) @ L.T
    carry = phi ** (np.arange(_BLOCK) + 1.0)
    prev = x0
    for b in range(nb):
        Y[b] += carry * prev
        prev = Y[b, -1]
    return Y.ravel()[:T]


class _Noise:
    """AR(1) noise rows keyed by name, with the last value kept for the next window (state)."""

    def __init__(self, seed: int, start_s: int, T: int, step_s: int, state: dict) -> None:
        self.seed, self.start_s, self.T, self.step_s = seed, start_s, T, step_s
        self.state_in = state
        self.state_out: dict = {}

    def __call__(self, key: tuple, tau_h: float, sigma: float = 1.0) -> np.ndarray:
        rng = _rng(self.seed, "noise", *key, self.start_s)
        eps = rng.standard_normal(self.T + 1)
        x0 = self.state_in.get(key)
        phi = math.exp(-self.step_s / (tau_h * HOUR_S))
        # no state: start from the stationary distribution (eps[0])
        x = ou(eps[1:], phi, float(eps[0]) if x0 is None else float(x0))
        if self.T:
            self.state_out[key] = float(x[-1])
        return x * sigma


@dataclass
class _Calendar:
    t: np.ndarray  # epoch seconds (int64)
    hour: np.ndarray  # Beijing hour of day, fractional
    doy: np.ndarray  # Beijing day of year, fractional
    weekday: np.ndarray  # Beijing weekday, Monday = 0

    @classmethod
    def of(cls, t: np.ndarray) -> "_Calendar":
        local = t + BEIJING_S
        days = local // DAY_S
        hour = (local % DAY_S) / 3600.0
        d64 = days.astype("datetime64[D]")
        ystart = d64.astype("datetime64[Y]").astype("datetime64[D]")
        doy = (d64 - ystart).astype(np.float64) + hour / 24.0
        weekday = (days + 3) % 7  # 1970-01-01 was a Thursday
        return cls(t, hour, doy, weekday)

    def season(self, peak_doy: float) -> np.ndarray:
        """+1 at ``peak_doy``, -1 half a year away."""
        return np.cos(2 * np.pi * (self.doy - peak_doy) / YEAR_D)

    def daily(self, peak_hour: float, harmonic: int = 1) -> np.ndarray:
        return np.cos(2 * np.pi * harmonic * (self.hour - peak_hour) / 24.0)

    def bell(self, peak_hour: float, width_h: float) -> np.ndarray:
        d = (self.hour - peak_hour + 12.0) % 24.0 - 12.0
        return np.exp(-((d / width_h) ** 2))


def do_saturation(temp_c: np.ndarray) -> np.ndarray:
    """Oxygen solubility in fresh water at sea level (mg/L) — the common cubic fit in temperature
    (≈ 14.6 at 0 °C, 9.1 at 20 °C, 7.6 at 30 °C)."""
    T = np.asarray(temp_c, float)
    return 14.652 - 0.41022 * T + 0.007991 * T**2 - 0.000077774 * T**3


def o2_convert(value: np.ndarray, o2: np.ndarray, reference_o2: float) -> np.ndarray:
    """Converted (折算) concentration at the reference O2: ``C × (21 − O2ref) / (21 − O2)``
    (oxygen capped at 19.5 % so the factor stays finite)."""
    return value * (21.0 - reference_o2) / (21.0 - np.minimum(o2, 19.5))


def _lognormal(x: np.ndarray, sigma: float) -> np.ndarray:
    """exp of a N(0, σ²) row with mean 1."""
    return np.exp(x - sigma * sigma / 2.0)


# --- the simulator -----------------------------------------------------------------------------


class Simulator:
    """Values and labels for ``specs`` over any window. Build it with :meth:`from_region` to get
    the river network, lakes and episode sources of a demo region."""

    def __init__(self, specs: Sequence[DeviceSpec], *, config: SimConfig | None = None, network=None,
                 lakes: Iterable[str] = (), sources: Sequence[str] = (), outlets_on_network: Iterable[str] = ()) -> None:
        self.specs = {s.mn: s for s in specs}
        self.config = config or SimConfig()
        self.network = network
        self.lakes = set(lakes)
        self.sources = list(sources)
        self.outlets_on_network = set(outlets_on_network)

    @classmethod
    def from_region(cls, region: Mapping, *, config: SimConfig | None = None, mns: set[str] | None = None,
                    specs: Sequence[DeviceSpec] | None = None) -> "Simulator":
        from gongzhi.geo.network import RiverNetwork

        specs = list(specs) if specs is not None else specs_from_region(region, mns=mns)
        if not region.get("river_network"):  # no network: no episodes
            return cls(specs, config=config)
        net = RiverNetwork.from_region(region)
        lakes = {w["code"] for w in region.get("waterbodies", []) if w.get("kind") in ("lake", "reservoir")}
        outlets = {o["code"] for e in region.get("enterprises", []) for o in e.get("outlets", []) if o.get("reach")}
        return cls(specs, config=config, network=net, lakes=lakes, sources=episode_sources(region, net),
                   outlets_on_network=outlets)

    # -- episodes ---------------------------------------------------------------------------------

    def episodes(self, start: dt.datetime, end: dt.datetime) -> list[Episode]:
        """Demo episodes (if configured and inside the network) and random ones over the window."""
        cfg = self.config
        out: list[Episode] = []
        if self.network is None:
            return out
        if cfg.demo_episodes:
            anchor = cfg.demo_anchor or (end - dt.timedelta(days=6))
            out += [e for e in demo_episodes(anchor, cfg.demo_gap) if e.source in self.network.sites]
        rng = _rng(cfg.seed, "episodes", _epoch(start))
        out += random_episodes(rng, self.sources, start, end, per_year=cfg.episodes_per_year,
                               outlets=self.outlets_on_network)
        return out

    def demo_schedule(self, anchor: dt.datetime, *, places: int = 3) -> list[str]:
        """What the scripted demo does after ``anchor`` (the first demo episode's start), one line
        each, in Beijing time: each demo episode with its first ``places`` places downstream and
        their arrival times, and the demo's instrument fault with the hour it shows in hourly
        generation (the slot whose middle lies in the fault)."""
        if self.network is None:
            return []
        bj = dt.timezone(dt.timedelta(hours=8))
        fmt = lambda t: t.astimezone(bj).strftime("%m-%d %H:%M")  # noqa: E731
        lines = []
        for e in demo_episodes(anchor, self.config.demo_gap):
            if e.source not in self.network.sites:
                continue
            arr = [a for a in propagate(e, self.network, lakes=self.lakes) if a.travel_time_s > 0][:places]
            where = "; ".join(f"{a.place} ≈ {fmt(a.arrival)}" for a in arr)
            lines.append(f"{fmt(e.start)} (Beijing) demo episode {e.name} at {e.source}, {e.duration_s / 3600:g} h"
                         + (f"; downstream: {where}" if where else ""))
        for f in demo_faults(anchor):
            s0 = _epoch(f.start)
            slot = -(-(s0 - HOUR_S // 2) // HOUR_S) * HOUR_S  # first hour whose middle is in the fault
            t = _dt(slot)
            lines.append(f"{fmt(t)}–{fmt(t + dt.timedelta(hours=1))} (Beijing) demo instrument fault {f.name}: "
                         f"{f.code} at {f.place} reads ×{f.factor:g} (should be labelled 疑似仪器故障)")
        return lines

    # -- generation -------------------------------------------------------------------------------

    def generate(self, start: dt.datetime, end: dt.datetime, step_s: int = HOUR_S, *,
                 mns: Iterable[str] | None = None, state: Mapping | None = None,
                 episodes: Sequence[Episode] | None = None) -> SimulationResult:
        """Values on the grid ``start, start + step, … < end`` (UTC-aware datetimes) for every
        device (or ``mns``). ``state`` (the previous result's ``state``) continues the noise of
        an adjacent earlier window. ``episodes`` overrides :meth:`episodes`."""
        cfg = self.config
        s0, s1 = _epoch(start), _epoch(end)
        t = np.arange(s0, s1, step_s, dtype=np.int64)
        cal = _Calendar.of(t)
        noise = _Noise(cfg.seed, s0, len(t), step_s, dict(state or {}))
        eps = list(episodes) if episodes is not None else self.episodes(start, end)
        arrivals = {e.id: propagate(e, self.network, lakes=self.lakes) for e in eps} if self.network is not None else {}
        by_place: dict[str, list[tuple[Episode, EpisodeArrival]]] = defaultdict(list)
        for e in eps:
            for a in arrivals.get(e.id, []):
                by_place[a.place].append((e, a))
        regional = {
            "pm": noise(("regional", "pm"), 40.0, 0.45),
            "o3": noise(("regional", "o3"), 60.0, 0.18),
            "gas": noise(("regional", "gas"), 30.0, 0.30),
            "wtemp": noise(("regional", "wtemp"), 120.0, 0.8),
        }
        devices: dict[str, DeviceSeries] = {}
        events: list[LabelledEvent] = []
        wanted = list(mns) if mns is not None else list(self.specs)
        # the demo's scripted instrument fault goes with the demo episodes (same anchor)
        anchor = next((e.start for e in eps if e.demo and e.id == "demo-taipu"), None)
        scripted = demo_faults(anchor) if anchor is not None else []
        for mn in wanted:
            spec = self.specs[mn]
            dev, evs = self._device(spec, cal, noise, regional, by_place.get(spec.location, []), step_s,
                                    [f for f in scripted if f.place == spec.location])
            devices[mn] = dev
            events += evs
        events.sort(key=lambda e: (e.start, e.mn, e.kind, e.code or ""))
        state_out = dict(noise.state_out)
        return SimulationResult(start, end, step_s, devices, events, eps, arrivals, state_out)

    def _device(self, spec: DeviceSpec, cal: _Calendar, noise: _Noise, regional: dict,
                here: list[tuple[Episode, EpisodeArrival]], step_s: int,
                scripted: Sequence[ScriptedFault] = ()) -> tuple[DeviceSeries, list[LabelledEvent]]:
        cfg = self.config
        site_rng = _rng(cfg.seed, spec.mn, "site")
        T = len(cal.t)
        kind = spec.kind
        events: list[LabelledEvent] = []
        model = {"water": _water, "air": _air, "wastewater": _wastewater, "flue_gas": _flue_gas}[kind]
        vals, zs_ref, levels = model(spec, cal, noise, regional, site_rng)
        place = spec.location

        # 2. real events: episodes at this place, exceedances of outlets
        for ep, arr in here:
            incr = ep.outlet if kind == "wastewater" and arr.travel_time_s == 0 else ep.river if kind == "water" else {}
            if not incr:
                continue
            shape = pulse(cal.t.astype(np.float64), float(_epoch(arr.arrival)), ep.duration_s, arr.sigma_s) * arr.attenuation
            if not shape.any() or shape.max() < 1e-3:
                continue
            touched = []
            for code, amount in incr.items():
                if code in vals:
                    vals[code] = vals[code] + amount * shape
                    touched.append(code)
            if "w01009" in vals and "w01009" in touched:
                vals["w01009"] = np.maximum(vals["w01009"], 0.3)
            if touched:
                tail = 2.5 * arr.sigma_s
                events.append(LabelledEvent(
                    "episode", spec.mn, None, _dt(_epoch(arr.arrival) - tail), _dt(_epoch(arr.arrival) + ep.duration_s + tail),
                    EVENT_FLAGS["episode"], place, ep.id,
                    {"source": ep.source, "travel_time_s": arr.travel_time_s, "distance_m": arr.distance_m,
                     "attenuation": arr.attenuation, "sigma_s": arr.sigma_s, "arrival": arr.arrival,
                     "centroid": arr.centroid, "codes": tuple(touched),
                     "peak": {c: incr[c] * arr.peak_factor for c in touched}},
                ))
        if kind in ("wastewater", "flue_gas") and cfg.exceedance_rate > 0 and T:
            events += self._exceedances(spec, cal, vals, zs_ref, step_s)

        # measured flue-gas values from the converted ones
        if kind == "flue_gas":
            o2 = vals.get("a19001")
            for code, ref in zs_ref.items():
                vals[code] = vals[code] * (21.0 - np.minimum(o2, 19.5)) / (21.0 - ref)

        codes = tuple(c for c in spec.codes if c in vals)
        V = np.vstack([vals[c] for c in codes]) if codes else np.zeros((0, T))
        F = np.full(V.shape, "N", dtype="<U1")

        # 3. the instrument
        events += self._faults(spec, cal, codes, V, F, levels, step_s)
        for f in scripted:
            if f.code not in codes:
                continue
            mid = cal.t + step_s / 2  # the slots whose middle lies in the fault
            hit = np.flatnonzero((mid >= _epoch(f.start)) & (mid < _epoch(f.end)))
            if hit.size:
                i0, i1 = int(hit[0]), int(hit[-1]) + 1
                V[codes.index(f.code), i0:i1] *= f.factor
                events.append(LabelledEvent("spike", spec.mn, f.code, _dt(cal.t[i0]), _dt(cal.t[i0] + (i1 - i0) * step_s),
                                            EVENT_FLAGS["spike"], spec.location, None,
                                            {"factor": f.factor, "scripted": True, "name": f.name}))

        # rounding, physical bounds
        dec = DECIMALS.get(kind, {})
        for i, c in enumerate(codes):
            row = V[i]
            if c == "w01001":
                np.clip(row, 0.0, 14.0, out=row)
            elif c not in ("w01010", "a01012", "a01013"):
                np.maximum(row, 0.0, out=row)
            V[i] = np.round(row, dec.get(c, 3))
        zs = {}
        if kind == "flue_gas" and "a19001" in codes:
            o2 = V[codes.index("a19001")]
            for code, ref in zs_ref.items():
                if code in codes:
                    zs[code] = np.round(o2_convert(V[codes.index(code)], o2, ref), dec.get(code, 3))
        totals = _totals(spec, codes, V, step_s)
        times = cal.t.astype("datetime64[s]")
        return DeviceSeries(spec, times, codes, V, F, zs, totals), events

    def _exceedances(self, spec, cal, vals, zs_ref, step_s) -> list[LabelledEvent]:
        cfg = self.config
        T = len(cal.t)
        candidates = [c for c in spec.codes if c in vals and c not in STATE_CODES]
        if not candidates:
            return []
        rng = _rng(cfg.seed, spec.mn, "exceedance", int(cal.t[0]))
        days = T * step_s / DAY_S
        out = []
        for _ in range(int(rng.poisson(cfg.exceedance_rate * days))):
            code = candidates[int(rng.integers(len(candidates)))]
            limit = spec.limits.get(code) or TYPICAL_SOURCE.get(code, 1.0)
            factor = float(rng.uniform(1.1, 2.5))
            dur = float(rng.uniform(1, 8)) * HOUR_S
            i0 = int(rng.integers(T))
            i1 = min(T, i0 + max(1, int(round(dur / step_s))))
            vals[code][i0:i1] = limit * factor * np.exp(rng.normal(0, 0.05, i1 - i0))
            out.append(LabelledEvent("exceedance", spec.mn, code, _dt(cal.t[i0]), _dt(cal.t[i0] + (i1 - i0) * step_s),
                                     "N", spec.location, None,
                                     {"limit": limit, "factor": factor, "converted": code in zs_ref}))
        return out

    def _faults(self, spec, cal, codes, V, F, levels, step_s) -> list[LabelledEvent]:
        cfg = self.config
        T = len(cal.t)
        if T == 0 or not codes:
            return []
        out: list[LabelledEvent] = []
        days = T * step_s / DAY_S
        n_steps = lambda seconds: max(1, int(round(seconds / step_s)))  # noqa: E731

        def label(kind, code, i0, i1, **detail):
            out.append(LabelledEvent(kind, spec.mn, code, _dt(cal.t[i0]), _dt(cal.t[i0] + (i1 - i0) * step_s),
                                     EVENT_FLAGS[kind], spec.location, None, detail))

        # scheduled: weekly calibration at a fixed local weekday and hour, monthly maintenance
        if cfg.maintenance:
            srng = _rng(cfg.seed, spec.mn, "schedule")
            wd, hh = int(srng.integers(7)), int(srng.integers(9, 16))
            idx = np.flatnonzero((cal.weekday == wd) & (np.floor(cal.hour) == hh))
            for i0, i1 in _runs(idx):
                for i, c in enumerate(codes):
                    V[i, i0:i1] = _standard_value(c, levels.get(c))
                F[:, i0:i1] = "C"
                label("calibration", None, i0, i1, standard=True)
            mrng = _rng(cfg.seed, spec.mn, "maintenance", int(cal.t[0]))
            for _ in range(int(mrng.poisson(days / 30.0))):
                i0 = int(mrng.integers(T))
                i1 = min(T, i0 + n_steps(float(mrng.uniform(2, 6)) * HOUR_S))
                F[:, i0:i1] = "M"
                V[:, i0:i1] *= mrng.uniform(0.6, 1.4, (len(codes), 1))
                label("maintenance", None, i0, i1)

        # random faults per series
        gaps: list[tuple[int, int, int]] = []
        if cfg.fault_rate > 0:
            for i, c in enumerate(codes):
                frng = _rng(cfg.seed, spec.mn, c, "faults", int(cal.t[0]))
                for _ in range(int(frng.poisson(cfg.fault_rate * days))):
                    kind = FAULT_KINDS[int(frng.choice(len(FAULT_KINDS), p=FAULT_WEIGHTS))]
                    i0 = int(frng.integers(T))
                    row = V[i]
                    additive = c in ADDITIVE_CODES
                    if kind == "spike":
                        i1 = i0 + 1
                        if additive:
                            delta = float(frng.choice([-1, 1]) * frng.uniform(2, 5)) * (0.5 if c == "w01001" else 2.0)
                            row[i0] += delta
                            label(kind, c, i0, i1, delta=delta)
                        else:
                            factor = float(frng.uniform(3, 8))
                            row[i0] = max(row[i0], levels.get(c, 1.0) * 0.5) * factor
                            label(kind, c, i0, i1, factor=factor)
                    elif kind == "stuck":
                        i1 = min(T, i0 + n_steps(float(frng.uniform(6, 72)) * HOUR_S))
                        row[i0:i1] = row[i0]
                        label(kind, c, i0, i1, value=float(row[i0]))
                    elif kind == "drift":
                        i1 = min(T, i0 + n_steps(float(frng.uniform(2, 10)) * DAY_S))
                        ramp = np.linspace(0.0, 1.0, i1 - i0, endpoint=False)
                        if additive:
                            total = float(frng.choice([-1, 1]) * frng.uniform(0.5, 1.5))
                            row[i0:i1] += total * ramp
                        else:
                            total = float(frng.choice([-1, 1]) * frng.uniform(0.15, 0.4))
                            row[i0:i1] *= 1.0 + total * ramp
                        label(kind, c, i0, i1, drift=total)
                    elif kind == "fault":
                        i1 = min(T, i0 + n_steps(float(frng.uniform(1, 12)) * HOUR_S))
                        row[i0:i1] = row[i0:i1] * frng.uniform(0.0, 0.2, i1 - i0)
                        F[i, i0:i1] = "D"
                        label(kind, c, i0, i1)
                    else:  # dropout: the analyser sends nothing (applied last, below)
                        i1 = min(T, i0 + n_steps(float(frng.uniform(1, 24)) * HOUR_S))
                        gaps.append((i, i0, i1))
                        label(kind, c, i0, i1)
        if cfg.offline_rate > 0:
            orng = _rng(cfg.seed, spec.mn, "offline", int(cal.t[0]))
            for _ in range(int(orng.poisson(cfg.offline_rate * days))):
                i0 = int(orng.integers(T))
                i1 = min(T, i0 + n_steps(float(orng.uniform(1, 24)) * HOUR_S))
                V[:, i0:i1] = np.nan
                label("offline", None, i0, i1)
        for i, i0, i1 in gaps:
            V[i, i0:i1] = np.nan
        return out


def _runs(idx: np.ndarray) -> list[tuple[int, int]]:
    """Consecutive runs of sorted indexes as [start, end) pairs."""
    if idx.size == 0:
        return []
    cuts = np.flatnonzero(np.diff(idx) != 1) + 1
    return [(int(r[0]), int(r[-1]) + 1) for r in np.split(idx, cuts)]


def _standard_value(code: str, level: float | None) -> float:
    """The reading of a calibration standard (span check): about twice the usual level."""
    if code == "w01001":
        return 6.86  # pH buffer
    if code in ("w01010", "a01012"):
        return 25.0
    return round(2.0 * (level or 1.0), 3)


def _totals(spec: DeviceSpec, codes: tuple[str, ...], V: np.ndarray, step_s: int) -> dict[str, np.ndarray]:
    """-Cou over each step: flow volume (m³) and pollutant loads (kg)."""
    out: dict[str, np.ndarray] = {}
    if spec.kind == "wastewater" and "w00000" in codes:
        vol = V[codes.index("w00000")] * step_s / 1000.0  # L/s -> m³
        out["w00000"] = np.round(vol, 2)
        for i, c in enumerate(codes):
            if c not in STATE_CODES:
                out[c] = np.round(V[i] * vol / 1000.0, 4)  # mg/L × m³ = g -> kg
    elif spec.kind == "flue_gas" and "a00000" in codes:
        vol = V[codes.index("a00000")] * step_s  # m³/s -> m³
        out["a00000"] = np.round(vol, 1)
        for i, c in enumerate(codes):
            if c not in STATE_CODES:
                out[c] = np.round(V[i] * vol / 1e6, 4)  # mg/m³ × m³ = mg -> kg
    return out


# --- value models (true signal) ------------------------------------------------------------------
# Each returns (values by code, {code: reference O2} of converted flue-gas values, typical levels).


def _class_limit(key: str, target: int | None, lake: bool) -> float:
    ind = gb3838.INDICATORS[key]
    limits = ind.lake_limits if lake and ind.lake_limits is not None else ind.limits
    return limits[(target or 3) - 1]


def _water(spec: DeviceSpec, cal: _Calendar, noise: _Noise, regional: dict, rng: np.random.Generator):
    lake = spec.waterbody_type in ("lake", "reservoir")
    target = spec.target_class or 3
    # sections that often miss their target; never the places of the scripted demo, whose
    # alarms would otherwise stand open before the demo's episode or fault arrives
    stressed = rng.random() < 0.25 and spec.location not in DEMO_PLACES

    def frac(season: float, sigma: float) -> float:
        """Level as a share of the class limit. A section that meets its target stays under
        0.95 × the limit at the 99th percentile of its seasonal peak (seasonal factor
        ``1 + season``, lognormal noise ``σ``); a stressed one sits at 0.9–1.35 × the limit."""
        if stressed:
            return float(rng.uniform(0.9, 1.35))
        return float(rng.uniform(0.45, 0.9)) * CLEAN_P99 / ((1 + season) * math.exp(Z99 * sigma - sigma * sigma / 2))

    summer = 0.5 * (1 + cal.season(200))  # 0 in winter, 1 in late July
    key = spec.mn
    v: dict[str, np.ndarray] = {}
    levels: dict[str, float] = {}

    temp = 18.0 + 12.5 * cal.season(205) + (0.8 if lake else 0.4) * cal.daily(16) + regional["wtemp"] \
        + noise((key, "temp"), 12.0, 0.3)
    temp = np.clip(temp, 1.0, 34.0)
    v["w01010"], levels["w01010"] = temp, 18.0
    ratio = {1: 0.92, 2: 0.88, 3: 0.82, 4: 0.72, 5: 0.62}[target] - (0.1 if stressed else 0.0)
    photo = (0.14 + 0.10 * summer) if lake else (0.06 + 0.06 * summer)
    do = do_saturation(temp) * (ratio + photo * cal.daily(15)) + noise((key, "do"), 8.0, 0.25)
    v["w01009"], levels["w01009"] = np.maximum(do, 0.3), float(9.0 * ratio)
    ph_base = 7.9 if lake else 7.5
    v["w01001"] = ph_base + (0.25 if lake else 0.12) * (0.5 + 0.5 * summer) * cal.daily(15) + noise((key, "ph"), 24.0, 0.08)
    levels["w01001"] = ph_base
    cond = float(rng.uniform(420, 760))
    v["w01014"] = cond * (1 + 0.08 * cal.season(30)) * _lognormal(noise((key, "cond"), 48.0, 0.05), 0.05)
    levels["w01014"] = cond
    for code, k, season, peak, sigma, tau in (
        ("w01019", "codmn", 0.12, 200, 0.15, 36.0),
        ("w21003", "nh3_n", 0.3, 15, 0.25, 24.0),
        ("w21011", "tp", 0.20, 200, 0.20, 36.0),
    ):
        level = frac(season, sigma) * _class_limit(k, target, lake)
        levels[code] = level
        v[code] = level * (1 + season * cal.season(peak)) * _lognormal(noise((key, code), tau, sigma), sigma)
    tn_level = frac(0.25, 0.15) * _class_limit("tn", target, True) if lake else float(rng.uniform(1.8, 3.5))
    # total nitrogen contains ammonia nitrogen: keep its level well above
    tn_level = max(tn_level, 2.5 * levels["w21003"])
    levels["w21001"] = tn_level
    v["w21001"] = tn_level * (1 + 0.25 * cal.season(40)) * _lognormal(noise((key, "w21001"), 36.0, 0.15), 0.15)
    return v, {}, levels


def _air(spec: DeviceSpec, cal: _Calendar, noise: _Noise, regional: dict, rng: np.random.Generator):
    key = spec.mn
    u = float(rng.uniform(0.65, 0.8)) if spec.control_point else float(rng.uniform(0.85, 1.2))
    traffic = float(rng.uniform(0.8, 1.3)) * (0.7 if spec.control_point else 1.0)
    pm_reg = regional["pm"]
    v: dict[str, np.ndarray] = {}
    pm25 = 30.0 * u * (1 + 0.4 * cal.season(10)) * (1 + 0.15 * cal.daily(23) + 0.07 * cal.daily(8, 2)) \
        * _lognormal(pm_reg + noise((key, "pm25"), 6.0, 0.2), math.hypot(0.45, 0.2))
    v["a34004"] = pm25
    v["a34002"] = pm25 * float(rng.uniform(1.45, 1.7)) * (1 + 0.1 * cal.season(90)) \
        + 10.0 * _lognormal(noise((key, "pm10"), 4.0, 0.4), 0.4)
    no2_diurnal = 1 + 0.22 * cal.daily(21) + 0.18 * cal.bell(8, 1.5) - 0.18 * cal.bell(14, 3)
    no2 = 32.0 * traffic * (1 + 0.25 * cal.season(15)) * no2_diurnal \
        * _lognormal(0.7 * regional["gas"] + noise((key, "no2"), 4.0, 0.25), 0.35)
    v["a21004"] = no2
    v["a21026"] = 7.0 * u * (1 + 0.3 * cal.season(15)) * (1 + 0.15 * cal.daily(11)) \
        * _lognormal(noise((key, "so2"), 8.0, 0.3), 0.3)
    v["a21005"] = 0.65 * (1 + 0.3 * cal.season(15)) * (1 + 0.12 * cal.daily(22)) \
        * _lognormal(0.6 * pm_reg + noise((key, "co"), 6.0, 0.15), 0.3)
    # O3: background (spring maximum) titrated at night, plus photochemical production peaking
    # around 15:00 and in early summer
    background = 40.0 + 15.0 * cal.season(120)
    production = 30.0 + 110.0 * (0.5 * (1 + cal.season(175))) ** 1.5
    night = 0.55 + 0.45 * cal.bell(15, 6)
    o3 = (background * night / (0.8 + 0.2 * traffic) + production * cal.bell(15, 3.2)) \
        * _lognormal(regional["o3"] + noise((key, "o3"), 4.0, 0.12), 0.22)
    v["a05024"] = o3
    levels = {"a34004": 30.0 * u, "a34002": 50.0 * u, "a21004": 32.0 * traffic, "a21026": 7.0, "a21005": 0.65,
              "a05024": 80.0}
    return v, {}, levels


def _production(spec: DeviceSpec, cal: _Calendar) -> np.ndarray:
    """Relative activity of the plant: municipal plants follow the town's water use, factories
    their day shift, with quieter weekends."""
    if spec.industry == "municipal_wastewater" or spec.industry == "power":
        return 1 + 0.2 * cal.daily(11) + 0.08 * cal.daily(20, 2)
    weekend = np.where(cal.weekday >= 5, 0.8, 1.0)
    return (1 + 0.3 * cal.daily(14)) * weekend


def _wastewater(spec: DeviceSpec, cal: _Calendar, noise: _Noise, regional: dict, rng: np.random.Generator):
    key = spec.mn
    close = rng.random() < 0.2  # outlets that run close to their limits
    prod = _production(spec, cal)
    v: dict[str, np.ndarray] = {}
    levels: dict[str, float] = {}
    for code in spec.codes:
        if code == "w00000":
            permitted = spec.limits.get(code)
            mean = float(rng.uniform(0.5, 0.8)) * permitted * 1000.0 / DAY_S if permitted else 20.0
            v[code] = mean * prod * _lognormal(noise((key, code), 3.0, 0.1), 0.1)
            levels[code] = mean
        elif code == "w01001":
            base = 8.2 if spec.industry == "textile_dyeing" else 7.2
            v[code] = base + noise((key, code), 6.0, 0.25)
            levels[code] = base
        else:
            limit = spec.limits.get(code)
            frac = float(rng.uniform(0.7, 0.92) if close else rng.uniform(0.3, 0.65))
            level = frac * limit if limit else TYPICAL_SOURCE.get(code, 1.0)
            sigma = 0.22
            v[code] = level * (0.85 + 0.15 * prod) * _lognormal(noise((key, code), 8.0, sigma), sigma)
            levels[code] = level
    return v, {}, levels


def _flue_gas(spec: DeviceSpec, cal: _Calendar, noise: _Noise, regional: dict, rng: np.random.Generator):
    """Flue gas: pollutants with a reference O2 are generated as converted values (what the permit
    judges) and turned into measured ones once O2 is known (:meth:`Simulator._device`)."""
    key = spec.mn
    ref = spec.reference_o2
    power = spec.industry == "power"
    voc = ref is None
    prod = _production(spec, cal)
    flow_mean = float(rng.uniform(150, 260)) if power else float(rng.uniform(5, 15)) if not voc else float(rng.uniform(3, 8))
    o2_mean = (ref + float(rng.uniform(0.8, 2.0))) if ref is not None else float(rng.uniform(19.0, 20.2))
    v: dict[str, np.ndarray] = {}
    levels: dict[str, float] = {}
    zs_ref: dict[str, float] = {}
    flow = flow_mean * prod * _lognormal(noise((key, "flow"), 4.0, 0.06), 0.06)
    for code in spec.codes:
        if code == "a00000":
            v[code], levels[code] = flow, flow_mean
        elif code == "a19001":
            v[code] = np.clip(o2_mean - 0.6 * (prod - 1) + noise((key, code), 2.0, 0.35), 2.0, 20.8)
            levels[code] = o2_mean
        elif code == "a01011":
            v[code], levels[code] = 15.0 * flow / flow_mean, 15.0
        elif code == "a01012":
            t = 50.0 if power else 35.0 if voc else 130.0
            v[code], levels[code] = t + 3.0 * (prod - 1) * 5 + noise((key, code), 3.0, 1.5), t
        elif code == "a01013":
            v[code], levels[code] = 0.35 + noise((key, code), 2.0, 0.04), 0.35
        elif code == "a01014":
            h = 12.0 if power else 3.0 if voc else 7.0
            v[code], levels[code] = np.clip(h + noise((key, code), 6.0, 0.6), 0.5, 40.0), h
        else:
            limit = spec.limits.get(code)
            level = float(rng.uniform(0.3, 0.6)) * limit if limit else TYPICAL_SOURCE.get(code, 10.0)
            sigma = 0.2
            v[code] = level * (0.8 + 0.2 * prod) * _lognormal(noise((key, code), 6.0, sigma), sigma)
            levels[code] = level
            if ref is not None and code in spec.limits:
                zs_ref[code] = ref
    return v, zs_ref, levels
