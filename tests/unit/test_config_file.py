"""station.config_file.runtime_dir: the same directory load_config gives, from the file, the environment or
the default — what `station status` uses to find the control socket without validating the whole file."""

from __future__ import annotations

from pathlib import Path

import pytest

from station.config import load_config
from station.config_file import runtime_dir
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
