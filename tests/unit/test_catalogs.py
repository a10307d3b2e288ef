"""The letters' message catalogs: each committed .mo is its .po compiled, the template holds every message the
sources mark, nothing is left untranslated, and a letter comes out whole in every language."""

from __future__ import annotations

import re
from dataclasses import replace
from pathlib import Path

import pytest
from babel.messages.pofile import read_po
from support.catalogs import catalogs, messages_from

from station.enroll.handout import Handout, to_html
from station.enroll.pin_rules import PIN_CHANGE_BY_LETTER
from station.i18n import DOMAIN, LANGUAGES, LOCALE_DIR, SOURCE_LANGUAGE, direction, language_of

TRANSLATED = [lang for lang in LANGUAGES if lang != SOURCE_LANGUAGE]
ENTRY = Handout(upn="kim@contoso.com", display_name="Kim Ökland", key_model="YubiKey 5 NFC",
                passkey_name="YubiKey 5 NFC 2026-11-29", pin="48213905", state="done", enrolment_id=3,
                enrolled_at="2026-11-29T10:00:00+00:00")
RULES = ["applied: PIN change forced at first use; minimum PIN length 8",
         "applied: nothing — not enforced: " + PIN_CHANGE_BY_LETTER
         + "; this key cannot enforce a minimum PIN length of 1 on a new PIN",
         "applied: nothing"]


def letter_messages() -> list[str | tuple[str, ...]]:
    """The messages of the PIN letter (the catalogs also hold the technician's screen and remedies)."""
    return messages_from("enroll/handout.py")


def po(language: str) -> object:
    with open(LOCALE_DIR / language / "LC_MESSAGES" / f"{DOMAIN}.po", "rb") as f:
        return read_po(f, locale=language)


@pytest.mark.parametrize("language", TRANSLATED)
def test_the_committed_mo_is_the_po_compiled(language: str) -> None:
    mo = LOCALE_DIR / language / "LC_MESSAGES" / f"{DOMAIN}.mo"
    assert mo.read_bytes() == catalogs().compiled(language), \
        f"{mo} is stale: run 'python scripts/catalogs.py compile' and commit it"


@pytest.mark.parametrize("language", TRANSLATED)
def test_every_marked_message_is_translated_with_its_placeholders(language: str) -> None:
    wanted = {m.id for m in catalogs().template() if m.id}
    catalog = po(language)
    found = {m.id: m for m in catalog if m.id}  # type: ignore[attr-defined]
    assert set(found) == wanted, "the catalog misses or keeps messages: run python scripts/catalogs.py extract"
    for msgid, message in found.items():
        assert not message.fuzzy, f"{language}: fuzzy translation of {msgid!r}"
        ids = msgid if isinstance(msgid, tuple) else (msgid,)
        strings = message.string if isinstance(message.string, tuple) else (message.string,)
        assert all(strings), f"{language}: {ids[0]!r} is not translated"
        placeholders = set(re.findall(r"\{\w+\}", ids[0]))
        assert all(set(re.findall(r"\{\w+\}", s)) == placeholders for s in strings), f"{language}: {ids[0]!r}"


@pytest.mark.parametrize("language", LANGUAGES)
@pytest.mark.parametrize("rules", RULES)
def test_a_letter_in_every_language_has_no_message_left_in_english(language: str, rules: str) -> None:
    page = to_html([replace(ENTRY, pin_rules=rules, language=language)])
    assert f'lang="{language}"' in page and "{" not in page.split("</style>")[1]
    assert "Kim Ökland" in page and "48213905" in page
    if language != SOURCE_LANGUAGE:
        for msgid in letter_messages():
            for text in (msgid if isinstance(msgid, tuple) else (msgid,)):
                assert text.split("{")[0][:40] not in page, f"{language}: {text!r} left in English"


def test_the_persons_language_else_the_stations() -> None:
    assert language_of("de-DE") == "de" and language_of("nl") == "nl" and language_of("fr_CA") == "fr"
    assert language_of("pt-BR", "es") == "es" and language_of(None, "de") == "de" and language_of("") == "en"
    page = to_html([replace(ENTRY, language=""), replace(ENTRY, language="fr-FR")], language="de")
    assert "Ihr Sicherheitsschlüssel" in page and "Votre clé de sécurité" in page
    assert "Your security key" not in page


def test_a_letter_is_laid_out_in_its_languages_direction_and_the_pin_always_reads_left_to_right() -> None:
    assert [direction(t) for t in ("ar-EG", "he", "fa_IR", "de-DE", "en")] == ["rtl", "rtl", "rtl", "ltr", "ltr"]
    page = to_html([replace(ENTRY, language="de")])
    assert '<section class="letter" lang="de" dir="ltr">' in page
    assert '<p class="pin" dir="ltr">48213905</p>' in page, "a PIN is isolated left to right whatever the page's"


def test_a_right_to_left_name_is_isolated_in_the_letter() -> None:
    page = to_html([replace(ENTRY, display_name="דנה כהן", language="de"),
                    replace(ENTRY, display_name="مريم العلي", upn="maryam@contoso.com", language="en")])
    assert 'Guten Tag <bdi dir="auto">דנה כהן</bdi>,' in page
    assert 'Dear <bdi dir="auto">مريم العلي</bdi>,' in page
    assert '<strong><bdi dir="auto">maryam@contoso.com</bdi></strong>' in page


def test_no_message_is_marked_inside_an_f_string() -> None:
    """Babel does not look inside f-strings: a message marked there would never reach the catalogs."""
    root = Path(__file__).resolve().parents[2] / "station"
    hidden = [f"{path.relative_to(root)}:{n}" for path in root.rglob("*.py")
              for n, line in enumerate(path.read_text().splitlines(), 1) if re.search(r"\{(_|N_|ngettext)\(", line)]
    assert hidden == [], "translate outside the f-string: " + ", ".join(hidden)
