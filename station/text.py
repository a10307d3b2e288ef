"""Untrusted text — names, UPNs, key serials, USB product strings, anything from the directory or a device.

One rule, in two halves:

- **On the way in** (CSV import, ``queue add``, the directory import, a key's model name) :func:`problems`
  names every character a person's name or identifier never needs — C0 and C1 control characters (NUL,
  ESC, newline, tab…), bidirectional embeddings, overrides, isolates and marks, invisible zero-width
  characters and line separators, lone surrogates — and an over-long value. Imports refuse such a value with
  what was found, or :func:`cleaned` strips it and says what was removed. ZERO WIDTH NON-JOINER and JOINER
  stay: Persian and Indic names and emoji need them.
- **On the way out** :func:`visible` shows those characters as escapes (``\\x1b``, ``\\n``, ``\\u202e``)
  so a terminal, a log line or a dashboard never obeys them. Textual widgets also take the text as data
  (``Text``/``Content`` objects or ``markup=False``), never as markup.
"""

from __future__ import annotations

import json
import re
import unicodedata
from typing import Any, Final

DISPLAY_NAME_MAX: Final = 256  # Entra ID's limit for displayName
UPN_MAX: Final = 113  # Entra ID's limit for userPrincipalName (64 before the @, 48 after)
KEY_SERIAL_MAX: Final = 256  # the key-assignment column
MODEL_MAX: Final = 128  # the journal's model column

_BIDI: Final = "\u061c\u200e\u200f\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069"
_INVISIBLE: Final = "\u180e\u200b\u2028\u2029\u2060\ufeff"
_UNWANTED: Final = re.compile(f"[\\x00-\\x1f\\x7f-\\x9f{_BIDI}{_INVISIBLE}\\ud800-\\udfff]")
_SHORT: Final = {"\n": "\\n", "\r": "\\r", "\t": "\\t"}
_NAMES: Final = {"\x00": "NUL", "\x07": "BEL", "\x08": "backspace", "\x1b": "ESC", "\n": "line feed",
                 "\r": "carriage return", "\t": "tab", "\x7f": "DEL"}


def _escape(ch: str) -> str:
    if ch in _SHORT:
        return _SHORT[ch]
    code = ord(ch)
    return f"\\x{code:02x}" if code <= 0xFF else f"\\u{code:04x}"


def visible(value: object, *, keep: str = "") -> str:
    """``value`` as text that a terminal, a log or a dashboard shows without obeying: every control, bidi
    and invisible character becomes an escape (ESC → ``\\x1b``, newline → ``\\n``, RLO → ``\\u202e``),
    but those in ``keep`` (a CSV cell keeps its tabs and line breaks, which CSV quoting carries)."""
    return _UNWANTED.sub(lambda m: m.group() if m.group() in keep else _escape(m.group()), str(value))


def _describe(ch: str) -> str:
    code = ord(ch)
    name = _NAMES.get(ch) or unicodedata.name(ch, "").lower()
    if not name:
        name = ("a C1 control character" if 0x80 <= code <= 0x9F else
                "a lone surrogate" if 0xD800 <= code <= 0xDFFF else "a control character")
    return f"U+{code:04X} ({name})"


def problems(value: str, field: str, max_length: int) -> list[str]:
    """What is wrong with ``value`` as the ``field`` of a person: unwanted characters (each kind once, with
    where it first is) and an over-long value. Empty when it may be stored and shown as it is."""
    found: list[str] = []
    seen: set[str] = set()
    for m in _UNWANTED.finditer(value):
        if m.group() not in seen:
            seen.add(m.group())
            found.append(f"{_describe(m.group())} at character {m.start() + 1}")
    out = []
    if found:
        out.append(f"{field} holds {', '.join(found[:3])}" + (f" and {len(found) - 3} more" if len(found) > 3
                                                              else "")
                   + "; control, bidirectional and invisible characters are not accepted")
    if len(value) > max_length:
        out.append(f"{field} is {len(value)} characters long; at most {max_length} are accepted")
    return out


def cleaned(value: str) -> tuple[str, str]:
    """``value`` without its unwanted characters, and what was removed ("" when nothing was)."""
    removed = _UNWANTED.findall(value)
    if not removed:
        return value, ""
    kinds = sorted(set(removed), key=removed.index)
    what = ", ".join(_describe(ch) for ch in kinds[:3]) + (f" and {len(kinds) - 3} more" if len(kinds) > 3 else "")
    return _UNWANTED.sub("", value), f"removed {len(removed)} character(s): {what}"


_JSON_UNWANTED: Final = re.compile(f"[\\x7f-\\x9f{_BIDI}{_INVISIBLE}\\ud800-\\udfff]")


def json_text(data: Any, **kwargs: Any) -> str:
    """JSON for a terminal or a file: ``json.dumps`` escapes C0 controls already; this also escapes C1, bidi
    and invisible characters (as ``\\uXXXX``, so the data is unchanged), which ``ensure_ascii=False`` keeps."""
    text = json.dumps(data, ensure_ascii=False, **kwargs)
    return _JSON_UNWANTED.sub(lambda m: f"\\u{ord(m.group()):04x}", text)


def person_problems(upn: str, display_name: str, key_serial: str | None = None) -> list[str]:
    """What keeps a person's UPN, display name or key serial out of the queue (see :func:`problems`)."""
    return (problems(upn, "upn", UPN_MAX) + problems(display_name, "display_name", DISPLAY_NAME_MAX)
            + problems(key_serial or "", "key_serial", KEY_SERIAL_MAX))


def visible_lines(text: str) -> str:
    """``text`` written on several lines on purpose (a message with its details), each line :func:`visible`."""
    return "\n".join(visible(line) for line in text.split("\n"))
