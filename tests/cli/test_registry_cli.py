"""``gongzhi registry import|export``: exit codes, the printed report, report files."""

from __future__ import annotations

import csv
import io

import pytest
from openpyxl import load_workbook

from gongzhi.accounts.models import Role, User
from gongzhi.audit.models import AuditEvent
from gongzhi.cli import build_parser, main
from gongzhi.registry import importers
from gongzhi.registry import models as reg


@pytest.fixture
def base(db):
    """What the example files refer to: Kunshan and Qingpu, their jurisdictions, two waterbodies."""
    sz = reg.Jurisdiction.objects.create(adcode="320500", name="苏州市", level="city")
    sh = reg.Jurisdiction.objects.create(adcode="310000", name="上海市", level="province")
    ks = reg.Jurisdiction.objects.create(adcode="320583", name="昆山市", level="county", parent=sz)
    qp = reg.Jurisdiction.objects.create(adcode="310118", name="青浦区", level="county", parent=sh)
    kunshan = reg.Bureau.objects.create(code="kunshan", name="昆山局", short_name="昆山", jurisdiction=ks)
    qingpu = reg.Bureau.objects.create(code="qingpu", name="青浦局", short_name="青浦", jurisdiction=qp)
    reg.Waterbody.objects.create(code="dianshan", name="淀山湖", kind="lake")
    reg.Waterbody.objects.create(code="wusong", name="吴淞江", kind="river")
    User.objects.create_user(username="ks_admin", password="x-123456789", bureau=kunshan, role=Role.ADMINISTRATOR)
    User.objects.create_user(username="qp_admin", password="x-123456789", bureau=qingpu, role=Role.ADMINISTRATOR)
    return kunshan


def example(tmp_path, kind):
    path = tmp_path / f"{kind}.csv"
    path.write_bytes(importers.template_bytes(kind))
    return path


def bad_sites(tmp_path):
    path = tmp_path / "bad.csv"
    path.write_text(
        "code,name,kind,owner,lon,lat\n"
        "W320583-G1,好,water_section,kunshan,120.9,31.1\n"
        "W320583-B1,坏,water_section,kunshan,东经,31.1\n",
        encoding="utf-8",
    )
    return path


def test_registry_command_is_listed():
    parser = build_parser()
    assert "registry" in parser.format_help()
    args = parser.parse_args(["registry", "import", "sites", "x.csv", "--partial", "--dry-run", "--user", "u"])
    assert (args.kind, args.partial, args.dry_run, args.user) == ("sites", True, True, "u")
    with pytest.raises(SystemExit):
        parser.parse_args(["registry", "import", "rivers", "x.csv"])


def test_import_ok_exits_0_and_prints_a_summary(base, tmp_path, capsys):
    code = main(["registry", "import", "sites", str(example(tmp_path, "sites")), "--user", "ks_admin"])
    out, err = capsys.readouterr()
    assert code == 0
    assert "新增 2" in out
    assert "校验" in err and "写入" in err and "2/2" in err  # the progress bar
    site = reg.Site.objects.get(code="W320583-EX01")
    event = AuditEvent.objects.get(model="registry.Site", object_id=str(site.pk))
    assert event.via == "import" and event.actor.username == "ks_admin"


def test_import_with_errors_exits_1_prints_the_table_and_writes_nothing(base, tmp_path, capsys):
    report = tmp_path / "report.csv"
    code = main(["registry", "import", "sites", str(bad_sites(tmp_path)), "--user", "ks_admin", "--report", str(report), "--quiet"])
    out, err = capsys.readouterr()
    assert code == 1
    assert "行号" in out and "lon" in out and "应为数字" in out
    assert err.strip() == f"report written to {report}"  # --quiet: no progress bar
    assert not reg.Site.objects.exists()
    rows = list(csv.reader(io.StringIO(report.read_text(encoding="utf-8-sig"))))
    assert rows[0] == ["行号", "列", "问题"] and rows[1][:2] == ["3", "lon"]


def test_partial_and_xlsx_report(base, tmp_path, capsys):
    report = tmp_path / "report.xlsx"
    code = main(["registry", "import", "sites", str(bad_sites(tmp_path)), "--partial", "--report", str(report), "--quiet"])
    assert code == 1
    assert list(reg.Site.objects.values_list("code", flat=True)) == ["W320583-G1"]
    rows = list(load_workbook(report, read_only=True).worksheets[0].iter_rows(values_only=True))
    assert rows[1][:2] == (3, "lon")


def test_dry_run_writes_nothing(base, tmp_path, capsys):
    code = main(["registry", "import", "sites", str(example(tmp_path, "sites")), "--dry-run", "--quiet"])
    assert code == 0 and not reg.Site.objects.exists()
    assert "试运行" in capsys.readouterr().out


def test_the_user_is_checked_by_the_policy(base, tmp_path, capsys):
    code = main(["registry", "import", "sites", str(example(tmp_path, "sites")), "--user", "qp_admin", "--quiet"])
    out, _ = capsys.readouterr()
    assert code == 1 and "所属局" in out and not reg.Site.objects.exists()


def test_unknown_user_and_missing_file(base, tmp_path, capsys):
    assert main(["registry", "import", "sites", str(example(tmp_path, "sites")), "--user", "nobody"]) == 2
    assert main(["registry", "import", "sites", str(tmp_path / "nope.csv")]) == 2
    assert "nobody" in capsys.readouterr().err


def test_export_and_reimport_is_a_no_op(base, tmp_path, capsys):
    for kind in ("sites", "enterprises"):
        assert main(["registry", "import", kind, str(example(tmp_path, kind)), "--quiet"]) == 0
    out = tmp_path / "sites.xlsx"
    assert main(["registry", "export", "sites", str(out), "--user", "ks_admin"]) == 0
    events = AuditEvent.objects.count()
    capsys.readouterr()
    assert main(["registry", "import", "sites", str(out), "--user", "ks_admin", "--quiet"]) == 0
    assert "未变 2" in capsys.readouterr().out
    assert AuditEvent.objects.count() == events


def test_export_template(base, tmp_path):
    out = tmp_path / "t.xlsx"
    assert main(["registry", "export", "limits", str(out), "--template"]) == 0
    header = next(load_workbook(out, read_only=True).worksheets[0].iter_rows(values_only=True))
    assert header[:4] == ("排污单位", "排放口", "因子", "均值时段")
