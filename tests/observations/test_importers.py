"""Lab/manual file import: CSV (UTF-8, BOM, GBK), XLSX, long layout; every rejection
reason with its row and column; all-or-nothing leaves the database unchanged; partial and
dry-run modes; idempotent re-import; the CLI."""

import datetime as dt
import io
from pathlib import Path

import pytest
from openpyxl import Workbook

from gongzhi.observations import services as obs_services

from gongzhi.cli import main
from gongzhi.observations import importers as imp
from gongzhi.observations.models import (
    QC_UNIT_CONVERTED, Aggregate, DirtyPeriod, ImportBatch, PendingChange, Observation, SampleRecord, Series, SeriesKind, Source,
)

CST = dt.timezone(dt.timedelta(hours=8))
EXAMPLE = Path(__file__).resolve().parents[2] / "docs" / "examples" / "observations-lab.csv"
NOW = dt.datetime(2026, 6, 1, 12, tzinfo=CST)


def run(data, user, **kw):
    kw.setdefault("now", NOW)
    if isinstance(data, str):
        data = data.encode("utf-8")
    return imp.import_file(data=data, filename=kw.pop("filename", "lab.csv"), user=user, **kw)


def stored():
    return sorted(
        (s.site.code, s.parameter.key, o.time.astimezone(CST), o.value, o.qc)
        for s in Series.objects.select_related("site", "parameter")
        for o in Observation.objects.filter(series=s)
    )


def snapshot():
    return (stored(), Series.objects.count(), ImportBatch.objects.count(), SampleRecord.objects.count(), DirtyPeriod.objects.count(), PendingChange.objects.count())


def test_example_file_imports(registry):
    r = run(EXAMPLE.read_bytes(), registry["users"]["qp_monitor"], filename=EXAMPLE.name)
    assert r.ok and r.written, r.summary()
    assert (r.accepted, r.duplicates, r.rejected) == (18, 0, 0)
    s = Series.objects.get(site__code="W1", parameter__key="nh3_n")
    assert (s.kind, s.unit, s.owner.code) == (SeriesKind.SAMPLE, "mg/L", "qingpu")
    o = Observation.objects.get(series=s, time=dt.datetime(2026, 5, 13, 9, 20, tzinfo=CST))
    assert (o.value, o.source, o.flag) == (0.51, Source.IMPORT, "")
    assert Observation.objects.get(series__parameter__key="water_temp", time=dt.datetime(2026, 5, 6, 9, 30, tzinfo=CST)).value == 21.5
    assert sorted(SampleRecord.objects.values_list("sample_id", flat=True)) == ["QP-20260506-01", "QP-20260513-01", "QP-20260520-02"]
    assert ImportBatch.objects.get().accepted == 18
    # the samples' days and months are dirty, like any other write
    obs_services.apply_pending_changes()
    assert DirtyPeriod.objects.count() == 18
    # importing the same file again stores nothing twice and is not a failure
    again = run(EXAMPLE.read_bytes(), registry["users"]["qp_monitor"])
    assert again.ok and (again.accepted, again.duplicates) == (0, 18)
    assert Observation.objects.count() == 18


def test_bom_csv_with_unit_row_and_codes(registry):
    text = "site,time,w21003,tp\n单位,,µg/L,mg/L\nW1,2026-05-06 09:30,420,0.1\n"
    r = run(b"\xef\xbb\xbf" + text.encode("utf-8"), registry["users"]["qp_monitor"])
    assert r.ok and r.encoding == "utf-8-sig"
    nh3 = next(x for x in r.results if x.parameter == "nh3_n")
    assert nh3.status == "accepted" and "converted from µg/L to mg/L" in nh3.reason
    assert stored() == [
        ("W1", "nh3_n", dt.datetime(2026, 5, 6, 9, 30, tzinfo=CST), pytest.approx(0.42), QC_UNIT_CONVERTED),
        ("W1", "tp", dt.datetime(2026, 5, 6, 9, 30, tzinfo=CST), 0.1, 0),
    ]


def test_gbk_csv_with_chinese_names(registry):
    text = "站点编码,采样时间,氨氮（mg/L）,总磷,标记\nW1,2026/5/6 9:30,0.42,0.12,N\nW1,2026年5月7日 10:00,0.40,,\n"
    r = run(text.encode("gbk"), registry["users"]["qp_monitor"])
    assert r.ok and r.encoding == "gb18030", r.summary()
    assert [(p, t.day, v) for _, p, t, v, _ in stored()] == [("nh3_n", 6, 0.42), ("nh3_n", 7, 0.40), ("tp", 6, 0.12)]
    assert Observation.objects.filter(flag="N").count() == 2


