"""The pipeline's columnar path (packets shaped like earlier ones become rows a batch at a time,
as NumPy columns) stores exactly what the value-by-value path stores."""

import datetime as dt

import pytest
from django.db import transaction
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from gongzhi.ingest.pipeline import IngestConfig, Pipeline
from gongzhi.observations.models import QC_FLAG_INVALID, QC_NEGATIVE, QC_OUT_OF_RANGE, QC_UNIT_CONVERTED, Observation, Series
from gongzhi.registry import models as reg

from ingest_helpers import MN_AIR, MN_WATER, MN_WW, hour_start, items, now_cst, upload

#: (MN, codes it may send): water (ST 21), air (ST 22, one series kept in mg/m³: converted), wastewater (ST 32)
DEVICES = {
    MN_WATER: ["w01001", "w21003", "w01009", "w01010", "w21011", "w00000"],
    MN_AIR: ["a21026", "a21005", "a34004"],
    MN_WW: ["w01018", "w21003", "w21011", "w00000"],
}
#: suffix sets a factor may be sent with (the value suffix is Rtd for real-time data)
SUFFIXES = [("Avg",), ("Avg", "Min", "Max"), ("Cou",), ("Avg", "Cou"), ("Min", "Avg", "Max", "Cou")]
#: value texts: ordinary, negative, zero, beyond physical ranges, and texts that are no finite number
#: (the odd ones rarer: one in a packet sends the whole packet value by value)
TEXTS = ["0.52", "7.1", "-0.1", "0", "15.2", "45.0", "1e5", "123456.75"] * 6 + ["nan", "inf", "1_000", ""]
FLAGS = ["N", "N", "N", "D", "M", "T", "", "NN"]


def _stored() -> list[tuple]:
    """Every stored value by natural keys (ids differ between the two runs)."""
    out = []
    for o in Observation.objects.select_related("series__parameter", "series__site", "series__outlet"):
        s = o.series
        holder = s.site.code if s.site_id else s.outlet.code
        qn = None
        if o.packet_id is not None:
            from gongzhi.ingest.models import RawPacket

            qn = RawPacket.objects.get(pk=o.packet_id).qn
        out.append((holder, s.parameter.key, s.kind, s.unit, o.time, o.value, o.vmin, o.vmax, o.total, o.flag, o.qc,
                    o.source, qn))
    return sorted(out, key=repr)


def _run(columnar: bool, batches: list[list[bytes]], received: dt.datetime) -> tuple[list, list]:
    """Process the batches with a new pipeline; return (stored rows, outcomes), then roll back."""
    p = Pipeline(IngestConfig())
    p.columnar = columnar
    outcomes = []
    with transaction.atomic():
        for packets in batches:
            for o in p.process_batch(items(*packets, received=received)):
                outcomes.append((o.verdict, o.reason, o.detail, o.values_stored, o.duplicates, o.qn, o.replies))
        stored = _stored()
        transaction.set_rollback(True)
    return stored, outcomes


@given(data=st.data())
@settings(max_examples=80, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture,
                                                                  HealthCheck.too_slow])
