"""Back-fill of simulated history into the store (SQLite and PostgreSQL)."""

import datetime as dt

import numpy as np
import pytest

from gongzhi.observations.models import (
    QC_FLAG_INVALID,
    Aggregate,
    DirtyPeriod,
    LatestValue,
    Observation,
    Series,
    Source,
)
from gongzhi.simulator import SimConfig
from gongzhi.simulator.backfill import backfill, history_exists, registry_specs
from sim_helpers import AIR_CODES, WATER_CODES, WW_CODES

pytestmark = pytest.mark.django_db
UTC = dt.timezone.utc
END = dt.datetime(2025, 7, 4, 16, tzinfo=UTC)  # 00:00 Beijing time
CLEAN = SimConfig(seed=1, fault_rate=0.0, offline_rate=0.0, maintenance=False, exceedance_rate=0.0,
                  episodes_per_year=0.0, demo_episodes=False)


def test_specs_from_the_registry(small_registry):
    specs = {s.mn: s for s, _ in registry_specs(region={"devices": []})}
    assert set(specs) == {"SIMW0000000000000000021A", "SIMA0000000000000000022A", "SIMD0000000000000000032A"}
    w = specs["SIMW0000000000000000021A"]
    assert set(w.codes) == set(WATER_CODES) and w.target_class == 3 and w.waterbody_type == "river"
    assert "a05024" in specs["SIMA0000000000000000022A"].codes  # O3 through its alias
    assert specs["SIMD0000000000000000032A"].limits == {"w01018": 80.0}


def test_backfill_stores_every_hour_and_computes_aggregates(small_registry):
    assert not history_exists()
    report = backfill(days=3, end=END, config=CLEAN, region={"devices": []}, batch=500, chunk_days=1)
    n_codes = len(WATER_CODES) + len(AIR_CODES) + len(WW_CODES)
    expected = 72 * n_codes  # no faults or outages configured: every hour of every code
    assert (report.devices, report.series, report.values, report.inserted) == (3, n_codes, expected, expected)
    assert Observation.objects.filter(source=Source.DEVICE).count() == expected
    assert Series.objects.filter(kind="hour").count() == n_codes
    first = Observation.objects.order_by("time").first().time
    last = Observation.objects.order_by("-time").first().time
    assert first == END - dt.timedelta(days=3) and last == END - dt.timedelta(hours=1)
    # the units the gateway would use for each kind of logger
    units = dict(Series.objects.filter(site=small_registry["air"]).values_list("parameter__key", "unit"))
    assert units["so2"] == "µg/m³" and units["co"] == "mg/m³" and units["o3"] == "µg/m³"
    flow = Series.objects.get(outlet=small_registry["ww"], parameter__key="wastewater_flow")
    totals = list(Observation.objects.filter(series=flow).values_list("value", "total")[:5])
    assert all(t == pytest.approx(v * 3.6, rel=0.01, abs=0.02) for v, t in totals)  # L/s over an hour -> m³
    # aggregates: three Beijing days for every series group, a month, nothing left dirty
    assert DirtyPeriod.objects.count() == 0
    days = Aggregate.objects.filter(period="day")
    assert days.count() == 3 * n_codes
    assert days.filter(valid=True).count() == 3 * n_codes
    assert Aggregate.objects.filter(period="month").count() == n_codes
    assert report.days == 3 * n_codes
    temp = Series.objects.get(site=small_registry["water"], parameter__key="water_temp")
    hourly = list(Observation.objects.filter(series=temp).order_by("time").values_list("value", flat=True))
    day_values = list(Aggregate.objects.filter(series=temp, period="day").order_by("start").values_list("value", flat=True))
    assert day_values == pytest.approx([np.mean(hourly[i * 24:(i + 1) * 24]) for i in range(3)], abs=1e-6)
    assert LatestValue.objects.filter(series=temp).get().time == END - dt.timedelta(hours=1)
    assert history_exists()

    again = backfill(days=3, end=END, config=CLEAN, region={"devices": []})
    assert (again.inserted, again.duplicates) == (0, expected)
    assert Observation.objects.count() == expected


def test_backfill_flags_and_gaps_follow_the_generator(small_registry):
    cfg = SimConfig(seed=3, fault_rate=0.3, offline_rate=0.1, maintenance=True, episodes_per_year=0.0,
                    demo_episodes=False)
    report = backfill(days=4, end=END, config=cfg, region={"devices": []}, recompute=False)
    assert 0 < report.inserted < 96 * 18
    assert report.labels > 0
    calibrated = Observation.objects.filter(flag="C")
    assert calibrated.exists()
    assert all(qc & QC_FLAG_INVALID for qc in calibrated.values_list("qc", flat=True))
    assert not Observation.objects.filter(flag="N", qc__gt=0).exclude(series__parameter__key="water_temp").exists()
    assert Observation.objects.filter(flag="D").exists() or Observation.objects.count() < 96 * 18
