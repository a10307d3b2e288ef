"""The step bar of a card: inspect → claim → PIN → touch → register → done, with icons as well as colour."""

from __future__ import annotations

from rich.text import Text
from textual.reactive import reactive
from textual.widget import Widget

from station.i18n import N_, _
from station.tui.model import STAGES, Outcome

# The stages' names as the bar shows them (translated when drawn), and shorter ones for a narrow card.
LABELS = {"inspect": N_("inspect"), "claim": N_("claim"), "PIN": N_("PIN"), "touch": N_("touch"),
          "register": N_("register"), "done": N_("done")}
# Translators: short forms of the step names inspect and register, for a narrow card.
SHORT = {**LABELS, "inspect": N_("insp"), "register": N_("reg")}
PAST, CURRENT, FAILED, AHEAD = "✔", "●", "✘", "○"


def step_marks(stage: int, outcome: Outcome) -> list[tuple[str, str]]:
    """(icon, style) per stage: done ones ticked, the current one marked (or crossed when it failed)."""
    marks = []
    for i in range(len(STAGES)):
        if outcome is Outcome.DONE or i < stage:
            marks.append((PAST, "step-past"))
        elif i == stage and outcome in (Outcome.FAILED, Outcome.REJECTED):
            marks.append((FAILED, "step-failed"))
        elif i == stage:
            marks.append((CURRENT, "step-current"))
        else:
            marks.append((AHEAD, "step-ahead"))
    return marks


class StepBar(Widget):
    """Where an enrolment stands. ``stage`` indexes STAGES; ``outcome`` decides ✔/●/✘."""

    stage: reactive[int] = reactive(0)
    outcome: reactive[Outcome] = reactive(Outcome.WORKING)

    COMPONENT_CLASSES = {"step-past", "step-current", "step-failed", "step-ahead"}

    def render(self) -> Text:
        marks = step_marks(self.stage, self.outcome)
        width = self.content_size.width
        full, short = tuple(_(LABELS[s]) for s in STAGES), tuple(_(SHORT[s]) for s in STAGES)
        for labels, sep in ((full, " › "), (full, " "), (short, " ")):
            text = Text(no_wrap=True, overflow="crop")
            for i, ((icon, cls), label) in enumerate(zip(marks, labels, strict=True)):
                if i:
                    text.append(sep, style=self.get_component_rich_style("step-ahead"))
                shown = label.upper() if cls in ("step-current", "step-failed") else label
                text.append(f"{icon} {shown}", style=self.get_component_rich_style(cls))
            if text.cell_len <= width:
                return text
        return text
