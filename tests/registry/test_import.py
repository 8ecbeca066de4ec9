"""Registry import from CSV and XLSX (gongzhi.registry.importers)."""

from __future__ import annotations

import csv
import io

import pytest
from openpyxl import Workbook, load_workbook

from gongzhi.audit.models import AuditEvent
from gongzhi.registry import importers
from gongzhi.registry import models as reg

ORDER = ("sites", "enterprises", "devices", "limits")


def csv_bytes(rows, encoding="utf-8", bom=False) -> bytes:
    buf = io.StringIO()
    csv.writer(buf, lineterminator="\n").writerows(rows)
    data = buf.getvalue().encode(encoding)
    return (b"\xef\xbb\xbf" + data) if bom else data


def xlsx_bytes(rows) -> bytes:
    wb = Workbook()
    ws = wb.active
    for row in rows:
        ws.append(row)
    buf = io.BytesIO()
    wb.save(buf)
    return buf.getvalue()


def example_rows(kind):
    table = importers.read_table(data=importers.template_bytes(kind), filename=f"{kind}.csv")
    return [table.header] + [r for _n, r in table.rows]


def counts():
    models = (reg.Site, reg.Enterprise, reg.Outlet, reg.Device, reg.PermitLimit, AuditEvent)
    return {m.__name__: m.objects.count() for m in models} | {
        "device_params": reg.Device.parameters.through.objects.count()
    }


def run(kind, data, user, filename="f.csv", **kw):
    return importers.import_file(kind=kind, data=data, filename=filename, user=user, **kw)


def errors(report):
    return [(e.row, e.column) for e in report.errors]


# --- happy paths -----------------------------------------------------------------------------------


@pytest.mark.parametrize("fmt", ["csv", "xlsx"])
def test_examples_import_for_every_kind(registry, fmt):
    for kind in ORDER:
        rows = example_rows(kind)
        data = csv_bytes(rows, bom=True) if fmt == "csv" else xlsx_bytes(rows)
        report = run(kind, data, registry.ks_admin, filename=f"{kind}.{fmt}")
        assert report.ok, (kind, report.errors)
        assert report.written and report.format == fmt
        assert report.created == len(rows) - 1 and report.failed == 0
    section = reg.Site.objects.get(code="W320583-EX01")
    assert section.owner == registry.kunshan and section.target_class == 3 and section.is_boundary
    assert section.upstream_jurisdiction == registry.j_kunshan and section.downstream_jurisdiction == registry.j_qingpu
    assert section.assessment_level == "provincial" and section.waterbody == registry.dianshan
    air = reg.Site.objects.get(code="A320583-EX01")
    assert air.kind == "air_station" and air.target_class is None and air.waterbody is None
    ent = reg.Enterprise.objects.get(code="E320583-EX01")
    outlets = {o.code: o for o in ent.outlets.all()}
    assert set(outlets) == {"DW001", "DA001"}
    assert outlets["DW001"].receiving_waterbody == registry.wusong and outlets["DW001"].lon == pytest.approx(120.963)
    assert outlets["DA001"].kind == "flue_gas" and outlets["DA001"].lon == ent.lon  # no position: the enterprise's
    dev = reg.Device.objects.get(mn="EX320583E00001")
    assert dev.outlet == outlets["DW001"] and dev.site is None and dev.interval_s == 60
    assert set(dev.parameters.values_list("key", flat=True)) == {"cod", "nh3_n", "ph"}
    assert reg.Device.objects.get(mn="EX320583W00001").installed.isoformat() == "2024-03-01"
    ph = reg.PermitLimit.objects.get(outlet=outlets["DW001"], parameter__key="ph")
    assert (ph.lower, ph.limit, ph.period, ph.confidence) == (6, 9, "day", "demo")


def test_english_headers_and_export_round_trip(registry):
    for kind in ORDER:
        assert run(kind, importers.template_bytes(kind), registry.ks_admin).ok
    for kind in ORDER:
        for headers in ("en", "zh"):
            data = importers.export(kind=kind, user=registry.ks_admin, headers=headers)
            before = counts()
            report = run(kind, data, registry.ks_admin)
            assert report.ok, (kind, headers, report.errors)
            assert report.created == 0 and report.updated == 0 and report.unchanged == report.rows > 0
            assert counts() == before  # nothing written, not even an audit event


