"""Code tables of HJ 212: commands (CN), system codes (ST), reply codes, data flags,
factor-field suffixes, and the Appendix B parameter code table.

Sources: HJ 212-2017 §6.6 (command codes, Appendix C examples), §6.3.2 Table 4
(ST system codes), §6.6.3 reply codes (QnRtn, ExeRtn), Appendix B (parameter codes)
and Table 6 (data flags, field names).  The HJ 212-2025 additions (Flag version
000010, RF, 9015 heartbeat, ST 44/45, commands 1001/1002) come from secondary
sources quoting the official text and are marked as such.
"""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass
from functools import lru_cache
from importlib import resources

__all__ = [
    "COMMANDS",
    "COMMANDS_2025",
    "REPLY_COMMANDS",
    "SYSTEM_CODES",
    "SYSTEM_CODES_2025",
    "QN_RTN",
    "EXE_RTN",
    "DATA_FLAGS",
    "VALUE_SUFFIXES",
    "META_SUFFIXES",
    "KNOWN_SUFFIXES",
    "FLAG_VERSIONS",
    "CodeInfo",
    "code_table",
    "lookup_code",
    "codes_2005",
    "code_from_2005",
]

#: Command codes of HJ 212-2017 (§6.6, Appendix C) -> meaning.
COMMANDS: dict[str, str] = {
    # initialisation and parameters (参数命令)
    "1000": "set timeout and retry count (设置超时时间及重发次数)",
    "1011": "get logger time (提取现场机时间)",
    "1012": "set logger time (设置现场机时间)",
    "1013": "logger requests time calibration (现场机时间校准请求)",
    "1061": "get real-time data interval (提取实时数据间隔)",
    "1062": "set real-time data interval (设置实时数据间隔)",
    "1063": "get minute data interval (提取分钟数据间隔)",
    "1064": "set minute data interval (设置分钟数据间隔)",
    "1072": "set logger password (设置现场机访问密码)",
    # data (数据命令)
    "2011": "real-time data (实时数据) / start real-time upload",
    "2012": "stop real-time data upload (停止察看实时数据)",
    "2021": "equipment run state (设备运行状态) / start run-state upload",
    "2022": "stop run-state upload (停止察看设备运行状态)",
    "2031": "daily data (日历史数据)",
    "2041": "daily equipment run time (设备运行时间日历史数据)",
    "2051": "minute data (分钟数据)",
    "2061": "hourly data (小时数据)",
    "2081": "logger restart time (数采仪开机时间)",
    # control (控制命令)
    "3011": "zero / span calibration (零点校准量程校准)",
    "3012": "sample immediately (即时采样)",
    "3013": "start cleaning / back-flush (启动清洗/反吹)",
    "3014": "comparison sampling (比对采样)",
    "3015": "keep over-limit sample (超标留样)",
    "3016": "set sampling period (设置采样时间周期)",
    "3017": "get sampling period (提取采样时间周期)",
    "3018": "get time to produce a result (提取出样时间)",
    "3019": "get equipment serial number (提取设备唯一标识)",
    "3020": "logger information upload / get (上传/提取现场机信息)",
    "3021": "set logger parameters (设置现场机参数)",
    # interaction (交互命令)
    "9011": "request acknowledgement (请求应答, QnRtn)",
    "9012": "execution result (执行结果, ExeRtn)",
    "9013": "notification acknowledgement (通知应答)",
    "9014": "data acknowledgement (数据应答)",
}

#: Commands added by HJ 212-2025 [secondary sources quoting the official text].
COMMANDS_2025: dict[str, str] = {
    "1001": "new in HJ 212-2025 (meaning to be checked against the official text)",
    "1002": "new in HJ 212-2025 (meaning to be checked against the official text)",
    "9015": "heartbeat (心跳, 2025)",
}

#: Reply commands: they never ask for an acknowledgement themselves (§6.6.3).
REPLY_COMMANDS = frozenset({"9011", "9012", "9013", "9014", "9015"})

#: System codes ST (§6.3.2 Table 4) -> meaning.
SYSTEM_CODES: dict[str, str] = {
    "21": "surface water quality (地表水质量监测)",
    "22": "air quality (空气质量监测)",
    "23": "acoustic environment (声环境质量监测)",
    "24": "groundwater quality (地下水质量监测)",
    "25": "soil quality (土壤质量监测)",
    "26": "seawater quality (海水质量监测)",
    "27": "volatile organic compounds (挥发性有机物监测)",
    "31": "air pollution source (大气环境污染源)",
    "32": "surface-water pollution source (地表水体环境污染源)",
    "33": "groundwater pollution source (地下水体环境污染源)",
    "34": "marine pollution source (海洋环境污染源)",
    "35": "soil pollution source (土壤环境污染源)",
    "36": "noise pollution source (声环境污染源)",
    "37": "vibration source (振动环境污染源)",
    "38": "radioactive source (放射性环境污染源)",
    "39": "construction-site dust (工地扬尘污染源)",
    "41": "electromagnetic source (电磁环境污染源)",
    "51": "flue-gas treatment process (烟气排放过程监控)",
    "52": "wastewater treatment process (污水排放过程监控)",
    "91": "system interaction (系统交互)",
}

#: System codes added by HJ 212-2025 [secondary sources].
SYSTEM_CODES_2025: dict[str, str] = {
    "44": "power use monitoring (用电监控, 2025)",
    "45": "key production conditions (关键工况, 2025)",
}

