"""Every deviation code: accepted and recorded in tolerant mode, rejected in strict mode.

The cases cover the list "What real loggers send" of shared/reference/hj212.md
(missing QN/Flag, Flag=8 on 2017-era packets, ST 80/101, epoch-ms QN, PNO before
PNUM and zero-padded, lowercase CRC, LF-only tail, 9014 echoing Flag=5, extra
suffixes, 2005 codes, 17-digit DataTime, > 1024 bytes, CRC-16/MODBUS both byte
orders) plus the standard's own Appendix C typos and the remaining codes.
"""

from __future__ import annotations

import pytest

from gongzhi.hj212 import DEVIATIONS, FramingError, Packet, frame
from hj212_samples import MN, decode, seg, with_hex_letter

DT = "DataTime=20240501120000"
HEAD = f"QN=20240501120000001;ST=32;CN=2011;PW=123456;MN={MN};Flag=5"


def _long_cp() -> str:
    codes = [f"w{20000 + i:05d}" for i in range(60)]
    return DT + ";" + ";".join(f"{c}-Rtd=1.234,{c}-Flag=N" for c in codes)


def _unpadded() -> bytes:
    # a logger printing the CRC without zero padding: find a segment whose CRC is below 0x1000
    for i in range(100000):
        body = seg(qn=f"2024050112{i:07d}")
        data = frame(body)
        if data[-6:-5] == b"0":
            return data[:-6] + data[-5:]
    raise AssertionError("no CRC below 0x1000 found")  # pragma: no cover


CHINESE = seg(cn="3020", cp="DataTime=20240501120000;PolId=w01018;i11001-Info=//清洗管路//")

# deviation -> (packet bytes, what the tolerant parse must show)
CASES: dict[str, bytes] = {
    # framing (§6.3.1, Appendix A)
    "length_chars": frame(CHINESE, length=len(CHINESE)),
    "too_long": frame(seg(cp=_long_cp())),
    "lf_tail": frame(seg(), tail=b"\n"),
    "missing_tail": frame(seg(), tail=b""),
    "crc_lowercase": frame(with_hex_letter(lambda i: seg(qn=f"2024050112000{i:04d}")), lowercase=True),
    "crc_unpadded": _unpadded(),
    "crc_modbus": frame(seg(), crc="modbus"),
    "crc_modbus_le": frame(seg(), crc="modbus-le"),
    "not_utf8": frame(CHINESE.encode("gbk")),
    # header (§6.3.2)
    "missing_qn": frame(seg(qn=None)),
    "missing_flag": frame(seg(flag=None)),
    "missing_pw": frame(seg(pw=None)),
    "qn_epoch_ms": frame(seg(qn="1714536000001")),
    "qn_format": frame(seg(qn="2024-05-01T12:00")),
    "unknown_st": frame(seg(st="80")),
    "unknown_cn": frame(seg(cn="2099")),
    "mn_format": frame(seg(mn="0" * 30)),
    "flag_version_mismatch": frame(seg(flag=8)),
    "flag_unknown_version": frame(seg(flag=20)),
    "reply_ack_flag": frame(seg(cn="9014", st="91", flag=5, cp="")),
    "flag_split_mismatch": frame(seg(flag=7)),
    "field_order": frame(f"{HEAD.replace('Flag=5', 'Flag=7')};PNO=1;PNUM=2;CP=&&{DT}&&"),
    "zero_padded_number": frame(seg(flag=7, pnum="0002", pno="0001")),
    "unknown_field": frame(f"{HEAD};Vendor=abc;CP=&&{DT}&&"),
    "header_comma": frame(f"{HEAD.replace(';ST=', ',ST=')};CP=&&{DT}&&"),
    "missing_separator": frame(f"{HEAD}CP=&&{DT}&&"),
    # command parameters (§6.3.3, Appendix B)
    "stray_space": frame(seg(cp=f"{DT}; w01018-Rtd=20.1")),
    "ellipsis": frame(seg(cp=f"{DT};w01018-Rtd=20.1;…")),
    "empty_item": frame(seg(cp=f"{DT};w01018-Rtd=20.1;")),
    "malformed_item": frame(seg(cp=f"{DT};w01018-Rtd")),
    "duplicate_field": frame(seg(cp=f"{DT};w01018-Rtd=1;w01018-Rtd=2")),
    "unknown_suffix": frame(seg(cp=f"{DT};w01018-Rtd=20.1,w01018-ZsCou=3,w01018-ValidNum=58,w01018-TotalNum=60")),
    "code_2005": frame(seg(cp=f"{DT};011-Rtd=20.1;060-Rtd=0.5;B01-Rtd=3.2")),
    "code_missing_prefix": frame(seg(cp=f"{DT};01018-Rtd=20.1")),
    "unknown_data_flag": frame(seg(cp=f"{DT};w01018-Rtd=20.1,w01018-Flag=X")),
    "datatime_ms": frame(seg(cp="DataTime=20240501120000123;w01018-Rtd=20.1")),
    "bad_time": frame(seg(cp="DataTime=20241301120000;w01018-Rtd=20.1")),
}


