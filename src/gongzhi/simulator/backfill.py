"""Back-fill simulated history straight into the observation store (历史数据回灌), not over TCP.

:func:`backfill` generates hourly values (what each logger's 2061 hourly uploads would have
carried) for every enabled device of the registry over the last ``days`` days, writes them with
:func:`gongzhi.observations.services.write_observations` (source ``DEVICE``, series kind
``hour``) in large batches, then runs :func:`gongzhi.observations.aggregates.recompute_dirty`
until no dirty period is left (days and months come from there, never from here).

Values get the same arrival QC bits the ingest pipeline would give them (HJ 212 flag,
negative, physical range) and land on the same series the gateway uses (same parameter
resolution, same unit rule), so live data continues the history seamlessly.
"""

from __future__ import annotations

import datetime as dt
import time
from dataclasses import dataclass, field
from typing import Callable, Iterable, Mapping

import numpy as np

from gongzhi.simulator.signals import SimConfig, Simulator
from gongzhi.simulator.specs import DeviceSpec, specs_from_region

__all__ = ["BackfillReport", "backfill", "registry_specs", "history_exists"]

UTC = dt.timezone.utc
HOUR = dt.timedelta(hours=1)
#: catalog domain by system code, as the ingest pipeline resolves codes
DOMAIN_BY_ST = {"21": "water", "32": "water", "22": "air", "31": "air"}
ROMAN = {1: "I", 2: "II", 3: "III", 4: "IV", 5: "V"}


@dataclass
class BackfillReport:
    devices: int = 0
    series: int = 0
    values: int = 0
    inserted: int = 0
    duplicates: int = 0
    generate_s: float = 0.0
    write_s: float = 0.0
    aggregate_s: float = 0.0
    hours: int = 0
    days: int = 0
    months: int = 0
    start: dt.datetime | None = None
    end: dt.datetime | None = None
    labels: int = 0
    skipped_codes: list[str] = field(default_factory=list)
    #: the generator's noise state at ``end``: live loggers started then continue from it
    state: dict = field(default_factory=dict, repr=False)

    @property
    def total_s(self) -> float:
        return self.generate_s + self.write_s + self.aggregate_s

    def __str__(self) -> str:
        return (f"{self.inserted:,} values stored ({self.duplicates:,} already there) for {self.devices} devices, "
                f"{self.series} series, {self.start:%Y-%m-%d %H:%M}–{self.end:%Y-%m-%d %H:%M} UTC; "
                f"{self.hours:,} hour, {self.days:,} day, {self.months:,} month aggregates; "
                f"generate {self.generate_s:.1f} s, write {self.write_s:.1f} s, aggregates {self.aggregate_s:.1f} s")


def registry_specs(*, mns: Iterable[str] | None = None, region: Mapping | None = None) -> list[tuple[DeviceSpec, object]]:
    """(spec, Device) for every enabled device of the registry (only ``mns`` when given).

    Devices of the demo region take their spec from ``region`` (the codes they send); others
    are described from the registry: the codes of their parameters, the site's target class
    and waterbody type, the outlet's permit limits."""
    from gongzhi.registry import models as reg

    qs = reg.Device.objects.filter(enabled=True).select_related("site", "site__waterbody", "outlet", "outlet__enterprise")
    if mns is not None:
        qs = qs.filter(mn__in=list(mns))
    devices = list(qs.prefetch_related("parameters", "parameters__aliases", "outlet__limits__parameter"))
    from_region = {s.mn: s for s in specs_from_region(region)} if region is not None else {}
    out = []
    for d in devices:
        spec = from_region.get(d.mn)
        if spec is None:
            spec = _spec_from_device(d)
        out.append((spec, d))
    return out


def _code_of(p) -> str:
    if p.code_2017:
        return p.code_2017
    alias = next(iter(sorted(a.code for a in p.aliases.all())), None)
    return alias or p.key


def _spec_from_device(d) -> DeviceSpec:
    kw: dict = {}
    if d.site_id:
        s = d.site
        kw.update(site=s.code, target_class=s.target_class, waterbody_type=s.evaluation_waterbody_type or "river",
                  control_point=s.control_point)
    else:
        o = d.outlet
        limits, ref = {}, None
        for lim in o.limits.all():
            if lim.limit is not None:
                limits[_code_of(lim.parameter)] = lim.limit
            if lim.reference_oxygen_pct is not None:
                ref = lim.reference_oxygen_pct
        kw.update(outlet=f"{o.enterprise.code}-{o.code}", limits=limits, reference_o2=ref,
                  industry=o.enterprise.industry if o.enterprise.industry in (
                      "municipal_wastewater", "power", "textile_dyeing") else "")
    return DeviceSpec(mn=d.mn, password=d.password, st=d.system_code, codes=tuple(_code_of(p) for p in d.parameters.all()),
                      interval_s=d.interval_s, protocol=d.protocol_version, name=d.name, **kw)


def history_exists(*, older_than: dt.timedelta = dt.timedelta(days=2)) -> bool:
    """Whether the store holds device data older than ``older_than`` (a back-fill ran before)."""
    from django.utils import timezone

    from gongzhi.observations.models import Observation, Source

    return Observation.objects.filter(source=Source.DEVICE, time__lt=timezone.now() - older_than).exists()


