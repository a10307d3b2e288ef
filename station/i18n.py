"""Translations: gettext catalogs for the languages Station speaks, and how a person's language is chosen.

The catalogs live in ``station/locale/<language>/LC_MESSAGES/station.po``; Babel extracts the messages into
``station/locale/station.pot`` and compiles each ``.po`` into the ``.mo`` beside it, which is committed too
(``tests/unit/test_catalogs.py`` checks that every ``.mo`` is the compiled ``.po`` and that no message is left
untranslated), so that an installed station reads them with the standard library alone. English is the
source language: it has no catalog.

Two languages are spoken. A PIN letter is in its person's language (``translations(language_of(tag))``). What
the technician reads — the dashboard, the remedies — is in the station's language (``[station] language``),
which the command line sets once it has read the configuration (``speak``); ``_`` and ``ngettext`` translate
into it.
"""

from __future__ import annotations

import gettext
import re
from functools import lru_cache
from pathlib import Path
from typing import Final

DOMAIN: Final = "station"
LOCALE_DIR: Final = Path(__file__).parent / "locale"
SOURCE_LANGUAGE: Final = "en"
LANGUAGES: Final = ("en", "de", "fr", "es", "nl")
# What Babel looks for in the sources.
EXTRACT_KEYWORDS: Final = {"_": None, "N_": None, "NP_": (1, 2), "ngettext": (1, 2)}


def N_(message: str) -> str:
    """Marks a message for extraction where it is defined; it is translated where it is used."""
    return message


def NP_(singular: str, plural: str) -> tuple[str, str]:
    """Marks a message with plural forms for extraction (keyword ``NP_:1,2``); used with ``ngettext``."""
    return singular, plural


_LANGUAGE_TAG: Final = re.compile(r"^[A-Za-z]{2,8}(-[A-Za-z0-9]{1,8}){0,4}$")
LANGUAGE_TAG_MAX: Final = 35  # the store's column


def is_language_tag(tag: str) -> bool:
    """Whether ``tag`` has the shape of a BCP 47 language tag ("de", "de-DE", "zh-Hant-TW") that fits the store."""
    return len(tag) <= LANGUAGE_TAG_MAX and _LANGUAGE_TAG.match(tag) is not None


# Languages written right to left (none of LANGUAGES yet): a letter in one is laid out from the right.
RIGHT_TO_LEFT: Final = frozenset({"ar", "he", "fa", "ur", "yi", "ps", "dv", "ckb", "sd", "ug"})


def direction(language: str) -> str:
    """The HTML ``dir`` of text in ``language`` (a language or a BCP 47 tag): "rtl" or "ltr"."""
    return "rtl" if language.replace("_", "-").split("-")[0].lower() in RIGHT_TO_LEFT else "ltr"


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


_spoken: list[str] = [SOURCE_LANGUAGE]  # the station's language; one element, so that speak() can replace it


def speak(language: str) -> str:
    """Make ``language`` (one of LANGUAGES; anything else is English) the station's language: what ``_`` and
    ``ngettext`` translate into. Returns the language spoken until now, so that a caller can restore it."""
    previous, _spoken[0] = _spoken[0], language_of(language)
    return previous


def spoken() -> str:
    """The station's language: what the technician reads is in it."""
    return _spoken[0]


def _(message: str) -> str:
    """``message`` in the station's language (the message itself when its catalog lacks it)."""
    return translations(_spoken[0]).gettext(message) if message else message


def ngettext(singular: str, plural: str, n: int) -> str:
    """The singular or plural form for ``n``, in the station's language (``{n}`` is left to the caller)."""
    return translations(_spoken[0]).ngettext(singular, plural, n)
