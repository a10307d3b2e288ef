"""The command line: every command is found, and only its own module is loaded for it."""

from __future__ import annotations

import argparse
import subprocess
import sys

from station.cli import COMMAND_HOME, _modules_for, build_parser


def _commands(parser: argparse.ArgumentParser) -> dict[str, str]:
    action = next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction))
    return {name: p.get_default("func").__module__ if p.get_default("func") else ""
            for name, p in action.choices.items()}


def test_every_command_has_its_home_module() -> None:
    commands = _commands(build_parser())
    assert set(commands) == set(COMMAND_HOME)
    for name in commands:
        parser = build_parser([name])
        assert name in _commands(parser), f"{name} is not defined by {COMMAND_HOME[name]}"


def test_options_before_the_command_do_not_confuse_the_lookup() -> None:
    assert _modules_for(["--store", "sqlite:////tmp/x.db", "status", "--json"]) == ["station.commands.daemon"]
    assert len(_modules_for(["--help"])) > 1
    assert _modules_for(["queue", "--help"]) == ["station.commands.queue"]


def test_status_does_not_import_the_store_or_graph_client() -> None:
    code = ("import sys, station.cli; station.cli.build_parser(['status']); "
            "print(sorted(m for m in ('sqlalchemy', 'msal', 'textual', 'fido2') if m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "[]"