def test_export_respects_the_policy(registry):
    header, rows = importers.export_rows(kind="sites", user=registry.ks_admin)
    codes = {r[0] for r in rows}
    assert registry.site_ks.code in codes and registry.site_qp.code not in codes
    _h, rows = importers.export_rows(kind="devices", user=registry.ks_viewer)
    assert [r[1] for r in rows] == [""]  # a viewer gets no device password
    _h, rows = importers.export_rows(kind="devices", user=registry.ks_admin)
    assert [r[1] for r in rows] == ["123456"]


def test_reimport_updates_instead_of_duplicating(registry):
    rows = example_rows("sites")
    assert run("sites", csv_bytes(rows), registry.ks_admin).created == 2
    before = counts()
    rows[1][1] = "改过名的断面"
    report = run("sites", csv_bytes(rows), registry.ks_monitor)
    assert report.ok and report.created == 0 and report.updated == 1 and report.unchanged == 1
    after = counts()
    assert after["Site"] == before["Site"]
    assert after["AuditEvent"] == before["AuditEvent"] + 1
    site = reg.Site.objects.get(code="W320583-EX01")
    assert site.name == "改过名的断面"
    event = AuditEvent.objects.filter(model="registry.Site", object_id=str(site.pk)).first()
    assert event.action == "update" and event.via == "import" and event.actor == registry.ks_monitor
    assert event.changes == {"name": ["示例淀山湖交界断面", "改过名的断面"]}


def test_absent_columns_are_left_alone_blank_cells_clear(registry):
    rows = [["code", "name", "kind", "owner", "lon", "lat", "location_note"],
            ["W320583-001", "新名字", "water_section", "kunshan", "120.95", "31.12", ""]]
    registry.site_ks.location_note = "桥下"
    registry.site_ks.save()
    report = run("sites", csv_bytes(rows), registry.ks_admin)
    assert report.ok and report.updated == 1
    site = reg.Site.objects.get(pk=registry.site_ks.pk)
    assert site.name == "新名字" and site.location_note == ""
    assert site.waterbody == registry.dianshan and site.target_class == 3  # not in the file: kept


def test_import_is_audited_as_the_importing_user(registry):
    run("sites", importers.template_bytes("sites"), registry.ks_admin)
    site = reg.Site.objects.get(code="A320583-EX01")
    event = AuditEvent.objects.get(model="registry.Site", object_id=str(site.pk))
    assert (event.action, event.via, event.actor) == ("create", "import", registry.ks_admin)
    assert "sites" in event.reason


def test_gbk_csv_is_detected(registry):
    rows = [["编码", "名称", "类型", "所属局", "经度", "纬度"], ["A320583-GBK", "昆山测试站（GBK）", "空气站", "昆山", "120.9", "31.3"]]
    data = csv_bytes(rows, encoding="gbk")
    with pytest.raises(UnicodeDecodeError):
        data.decode("utf-8")
    report = run("sites", data, registry.ks_admin)
    assert report.ok and report.encoding == "gb18030"
    assert reg.Site.objects.get(code="A320583-GBK").name == "昆山测试站（GBK）"


def test_semicolon_csv_and_utf16_are_read(registry):
    text = "code;name;kind;owner;lon;lat\r\nA320583-S1;分号;air_station;kunshan;120.9;31.3\r\n"
    assert run("sites", text.encode("utf-8"), registry.ks_admin).ok
    tab = "code\tname\tkind\towner\tlon\tlat\r\nA320583-S2\tUTF16\tair_station\tkunshan\t120.9\t31.3\r\n"
    assert run("sites", tab.encode("utf-16"), registry.ks_admin).ok
    assert reg.Site.objects.filter(code__in=["A320583-S1", "A320583-S2"]).count() == 2


def test_progress_callback(registry):
    seen = []
    run("sites", importers.template_bytes("sites"), registry.ks_admin, progress=lambda d, t, s: seen.append((s, d, t)))
    assert seen == [("validate", 1, 2), ("validate", 2, 2), ("write", 1, 2), ("write", 2, 2)]


def test_dry_run_writes_nothing(registry):
    before = counts()
    report = run("sites", importers.template_bytes("sites"), registry.ks_admin, dry_run=True)
    assert report.ok and report.created == 2 and not report.written
    assert counts() == before


# --- bad input: row-level errors, database unchanged ------------------------------------------------

SITE_HEADER = ["编码", "名称", "类型", "所属局", "经度", "纬度", "跨界断面", "上游行政区", "下游行政区"]
GOOD = ["W320583-A", "好行", "水质断面", "kunshan", "120.9", "31.1", "否", "", ""]


def _bad(**change):
    row = list(GOOD)
    row[0] = change.pop("code", "W320583-B")
    for i, name in enumerate(SITE_HEADER):
        if name in change:
            row[i] = change[name]
    return row


