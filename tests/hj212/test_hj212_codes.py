"""Code tables (§6.3.2, §6.6, Appendix B) and the shipped copy of the Appendix B table."""

from __future__ import annotations

from collections import Counter
from importlib import resources

from gongzhi.hj212 import code_from_2005, code_table, lookup_code
from gongzhi.hj212.codes import COMMANDS, DATA_FLAGS, EXE_RTN, QN_RTN, SYSTEM_CODES


def test_table_has_379_rows_by_medium():
    rows = code_table()
    assert len(rows) == 379
    assert Counter(r.code[0] for r in rows) == {"w": 63, "a": 121, "L": 12, "e": 90, "g": 55, "i": 38}


def test_common_codes():
    (cod,) = lookup_code("w01018")
    assert cod.name == "化学需氧量" and cod.code_2005 == "011" and cod.unit == "毫克/升"
    assert lookup_code("a21026")[0].name == "二氧化硫"
    assert lookup_code("nope") == ()


def test_2005_codes_map_to_2017():
    assert code_from_2005("011") == "w01018"
    assert code_from_2005("060") == "w21003"
    assert code_from_2005("B01") == "w00000"
    assert code_from_2005("zzz") is None


def test_duplicated_and_pattern_codes_of_the_standard():
    assert len(lookup_code("e701xx")) == 2 and len(lookup_code("g119xx")) == 2
    assert lookup_code("e70101") == lookup_code("e701xx")
    assert lookup_code("i33312")[0].code == "i3331x"


def test_package_data_and_provenance_are_shipped():
    data = resources.files("gongzhi.hj212").joinpath("data")
    assert data.joinpath("hj212_codes.csv").is_file()
    note = data.joinpath("PROVENANCE.md").read_text("utf-8")
    assert "srdgame/lua-HJ212" in note and "MIT" in note
    assert "Dirk Chang" in data.joinpath("LICENSE-hj212_codes.txt").read_text("utf-8")


def test_code_lists():
    assert set(QN_RTN) == {"1", "2", "3", "4", "5", "6", "7", "8", "9", "100"}
    assert set(EXE_RTN) == {"1", "2", "3", "4", "5", "6", "100"}
    assert set(DATA_FLAGS) == set("NFMSDCTB")
    assert {"2011", "2051", "2061", "2031", "2041", "2021", "2081", "9014"} <= set(COMMANDS)
    assert "91" in SYSTEM_CODES and "80" not in SYSTEM_CODES
