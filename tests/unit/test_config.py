"""Configuration: loading, environment overrides, validation messages, secrets."""

from __future__ import annotations

from pathlib import Path

import pytest

from station.config import load_config, read_secret
from station.errors import ConfigError, Reason, StationError


def write(tmp_path: Path, text: str) -> Path:
    p = tmp_path / "station.toml"
    p.write_text(text)
    return p


def test_embedded_defaults_use_sqlite_under_state_dir(tmp_path: Path) -> None:
    cfg = load_config(None, environ={"STATION_STATE_DIR": str(tmp_path)})
    assert cfg.source is None
    assert cfg.store_url.startswith("sqlite:///")
    assert cfg.enrolment.pin_length == 8
    assert not cfg.tenant.configured


def test_file_values_and_env_override(tmp_path: Path) -> None:
    p = write(tmp_path, '[enrolment]\npin_length = 10\n[station]\nid = "kiosk-1"\n')
    cfg = load_config(p, environ={"STATION_ENROLMENT_PIN_LENGTH": "12", "STATION_STORE_URL": "sqlite:////x/s.db"})
    assert cfg.enrolment.pin_length == 12
    assert cfg.station.id == "kiosk-1"
    assert cfg.store_url == "sqlite:////x/s.db"


def test_env_lists_parse_as_toml(tmp_path: Path) -> None:
    cfg = load_config(None, environ={"STATION_ENROLMENT_REQUIRED_FEATURES": '["clientPin", "credMgmt"]'})
    assert cfg.enrolment.required_features == ["clientPin", "credMgmt"]


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ('[enrolment]\npin_length = 2\n', "enrolment.pin_length: 2 is not valid"),
        ('[enrolment]\npin_length = "eight"\n', "enrolment.pin_length: 'eight' is not valid"),
        ('[tenant]\ngraph_version = "v2"\n', "tenant.graph_version: 'v2' is not valid"),
        ('[tenant]\nauthority_host = "http://x"\n', "expected an https:// URL"),
        ('[store]\nurl = "mysql://x"\n', "expected sqlite:////ABSOLUTE/PATH or postgresql://"),
        ('[store]\nurl = "sqlite:///var/lib/station/station.db"\n',
         "names the relative path 'var/lib/station/station.db' (three slashes), which depends on the directory a "
         "command runs in; for an absolute path write four slashes: sqlite:////var/lib/station/station.db"),
        ('[enrolment]\nallowed_aaguids = ["nope"]\n', "not an AAGUID: nope"),
        ('[enrolment]\nrequired_features = ["teleport"]\n', "unknown feature(s) teleport"),
        ('[enrolment]\npin_alphabet = "0011"\n', "characters repeat"),
        ('[enrolment]\nused_key = "burn"\n', "enrolment.used_key: 'burn' is not valid"),
        ('[enrolment]\npin_lenght = 8\n', "enrolment.pin_lenght: unknown key"),
        ('[bogus]\nx = 1\n', "bogus: unknown key"),
    ],
)
def test_each_problem_is_one_line_naming_key_value_and_expectation(tmp_path: Path, text: str, expected: str) -> None:
    with pytest.raises(ConfigError) as info:
        load_config(write(tmp_path, text), environ={})
    assert info.value.exit_code == 2
    assert any(expected in line for line in info.value.problems), info.value.problems
    assert all("\n" not in line for line in info.value.problems)


@pytest.mark.parametrize("url", ["sqlite:////var/lib/station/station.db", "sqlite:///:memory:", "sqlite://",
                                 "postgresql://station_app@db.example.org/station_fleet"])
def test_absolute_and_in_memory_store_urls_are_accepted(tmp_path: Path, url: str) -> None:
    assert load_config(write(tmp_path, f'[store]\nurl = "{url}"\n'), environ={}).store_url == url


