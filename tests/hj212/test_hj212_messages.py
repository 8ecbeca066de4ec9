"""Data segment parsing (§6.3.2, §6.3.3): fields, records, flags, versions, 2025 features."""

from __future__ import annotations

import pytest

from gongzhi.hj212 import (
    CST,
    DataRecord,
    Decoder,
    FramingError,
    Hj212Error,
    Packet,
    frame,
    is_encrypted_segment,
    parse_segment,
    parse_time,
)
from hj212_samples import MN, decode, seg

DT = "DataTime=20240501120000"


def test_realtime_upload_fields_and_records():
    m = parse_segment(seg(), mode="strict")
    assert (m.qn, m.st, m.cn, m.pw, m.mn, m.flag) == ("20240501120000001", "32", "2011", "123456", MN, 5)
    assert m.version == "2017" and m.ack_requested and not m.is_split and m.version_bits == 1
    assert m.data_time.isoformat() == "2024-05-01T12:00:00+08:00"
    assert [(r.code, r.suffix, r.number, r.flag) for r in m.records] == [
        ("w01018", "Rtd", 20.1, "N"),
        ("w21003", "Rtd", 0.52, "N"),
    ]
    assert all(r.time == m.data_time for r in m.records)
    assert m.fields == {"DataTime": "20240501120000"}


def test_flag_can_come_before_the_value_and_meta_fields_apply_to_all_values_of_a_code():
    m = parse_segment(seg(cp=f"{DT};a21026-Flag=D,a21026-Min=1,a21026-Avg=2,a21026-Max=3,a21026-EFlag=E1"))
    assert [(r.suffix, r.flag, r.eflag) for r in m.records] == [
        ("Min", "D", "E1"), ("Avg", "D", "E1"), ("Max", "D", "E1")
    ]


@pytest.mark.parametrize(
    "text,number",
    [("7.1", 7.1), ("-0.5", -0.5), ("1e3", 1000.0), ("abc", None), ("nan", None), ("inf", None), ("1_0", None), ("", None)],
)
def test_record_number(text, number):
    assert DataRecord("w01001", "Rtd", text).number == number


def test_non_numeric_value_is_kept_as_text_in_json():
    m = parse_segment(seg(cp=f"{DT};i13001-Info=0-500mg/L"))
    assert m.records[0].to_dict()["value"] == "0-500mg/L"


def test_password_is_not_in_the_json_form():
    assert "pw" not in parse_segment(seg()).to_dict()


@pytest.mark.parametrize(
    "flag,version,ack,split",
    [(0, "2005", False, False), (1, "2005", True, False), (4, "2017", False, False), (5, "2017", True, False)],
)
def test_flag_bits(flag, version, ack, split):
    m = parse_segment(seg(flag=flag))
    assert (m.version, m.ack_requested, m.is_split) == (version, ack, split)


def test_2005_by_shape_when_flag_is_missing():
    m = parse_segment(seg(flag=None, mn="88888880000001"))
    assert m.version == "2005" and m.deviations == ["missing_flag"]


# -- HJ 212-2025 ---------------------------------------------------------------------


@pytest.mark.parametrize("flag", [8, 9])
def test_2025_flag_on_a_2026_packet(flag):
    m = parse_segment(seg(flag=flag, qn="20260301120000001", cp="DataTime=20260301120000;w01018-Rtd=1"), mode="strict")
    assert m.version == "2025" and m.ack_requested == bool(flag & 1)


@pytest.mark.parametrize("flag", [10, 11])
def test_2025_split_flags(flag):
    m = parse_segment(seg(flag=flag, qn="20260301120000001", pnum=3, pno=2, cp="DataTime=20260301120000"), mode="strict")
    assert m.version == "2025" and m.is_split and (m.pnum, m.pno) == (3, 2)


def test_rf_back_fill_marks_2025_even_with_an_old_date():
    m = parse_segment(seg(flag=9, rf="1"), mode="strict")
    assert m.version == "2025" and m.back_fill and m.rf == "1"


def test_2025_heartbeat():
    m = parse_segment(seg(cn="9015", st="91", flag=8, cp=""), mode="strict")
    assert m.version == "2025" and m.cn == "9015"


def test_2025_system_codes_are_known_only_in_2025():
    assert parse_segment(seg(st="44", flag=8, rf="0")).deviations == []
    assert parse_segment(seg(st="44")).deviations == ["unknown_st"]


def test_version_hint_resolves_flag_8():
    newer = seg(flag=8, qn="20260301120000001", cp="DataTime=20260301120000")
    assert parse_segment(newer).version == "2025"
    m = parse_segment(newer, version_hint="2017")
    assert m.version == "2017" and m.deviations == ["flag_version_mismatch"]


