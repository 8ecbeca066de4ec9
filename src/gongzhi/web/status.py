"""What the map and the site page say about a site's state: the GB 3838 class of a water
section and the hourly AQI of an air station from their latest values, target-class limits
and exceedances for charts, and the legend colours.

The judging is done by the standards engine (:mod:`gongzhi.standards.gb3838`,
:mod:`gongzhi.standards.hj633`); this module only picks the values and converts units.

Colours
-------
* AQI: HJ 633 Table 2 (绿/黄/橙/红/紫/褐红), taken from
  :data:`gongzhi.standards.hj633.CATEGORIES` — the standard's own colours.
* Water classes Ⅰ–劣Ⅴ: GB 3838-2002 and 环办〔2011〕22号 define no colours. The palette
  below is the **convention** of public water-quality maps in China (Ⅰ light blue, Ⅱ blue,
  Ⅲ green, Ⅳ yellow, Ⅴ orange, 劣Ⅴ red); it is marked as convention in the legend's
  note and in docs/web.md, not cited as a standard.
"""

from __future__ import annotations

import datetime as dt
import math
from collections.abc import Iterable

import numpy as np

from gongzhi.observations.models import QC_INVALIDATING
from gongzhi.standards import gb3838, hj633

BEIJING = dt.timezone(dt.timedelta(hours=8))

#: The parameters a water section's class is judged on at an automatic station (the map).
WATER_CLASS_KEYS = ("ph", "do", "codmn", "nh3_n", "tp")
#: Hourly AQI pollutants (HJ 633 实时报).
AIR_KEYS = ("so2", "no2", "co", "o3", "pm10", "pm2_5")

#: Water class colours — convention, not a standard (see the module docstring). Index = class code.
WATER_CLASS_COLOURS = {1: "#ccffff", 2: "#00ccff", 3: "#00cc00", 4: "#ffff00", 5: "#ff9b00", 6: "#ff0000"}
NO_DATA_COLOUR = "#9aa5b1"

#: A latest value older than this is shown as stale (faded on the map).
STALE_AFTER = dt.timedelta(hours=48)

#: Preferred order of parameters on the site page.
WATER_ORDER = ("ph", "do", "codmn", "nh3_n", "tp", "tn", "water_temp", "conductivity", "turbidity", "chl_a", "algal_density")
AIR_ORDER = ("pm2_5", "pm10", "o3", "no2", "so2", "co")


def aqi_colour(level: int) -> str:
    if level < 1:
        return NO_DATA_COLOUR
    r, g, b = hj633.CATEGORIES[level - 1].rgb
    return f"#{r:02x}{g:02x}{b:02x}"


def legend() -> dict:
    """Legend entries for the map (labels in both languages; the page picks one)."""
    return {
        "water": [
            {"class": c, "label": gb3838.CLASS_LABELS[c], "colour": WATER_CLASS_COLOURS[c],
             "label_en": f"Class {gb3838.CLASS_LABELS[c]}" if c < 6 else "Worse than class Ⅴ"}
            for c in range(1, 7)
        ],
        "air": [
            {
                "level": cat.level,
                "range": f"{cat.aqi_low}–{cat.aqi_high}" if cat.aqi_high is not None else f">{cat.aqi_low - 1}",
                "zh": cat.zh, "en": cat.en, "colour": aqi_colour(cat.level),
            }
            for cat in hj633.CATEGORIES
        ],
        "no_data": NO_DATA_COLOUR,
    }


# --- units ---------------------------------------------------------------------------------------------

_MASS = {"mg/l": 1.0, "毫克/升": 1.0, "µg/l": 1e-3, "μg/l": 1e-3, "ug/l": 1e-3, "微克/升": 1e-3}
_AIR_UG = {"µg/m³": 1.0, "μg/m³": 1.0, "ug/m3": 1.0, "µg/m3": 1.0, "mg/m³": 1000.0, "mg/m3": 1000.0}


def water_value(key: str, value: float, unit: str) -> float | None:
    """A value in the unit of GB 3838 Table 1 (mg/L; pH dimensionless), None if the unit is unknown."""
    if key == "ph":
        return value
    factor = _MASS.get((unit or "mg/L").strip().lower())
    return None if factor is None else value * factor


