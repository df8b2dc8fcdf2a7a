"""Every string marked for translation has its translation (README "Languages").

The strings are extracted from the source as `make translations` does (babel.cfg: Python and the
templates); each language's .po must hold every one of them, translated (no empty or fuzzy entry),
with the same placeholders as the English (Babel's checkers), and compile. A string marked and not
translated fails here, so none slips onto a page or into an email in English by accident."""

from __future__ import annotations

import io
import re
from pathlib import Path

import pytest
from babel.messages.extract import DEFAULT_KEYWORDS, extract_from_dir
from babel.messages.frontend import parse_mapping_cfg
from babel.messages.mofile import write_mo
from babel.messages.pofile import read_po

from app.i18n import DEFAULT_LOCALE, SUPPORTED_LOCALES

ROOT = Path(__file__).resolve().parents[2]
TRANSLATIONS = ROOT / "translations"
KEYWORDS = {**DEFAULT_KEYWORDS, "lazy_gettext": None, "lazy_ngettext": (1, 2)}
LANGUAGES = [locale for locale in SUPPORTED_LOCALES if locale != DEFAULT_LOCALE]
DEVANAGARI = re.compile("[\u0900-\u097f]")


Marked = tuple[str | tuple[str, ...], str | None]


def _marked() -> dict[Marked, set[str]]:
    """Each marked string (a tuple for singular and plural) with its context (``pgettext``), and the
    files it is marked in."""
    with open(ROOT / "babel.cfg") as cfg:
        method_map, options_map = parse_mapping_cfg(cfg)
    found: dict[Marked, set[str]] = {}
    for filename, _line, message, _comments, context in extract_from_dir(
        str(ROOT), method_map, options_map, keywords=KEYWORDS
    ):
        found.setdefault((message, context), set()).add(filename)
    return found


@pytest.fixture(scope="module")
def marked():
    found = _marked()
    assert found, "no string is marked for translation: babel.cfg does not reach the source"
    return found


def _key(message: str | tuple[str, ...]) -> str:
    return message[0] if isinstance(message, tuple) else message


def _catalog(path: Path, locale: str | None = None):
    with open(path, "rb") as po:
        return read_po(po, locale=locale)


def test_the_template_catalogue_holds_every_marked_string(marked):
    template = _catalog(TRANSLATIONS / "messages.pot")
    missing = {m: files for m, files in marked.items() if template.get(_key(m[0]), context=m[1]) is None}
    assert missing == {}, 'run `make translations` (README "Languages")'


@pytest.mark.parametrize("locale", LANGUAGES)
def test_every_marked_string_is_translated(marked, locale):
    catalog = _catalog(TRANSLATIONS / locale / "LC_MESSAGES" / "messages.po", locale)
    problems = {}
    for (message, context), files in marked.items():
        key = _key(message)
        entry = catalog.get(key, context=context)
        if entry is None:
            problems[key] = f"missing (marked in {', '.join(sorted(files))}): run `make translations`"
        elif entry.fuzzy:
            problems[key] = "fuzzy: check the translation and remove the fuzzy flag"
        elif isinstance(message, tuple) and (not isinstance(entry.id, tuple) or entry.id[1] != message[1]):
            problems[key] = "its plural changed: run `make translations`"
        elif not (all(entry.string) if isinstance(entry.string, tuple) else entry.string):
            problems[key] = "not translated"
    assert problems == {}


@pytest.mark.parametrize("locale", LANGUAGES)
def test_translations_keep_the_placeholders_and_compile(locale):
    catalog = _catalog(TRANSLATIONS / locale / "LC_MESSAGES" / "messages.po", locale)
    # Babel's checkers: the same %(name)s placeholders as the English, one string per plural form.
    errors = {message.id: [str(e) for e in found] for message, found in catalog.check()}
    assert errors == {}
    compiled = io.BytesIO()
    write_mo(compiled, catalog)
    assert compiled.getvalue()


def test_hindi_is_written_in_devanagari_and_keeps_the_brand_in_latin():
    catalog = _catalog(TRANSLATIONS / "hi" / "LC_MESSAGES" / "messages.po", "hi")
    strings = {m.id: m.string for m in catalog if m.id}
    for english, hindi in strings.items():
        forms = hindi if isinstance(hindi, tuple) else (hindi,)
        assert all(DEVANAGARI.search(f) for f in forms), english
        if "Seatline" in (english[0] if isinstance(english, tuple) else english):
            assert all("Seatline" in f for f in forms), english
