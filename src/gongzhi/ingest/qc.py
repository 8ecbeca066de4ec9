"""Quality checks on arrival (到站质控): units, physical range, HJ 212 data flag, time.

Pure functions and small tables; the pipeline combines them into the
``Observation.qc`` bits of :mod:`gongzhi.observations.models`.  Nothing here
drops a value: a check sets a bit and the value is stored as received.
"""

from __future__ import annotations

import datetime as dt
from functools import lru_cache

from gongzhi.observations.models import (
    QC_FLAG_INVALID,
    QC_FUTURE,
    QC_NEGATIVE,
    QC_OUT_OF_RANGE,
)

# --- units ------------------------------------------------------------------------------------

_UNIT_SPELLINGS = {
    "μ": "µ",  # Greek mu -> micro sign
    "ug/": "µg/",
    "m3": "m³",
    "mg/l": "mg/L",
    "µg/l": "µg/L",
    "ng/l": "ng/L",
}


@lru_cache(maxsize=1024)
def normalise_unit(unit: str | None) -> str:
    """One spelling per unit: ``ug/m3`` and ``μg/m³`` are ``µg/m³``."""
    u = (unit or "").strip()
    for a, b in _UNIT_SPELLINGS.items():
        u = u.replace(a, b)
    return u


#: Exact, dimension-preserving conversions (from, to) -> factor.  There is no
#: ppb <-> µg/m³ entry on purpose: that needs temperature, pressure and molar
#: mass and is never done silently.
UNIT_FACTORS: dict[tuple[str, str], float] = {
    ("mg/m³", "µg/m³"): 1000.0,
    ("µg/m³", "mg/m³"): 0.001,
    ("µg/m³", "ng/m³"): 1000.0,
    ("ng/m³", "µg/m³"): 0.001,
    ("mg/L", "µg/L"): 1000.0,
    ("µg/L", "mg/L"): 0.001,
    ("µg/L", "ng/L"): 1000.0,
    ("ng/L", "µg/L"): 0.001,
    ("L/s", "m³/h"): 3.6,
    ("m³/h", "L/s"): 1 / 3.6,
    ("m³/s", "m³/h"): 3600.0,
    ("m³/h", "m³/s"): 1 / 3600.0,
}


@lru_cache(maxsize=1024)
def unit_factor(source: str, target: str) -> float | None:
    """Factor turning a value in ``source`` into ``target``; 1.0 if they are the same, ``None`` if unknown."""
    s, t = normalise_unit(source), normalise_unit(target)
    if s == t:
        return 1.0
    return UNIT_FACTORS.get((s, t))


def source_unit(*, system_code: str, unit: str, ambient_unit: str) -> str:
    """The unit a logger of system ``system_code`` sends a parameter in.

    HJ 212 carries no units: the code table (Appendix B) gives the
    pollution-source unit (gases in mg/m³), and ambient air stations (ST 22)
    send µg/m³ (CO mg/m³), recorded in the catalog as ``ambient_unit``.
    """
    if system_code == "22" and ambient_unit:
        return ambient_unit
    return unit


# --- physical range ---------------------------------------------------------------------------

#: Physically possible values per parameter key, in the unit given.  Deliberately
#: small and loose: it catches broken instruments, not bad water.  Applied only
#: when the series is in that unit.
PHYSICAL_RANGES: dict[str, tuple[float, float, str]] = {
    "ph": (0.0, 14.0, "1"),
    "do": (0.0, 30.0, "mg/L"),  # supersaturated water stays well below 30 mg/L
    "water_temp": (-5.0, 100.0, "°C"),
    "o2": (0.0, 25.0, "%"),  # flue-gas oxygen; air is 20.9 %
    "flue_humidity": (0.0, 100.0, "%"),
    "turbidity": (0.0, 10000.0, "NTU"),
    "conductivity": (0.0, 200000.0, "µS/cm"),
    "pm2_5": (0.0, 5000.0, "µg/m³"),
    "pm10": (0.0, 10000.0, "µg/m³"),
}

#: Units of quantities that cannot be negative (concentrations, counts, flows,
#: percentages).  Temperatures, pressures and potentials (°C, kPa, Pa, mV) can.
NON_NEGATIVE_UNITS = frozenset({
    "mg/L", "µg/L", "ng/L", "mg/m³", "µg/m³", "ng/m³", "cells/L", "个/L", "NTU", "µS/cm",
    "L/s", "m³/h", "m³/s", "%", "1", "dB", "kg", "kWh", "m/s", "度",
})


def value_bits(key: str, unit: str, value: float | None) -> int:
    """QC bits for a value of parameter ``key`` in ``unit``: negative and out-of-range."""
    if value is None:
        return 0
    bits = 0
    u = normalise_unit(unit)
    if value < 0 and u in NON_NEGATIVE_UNITS:
        bits |= QC_NEGATIVE
    rng = PHYSICAL_RANGES.get(key)
    if rng is not None and rng[2] == u and not (rng[0] <= value <= rng[1]):
        bits |= QC_OUT_OF_RANGE
    return bits


def flag_bits(flag: str | None) -> int:
    """HJ 212 data flag (-Flag): only N (normal) leaves a value valid; no flag means N."""
    if flag is None or flag == "N":
        return 0
    return QC_FLAG_INVALID


def time_bits(t: dt.datetime, now: dt.datetime, future_tolerance: dt.timedelta) -> int:
    return QC_FUTURE if t - now > future_tolerance else 0
