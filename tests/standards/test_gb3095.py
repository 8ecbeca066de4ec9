"""GB 3095-2012 / GB 3095-2026 limits and exceedance (gongzhi.standards.gb3095).

Expected limits are typed again from shared/reference/standards.md [P], not imported.
"""

from __future__ import annotations

import numpy as np
import pytest

from gongzhi.standards import gb3095

# (pollutant, period): (Grade I, Grade II) — standards.md
STD_2012 = {
    ("so2", "annual"): (20, 60), ("so2", "24h"): (50, 150), ("so2", "1h"): (150, 500),
    ("no2", "annual"): (40, 40), ("no2", "24h"): (80, 80), ("no2", "1h"): (200, 200),
    ("co", "24h"): (4, 4), ("co", "1h"): (10, 10),
    ("o3", "8h"): (100, 160), ("o3", "1h"): (160, 200),
    ("pm10", "annual"): (40, 70), ("pm10", "24h"): (50, 150),
    ("pm2_5", "annual"): (15, 35), ("pm2_5", "24h"): (35, 75),
}
STD_2026_T = {
    ("so2", "annual"): (20, 60), ("so2", "24h"): (50, 150), ("so2", "1h"): (150, 500),
    ("no2", "annual"): (40, 40), ("no2", "24h"): (80, 80), ("no2", "1h"): (200, 200),
    ("co", "24h"): (4, 4), ("co", "1h"): (10, 10),
    ("o3", "8h"): (100, 160), ("o3", "1h"): (160, 200),
    ("pm10", "annual"): (40, 60), ("pm10", "24h"): (50, 120),
    ("pm2_5", "annual"): (15, 30), ("pm2_5", "24h"): (35, 60),
    ("nox", "annual"): (50, 50), ("nox", "24h"): (100, 100), ("nox", "1h"): (250, 250),
}
STD_2026_F = {
    ("so2", "annual"): (20, 20), ("so2", "24h"): (50, 50), ("so2", "1h"): (150, 150),
    ("no2", "annual"): (30, 30), ("no2", "24h"): (50, 50), ("no2", "1h"): (200, 200),
    ("co", "24h"): (4, 4), ("co", "1h"): (10, 10),
    ("o3", "8h"): (100, 160), ("o3", "1h"): (160, 200),
    ("pm10", "annual"): (20, 50), ("pm10", "24h"): (50, 100),
    ("pm2_5", "annual"): (10, 25), ("pm2_5", "24h"): (25, 50),
    ("nox", "annual"): (40, 40), ("nox", "24h"): (70, 70), ("nox", "1h"): (250, 250),
}
CASES = [(code, k, g, table[k][g - 1])
         for code, table in (("GB 3095-2012", STD_2012),
                             ("GB 3095-2026/transitional", STD_2026_T),
                             ("GB 3095-2026/final", STD_2026_F))
         for k in table for g in (1, 2)]


@pytest.mark.parametrize("edition,key,grade,expected", CASES,
                         ids=[f"{c[0]}-{c[1][0]}-{c[1][1]}-G{c[2]}" for c in CASES])
def test_limit_tables(edition, key, grade, expected):
    assert gb3095.limit(*key, grade=grade, edition=edition).tolist() == [expected]


@pytest.mark.parametrize("edition,key,grade,limit", CASES,
                         ids=[f"{c[0]}-{c[1][0]}-{c[1][1]}-G{c[2]}" for c in CASES])
def test_exceedance_both_sides_of_every_limit(edition, key, grade, limit):
    """A value equal to the limit meets it; only a value above exceeds [P]."""
    step = 0.1 if key[0] == "co" else 1.0
    r = gb3095.exceedance([limit - step, limit, limit + step], *key, grade=grade,
                          edition=edition)
    assert r.exceeds.tolist() == [False, False, True]
    assert r.multiple[2] == pytest.approx(step / limit)


def test_limit_by_time_switches_2026_and_2031():
    t = ["2026-02-28", "2026-03-01", "2030-12-31", "2031-01-01"]
    assert gb3095.limit("pm2_5", "24h", times=t).tolist() == [75, 60, 60, 50]
    assert gb3095.limit("no2", "annual", times=t).tolist() == [40, 40, 40, 30]
    r = gb3095.exceedance([55, 55, 55, 55], "pm2_5", "24h", times=t)
    assert r.exceeds.tolist() == [False, False, False, True]
    codes = [e["code"] for e in r.metadata["editions_applied"]]
    assert codes == ["GB 3095-2012", "GB 3095-2026/transitional", "GB 3095-2026/final"]


def test_gb3095_2026_alias_picks_transitional_or_final_by_time():
    t = ["2027-01-01", "2032-01-01"]
    assert gb3095.limit("pm10", "annual", edition="GB 3095-2026", times=t).tolist() == [60, 50]
    with pytest.raises(ValueError, match="transitional"):
        gb3095.limit("pm10", "annual", edition="GB 3095-2026")


def test_exceedance_never_inferred_from_iaqi():
    """From 2031 PM2.5 24-h 55 µg/m³ has IAQI ≤ 100 under HJ 633-2026 (60 → 100) yet
    exceeds the final Grade II limit 50: exceedance comes from the limit table only."""
    from gongzhi.standards import hj633

    assert hj633.iaqi([55.0], "pm2_5_24h", edition="HJ 633-2026")[0] <= 100
    assert gb3095.exceedance([55.0], "pm2_5", "24h", edition="GB 3095-2026/final").exceeds[0]


def test_missing_values_do_not_exceed():
    r = gb3095.exceedance([np.nan, 500.0], "so2", "24h", edition="GB 3095-2012")
    assert r.exceeds.tolist() == [False, True] and r.valid.tolist() == [False, True]
    assert np.isnan(r.multiple[0])


def test_errors():
    with pytest.raises(ValueError, match="no 8h limit"):
        gb3095.limit("pm10", "8h", edition="GB 3095-2012")
    with pytest.raises(ValueError, match="grade"):
        gb3095.limit("pm10", "24h", grade=3, edition="GB 3095-2012")
    with pytest.raises(ValueError, match="times"):
        gb3095.limit("pm10", "24h")
    with pytest.raises(ValueError, match="known"):
        gb3095.limit("pm10", "24h", edition="GB 3095-1996")
