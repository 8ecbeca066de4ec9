"""Error codes, deviation codes and the exception type of the HJ 212 codec.

Two vocabularies, both short lowercase reason codes:

* **Error codes** (:data:`ERROR_CODES`) say why a byte run did not yield a
  usable message.  They appear on :class:`~gongzhi.hj212.framing.FramingError`
  events and on :class:`Hj212Error` exceptions.
* **Deviation codes** (:data:`DEVIATIONS`) name one departure from
  HJ 212-2017 that real loggers (or the standard's own examples in Appendix C)
  commit.  In *tolerant* mode a deviation is accepted and recorded on the
  message (``Message.deviations``); in *strict* mode the first deviation found
  is turned into an error with the error code given in the table.

The meanings below are the documentation of record; ``docs/hj212.md`` lists
the same tables for readers.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

__all__ = [
    "ERROR_CODES",
    "DEVIATIONS",
    "Deviation",
    "Hj212Error",
    "MODES",
    "check_mode",
]

#: Accepted decoding modes.
MODES = ("tolerant", "strict")

#: Error code -> meaning.
ERROR_CODES: dict[str, str] = {
    # stream / framing level (§6.3.1 packet structure)
    "garbage": "bytes outside any packet (before a '##' packet header)",
    "bad_header": "'##' not followed by a 4-digit decimal length (§6.3.1)",
    "bad_length": "the length field does not match the data segment (§6.3.1)",
    "too_long": "data segment longer than 1024 bytes (§6.3.1)",
    "bad_tail": "packet not terminated by CR LF right after the CRC (§6.3.1)",
    "truncated": "packet cut short: the stream ended or a new '##' began before its end",
    "buffer_overflow": "no complete packet within the per-connection buffer cap; buffer discarded",
    "bad_crc": "CRC field missing, not hexadecimal, or not matching the data segment (Appendix A)",
    "bad_encoding": "data segment is not valid UTF-8 (§6.3.1: ASCII, Chinese as UTF-8)",
    # data segment level (§6.3.2, §6.3.3)
    "bad_segment": "data segment has no 'CP=&&...&&' or a header item without '=' (§6.3.2)",
    "bad_cp": "command parameters 'CP=&&...&&' not closed by '&&' (§6.3.3)",
    "missing_field": "a required field (QN, ST, CN, PW, MN, Flag, CP, PNUM/PNO) is missing (§6.3.2)",
    "bad_field": "a field is malformed or not allowed by the standard (§6.3.2, §6.3.3, Appendix B)",
    "bad_flag": "Flag is not 0-255, or its version/split/ack bits contradict the packet (§6.3.2)",
    "encrypted_cp_unsupported": "CP is SM4-encrypted ('{0x..}', HJ 212-2025 §6.4) and no decrypt hook is set",
    # reassembly (§6.3.2 PNUM/PNO)
    "bad_subpacket": "PNUM/PNO inconsistent (PNO outside 1..PNUM, or parts disagree)",
    "reassembly_timeout": "not all sub-packets of a split message arrived in time",
}


@dataclass(frozen=True, slots=True)
class Deviation:
    """One tolerated departure from the standard.

    ``error`` is the error code strict mode reports for it.
    """

    code: str
    meaning: str
    error: str


def _d(code: str, meaning: str, error: str) -> tuple[str, Deviation]:
    assert error in ERROR_CODES, error
    return code, Deviation(code, meaning, error)


#: Deviation code -> :class:`Deviation`.  Order is the order of documentation.
DEVIATIONS: dict[str, Deviation] = dict(
    [
        # framing (§6.3.1, Appendix A)
        _d("length_chars", "length field counts characters, not UTF-8 bytes", "bad_length"),
        _d("too_long", "data segment longer than 1024 bytes (old loggers)", "too_long"),
        _d("lf_tail", "packet ends with LF only instead of CR LF", "bad_tail"),
        _d("missing_tail", "no CR LF after the CRC (the next '##' or the end of the stream came first)", "bad_tail"),
        _d("crc_lowercase", "CRC written in lowercase hexadecimal", "bad_crc"),
        _d("crc_unpadded", "CRC written with fewer than 4 digits (no zero padding)", "bad_crc"),
        _d("crc_modbus", "CRC-16/MODBUS instead of the Appendix A CRC (high byte first)", "bad_crc"),
        _d("crc_modbus_le", "CRC-16/MODBUS instead of the Appendix A CRC, low byte first", "bad_crc"),
        _d("not_utf8", "data segment not UTF-8; decoded as GB 18030", "bad_encoding"),
        # header fields (§6.3.2)
        _d("missing_qn", "QN (request id) missing", "missing_field"),
        _d("missing_flag", "Flag missing", "missing_field"),
        _d("missing_pw", "PW (password) missing", "missing_field"),
        _d("qn_epoch_ms", "QN is a 13-digit Unix epoch in milliseconds, not YYYYMMDDhhmmsszzz", "bad_field"),
        _d("qn_format", "QN is neither YYYYMMDDhhmmsszzz nor epoch milliseconds", "bad_field"),
        _d("unknown_st", "ST (system code) not in the standard's table, e.g. 80 or 101", "bad_field"),
        _d("unknown_cn", "CN (command code) not in the standard's table", "bad_field"),
        _d("mn_format", "MN longer than 24 characters", "bad_field"),
        _d("flag_version_mismatch", "Flag carries version 000010 (2025, Flag 8-11) on a 2017-era packet", "bad_flag"),
        _d("flag_unknown_version", "Flag version bits name no known protocol edition", "bad_flag"),
        _d("reply_ack_flag", "a reply (9011-9015) asks for an acknowledgement (A bit set, e.g. Flag=5)", "bad_flag"),
        _d("flag_split_mismatch", "Flag's D (split) bit disagrees with the presence of PNUM/PNO", "bad_flag"),
        _d("field_order", "header fields out of the standard order (e.g. PNO before PNUM)", "bad_field"),
        _d("zero_padded_number", "PNUM/PNO zero-padded (e.g. PNO=0002)", "bad_field"),
        _d("unknown_field", "header field the standard does not define (kept in Message.extra)", "bad_field"),
        _d("header_comma", "',' instead of ';' between header fields (Appendix C typo)", "bad_field"),
        _d("missing_separator", "no ';' before 'CP=' (Appendix C typo 'Flag=5CP=')", "bad_field"),
        # command parameters (§6.3.3, Appendix B)
        _d("stray_space", "whitespace around a field, key or value (Appendix C typo)", "bad_field"),
        _d("ellipsis", "the standard's '…' placeholder inside CP (Appendix C)", "bad_field"),
        _d("empty_item", "empty item in CP (e.g. ';;' or a ';' before the closing '&&')", "bad_field"),
        _d("malformed_item", "CP item without '=' (skipped)", "bad_field"),
        _d("duplicate_field", "the same field appears twice", "bad_field"),
        _d("unknown_suffix", "factor field suffix not in the standard (e.g. -ZsCou, -ValidNum, -TotalNum); kept", "bad_field"),
        _d("code_2005", "HJ/T 212-2005 factor code (e.g. 011 COD, 060 NH3-N, B01 flow) in a newer packet", "bad_field"),
        _d("code_missing_prefix", "factor code without its letter prefix (Appendix C typo '01018-Rtd')", "bad_field"),
        _d("unknown_data_flag", "data flag (-Flag) not one of N F M S D C T B", "bad_field"),
        _d("datatime_ms", "17-digit time (with milliseconds) where 14 digits are specified", "bad_field"),
        _d("bad_time", "a time field (DataTime, SampleTime, ...) is not a valid YYYYMMDDhhmmss", "bad_field"),
    ]
)


def check_mode(mode: str) -> str:
    if mode not in MODES:
        raise ValueError(f"mode must be one of {MODES}, not {mode!r}")
    return mode


class Hj212Error(ValueError):
    """A packet or data segment that could not be decoded.

    ``code`` is a key of :data:`ERROR_CODES`; ``detail`` says precisely what was
    wrong.  ``deviation`` is set when strict mode rejected a deviation;
    ``partial`` holds whatever could be parsed (a tolerant parse), which a
    gateway can use to address a reply (QN, MN) — it may be ``None``.
    """

    def __init__(
        self,
        code: str,
        detail: str | None = None,
        *,
        deviation: str | None = None,
        partial: Any = None,
    ) -> None:
        if code not in ERROR_CODES:
            raise ValueError(f"unknown HJ 212 error code {code!r}")
        self.code = code
        self.detail = detail or ERROR_CODES[code]
        self.deviation = deviation
        self.partial = partial
        super().__init__(f"{code}: {self.detail}")

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {"code": self.code, "message": self.detail}
        if self.deviation:
            out["deviation"] = self.deviation
        return out