def backfill(*, days: float = 365, end: dt.datetime | None = None, config: SimConfig | None = None,
             mns: Iterable[str] | None = None, region: Mapping | None = None, batch: int = 250_000,
             chunk_days: int = 30, recompute: bool = True, recompute_limit: int = 100_000,
             progress: Callable[[str, float], None] | None = None) -> BackfillReport:
    """Generate and store ``days`` days of hourly history ending at ``end`` (default: the start of
    the current hour) for the enabled devices; then recompute the aggregates until clean.

    ``progress(stage, fraction)`` is called as it goes (stage ``"write"`` then ``"aggregates"``).
    Idempotent: values already stored are counted as duplicates and left alone.
    """
    from django.db import transaction
    from django.utils import timezone

    from gongzhi.ingest import qc
    from gongzhi.observations import aggregates
    from gongzhi.observations import services as obs
    from gongzhi.observations.models import QC_FLAG_INVALID, QC_NEGATIVE, QC_OUT_OF_RANGE, QC_UNIT_CONVERTED, Series, SeriesKind, Source
    from gongzhi.registry import models as reg
    from gongzhi.registry.services import code_index, record_unknown_code

    if region is None:
        from gongzhi.demo.region import load_region

        region = load_region()
    report = BackfillReport()
    note = progress or (lambda stage, frac: None)
    end = (end or timezone.now()).astimezone(UTC).replace(minute=0, second=0, microsecond=0)
    start = end - dt.timedelta(days=days)
    start = start.replace(minute=0, second=0, microsecond=0)
    report.start, report.end = start, end
    pairs = registry_specs(mns=mns, region=region)
    report.devices = len(pairs)
    if not pairs:
        return report
    specs = [s for s, _ in pairs]
    sim = Simulator.from_region(region, config=config or SimConfig(), specs=specs)

    # series of each (device, code): the gateway's resolution (code index by domain, source unit)
    params = {p.pk: p for p in reg.Parameter.objects.all()}
    targets: dict[tuple[str, str], tuple[int, str, float, str]] = {}  # (mn, code) -> (series, key, factor, unit)
    for spec, dev in pairs:
        domain = DOMAIN_BY_ST.get(spec.st, "")
        for code in spec.codes:
            pk = code_index.lookup(code, domain)
            if pk is None:
                record_unknown_code(code=code, source=f"MN {spec.mn} (simulator backfill)")
                report.skipped_codes.append(f"{spec.mn}:{code}")
                continue
            p = params[pk]
            unit = qc.source_unit(system_code=spec.st, unit=p.unit, ambient_unit=p.ambient_unit)
            with transaction.atomic():
                sid = obs.series_resolver.get(site=dev.site, outlet=dev.outlet, parameter=p, kind=SeriesKind.HOUR,
                                              unit=unit)
            targets[(spec.mn, code)] = (sid, p.key, 1.0, unit)
    units = dict(Series.objects.filter(pk__in=[t[0] for t in targets.values()]).values_list("pk", "unit"))
    for k, (sid, key, _f, unit) in list(targets.items()):
        series_unit = units.get(sid, unit)
        factor = qc.unit_factor(unit, series_unit)
        targets[k] = (sid, key, factor if factor is not None else 1.0, series_unit if factor is not None else unit)
    report.series = len(targets)

    episodes = sim.episodes(start, end)
    state: dict = {}
    received = timezone.now()
    total_hours = max(1, int((end - start).total_seconds() // 3600))
    done_hours = 0
    pending: list = []

    def flush() -> None:
        t0 = time.perf_counter()
        res = obs.write_observations(pending, source=Source.DEVICE, received=received)
        report.inserted += res.inserted
        report.duplicates += res.duplicates
        report.write_s += time.perf_counter() - t0
        pending.clear()

    cs = start
    while cs < end:
        ce = min(end, cs + dt.timedelta(days=chunk_days))
        t0 = time.perf_counter()
        result = sim.generate(cs, ce, 3600, state=state, episodes=episodes)
        state = report.state = result.state
        report.labels += len(result.events)
        n = int((ce - cs).total_seconds() // 3600)
        times = [cs + i * HOUR for i in range(n)]
        for mn, ds in result.devices.items():
            for i, code in enumerate(ds.codes):
                target = targets.get((mn, code))
                if target is None:
                    continue
                sid, key, factor, unit = target
                vals = ds.values[i]
                sent = ~np.isnan(vals)
                if not sent.any():
                    continue
                v = vals * factor if factor != 1.0 else vals
                bits = np.where(ds.flags[i] == "N", 0, QC_FLAG_INVALID)
                if factor != 1.0:
                    bits |= QC_UNIT_CONVERTED
                if qc.normalise_unit(unit) in qc.NON_NEGATIVE_UNITS:
                    bits |= np.where(v < 0, QC_NEGATIVE, 0)
                rng = qc.PHYSICAL_RANGES.get(key)
                if rng is not None and rng[2] == qc.normalise_unit(unit):
                    bits |= np.where((v < rng[0]) | (v > rng[1]), QC_OUT_OF_RANGE, 0)
                total = ds.totals.get(code)
                idx = np.flatnonzero(sent)
                vl, fl, bl = v.tolist(), ds.flags[i].tolist(), bits.tolist()
                tl = total.tolist() if total is not None else None
                Row = obs.ObservationRow
                for k in idx.tolist():
                    pending.append(Row(sid, times[k], vl[k], fl[k], bl[k], None, None, tl[k] if tl is not None else None))
                report.values += len(idx)
        report.generate_s += time.perf_counter() - t0
        if len(pending) >= batch:
            flush()
        done_hours += n
        note("write", done_hours / total_hours)
        cs = ce
    if pending:
        flush()
    note("write", 1.0)

    if recompute:
        t0 = time.perf_counter()
        first = None
        while True:
            r = aggregates.recompute_dirty(limit=recompute_limit)
            report.hours += r.hours
            report.days += r.days
            report.months += r.months
            if first is None:
                first = r.remaining + r.keys
            note("aggregates", 1.0 - (r.remaining / first if first else 0.0))
            if not r.keys or not r.remaining:
                break
        report.aggregate_s = time.perf_counter() - t0
    return report
