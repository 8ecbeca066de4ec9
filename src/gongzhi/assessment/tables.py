"""The tables of the assessment pages, one definition for the page and its CSV/XLSX export.

Each table is ``(header, rows)``: translated column names and rows of plain cells (str,
int, float or None), in the active language."""

from __future__ import annotations

from django.utils.translation import get_language
from django.utils.translation import gettext as _

from gongzhi.standards import gb3838, hj633

TABLES = {
    "water": ("sections", "bureaus", "rivers"),
    "air": ("stations", "jurisdictions", "calendar"),
    "rankings": ("rankings",),
}


def english() -> bool:
    return (get_language() or "").startswith("en")


def name(d: dict, key: str = "name") -> str:
    return (d.get(f"{key}_en") or d.get(key) or "") if english() else (d.get(key) or "")


def change(label: str) -> str:
    return _(label) if label else ""


def _yes(v) -> str:
    if v is None:
        return ""
    return _("是") if v else _("否")


def grade(zh: str | None, en: str | None) -> str:
    return (en or "") if english() else (zh or "")


AIR_NAMES = {"so2": "SO₂", "no2": "NO₂", "co": "CO", "pm10": "PM₁₀", "pm2_5": "PM₂.₅", "o3": "O₃",
             "o3_8h_max": "O₃-8h", "o3_1h_max": "O₃-1h", "o3_8h": "O₃-8h"}


def air_pollutants(keys: str) -> str:
    """``pm2_5,o3_8h_max`` → ``PM₂.₅, O₃-8h`` (display names of air pollutant keys)."""
    return ", ".join(AIR_NAMES.get(k, k) for k in keys.split(",") if k)


def indicator(key: str) -> str:
    ind = gb3838.INDICATORS.get(key)
    if ind is None:
        return key
    return ind.name_en if english() else ind.name_zh


def pollutants(items: list[dict]) -> str:
    """Main pollutants with their exceedance multiple: ``氨氮(0.2), 总磷(0.25)``."""
    out = []
    for m in items:
        e = m.get("multiple")
        if e is None:
            out.append(indicator(m["indicator"]))
        else:
            text = f"{float(gb3838.round_half_even(e, 2)):.2f}".rstrip("0").rstrip(".")
            out.append(f"{indicator(m['indicator'])}({text})")
    return ", ".join(out)


def scope_name(data: dict) -> str:
    if data.get("scope", "region") == "region":
        return _("全区域")
    return name(data, "scope_name")


def table(kind: str, data: dict, which: str) -> tuple[list[str], list[list]]:
    if which not in TABLES.get(kind, ()):
        raise KeyError(which)
    return globals()[f"_{kind}_{which}"](data)


def _water_sections(data):
    header = [_("断面编码"), _("断面"), _("所属局"), _("水体"), _("跨界断面"), _("水质目标"), _("水质类别"), _("水质状况"),
              _("达标"), _("主要污染指标（超标倍数）"), _("上期类别"), _("环比变化"), _("去年同期类别"), _("同比变化")]
    rows = []
    for r in data["sections"]:
        rows.append([
            r["site"], name(r), name(r, "bureau_name"), name(r, "waterbody_name"), _yes(r["is_boundary"]) if r["is_boundary"] else "",
            r["target_label"] or "", r["label"] or "", grade(r["grade_zh"], r["grade_en"]), _yes(r["meets_target"]),
            pollutants(r["main_pollutants"]), r["previous"]["label"] or "", change(r["previous"]["change"]),
            r["last_year"]["label"] or "", change(r["last_year"]["change"]),
        ])
    return header, rows


def _summary_cells(s):
    return [s["n_sections"], s["n_classified"], s["good_share"], s["worse_v_share"], s["n_target"], s["n_meeting"],
            s["compliance_rate"], s["previous"]["index"], change(s["previous"]["change"]),
            s["last_year"]["index"], change(s["last_year"]["change"])]


