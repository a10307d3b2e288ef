"""Helpers shared by sub-commands: loading the configuration and the store from parsed arguments."""

from __future__ import annotations

import argparse
import sys
from typing import TYPE_CHECKING, Any

from station.errors import ConfigError
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
    return cfg


def print_json(data: Any) -> None:
    """``data`` as JSON on standard output; control, bidi and invisible characters in its strings are written
    as ``\\uXXXX`` escapes (the same data, nothing a terminal obeys)."""
    sys.stdout.write(json_text(data, indent=2, default=str) + "\n")
