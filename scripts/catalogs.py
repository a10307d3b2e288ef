"""Message catalogs, with Babel (the test extra). `python scripts/catalogs.py extract` writes
station/locale/station.pot from the sources and merges it into every language's station.po (new messages
untranslated, gone ones dropped); translate the new messages there; `compile` writes each station.mo from its
station.po. Commit both: tests/unit/test_catalogs.py checks that they match."""

from __future__ import annotations

import sys
from pathlib import Path

from babel.messages.catalog import Catalog
from babel.messages.extract import extract_from_dir
from babel.messages.mofile import write_mo
from babel.messages.pofile import read_po, write_po

from station.i18n import DOMAIN, EXTRACT_KEYWORDS, LANGUAGES, LOCALE_DIR, SOURCE_LANGUAGE

ROOT = Path(__file__).resolve().parent.parent


def template() -> Catalog:
    pot = Catalog(project="Station", domain=DOMAIN, fuzzy=False)
    for path, line, message, comments, context in extract_from_dir(
            ROOT / "station", keywords=EXTRACT_KEYWORDS, comment_tags=("Translators:",)):
        pot.add(message, None, [(f"station/{path}", line)], auto_comments=comments, context=context)
    return pot


def po_path(language: str) -> Path:
    return LOCALE_DIR / language / "LC_MESSAGES" / f"{DOMAIN}.po"


def extract() -> None:
    pot = template()
    with open(LOCALE_DIR / f"{DOMAIN}.pot", "wb") as f:
        write_po(f, pot, omit_header=False, sort_output=True, width=120)
    for language in LANGUAGES:
        if language == SOURCE_LANGUAGE:
            continue
        path = po_path(language)
        path.parent.mkdir(parents=True, exist_ok=True)
        if path.exists():
            with open(path, "rb") as f:
                catalog = read_po(f, locale=language)
            catalog.update(pot, no_fuzzy_matching=True)
            catalog.obsolete.clear()
        else:
            catalog = Catalog(locale=language, domain=DOMAIN, project="Station", fuzzy=False)
            catalog.update(pot, no_fuzzy_matching=True)
        with open(path, "wb") as f:
            write_po(f, catalog, sort_output=True, width=120)


def compiled(language: str) -> bytes:
    """The .mo Babel compiles from ``language``'s .po (what compile writes, and what the test compares)."""
    import io

    with open(po_path(language), "rb") as f:
        catalog = read_po(f, locale=language)
    out = io.BytesIO()
    write_mo(out, catalog)
    return out.getvalue()


def compile_all() -> None:
    for language in LANGUAGES:
        if language != SOURCE_LANGUAGE:
            po_path(language).with_suffix(".mo").write_bytes(compiled(language))


if __name__ == "__main__":
    {"extract": extract, "compile": compile_all}[sys.argv[1]]()
