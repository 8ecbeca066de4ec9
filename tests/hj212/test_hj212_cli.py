"""``gongzhi hj212 parse / frame / crc`` in-process, and once as a real subprocess."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from gongzhi.cli import main
from gongzhi.hj212 import frame
from hj212_samples import CRC_EXAMPLE, appendix_c_segments, packet, seg

SRC = Path(__file__).resolve().parents[2] / "src"
KEYS = {"ok", "error", "crc_variant", "version", "qn", "st", "cn", "mn", "flag", "deviations", "data"}


def run_cli(capsys, *argv):
    code = main(["hj212", *argv])
    out = capsys.readouterr().out
    return code, [json.loads(line) for line in out.splitlines()]


def test_parse_a_file_of_one_packet_per_line(tmp_path, capsys):
    path = tmp_path / "capture.txt"
    path.write_bytes(b"".join(frame(s) for s in appendix_c_segments()[:30]))
    code, rows = run_cli(capsys, "parse", str(path))
    assert code == 0 and len(rows) == 30
    assert all(KEYS <= set(r) and r["ok"] and r["error"] is None for r in rows)
    assert rows[0]["crc_variant"] == "hj212" and rows[0]["cn"] == "1062"
    minute = rows[25]
    assert minute["cn"] == "2051" and minute["deviations"] == ["ellipsis"]
    assert minute["data"][0] == {
        "code": "w00000", "suffix": "Cou", "value": 10.5, "flag": "N", "eflag": None,
        "time": "2016-08-01T08:40:00+08:00", "sample_time": None,
    }


def test_strict_mode_and_errors(tmp_path, capsys):
    path = tmp_path / "mixed.bin"
    path.write_bytes(packet() + b"noise" + frame(seg(), tail=b"\n") + frame(seg(), crc="modbus-le"))
    code, rows = run_cli(capsys, "parse", "--strict", str(path))
    assert code == 1
    assert [r["ok"] for r in rows] == [True, False, False, False]
    assert [r["error"]["code"] for r in rows[1:]] == ["garbage", "bad_tail", "bad_crc"]
    assert rows[2]["qn"] == "20240501120000001"  # partial parse of the rejected packet
    code, rows = run_cli(capsys, "parse", "--tolerant", "--quiet-errors", str(path))
    assert code == 0 and [r["crc_variant"] for r in rows] == ["hj212", "hj212", "modbus-le"]
    assert rows[1]["deviations"] == ["lf_tail"] and rows[2]["deviations"] == ["crc_modbus_le"]


def test_missing_file(capsys, tmp_path):
    assert main(["hj212", "parse", str(tmp_path / "nope")]) == 2
    assert "nope" in capsys.readouterr().err


def test_frame_and_crc_commands(capsysbinary):
    assert main(["hj212", "frame", CRC_EXAMPLE]) == 0
    assert capsysbinary.readouterr().out == b"##0101" + CRC_EXAMPLE.encode() + b"1C80\r\n"
    assert main(["hj212", "frame", "--crc", "modbus", "--lf", CRC_EXAMPLE]) == 0
    assert capsysbinary.readouterr().out.endswith(b"0759\n")
    assert main(["hj212", "crc", CRC_EXAMPLE]) == 0
    assert capsysbinary.readouterr().out.decode().split() == ["hj212", "1C80", "modbus", "0759", "modbus-le", "5907"]


def test_replay_slot_is_registered(capsys):
    """The replay extension (gongzhi.cli.hj212_replay) plugs into the hj212 group."""
    from gongzhi.cli import build_parser

    args = build_parser().parse_args(["hj212", "replay", "--from", "2026-05-01", "--to", "2026-05-02"])
    assert callable(args.func)
    assert args.func.__module__ == "gongzhi.cli.hj212_replay"


def test_subprocess_stdin(tmp_path):
    data = b"".join(frame(s) for s in appendix_c_segments()) + b"\r\n##0101junk"
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join([str(SRC), env.get("PYTHONPATH", "")]).rstrip(os.pathsep)
    proc = subprocess.run(
        [sys.executable, "-m", "gongzhi.cli", "hj212", "parse", "-"],
        input=data, capture_output=True, env=env, timeout=60, check=False,
    )
    assert proc.returncode == 1, proc.stderr
    rows = [json.loads(line) for line in proc.stdout.decode("utf-8").splitlines()]
    assert len(rows) == 80
    assert all(r["ok"] for r in rows[:79]) and rows[79]["error"]["code"] == "truncated"
    info = [r for r in rows if r["cn"] == "3020" and r["data"] and r["data"][0]["code"] == "i11001"]
    assert info and info[0]["data"][0]["value"] == "//清洗管路//"


@pytest.mark.parametrize("argv", [["hj212"], ["hj212", "parse", "--strict", "--tolerant"]])
def test_usage_errors(argv, capsys):
    try:
        code = main(argv)
    except SystemExit as exc:  # argparse rejects conflicting options
        code = exc.code
    assert code == 2
