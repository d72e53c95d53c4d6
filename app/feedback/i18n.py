"""Translations of the feedback page, e-mails and comments (en, de, fr, es, fi, sv): gettext
catalogues in locales/, read with Babel; dates and numbers from Babel's locale data."""

from __future__ import annotations

import gettext
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date
from functools import cache
from pathlib import Path

from babel.dates import format_date as babel_format_date
from babel.messages.pofile import read_po
from babel.numbers import format_decimal

from app.feedback.scales import Scale

# Each entry is `msgctxt` = the key the code asks for, `msgid` = the English text, `msgstr` = the
# translation. Translators (Poedit, Weblate, Lokalize) then see real English as the source and
# the key as context, and `pybabel update` marks a translation fuzzy when its English changes,
# which a key-only msgid (msgid "f_fast") could never do. See docs/translations.md.
LOCALES_DIR = Path(__file__).parent / "locales"
DOMAIN = "messages"
SOURCE = "en"

LANGUAGE_NAMES = {
    "en": "English",
    "de": "Deutsch",
    "fr": "Français",
    "es": "Español",
    "fi": "Suomi",
    "sv": "Svenska",
}

# Long dates ("3. Dezember 2026", "December 3, 2026") name the month, so 3/12 and 12/3 cannot be
# confused across countries, and they read naturally inside a sentence ("until {date}").
DATE_FORMAT = "long"


@dataclass(frozen=True)
class Catalogue:
    texts: dict[str, str]  # key -> text
    plurals: dict[str, tuple[str, ...]]  # key -> forms, in the catalogue's Plural-Forms order
    plural_index: Callable[[int], int]  # count -> index into those forms


def read_catalogue(path: Path, locale: str, *, msgid_fills: bool = False) -> Catalogue:
    """A .po file's usable entries. Empty, incomplete and fuzzy ones are left out (as gettext
    does), so English shows instead of an unchecked guess; in the English catalogue they fall
    back to the msgid, which is English already."""
    with path.open("rb") as fh:
        catalog = read_po(fh, locale=locale, domain=DOMAIN)
    texts: dict[str, str] = {}
    plurals: dict[str, tuple[str, ...]] = {}
    for message in catalog:
        key = message.context
        if not message.id or not key:
            continue
        usable = not message.fuzzy
        if message.pluralizable:
            forms = tuple(message.string)
            if usable and len(forms) == catalog.num_plurals and all(forms):
                plurals[key] = forms
            elif msgid_fills:
                plurals[key] = tuple(message.id)
        elif usable and message.string:
            texts[key] = str(message.string)
        elif msgid_fills:
            texts[key] = str(message.id)
    # gettext's own converter of the header's C expression (`plural=(n != 1);`) to a function.
    return Catalogue(texts, plurals, gettext.c2py(catalog.plural_expr))


def catalogue_path(locale: str) -> Path:
    return LOCALES_DIR / locale / "LC_MESSAGES" / f"{DOMAIN}.po"


@cache
def _catalogue(locale: str) -> Catalogue:
    return read_catalogue(catalogue_path(locale), locale, msgid_fills=locale == SOURCE)


@cache
def _strings(locale: str) -> dict[str, str]:
    return {**_catalogue(SOURCE).texts, **_catalogue(locale).texts}


def _language(locale: str) -> str:
    return locale if locale in LANGUAGE_NAMES else SOURCE


def strings(locale: str) -> dict[str, str]:
    """The catalogue of `locale`, English filling any gap."""
    return dict(_strings(_language(locale)))


def t(locale: str, key: str, **values: object) -> str:
    text = _strings(_language(locale))[key]
    return text.format(**_formatted(locale, values)) if values else text


def plural(locale: str, key: str, count: int, **values: object) -> str:
    """A counted message in the form the language's plural rule picks for `count`
    ("1 response", "2 responses"); `{count}` is written in the language's number format."""
    found = _catalogue(_language(locale))
    if key not in found.plurals:  # English words then, with English plural rules
        found = _catalogue(SOURCE)
    forms = found.plurals[key]
    text = forms[min(found.plural_index(count), len(forms) - 1)]
    return text.format(**_formatted(locale, {**values, "count": count}))


def format_date(locale: str, value: date) -> str:
    """The day in the language's long format: "3. Dezember 2026", "December 3, 2026"."""
    return babel_format_date(value, format=DATE_FORMAT, locale=_language(locale))


def format_number(locale: str, value: float) -> str:
    """A number as the language writes it: "1,234.5" in English, "1.234,5" in German."""
    return format_decimal(value, locale=_language(locale))


def _formatted(locale: str, values: dict[str, object]) -> dict[str, object]:
    return {
        name: format_number(locale, v)
        if isinstance(v, int | float) and not isinstance(v, bool)
        else v
        for name, v in values.items()
    }


def comment_text(locale: str, number: str, title: str, links: dict[str, str], scale: Scale) -> str:
    """The requester-visible ticket comment: one line per score."""
    lines = [t(locale, "comment_intro", number=number)]
    for score in scale.scores:
        label = scale.labels.get(score, "")
        lines.append(f"{score} {label}".rstrip() + f": {links[str(score)]}")
    return "\n".join(lines)
