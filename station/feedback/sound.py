"""Short success and failure tones, generated as PCM and played through ALSA's ``aplay``.

No sound files ship with Station: each tone is a sine wave with a short fade in and out (no click),
16-bit signed little-endian mono at 22 050 Hz, scaled by the configured volume. Success rises (A5 → E6),
failure falls (E4 → A3), so they are told apart without looking. ``aplay`` (Debian package alsa-utils,
present on Raspberry Pi OS) reads the raw PCM on stdin and writes it to the configured ALSA device
(``default``, ``plughw:1,0``, ``null``…); sound is off unless ``[feedback] sound_device`` names one.
"""

from __future__ import annotations

import math
import shutil
import subprocess
import sys
from array import array
from dataclasses import dataclass

from station.errors import FeedbackError

SAMPLE_RATE = 22050
SAMPLE_BYTES = 2
FADE_SECONDS = 0.01
GAP_SECONDS = 0.03
PLAY_TIMEOUT = 10.0
OFF = "none"


@dataclass(frozen=True)
class Note:
    hz: float
    seconds: float


SUCCESS_NOTES = (Note(880.0, 0.12), Note(1318.5, 0.2))
FAILURE_NOTES = (Note(329.6, 0.25), Note(220.0, 0.35))


def tone(hz: float, seconds: float, volume: float, rate: int = SAMPLE_RATE) -> bytes:
    """``seconds`` of a ``hz`` sine at ``volume`` (0..1 of full scale), faded in and out, as S16_LE mono."""
    count = round(seconds * rate)
    fade = min(round(FADE_SECONDS * rate), count // 2)
    amplitude = max(0.0, min(1.0, volume)) * 32767
    samples = array("h", bytes(count * SAMPLE_BYTES))
    step = 2 * math.pi * hz / rate
    for i in range(count):
        envelope = 1.0
        if i < fade:
            envelope = i / fade
        elif i >= count - fade:
            envelope = (count - 1 - i) / fade
        samples[i] = round(amplitude * envelope * math.sin(step * i))
    if sys.byteorder == "big":
        samples.byteswap()
    return samples.tobytes()


def melody(notes: tuple[Note, ...], volume: float, rate: int = SAMPLE_RATE) -> bytes:
    """The notes in turn, with a short silence between them."""
    gap = bytes(round(GAP_SECONDS * rate) * SAMPLE_BYTES)
    return gap.join(tone(n.hz, n.seconds, volume, rate) for n in notes)


def success_sound(volume: float) -> bytes:
    return melody(SUCCESS_NOTES, volume)


def failure_sound(volume: float) -> bytes:
    return melody(FAILURE_NOTES, volume)


class AlsaPlayer:
    """Plays raw PCM on one ALSA device through ``aplay`` (blocking until it has played)."""

    def __init__(self, device: str, *, aplay: str = "aplay", rate: int = SAMPLE_RATE) -> None:
        self.device = device
        self.aplay = aplay
        self.rate = rate

    def play(self, pcm: bytes) -> None:
        exe = shutil.which(self.aplay)
        if exe is None:
            raise FeedbackError(f"cannot play sound on {self.device!r}: {self.aplay} is not installed",
                                remedy='Install alsa-utils (apt install alsa-utils), or set '
                                       '[feedback] sound_device = "none".')
        cmd = [exe, "-q", "-D", self.device, "-t", "raw", "-f", "S16_LE", "-r", str(self.rate), "-c", "1"]
        try:
            done = subprocess.run(cmd, input=pcm, capture_output=True, timeout=PLAY_TIMEOUT, check=False)
        except subprocess.TimeoutExpired:
            raise FeedbackError(f"sound device {self.device!r} did not play within {PLAY_TIMEOUT:.0f} s",
                                remedy="Check that no other program holds the device "
                                       "('fuser -v /dev/snd/*').") from None
        if done.returncode != 0:
            lines = done.stderr.decode(errors="replace").strip().splitlines()
            why = lines[-1] if lines else f"aplay exited with {done.returncode}"
            raise FeedbackError(f"cannot play sound on {self.device!r}: {why}",
                                remedy='List the devices with \'aplay -L\' and set [feedback] sound_device to one '
                                       'of them, or to "none".')
