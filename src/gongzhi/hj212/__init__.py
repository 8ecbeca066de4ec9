"""Sans-I/O codec for HJ 212 (HJ 212-2017; HJ/T 212-2005 and HJ 212-2025 recognised).

Bytes in, events out; no sockets, no clocks, standard library only (like h11)::

    from gongzhi.hj212 import Decoder, Packet

    decoder = Decoder()                 # tolerant by default; Decoder("strict")
    for event in decoder.feed(data):    # data: whatever one recv() returned
        if isinstance(event, Packet):
            message = event.message     # QN, ST, CN, MN, Flag, records, deviations...
        else:
            print(event.code, event.detail)   # FramingError: garbage, bad_crc, ...

Modules: :mod:`~gongzhi.hj212.crc` (Appendix A), :mod:`~gongzhi.hj212.framing`
(§6.3.1), :mod:`~gongzhi.hj212.messages` (§6.3.2–6.3.3),
:mod:`~gongzhi.hj212.reassembly` (PNUM/PNO), :mod:`~gongzhi.hj212.builders`
(packets to send), :mod:`~gongzhi.hj212.codes` (code tables, Appendix B),
:mod:`~gongzhi.hj212.errors` (error and deviation codes).  See docs/hj212.md.
"""

from .builders import (
    build_command,
    build_daily,
    build_daily_runtime,
    build_data,
    build_data_ack,
    build_exe_reply,
    build_get_min_interval,
    build_get_rtd_interval,
    build_get_time,
    build_heartbeat,
    build_hourly,
    build_minute,
    build_notify_ack,
    build_packet,
    build_qn_reply,
    build_realtime,
    build_reply,
    build_restart,
    build_run_state,
    build_segment,
    build_set_min_interval,
    build_set_password,
    build_set_rtd_interval,
    build_set_time,
    build_set_timeout,
    build_start_realtime,
    build_stop_realtime,
    build_time_calibration_request,
    flag_for,
    format_cp,
    frame,
)
from .codes import code_from_2005, code_table, lookup_code
from .crc import (
    crc16_hj212,
    crc16_hj212_bitwise,
    crc16_hj212_pairs,
    crc16_hj212_bytewise,
    crc16_modbus,
    crc_hex,
    crc_matches,
    identify_crc,
    parse_crc_hex,
)
from .errors import DEVIATIONS, ERROR_CODES, Deviation, Hj212Error
from .framing import (
    DEFAULT_MAX_BUFFER,
    Decoder,
    Event,
    Framer,
    FramingError,
    Packet,
    decode_packet,
    parse_packet,
)
from .messages import (
    CST,
    CompactMessage,
    DataRecord,
    DecryptHook,
    Message,
    format_time,
    is_encrypted_segment,
    parse_segment,
    parse_time,
)
from .reassembly import Incomplete, Reassembler, merge_parts

__all__ = [
    # decoding
    "Decoder", "Framer", "Event", "Packet", "FramingError", "decode_packet", "parse_packet",
    "parse_segment", "Message", "CompactMessage", "DataRecord", "DecryptHook", "is_encrypted_segment",
    "parse_time", "format_time", "CST", "DEFAULT_MAX_BUFFER",
    # reassembly
    "Reassembler", "Incomplete", "merge_parts",
    # errors
    "Hj212Error", "ERROR_CODES", "DEVIATIONS", "Deviation",
    # CRC
    "crc16_hj212", "crc16_hj212_bytewise", "crc16_hj212_bitwise", "crc16_hj212_pairs", "crc16_modbus",
    "crc_hex", "parse_crc_hex", "crc_matches", "identify_crc",
    # codes
    "code_table", "lookup_code", "code_from_2005",
    # building
    "frame", "build_segment", "build_packet", "format_cp", "flag_for", "build_data",
    "build_realtime", "build_minute", "build_hourly", "build_daily", "build_daily_runtime",
    "build_run_state", "build_restart", "build_reply", "build_qn_reply", "build_exe_reply",
    "build_notify_ack", "build_data_ack", "build_heartbeat", "build_command",
    "build_set_timeout", "build_get_time", "build_set_time", "build_time_calibration_request",
    "build_get_rtd_interval", "build_set_rtd_interval", "build_get_min_interval",
    "build_set_min_interval", "build_set_password", "build_start_realtime", "build_stop_realtime",
]
