"""Configuration that must not be weak: PIN settings of at least 20 bits, secret files read safely.

A secret file is opened without following a symbolic link and checked as opened: a regular file, owned by
this user or root, not readable by group or others (systemd's credentials directory excepted from the mode
check, recognised by its resolved path — not by a string prefix).
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from station.cli import main
from station.config import load_config, read_secret
from station.errors import ConfigError, Reason, StationError


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "station.toml"
    path.write_text(text)
    return path


@pytest.mark.parametrize(("alphabet", "length", "bits"), [("01", 4, "4.0"), ("0123456789", 6, "19.9"),
                                                          ("0123456789", 4, "13.3")])
def test_config_check_refuses_pins_under_20_bits(tmp_path: Path, capsys: pytest.CaptureFixture[str],
                                                 alphabet: str, length: int, bits: str) -> None:
    config = write(tmp_path, f'[enrolment]\npin_alphabet = "{alphabet}"\npin_length = {length}\n')
    assert main(["--config", str(config), "config", "check"]) == 2
    err = capsys.readouterr().err
    (line,) = [line for line in err.splitlines() if "bits of PIN entropy" in line]
    assert line.strip().startswith(f"enrolment.pin_alphabet: '{alphabet}' is not valid")
    assert f"enrolment.pin_length = {length}" in line and f"{bits} bits" in line and "at least 20" in line


def test_the_defaults_and_20_bits_pass(tmp_path: Path) -> None:
    assert load_config(None, environ={"STATION_STATE_DIR": str(tmp_path)}).enrolment.pin_length == 8
    hex_pins = load_config(write(tmp_path, '[enrolment]\npin_alphabet = "0123456789abcdef"\npin_length = 5\n'),
                           environ={})
    assert hex_pins.enrolment.pin_length == 5
    with pytest.raises(ConfigError) as weak:
        load_config(None, environ={"STATION_ENROLMENT_PIN_ALPHABET": '"01"', "STATION_ENROLMENT_PIN_LENGTH": "19"})
    assert "set enrolment.pin_length to 20 or more" in weak.value.problems[0]


def secret_file(path: Path, text: str = "s3cret", mode: int = 0o600) -> Path:
    path.write_text(text)
    path.chmod(mode)
    return path


def test_a_link_to_a_secret_is_refused(tmp_path: Path) -> None:
    real = secret_file(tmp_path / "real")
    link = tmp_path / "link"
    link.symlink_to(real)
    with pytest.raises(StationError) as info:
        read_secret(str(link), "client secret")
    assert info.value.reason == Reason.SECRET_INSECURE and "is a symbolic link" in info.value.message
    assert str(real) in info.value.remedy


def test_a_secret_owned_by_another_user_is_refused(tmp_path: Path) -> None:
    if os.geteuid() != 0:
        pytest.skip("giving a file to another user needs root")
    secret = secret_file(tmp_path / "secret")
    os.chown(secret, 65534, 65534)
    with pytest.raises(StationError) as info:
        read_secret(str(secret), "client secret")
    assert info.value.reason == Reason.SECRET_INSECURE
    assert "belongs to uid 65534" in info.value.message and info.value.remedy == f"Run: chown root {secret}"


def test_a_fifo_is_refused_without_waiting_for_a_writer(tmp_path: Path) -> None:
    fifo = tmp_path / "fifo"
    os.mkfifo(fifo, 0o600)
    with pytest.raises(StationError, match="is not a regular file"):
        read_secret(str(fifo), "client secret")


def test_only_the_real_credentials_directory_skips_the_mode_check(tmp_path: Path,
                                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    creds = tmp_path / "creds"
    creds.mkdir()
    sibling = tmp_path / "creds-evil"
    sibling.mkdir()
    loose = secret_file(sibling / "tenant-secret", "abc", 0o644)
    monkeypatch.setenv("CREDENTIALS_DIRECTORY", str(creds))
    with pytest.raises(StationError) as info:
        read_secret(str(loose), "client secret")
    assert info.value.reason == Reason.SECRET_INSECURE, "a directory whose name only starts the same is not it"

    secret_file(creds / "tenant-secret", "from systemd", 0o440)
    via = tmp_path / "via"
    via.symlink_to(creds)
    monkeypatch.setenv("CREDENTIALS_DIRECTORY", str(via))
    assert read_secret("tenant-secret", "client secret") == b"from systemd"
    assert read_secret(str(creds / "tenant-secret"), "client secret") == b"from systemd"