def test_xlsx_with_datetime_cells(registry):
    wb = Workbook()
    ws = wb.active
    ws.append(["site", "time", "sample_id", "氨氮", "COD(mg/L)"])
    ws.append(["W1", dt.datetime(2026, 5, 6, 9, 30), "S-1", 0.42, 18])
    ws.append(["W1", dt.date(2026, 5, 7), "S-2", 0.5, None])
    buf = io.BytesIO()
    wb.save(buf)
    r = run(buf.getvalue(), registry["users"]["qp_monitor"], filename="lab.xlsx")
    assert r.ok and r.format == "xlsx", r.summary()
    assert [(p, t, v) for _, p, t, v, _ in stored()] == [
        ("cod", dt.datetime(2026, 5, 6, 9, 30, tzinfo=CST), 18.0),
        ("nh3_n", dt.datetime(2026, 5, 6, 9, 30, tzinfo=CST), 0.42),
        ("nh3_n", dt.datetime(2026, 5, 7, tzinfo=CST), 0.5),
    ]


def test_long_layout_with_unit_column(registry):
    text = "site,time,parameter,value,unit\nW1,2026-05-06T09:30:00+08:00,nh3_n,0.42,mg/L\nW1,2026-05-06 01:30:00Z,总磷,120,ug/L\n"
    r = run(text, registry["users"]["qp_monitor"])
    assert r.ok, r.summary()
    assert [(p, t, v) for _, p, t, v, _ in stored()] == [
        ("nh3_n", dt.datetime(2026, 5, 6, 9, 30, tzinfo=CST), 0.42),
        ("tp", dt.datetime(2026, 5, 6, 9, 30, tzinfo=CST), pytest.approx(0.12)),
    ]


BAD = (
    "site,time,nh3_n,tp,w99999,ph(mg/L),flag\n"
    "W1,2026-05-06 09:30,0.42,0.1,,,\n"  # row 2: good
    "W9,2026-05-06 09:30,0.42,,,,\n"  # row 3: unknown site
    "W1,2026-05-06 10:30,0.42,,1.0,,\n"  # row 4: unknown parameter (w99999)
    "W1,2026-05-06 11:30,abc,0.1,,,\n"  # row 5: non-numeric nh3_n, tp fine
    "W1,2026-05-06 12:30,-0.1,,,,\n"  # row 6: negative
    "W1,2026-05-06 13:30,,,,7.1,\n"  # row 7: unit mismatch (pH in mg/L)
    "W1,2026-07-01 09:30,0.4,,,,\n"  # row 8: future time
    "W1,yesterday,0.4,,,,\n"  # row 9: time not understood
    "W2,2026-05-06 09:30,0.4,,,,\n"  # row 10: W2 belongs to Kunshan
    "W1,2026-05-06 14:30,0.4,,,,X\n"  # row 11: unknown flag
    "W1,2026-05-06 09:30,0.43,,,,\n"  # row 12: conflicts with row 2
    "W1,2026-05-06 09:30,,0.1,,,\n"  # row 13: repeats row 2's TP: a duplicate, not an error
    ",2026-05-06 09:30,0.4,,,,\n"  # row 14: missing site
    "W1,2026-05-06 15:30,nan,,,,\n"  # row 15: NaN is not a number
)


def test_every_rejection_reason_with_row_and_column_and_nothing_written(registry):
    user = registry["users"]["qp_monitor"]
    run("site,time,nh3_n\nW1,2026-05-01 08:00,0.3\n", user)  # data already there must stay as it is
    before = snapshot()
    r = run(BAD, user)
    assert not r.ok and not r.written
    assert snapshot() == before
    got = {(x.row, x.column): x.reason for x in r.rejections()}
    expected = {
        (3, "nh3_n"): "unknown site 'W9'",
        (4, "w99999"): "unknown parameter 'w99999'",
        (5, "nh3_n"): "non-numeric value 'abc'",
        (6, "nh3_n"): "negative value",
        (7, "ph(mg/L)"): "unit mismatch",
        (8, "nh3_n"): "time in the future",
        (9, "nh3_n"): "time not understood",
        (10, "nh3_n"): "not allowed",
        (11, "nh3_n"): "unknown data flag 'X'",
        (12, "nh3_n"): "conflicts with row 2",
        (14, "nh3_n"): "missing site",
        (15, "nh3_n"): "non-numeric value",
    }
    assert set(got) == set(expected)
    for k, start in expected.items():
        assert got[k].startswith(start), (k, got[k])
    ok = {(x.row, x.column) for x in r.results if x.status == "accepted"}
    assert ok == {(2, "nh3_n"), (2, "tp"), (4, "nh3_n"), (5, "tp")}
    assert [(x.row, x.column) for x in r.results if x.status == "duplicate"] == [(13, "tp")]


