"""How an unresolved enrolment is put to an operator: one line per row, and what to do about it.

Plain text from a status snapshot's ``unresolved`` items, with no store or Graph imports, so that
``station status`` stays light; ``station.unresolved`` builds the items and settles the rows.
"""

from __future__ import annotations

import time
from collections.abc import Mapping
from typing import Any

REMEDY = ("Fix what stops Entra ID from answering (see 'station doctor'): the station asks again by itself, "
          "or run 'station queue resolve UPN'. Never retry such a person with another key before that.")


def describe(item: Mapping[str, Any], now: float | None = None) -> str:
    """One line: ``enrolment 12 of kim@contoso.com (registering at desk-1): auth_failed: …; next check in 2 min``."""
    text = (f"enrolment {item['enrolment_id']} of {item.get('upn') or '?'} ({item['state']} at {item['station']}): "
            f"{item.get('why') or 'outcome unknown'}")
    due = item.get("next_check_at")
    if due is not None:
        left = due - (time.time() if now is None else now)
        text += "; next check " + ("due now" if left <= 0 else f"in {_duration(left)}")
    return text


def _duration(seconds: float) -> str:
    return f"{seconds:.0f} s" if seconds < 90 else f"{seconds / 60:.0f} min"
