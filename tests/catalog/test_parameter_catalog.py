"""The parameter catalog seeded from HJ 212-2017 Appendix B (registry.catalog + services)."""

from __future__ import annotations

import csv
import io

import pytest

from gongzhi.registry import catalog, services
from gongzhi.registry import models as reg

pytestmark = pytest.mark.django_db

#: Rows in the code table of HJ 212-2017 Appendix B as shipped (header excluded).
APPENDIX_B_ROWS = 379
#: Codes the standard's table prints twice (different names each time).
DUPLICATED_CODES = ("e701xx", "g119xx")


def _table_rows() -> list[dict]:
    return list(csv.DictReader(io.StringIO(catalog.appendix_b_text())))


def _first_row(code: str) -> dict:
    return next(r for r in _table_rows() if r["ID"] == code)


# --- parsing (no database) --------------------------------------------------------------------------


def test_the_shipped_table_has_all_rows_of_appendix_b():
    assert len(_table_rows()) == APPENDIX_B_ROWS


def test_duplicated_codes_are_reported_and_the_first_row_is_kept():
    entries, problems = catalog.read_appendix_b(catalog.appendix_b_text())
    assert len(entries) == APPENDIX_B_ROWS - len(DUPLICATED_CODES)
    assert len(problems) == len(DUPLICATED_CODES)
    for code in DUPLICATED_CODES:
        assert sum(code in p for p in problems) == 1
        (entry,) = [e for e in entries if e.code_2017 == code]
        assert entry.name_zh == _first_row(code)["NAME"].strip()
    assert len({e.code_2017 for e in entries}) == len(entries)
    assert len({e.key for e in entries}) == len(entries)


def test_read_appendix_b_on_a_small_table():
    text = (
        "ID,NAME,原编码（HJ2005),单位,排放量,数据类型,备注\n"
        "w21003,氨氮,060,毫克/升,千克,N4.2,\n"
        ",无编码,,,,,\n"
        "w21003,重复,,,,,\n"
        "a34004,细微颗粒物PM2.5,,纳克/立方米,克,N3.3,\n"
        "x99001,自定义,,毫克/升,,C10,\n"
    )
    entries, problems = catalog.read_appendix_b(text)
    assert [e.key for e in entries] == ["nh3_n", "pm2_5", "x99001"]
    nh3 = entries[0]
    assert (nh3.code_2005, nh3.unit, nh3.emission_unit, nh3.decimals, nh3.domain) == ("060", "mg/L", "kg", 2, "water")
    assert nh3.name_zh == "氨氮" and nh3.name_en.startswith("Ammonia")
    assert entries[1].unit == "µg/m³" and entries[1].ambient_unit == "µg/m³" and entries[1].domain == "air"
    assert entries[2].decimals is None and entries[2].domain == "other"
    assert problems == ["row 3: no code", "row 4: code w21003 appears again in the standard's table; the first row is kept"]


# --- seeding ------------------------------------------------------------------------------------------


@pytest.fixture
def seeded():
    return services.seed_parameter_catalog()


def test_seed_creates_every_appendix_b_code_and_the_quality_extras(seeded):
    expected_codes = {r["ID"] for r in _table_rows()}
    assert set(reg.Parameter.objects.exclude(code_2017="").values_list("code_2017", flat=True)) == expected_codes
    extras = {"o3", "chl_a", "algal_density", "sb", "turbidity", "sd"}
    assert extras <= set(reg.Parameter.objects.filter(code_2017="").values_list("key", flat=True))
    total = len(expected_codes) + len(extras)
    assert reg.Parameter.objects.count() == total
    assert seeded == {"created": total, "aliases": 1, "total": total, "problems": len(DUPLICATED_CODES)}


def test_pm_units_are_corrected_to_micrograms(seeded):
    for key in ("pm10", "pm2_5"):
        p = reg.Parameter.objects.get(key=key)
        assert (p.unit, p.ambient_unit) == ("µg/m³", "µg/m³"), key
        assert _first_row(p.code_2017)["单位"] == "纳克/立方米"  # the standard's misprint
    assert reg.Parameter.objects.get(code_2017="a34001").unit == "µg/m³"  # TSP, same misprint


def test_ambient_units_of_the_air_quality_parameters(seeded):
    expected = {"so2": "µg/m³", "no2": "µg/m³", "co": "mg/m³", "o3": "µg/m³"}
    got = dict(reg.Parameter.objects.filter(key__in=expected).values_list("key", "ambient_unit"))
    assert got == expected
    assert reg.Parameter.objects.get(key="so2").unit == "mg/m³"  # the source (flue gas) unit stays


