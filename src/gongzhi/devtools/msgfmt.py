"""A small .po → .mo compiler (GNU MO format), standard library only.

Django's ``compilemessages`` needs GNU gettext's ``msgfmt``, which fresh CI
machines and bureau intranet servers often lack. The translations are kept in
the repository both as ``.po`` (edited by people) and ``.mo`` (read by Django);
this module regenerates the ``.mo`` files and the test suite checks that the
committed ones match their ``.po`` byte for byte.

Usage::

    python -m gongzhi.devtools.msgfmt           # compile every src/gongzhi/locale/*/LC_MESSAGES/*.po
    python -m gongzhi.devtools.msgfmt --check   # exit 1 if a .mo is missing or stale

Supported: ``msgctxt``, ``msgid_plural``/``msgstr[n]``, multi-line strings, the
C escapes gettext uses. Entries marked ``fuzzy`` and untranslated entries are
left out (as GNU ``msgfmt`` does by default). The output has no hash table
(allowed by the format; GNU gettext and Python's :mod:`gettext` read it) and is
deterministic: entries are sorted by their original string.
"""

from __future__ import annotations

import argparse
import ast
import struct
import sys
from dataclasses import dataclass, field
from pathlib import Path

MAGIC = 0x950412DE
LOCALE_DIR = Path(__file__).resolve().parent.parent / "locale"


class PoError(ValueError):
    """The .po file cannot be read; the message names the line."""


@dataclass
class Entry:
    msgctxt: str | None = None
    msgid: str = ""
    msgid_plural: str | None = None
    msgstr: dict[int, str] = field(default_factory=dict)
    fuzzy: bool = False

    @property
    def translated(self) -> bool:
        return bool(self.msgstr) and all(self.msgstr.values())


def _unquote(token: str, lineno: int) -> str:
    token = token.strip()
    if len(token) < 2 or token[0] != '"' or token[-1] != '"':
        raise PoError(f"line {lineno}: expected a quoted string, got {token!r}")
    try:
        # A .po string is a C string literal; Python's literal syntax is a superset of
        # the escapes gettext writes (\n \t \" \\ and octal/hex).
        return ast.literal_eval(token)
    except (SyntaxError, ValueError) as exc:
        raise PoError(f"line {lineno}: bad string {token!r}: {exc}") from None


def parse_po(text: str) -> list[Entry]:
    entries: list[Entry] = []
    entry = Entry()
    section: tuple[str, int] | None = None  # which field continuation lines extend
    seen_any = False

    def finish() -> None:
        nonlocal entry, section, seen_any
        if seen_any:
            entries.append(entry)
        entry, section, seen_any = Entry(), None, False

    for lineno, raw in enumerate(text.splitlines(), start=1):
        line = raw.strip()
        if not line:
            finish()
            continue
        if line.startswith("#"):
            if section is not None and section[0] == "msgstr":
                finish()  # a comment after msgstr starts the next entry
            if line.startswith("#,") and "fuzzy" in (f.strip() for f in line[2:].split(",")):
                entry.fuzzy = True
            continue
        keyword, _, rest = line.partition(" ")
        if line.startswith('"'):
            if section is None:
                raise PoError(f"line {lineno}: a string continues nothing")
            name, index = section
            value = _unquote(line, lineno)
            if name == "msgstr":
                entry.msgstr[index] += value
            else:
                setattr(entry, name, (getattr(entry, name) or "") + value)
            continue
        if keyword in ("msgctxt", "msgid") and section is not None and section[0] == "msgstr":
            finish()
        seen_any = True
        if keyword in ("msgctxt", "msgid", "msgid_plural"):
            setattr(entry, keyword, _unquote(rest, lineno))
            section = (keyword, 0)
        elif keyword == "msgstr":
            entry.msgstr[0] = _unquote(rest, lineno)
            section = ("msgstr", 0)
        elif keyword.startswith("msgstr[") and keyword.endswith("]") and keyword[7:-1].isdigit():
            index = int(keyword[7:-1])
            entry.msgstr[index] = _unquote(rest, lineno)
            section = ("msgstr", index)
        else:
            raise PoError(f"line {lineno}: unknown keyword {keyword!r}")
    finish()
    return entries


def compile_po(text: str) -> bytes:
    """The .mo bytes for the .po ``text``."""
    catalog: dict[bytes, bytes] = {}
    for e in parse_po(text):
        if e.fuzzy or not e.translated:
            continue
        key = e.msgid if e.msgid_plural is None else f"{e.msgid}\0{e.msgid_plural}"
        if e.msgctxt is not None:
            key = f"{e.msgctxt}\x04{key}"
        value = "\0".join(e.msgstr[i] for i in sorted(e.msgstr))
        if key.encode("utf-8") in catalog:
            raise PoError(f"duplicate entry {key!r}")
        catalog[key.encode("utf-8")] = value.encode("utf-8")
    keys = sorted(catalog)
    n = len(keys)
    originals_at = 7 * 4
    translations_at = originals_at + n * 8
    strings_at = translations_at + n * 8
    table_o, table_t, blob = [], [], bytearray()
    for k in keys:
        table_o.append((len(k), strings_at + len(blob)))
        blob += k + b"\0"
    for k in keys:
        v = catalog[k]
        table_t.append((len(v), strings_at + len(blob)))
        blob += v + b"\0"
    out = bytearray(struct.pack("<7I", MAGIC, 0, n, originals_at, translations_at, 0, strings_at))
    for length, offset in (*table_o, *table_t):
        out += struct.pack("<2I", length, offset)
    return bytes(out + blob)


def po_files(root: Path = LOCALE_DIR) -> list[Path]:
    return sorted(root.glob("*/LC_MESSAGES/*.po"))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m gongzhi.devtools.msgfmt", description=__doc__.split("\n")[0])
    parser.add_argument("--check", action="store_true", help="only check that every .mo matches its .po")
    parser.add_argument("files", nargs="*", type=Path, help=".po files (default: all of gongzhi's)")
    args = parser.parse_args(argv)
    stale = 0
    for po in args.files or po_files():
        mo = po.with_suffix(".mo")
        data = compile_po(po.read_text(encoding="utf-8"))
        if args.check:
            if not mo.exists() or mo.read_bytes() != data:
                print(f"{mo}: missing or stale; run python -m gongzhi.devtools.msgfmt", file=sys.stderr)
                stale += 1
        elif not mo.exists() or mo.read_bytes() != data:
            mo.write_bytes(data)
            print(f"wrote {mo}")
    return 1 if stale else 0


if __name__ == "__main__":
    sys.exit(main())
