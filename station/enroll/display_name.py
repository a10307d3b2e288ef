"""The passkey's display name in Entra, rendered from a template and kept within 30 characters.

Placeholders: ``{model}``, ``{serial}`` (empty when the key exposes none), ``{date}`` (YYYY-MM-DD),
``{station}``, ``{upn}``, ``{name}``. When the result is too long the model is shortened first — its
trailing parenthesis goes first ("Security key (AAGUID …)" becomes "Security key", "YubiKey 5 Series with
NFC (Enterprise Profile)" loses the profile) — then the whole name is cut.
"""

from __future__ import annotations

import re
import string
from dataclasses import dataclass

MAX_DISPLAY_NAME = 30
PLACEHOLDERS = ("model", "serial", "date", "station", "upn", "name")


@dataclass(frozen=True)
class NameFacts:
    model: str
    date: str
    station: str
    serial: str = ""
    upn: str = ""
    name: str = ""


def check_template(template: str) -> None:
    """Raise ValueError naming any placeholder the template uses that does not exist."""
    used = {field for _, field, _, _ in string.Formatter().parse(template) if field is not None}
    unknown = sorted(f for f in used if f not in PLACEHOLDERS)
    if unknown:
        raise ValueError(f"unknown placeholder(s) {', '.join('{' + u + '}' for u in unknown)}; "
                         f"use {', '.join('{' + p + '}' for p in PLACEHOLDERS)}")


def render_display_name(template: str, facts: NameFacts) -> str:
    """The display name for ``facts``: at most 30 characters, never empty."""
    check_template(template)
    values = {p: getattr(facts, p) for p in PLACEHOLDERS}
    name = _render(template, values)
    if len(name) > MAX_DISPLAY_NAME:
        values["model"] = re.sub(r"\s*\([^()]*\)$", "", values["model"]) or values["model"]
        name = _render(template, values)
    while len(name) > MAX_DISPLAY_NAME and len(values["model"]) > 8:
        values["model"] = values["model"][: max(8, len(values["model"]) - (len(name) - MAX_DISPLAY_NAME))]
        name = _render(template, values)
    name = name[:MAX_DISPLAY_NAME].strip()
    return name or facts.model[:MAX_DISPLAY_NAME].strip() or "Security key"


def _render(template: str, values: dict[str, str]) -> str:
    return re.sub(r"\s+", " ", template.format_map(values)).strip(" -_")
