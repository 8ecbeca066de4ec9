"""``gongzhi standards aqi`` (gongzhi.cli.standards) — in-process and once as a subprocess."""

from __future__ import annotations

import io
import os
import subprocess
import sys
from pathlib import Path

import polars as pl

from gongzhi.cli import main
from gongzhi.cli import standards as cli_standards
from gongzhi.cli._tables import Progress, read_table, write_table

SRC = Path(__file__).resolve().parents[2] / "src"

HOURLY = """station,time,so2,no2,co,o3,pm10,pm2_5
A,2026-02-28 23:00,10,30,0.8,170,60,40
A,2026-03-01 00:00,10,30,0.8,170,60,40
B,2025-06-01 12:00,5,5,0.2,20,20,
C,2025-06-01 12:00,5,5,0.2,20,700,30
"""


def run(tmp_path, text, *args, name="in.csv"):
    src = tmp_path / name
    src.write_text(text, encoding="utf-8")
    out = tmp_path / "out.csv"
    rc = main(["standards", "aqi", *args, str(src), "-o", str(out)])
    return rc, (read_table(out) if rc == 0 else None)


def test_hourly_output_columns_and_values(tmp_path, capsys):
    rc, out = run(tmp_path, HOURLY, "--period", "hour")
    assert rc == 0
    assert out.columns[:8] == ["station", "time", "so2", "no2", "co", "o3", "pm10", "pm2_5"]
    for c in ("aqi", "level", "category", "primary_pollutant", "iaqi_so2", "iaqi_no2",
              "iaqi_co", "iaqi_o3", "iaqi_pm10", "iaqi_pm2_5", "edition", "notes"):
        assert c in out.columns
    rows = out.rows(named=True)
    # 2012: O3 1-h 170 → 62.5 → 63 is the max; PM2.5 40 → 56.25 → 57
    assert rows[0]["aqi"] == "63" and rows[0]["level"] == "2" and rows[0]["category"] == "良"
    assert rows[0]["primary_pollutant"] == "o3" and rows[0]["edition"] == "HJ 633-2012"
    assert rows[0]["iaqi_pm2_5"] == "57"
    # 2026 from 2026-03-01 00:00: PM2.5 40 on the 2026 table → 50 + 50/25·5 = 60
    assert rows[1]["edition"] == "HJ 633-2026" and rows[1]["iaqi_pm2_5"] == "60"
    # blank cell = missing: PM2.5 left out, AQI from the rest, AQI ≤ 50 → no primary
    assert rows[2]["iaqi_pm2_5"] is None and rows[2]["aqi"] == "20"
    assert rows[2]["primary_pollutant"] is None  # empty cell
    assert "incomplete" in rows[2]["notes"]
    # above the top breakpoint of PM10 (600): capped at 500, said in notes
    assert rows[3]["aqi"] == "500" and rows[3]["category"] == "严重污染"
    assert "capped at 500" in rows[3]["notes"]


def test_named_edition_applies_to_all_rows(tmp_path):
    rc, out = run(tmp_path, HOURLY, "--period", "hour", "--edition", "HJ 633-2026")
    assert rc == 0 and set(out["edition"].to_list()) == {"HJ 633-2026"}


def test_unknown_edition_is_a_usage_error(tmp_path, capsys):
    rc, _ = run(tmp_path, HOURLY, "--period", "hour", "--edition", "HJ 633-1999")
    assert rc == 2 and "HJ 633-2012" in capsys.readouterr().err


def test_end_labelled_hours(tmp_path):
    rc, out = run(tmp_path, HOURLY, "--period", "hour", "--hour-label", "end")
    assert out["edition"].to_list()[:2] == ["HJ 633-2012", "HJ 633-2012"]


def test_non_numeric_and_negative_cells_are_errors_naming_row_and_column(tmp_path, capsys):
    text = "station,time,so2,pm10\nA,2026-01-01 00:00,abc,10\nA,2026-01-01 01:00,3,-4\n"
    rc, _ = run(tmp_path, text, "--period", "hour")
    err = capsys.readouterr().err
    assert rc == 1
    assert "data row 1 (file line 2), column 'so2': 'abc' is not a number" in err
    assert "data row 2 (file line 3), column 'pm10': negative concentration -4" in err
    assert not (tmp_path / "out.csv").exists()


def test_on_invalid_missing_keeps_going_with_a_note(tmp_path, capsys):
    text = "station,time,so2,pm10\nA,2026-01-01 00:00,abc,10\nA,2026-01-01 01:00,3,-4\n"
    rc, out = run(tmp_path, text, "--period", "hour", "--on-invalid", "missing")
    assert rc == 0
    assert "warning: data row 1" in capsys.readouterr().err
    assert out["iaqi_so2"][0] is None and "not a number" in out["notes"][0]
    assert out["iaqi_pm10"][1] is None and "negative" in out["notes"][1]


def test_bad_time_and_missing_column(tmp_path, capsys):
    rc, _ = run(tmp_path, "station,time,pm10\nA,yesterday,10\n", "--period", "hour")
    assert rc == 1 and "column 'time': 'yesterday' is not a time" in capsys.readouterr().err
    rc, _ = run(tmp_path, "station,pm10\nA,10\n", "--period", "hour")
    assert rc == 1 and "missing column 'time'" in capsys.readouterr().err


