"""The translation check (issue 13, must show 4): every catalogue holds every message of the
template, with the same placeholders and all of its language's plural forms; and what the
catalogues give people: plural forms, dates and numbers in each language's format."""

from __future__ import annotations

import re
import shutil
from datetime import UTC, date, datetime
from io import BytesIO
from pathlib import Path
from string import Formatter

import httpx
import pytest
from babel.messages.catalog import Catalog
from babel.messages.plurals import get_plural
from babel.messages.pofile import read_po, write_po
from sqlalchemy.ext.asyncio import AsyncSession

from app.feedback import i18n, rules
from app.feedback.scales import LOST_TIME_MINUTES, NEGATIVE_FACTORS, POSITIVE_FACTORS
from tests.scoring.builders import Case, seed

APP = Path(i18n.__file__).parents[1]
TEMPLATE = i18n.LOCALES_DIR / "messages.pot"


def load(path: Path, locale: str | None = None) -> Catalog:
    with path.open("rb") as fh:
        return read_po(fh, locale=locale)


def placeholders(text: str) -> set[str]:
    return {name for _, name, _, _ in Formatter().parse(text) if name is not None}


def problems(template: Catalog, catalogue: Catalog, lang: str) -> list[str]:
    """What a translator must fix before `lang` is complete; empty when it is."""
    found: list[str] = []
    expected = get_plural(lang).num_plurals
    if catalogue.num_plurals != expected:
        found.append(f"Plural-Forms has {catalogue.num_plurals} forms, {lang} needs {expected}")
    keys = set()
    for source in template:
        if not source.id:
            continue
        keys.add(source.context)
        if not source.context:
            found.append(f"{source.id!r} has no msgctxt (the key the code asks for)")
            continue
        key, entry = source.context, catalogue.get(source.id, context=source.context)
        if entry is None:
            found.append(f"{key}: missing, or its English changed (run pybabel update)")
            continue
        if entry.fuzzy:
            found.append(f"{key}: fuzzy, its English changed: review and remove the flag")
        ids = source.id if source.pluralizable else (source.id,)
        forms = entry.string if source.pluralizable else (entry.string,)
        if source.pluralizable and len(forms) != catalogue.num_plurals:
            found.append(f"{key}: {len(forms)} plural forms, {lang} needs {catalogue.num_plurals}")
        wanted = set().union(*(placeholders(text) for text in ids))
        for n, form in enumerate(forms):
            if not form:
                found.append(
                    f"{key}: msgstr[{n}] is empty"
                    if source.pluralizable
                    else f"{key}: not translated"
                )
                continue
            try:
                names = placeholders(form)
            except ValueError as exc:
                found.append(f"{key}: {exc} in {form!r}")
                continue
            if names != wanted:
                found.append(f"{key}: placeholders {sorted(names)} instead of {sorted(wanted)}")
    extra = {m.context for m in catalogue if m.id} - keys
    found += [f"{key}: not in the template (run pybabel update)" for key in sorted(extra)]
    return found


def test_every_language_has_a_catalogue_and_the_template_keys_are_unique() -> None:
    on_disk = {p.parent.parent.name for p in i18n.LOCALES_DIR.glob("*/LC_MESSAGES/messages.po")}
    assert on_disk == set(i18n.LANGUAGE_NAMES) == set(rules.LOCALES)
    contexts = [m.context for m in load(TEMPLATE) if m.id]
    assert len(contexts) == len(set(contexts))
    assert all(not m.string or m.string == ("", "") for m in load(TEMPLATE) if m.id)


@pytest.mark.parametrize("lang", list(i18n.LANGUAGE_NAMES))
def test_the_catalogue_is_complete(lang: str) -> None:
    catalogue = load(i18n.catalogue_path(lang), lang)
    assert str(catalogue.locale) == lang
    assert problems(load(TEMPLATE), catalogue, lang) == []


def test_the_english_catalogue_says_what_the_template_says() -> None:
    """One English: the template's msgid is the text, and en/messages.po repeats it."""
    english = load(i18n.catalogue_path("en"), "en")
    for source in load(TEMPLATE):
        if source.id:
            entry = english.get(source.id, context=source.context)
            assert entry is not None and entry.string == source.id, source.context


def _broken(lang: str, change) -> list[str]:
    catalogue = load(i18n.catalogue_path(lang), lang)
    change(catalogue)
    buffer = BytesIO()
    write_po(buffer, catalogue)  # through the file format, as a translator's tool would save it
    buffer.seek(0)
    return problems(load(TEMPLATE), read_po(buffer, locale=lang), lang)