def air_value(key: str, value: float, unit: str) -> float | None:
    """A value in the unit of HJ 633 (µg/m³; CO mg/m³), None if the unit is unknown."""
    factor = _AIR_UG.get((unit or ("mg/m³" if key == "co" else "µg/m³")).strip())
    if factor is None:
        return None
    ug = value * factor
    return ug / 1000.0 if key == "co" else ug


def usable(entry: dict) -> bool:
    v = entry.get("value")
    return (
        v is not None and not entry.get("invalid") and not (entry.get("qc", 0) & QC_INVALIDATING)
        and not (isinstance(v, float) and math.isnan(v))
    )


def _local_naive(t: dt.datetime) -> str:
    return t.astimezone(BEIJING).replace(tzinfo=None).isoformat()


# --- latest status ------------------------------------------------------------------------------------


def water_status(entries: Iterable[dict], *, waterbody_type: str | None, target_class: int | None, now: dt.datetime) -> dict | None:
    """GB 3838 class of a section from its latest usable pH, DO, CODMn, NH3-N and TP."""
    values, times = {}, []
    for e in entries:
        key = e["parameter"]
        if key in WATER_CLASS_KEYS and usable(e):
            v = water_value(key, float(e["value"]), e.get("unit", ""))
            if v is not None:
                values[key] = [v]
                times.append(e["time"])
    if not values:
        return None
    result = gb3838.section_class(values, waterbody_type or "river", on_invalid="missing")
    cls = int(result.class_num[0])
    if cls == gb3838.MISSING:
        return None
    newest = max(times)
    main = result.main_pollutants[0] if result.main_pollutants is not None else []
    return {
        "type": "water",
        "class": cls,
        "label": gb3838.CLASS_LABELS[cls],
        "colour": WATER_CLASS_COLOURS[cls],
        "by_parameter": {k: int(c[0]) for k, c in result.by_indicator.items()},
        "main_pollutants": [k for k, _ in main],
        "meets_target": None if not target_class else bool(cls <= target_class),
        "time": newest.isoformat(),
        "stale": now - newest > STALE_AFTER,
    }


def air_status(entries: Iterable[dict], *, now: dt.datetime) -> dict | None:
    """Hourly AQI (HJ 633 实时报) of an air station from the latest values of its newest hour."""
    found = {}
    for e in entries:
        key = e["parameter"]
        if key in AIR_KEYS and usable(e):
            v = air_value(key, float(e["value"]), e.get("unit", ""))
            if v is not None:
                found[key] = (e["time"], v)
    if not found:
        return None
    newest = max(t for t, _ in found.values())
    hour = newest.replace(minute=0, second=0, microsecond=0)
    conc = {k: [v] for k, (t, v) in found.items() if t.replace(minute=0, second=0, microsecond=0) == hour}
    result = hj633.aqi(conc, period="hour", times=[_local_naive(hour)])
    value = result.aqi[0]
    if np.isnan(value):
        return None
    level = int(result.level[0])
    return {
        "type": "air",
        "aqi": int(value),
        "level": level,
        "category_zh": str(result.category_zh()[0]),
        "category_en": str(result.category_en()[0]),
        "colour": aqi_colour(level),
        "primary": [p for p in result.primary_pollutants()[0].split(",") if p],
        "complete": bool(result.complete[0]),
        "edition": str(result.edition_codes()[0]),
        "time": hour.isoformat(),
        "stale": now - newest > STALE_AFTER,
    }


def site_status(site, entries: list[dict], *, now: dt.datetime) -> dict | None:
    if site.kind == "water_section":
        wb_type = site.waterbody_type or (site.waterbody.assessment_type if site.waterbody_id else None)
        return water_status(entries, waterbody_type=wb_type, target_class=site.target_class, now=now)
    return air_status(entries, now=now)


# --- chart limits and exceedances ---------------------------------------------------------------------


