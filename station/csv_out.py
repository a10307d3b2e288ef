"""CSV that Station writes for spreadsheets, with every text cell neutralised against formula injection.

A spreadsheet runs a cell that starts with ``=``, ``+``, ``-`` or ``@`` (or with a tab or carriage return
before one) as a formula — a ``HYPERLINK`` formula in a display name could send the row's PIN away when the
sheet is opened. Following OWASP's rule, such a text cell is written with a leading ``'``, which spreadsheets
show as text and do not evaluate. Numbers (``int``/``float`` values) are written as they are: ``-3`` is a
number, not a formula. Lines end in CRLF (RFC 4180), so that a carriage return inside a cell is quoted
like a newline is. Other control characters (ESC, C1, bidi overrides, NUL) are written as visible escapes
(``\\x1b``), so that a CSV printed on a terminal cannot drive it.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable, Mapping, Sequence
from typing import Any, Final

from station.text import visible

FORMULA_STARTS: Final = ("=", "+", "-", "@", "\t", "\r")


def safe_cell(value: Any) -> Any:
    """The value as a spreadsheet cell that is never evaluated as a formula."""
    if value is None or isinstance(value, bool | int | float):
        return value
    text = visible(str(value), keep="\t\r\n")
    return "'" + text if text.startswith(FORMULA_STARTS) else text


def write_rows(out: Any, fields: Sequence[str], rows: Iterable[Mapping[str, Any]]) -> None:
    """A header and one line per row (only ``fields``, in that order) to the text stream ``out``."""
    writer = csv.DictWriter(out, fieldnames=list(fields), lineterminator="\r\n", extrasaction="ignore")
    writer.writeheader()
    for row in rows:
        writer.writerow({f: safe_cell(row.get(f)) for f in fields})


def to_csv(fields: Sequence[str], rows: Iterable[Mapping[str, Any]]) -> str:
    out = io.StringIO()
    write_rows(out, fields, rows)
    return out.getvalue()
