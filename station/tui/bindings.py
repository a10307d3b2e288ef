"""Key bindings whose footer words are in the station's language."""

from __future__ import annotations

from dataclasses import replace

from textual.dom import DOMNode

from station.i18n import _


def speak_bindings(node: DOMNode) -> None:
    """Translate ``node``'s footer words (its BINDINGS' descriptions, marked with N_) into the station's language;
    call it from the node's ``__init__``, after Textual's."""
    bindings = node._bindings.key_to_bindings
    for key, found in bindings.items():
        bindings[key] = [replace(b, description=_(b.description)) for b in found]