def water_limit(key: str, target_class: int | None, waterbody_type: str | None) -> dict | None:
    """The target class's limit(s) of one indicator, for a chart's markLine."""
    ind = gb3838.INDICATORS.get(key)
    if ind is None or not target_class:
        return None
    lake = bool(gb3838.is_lake(waterbody_type or "river"))
    if ind.lake_only and not lake:
        return None
    label = gb3838.CLASS_LABELS[target_class]
    if ind.kind == "range":
        lo, hi = gb3838.PH_RANGE
        return {"lines": [lo, hi], "kind": "range", "class": label, "basis": "GB 3838-2002"}
    limits = ind.lake_limits if (lake and ind.lake_limits is not None) else ind.limits
    return {"lines": [limits[target_class - 1]], "kind": ind.kind, "class": label, "basis": "GB 3838-2002"}


def water_exceedances(key: str, values: list, unit: str, target_class: int | None, waterbody_type: str | None) -> list[int]:
    """Indexes of the values worse than the target class (single-factor class > target)."""
    if not target_class or key not in gb3838.INDICATORS or not values:
        return []
    ind = gb3838.INDICATORS[key]
    lake = bool(gb3838.is_lake(waterbody_type or "river"))
    if ind.lake_only and not lake:
        return []
    factor = 1.0 if key == "ph" else _MASS.get((unit or "mg/L").strip().lower())
    if factor is None:
        return []
    arr = np.array([np.nan if v is None else v for v in values], dtype=np.float64) * factor
    cls = gb3838.single_factor_class(key, arr, "lake" if lake else "river", on_invalid="missing")
    return np.flatnonzero(cls > target_class).tolist()


#: Indicator of each air parameter per chart resolution: hourly values on the hourly tables
#: (PM on the 24-h tables, as HJ 633 实时报 does), daily/monthly means on the 24-h tables.
_AIR_INDICATOR = {
    "hour": {"so2": "so2_1h", "no2": "no2_1h", "co": "co_1h", "o3": "o3_1h", "pm10": "pm10_24h", "pm2_5": "pm2_5_24h"},
    "day": {"so2": "so2_24h", "no2": "no2_24h", "co": "co_24h", "pm10": "pm10_24h", "pm2_5": "pm2_5_24h"},
}


def _air_indicator(key: str, resolution: str) -> str | None:
    table = _AIR_INDICATOR["hour" if resolution in ("raw", "hour") else "day"]
    return table.get(key)


def air_limit(key: str, resolution: str, when: dt.datetime) -> dict | None:
    """The concentration at IAQI 100 (the top of 良) for the chart's markLine; the edition in force on ``when``."""
    indicator = _air_indicator(key, resolution)
    if indicator is None:
        return None
    idx = int(hj633.select_editions([_local_naive(when)], None, 1)[0])
    rules = hj633.RULES[idx]
    bp = rules.breakpoints[indicator][2]  # IAQI_POINTS[2] == 100
    return {"lines": [bp], "kind": "le", "class": "IAQI 100", "basis": rules.edition.code}


def air_exceedances(key: str, times_ms: list[int], values: list, unit: str, resolution: str) -> list[int]:
    """Indexes of the values whose IAQI is above 100 (HJ 633 超标), edition per value time."""
    indicator = _air_indicator(key, resolution)
    if indicator is None or not values:
        return []
    factor = _AIR_UG.get((unit or ("mg/m³" if key == "co" else "µg/m³")).strip())
    if factor is None:
        return []
    arr = np.array([np.nan if v is None else v for v in values], dtype=np.float64) * factor
    if key == "co":
        arr = arr / 1000.0
    local = (np.asarray(times_ms, dtype="int64") + 8 * 3_600_000).astype("datetime64[ms]")
    with np.errstate(invalid="ignore"):
        iaqi = hj633.iaqi(np.where(arr < 0, np.nan, arr), indicator, times=local)
    return np.flatnonzero(iaqi > 100).tolist()


def order_parameters(kind: str, keys: Iterable[str]) -> list[str]:
    order = WATER_ORDER if kind == "water_section" else AIR_ORDER
    rank = {k: i for i, k in enumerate(order)}
    return sorted(keys, key=lambda k: (rank.get(k, len(rank)), k))
