"""Translations: gettext catalogs for the languages Station speaks, and how a person's language is chosen.

The catalogs live in ``station/locale/<language>/LC_MESSAGES/station.po``; Babel extracts the messages into
``station/locale/station.pot`` and compiles each ``.po`` into the ``.mo`` beside it, which is committed too
(``tests/unit/test_catalogs.py`` checks that every ``.mo`` is the compiled ``.po`` and that no message is left
untranslated), so that an installed station reads them with the standard library alone. English is the
source language: it has no catalog.
"""

from __future__ import annotations

import gettext
from functools import lru_cache
from pathlib import Path
from typing import Final

DOMAIN: Final = "station"
LOCALE_DIR: Final = Path(__file__).parent / "locale"
SOURCE_LANGUAGE: Final = "en"
LANGUAGES: Final = ("en", "de", "fr", "es", "nl")
EXTRACT_KEYWORDS: Final = {"_": None, "N_": None, "NP_": (1, 2)}  # what Babel looks for in the sources


def N_(message: str) -> str:
    """Marks a message for extraction where it is defined; it is translated where it is used."""
    return message


def NP_(singular: str, plural: str) -> tuple[str, str]:
    """Marks a message with plural forms for extraction (keyword ``NP_:1,2``); used with ``ngettext``."""
    return singular, plural


def language_of(tag: str | None, fallback: str = SOURCE_LANGUAGE) -> str:
    """The language Station speaks for a BCP 47 tag from Entra ID's ``preferredLanguage`` ("de-DE" → "de",
    "nl" → "nl"); ``fallback`` for an empty tag or a language without a catalog."""
    primary = (tag or "").strip().replace("_", "-").split("-")[0].lower()
    return primary if primary in LANGUAGES else fallback


@lru_cache(maxsize=len(LANGUAGES))
def translations(language: str) -> gettext.NullTranslations:
    """The catalog for ``language`` (one of LANGUAGES); the source text for English."""
    if language == SOURCE_LANGUAGE:
        return gettext.NullTranslations()
    return gettext.translation(DOMAIN, LOCALE_DIR, languages=[language])
