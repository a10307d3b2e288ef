"""The hand-out letter (the Temporary Access Pass and how to register the key) in every language Station speaks:
nothing of its own left in English, the person's language else the station's, laid out in that language's
direction with the pass always left to right and names isolated."""

from __future__ import annotations

import re
from dataclasses import replace

import pytest
from support.catalogs import messages_from

from station.i18n import LANGUAGES, SOURCE_LANGUAGE
from station.lifecycle.tap_letter import TapLetter, to_html

LETTER = TapLetter(upn="kim@contoso.com", display_name="Kim Ökland", key_serial="31234567",
                   key_model="YubiKey 5 NFC", temporary_access_pass="hX7#pQ2!kM9z", expires="2026-12-06 09:00 UTC",
                   single_use=True, handout_id=4)


@pytest.mark.parametrize("language", LANGUAGES)
def test_a_hand_out_letter_in_every_language_has_no_message_left_in_english(language: str) -> None:
    page = to_html([replace(LETTER, language=language)])
    body = page.split("</style>")[1]
    assert f'<section class="letter" lang="{language}" dir="ltr">' in page and "{" not in body
    assert "Kim Ökland" in page and '<p class="tap" dir="ltr">hX7#pQ2!kM9z</p>' in page
    assert "https://mysignins.microsoft.com/security-info" in page and "31234567" in page
    messages = [m for m in messages_from("lifecycle/tap_letter.py") if isinstance(m, str)]
    assert len(messages) >= 10
    if language != SOURCE_LANGUAGE:
        for text in messages:
            longest = max(re.split(r"\{\w+\}", text), key=len).strip()  # "Open {url} in…": the words, not "Open"
            assert longest[:40] not in body, f"{language}: {text!r} left in English"


def test_the_persons_language_else_the_stations() -> None:
    page = to_html([replace(LETTER, language=""), replace(LETTER, language="fr-FR")], language="de")
    assert "Ihr befristeter Zugriffspass" in page and "Votre passe d’accès temporaire" in page
    assert "Your Temporary Access Pass" not in page
    assert "Er gilt nur für eine einzige Anmeldung." in page


def test_a_right_to_left_name_is_isolated_and_a_pass_cannot_inject_markup() -> None:
    page = to_html([replace(LETTER, display_name="דנה כהן", language="de",
                            temporary_access_pass="<b>x</b>&")])
    assert 'Guten Tag <bdi dir="auto">דנה כהן</bdi>,' in page
    assert '<p class="tap" dir="ltr">&lt;b&gt;x&lt;/b&gt;&amp;</p>' in page