def test_missing_input_file(tmp_path, capsys):
    rc = main(["standards", "aqi", "--period", "hour", str(tmp_path / "nope.csv"),
               "-o", str(tmp_path / "o.csv")])
    assert rc == 1 and "no such file" in capsys.readouterr().err


DAILY = """station,date,so2,no2,co,pm10,pm2_5,o3_1h_max,o3_8h_max
A,2026-02-28,10,30,0.8,60,40,250,150
A,2026-03-01,10,30,0.8,60,40,250,150
A,2026-03-02,10,30,0.8,60,60,,
A,2026-03-03,10,30,0.8,60,61,,
"""


def test_daily_input_and_2026_na_rule(tmp_path, capsys):
    rc, out = run(tmp_path, DAILY, "--period", "day")
    assert rc == 0
    rows = out.rows(named=True)
    assert rows[0]["aqi"] == "125" and rows[0]["primary_pollutant"] == "o3_1h_max"
    assert rows[1]["aqi"] == "92" and rows[1]["iaqi_o3_1h_max"] is None  # 2026 drops it
    # O3 missing: 2026 publishes an incomplete AQI only above 100
    assert rows[2]["aqi"] == "100" and rows[2]["aqi_published"] == "NA"
    assert "AQI NA" in rows[2]["notes"]
    assert rows[3]["aqi"] == "101" and rows[3]["aqi_published"] == "101"
    assert "1 with AQI 'NA'" in capsys.readouterr().err


def _hourly_csv(days_missing_hours=()):
    lines = ["station,time,so2,no2,co,o3,pm10,pm2_5"]
    for d in (28, 1):
        month = 2 if d == 28 else 3
        for h in range(24):
            if (d, h) in days_missing_hours:
                continue
            lines.append(f"S1,2026-{month:02d}-{d:02d} {h:02d}:00,8,30,0.7,{40 + 3 * h},70,50")
    return "\n".join(lines) + "\n"


def test_from_hourly_reports_invalid_days(tmp_path, capsys):
    text = _hourly_csv(days_missing_hours={(1, h) for h in range(6)})
    rc, out = run(tmp_path, text, "--period", "day", "--from-hourly")
    err = capsys.readouterr().err
    assert rc == 0
    assert "1 of 2 station-days" in err and "HJ 663-2026 not verified; 2013 rules applied" in err
    assert "invalid: S1 2026-03-01" in err
    rows = out.rows(named=True)
    assert rows[0]["invalid"] is None and rows[0]["pm2_5"] == "50.0"
    assert rows[0]["edition"] == "HJ 633-2012" and rows[1]["edition"] == "HJ 633-2026"
    assert rows[1]["pm2_5"] is None and "pm2_5" in rows[1]["invalid"]
    assert rows[1]["aqi"] is None
    assert out["hj663_rules"][0] == "HJ 663-2026 not verified; 2013 rules applied"
    # the valid day: PM2.5 24-h 50 → 50 + 50/40·15 = 68.75 → 69; O3 8-h max from hours 16–23
    assert rows[0]["aqi"] == "69"
    assert float(rows[0]["o3_8h_max"]) == sum(40 + 3 * h for h in range(16, 24)) / 8


def test_from_hourly_needs_period_day(tmp_path, capsys):
    rc, _ = run(tmp_path, HOURLY, "--period", "hour", "--from-hourly")
    assert rc == 2


def test_xlsx_in_and_out(tmp_path):
    src = tmp_path / "in.xlsx"
    write_table(pl.read_csv(io.StringIO(HOURLY), infer_schema=False), src)
    out = tmp_path / "out.xlsx"
    assert main(["standards", "aqi", "--period", "hour", str(src), "-o", str(out)]) == 0
    df = read_table(out)
    assert df["aqi"].to_list() == ["63", "63", "20", "500"]


def test_chunked_run_matches_and_shows_progress(tmp_path, monkeypatch, capsys):
    rc, whole = run(tmp_path, HOURLY, "--period", "hour")
    monkeypatch.setattr(cli_standards, "_CHUNK", 1)
    monkeypatch.setattr(Progress.__init__, "__defaults__", ("rows",))
    monkeypatch.setattr(Progress.__init__, "__kwdefaults__",
                        {"stream": None, "min_total": 1, "interval": 0.0})
    rc, chunked = run(tmp_path, HOURLY, "--period", "hour")
    assert rc == 0 and chunked.equals(whole)
    assert "4/4 rows" in capsys.readouterr().err


def test_subprocess_python_m_gongzhi_cli(tmp_path):
    src = tmp_path / "in.csv"
    src.write_text(HOURLY, encoding="utf-8")
    out = tmp_path / "out.csv"
    env = dict(os.environ, PYTHONPATH=str(SRC) + os.pathsep + os.environ.get("PYTHONPATH", ""))
    p = subprocess.run([sys.executable, "-m", "gongzhi.cli", "standards", "aqi", "--period",
                        "hour", str(src), "-o", str(out)], capture_output=True, text=True,
                       env=env, timeout=120)
    assert p.returncode == 0, p.stderr
    assert "4 rows" in p.stderr
    assert read_table(out)["aqi"].to_list() == ["63", "63", "20", "500"]
