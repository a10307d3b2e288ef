"""Configuration mistakes an operator makes, each reported where it was made: an empty secret file is refused
by `station config check` (the daemon would only learn at its first token), and a bad STATION_* variable is
blamed on the variable, not on the configuration file that is fine."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from station.cli import main
from station.config import load_config
from station.errors import ConfigError


def config_with_secret(tmp_path: Path, secret: str) -> Path:
    path = tmp_path / "client-secret"
    path.write_text(secret)
    os.chmod(path, 0o600)
    config = tmp_path / "station.toml"
    config.write_text(f'[tenant]\ntenant_id = "t"\nclient_id = "c"\nclient_secret_file = "{path}"\n')
    return config


@pytest.mark.parametrize("content", ["", "\n", "  \n\t"])
def test_config_check_refuses_an_empty_secret_file(tmp_path: Path, capsys: pytest.CaptureFixture[str],
                                                   content: str) -> None:
    config = config_with_secret(tmp_path, content)
    assert main(["--config", str(config), "config", "check"]) == 2
    err = capsys.readouterr().err
    assert f"client secret file {tmp_path / 'client-secret'} is empty" in err


def test_config_check_accepts_a_secret(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["--config", str(config_with_secret(tmp_path, "s3cret\n")), "config", "check"]) == 0
    assert "s3cret" not in capsys.readouterr().out


def test_a_bad_environment_variable_is_blamed_on_the_variable(tmp_path: Path) -> None:
    config = tmp_path / "station.toml"
    config.write_text("[enrolment]\npin_length = 8\n")
    with pytest.raises(ConfigError) as info:
        load_config(config, environ={"STATION_ENROLMENT_PIN_LENGTH": "two"})
    assert info.value.message == "1 problem(s) in the environment"
    assert info.value.problems == [
        "STATION_ENROLMENT_PIN_LENGTH (environment variable, for enrolment.pin_length): 'two' is not valid: "
        "Input should be a valid integer, unable to parse string as an integer"]
    assert "environment variable" in info.value.remedy


def test_a_misspelt_environment_variable_and_a_bad_file_are_each_named(tmp_path: Path) -> None:
    config = tmp_path / "station.toml"
    config.write_text("[enrolment]\npin_length = 2\n")
    with pytest.raises(ConfigError) as info:
        load_config(config, environ={"STATION_ENROLMENT_PIN_LENGHT": "8"})
    assert info.value.message == f"2 problem(s) in {config} and the environment"
    assert sorted(info.value.problems) == [
        "STATION_ENROLMENT_PIN_LENGHT (environment variable, for enrolment.pin_lenght): unknown key; remove it or "
        "check its spelling",
        "enrolment.pin_length: 2 is not valid: Input should be greater than or equal to 4"]
