"""station.config_file.runtime_dir and store_url: the same directory and store load_config gives, from the file,
the environment or the default — what `station status` uses to find the control socket, and `station queue list`
its store, without validating the whole file."""

from __future__ import annotations

from pathlib import Path

import pytest

from station.config import load_config
from station.config_file import runtime_dir, store_url
from station.errors import ConfigError


@pytest.mark.parametrize("body, env", [
    ('[station]\nruntime_dir = "/srv/station/run"\n', {}),
    ("[station]\nname = \"Desk 3\"\n", {"STATION_RUNTIME_DIR": "/run/elsewhere"}),
    ('[station]\nruntime_dir = "/srv/station/run"\n', {"STATION_STATION_RUNTIME_DIR": "/run/from-env"}),
    ("", {"XDG_RUNTIME_DIR": "/run/user/1000"}),
])
def test_runtime_dir_is_the_one_load_config_gives(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, body: str,
                                                  env: dict[str, str]) -> None:
    for name in ("STATION_RUNTIME_DIR", "RUNTIME_DIRECTORY", "STATION_STATION_RUNTIME_DIR", "XDG_RUNTIME_DIR"):
        monkeypatch.delenv(name, raising=False)
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    config = tmp_path / "station.toml"
    config.write_text(body)
    assert runtime_dir(config) == load_config(config).station.runtime_dir


@pytest.mark.parametrize("body, env", [
    ('[store]\nurl = "sqlite:////srv/station/station.db"\n', {}),
    ('[store]\nurl = "postgresql://station@db.example/station"\n', {}),
    ('[store]\nurl = "sqlite:////srv/a.db"\n', {"STATION_STORE_URL": "sqlite:////srv/from-env.db"}),
    ('[store]\nurl = "sqlite:////srv/a.db"\n', {"STATION_STORE_URL": '"sqlite:////srv/quoted.db"'}),
    ('[station]\nstate_dir = "/srv/state"\n', {}),
    ('[station]\nstate_dir = "relative/state"\n', {}),
    ('[station]\nstate_dir = "/srv/state"\n', {"STATION_STATION_STATE_DIR": "/srv/env-state"}),
    ("", {"STATION_STATE_DIR": "/var/lib/elsewhere"}),
    ("", {"XDG_STATE_HOME": "/home/kim/.state"}),
])
def test_store_url_is_the_one_load_config_gives(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, body: str,
                                                env: dict[str, str]) -> None:
    for name in ("STATION_STATE_DIR", "STATE_DIRECTORY", "XDG_STATE_HOME"):
        monkeypatch.delenv(name, raising=False)
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    config = tmp_path / "station.toml"
    config.write_text(body)
    assert store_url(config) == load_config(config).store_url


def test_a_store_value_that_is_not_text_is_left_to_the_validation(tmp_path: Path) -> None:
    config = tmp_path / "station.toml"
    config.write_text("[store]\nurl = 5\n")
    assert store_url(config) is None
    with pytest.raises(ConfigError):
        load_config(config)


def test_a_runtime_dir_that_is_not_a_path_is_one_clear_error(tmp_path: Path) -> None:
    config = tmp_path / "station.toml"
    config.write_text("[station]\nruntime_dir = 7\n")
    with pytest.raises(ConfigError) as e:
        runtime_dir(config)
    assert "station.runtime_dir" in e.value.message and "/run/station" in e.value.remedy


def test_a_file_that_is_not_toml_is_named(tmp_path: Path) -> None:
    config = tmp_path / "station.toml"
    config.write_text("[station\n")
    with pytest.raises(ConfigError, match="is not valid TOML"):
        runtime_dir(config)