def test_quality_extras(seeded):
    o3 = reg.Parameter.objects.get(key="o3")
    assert (o3.name_zh, o3.domain, o3.unit) == ("臭氧", "air", "µg/m³")
    assert list(o3.aliases.values_list("code", flat=True)) == ["a05024"]
    for key, domain in {"chl_a": "water", "algal_density": "water", "sb": "water", "turbidity": "water",
                        "sd": "water"}.items():
        p = reg.Parameter.objects.get(key=key)
        assert p.domain == domain and p.name_zh and p.name_en and p.unit, key


def test_platform_short_keys(seeded):
    p = reg.Parameter.objects.get(key="nh3_n")
    assert (p.code_2017, p.code_2005, p.name_zh, p.unit, p.domain) == ("w21003", "060", "氨氮", "mg/L", "water")
    assert reg.Parameter.objects.get(code_2017="w01018").key == "cod"


def test_seeding_again_creates_nothing_and_keeps_an_administrators_edits(seeded):
    p = reg.Parameter.objects.get(key="nh3_n")
    p.name_zh = "氨氮（NH3-N）"
    p.unit = "mg/l"
    services.save_object(p, via="admin")
    before = reg.Parameter.objects.count(), reg.ParameterAlias.objects.count()
    again = services.seed_parameter_catalog()
    assert again["created"] == 0 and again["aliases"] == 0
    assert (reg.Parameter.objects.count(), reg.ParameterAlias.objects.count()) == before
    p.refresh_from_db()
    assert (p.name_zh, p.unit) == ("氨氮（NH3-N）", "mg/l")


def test_seeding_completes_a_partly_seeded_catalog():
    services.seed_parameter_catalog()
    reg.Parameter.objects.filter(key__in=["sd", "w01002"]).delete()
    report = services.seed_parameter_catalog()
    assert report["created"] == 2
    assert reg.Parameter.objects.filter(key__in=["sd", "w01002"]).count() == 2


# --- resolving incoming codes ----------------------------------------------------------------------------


def test_resolve_a_2017_code(seeded):
    assert services.resolve_parameter_code("w21003").key == "nh3_n"
    assert services.resolve_parameter_code(" a34004 ").key == "pm2_5"


def test_resolve_a_2005_code(seeded):
    assert services.resolve_parameter_code("060").key == "nh3_n"
    assert services.resolve_parameter_code("011", domain="water").key == "cod"
    assert services.resolve_parameter_code("B01").key == "wastewater_flow"


def test_resolve_an_alias(seeded):
    assert services.resolve_parameter_code("a05024").key == "o3"


def test_resolve_a_platform_key(seeded):
    assert services.resolve_parameter_code("nh3_n").code_2017 == "w21003"


def test_an_unknown_code_is_kept_and_counted(seeded):
    assert services.resolve_parameter_code("w99999", source="MN 3201830001") is None
    unknown = reg.UnknownCode.objects.get(code="w99999")
    assert (unknown.count, unknown.example_source, unknown.resolved_to) == (1, "MN 3201830001", None)
    assert services.resolve_parameter_code("w99999", source="MN 3201830002") is None
    assert services.resolve_parameter_code("w99999") is None
    unknown.refresh_from_db()
    assert unknown.count == 3
    assert unknown.example_source == "MN 3201830001"  # the first example stays
    assert unknown.last_seen >= unknown.first_seen
    assert reg.UnknownCode.objects.count() == 1


def test_an_empty_code_is_not_recorded(seeded):
    assert services.resolve_parameter_code("") is None
    assert services.resolve_parameter_code("   ") is None
    assert not reg.UnknownCode.objects.exists()


def test_an_alias_added_later_resolves_at_once(seeded):
    """The documented workflow: an unknown code is reported, an administrator maps it with an alias,
    and from then on the code resolves (no restart needed)."""
    assert services.resolve_parameter_code("99A01", source="vendor logger") is None
    nh3 = reg.Parameter.objects.get(key="nh3_n")
    services.save_object(reg.ParameterAlias(code="99A01", parameter=nh3, source="vendor"), via="admin")
    assert services.resolve_parameter_code("99A01") == nh3
    alias = reg.ParameterAlias.objects.get(code="99A01")
    services.delete_object(alias, via="admin")
    assert services.resolve_parameter_code("99A01") is None


def test_a_parameter_added_later_resolves_at_once(seeded):
    assert services.resolve_parameter_code("w99998") is None
    made = services.save_object(reg.Parameter(key="w99998", code_2017="w99998", name_zh="试验因子", domain="water"))
    assert services.resolve_parameter_code("w99998") == made
