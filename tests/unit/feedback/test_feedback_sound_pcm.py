"""The tones as PCM: length, pitch, volume and fades, checked sample by sample (no audio device)."""

from __future__ import annotations

import itertools
import math
from array import array

import pytest

from station.errors import FeedbackError
from station.feedback.sound import (
    FAILURE_NOTES,
    GAP_SECONDS,
    SAMPLE_RATE,
    SUCCESS_NOTES,
    AlsaPlayer,
    failure_sound,
    melody,
    success_sound,
    tone,
)


def samples(pcm: bytes) -> list[int]:
    a = array("h")
    a.frombytes(pcm)
    return list(a)


def zero_crossing_hz(s: list[int], rate: int = SAMPLE_RATE) -> float:
    crossings = sum(1 for a, b in itertools.pairwise(s) if (a < 0) != (b < 0))
    return crossings / 2 / (len(s) / rate)


def dominant_hz(s: list[int], candidates: range, rate: int = SAMPLE_RATE) -> int:
    """The candidate frequency with the most energy (one DFT bin each)."""
    def power(hz: int) -> float:
        w = 2 * math.pi * hz / rate
        re = sum(x * math.cos(w * i) for i, x in enumerate(s))
        im = sum(x * math.sin(w * i) for i, x in enumerate(s))
        return re * re + im * im
    return max(candidates, key=power)


def test_a_tone_is_16_bit_mono_of_the_asked_length() -> None:
    assert len(tone(440, 0.25, 0.5)) == round(0.25 * SAMPLE_RATE) * 2
    assert len(tone(440, 0.25, 0.5, rate=8000)) == 2000 * 2


def test_a_tone_has_the_asked_pitch() -> None:
    s = samples(tone(880, 0.2, 0.5))
    assert zero_crossing_hz(s) == pytest.approx(880, rel=0.02)
    assert dominant_hz(s, range(700, 1100, 20)) == 880


def test_volume_scales_the_peak_and_zero_is_silence() -> None:
    assert max(samples(tone(440, 0.1, 1.0))) == pytest.approx(32767, rel=0.001)
    assert max(samples(tone(440, 0.1, 0.25))) == pytest.approx(32767 * 0.25, rel=0.002)
    assert set(samples(tone(440, 0.1, 0.0))) == {0}


def test_a_tone_fades_in_and_out_so_it_does_not_click() -> None:
    s = samples(tone(440, 0.1, 1.0))
    assert s[0] == 0 and s[-1] == 0
    first_ms = round(SAMPLE_RATE / 1000)
    assert max(abs(x) for x in s[:first_ms]) < 0.15 * 32767
    assert max(abs(x) for x in s[-first_ms:]) < 0.15 * 32767


def test_a_melody_is_its_notes_with_short_silences_between() -> None:
    pcm = melody(SUCCESS_NOTES, 0.5)
    gap = round(GAP_SECONDS * SAMPLE_RATE)
    lengths = [round(n.seconds * SAMPLE_RATE) for n in SUCCESS_NOTES]
    assert len(pcm) == (sum(lengths) + gap * (len(lengths) - 1)) * 2
    s = samples(pcm)
    assert set(s[lengths[0]:lengths[0] + gap]) == {0}


def test_success_rises_and_failure_falls() -> None:
    def pitches(pcm: bytes, notes: tuple) -> list[float]:
        s, out, at = samples(pcm), [], 0
        for n in notes:
            count = round(n.seconds * SAMPLE_RATE)
            out.append(zero_crossing_hz(s[at:at + count]))
            at += count + round(GAP_SECONDS * SAMPLE_RATE)
        return out
    up = pitches(success_sound(0.5), SUCCESS_NOTES)
    down = pitches(failure_sound(0.5), FAILURE_NOTES)
    assert up == [pytest.approx(n.hz, rel=0.03) for n in SUCCESS_NOTES] and up[0] < up[1]
    assert down == [pytest.approx(n.hz, rel=0.03) for n in FAILURE_NOTES] and down[0] > down[1]
    assert min(up) > 2 * max(down)


def test_without_aplay_the_error_says_which_package_to_install() -> None:
    with pytest.raises(FeedbackError) as caught:
        AlsaPlayer("default", aplay="station-test-no-such-aplay").play(tone(440, 0.01, 0.1))
    assert "is not installed" in caught.value.message and "alsa-utils" in caught.value.remedy