def test_every_deviation_has_a_case():
    assert set(CASES) == set(DEVIATIONS)


@pytest.mark.parametrize("code", list(CASES))
def test_tolerant_accepts_and_records(code):
    events = decode(CASES[code])
    assert len(events) == 1, events
    event = events[0]
    assert isinstance(event, Packet), event
    assert code in event.deviations, (event.deviations, event.message.details)
    assert event.message.details[code]  # a precise note of what was seen


@pytest.mark.parametrize("code", list(CASES))
def test_strict_rejects_with_the_right_error(code):
    events = decode(CASES[code], mode="strict")
    assert len(events) == 1, events
    event = events[0]
    assert isinstance(event, FramingError)
    assert event.code == DEVIATIONS[code].error
    assert event.deviation == code
    assert event.detail


@pytest.mark.parametrize("code", list(CASES))
def test_case_shows_only_its_own_deviation(code):
    (event,) = decode(CASES[code])
    assert event.deviations == [code]


# -- specifics -----------------------------------------------------------------


def test_length_chars_is_reported_as_which_matched():
    (event,) = decode(CASES["length_chars"])
    assert event.length_mode == "chars"
    (event,) = decode(frame(CHINESE))
    assert event.length_mode == "bytes" and event.deviations == []


def test_modbus_variants_are_reported():
    assert decode(CASES["crc_modbus"])[0].crc_variant == "modbus"
    assert decode(CASES["crc_modbus_le"])[0].crc_variant == "modbus-le"
    strict = decode(CASES["crc_modbus"], mode="strict")[0]
    assert strict.code == "bad_crc" and "MODBUS" in strict.detail


def test_2005_codes_are_kept():
    (event,) = decode(CASES["code_2005"])
    assert [r.code for r in event.message.records] == ["011", "060", "B01"]


def test_2005_codes_are_normal_in_a_2005_packet():
    (event,) = decode(frame(seg(flag=1, cp=f"{DT};011-Rtd=20.1;B01-Rtd=3.2")))
    assert event.message.version == "2005" and event.deviations == []


def test_unknown_suffixes_are_kept_as_records():
    (event,) = decode(CASES["unknown_suffix"])
    assert [(r.suffix, r.value, r.flag) for r in event.message.records] == [
        ("Rtd", "20.1", None), ("ZsCou", "3", None), ("ValidNum", "58", None), ("TotalNum", "60", None)
    ]


@pytest.mark.parametrize("st", ["80", "101"])
def test_nonstandard_system_codes(st):
    (event,) = decode(frame(seg(st=st)))
    assert event.message.st == st and event.deviations == ["unknown_st"]


def test_flag_8_on_a_2017_era_packet_is_read_as_2017():
    (event,) = decode(CASES["flag_version_mismatch"])
    assert event.message.version == "2017" and event.message.ack_requested is False


def test_pno_before_pnum_zero_padded():
    data = frame(f"{HEAD.replace('Flag=5', 'Flag=7')};PNO=0002;PNUM=0002;CP=&&{DT}&&")
    (event,) = decode(data)
    assert (event.message.pnum, event.message.pno) == (2, 2)
    assert set(event.deviations) == {"field_order", "zero_padded_number"}


def test_17_digit_datatime_keeps_milliseconds():
    (event,) = decode(CASES["datatime_ms"])
    assert event.message.data_time.microsecond == 123000


def test_epoch_qn_is_kept_as_sent():
    (event,) = decode(CASES["qn_epoch_ms"])
    assert event.message.qn == "1714536000001"


def test_gbk_text_is_decoded():
    (event,) = decode(CASES["not_utf8"])
    assert event.message.records[0].value == "//清洗管路//"
