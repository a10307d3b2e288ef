"""The rollout's progress, pace and finish estimate, as the dashboard, `station status` and `station fleet` say them."""

from __future__ import annotations

from datetime import UTC

import pytest

from station.i18n import speak
from station.rollout import Rollout, counted

NOW = 1_700_000_000.0  # 2023-11-14 22:13:20 UTC


def rollout(recent: int, **queue: int) -> Rollout:
    return Rollout.from_counts(queue, recent_done=recent, window=900, at=NOW)


def test_counts_fraction_bar_and_estimate() -> None:
    r = rollout(6, queued=20, claimed=2, enrolled=74, failed=4, skipped=3)
    assert (r.group, r.left, r.pace_per_hour) == (100, 22, 24.0)
    assert r.counts_line() == "74 of 100 done (74%) · 2 in progress · 20 waiting · 4 failed · 3 skipped"
    assert r.bar(10) == "███████░░░"
    assert r.finish_at() == NOW + 22 / 24 * 3600
    assert r.pace_line(UTC) == "pace 24 per hour (last 15 min) · at this pace done by 23:08 (in 55 min)"


def test_a_finish_after_midnight_names_its_day_and_no_pace_gives_no_estimate() -> None:
    assert rollout(1, queued=40).pace_line(UTC) == ("pace 4 per hour (last 15 min) · at this pace done by "
                                                   "2023-11-15 08:13 (in 10 h)")
    assert rollout(0, queued=5).pace_line(UTC).endswith("no finish estimate until keys are done")
    done = rollout(0, enrolled=7)
    assert done.pace_line(UTC).endswith("nobody left to enrol") and done.fraction == 1.0 and done.bar(4) == "████"
    assert rollout(0).bar(3) == "░░░"
    assert rollout(0).counts_line() == "0 of 0 done (0%) · 0 in progress · 0 waiting · 0 failed"


@pytest.mark.parametrize(("language", "one", "two"), [
    ("en", "1 skipped", "2 skipped"), ("fr", "1 sauté", "2 sautés"), ("es", "1 omitido", "2 omitidos"),
    ("de", "1 übersprungen", "2 übersprungen")])
def test_a_count_takes_its_languages_plural_form(language: str, one: str, two: str) -> None:
    before = speak(language)
    try:
        assert (counted("skipped", 1), counted("skipped", 2)) == (one, two)
        done = rollout(0, enrolled=1, queued=3).counts_line()
    finally:
        speak(before)
    assert done.startswith({"en": "1 of 4 done", "fr": "1 sur 4 terminé ", "es": "1 de 4 listo ",
                            "de": "1 von 4 fertig"}[language])
