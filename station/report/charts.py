"""Inline SVG charts for the report: enrolments per day stacked by station, cumulative progress against the
rollout. Every text (station ids, dates) is escaped; sizes are fixed so the file needs no script or style sheet.
"""

from __future__ import annotations

from collections.abc import Sequence
from html import escape
from typing import Final

WIDTH: Final = 860
HEIGHT: Final = 260
LEFT: Final = 48
BOTTOM: Final = 36
TOP: Final = 12
RIGHT: Final = 12
COLOURS: Final = ("#2f6fb0", "#e08a1e", "#3a9a4f", "#b0413e", "#7b5ea7", "#8c6d31", "#d16ba5", "#5d8aa8")
ENROLLED: Final = "#2f6fb0"
ROLLOUT: Final = "#999999"


def colour(i: int) -> str:
    return COLOURS[i % len(COLOURS)]


def _frame(title: str, top: int, days: Sequence[str]) -> list[str]:
    """The SVG opening, the y axis labels (0 and ``top``) and up to eight date labels under the x axis."""
    plot_w, plot_h = WIDTH - LEFT - RIGHT, HEIGHT - TOP - BOTTOM
    parts = [f'<svg xmlns="http://www.w3.org/2000/svg" role="img" width="{WIDTH}" height="{HEIGHT}" '
             f'viewBox="0 0 {WIDTH} {HEIGHT}" font-family="sans-serif" font-size="11">',
             f"<title>{escape(title)}</title>",
             f'<line x1="{LEFT}" y1="{TOP + plot_h}" x2="{LEFT + plot_w}" y2="{TOP + plot_h}" stroke="#444"/>',
             f'<line x1="{LEFT}" y1="{TOP}" x2="{LEFT}" y2="{TOP + plot_h}" stroke="#444"/>',
             f'<text x="{LEFT - 6}" y="{TOP + plot_h}" text-anchor="end">0</text>',
             f'<text x="{LEFT - 6}" y="{TOP + 10}" text-anchor="end">{top}</text>']
    step = max(1, -(-len(days) // 8))
    slot = plot_w / max(1, len(days))
    for i in range(0, len(days), step):
        x = LEFT + slot * (i + 0.5)
        parts.append(f'<text x="{x:.1f}" y="{HEIGHT - BOTTOM + 16}" text-anchor="middle">{escape(days[i][5:])}</text>')
    return parts


def daily_bars(days: Sequence[str], per_station: dict[str, list[int]]) -> str:
    """Enrolled people per day, one stacked bar per day, one colour per station."""
    totals = [sum(counts[i] for counts in per_station.values()) for i in range(len(days))]
    top = max(totals, default=0) or 1
    plot_w, plot_h = WIDTH - LEFT - RIGHT, HEIGHT - TOP - BOTTOM
    slot = plot_w / max(1, len(days))
    bar = max(1.0, slot * 0.8)
    parts = _frame("People enrolled per day, by station", top, days)
    base = [0] * len(days)
    for s, (station, counts) in enumerate(per_station.items()):
        for i, n in enumerate(counts):
            if not n:
                continue
            h = plot_h * n / top
            y = TOP + plot_h - plot_h * base[i] / top - h
            x = LEFT + slot * i + (slot - bar) / 2
            parts.append(f'<rect x="{x:.1f}" y="{y:.1f}" width="{bar:.1f}" height="{h:.1f}" fill="{colour(s)}">'
                         f"<title>{escape(days[i])} · {escape(station)}: {n}</title></rect>")
            base[i] += n
    parts.append("</svg>")
    return "".join(parts)


def progress_lines(days: Sequence[str], enrolled: Sequence[int], rollout: Sequence[int]) -> str:
    """People enrolled by the end of each day against the people in the rollout by then."""
    top = max([*enrolled, *rollout], default=0) or 1
    plot_w, plot_h = WIDTH - LEFT - RIGHT, HEIGHT - TOP - BOTTOM
    slot = plot_w / max(1, len(days))
    parts = _frame("Cumulative progress against the rollout", top, days)
    for values, stroke, name in ((rollout, ROLLOUT, "in the rollout"), (enrolled, ENROLLED, "enrolled")):
        points = " ".join(f"{LEFT + slot * (i + 0.5):.1f},{TOP + plot_h - plot_h * v / top:.1f}"
                          for i, v in enumerate(values))
        last = values[-1] if values else 0
        parts.append(f'<polyline points="{points}" fill="none" stroke="{stroke}" stroke-width="2">'
                     f"<title>{name}: {last}</title></polyline>")
    parts.append("</svg>")
    return "".join(parts)
