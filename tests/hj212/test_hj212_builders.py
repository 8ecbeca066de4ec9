"""Builders (§6.6, Appendix C): uploads, replies, commands, splitting into sub-packets."""

from __future__ import annotations

from datetime import datetime

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from gongzhi.hj212 import (
    CST,
    Decoder,
    Reassembler,
    build_daily,
    build_daily_runtime,
    build_data_ack,
    build_exe_reply,
    build_get_min_interval,
    build_get_rtd_interval,
    build_get_time,
    build_heartbeat,
    build_hourly,
    build_minute,
    build_notify_ack,
    build_qn_reply,
    build_realtime,
    build_restart,
    build_run_state,
    build_set_min_interval,
    build_set_password,
    build_set_rtd_interval,
    build_set_time,
    build_set_timeout,
    build_start_realtime,
    build_stop_realtime,
    build_time_calibration_request,
    flag_for,
    frame,
    parse_packet,
)
from hj212_samples import CRC_EXAMPLE, MN

T = datetime(2024, 5, 1, 12, 0, tzinfo=CST)
ID = dict(mn=MN, pw="123456", st="32", qn="20240501120000001")
FACTORS = {"w01018": {"Avg": 20.1, "Flag": "N"}, "w21003": {"Avg": 0.52, "Flag": "N"}}


def one(packets):
    assert len(packets) == 1
    return parse_packet(packets[0], mode="strict").message


@pytest.mark.parametrize(
    "builder,cn", [(build_realtime, "2011"), (build_minute, "2051"), (build_hourly, "2061"), (build_daily, "2031")]
)
def test_data_uploads(builder, cn):
    m = one(builder(data_time=T, factors=FACTORS, **ID))
    assert m.cn == cn and m.flag == 5 and m.fields["DataTime"] == "20240501120000"
    assert [(r.code, r.suffix, r.value, r.flag) for r in m.records] == [
        ("w01018", "Avg", "20.1", "N"), ("w21003", "Avg", "0.52", "N")
    ]


def test_equipment_uploads():
    m = one(build_daily_runtime(run_hours={"SB1": 1.1, "SB2": 2.1}, data_time=T, **ID))
    assert m.cn == "2041" and [(r.code, r.suffix, r.value) for r in m.records] == [("SB1", "RT", "1.1"), ("SB2", "RT", "2.1")]
    m = one(build_run_state(states={"SB1": 1}, data_time=T, **ID))
    assert m.cn == "2021" and m.records[0].suffix == "RS"
    m = one(build_restart(restart_time=datetime(2024, 5, 1, 11, 58, 3, tzinfo=CST), data_time=T, **ID))
    assert m.cn == "2081" and m.fields["RestartTime"] == "20240501115803"


def test_upload_without_ack_and_in_2025():
    m = one(build_realtime(data_time=T, factors=FACTORS, ack=False, version="2025", rf="1", **ID))
    assert m.flag == 8 and m.version == "2025" and m.back_fill


def test_numbers_are_never_in_exponent_form():
    m = one(build_realtime(data_time=T, factors={"w01018": {"Rtd": 1e-7}, "w21003": {"Rtd": 2.5e16}}, **ID))
    assert [r.value for r in m.records] == ["0.0000001", "25000000000000000"]
    with pytest.raises(ValueError):
        build_realtime(data_time=T, factors={"w01018": {"Rtd": float("nan")}}, **ID)


def test_large_uploads_are_split():
    factors = {f"a{20000 + i}": {"Min": 1.25, "Avg": 2.5, "Max": 3.75, "Flag": "N"} for i in range(60)}
    packets = build_hourly(data_time=T, factors=factors, **ID)
    assert len(packets) > 1
    r = Reassembler()
    whole = None
    for i, data in enumerate(packets, start=1):
        assert int(data[2:6]) <= 1024
        m = parse_packet(data, mode="strict").message
        assert (m.pnum, m.pno, m.flag) == (len(packets), i, 7)
        assert len(data[data.index(b"CP=&&") + 5 : -8]) <= 950
        assert m.fields["DataTime"] == "20240501120000"
        whole = r.add(m, now=0)
    assert whole is not None and len(whole.records) == 180
    assert whole.part_qns[1] == "20240501120000002"  # QN + 1 ms per part, as in Appendix C


