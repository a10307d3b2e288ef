"""The report as JSON (every figure of the HTML, every person listed) and as CSV for spreadsheets: one line per
person the report covers — each person enrolled in the range (station, day, seconds from claim to done, key
model) and each person waiting, failed or skipped now (state, reason of the last failure). Text cells are
written formula-safe (``station.csv_out``)."""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any, Final

from station.csv_out import to_csv
from station.enroll.reasons import remedy_for
from station.report.build import DateRange, Report, first_done
from station.report.rows import Rows
from station.states import PersonState

CSV_FIELDS: Final = ("upn", "display_name", "state", "station", "enrolled_on", "seconds", "model", "reason",
                     "remedy")


def to_json(report: Report) -> str:
    return json.dumps(report.to_dict(), indent=2, ensure_ascii=False) + "\n"


def people_csv(rows: Rows, span: DateRange) -> str:
    done = first_done(rows.enrolments)
    start, end = span.start, span.end
    out: list[dict[str, Any]] = []
    for p in rows.people:
        row: dict[str, Any] = {"upn": p.upn, "display_name": p.display_name, "state": p.state}
        e = done.get(p.id)
        if e is not None and start <= e.updated_at < end:
            row.update(station=e.station_id, enrolled_on=datetime.fromtimestamp(e.updated_at).date().isoformat(),
                       seconds=round(max(0.0, e.updated_at - e.created_at), 1), model=e.model)
        elif p.state == PersonState.ENROLLED.value:
            continue
        elif p.state == PersonState.FAILED.value:
            reason = p.note.split(":", 1)[0] or "unknown"
            row.update(reason=reason, remedy=remedy_for(reason))
        out.append(row)
    return to_csv(CSV_FIELDS, out)
