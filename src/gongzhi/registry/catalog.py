"""The parameter catalog (监测因子目录): one canonical parameter per measured quantity.

Seeded from the code table of HJ 212-2017 Appendix B (shipped with
:mod:`gongzhi.hj212` as package data) plus the environment-quality parameters
that table lacks (``shared/reference/hj212.md``: O3, turbidity, chlorophyll-a,
algal density, antimony, transparency…). The platform's own short keys
(``nh3_n``, ``pm2_5`` …) are the names the standards engine uses; other
parameters are keyed by their 2017 code.

Units: the Appendix B unit is the pollution-source unit (gases in mg/m³). Ambient
air stations report µg/m³ (CO mg/m³), so air parameters also carry
``ambient_unit``; the table's "纳克/立方米" for PM is a known misprint of µg/m³
(hj212.md) and is corrected here.
"""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass
from importlib import resources

#: Platform short keys for parameters the standards engine knows, by HJ 212-2017 code.
SHORT_KEYS: dict[str, str] = {
    "w01001": "ph", "w01009": "do", "w01019": "codmn", "w01018": "cod", "w01017": "bod5",
    "w21003": "nh3_n", "w21011": "tp", "w21001": "tn", "w20138": "cu", "w20139": "zn",
    "w21017": "fluoride", "w20140": "se", "w20141": "as", "w20142": "hg", "w20143": "cd",
    "w20117": "cr6", "w20144": "pb", "w21016": "cyanide", "w23002": "phenol",
    "w22001": "petroleum", "w19002": "las", "w21019": "sulfide", "w02003": "fecal_coliform",
    "w01010": "water_temp", "w01014": "conductivity", "w00000": "wastewater_flow",
    "w01012": "ss", "w01020": "toc",
    "a21026": "so2", "a21004": "no2", "a21005": "co", "a34002": "pm10", "a34004": "pm2_5",
    "a21002": "nox", "a34013": "smoke_dust", "a01012": "flue_temp", "a01014": "flue_humidity",
    "a19001": "o2", "a00000": "flue_gas_flow", "a24088": "nmhc",
}

UNIT_SYMBOLS: dict[str, str] = {
    "毫克/升": "mg/L", "微克/升": "µg/L", "纳克/升": "ng/L", "毫克/立方米": "mg/m³",
    "纳克/立方米": "ng/m³", "微克/立方米": "µg/m³", "无量纲": "1", "摄氏度": "°C", "个/升": "个/L",
    "升/秒": "L/s", "立方米/小时": "m³/h", "立方米/秒": "m³/s", "千帕": "kPa", "帕": "Pa", "米": "m",
    "米/秒": "m/s", "分贝": "dB", "安[培]": "A", "伏[特]": "V", "毫伏[特]": "mV", "千克": "kg",
    "千瓦[特][小]时": "kWh", "分钟": "min", "秒": "s", "%": "%", "[角]度": "°", "[色]度": "度",
    "贝可[勒尔]/升": "Bq/L", "微西[门子]/厘米": "µS/cm", "转/分钟": "r/min", "平方米": "m²",
    "千克/立方米": "kg/m³", "吨/平方千米x月": "t/(km²·月)",
}

#: Misprints of the standard's own table (hj212.md): PM units printed as ng/m³.
UNIT_CORRECTIONS: dict[str, str] = {"a34002": "µg/m³", "a34004": "µg/m³", "a34001": "µg/m³"}

#: Ambient (environment-quality) units where they differ from the source unit.
AMBIENT_UNITS: dict[str, str] = {
    "so2": "µg/m³", "no2": "µg/m³", "co": "mg/m³", "o3": "µg/m³", "pm10": "µg/m³", "pm2_5": "µg/m³", "nox": "µg/m³",
}

DOMAIN_BY_PREFIX = {"w": "water", "a": "air", "L": "noise", "e": "wastewater_process", "g": "flue_gas_process", "i": "device"}


@dataclass(frozen=True)
class CatalogEntry:
    key: str
    name_zh: str
    name_en: str = ""
    code_2017: str = ""
    code_2005: str = ""
    unit: str = ""
    ambient_unit: str = ""
    emission_unit: str = ""
    data_type: str = ""
    decimals: int | None = None
    domain: str = "other"
    source: str = ""
    aliases: tuple[tuple[str, str], ...] = ()