def test_partial_writes_the_accepted_values_only(registry):
    r = run(BAD, registry["users"]["qp_monitor"], partial=True)
    assert r.written and not r.ok
    assert [(p, t.hour, v) for _, p, t, v, _ in stored()] == [("nh3_n", 9, 0.42), ("nh3_n", 10, 0.42), ("tp", 9, 0.1), ("tp", 11, 0.1)]
    assert ImportBatch.objects.get().rejected == r.rejected == 12


def test_dry_run_writes_nothing_and_reports_stored_duplicates(registry):
    user = registry["users"]["qp_monitor"]
    run("site,time,nh3_n\nW1,2026-05-06 09:30,0.40\n", user)
    before = snapshot()
    progress = []
    r = run(EXAMPLE.read_bytes(), user, dry_run=True, progress=lambda *a: progress.append(a))
    assert r.ok and not r.written and snapshot() == before
    dup = [x for x in r.results if x.status == "duplicate"]
    assert len(dup) == 1 and "already stored with value 0.4" in dup[0].reason
    assert r.accepted == 17
    assert progress[-1] == ("validate", 3, 3)


def test_files_that_are_not_tables_are_refused_without_a_crash(registry):
    user = registry["users"]["qp_monitor"]
    for data, name, message in [
        (b"PK\x03\x04garbage", "x.xlsx", "not a readable XLSX"),
        (b"\xff\xfe\x00\xd8\x00", "x.csv", "encoding not recognised"),
        ("only,a,header\n", "x.csv", "no data rows"),
        ("a,b\n1,2\n", "x.csv", "missing column(s) site, time"),
        ("site,time,备注\nW1,2026-05-01,x\n", "x.csv", "no parameter columns"),
    ]:
        r = run(data, user, filename=name)
        assert not r.ok and message in r.summary(), (name, r.summary())
    assert run(EXAMPLE.read_bytes(), None).file_errors == ["an importing user is required"]
    assert not Observation.objects.exists()


def test_unit_factor_table():
    assert imp.unit_factor("µg/L", "mg/L") == pytest.approx(0.001)
    assert imp.unit_factor("ug/l", "mg/L") == pytest.approx(0.001)
    assert imp.unit_factor("mg/L", "μg/L") == pytest.approx(1000)
    assert imp.unit_factor("ug/m3", "mg/m³") == pytest.approx(0.001)
    assert imp.unit_factor("mg/L", "mg/m³") is None
    assert imp.unit_factor("NTU", "mg/L") is None
    assert imp.unit_factor("无量纲", "1") == 1.0
    # volume flow rates: 1 L/s = 0.001 m³/s = 3.6 m³/h = 86.4 m³/d
    assert imp.unit_factor("L/s", "m3/d") == pytest.approx(86.4)
    assert imp.unit_factor("m³/d", "L/s") == pytest.approx(1 / 86.4)
    assert imp.unit_factor("L/s", "m³/h") == pytest.approx(3.6)
    assert imp.unit_factor("m3/d", "mg/L") is None


def test_cli_import_and_aggregates(registry, tmp_path, capsys):
    report = tmp_path / "report.csv"
    bad = tmp_path / "bad.csv"
    bad.write_text(BAD, encoding="utf-8")
    code = main(["observations", "import", str(bad), "--user", "qp_monitor", "--report", str(report), "--quiet"])
    out = capsys.readouterr().out
    assert code == 1 and "wrote nothing" in out and "row 3, column nh3_n: unknown site 'W9'" in out
    lines = report.read_text(encoding="utf-8-sig").splitlines()
    assert lines[0] == "row,column,site,parameter,time,value,status,reason" and len(lines) == 1 + 4 + 12 + 1
    assert main(["observations", "import", str(EXAMPLE), "--user", "qp_monitor", "--quiet"]) == 0
    assert Observation.objects.count() == 18
    assert main(["observations", "import", str(EXAMPLE), "--user", "nobody"]) == 2
    capsys.readouterr()
    assert main(["observations", "aggregates", "--recompute"]) == 0
    out = capsys.readouterr().out
    assert "dirty hours waiting: 0" in out
    assert Aggregate.objects.filter(period="day").count() == 18
