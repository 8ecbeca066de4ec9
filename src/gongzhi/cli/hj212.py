"""``gongzhi hj212``: HJ 212 tools that need no database.

* ``gongzhi hj212 parse [--strict|--tolerant] [FILE|-]`` — decode a raw byte
  stream (a capture, or one packet per line: both are just bytes to the
  decoder) and print one JSON object per packet or error (JSON Lines).
  Exit status 0 if every packet was good, 1 if any was not, 2 on usage/I/O errors.
* ``gongzhi hj212 frame SEGMENT`` — print the framed packet (``##``, length,
  CRC, CR LF) for a data segment.
* ``gongzhi hj212 crc SEGMENT`` — print the Appendix A CRC (and MODBUS for comparison).
* ``gongzhi hj212 replay`` — slot for the replay tool, implemented in
  :mod:`gongzhi.cli.hj212_replay` (see :data:`EXTENSION_MODULES`).
"""

from __future__ import annotations

import argparse
import importlib
import json
import sys
from typing import IO, Any

#: Modules that add further ``gongzhi hj212 <name>`` sub-commands.  Each exposes
#: ``register(subparsers)`` like the top-level command modules.  ``replay`` is
#: reserved here for :mod:`gongzhi.cli.hj212_replay` (written separately); until
#: that module exists a placeholder explains that it is not installed.
EXTENSION_MODULES: dict[str, str] = {"replay": "gongzhi.cli.hj212_replay"}

_CHUNK = 64 * 1024


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "hj212",
        help="HJ 212 protocol tools (parse captures, frame segments)",
        description="HJ 212 (HJ 212-2017; 2005 and 2025 recognised) protocol tools.",
    )
    parser.set_defaults(func=lambda args: (parser.print_help(), 2)[1])
    sub = parser.add_subparsers(dest="hj212_command", metavar="SUBCOMMAND")

    p = sub.add_parser(
        "parse",
        help="decode a byte stream of HJ 212 packets to JSON Lines",
        description=(
            "Decode HJ 212 packets from FILE (or standard input) and print one JSON object per "
            "packet: ok, error, crc_variant, version, qn, st, cn, mn, flag, deviations, data, ... "
            "Exit status: 0 all packets good, 1 some packet bad, 2 usage or I/O error."
        ),
    )
    mode = p.add_mutually_exclusive_group()
    mode.add_argument("--strict", dest="mode", action="store_const", const="strict",
                      help="reject every deviation from HJ 212-2017")
    mode.add_argument("--tolerant", dest="mode", action="store_const", const="tolerant",
                      help="accept known deviations and list them (default)")
    p.set_defaults(mode="tolerant")
    p.add_argument("--version-hint", choices=("2005", "2017", "2025"),
                   help="protocol edition the device is known to speak (resolves Flag=8)")
    p.add_argument("--max-buffer", type=int, default=None, metavar="BYTES",
                   help="per-stream buffer cap (default 65536)")
    p.add_argument("--quiet-errors", action="store_true",
                   help="do not print events for bytes outside packets (garbage)")
    p.add_argument("file", nargs="?", default="-", metavar="FILE",
                   help="capture file, or - for standard input (default)")
    p.set_defaults(func=cmd_parse)

    f = sub.add_parser("frame", help="print the framed packet for a data segment",
                       description="Frame a data segment: ## + length + segment + CRC + CR LF.")
    f.add_argument("segment", help="data segment, e.g. 'QN=...;ST=32;CN=2011;...;CP=&&...&&'")
    f.add_argument("--crc", choices=("hj212", "modbus", "modbus-le"), default="hj212",
                   help="CRC to write (default: the Appendix A CRC)")
    f.add_argument("--lf", action="store_true", help="end with LF only (imitates some loggers)")
    f.set_defaults(func=cmd_frame)

    c = sub.add_parser("crc", help="print the Appendix A CRC of a data segment")
    c.add_argument("segment")
    c.set_defaults(func=cmd_crc)

    for name, module_name in EXTENSION_MODULES.items():
        try:
            module = importlib.import_module(module_name)
        except ModuleNotFoundError as exc:
            if exc.name != module_name:
                raise
            _placeholder(sub, name, module_name)
        else:
            module.register(sub)


def _placeholder(sub: argparse._SubParsersAction, name: str, module_name: str) -> None:
    p = sub.add_parser(name, help=f"(not installed: {module_name})")

    def run(args: argparse.Namespace) -> int:
        print(f"gongzhi hj212 {name}: not available in this build ({module_name} is missing)",
              file=sys.stderr)
        return 2

    p.set_defaults(func=run)


def _open_input(path: str) -> IO[bytes]:
    if path == "-":
        return sys.stdin.buffer
    return open(path, "rb")


def _emit(obj: dict[str, Any], out: IO[str]) -> None:
    out.write(json.dumps(obj, ensure_ascii=False, separators=(",", ":")))
    out.write("\n")


def cmd_parse(args: argparse.Namespace) -> int:
    from gongzhi.hj212 import DEFAULT_MAX_BUFFER, Decoder

    try:
        decoder = Decoder(args.mode, version_hint=args.version_hint,
                          max_buffer=args.max_buffer or DEFAULT_MAX_BUFFER)
    except ValueError as exc:
        print(f"gongzhi hj212 parse: {exc}", file=sys.stderr)
        return 2
    try:
        stream = _open_input(args.file)
    except OSError as exc:
        print(f"gongzhi hj212 parse: {exc}", file=sys.stderr)
        return 2
    out = sys.stdout
    bad = 0
    try:
        while True:
            chunk = stream.read1(_CHUNK) if hasattr(stream, "read1") else stream.read(_CHUNK)
            events = decoder.feed(chunk) if chunk else decoder.close()
            for event in events:
                if not event.ok:
                    if args.quiet_errors and event.code in ("garbage", "bad_header"):
                        continue
                    bad += 1
                _emit(event.to_dict(), out)
            if not chunk:
                break
    except BrokenPipeError:  # `... | head`: the top-level main() handles it
        raise
    except OSError as exc:
        print(f"gongzhi hj212 parse: {exc}", file=sys.stderr)
        return 2
    finally:
        if stream is not sys.stdin.buffer:
            stream.close()
    out.flush()
    return 1 if bad else 0


def cmd_frame(args: argparse.Namespace) -> int:
    from gongzhi.hj212 import frame

    packet = frame(args.segment, crc=args.crc, tail=b"\n" if args.lf else b"\r\n")
    sys.stdout.buffer.write(packet)
    sys.stdout.buffer.flush()
    return 0


def cmd_crc(args: argparse.Namespace) -> int:
    from gongzhi.hj212 import crc16_hj212, crc16_modbus, crc_hex

    data = args.segment.encode("utf-8")
    print(f"hj212 {crc_hex(crc16_hj212(data))}")
    m = crc16_modbus(data)
    print(f"modbus {crc_hex(m)}")
    print(f"modbus-le {crc_hex((m & 0xFF) << 8 | m >> 8)}")
    return 0
