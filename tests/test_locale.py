"""The committed translations: every .mo matches its .po, and the compiler that makes them is right."""

from __future__ import annotations

import gettext
import io
import re
from pathlib import Path

import pytest

from gongzhi.devtools import msgfmt

PO_FILES = msgfmt.po_files()
TEMPLATES = Path(msgfmt.LOCALE_DIR).parent / "web" / "templates"


def test_there_is_an_english_catalog():
    assert [p.relative_to(msgfmt.LOCALE_DIR).as_posix() for p in PO_FILES] == ["en/LC_MESSAGES/django.po"]


@pytest.mark.parametrize("po", PO_FILES, ids=lambda p: p.parent.parent.name)
def test_the_committed_mo_matches_the_po(po):
    mo = po.with_suffix(".mo")
    assert mo.exists(), "run: python -m gongzhi.devtools.msgfmt"
    assert mo.read_bytes() == msgfmt.compile_po(po.read_text(encoding="utf-8")), "run: python -m gongzhi.devtools.msgfmt"
    assert msgfmt.main(["--check", str(po)]) == 0


@pytest.mark.parametrize("po", PO_FILES, ids=lambda p: p.parent.parent.name)
def test_the_mo_translates_every_entry_of_the_po(po):
    entries = [e for e in msgfmt.parse_po(po.read_text(encoding="utf-8")) if e.msgid]
    assert entries
    translations = gettext.GNUTranslations(io.BytesIO(po.with_suffix(".mo").read_bytes()))
    assert translations.info()["content-type"] == "text/plain; charset=UTF-8"
    for e in entries:
        got = translations.pgettext(e.msgctxt, e.msgid) if e.msgctxt is not None else translations.gettext(e.msgid)
        assert got == e.msgstr[0], e.msgid


def test_every_template_string_has_an_english_translation():
    """New strings in the web templates must come with their English (or the English UI goes half Chinese)."""
    po = msgfmt.LOCALE_DIR / "en" / "LC_MESSAGES" / "django.po"
    known = {e.msgid for e in msgfmt.parse_po(po.read_text(encoding="utf-8"))}
    found = set()
    for template in TEMPLATES.rglob("*.html"):
        text = template.read_text(encoding="utf-8")
        found |= set(re.findall(r'{%\s*translate\s+"([^"]+)"', text))
        for body in re.findall(r"{%\s*blocktranslate[^%]*%}(.*?){%\s*endblocktranslate\s*%}", text, flags=re.S):
            found.add(re.sub(r"{{\s*(\w+)\s*}}", r"%(\1)s", body))
    assert found
    assert sorted(found - known) == []


# --- the compiler ---------------------------------------------------------------------------------------

SAMPLE = r'''# a comment
msgid ""
msgstr ""
"Content-Type: text/plain; charset=UTF-8\n"
"Plural-Forms: nplurals=2; plural=(n != 1);\n"

#: somewhere.py:1
msgid "站点"
msgstr "Site"

msgid ""
"一行"
"两行"
msgstr "line one\n"
"line \"two\"\t\\"

msgctxt "unit"
msgid "米"
msgstr "m"

msgid "米"
msgstr "metre"

msgid "%(n)s 个站点"
msgid_plural "%(n)s 个站点们"
msgstr[0] "%(n)s site"
msgstr[1] "%(n)s sites"

#, fuzzy
msgid "模糊"
msgstr "Fuzzy"

msgid "未译"
msgstr ""
#~ msgid "废弃"
#~ msgstr "Obsolete"
'''


def test_compile_po_reads_back_with_the_standard_library():
    t = gettext.GNUTranslations(io.BytesIO(msgfmt.compile_po(SAMPLE)))
    assert t.gettext("站点") == "Site"
    assert t.gettext("一行两行") == 'line one\nline "two"\t\\'
    assert t.pgettext("unit", "米") == "m"
    assert t.gettext("米") == "metre"
    assert t.ngettext("%(n)s 个站点", "%(n)s 个站点们", 1) == "%(n)s site"
    assert t.ngettext("%(n)s 个站点", "%(n)s 个站点们", 3) == "%(n)s sites"
    assert t.gettext("模糊") == "模糊"  # fuzzy entries are left out
    assert t.gettext("未译") == "未译"  # so are untranslated ones
    assert t.gettext("废弃") == "废弃"


def test_compile_po_is_deterministic_and_sorted():
    data = msgfmt.compile_po(SAMPLE)
    assert data == msgfmt.compile_po(SAMPLE)
    shuffled = "\n\n".join(reversed(SAMPLE.split("\n\n")))
    assert msgfmt.compile_po(shuffled) == data


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ('msgid "a"\nmsgstr "b"\n\nmsgid "a"\nmsgstr "c"\n', "duplicate"),
        ('msgid "a"\nmsgstr b\n', "line 2"),
        ('"orphan"\n', "line 1"),
        ('msgid "a"\nmsgfoo "b"\n', "unknown keyword"),
    ],
)
def test_compile_po_rejects_broken_files(text, message):
    with pytest.raises(msgfmt.PoError, match=message):
        msgfmt.compile_po(text)