def test_a_group_too_large_to_send():
    with pytest.raises(ValueError):
        build_realtime(data_time=T, factors={"w01018": {"Rtd": "9" * 2000}}, **ID)


def test_replies_echo_the_request():
    request = parse_packet(frame(CRC_EXAMPLE)).message
    for build, cn, cp in [
        (lambda r: build_qn_reply(r, 1), "9011", {"QnRtn": "1"}),
        (lambda r: build_exe_reply(r, 100), "9012", {"ExeRtn": "100"}),
        (build_notify_ack, "9013", {}),
        (build_data_ack, "9014", {}),
    ]:
        m = parse_packet(build(request), mode="strict").message
        assert (m.cn, m.st, m.qn, m.mn, m.pw, m.flag, m.fields) == (cn, "91", request.qn, request.mn, request.pw, 4, cp)


def test_heartbeat_2025():
    m = parse_packet(build_heartbeat(mn=MN, pw="123456", qn=T), mode="strict").message
    assert (m.cn, m.flag, m.version, m.qn) == ("9015", 8, "2025", "20240501120000000")


@pytest.mark.parametrize(
    "data,cn,fields",
    [
        (build_set_timeout(overtime=5, recount=3, **ID), "1000", {"OverTime": "5", "ReCount": "3"}),
        (build_get_time(pol_id="w01018", **ID), "1011", {"PolId": "w01018"}),
        (build_set_time(system_time=T, pol_id="w01018", **ID), "1012", {"PolId": "w01018", "SystemTime": "20240501120000"}),
        (build_time_calibration_request(pol_id="w01018", **ID), "1013", {"PolId": "w01018"}),
        (build_get_rtd_interval(**ID), "1061", {}),
        (build_set_rtd_interval(seconds=30, **ID), "1062", {"RtdInterval": "30"}),
        (build_get_min_interval(**ID), "1063", {}),
        (build_set_min_interval(minutes=10, **ID), "1064", {"MinInterval": "10"}),
        (build_set_password(new_pw="654321", **ID), "1072", {"NewPW": "654321"}),
        (build_start_realtime(**ID), "2011", {}),
        (build_stop_realtime(**ID), "2012", {}),
    ],
)
def test_commands(data, cn, fields):
    m = parse_packet(data, mode="strict").message
    assert (m.cn, m.fields, m.flag) == (cn, fields, 5)


def test_the_builder_reproduces_the_standard_example():
    # Appendix C line 13 (1062 RtdInterval=30) byte for byte, including its CRC
    data = build_set_rtd_interval(seconds=30, mn=MN, pw="100000", st="32", qn="20160801085857223")
    assert data == b"##0101" + CRC_EXAMPLE.encode() + b"1C80\r\n"


def test_flag_for():
    assert [flag_for("2017"), flag_for("2017", ack=True), flag_for("2017", split=True, ack=True)] == [4, 5, 7]
    assert flag_for("2005", ack=True) == 1 and flag_for("2025", split=True) == 10


def test_frame_options():
    assert frame("CP=&&&&", lowercase=True).endswith(b"\r\n")
    with pytest.raises(ValueError):
        frame("x" * 10000)
    with pytest.raises(ValueError):
        frame("x", crc="crc32")
    (event,) = Decoder().feed(frame("QN=1", length=4))
    assert event.code == "bad_segment"


@given(qn=st.one_of(st.none(), st.text(max_size=20)), pw=st.one_of(st.none(), st.text(max_size=10)),
       mn=st.text(max_size=24), version=st.sampled_from([None, "2005", "2017", "2025", "1999"]))
@settings(max_examples=300, deadline=None)
def test_the_gateways_data_ack_is_the_general_9014_reply(qn, pw, mn, version):
    """build_data_ack's one-format path gives byte for byte what build_reply(…, "9014") gives,
    for any QN, PW and MN text (Chinese, separators, none) and any version."""
    from gongzhi.hj212 import Message, build_data_ack, build_reply

    m = Message(cn="2061", mn=mn, st="32", qn=qn, pw=pw, flag=5, version=version)
    assert build_data_ack(m) == build_reply(m, "9014")