BAD_CASES = {
    "wrong type": ([SITE_HEADER, GOOD, _bad(经度="东经120度")], [(3, "经度")]),
    "out of range": ([SITE_HEADER, GOOD, _bad(纬度="95")], [(3, "纬度")]),
    "unknown reference": ([SITE_HEADER, GOOD, _bad(所属局="nowhere")], [(3, "所属局")]),
    "unknown enumeration": ([SITE_HEADER, GOOD, _bad(类型="河流站")], [(3, "类型")]),
    "bad boolean": ([SITE_HEADER, GOOD, _bad(跨界断面="也许")], [(3, "跨界断面")]),
    "model rule": ([SITE_HEADER, GOOD, _bad(跨界断面="是", 上游行政区="320583")], [(3, "跨界断面")]),
    "missing required cell": ([SITE_HEADER, GOOD, _bad(名称="")], [(3, "名称")]),
    "duplicate code in file": ([SITE_HEADER, GOOD, _bad(code="W320583-A")], [(3, "编码")]),
    "missing required column": ([SITE_HEADER[:5], GOOD[:5]], [(1, "lat")]),
    "unknown column": ([SITE_HEADER + ["颜色"], GOOD + ["红"]], [(1, "颜色")]),
    "duplicate column": ([SITE_HEADER + ["code"], GOOD + ["X"]], [(1, "code")]),
}


@pytest.mark.parametrize("fmt", ["csv", "xlsx"])
@pytest.mark.parametrize("case", list(BAD_CASES))
def test_bad_rows_are_reported_and_nothing_is_written(registry, case, fmt):
    rows, expected = BAD_CASES[case]
    data = csv_bytes(rows) if fmt == "csv" else xlsx_bytes(rows)
    before = counts()
    report = run("sites", data, registry.ks_admin, filename=f"x.{fmt}")
    assert errors(report) == expected, report.errors
    assert all(e.message for e in report.errors)
    assert not report.ok and not report.written
    assert counts() == before


def test_row_numbers_count_blank_lines(registry):
    rows = [SITE_HEADER, GOOD, ["", "", "", "", "", "", "", "", ""], _bad(经度="x")]
    report = run("sites", csv_bytes(rows), registry.ks_admin)
    assert errors(report) == [(4, "经度")]


def test_messages_are_chinese_and_name_the_problem(registry):
    report = run("sites", csv_bytes([SITE_HEADER, _bad(所属局="nowhere"), _bad(code="W320583-C", 经度="x")]), registry.ks_admin)
    text = " ".join(e.message for e in report.errors)
    assert "未找到生态环境局“nowhere”" in text and "应为数字" in text


@pytest.mark.parametrize("data", [b"", b"\xef\xbb\xbf", b"\n\n"])
def test_empty_file(registry, data):
    report = run("sites", data, registry.ks_admin)
    assert errors(report) == [(None, "")] and "空" in report.errors[0].message


def test_header_only_file(registry):
    report = run("sites", csv_bytes([SITE_HEADER]), registry.ks_admin)
    assert not report.ok and report.errors[0].row is None


def test_undecodable_and_broken_files(registry):
    assert not run("sites", bytes(range(128, 256)) * 4, registry.ks_admin).ok
    broken = run("sites", b"PK\x03\x04 not really a zip", registry.ks_admin, filename="x.xlsx")
    assert not broken.ok and "XLSX" in broken.errors[0].message


def test_partial_writes_only_the_good_rows(registry):
    rows = [SITE_HEADER, GOOD, _bad(code="W320583-B", 经度="x"), _bad(code="W320583-C")]
    before = counts()
    report = run("sites", csv_bytes(rows), registry.ks_admin, partial=True)
    assert errors(report) == [(3, "经度")]
    assert report.written and report.created == 2 and report.failed == 1
    assert set(reg.Site.objects.filter(code__startswith="W320583-").exclude(pk=registry.site_ks.pk).values_list("code", flat=True)) == {
        "W320583-A", "W320583-C"
    }
    assert counts()["Site"] == before["Site"] + 2


def test_file_level_errors_stop_even_a_partial_import(registry):
    before = counts()
    report = run("sites", csv_bytes([SITE_HEADER + ["颜色"], GOOD + ["红"]]), registry.ks_admin, partial=True)
    assert errors(report) == [(1, "颜色")] and counts() == before


# --- the policy -----------------------------------------------------------------------------------


