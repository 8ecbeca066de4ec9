"""The verdict's reasons in Chinese (研判依据).

:mod:`gongzhi.analytics` is a pure package and states its reasons in English, with the numbers
in them (``"single-parameter excursion that nothing else saw"``, ``"related parameters did not
move: w01019 (z +0.4)"``). The alarm page shows them in the reader's language: for Chinese each
known sentence is rewritten here, its numbers, codes and names kept as they are; a sentence not
known here is shown as it came (English beats a wrong translation). ``tests/alerts/
test_reasons.py`` feeds the sentences the analytics package really produces through this table.
"""

from __future__ import annotations

import re

#: anomaly tests of gongzhi.analytics.anomaly, as a duty officer calls them
TESTS_ZH = {
    "spike": "尖峰", "excursion": "偏离", "step": "阶跃", "flat": "恒值", "range": "超出物理范围",
    "flag": "设备标记", "subset": "分量大于总量", "do_saturation": "溶解氧过饱和", "missing": "缺测",
}

_DEVICE_FLAGS_ZH = {
    "D": "仪器报告故障（标记 D）",
    "F": "仪器停运（标记 F）",
    "B": "仪器与数采仪通讯故障（标记 B）",
    "C": "校准中：数值为标准液浓度（标记 C）",
    "M": "维护中（标记 M）",
    "S": "人工设定值（标记 S），非测量值",
    "T": "超出仪器测量上限（标记 T）：水体可能确实如此之高",
}


def _test(name: str) -> str:
    return TESTS_ZH.get(name, name)


def _upstream_items(text: str) -> str:
    """``"W1 z +4.1 2.0 h earlier (travel 2.1 h)"`` items of an "upstream showed it" list."""
    return re.sub(r"z ([+-]?[\d.e+-]+) ([\d.]+) h earlier \(travel ([\d.]+) h\)",
                  r"z \1，提前 \2 小时（传播时间 \3 小时）", text).replace(", ", "，")


#: (pattern over the whole sentence, its Chinese form: a format string or a function of the match)
_RULES: list[tuple[re.Pattern, object]] = [
    (re.compile(r"its strongest value lies in a (\w+) anomaly of the same instrument"),
     lambda m: f"最强值落在同一仪器的{_test(m[1])}异常中"),
    (re.compile(r"one sample that came straight back, with no change in related parameters \(at most one moved with it\)"),
     "单个采样值随即恢复，相关因子未变化（至多一个同步变化）"),
    (re.compile(r"one sample that came straight back"), "单个采样值随即恢复"),
    (re.compile(r"related parameters moved with it: (.*)"), lambda m: "相关因子同步变化：" + m[1].replace(", ", "，")),
    (re.compile(r"upstream showed it first: (.*)"), lambda m: "上游先出现：" + _upstream_items(m[1])),
    (re.compile(r"related parameters did not move: (.*)"), lambda m: "相关因子未变化：" + m[1].replace(", ", "，")),
    (re.compile(r"upstream did not show it: (.*)"), lambda m: "上游未出现：" + m[1].replace(", ", "，")),
    (re.compile(r"single-parameter (\w+) that nothing else saw"), lambda m: f"仅本因子出现的{_test(m[1])}，其他均未见"),
    (re.compile(r"sustained change of a discharge with no fault sign \(not isolated, not flat, no device flag, "
                r"within range\)"), "排放持续变化且无故障迹象（非孤立、非恒值、无设备标记、在量程内）"),
    (re.compile(r"no related parameter or upstream data to compare with"), "无相关因子或上游数据可供比对"),
    (re.compile(r"value held at (\S+) for (\d+) consecutive steps \(zero variance\); chance of that in this series "
                r"≈ (\S+)"), lambda m: f"数值连续 {m[2]} 个时段恒为 {m[1]}（零方差）；本序列出现此情况的概率约 {m[3]}"),
    (re.compile(r"(\S+) outside the physically possible range \[(\S+), (\S+)\]"),
     lambda m: f"{m[1]} 超出物理可能范围 [{m[2]}, {m[3]}]"),
    (re.compile(r"unknown device flag '(.*)'"), lambda m: f"未知设备标记 “{m[1]}”"),
    (re.compile(r"(\S+) (\S+) exceeds (\S+) (\S+), of which it is a part"),
     lambda m: f"{m[1]} {m[2]} 大于其所属总量 {m[3]} {m[4]}"),
    (re.compile(r"DO (\S+) mg/L is (\S+) of saturation at (\S+) °C"),
     lambda m: f"溶解氧 {m[1]} mg/L，为 {m[3]} °C 饱和值的 {m[2]}"),
    (re.compile(r"no anomaly against the learned baseline"), "与学习到的基线相比无异常"),
    (re.compile(r"the verdict of value alarm #(\d+) in this period"), lambda m: f"沿用本时段数值告警 #{m[1]} 的研判"),
]
_FLAG_EN = {
    "instrument reports a fault (flag D)": "D", "instrument stopped (flag F)": "F",
    "communication fault between instrument and logger (flag B)": "B",
    "calibration in progress: values are the span standard (flag C)": "C", "maintenance in progress (flag M)": "M",
    "manually set value (flag S), not a measurement": "S",
    "over the upper measuring range (flag T): the water may really be that high": "T",
}


def localize(reason: str, language: str | None) -> str:
    """``reason`` in ``language`` (``zh…``: Chinese where the sentence is known; else as given)."""
    if not reason or not (language or "").lower().startswith("zh"):
        return reason
    flag = _FLAG_EN.get(reason)
    if flag is not None:
        return _DEVICE_FLAGS_ZH[flag]
    for pattern, zh in _RULES:
        m = pattern.fullmatch(reason)
        if m is not None:
            return zh(m) if callable(zh) else zh
    return reason
