"""Where the configuration file is, reading it, and the state and runtime directories — without pydantic.

``station.config`` validates the whole file; this module is what a command that needs one value of it
reads alone: ``station status`` only needs ``station.runtime_dir`` to find the daemon's control socket, and
``station queue list`` the store's URL; both start in a fraction of the time without the validation models.
"""

from __future__ import annotations

import os
import tomllib
from pathlib import Path
from typing import Any

from station.errors import ConfigError

DEFAULT_CONFIG_PATH = Path("/etc/station/station.toml")


def default_state_dir() -> Path:
    env = os.environ.get("STATION_STATE_DIR") or os.environ.get("STATE_DIRECTORY")
    if env:
        return Path(env.split(":")[0])
    base = os.environ.get("XDG_STATE_HOME") or str(Path.home() / ".local" / "state")
    return Path(base) / "station"


def default_runtime_dir() -> Path:
    env = os.environ.get("STATION_RUNTIME_DIR") or os.environ.get("RUNTIME_DIRECTORY")
    if env:
        return Path(env.split(":")[0])
    xdg = os.environ.get("XDG_RUNTIME_DIR")
    return Path(xdg) / "station" if xdg else default_state_dir() / "run"


def resolve_config_path(path: str | os.PathLike[str] | None) -> Path | None:
    if path:
        return Path(path)
    env = os.environ.get("STATION_CONFIG")
    if env:
        return Path(env)
    return DEFAULT_CONFIG_PATH if DEFAULT_CONFIG_PATH.exists() else None


def read_config_file(cfg_path: Path) -> dict[str, Any]:
    """The file's TOML; ConfigError (exit code 2) when it is missing, unreadable or not TOML."""
    try:
        return tomllib.loads(cfg_path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ConfigError(
            f"configuration file {cfg_path} does not exist",
            problems=[f"{cfg_path}: not found"],
            remedy="Create it with 'station config init --config PATH', or pass the right --config.",
        ) from None
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as e:
        raise ConfigError(f"{cfg_path} is not valid TOML: {e}", problems=[f"{cfg_path}: {e}"]) from None
    except OSError as e:
        raise ConfigError(f"cannot read {cfg_path}: {e.strerror}", problems=[f"{cfg_path}: {e}"]) from None


def env_value(value: str) -> Any:
    """Env values are TOML literals when they parse as one (true, 8, ["a"]), else plain strings."""
    try:
        return tomllib.loads(f"v = {value}")["v"]
    except tomllib.TOMLDecodeError:
        return value


def store_url(path: str | os.PathLike[str] | None = None) -> str | None:
    """``Config.store_url`` as ``load_config(path)`` gives it (``[store] url``, then ``STATION_STORE_URL``; else
    ``station.db`` in the state directory, a relative one taken from the file's directory), without validating
    the rest of the file; None when a value that decides it is not text (only the validation can explain that)."""
    cfg_path = resolve_config_path(path)
    data = read_config_file(cfg_path) if cfg_path is not None else {}
    store, station = data.get("store", {}), data.get("station", {})
    if not isinstance(store, dict) or not isinstance(station, dict):
        return None
    url = env_value(os.environ["STATION_STORE_URL"]) if "STATION_STORE_URL" in os.environ else store.get("url", "")
    if not isinstance(url, str):
        return None
    if url:
        return url
    if "STATION_STATION_STATE_DIR" in os.environ:
        state = env_value(os.environ["STATION_STATION_STATE_DIR"])
    else:
        state = station.get("state_dir", default_state_dir())
    if not isinstance(state, str | Path):
        return None
    state_dir = Path(state)
    if cfg_path is not None and not state_dir.is_absolute():
        state_dir = cfg_path.parent.absolute() / state_dir
    return f"sqlite:///{state_dir.absolute() / 'station.db'}"


def runtime_dir(path: str | os.PathLike[str] | None = None) -> Path:
    """``station.runtime_dir`` as ``load_config(path)`` gives it (file, then STATION_STATION_RUNTIME_DIR, then
    the default), without validating the rest of the file."""
    cfg_path = resolve_config_path(path)
    section = read_config_file(cfg_path).get("station", {}) if cfg_path is not None else {}
    value = os.environ.get("STATION_STATION_RUNTIME_DIR") or (section.get("runtime_dir")
                                                             if isinstance(section, dict) else None)
    if value is None:
        return default_runtime_dir()
    if not isinstance(value, str) or not value:
        raise ConfigError(f"station.runtime_dir in {cfg_path} is not a directory name",
                          problems=[f"station.runtime_dir: {value!r} is not valid: a path is expected"],
                          remedy="Set runtime_dir under [station] to a directory, e.g. \"/run/station\".")
    return Path(value)