def test_no_import_for_another_bureau(registry):
    before = counts()
    rows = [SITE_HEADER, GOOD, _bad(code="W310118-X", 所属局="qingpu"), _bad(code=registry.site_qp.code, 所属局="kunshan")]
    report = run("sites", csv_bytes(rows), registry.ks_admin, partial=True)
    assert errors(report) == [(3, "所属局"), (4, "编码")]
    assert counts()["Site"] == before["Site"] + 1
    assert reg.Site.objects.get(pk=registry.site_qp.pk).owner == registry.qingpu


def test_no_moving_an_own_site_to_another_bureau(registry):
    rows = [SITE_HEADER, [registry.site_ks.code, "x", "水质断面", "qingpu", "120.9", "31.1", "否", "", ""]]
    report = run("sites", csv_bytes(rows), registry.ks_admin)
    assert errors(report) == [(2, "所属局")]
    assert reg.Site.objects.get(pk=registry.site_ks.pk).owner == registry.kunshan


def test_roles_without_write_rights_import_nothing(registry):
    report = run("sites", importers.template_bytes("sites"), registry.ks_viewer)
    assert [e.row for e in report.errors] == [2, 3] and not report.written
    assert not reg.Site.objects.filter(code__endswith="-EX01").exists()


def test_devices_and_limits_of_another_bureau_are_refused(registry):
    devices = [["mn", "password", "system_code", "enterprise", "outlet"], ["KS-NEW-1", "111111", "32", "E310118-01", "DW001"]]
    report = run("devices", csv_bytes(devices), registry.ks_admin)
    assert errors(report) == [(2, "enterprise")]
    limits = [["enterprise", "outlet", "parameter", "period", "limit", "unit", "standard"],
              ["E310118-01", "DW001", "nh3_n", "day", "5", "mg/L", "x"]]
    assert errors(run("limits", csv_bytes(limits), registry.ks_admin)) == [(2, "enterprise")]
    update = [["mn", "password", "system_code", "site"], ["QP0001", "000000", "21", registry.site_ks.code]]
    assert errors(run("devices", csv_bytes(update), registry.ks_admin)) == [(2, "mn")]
    assert reg.Device.objects.get(mn="QP0001").password == "654321"


def test_system_import_without_user_may_do_anything(registry):
    rows = [SITE_HEADER, _bad(code="W310118-SYS", 所属局="qingpu")]
    assert run("sites", csv_bytes(rows), None).ok
    event = AuditEvent.objects.get(model="registry.Site", object_repr="好行")
    assert event.actor is None and event.via == "import" and event.actor_name == "import"


# --- kind-specific rules --------------------------------------------------------------------------

ENT_HEADER = ["code", "name", "owner", "lon", "lat", "outlet_code", "outlet_name", "outlet_kind"]


def test_enterprise_rows_must_agree_and_outlets_be_unique(registry):
    rows = [
        ENT_HEADER,
        ["E320583-N", "新单位", "kunshan", "120.9", "31.3", "DW001", "总排口", "wastewater"],
        ["E320583-N", "另一个名字", "", "", "", "DW002", "二排口", "wastewater"],
        ["E320583-N", "", "", "", "", "DW001", "重复", "wastewater"],
        ["E320583-N", "", "", "", "", "", "总排口", ""],
    ]
    report = run("enterprises", csv_bytes(rows), registry.ks_admin)
    assert errors(report) == [(3, "name"), (4, "outlet_code"), (5, "outlet_code")]


def test_enterprise_outlets_follow_a_bad_first_row(registry):
    rows = [
        ENT_HEADER,
        ["E320583-N", "新单位", "kunshan", "不是数字", "31.3", "DW001", "总排口", "wastewater"],
        ["E320583-N", "", "", "", "", "DW002", "二排口", "wastewater"],
        ["E320583-M", "好单位", "kunshan", "120.9", "31.3", "DW001", "总排口", "wastewater"],
    ]
    report = run("enterprises", csv_bytes(rows), registry.ks_admin, partial=True)
    assert errors(report) == [(2, "lon"), (3, "code")]
    assert list(reg.Enterprise.objects.filter(code__in=["E320583-N", "E320583-M"]).values_list("code", flat=True)) == ["E320583-M"]


def test_enterprise_reimport_adds_an_outlet_to_an_existing_enterprise(registry):
    rows = [ENT_HEADER, [registry.ent_ks.code, registry.ent_ks.name, "kunshan", "120.96", "31.3", "DA009", "排气筒", "废气排放口"]]
    report = run("enterprises", csv_bytes(rows), registry.ks_admin)
    assert report.ok and report.created == 1
    assert report.objects[("排污单位", "unchanged")] == 1 and report.objects[("排放口", "created")] == 1
    assert set(registry.ent_ks.outlets.values_list("code", flat=True)) == {"DW001", "DA009"}


