"""Helpers shared by sub-commands: loading the configuration and the store from parsed arguments."""

from __future__ import annotations

import argparse
import json
import sys
from typing import Any

from station.config import Config, load_config


def config_from_args(args: argparse.Namespace) -> Config:
    cfg = load_config(getattr(args, "config", None))
    store = getattr(args, "store", None)
    if store:
        cfg.store.url = store
    return cfg


def print_json(data: Any) -> None:
    json.dump(data, sys.stdout, indent=2, ensure_ascii=False, default=str)
    sys.stdout.write("\n")
