"""Helpers shared by sub-commands: loading the configuration and the store from parsed arguments."""

from __future__ import annotations

import argparse
import sys
import time
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from station.errors import ConfigError, StationError
from station.i18n import speak
from station.text import json_text

if TYPE_CHECKING:
    from station.config import Config


def config_from_args(args: argparse.Namespace) -> Config:
    # pydantic and the configuration models load here, not with the module: `station status` needs neither.
    from pydantic import ValidationError

    from station.config import format_validation_error, load_config

    cfg = load_config(getattr(args, "config", None))
    store = getattr(args, "store", None)
    if store:
        try:
            cfg.store.url = store
        except ValidationError as e:
            problems = [f"--store{line.removeprefix('url')}" for line in format_validation_error(e)]
            raise ConfigError("--store is not a store URL", problems=problems,
                              remedy="Pass --store sqlite:////ABSOLUTE/PATH or postgresql://USER@HOST/DB.") from None
    speak(cfg.station.language)  # the dashboard and the remedies in the station's language from here on
    return cfg


def print_json(data: Any) -> None:
    """``data`` as JSON on standard output; control, bidi and invisible characters in its strings are written
    as ``\\uXXXX`` escapes (the same data, nothing a terminal obeys)."""
    sys.stdout.write(json_text(data, indent=2, default=str) + "\n")


EMULATORS_MISSING_REMEDY = (
    "They are test doubles, so the service package leaves them out. From a checkout, 'make demo' installs them; "
    "into an existing virtualenv: pip install ./emulator (from the checkout).")


class _TakesAnything(argparse.ArgumentParser):
    """A sub-command parser that accepts whatever follows it (the real options live in the missing package)."""

    def parse_known_args(  # type: ignore[override]
        self, args: Any = None, namespace: Any = None,
    ) -> tuple[argparse.Namespace, list[str]]:
        namespace = namespace or argparse.Namespace()
        for key, value in self._defaults.items():
            setattr(namespace, key, value)
        return namespace, []


def register_without_emulators(sub: Any, name: str, help_line: str) -> None:
    """``station NAME`` when the emulator distribution (station-emulator) is not installed: the command is
    listed, accepts anything, and says what is missing and how to install it."""

    def missing(args: argparse.Namespace) -> int:
        raise StationError(f"'station {name}' needs Station's emulators (the station-emulator distribution), "
                           "which are not installed here", remedy=EMULATORS_MISSING_REMEDY)

    p = sub.add_parser(name, help=help_line)
    p.__class__ = _TakesAnything
    p.set_defaults(func=missing)


def progress_line(verb: str, noun: str, *, every: float = 0.2) -> Callable[[int, int], None]:
    """A ``progress(done, total)`` for long work on a terminal: one line on stderr, redrawn at most every
    ``every`` seconds ("checked 1,200 of 10,000 people"), ended with a newline when the work is."""
    last = 0.0

    def progress(done: int, total: int) -> None:
        nonlocal last
        now = time.monotonic()
        if done < total and now - last < every:
            return
        last = now
        sys.stderr.write(f"\r{verb} {done:,} of {total:,} {noun}" + ("\n" if done >= total else ""))
        sys.stderr.flush()

    return progress
