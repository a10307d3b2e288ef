"""The report as JSON (every figure of the HTML, every person listed) and as CSV for spreadsheets: one line per
person the report covers — each person enrolled in the range (station, day, seconds from claim to done, key
model) and each person waiting, failed or skipped now (state, reason of the last failure). Text cells are
written formula-safe (``station.csv_out``)."""

from __future__ import annotations

import csv
import io
from datetime import datetime
from typing import Final

from station.csv_out import safe_cell
from station.enroll.reasons import remedy_for
from station.report.build import DateRange, Report, first_done
from station.report.rows import Rows
from station.states import PersonState
from station.text import json_text

CSV_FIELDS: Final = ("upn", "display_name", "state", "station", "enrolled_on", "seconds", "model", "reason",
                     "remedy")


def to_json(report: Report) -> str:
    return json_text(report.to_dict()) + "\n"


def people_csv(rows: Rows, span: DateRange) -> str:
    """One line per person covered; ``station.csv_out``'s rules (CRLF, formula-safe text) with a writer of
    lists, not dicts, and station ids and models (a handful of values) made safe once each."""
    done = first_done(rows.enrolments)
    start, end = span.start, span.end
    failed, enrolled = PersonState.FAILED.value, PersonState.ENROLLED.value
    few: dict[str, object] = {}
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow(CSV_FIELDS)
    for p in rows.people:
        person = [safe_cell(p.upn), safe_cell(p.display_name), p.state]
        e = done.get(p.id)
        if e is not None and start <= e.updated_at < end:
            station = few.get(e.station_id) or few.setdefault(e.station_id, safe_cell(e.station_id))
            model = few.get(e.model) or few.setdefault(e.model, safe_cell(e.model))
            writer.writerow([*person, station, datetime.fromtimestamp(e.updated_at).date().isoformat(),
                             round(max(0.0, e.updated_at - e.created_at), 1), model, "", ""])
        elif p.state == failed:
            reason = p.note.split(":", 1)[0] or "unknown"
            writer.writerow([*person, "", "", "", "", safe_cell(reason), remedy_for(reason)])
        elif p.state != enrolled:
            writer.writerow([*person, "", "", "", "", "", ""])
    return out.getvalue()
