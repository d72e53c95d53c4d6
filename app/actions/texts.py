"""The digest's words in six languages: gettext catalogues in locales/ (domain `digests`), read
as the feedback catalogues are (app/feedback/i18n.py); factor labels come from those."""

from __future__ import annotations

from functools import cache
from pathlib import Path

from app.feedback import i18n

LOCALES_DIR = Path(__file__).parent / "locales"


def catalogue_path(locale: str) -> Path:
    return LOCALES_DIR / locale / "LC_MESSAGES" / "digests.po"


@cache
def _catalogue(locale: str) -> i18n.Catalogue:
    return i18n.read_catalogue(catalogue_path(locale), locale, msgid_fills=locale == i18n.SOURCE)


def _language(locale: str) -> str:
    return locale if locale in i18n.LANGUAGE_NAMES else i18n.SOURCE


def t(locale: str, key: str, **values: object) -> str:
    lang = _language(locale)
    text = _catalogue(lang).texts.get(key) or _catalogue(i18n.SOURCE).texts[key]
    return text.format(**values) if values else text


def plural(locale: str, key: str, count: int) -> str:
    found = _catalogue(_language(locale))
    if key not in found.plurals:
        found = _catalogue(i18n.SOURCE)
    forms = found.plurals[key]
    form = forms[min(found.plural_index(count), len(forms) - 1)]
    return form.format(count=i18n.format_number(locale, count))


def factor(locale: str, key: str) -> str:
    return i18n.t(locale, f"f_{key}")
