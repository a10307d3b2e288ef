"""The report as one self-contained HTML file: inline CSS and SVG, no script, and a Content-Security-Policy
that forbids loading anything, so it opens anywhere offline and a name in it can never run or fetch.

Every value from the store (names, UPNs, notes, station ids, models) is untrusted text: it is escaped.
Long lists (people waiting) stop at ``MAX_LISTED`` rows and say how many more there are and how to list them.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from html import escape
from typing import Any, Final

from station.report.build import Report
from station.report.charts import colour, daily_bars, progress_lines
from station.text import visible

MAX_LISTED: Final = 500
CSP: Final = "default-src 'none'; style-src 'unsafe-inline'; img-src data:"
STYLE: Final = """
body{font-family:sans-serif;margin:2em auto;max-width:60em;color:#222}
h1{font-size:1.6em;margin-bottom:.2em}h2{font-size:1.2em;margin-top:1.8em;border-bottom:1px solid #ccc}
table{border-collapse:collapse;margin:.5em 0}td,th{border:1px solid #ddd;padding:.25em .6em;text-align:left;
vertical-align:top}td.n,th.n{text-align:right}.tiles{display:flex;gap:1em;flex-wrap:wrap}
.tile{border:1px solid #ccc;border-radius:6px;padding:.6em 1em;min-width:8em}.tile b{display:block;font-size:1.6em}
.legend span{display:inline-block;margin-right:1.2em}.swatch{display:inline-block;width:.9em;height:.9em;
margin-right:.3em;vertical-align:middle}.muted{color:#666}
"""


def _e(value: Any) -> str:
    return escape(visible(str(value)), quote=True)


def _table(headers: Sequence[str], rows: Iterable[Sequence[Any]], numeric: frozenset[int] = frozenset()) -> str:
    head = "".join(f'<th{" class=n" if i in numeric else ""}>{_e(h)}</th>' for i, h in enumerate(headers))
    body = "".join("<tr>" + "".join(f'<td{" class=n" if i in numeric else ""}>{_e(v)}</td>'
                                    for i, v in enumerate(row)) + "</tr>" for row in rows)
    return f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"


def _listed(rows: list[dict[str, Any]], headers: Sequence[str], keys: Sequence[str], state: str) -> str:
    if not rows:
        return '<p class="muted">Nobody.</p>'
    shown = _table(headers, ([r[k] for k in keys] for r in rows[:MAX_LISTED]))
    more = len(rows) - MAX_LISTED
    if more > 0:
        shown += (f'<p class="muted">… and {more} more: <code>station queue list --state {_e(state)}</code> lists '
                  "everyone.</p>")
    return shown


def render(report: Report) -> str:
    r = report
    q = r.queue
    total = sum(n for state, n in q.items() if state != "skipped")
    share = f"{100 * q.get('enrolled', 0) / total:.1f} %" if total else "—"
    tiles = [("people enrolled in the range", r.enrolled), ("enrolled in all", f"{q.get('enrolled', 0)} of {total}"),
             ("done", share), ("waiting", q.get("queued", 0) + q.get("claimed", 0)), ("failed", q.get("failed", 0)),
             ("failed attempts in the range", r.failed_attempts), ("keys refused in the range", r.refused_keys)]
    if any(r.delegated.values()):
        tiles += [("keys handed out, not registered yet", r.delegated.get("handed_out", 0)),
                  ("handed-out keys registered", r.delegated.get("active", 0)),
                  ("hand-outs whose pass expired unused", r.delegated.get("expired", 0))]
    legend = "".join(f'<span><i class="swatch" style="background:{colour(i)}"></i>{_e(s)}</span>'
                     for i, s in enumerate(r.stations))
    waiting_rows = r.waiting
    parts = [
        "<!DOCTYPE html>",
        '<html lang="en"><head><meta charset="utf-8">',
        f'<meta http-equiv="Content-Security-Policy" content="{_e(CSP)}">',
        f"<title>Security key rollout {_e(r.since)} – {_e(r.until)}</title><style>{STYLE}</style></head><body>",
        f"<h1>Security key rollout</h1><p class=muted>{_e(r.since)} to {_e(r.until)} ({_e(r.timezone)}) · "
        f"made {_e(r.generated_at)} by <code>station report</code></p>",
        '<div class="tiles">' + "".join(f'<div class="tile"><b>{_e(v)}</b>{_e(k)}</div>' for k, v in tiles)
        + "</div>",
        "<h2>People enrolled per day</h2>", daily_bars(r.days, r.per_day), f'<p class="legend">{legend}</p>',
        _table(["station", "enrolled"], ((s, sum(c)) for s, c in r.per_day.items()), frozenset({1})),
        "<h2>Progress against the rollout</h2>", progress_lines(r.days, r.cumulative, r.rollout),
        '<p class="legend"><span><i class="swatch" style="background:#2f6fb0"></i>enrolled</span>'
        '<span><i class="swatch" style="background:#999"></i>people in the rollout</span></p>',
        "<h2>Time per key</h2><p class=muted>From the person's claim to done.</p>",
        _table(["station", "keys", "median (s)", "p95 (s)"],
               ((t["station"], t["keys"], t["median_seconds"], t["p95_seconds"]) for t in r.timing),
               frozenset({1, 2, 3})),
        "<h2>Keys by model</h2>",
        _table(["model", "keys"], ((m["model"], m["keys"]) for m in r.models), frozenset({1})),
        "<h2>Failed enrolments by reason</h2>",
        _table(["reason", "attempts", "what to do"], ((f["reason"], f["attempts"], f["remedy"]) for f in r.failures),
               frozenset({1})),
        "<h2>Keys refused at insertion</h2>",
        _table(["reason", "keys", "what to do"], ((f["reason"], f["keys"], f["remedy"]) for f in r.refusals),
               frozenset({1})),
        f"<h2>People who failed ({len(r.failed)})</h2>",
        _listed(r.failed, ["UPN", "name", "reason", "last note"], ["upn", "display_name", "reason", "note"],
                "failed"),
        f"<h2>People still waiting ({len(waiting_rows)})</h2>",
        _listed(waiting_rows, ["UPN", "name", "state", "queued on"], ["upn", "display_name", "state", "queued_on"],
                "queued"),
        "</body></html>",
    ]
    return "\n".join(parts)
