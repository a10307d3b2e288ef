"""The systemd units, checked by systemd's own tools, and `station install-system` into a staging root.

What an operator relies on: `systemd-analyze verify` accepts both units; the daemon's sandbox stays tight
(`systemd-analyze security` exposure at most 2.0) while keeping what the station needs (hidraw, udev
netlink, pcscd's unix socket, HTTPS); install-system lays out the user, directories, units, udev rule and a
configuration skeleton that loads, with ExecStart pointing at this installation's `station`.
"""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from realstack import require

from station.config import load_config

ROOT = Path(__file__).resolve().parents[2]
UNITS = ("station.service", "station-kiosk.service")
MAX_EXPOSURE = 2.0


def systemd_analyze() -> str:
    tool = shutil.which("systemd-analyze")
    require(tool is not None, "systemd-analyze is not installed")
    assert tool is not None
    return tool


def staged_units(directory: Path) -> list[Path]:
    """Copies of the units whose ExecStart binary exists here (verify insists that it does)."""
    out = []
    for name in UNITS:
        text = (ROOT / "systemd" / name).read_text().replace("/usr/bin/station", "/bin/true")
        path = directory / name
        path.write_text(text)
        out.append(path)
    return out


def unit_settings(name: str) -> dict[str, list[str]]:
    settings: dict[str, list[str]] = {}
    for line in (ROOT / "systemd" / name).read_text().splitlines():
        if "=" in line and not line.startswith(("#", "[")):
            key, value = line.split("=", 1)
            settings.setdefault(key, []).append(value)
    return settings


def test_systemd_analyze_verify_accepts_the_units(tmp_path: Path) -> None:
    tool = systemd_analyze()
    result = subprocess.run([tool, "verify", *map(str, staged_units(tmp_path))], capture_output=True, text=True,
                            timeout=60, cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert result.stderr.strip() == "", result.stderr


@pytest.mark.parametrize("name", UNITS)
def test_exposure_is_at_most_two(tmp_path: Path, name: str) -> None:
    tool = systemd_analyze()
    unit = next(p for p in staged_units(tmp_path) if p.name == name)
    result = subprocess.run([tool, "security", "--offline=yes", "--no-pager", str(unit)], capture_output=True,
                            text=True, timeout=60, cwd=tmp_path)
    found = re.search(r"Overall exposure level for \S+: (\d+\.\d+)", result.stdout)
    assert found, result.stdout + result.stderr
    exposure = float(found.group(1))
    print(f"systemd-analyze security: {name} exposure {exposure}")
    assert exposure <= MAX_EXPOSURE


def test_the_daemon_unit_keeps_what_the_station_needs() -> None:
    s = unit_settings("station.service")
    assert s["Type"] == ["notify"] and s["WatchdogSec"] == ["30"] and s["Restart"] == ["on-failure"]
    assert s["User"] == ["station"] and s["Group"] == ["station"]
    assert s["DevicePolicy"] == ["closed"] and s["DeviceAllow"] == ["char-hidraw rw"]
    assert set(s["RestrictAddressFamilies"][0].split()) == {"AF_UNIX", "AF_NETLINK", "AF_INET", "AF_INET6"}
    assert s["LoadCredential"] == ["tenant-secret:/etc/station/client-secret"]
    assert "STATION_TENANT_CLIENT_SECRET_FILE=tenant-secret" in s["Environment"][0].split()
    assert "PrivateDevices" not in s and "PrivateNetwork" not in s
    assert s["StateDirectory"] == s["RuntimeDirectory"] == s["ConfigurationDirectory"] == ["station"]
    assert s["StateDirectoryMode"] == ["0700"] and s["UMask"] == ["0077"]


@pytest.mark.parametrize("name", UNITS)
def test_no_unit_writes_a_core_file(name: str) -> None:
    assert unit_settings(name)["LimitCORE"] == ["0"]


def test_install_system_into_a_staging_root(tmp_path: Path) -> None:
    result = subprocess.run([sys.executable, "-m", "station.cli", "install-system", "--apply", "--root",
                             str(tmp_path)], capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr
    assert "then run systemd-sysusers station.conf" in result.stdout
    service = (tmp_path / "etc/systemd/system/station.service").read_text()
    exec_start = re.search(r"^ExecStart=(\S+) run$", service, re.M)
    assert exec_start and Path(exec_start.group(1)).exists() and exec_start.group(1).endswith("/station")
    assert (tmp_path / "etc/udev/rules.d/70-station-fido.rules").read_text() == \
        (ROOT / "udev/70-station-fido.rules").read_text()
    cfg = load_config(tmp_path / "etc/station/station.toml", environ={})
    assert cfg.tenant.client_secret_file == "/etc/station/client-secret"
    assert cfg.store_url == "sqlite:////var/lib/station/station.db"

    sysusers = shutil.which("systemd-sysusers")
    require(sysusers is not None, "systemd-sysusers is not installed")
    assert sysusers is not None
    made = subprocess.run([sysusers, f"--root={tmp_path}"], capture_output=True, text=True, timeout=60)
    assert made.returncode == 0, made.stderr
    passwd = (tmp_path / "etc/passwd").read_text()
    assert re.search(r"^station:x:\d+:\d+:Station enrolment daemon:/var/lib/station:", passwd, re.M)
    assert re.search(r"^station:x:\d+:", (tmp_path / "etc/group").read_text(), re.M)

    again = subprocess.run([sys.executable, "-m", "station.cli", "install-system", "--apply", "--root",
                            str(tmp_path)], capture_output=True, text=True, timeout=60)
    assert again.returncode == 0 and "keep existing" in again.stdout, "an existing configuration is kept"