def _entry(catalogue: Catalog, key: str):
    return next(m for m in catalogue if m.context == key)


def test_the_check_names_a_missing_message() -> None:
    def drop(c: Catalog) -> None:
        c.delete(_entry(c, "save").id, context="save")

    assert _broken("de", drop) == ["save: missing, or its English changed (run pybabel update)"]


def test_the_check_names_an_untranslated_message() -> None:
    def empty(c: Catalog) -> None:
        _entry(c, "back").string = ""

    assert _broken("sv", empty) == ["back: not translated"]


def test_the_check_names_a_wrong_placeholder() -> None:
    def rename(c: Catalog) -> None:
        _entry(c, "closes").string = "Diese Anfrage schließt am {datum}."

    assert _broken("de", rename) == ["closes: placeholders ['datum'] instead of ['date']"]


def test_the_check_names_a_plural_without_all_forms() -> None:
    text = i18n.catalogue_path("fr").read_text()
    copied = text.replace('msgstr[2] "{count} réponses"\n', "", 1)  # French has three forms
    assert copied != text
    catalogue = read_po(BytesIO(copied.encode()), locale="fr")
    assert problems(load(TEMPLATE), catalogue, "fr") == ["n_responses: msgstr[2] is empty"]


def test_the_check_names_a_wrong_plural_header() -> None:
    text = i18n.catalogue_path("fr").read_text()
    header = next(line for line in text.splitlines() if line.startswith('"Plural-Forms:'))
    copied = text.replace(header, '"Plural-Forms: nplurals=2; plural=(n != 1);\\n"')
    catalogue = read_po(BytesIO(copied.encode()), locale="fr")
    assert problems(load(TEMPLATE), catalogue, "fr")[0] == "Plural-Forms has 2 forms, fr needs 3"


def test_changed_english_makes_pybabel_update_flag_every_language() -> None:
    """The translator's loop: the English changes in the template, `pybabel update` merges it
    (Catalog.update is what it runs) and the check lists the entry until it is reviewed."""
    template = load(TEMPLATE)
    entry = _entry(template, "save")
    template.delete(entry.id, context="save")
    template.add("Save now", context="save")
    for lang in i18n.LANGUAGE_NAMES:
        catalogue = load(i18n.catalogue_path(lang), lang)
        catalogue.update(template)
        assert problems(template, catalogue, lang) == [
            "save: fuzzy, its English changed: review and remove the flag"
        ], lang


def test_every_key_the_code_asks_for_is_in_the_template() -> None:
    keys = {m.context for m in load(TEMPLATE) if m.id}
    used = {f"f_{k}" for k in POSITIVE_FACTORS + NEGATIVE_FACTORS}
    used |= {f"l_{k}" for k in LOST_TIME_MINUTES}
    for path in (APP / "feedback" / "templates").iterdir():
        used |= set(re.findall(r"\bs\.(\w+)", path.read_text()))
    for path in (APP / "feedback").glob("*.py"):
        text = path.read_text()
        used |= set(re.findall(r"\bs\[\"(\w+)\"\]", text))
        used |= set(re.findall(r"\bt\(\w+, \"(\w+)\"", text))
    for path in (APP / "scoring" / "templates").glob("*.html"):
        used |= set(re.findall(r"plural\(\"(\w+)\"", path.read_text()))
    assert {"optional", "closes", "n_responses", "f_fast", "l_none"} <= used
    assert used - keys == set()


def test_strings_and_t_fill_gaps_with_english() -> None:
    de, en = i18n.strings("de"), i18n.strings("en")
    assert set(de) == set(en) and de["save"] == "Speichern" and en["save"] == "Save"
    assert i18n.strings("xx") == en
    assert i18n.t("de", "greeting", name="Anna") == "Hallo Anna,"


