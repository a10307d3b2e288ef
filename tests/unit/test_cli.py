"""The command line: every command is found, and only its own module is loaded for it."""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
from pathlib import Path

from station.cli import COMMAND_HOME, COMMANDS, _modules_for, build_parser


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
    assert _modules_for(["--help"]) == []
    assert _modules_for(["queue", "--help"]) == ["station.commands.queue"]


def test_status_does_not_import_the_store_or_graph_client() -> None:
    code = ("import sys, station.cli; station.cli.build_parser(['status']); "
            "print(sorted(m for m in ('sqlalchemy', 'msal', 'textual', 'fido2') if m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "[]"


def _imported_by(argv: list[str],
                 env: dict[str, str] | None = None) -> tuple[set[str], subprocess.CompletedProcess[str]]:
    """Run `station ARGV` as its own process; the names in its sys.modules when the command has finished."""
    code = ("import sys, station.cli\n"
            "try:\n    code = station.cli.main(sys.argv[1:])\nexcept SystemExit as e:\n    code = e.code\n"
            "print('\\n'.join(sys.modules), file=sys.stderr)\nsys.exit(code)\n")
    done = subprocess.run([sys.executable, "-c", code, *argv], capture_output=True, text=True, env=env)
    return set(done.stderr.splitlines()), done


HEAVY = ("pydantic", "sqlalchemy", "sqlmodel", "msal", "requests", "fido2", "textual", "cryptography")


def test_help_lines_are_the_commands_own() -> None:
    action = next(a for a in build_parser()._actions if isinstance(a, argparse._SubParsersAction))
    assert {c.dest: c.help for c in action._choices_actions} == {n: h for n, (_, h) in COMMANDS.items()}


def test_help_lists_every_command_and_imports_no_command_module() -> None:
    modules, done = _imported_by(["--help"])
    assert done.returncode == 0
    for name, (_, help_line) in COMMANDS.items():
        assert name in done.stdout and help_line.split()[0] in done.stdout
    assert not {m for m in modules if m.startswith("station.commands.") or m.split(".")[0] in HEAVY}


def test_an_unknown_command_is_refused_with_the_list_of_commands() -> None:
    modules, done = _imported_by(["enroll"])
    assert done.returncode == 2
    assert "invalid choice: 'enroll'" in done.stderr and "'queue'" in done.stderr
    assert "station.commands.queue" not in modules


def test_queue_list_reads_a_sqlite_store_with_sqlite3_alone(tmp_path: Path) -> None:
    config = tmp_path / "station.toml"
    database = tmp_path / "station.db"
    config.write_text(f'[store]\nurl = "sqlite:///{database}"\n')
    env = {**os.environ, "STATION_STATE_DIR": str(tmp_path / "state"), "STATION_CONFIG": str(config)}
    assert _imported_by(["queue", "add", "--upn", "kim@contoso.com"], env)[1].returncode == 0
    modules, done = _imported_by(["queue", "list"], env)
    assert done.returncode == 0 and "kim@contoso.com" in done.stdout
    assert "sqlite3" in modules
    assert not {m for m in modules if m.split(".")[0] in HEAVY or m in ("station.config", "station.store")}


def test_a_listing_cut_short_by_its_reader_ends_quietly(tmp_path: Path) -> None:
    from station.store import NewPerson, open_store

    url = f"sqlite:///{tmp_path / 'station.db'}"
    store = open_store(url)
    store.queue.add_people([NewPerson(f"person{i:05}@contoso.com", f"Person {i}") for i in range(20_000)])
    store.close()
    listing = subprocess.Popen([sys.executable, "-m", "station.cli", "queue", "list", "--store", url],
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    assert listing.stdout is not None and listing.stderr is not None
    assert listing.stdout.readline().split()[:2] == [b"queued", b"person00000@contoso.com"]
    listing.stdout.close()  # what `| head -1` does once it has its line
    assert listing.wait(60) == 0
    assert listing.stderr.read() == b""


def test_status_reads_only_the_runtime_dir_and_imports_no_server_or_models(tmp_path: Path) -> None:
    config = tmp_path / "station.toml"
    run = tmp_path / "run"
    config.write_text(f'[station]\nruntime_dir = "{run}"\n[enrolment]\npin_length = "eight"\n')
    modules, done = _imported_by(["status", "--config", str(config)])
    assert done.returncode == 1, "no daemon: it says so (a bad value elsewhere in the file is the daemon's concern)"
    assert f"no station daemon is listening on {run / 'control.sock'}" in done.stderr
    assert not {"pydantic", "station.config", "station.control", "station.events", *HEAVY} & modules


def test_status_names_a_missing_configuration_file(tmp_path: Path) -> None:
    _, done = _imported_by(["status", "--config", str(tmp_path / "none.toml")])
    assert done.returncode == 2 and "none.toml does not exist" in done.stderr


def test_the_daemon_imports_no_dashboard_emulator_or_metrics_server(tmp_path: Path) -> None:
    from station.enroll.escrow import generate_keypair

    public_key, _ = generate_keypair(tmp_path / "escrow")
    code = ("import sys, station.daemon\n"
            f"station.daemon.DeferredEscrow({str(public_key)!r})\n"
            "from station.events import EventBus\n"
            "from station.metrics.off import metrics_for\n"
            "from station.metrics.settings import MetricsSection\n"
            "print(type(metrics_for(MetricsSection(), 'desk-1', EventBus())).__name__)\n"
            "print('\\n'.join(sys.modules))\n")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout.split()
    assert out[0] == "MetricsOff", "metrics are off while [metrics] sets neither listen nor textfile"
    assert not [m for m in out if m.split(".")[0] in ("textual", "rich", "prometheus_client", "wsgiref")
                or m.startswith(("station.tui", "station_emulator", "station.metrics.service"))]
    # A session's code (CTAP2, the PIN protocol, attestation, a key's serial, cryptography even for the escrow
    # key it read at start) loads with the first key; MDS3 parsing with `station mds load`: an idle daemon
    # holds neither.
    assert not [m for m in out if m.split(".")[0] in ("yubikit", "cryptography") or m.startswith((
        "fido2.ctap2", "fido2.client", "fido2.mds3", "fido2.attestation", "fido2.webauthn",
        "station.enroll.session", "station.enroll.ceremony", "station.keys.blob", "station.keys.serial"))]


def test_metrics_are_served_when_a_textfile_is_set(tmp_path: Path) -> None:
    from station.events import EventBus
    from station.metrics.off import metrics_for
    from station.metrics.service import MetricsService
    from station.metrics.settings import MetricsSection

    service = metrics_for(MetricsSection(textfile=str(tmp_path / "station.prom")), "desk-1", EventBus())
    assert isinstance(service, MetricsService)
    service.stop()
    assert (tmp_path / "station.prom").read_text().startswith("#")
