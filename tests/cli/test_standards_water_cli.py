"""``gongzhi standards water-class`` (in-process through gongzhi.cli.main)."""

from __future__ import annotations

import argparse

import openpyxl
import polars as pl
import pytest

from gongzhi.cli import main
from gongzhi.cli import standards_water


def _run(tmp_path, text: str, *extra: str, suffix: str = ".csv"):
    src = tmp_path / "in.csv"
    src.write_text(text, encoding="utf-8")
    out = tmp_path / f"out{suffix}"
    code = main(["standards", "water-class", str(src), "-o", str(out), *extra])
    return code, out


def _read_out(out) -> pl.DataFrame:
    return pl.read_csv(out, infer_schema=False)


CSV = """site,time,waterbody,ph,do,codmn,w21003,tp,tn
S1,2024-01-05,river,7.4,6.5,7.2,2.6,0.35,5.0
S1,2024-01-20,river,7.6,8.0,3.0,0.4,0.1,
L1,2024-01-05,lake,8.0,8.0,3.0,0.1,0.05,1.2
L1,2024-02-05,reservoir,8.0,8.0,3.0,0.1,0.06,1.2
"""


def test_rows_classified_worked_example(tmp_path):
    code, out = _run(tmp_path, CSV)
    assert code == 0
    df = _read_out(out)
    # input columns kept as given, then the results
    assert df.columns[:9] == ["site", "time", "waterbody", "ph", "do", "codmn", "w21003", "tp", "tn"]
    r0 = df.row(0, named=True)
    assert (r0["class"], r0["class_num"], r0["grade"]) == ("劣Ⅴ", "6", "重度污染")
    assert r0["main_pollutants"] == "nh3_n(1.6),tp(0.75),codmn(0.2)"   # formulas/05 example
    assert r0["class_nh3_n"] == "6" and r0["class_tp"] == "5"
    assert r0["class_tn"] is None        # TN not evaluated for rivers
    r1 = df.row(1, named=True)
    assert (r1["class"], r1["grade"], r1["main_pollutants"]) == ("Ⅱ", "优", None)
    # lake TP limits: 0.05 → Ⅲ; TN 1.2 → Ⅳ but not in the class
    r2 = df.row(2, named=True)
    assert (r2["class_tp"], r2["class_tn"], r2["class"]) == ("3", "4", "Ⅲ")
    assert df["grade_en"].to_list()[2] == "good"


def test_tn_in_lake_class_option(tmp_path):
    code, out = _run(tmp_path, CSV, "--tn-in-lake-class")
    assert code == 0
    df = _read_out(out)
    assert df["class"].to_list() == ["劣Ⅴ", "Ⅱ", "Ⅳ", "Ⅳ"]


def test_period_month_aggregates_per_site(tmp_path):
    code, out = _run(tmp_path, CSV.replace("L1,2024-02-05,reservoir", "L1,2024-02-05,lake"),
                     "--period", "month")
    assert code == 0
    df = _read_out(out)
    assert df.columns[:4] == ["site", "period", "waterbody", "n"]
    assert df["site"].to_list() == ["L1", "L1", "S1"]   # sorted by site, period
    s1 = df.row(2, named=True)
    assert (s1["site"], s1["period"], s1["n"]) == ("S1", "2024-01", "2")
    assert float(s1["nh3_n"]) == pytest.approx(1.5)      # mean of 2.6 and 0.4 → Ⅳ limit
    assert s1["class_nh3_n"] == "4"
    assert float(s1["tp"]) == pytest.approx(0.225)
    assert float(s1["ph"]) == pytest.approx(7.48859, abs=1e-5)  # −log10 of the mean H⁺ of 7.4, 7.6
    assert s1["class"] == "Ⅳ"
    assert df["period"].to_list() == ["2024-01", "2024-02", "2024-01"]
    # L1 2024-02 (one sample): TP 0.06 > lake Ⅲ limit 0.05 → Ⅳ
    assert df.row(1, named=True)["class_tp"] == "4"


def test_period_year_and_arithmetic_ph(tmp_path):
    code, out = _run(tmp_path, CSV.replace("reservoir", "lake"), "--period", "year",
                     "--ph-mean", "arithmetic")
    assert code == 0
    df = _read_out(out)
    assert df["period"].to_list() == ["2024", "2024"]
    assert df["site"].to_list() == ["L1", "S1"]
    assert float(df["ph"][1]) == pytest.approx(7.5)   # arithmetic mean of 7.4 and 7.6