ENGLISH_NAMES: dict[str, str] = {
    "ph": "pH", "do": "Dissolved oxygen", "codmn": "Permanganate index (CODMn)", "cod": "Chemical oxygen demand (COD)",
    "bod5": "Five-day biochemical oxygen demand (BOD5)", "nh3_n": "Ammonia nitrogen (NH3-N)", "tp": "Total phosphorus",
    "tn": "Total nitrogen", "cu": "Copper", "zn": "Zinc", "fluoride": "Fluoride", "se": "Selenium", "as": "Arsenic",
    "hg": "Mercury", "cd": "Cadmium", "cr6": "Hexavalent chromium", "pb": "Lead", "cyanide": "Cyanide",
    "phenol": "Volatile phenol", "petroleum": "Petroleum", "las": "Anionic surfactant", "sulfide": "Sulfide",
    "fecal_coliform": "Fecal coliforms", "water_temp": "Water temperature", "conductivity": "Conductivity",
    "wastewater_flow": "Wastewater flow", "ss": "Suspended solids", "toc": "Total organic carbon",
    "so2": "Sulfur dioxide (SO2)", "no2": "Nitrogen dioxide (NO2)", "co": "Carbon monoxide (CO)", "pm10": "PM10",
    "pm2_5": "PM2.5", "nox": "Nitrogen oxides (NOx)", "smoke_dust": "Particulate matter (smoke and dust)",
    "flue_temp": "Flue gas temperature", "flue_humidity": "Flue gas humidity", "o2": "Oxygen content",
    "flue_gas_flow": "Flue gas flow", "nmhc": "Non-methane hydrocarbons", "o3": "Ozone (O3)",
    "turbidity": "Turbidity", "chl_a": "Chlorophyll-a", "algal_density": "Algal density", "sb": "Antimony",
    "sd": "Transparency (Secchi depth)",
}

#: Environment-quality parameters missing from Appendix B (hj212.md). Codes from
#: other lists are aliases; no code is invented here: an administrator maps the
#: codes their loggers send (the unknown-code report lists them).
QUALITY_EXTRAS: tuple[CatalogEntry, ...] = (
    CatalogEntry("o3", "臭氧", unit="µg/m³", ambient_unit="µg/m³", domain="air", decimals=0,
                 source="GB 3095 / HJ 633", aliases=(("a05024", "HJ 524 等国家代码表，常见于空气站数采仪"),)),
    CatalogEntry("turbidity", "浊度", unit="NTU", domain="water", decimals=1, source="地表水自动站常规五参数"),
    CatalogEntry("chl_a", "叶绿素a", unit="mg/m³", domain="water", decimals=3, source="HJ 1098-2020 / TLI"),
    CatalogEntry("algal_density", "藻密度", unit="cells/L", domain="water", decimals=0, source="HJ 1098-2020"),
    CatalogEntry("sb", "锑", unit="mg/L", domain="water", decimals=4, source="GB 3838-2002 表3 (0.005 mg/L)"),
    CatalogEntry("sd", "透明度", unit="m", domain="water", decimals=2, source="TLI（总站生字〔2001〕090号）"),
)


def _decimals(data_type: str) -> int | None:
    # "N5.2" -> 2 decimals; "N4" -> 0; "C10" or "" -> None
    if not data_type.startswith("N"):
        return None
    _, _, frac = data_type[1:].partition(".")
    return int(frac) if frac.isdigit() else 0


def read_appendix_b(text: str) -> tuple[list[CatalogEntry], list[str]]:
    """Parse the Appendix B code table. Returns (entries, problems); duplicate codes keep the first row."""
    entries: list[CatalogEntry] = []
    problems: list[str] = []
    seen: set[str] = set()
    for i, row in enumerate(csv.DictReader(io.StringIO(text)), start=2):
        code = (row.get("ID") or "").strip()
        if not code:
            problems.append(f"row {i}: no code")
            continue
        if code in seen:
            problems.append(f"row {i}: code {code} appears again in the standard's table; the first row is kept")
            continue
        seen.add(code)
        unit_zh = (row.get("单位") or "").strip()
        unit = UNIT_CORRECTIONS.get(code) or UNIT_SYMBOLS.get(unit_zh, unit_zh)
        key = SHORT_KEYS.get(code, code.lower())
        data_type = (row.get("数据类型") or "").strip()
        entries.append(
            CatalogEntry(
                key=key,
                name_zh=(row.get("NAME") or "").strip(),
                name_en=ENGLISH_NAMES.get(key, ""),
                code_2017=code,
                code_2005=(row.get("原编码（HJ2005)") or "").strip(),
                unit=unit,
                ambient_unit=AMBIENT_UNITS.get(key, ""),
                emission_unit=UNIT_SYMBOLS.get((row.get("排放量") or "").strip(), (row.get("排放量") or "").strip()),
                data_type=data_type,
                decimals=_decimals(data_type),
                domain=DOMAIN_BY_PREFIX.get(code[0], "other"),
                source="HJ 212-2017 附录B",
            )
        )
    return entries, problems


def appendix_b_text() -> str:
    return resources.files("gongzhi.hj212").joinpath("data/hj212_codes.csv").read_text(encoding="utf-8")


def catalog_entries() -> tuple[list[CatalogEntry], list[str]]:
    entries, problems = read_appendix_b(appendix_b_text())
    keys = {e.key for e in entries}
    for extra in QUALITY_EXTRAS:
        if extra.key not in keys:
            entries.append(
                CatalogEntry(**{**extra.__dict__, "name_en": extra.name_en or ENGLISH_NAMES.get(extra.key, "")})
            )
    return entries, problems