@pytest.fixture
def patched_locales(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    shutil.copytree(i18n.LOCALES_DIR, tmp_path / "locales")
    monkeypatch.setattr(i18n, "LOCALES_DIR", tmp_path / "locales")
    i18n._catalogue.cache_clear()
    i18n._strings.cache_clear()
    yield tmp_path / "locales"
    i18n._catalogue.cache_clear()
    i18n._strings.cache_clear()


def test_a_gap_or_a_fuzzy_entry_shows_english(patched_locales: Path) -> None:
    path = patched_locales / "de" / "LC_MESSAGES" / "messages.po"
    catalogue = load(path, "de")
    _entry(catalogue, "save").string = ""
    _entry(catalogue, "back").flags.add("fuzzy")
    _entry(catalogue, "n_responses").string = ("{count} Antwort", "")
    with path.open("wb") as fh:
        write_po(fh, catalogue)
    s = i18n.strings("de")
    assert (s["save"], s["back"], s["title"]) == (
        "Save",
        "Back to the form",
        "Wie war unser Service?",
    )
    assert i18n.plural("de", "n_responses", 2) == "2 responses"
    assert i18n.plural("de", "n_responses", 1234) == "1.234 responses"  # still a German number


@pytest.mark.parametrize(
    ("lang", "expected"),
    [
        ("en", "December 3, 2026"),
        ("de", "3. Dezember 2026"),
        ("fr", "3 décembre 2026"),
        ("es", "3 de diciembre de 2026"),
        ("fi", "3. joulukuuta 2026"),
        ("sv", "3 december 2026"),
    ],
)
def test_dates_read_as_each_language_writes_them(lang: str, expected: str) -> None:
    assert i18n.format_date(lang, date(2026, 12, 3)) == expected
    # The expiry is a UTC instant; its UTC day is the one shown, as before.
    assert i18n.format_date(lang, datetime(2026, 12, 3, 23, 30, tzinfo=UTC)) == expected


def test_the_closing_sentence_carries_the_long_date() -> None:
    day = i18n.format_date("de", datetime(2026, 12, 3, 9, tzinfo=UTC))
    assert i18n.t("de", "closes", date=day) == "Diese Anfrage schließt am 3. Dezember 2026."
    assert i18n.t("en", "thanks_detail", date=i18n.format_date("en", date(2026, 12, 3))) == (
        "You can change your answer until December 3, 2026."
    )


@pytest.mark.parametrize(
    ("lang", "counts"),
    [
        ("en", {0: "0 responses", 1: "1 response", 2: "2 responses", 1234: "1,234 responses"}),
        ("de", {0: "0 Antworten", 1: "1 Antwort", 1234: "1.234 Antworten"}),
        # French: 0 takes the singular; a round million takes "de" (CLDR's "many").
        (
            "fr",
            {
                0: "0 réponse",
                1: "1 réponse",
                2: "2 réponses",
                10**6: "1\u202f000\u202f000 de réponses",
            },
        ),
        ("es", {1: "1 respuesta", 2: "2 respuestas", 10**6: "1.000.000 de respuestas"}),
        ("fi", {1: "1 vastaus", 2: "2 vastausta"}),
        ("sv", {1: "1 svar", 2: "2 svar", 1234: "1\xa0234 svar"}),
    ],
)
def test_counted_messages_take_the_languages_plural_and_number_format(
    lang: str, counts: dict[int, str]
) -> None:
    for count, expected in counts.items():
        assert i18n.plural(lang, "n_responses", count) == expected


def test_numbers_in_messages_use_the_languages_format() -> None:
    assert i18n.plural("en", "n_tickets_met", 1, met=1) == "1 of 1 ticket"
    assert i18n.plural("de", "n_tickets_met", 2500, met=1200) == "1.200 von 2.500 Tickets"
    assert i18n.format_number("de", 1234.5) == "1.234,5"
    assert i18n.format_number("en", 1234.5) == "1,234.5"


@pytest.mark.parametrize("lang", list(i18n.LANGUAGE_NAMES))
def test_optional_is_lower_case_inside_its_parentheses(lang: str) -> None:
    """The page writes "(optional)" after a label; German had "(Optional)"."""
    optional = i18n.strings(lang)["optional"]
    assert optional == optional.lower()


async def test_the_dashboard_says_1_response_not_1_responses(
    client: httpx.AsyncClient, session: AsyncSession, read_headers: dict[str, str]
) -> None:
    await seed(session, [Case("2026-01-10T10:00:00", service="Email", sla=True, score=8)])
    key = read_headers["Authorization"].removeprefix("Bearer ")
    await client.post("/dashboard/login", data={"key": key})
    page = await client.get(
        "/dashboard", params={"date_from": "2026-01-01", "date_to": "2026-01-31"}
    )
    assert page.status_code == 200
    lines = re.findall(r'<p class="sub">(.*?)</p>', page.text)
    # The 95% margin is written as its range, clipped to the scale (docs/dashboard.md).
    assert '95%: +0.0 to +0.0 · 1 response · <span class="warn">low sample</span>' in lines
    assert "1 of 1 ticket" in lines and "0 responses on 1–5" in lines
    assert "1 responses" not in page.text and "1 tickets" not in page.text