def test_hj212_unit_conversion_in_cli(tmp_path):
    # mercury w20142 in µg/L: 0.2 µg/L = 0.0002 mg/L → Ⅳ
    code, out = _run(tmp_path, "waterbody,w20142\nriver,0.2\n")
    assert code == 0
    assert _read_out(out)["class_hg"].to_list() == ["4"]


def test_xlsx_in_and_out(tmp_path):
    wb = openpyxl.Workbook()
    ws = wb.active
    ws.append(["site", "time", "waterbody", "nh3_n"])
    ws.append(["A", "2024-03-01", "river", 1.2])
    src = tmp_path / "in.xlsx"
    wb.save(src)
    out = tmp_path / "out.xlsx"
    assert main(["standards", "water-class", str(src), "-o", str(out)]) == 0
    rows = list(openpyxl.load_workbook(out).active.iter_rows(values_only=True))
    header = list(rows[0])
    assert rows[1][header.index("class")] == "Ⅳ"
    assert rows[1][header.index("main_pollutants")] == "nh3_n(0.2)"


def test_empty_cells_are_missing(tmp_path):
    code, out = _run(tmp_path, "waterbody,nh3_n,codmn\nriver,,3.0\nriver,,\n")
    assert code == 0
    df = _read_out(out)
    assert df["class"].to_list() == ["Ⅱ", None]
    assert df["class_num"].to_list() == ["2", None]


# --- errors name the row and the column ---------------------------------------------

@pytest.mark.parametrize("text,message", [
    ("waterbody,nh3_n\nriver,0.5\nriver,abc\n",
     "data row 2 (file line 3), column 'nh3_n': 'abc' is not a number"),
    ("waterbody,nh3_n\nriver,-0.5\n",
     "data row 1 (file line 2), column 'nh3_n': -0.5: concentration must be"),
    ("waterbody,ph\nriver,7\nriver,15\n", "data row 2 (file line 3), column 'ph': 15.0: pH must"),
    ("waterbody,nh3_n\nriver,0.5\nsea,0.5\n",
     "data row 2 (file line 3), column 'waterbody': unknown waterbody 'sea'"),
    ("waterbody,nh3_n\nriver,0.5\n,0.5\n", "data row 2 (file line 3), column 'waterbody': "
                                           "waterbody is empty"),
    ("waterbody,nh3n\nriver,0.5\n", "column 'nh3n' is not a known indicator"),
    ("nh3_n\n0.5\n", "missing column 'waterbody'"),
    ("waterbody,nh3_n,w21003\nriver,0.5,0.5\n", "indicator 'nh3_n' given twice"),
    ("waterbody,site\nriver,A\n", "no indicator column"),
])
def test_input_errors(tmp_path, capsys, text, message):
    code, out = _run(tmp_path, text)
    assert code == 1
    assert message in capsys.readouterr().err
    assert not out.exists()


def test_period_errors(tmp_path, capsys):
    code, _ = _run(tmp_path, "site,time,waterbody,nh3_n\nA,2024-01-01,river,1\nA,yesterday,river,1\n",
                   "--period", "month")
    assert code == 1
    assert "data row 2 (file line 3), column 'time': 'yesterday' is not a date" in \
        capsys.readouterr().err
    code, _ = _run(tmp_path, "waterbody,nh3_n\nriver,1\n", "--period", "year")
    assert code == 1
    assert "missing column 'site' (needed with --period)" in capsys.readouterr().err


def test_unknown_column_can_be_passed_through(tmp_path, capsys):
    code, out = _run(tmp_path, "waterbody,nh3_n,remark\nriver,0.5,ok\n", "--ignore-unknown")
    assert code == 0
    assert "column 'remark' is not an indicator" in capsys.readouterr().err
    df = _read_out(out)
    assert df["remark"].to_list() == ["ok"] and df["class"].to_list() == ["Ⅱ"]


def test_missing_file(tmp_path, capsys):
    assert main(["standards", "water-class", str(tmp_path / "nope.csv"), "-o",
                 str(tmp_path / "o.csv")]) == 1
    assert "no such file" in capsys.readouterr().err


def test_register_on_a_throwaway_parser():
    ap = argparse.ArgumentParser()
    sub = ap.add_subparsers()
    standards_water.register(sub)
    args = ap.parse_args(["water-class", "in.csv", "-o", "out.xlsx", "--period", "quarter"])
    assert args.func is standards_water.run_water_class
    assert (args.period, args.ph_mean) == ("quarter", "hplus")
    with pytest.raises(SystemExit):
        ap.parse_args(["water-class", "in.csv", "-o", "o.csv", "--period", "week"])
