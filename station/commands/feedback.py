"""`station feedback test`: play every LED pattern and both tones once, so an installer can check the wiring."""

from __future__ import annotations

import argparse
import sys
import time

from station.commands.common import config_from_args
from station.errors import FeedbackError
from station.feedback.leds import Led
from station.feedback.patterns import FAILURE, PATTERNS, SUCCESS, LedDriver
from station.feedback.scheduler import ThreadScheduler
from station.feedback.sound import OFF, AlsaPlayer, failure_sound, success_sound


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    f = sub.add_parser("feedback", help="the station's LEDs and tones",
                       description="The LEDs and tones a headless station uses to guide the technician.")
    fs = f.add_subparsers(dest="feedback_command", metavar="ACTION", required=True)
    p = fs.add_parser("test", help="play every pattern once to check the wiring",
                      description="Show each LED pattern (idle, working, success, failure, attention) in turn "
                                  "and play the success and failure tones, naming each on stdout; every LED "
                                  "gets its original trigger back at the end.")
    p.add_argument("--led", action="append", metavar="PATH",
                   help="an LED class directory or name (ACT, PWR, station); repeatable "
                        "(default: [feedback] leds)")
    p.add_argument("--sound", metavar="DEVICE|none",
                   help="ALSA device for the tones, as 'aplay -L' lists them (default: [feedback] sound_device)")
    p.add_argument("--each", type=float, metavar="SECONDS",
                   help="how long each pattern shows (default: 2-4 s, enough to recognise it)")
    p.set_defaults(func=cmd_test)


def cmd_test(args: argparse.Namespace) -> int:
    cfg = config_from_args(args).feedback
    specs: list[str] = args.led or cfg.leds
    device: str = args.sound if args.sound is not None else cfg.sound_device
    if not specs and device == OFF:
        raise FeedbackError("nothing to test: no LED is configured and sound is off",
                            remedy="Name an LED with --led (e.g. --led ACT) or in [feedback] leds, and/or an "
                                   "ALSA device with --sound (see 'aplay -L').")
    problems: list[FeedbackError] = []

    def report(error: FeedbackError) -> None:
        problems.append(error)
        print(f"station: {error.message}\n  → {error.remedy}", file=sys.stderr, flush=True)

    scheduler = ThreadScheduler()
    drivers: list[LedDriver] = []
    for spec in specs:
        try:
            led = Led.open(spec)
        except FeedbackError as e:
            report(e)
            continue
        drivers.append(LedDriver(led, scheduler, report))
        print(f"LED {led.name} ({led.path}): trigger now {led.original_trigger!r}, put back at the end", flush=True)
    player = AlsaPlayer(device) if device != OFF else None
    tones = {SUCCESS.name: success_sound(cfg.volume), FAILURE.name: failure_sound(cfg.volume)}
    try:
        for pattern in PATTERNS:
            started = time.monotonic()
            for driver in drivers:
                driver.show(pattern)
            print(f"{pattern.name}: {pattern.description}", flush=True)
            for driver in drivers:
                if driver.failed is None:
                    print(f"  LED {driver.led.name}: {driver.mode}", flush=True)
            pcm = tones.get(pattern.name)
            if player is not None and pcm is not None:
                print(f"  tone: {pattern.name} on {device}", flush=True)
                try:
                    player.play(pcm)
                except FeedbackError as e:
                    report(e)
                    player = None
            seconds = args.each if args.each is not None else pattern.demo_seconds
            time.sleep(max(0.0, seconds - (time.monotonic() - started)))
    finally:
        scheduler.stop()
        for driver in drivers:
            driver.release()
            if driver.failed is None:
                print(f"LED {driver.led.name}: trigger {driver.led.original_trigger!r} restored", flush=True)
    return 1 if problems else 0