def test_the_default_store_is_an_absolute_path_under_the_state_directory(tmp_path: Path,
                                                                       monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    cfg = load_config(write(tmp_path, '[station]\nstate_dir = "state"\n'), environ={})
    assert cfg.store_url == f"sqlite:///{tmp_path / 'state' / 'station.db'}"
    assert cfg.store_url.startswith("sqlite:////"), "four slashes: the same store from any directory"
    monkeypatch.setenv("STATION_STATE_DIR", "relative-state")
    assert load_config(None, environ={}).store_url == f"sqlite:///{tmp_path / 'relative-state' / 'station.db'}"


def test_several_problems_are_all_reported(tmp_path: Path) -> None:
    with pytest.raises(ConfigError) as info:
        load_config(write(tmp_path, '[enrolment]\npin_length = 1\nused_key = "x"\n'), environ={})
    assert len(info.value.problems) == 2


def test_broken_toml_and_missing_file(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="not valid TOML"):
        load_config(write(tmp_path, "[enrolment\n"), environ={})
    with pytest.raises(ConfigError, match="does not exist"):
        load_config(tmp_path / "absent.toml", environ={})


def test_bad_env_value_names_the_key(tmp_path: Path) -> None:
    with pytest.raises(ConfigError) as info:
        load_config(None, environ={"STATION_ENROLMENT_PIN_LENGTH": "lots"})
    assert info.value.problems[0].startswith(
        "STATION_ENROLMENT_PIN_LENGTH (environment variable, for enrolment.pin_length): 'lots'")


def test_secret_readable_by_others_is_refused_with_chmod(tmp_path: Path) -> None:
    secret = tmp_path / "secret"
    secret.write_text("s3cret")
    secret.chmod(0o644)
    with pytest.raises(StationError) as info:
        read_secret(str(secret), "client secret")
    assert info.value.reason == Reason.SECRET_INSECURE
    assert info.value.remedy == f"Run: chmod 600 {secret}"
    secret.chmod(0o600)
    assert read_secret(str(secret), "client secret") == b"s3cret"


def test_secret_from_systemd_credentials_directory(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    creds = tmp_path / "creds"
    creds.mkdir()
    (creds / "tenant-secret").write_text("abc")
    (creds / "tenant-secret").chmod(0o640)
    monkeypatch.setenv("CREDENTIALS_DIRECTORY", str(creds))
    assert read_secret("tenant-secret", "client secret") == b"abc"


def test_missing_secret_says_where(tmp_path: Path) -> None:
    with pytest.raises(StationError) as info:
        read_secret(str(tmp_path / "nope"), "client secret")
    assert info.value.reason == Reason.SECRET_MISSING


def test_redacted_hides_database_password() -> None:
    cfg = load_config(None, environ={"STATION_STORE_URL": "postgresql://station:hunter2@db/station"})
    assert "hunter2" not in str(cfg.redacted())


def test_pin_rules_default_to_when_supported_and_the_deprecated_setting_keeps_its_meaning(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from station.cli import main

    cfg = load_config(None, environ={"STATION_STATE_DIR": str(tmp_path)})
    assert (cfg.enrolment.pin_change, cfg.enrolment.min_pin_length_mode) == ("when_supported", "when_supported")
    assert cfg.enrolment.required_features == ["clientPin", "rk"]
    old = write(tmp_path, "[enrolment]\nforce_pin_change = true\n")
    assert load_config(old, environ={}).enrolment.pin_change == "require"
    assert load_config(old, environ={"STATION_ENROLMENT_PIN_CHANGE": "when_supported"}).enrolment.pin_change \
        == "when_supported"
    assert load_config(write(tmp_path, "[enrolment]\nforce_pin_change = false\n"), environ={}).enrolment.pin_change \
        == "off"
    assert main(["--config", str(write(tmp_path, "[enrolment]\nforce_pin_change = true\n")), "config", "check"]) == 0
    out = capsys.readouterr().out
    assert "force_pin_change is deprecated" in out and 'pin_change = "require"' in out
