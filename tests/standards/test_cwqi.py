"""CWQI, 环办监测〔2017〕51号 (formulas/03 part 3b) [S]."""

from __future__ import annotations

import numpy as np
import pytest

from gongzhi.standards import cwqi, gb3838


def test_worked_example_formulas_03():
    # pH 7.6 → 0.30; DO 6.5 → 0.769; CODMn 4.2 → 0.70; COD 16 → 0.80; BOD5 3.0 → 0.75;
    # NH3-N 0.45 → 0.45; TP 0.12 (river) → 0.60; partial CWQI 4.37
    v = {"ph": 7.6, "do": 6.5, "codmn": 4.2, "cod": 16, "bod5": 3.0, "nh3_n": 0.45, "tp": 0.12}
    r = cwqi.cwqi(v, "river")
    expected = {"ph": 0.30, "do": 0.769, "codmn": 0.70, "cod": 0.80, "bod5": 0.75,
                "nh3_n": 0.45, "tp": 0.60}
    for k, e in expected.items():
        assert float(r.indices[k][0]) == pytest.approx(e, abs=5e-4), k
    assert round(float(r.total[0]), 2) == 4.37
    assert r.n_indicators.tolist() == [7]


def test_indicator_index_uses_class3_limits_of_the_gb3838_table():
    for key in cwqi.CWQI_INDICATORS:
        if key in ("ph", "do"):
            continue
        c3 = gb3838.INDICATORS[key].limits[2]
        assert float(cwqi.indicator_index(key, c3)) == pytest.approx(1.0), key


def test_tp_lake_limit():
    assert float(cwqi.indicator_index("tp", 0.05, "lake")) == pytest.approx(1.0)
    assert float(cwqi.indicator_index("tp", 0.05, "river")) == pytest.approx(0.25)


@pytest.mark.parametrize("ph,idx", [(7.0, 0.0), (6.0, 1.0), (9.0, 1.0), (6.5, 0.5), (8.0, 0.5),
                                    (5.0, 2.0)])
def test_ph_index(ph, idx):
    assert float(cwqi.indicator_index("ph", ph)) == pytest.approx(idx)


def test_do_index_and_zero():
    assert float(cwqi.indicator_index("do", 5.0)) == 1.0
    assert float(cwqi.indicator_index("do", 10.0)) == 0.5
    assert np.isinf(cwqi.indicator_index("do", 0.0))


def test_not_a_cwqi_indicator():
    with pytest.raises(ValueError):
        cwqi.indicator_index("tn", 1.0)
    r = cwqi.cwqi({"nh3_n": 0.5, "tn": 3.0, "fecal_coliform": 1e5})
    assert set(r.indices) == {"nh3_n"} and float(r.total[0]) == 0.5


def test_nan_skipped_per_row():
    r = cwqi.cwqi({"nh3_n": [0.5, np.nan, np.nan], "codmn": [3.0, 3.0, np.nan]})
    assert r.total[:2].tolist() == [1.0, 0.5]
    assert np.isnan(r.total[2])
    assert r.n_indicators.tolist() == [2, 1, 0]


def test_hj212_code_in_its_unit():
    # cadmium w20143 in µg/L: 5 µg/L = Ⅲ limit → 1.0
    assert float(cwqi.indicator_index("w20143", 5.0)) == pytest.approx(1.0)


def test_city_cwqi_averages_concentrations_first_then_weights_by_sections():
    rivers = {"nh3_n": [0.5, 1.5], "codmn": [6.0, 6.0]}       # means 1.0, 6.0 → 2.0
    lakes = {"tp": [0.05, 0.05, 0.05], "nh3_n": [0.5, 0.5, 0.5]}  # 1.0 + 0.5 → 1.5
    out = cwqi.city_cwqi(rivers, lakes)
    assert out["river"] == pytest.approx(2.0) and out["lake"] == pytest.approx(1.5)
    assert out["n_river"] == 2 and out["n_lake"] == 3
    assert out["cwqi"] == pytest.approx((2.0 * 2 + 1.5 * 3) / 5)
    assert cwqi.city_cwqi(rivers)["cwqi"] == pytest.approx(2.0)
    with pytest.raises(ValueError):
        cwqi.city_cwqi()


def test_change_rate_and_rank():
    assert float(cwqi.change_rate(4.5, 5.0)) == pytest.approx(-10.0)
    assert cwqi.rank([3.2, 2.9, 3.2, 4.0, np.nan]).tolist() == [2, 1, 2, 4, 0]
    # ties at the published digits
    assert cwqi.rank([3.2049, 3.2001], decimals=2).tolist() == [1, 1]