def test_device_rules(registry):
    header = ["mn", "password", "system_code", "site", "enterprise", "outlet", "parameters"]
    rows = [
        header,
        ["KSA01", "1", "21", registry.site_ks.code, "E320583-01", "DW001", ""],
        ["KSB01", "1", "21", "", "", "", ""],
        ["KSC01", "1", "21", registry.site_ks.code, "", "", "cod;no-such-thing"],
        ["KSD01", "1", "21", "", "E320583-01", "", ""],
        ["KSE01", "1", "21", "", "E320583-01", "DW404", ""],
        ["KSF01", "1", "21", registry.site_ks.code, "", "", "w01018 w21003 氨氮"],
    ]
    report = run("devices", csv_bytes(rows), registry.ks_admin)
    assert errors(report) == [(2, ""), (3, "site"), (4, "parameters"), (5, "outlet"), (6, "outlet")]
    assert "no-such-thing" in report.errors[2].message
    report = run("devices", csv_bytes([header, rows[-1]]), registry.ks_admin)
    assert report.ok
    assert set(reg.Device.objects.get(mn="KSF01").parameters.values_list("key", flat=True)) == {"cod", "nh3_n"}


def test_device_parameters_update_counts_as_a_change(registry):
    header = ["mn", "password", "system_code", "site", "parameters"]
    row = [registry.dev_ks.mn, "123456", "21", registry.site_ks.code, "cod;nh3_n"]
    assert run("devices", csv_bytes([header, row]), registry.ks_admin).unchanged == 1
    row[-1] = "cod"
    report = run("devices", csv_bytes([header, row]), registry.ks_admin)
    assert report.updated == 1
    assert list(registry.dev_ks.parameters.values_list("key", flat=True)) == ["cod"]


def test_limit_rules_and_upsert(registry):
    header = ["排污单位", "排放口", "因子", "均值时段", "上限", "下限", "单位", "依据标准", "生效日期"]
    rows = [
        header,
        ["E320583-01", "DW001", "cod", "日均值", "60", "", "mg/L", "新许可证", ""],  # updates the fixture's limit
        ["E320583-01", "DW001", "ph", "日均值", "6", "9", "无量纲", "x", "2024-01-01"],  # lower > upper
        ["E320583-01", "DW404", "cod", "日均值", "60", "", "mg/L", "x", ""],
        ["E320583-01", "DW001", "nh3_n", "小时", "60", "", "mg/L", "x", "2024-13-01"],
        ["E320583-01", "DW001", "nh3_n", "hour", "", "", "mg/L", "x", ""],
    ]
    report = run("limits", csv_bytes(rows), registry.ks_admin, partial=True)
    assert errors(report) == [(3, "下限"), (4, "排放口"), (5, "均值时段"), (5, "生效日期"), (6, "")]
    assert report.updated == 1
    registry.limit_ks.refresh_from_db()
    assert registry.limit_ks.limit == 60 and registry.limit_ks.standard == "新许可证"
    assert reg.PermitLimit.objects.filter(outlet=registry.outlet_ks).count() == 1


def test_report_files(registry):
    report = run("sites", csv_bytes([SITE_HEADER, _bad(经度="x")]), registry.ks_admin)
    text = importers.report_bytes(report, fmt="csv").decode("utf-8-sig")
    assert text.splitlines()[1].startswith("2,经度,")
    wb = load_workbook(io.BytesIO(importers.report_bytes(report, fmt="xlsx")), read_only=True)
    rows = list(wb.worksheets[0].iter_rows(values_only=True))
    assert rows[1][:2] == (2, "经度")


@pytest.mark.parametrize("kind", ORDER)
def test_layout_headers_are_unambiguous_and_documented(kind):
    from pathlib import Path

    seen = {}
    for col in importers.columns(kind):
        for header in col.headers():
            name = importers.normalise_header(header)
            assert seen.setdefault(name, col.key) == col.key, (kind, header)
    doc = (Path(__file__).resolve().parents[2] / "docs" / "registry-import.md").read_text(encoding="utf-8")
    section = doc.split(f"<!-- layout:{kind} -->")[1].split("<!-- /layout -->")[0]
    for col in importers.columns(kind):
        assert f"`{col.key}`" in section and col.zh in section, (kind, col.key)
