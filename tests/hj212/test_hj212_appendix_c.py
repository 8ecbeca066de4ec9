"""Every example data segment of HJ 212-2017 Appendix C, framed by our builder and decoded.

Some examples carry the standard's own typos and '…' placeholders; tolerant mode
accepts them with specific deviation codes, strict mode rejects them with the
matching error code.  EXPECTED lists, per line of the segments file, what each
line really contains (read off the standard's text).
"""

from __future__ import annotations

import pytest

from gongzhi.hj212 import DEVIATIONS, Packet, Reassembler, frame
from hj212_samples import appendix_c_segments, decode

SEGMENTS = appendix_c_segments()

# line number (1-based) -> deviations, with the typo that causes each
EXPECTED: dict[int, set[str]] = {
    6: {"stray_space"},  # 'CP=&& PolId=...'
    8: {"stray_space"},  # 'CP=&& ExeRtn=1'
    9: {"stray_space"},  # 'CP=&& PolId=w01018'
    10: {"stray_space"},  # 'CP=&& &&'
    23: {"ellipsis", "code_missing_prefix"},  # '01018-Rtd=2.2', '…'
    25: {"ellipsis"},  # 'SB2-RS=0…'
    26: {"ellipsis"},
    28: {"ellipsis"},
    30: {"ellipsis"},
    32: {"missing_separator", "ellipsis"},  # 'Flag=5CP=&&', 'SB2-RT=2.1…'
    34: {"ellipsis"},
    36: {"ellipsis"},
    38: {"header_comma", "ellipsis"},  # 'QN=...534,ST=32'
    40: {"ellipsis"},
    42: {"stray_space"},  # '; LA-Rtd=50.1'
    45: {"stray_space"},  # '; LMn-NightData=42.0'
    46: {"ellipsis", "duplicate_field"},  # 'e01001-Rtd=1.1;e01001-Rtd=2.2…'
    52: {"stray_space"},  # 'CP=&& DataTime=...;VaseNo=1 &&'
    65: {"stray_space"},  # 'i12003-Info =0'
    66: {"stray_space"},  # '; Flag=5'
    69: {"stray_space"},  # '; i13005-Info =40'
    71: {"stray_space"},  # 'i13004-Info=168.0 &&'
    73: {"header_comma", "ellipsis"},
    75: {"ellipsis"},
    76: {"ellipsis"},
    77: {"ellipsis"},
    78: {"ellipsis"},
}

LINES = list(enumerate(SEGMENTS, start=1))


def test_the_file_has_the_79_examples():
    assert len(SEGMENTS) == 79


@pytest.mark.parametrize(("line", "segment"), LINES, ids=[f"line{n}" for n, _ in LINES])
def test_tolerant_parse_of_every_example(line, segment):
    events = decode(frame(segment))
    assert len(events) == 1
    event = events[0]
    assert isinstance(event, Packet), event
    assert event.crc_variant == "hj212"
    message = event.message
    assert set(message.deviations) == EXPECTED.get(line, set()), message.details
    assert message.version == "2017"
    assert message.mn == "010000A8900016F000169DC0"
    assert message.cn == segment.split("CN=")[1][:4]
    assert message.flag in (4, 5, 6, 7)


@pytest.mark.parametrize(("line", "segment"), LINES, ids=[f"line{n}" for n, _ in LINES])
def test_strict_parse_of_every_example(line, segment):
    (event,) = decode(frame(segment), mode="strict")
    if line in EXPECTED:
        assert not event.ok
        assert event.deviation in EXPECTED[line]
        assert event.code == DEVIATIONS[event.deviation].error
    else:
        assert isinstance(event, Packet), event
        assert event.deviations == []


def test_all_examples_in_one_stream():
    events = decode(b"".join(frame(s) for s in SEGMENTS), chunks=[7, 500, 501, 4000])
    assert len(events) == 79 and all(isinstance(e, Packet) for e in events)


def test_minute_data_example_values():
    # line 26: 2051 minute data of w00000 (flow), w01001 (pH), w01018 (COD)
    (event,) = decode(frame(SEGMENTS[25]))
    m = event.message
    assert m.cn == "2051" and m.data_time.isoformat() == "2016-08-01T08:40:00+08:00"
    got = {(r.code, r.suffix): (r.value, r.flag) for r in m.records}
    assert got[("w00000", "Cou")] == ("10.5", "N")
    assert got[("w01001", "Avg")] == ("7.5", "N")
    assert got[("w01018", "Max")] == ("40.1", "N")
    assert len(m.records) == 11


def test_typo_01018_is_read_as_w01018():
    # line 23: 'w01018-SampleTime=20160801070000,01018-Rtd=2.2,w01018-Flag=N,w01018-EFlag=A01'
    (event,) = decode(frame(SEGMENTS[22]))
    rtd = [r for r in event.message.records if r.suffix == "Rtd"]
    assert [(r.code, r.value, r.flag, r.eflag) for r in rtd] == [
        ("w01001", "7.1", "N", None),
        ("w01018", "2.2", "N", "A01"),
    ]
    assert rtd[1].sample_time.isoformat() == "2016-08-01T07:00:00+08:00"


def test_noise_day_and_night_data():
    (event,) = decode(frame(SEGMENTS[44]))  # line 45, 2031 noise
    suffixes = {r.suffix for r in event.message.records}
    assert suffixes == {"Data", "DayData", "NightData"}
    assert len(event.message.records) == 24


def test_chinese_info_text_and_utf8_length():
    segment = SEGMENTS[60]  # line 61: i11001-Info=//清洗管路//
    assert "清洗管路" in segment
    data = frame(segment)
    assert int(data[2:6]) == len(segment.encode("utf-8")) > len(segment)
    (event,) = decode(data, mode="strict")
    assert [(r.code, r.suffix, r.value) for r in event.message.records] == [("i11001", "Info", "//清洗管路//")]


@pytest.mark.parametrize("first_line", [75, 77])
def test_split_examples_reassemble(first_line):
    # lines 75/76 (Flag=6) and 77/78 (Flag=7): PNUM=2 with different QNs per part
    parts = [decode(frame(SEGMENTS[n - 1]))[0].message for n in (first_line + 1, first_line)]
    r = Reassembler()
    assert r.add(parts[0], now=0.0) is None
    whole = r.add(parts[1], now=1.0)
    assert whole is not None and r.pending == 0
    assert whole.part_qns == ("20160801085857534", "20160801085857535")
    assert [r.code for r in whole.records if r.suffix == "Avg"] == ["w00000", "w01001", "w01018"]
    assert whole.pnum is None and not whole.is_split