def _xor(data: bytes) -> bytes:  # a stand-in cipher for the decrypt seam (not SM4)
    return bytes(b ^ 0x5A for b in data)


def _encrypted(plain_cp: str) -> tuple[str, str]:
    body = plain_cp.encode()
    n = len(body) // 16 * 16
    enc_cp = "{0x" + _xor(body[:n]).hex().upper() + "}" + body[n:].decode()
    plain = seg(flag=9, qn="20260301120000001", cp=plain_cp)
    return plain, plain.replace(plain_cp, enc_cp)


def test_encrypted_cp_without_hook_is_reported_with_a_partial_message():
    plain_cp = "DataTime=20260301120000;w01018-Rtd=20.1,w01018-Flag=N"
    plain, encrypted = _encrypted(plain_cp)
    assert is_encrypted_segment(encrypted) and not is_encrypted_segment(plain)
    with pytest.raises(Hj212Error) as info:
        parse_segment(encrypted)
    assert info.value.code == "encrypted_cp_unsupported"
    assert info.value.partial.qn == "20260301120000001" and info.value.partial.encrypted
    # framed with the CRC over the plaintext (2025 §6.4)
    data = frame(encrypted)
    crc = frame(plain)[-6:-2]
    data = data[:-6] + crc + b"\r\n"
    (event,) = decode(data)
    assert isinstance(event, FramingError) and event.code == "encrypted_cp_unsupported"
    assert event.partial is not None and event.partial.mn == MN


def test_encrypted_cp_with_a_decrypt_hook():
    plain_cp = "DataTime=20260301120000;w01018-Rtd=20.1,w01018-Flag=N"
    plain, encrypted = _encrypted(plain_cp)
    data = frame(encrypted)[:-6] + frame(plain)[-6:]
    seen = []

    def hook(cipher: bytes, mn: str | None) -> bytes:
        seen.append(mn)
        return _xor(cipher)

    (event,) = decode(data, decrypt=hook)
    assert isinstance(event, Packet), event
    assert event.message.encrypted and event.message.records[0].value == "20.1"
    assert event.segment == plain and seen == [MN]
    # a hook that fails is an error event, not an exception
    (event,) = decode(data, decrypt=lambda c, mn: 1 / 0)
    assert event.code == "bad_cp"


# -- errors in both modes -------------------------------------------------------------


@pytest.mark.parametrize(
    "segment,code",
    [
        (seg(cn=None), "missing_field"),
        (seg(mn=None), "missing_field"),
        (seg(st=None), "missing_field"),
        (seg().replace(";CP=&&", ";XX=&&"), "bad_segment"),
        (seg()[:-2], "bad_cp"),
        (seg() + "tail", "bad_cp"),
        (seg(flag=300), "bad_flag"),
        (seg(flag="5a"), "bad_flag"),
        (seg(flag=7, pnum=2, pno=3), "bad_field"),
        (seg(flag=7, pnum="x", pno=1), "bad_field"),
        (seg(flag=7, pnum=2), "missing_field"),
        (seg().replace("PW=123456", "PW123456"), "bad_segment"),
    ],
)
@pytest.mark.parametrize("mode", ["tolerant", "strict"])
def test_errors(segment, code, mode):
    with pytest.raises(Hj212Error) as info:
        parse_segment(segment, mode=mode)
    assert info.value.code == code
    events = Decoder(mode).feed(frame(segment))
    assert [e.code for e in events] == [code]


def test_unknown_mode_or_version_hint_is_rejected():
    with pytest.raises(ValueError):
        parse_segment(seg(), mode="loose")
    with pytest.raises(ValueError):
        parse_segment(seg(), version_hint="2018")
    with pytest.raises(ValueError):
        Decoder(version_hint="2018")


def test_hj212_error_carries_a_dict():
    err = Hj212Error("bad_crc", "CRC 0000 received")
    assert err.to_dict() == {"code": "bad_crc", "message": "CRC 0000 received"}
    with pytest.raises(ValueError):
        Hj212Error("no_such_code")


def test_time_parsing():
    assert parse_time("20240229235959") is not None
    assert parse_time("20230229000000") is None
    assert parse_time("2024022923595") is None
    assert parse_time("20240501120000123").microsecond == 123000
    assert parse_time("20240501120000").tzinfo is CST


def test_empty_cp():
    m = parse_segment(seg(cn="9014", st="91", flag=4, cp=""), mode="strict")
    assert m.records == [] and m.fields == {}