SUMMARY_HEADER = ("断面数", "参评断面数", "Ⅰ–Ⅲ类比例（%）", "劣Ⅴ类比例（%）", "有目标断面数", "达标断面数", "达标率（%）",
                  "环比 ΔG−ΔD", "环比变化", "同比 ΔG−ΔD", "同比变化")


def _water_bureaus(data):
    header = [_("范围")] + [_(h) for h in SUMMARY_HEADER]
    rows = [[name(b)] + _summary_cells(b) for b in data["bureaus"]]
    rows.append([scope_name(data)] + _summary_cells(data["summary"]))
    return header, rows


def _water_rivers(data):
    header = [_("河流/湖库"), _("断面数"), _("评价方法"), _("水质状况"), _("水质类别"), _("Ⅰ–Ⅲ类比例（%）"), _("劣Ⅴ类比例（%）"), _("主要污染指标")]
    rows = []
    for r in data["rivers"]:
        method = _("断面均值") if r["method"] == "mean" else _("断面比例")
        mp = ", ".join(indicator(m["indicator"]) for m in r["main_pollutants"])
        rows.append([name(r), r["n_sections"], method, grade(r["grade_zh"], r["grade_en"]), r["label"] or "",
                     r["good_share"], r["worse_v_share"], mp])
    return header, rows


AIR_HEADER = ("有效天数", "优良天数", "优良天数比例（%）", "PM2.5 平均浓度（µg/m³）", "O3 日最大 8 小时第 90 百分位（µg/m³）",
              "综合指数", "首要污染物（综合指数）", "统计有效")


def _air_cells(s):
    return [s["valid_days"], s["good_days"], s["good_day_ratio"], s.get("pm2_5_mean"), s.get("o3_8h_p90"),
            s.get("composite_index"), air_pollutants(s.get("composite_primary", "")), _yes(s.get("complete"))]


def _air_stations(data):
    header = [_("站点编码"), _("站点"), _("所属局")] + [_(h) for h in AIR_HEADER]
    return header, [[r["site"], name(r), name(r, "bureau_name")] + _air_cells(r) for r in data["stations"]]


def _air_jurisdictions(data):
    header = [_("行政区划代码"), _("行政区"), _("站点数")] + [_(h) for h in AIR_HEADER]
    return header, [[r["code"], name(r), r["n_stations"]] + _air_cells(r) for r in data["jurisdictions"]]


def _air_calendar(data):
    header = [_("站点或行政区"), _("名称"), _("日期"), _("AQI"), _("级别"), _("类别"), _("首要污染物")]
    cats = {c.level: c for c in hj633.CATEGORIES}
    rows = []
    for what in ("stations", "jurisdictions"):
        for r in data[what]:
            code = r.get("site") or r.get("code")
            for day, aqi, level, primary in r["calendar"]:
                c = cats.get(level)
                rows.append([code, name(r), day, aqi, level, (c.en if english() else c.zh) if c else "", air_pollutants(primary)])
    return header, rows


def _rankings_rankings(data):
    header = [_("行政区划代码"), _("行政区"),
              _("综合指数"), _("综合指数排名"), _("上期综合指数"), _("上期排名"), _("排名变化"), _("变化率（%）"),
              _("水质达标率（%）"), _("达标率排名"), _("上期达标率（%）"), _("上期排名"), _("排名变化"),
              _("优良天数比例（%）"), _("优良天数比例排名"), _("上期优良天数比例（%）"), _("上期排名"), _("排名变化")]
    rows = []
    for r in data["rows"]:
        rows.append([
            r["code"], name(r),
            r["composite_index"], r["composite_index_rank"], r["composite_index_previous"], r["composite_index_previous_rank"],
            r["composite_index_rank_change"], r["composite_index_change_rate"],
            r["compliance_rate"], r["compliance_rate_rank"], r["compliance_rate_previous"], r["compliance_rate_previous_rank"],
            r["compliance_rate_rank_change"],
            r["good_day_ratio"], r["good_day_ratio_rank"], r["good_day_ratio_previous"], r["good_day_ratio_previous_rank"],
            r["good_day_ratio_rank_change"],
        ])
    return header, rows