def test_columnar_path_stores_what_the_value_by_value_path_stores(ingest_registry, data):
    """Random loggers send several packets of one CP shape each (kinds, factors with value,
    minimum, maximum and total, flags that invalidate, negative and out-of-range values,
    texts that are no finite number, a series in another unit, repeated times): both paths
    store the same rows with the same QC bits and give the same verdicts, counts, notes and
    acknowledgements. The first packet of a shape always goes value by value; the columnar
    path takes the later ones."""
    air = ingest_registry["air"]
    if not Series.objects.filter(site=air, parameter__key="so2", kind="hour").exists():
        Series.objects.create(site=air, parameter=reg.Parameter.objects.get(key="so2"), kind="hour", unit="mg/m³",
                              owner=ingest_registry["bureau"])
    base = hour_start(now_cst()) - dt.timedelta(hours=48)
    batches: list[list[bytes]] = [[], []]
    for mn in sorted(DEVICES):
        cn = data.draw(st.sampled_from(["2061", "2061", "2051", "2011"]), label="cn")
        codes = data.draw(st.lists(st.sampled_from(DEVICES[mn]), min_size=2, max_size=4, unique=True), label="codes")
        suffixes = {c: data.draw(st.sampled_from(SUFFIXES)) for c in codes}
        flagged = {c: data.draw(st.booleans()) for c in codes}
        step = {"2061": dt.timedelta(hours=1), "2051": dt.timedelta(minutes=1), "2011": dt.timedelta(seconds=30)}[cn]
        for k in range(data.draw(st.integers(2, 6), label="packets")):
            factors = {}
            for c in codes:
                f = {}
                for s in suffixes[c]:
                    s = "Rtd" if (cn == "2011" and s == "Avg") else s
                    f[s] = data.draw(st.sampled_from(TEXTS))
                if flagged[c]:
                    f["Flag"] = data.draw(st.sampled_from(FLAGS))
                factors[c] = f
            # now and then a time sent before (a duplicate value under a new QN)
            slot = data.draw(st.integers(0, k))
            batch = batches[0] if k == 0 else batches[data.draw(st.integers(0, 1))]
            batch.extend(upload(mn, factors, cn=cn, data_time=base + slot * step))
    received = dt.datetime.now(dt.timezone.utc)
    rows_a, out_a = _run(False, batches, received)
    rows_b, out_b = _run(True, batches, received)
    assert out_b == out_a
    assert rows_b == rows_a


def test_columnar_path_is_taken_and_flags_checks_and_conversions_hold(ingest_registry):
    """The second and later packets of a shape go the columnar way (no row list), and what
    they store carries the flags, QC bits and unit conversion of the value-by-value path."""
    air = ingest_registry["air"]
    Series.objects.create(site=air, parameter=reg.Parameter.objects.get(key="so2"), kind="hour", unit="mg/m³",
                          owner=ingest_registry["bureau"])
    p = Pipeline(IngestConfig())
    base = hour_start(now_cst()) - dt.timedelta(hours=10)

    def send(h, so2, co, pm, flag="N"):
        return upload(MN_AIR, {"a21026": {"Avg": so2, "Min": 1, "Max": 30, "Flag": flag}, "a21005": {"Avg": co},
                               "a34004": {"Avg": pm}}, data_time=base + dt.timedelta(hours=h))

    p.process_batch(items(*send(0, 12, 0.8, 35)))  # the first of its shape: value by value, then the plan is made
    assert len(p._fast) == 1
    seen = []
    import gongzhi.ingest.pipeline as pl

    real = pl._Batch.columns

    def spy(self):
        seen.append((sum(map(len, self.groups.values())), len(self.rows)))
        return real(self)

    pl._Batch.columns = spy
    try:
        outs = p.process_batch(items(*send(1, 15, -0.2, 40), *send(2, 20, 0.9, 99999.0, flag="D")))
    finally:
        pl._Batch.columns = real
    assert seen == [(2, 0)]  # both packets as blocks, no row made value by value
    assert [o.values_stored for o in outs] == [3, 3]
    so2 = {o.time: o for o in Observation.objects.filter(series__site=air, series__parameter__key="so2")}
    co = {o.time: o for o in Observation.objects.filter(series__site=air, series__parameter__key="co")}
    pm = {o.time: o for o in Observation.objects.filter(series__site=air, series__parameter__key="pm2_5")}
    t1, t2 = base + dt.timedelta(hours=1), base + dt.timedelta(hours=2)
    # µg/m³ as sent, stored in the series' mg/m³: value, minimum and maximum converted
    assert (so2[t1].value, so2[t1].vmin, so2[t1].vmax) == pytest.approx((0.015, 0.001, 0.03))
    assert so2[t1].qc == QC_UNIT_CONVERTED and so2[t1].flag == "N"
    assert so2[t2].flag == "D" and so2[t2].qc == QC_UNIT_CONVERTED | QC_FLAG_INVALID
    assert co[t1].qc == QC_NEGATIVE and co[t1].flag == ""
    assert co[t2].qc == 0 and pm[t1].qc == 0
    assert pm[t2].qc == QC_OUT_OF_RANGE and pm[t2].value == 99999.0
