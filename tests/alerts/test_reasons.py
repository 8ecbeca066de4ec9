"""The verdict's reasons on the alarm page in Chinese: every sentence gongzhi.analytics states for
the scenarios below (run through the real detectors) has a Chinese form that keeps its numbers
and codes; an unknown sentence stays as it came; English readers get the sentences unchanged."""

import re

import numpy as np
import pytest

from gongzhi.alerts.reasons import localize
from gongzhi.analytics import Upstream, assess

pytestmark = pytest.mark.pure

HOUR = 3600.0
T0 = 1780272000.0
N = 24 * 10
CJK = ("\u4e00", "\u9fff")


def has_cjk(text: str) -> bool:
    return any(CJK[0] <= ch <= CJK[1] for ch in text)


def base(seed: int = 1) -> tuple[np.ndarray, dict]:
    rng = np.random.default_rng(seed)
    t = T0 + HOUR * np.arange(N)
    day = np.sin(2 * np.pi * np.arange(N) / 24)
    return t, {"w21003": 0.5 + 0.05 * day + rng.normal(0, 0.02, N),
               "w01019": 4.0 + 0.3 * day + rng.normal(0, 0.1, N),
               "w01009": 7.0 - 0.4 * day + rng.normal(0, 0.1, N),
               "w21001": 2.0 + 0.1 * day + rng.normal(0, 0.05, N)}


def reasons(anomalies) -> list[str]:
    return [r for a in anomalies for r in a.reasons]


def scenarios() -> list[str]:
    out = []
    t, v = base()
    spike = {k: x.copy() for k, x in v.items()}
    spike["w21003"][N - 5] = 3.0  # one sample, straight back
    out += reasons(assess(t, spike, since_s=t[N - 30]))
    alone = {k: x.copy() for k, x in v.items()}
    alone["w21003"][N - 8:] = 2.5  # one analyser, sustained, nothing else
    out += reasons(assess(t, alone, since_s=t[N - 30]))
    plume = {k: x.copy() for k, x in v.items()}
    plume["w21003"][N - 8:] = 2.5
    plume["w01019"][N - 8:] = 9.0
    plume["w01009"][N - 8:] = 3.0
    out += reasons(assess(t, plume, since_s=t[N - 30]))
    up = {k: x.copy() for k, x in v.items()}
    up["w21003"][N - 12:] = 2.5
    t_u, v_u = base(2)
    v_u["w21003"][N - 16:] = 2.6
    out += reasons(assess(t, alone, upstream=[Upstream("W-UP", t_u, v_u, 4 * HOUR)], since_s=t[N - 30]))
    flat = {k: x.copy() for k, x in v.items()}
    flat["w01009"][N - 30:] = 7.0
    out += reasons(assess(t, flat, since_s=t[N - 40]))
    impossible = {k: x.copy() for k, x in v.items()}
    impossible["w21003"][N - 3] = -5.0
    out += reasons(assess(t, impossible, since_s=t[N - 30]))
    flags = {"w21003": np.array(["N"] * (N - 4) + ["D"] * 4, dtype=object)}
    out += reasons(assess(t, v, flags=flags, since_s=t[N - 30]))
    subset = {k: x.copy() for k, x in v.items()}
    subset["w21003"][N - 6:] = 3.0  # ammonia above total nitrogen
    out += reasons(assess(t, subset, since_s=t[N - 30]))
    outlet = {"w01018": v["w01019"] * 10}
    outlet["w01018"][N - 8:] = 300.0
    out += reasons(assess(t, outlet, kind="outlet", since_s=t[N - 30]))
    lonely = {"w21003": alone["w21003"]}
    out += reasons(assess(t, lonely, since_s=t[N - 30]))
    return out


def test_every_sentence_of_the_detectors_has_a_chinese_form():
    said = scenarios()
    kinds = {r.split(":")[0].split(" ")[0] for r in said}
    assert len(set(said)) >= 8 and len(kinds) >= 6, said  # the scenarios reach most sentences
    for r in said:
        zh = localize(r, "zh-hans")
        assert zh != r and has_cjk(zh), r
        for token in re.findall(r"[+-]?\d+(?:\.\d+)?(?:e[+-]?\d+)?|[A-Z][\w-]*\d[\w-]*|w\d{5}", r):
            assert token in zh, (token, r, zh)  # numbers, codes and names kept
        assert localize(r, "en") == r


@pytest.mark.parametrize("en,zh", [
    ("single-parameter excursion that nothing else saw", "仅本因子出现的偏离，其他均未见"),
    ("related parameters did not move: w01019 (z +0.4), w01009 (z -0.2)",
     "相关因子未变化：w01019 (z +0.4)，w01009 (z -0.2)"),
    ("upstream showed it first: W320583-S01 z +5.1 2.0 h earlier (travel 2.1 h)",
     "上游先出现：W320583-S01 z +5.1，提前 2.0 小时（传播时间 2.1 小时）"),
    ("value held at 7 for 30 consecutive steps (zero variance); chance of that in this series ≈ 1.2e-09",
     "数值连续 30 个时段恒为 7（零方差）；本序列出现此情况的概率约 1.2e-09"),
    ("instrument reports a fault (flag D)", "仪器报告故障（标记 D）"),
    ("the verdict of value alarm #148 in this period", "沿用本时段数值告警 #148 的研判"),
])
def test_known_sentences(en, zh):
    assert localize(en, "zh-hans") == zh


def test_an_unknown_sentence_is_shown_as_it_came():
    assert localize("a sentence a newer analytics package added", "zh-hans") == "a sentence a newer analytics package added"
