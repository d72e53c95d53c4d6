"""The digest catalogues: every language has every key, with the English placeholders."""

from __future__ import annotations

import re

import pytest

from app.actions import texts
from app.feedback import i18n

PLACEHOLDER = re.compile(r"\{(\w+)\}")


@pytest.mark.parametrize("lang", list(i18n.LANGUAGE_NAMES))
def test_every_key_is_translated_with_the_same_placeholders(lang: str) -> None:
    english = i18n.read_catalogue(texts.catalogue_path("en"), "en", msgid_fills=True)
    found = i18n.read_catalogue(texts.catalogue_path(lang), lang, msgid_fills=False)
    if lang != "en":
        assert set(found.texts) == set(english.texts)
        assert set(found.plurals) == set(english.plurals)
    for key, text in found.texts.items():
        assert set(PLACEHOLDER.findall(text)) == set(PLACEHOLDER.findall(english.texts[key])), key


def test_words_follow_the_language_and_its_plural_rule() -> None:
    assert texts.plural("de", "responses", 1) == "1 Antwort"
    assert texts.plural("fi", "responses", 1234) == "1\xa0234 vastausta"  # a no-break space
    assert texts.t("fr", "xla_breached") == "non atteint"
    assert texts.t("xx", "happiness") == "Happiness"  # an unknown language reads English