#: QnRtn of 9011 (§6.6.3) -> meaning.
QN_RTN: dict[str, str] = {
    "1": "ready to execute (准备执行请求)",
    "2": "request rejected (请求被拒绝)",
    "3": "password error (PW 错误)",
    "4": "MN error (MN 错误)",
    "5": "ST error (ST 错误)",
    "6": "Flag error (Flag 错误)",
    "7": "QN error (QN 错误)",
    "8": "CN error (CN 错误)",
    "9": "CRC error (CRC 校验错误)",
    "100": "unknown error (未知错误)",
}

#: ExeRtn of 9012 (§6.6.3) -> meaning.
EXE_RTN: dict[str, str] = {
    "1": "success (执行成功)",
    "2": "failed, reason unknown (执行失败，但不知道原因)",
    "3": "command condition error (命令请求条件错误)",
    "4": "communication timeout (通讯超时)",
    "5": "system busy (系统繁忙不能执行)",
    "6": "system fault (系统故障)",
    "100": "no data (没有数据)",
}

#: Data flags carried in ``<code>-Flag`` (Table 6 note) -> meaning.
DATA_FLAGS: dict[str, str] = {
    "N": "normal (在线监控（监测）仪器仪表工作正常)",
    "F": "instrument stopped (停运)",
    "M": "maintenance (维护)",
    "S": "manually set value (手工输入的设定值)",
    "D": "fault (故障)",
    "C": "calibration (校准)",
    "T": "over the upper measuring range (超测上限)",
    "B": "communication fault between instrument and logger (通讯异常)",
}

#: Factor-field suffixes whose value is a data value (one ``DataRecord`` each).
#: Rtd/Min/Avg/Max/Cou and their converted Zs* forms (§6.3.3 Table 6),
#: SBxxx-RS / SBxxx-RT equipment state / run time, noise Data/DayData/NightData,
#: and the information / serial-number fields of 3019/3020 (Appendix C).
VALUE_SUFFIXES = frozenset(
    {
        "Rtd", "Min", "Avg", "Max", "Cou",
        "ZsRtd", "ZsMin", "ZsAvg", "ZsMax",
        "RS", "RT",
        "Data", "DayData", "NightData",
        "Info", "SN",
    }
)

#: Factor-field suffixes that qualify the values of the same code.
META_SUFFIXES = frozenset({"Flag", "EFlag", "SampleTime"})

KNOWN_SUFFIXES = VALUE_SUFFIXES | META_SUFFIXES

#: Flag version bits V5..V0 (Flag >> 2) -> protocol edition (§6.3.2; 2025 per
#: secondary sources).  HJ/T 212-2005 had only the A and D bits, so 0 -> 2005.
FLAG_VERSIONS: dict[int, str] = {0: "2005", 1: "2017", 2: "2025"}


@dataclass(frozen=True, slots=True)
class CodeInfo:
    """One row of Appendix B: a parameter code and its attributes."""

    code: str
    name: str
    code_2005: str | None
    unit: str | None
    amount_unit: str | None
    data_type: str | None
    note: str | None


def _blank(value: str) -> str | None:
    value = value.strip()
    return value or None


@lru_cache(maxsize=1)
def code_table() -> tuple[CodeInfo, ...]:
    """All rows of the Appendix B code table shipped with the package.

    Read from ``gongzhi/hj212/data/hj212_codes.csv`` (see PROVENANCE.md there).
    Duplicated codes of the standard (e701xx, g119xx) are kept as separate rows.
    """
    text = resources.files("gongzhi.hj212").joinpath("data/hj212_codes.csv").read_text("utf-8")
    reader = csv.reader(io.StringIO(text))
    next(reader)  # header: ID,NAME,原编码（HJ2005),单位,排放量,数据类型,备注
    rows = []
    for row in reader:
        if not row or not row[0].strip():
            continue
        row = (row + [""] * 7)[:7]
        rows.append(
            CodeInfo(
                code=row[0].strip(),
                name=row[1].strip(),
                code_2005=_blank(row[2]),
                unit=_blank(row[3]),
                amount_unit=_blank(row[4]),
                data_type=_blank(row[5]),
                note=_blank(row[6]),
            )
        )
    return tuple(rows)


@lru_cache(maxsize=1)
def _index() -> dict[str, tuple[CodeInfo, ...]]:
    out: dict[str, list[CodeInfo]] = {}
    for info in code_table():
        out.setdefault(info.code, []).append(info)
    return {k: tuple(v) for k, v in out.items()}


def lookup_code(code: str) -> tuple[CodeInfo, ...]:
    """Rows for ``code`` (usually one; two for the standard's duplicated codes; none if unknown).

    Pattern rows such as ``e701xx`` or ``i3331x`` match concrete codes
    (``e70101``, ``i33312``) when no exact row exists.
    """
    index = _index()
    rows = index.get(code)
    if rows:
        return rows
    for n in (1, 2):
        if len(code) > n:
            rows = index.get(code[:-n] + "x" * n)
            if rows:
                return rows
    return ()


@lru_cache(maxsize=1)
def _map_2005() -> dict[str, str]:
    out: dict[str, str] = {}
    for info in code_table():
        if info.code_2005 and info.code_2005 not in out:
            out[info.code_2005] = info.code
    return out


def codes_2005() -> frozenset[str]:
    """The HJ/T 212-2005 codes listed in Appendix B (e.g. ``011``, ``060``, ``B01``)."""
    return frozenset(_map_2005())


def code_from_2005(code: str) -> str | None:
    """The 2017 code for an HJ/T 212-2005 code (``011`` -> ``w01018``), or ``None``.

    Note: 2005 codes are not unique across media in every case; the first row
    of the table wins.  The parameter catalog may override.
    """
    return _map_2005().get(code)
