"""`station install-system` from a built wheel installed in a root-owned virtualenv, no checkout in reach.

What an administrator relies on: the wheel carries the units, the udev rule and the sysusers/tmpfiles snippets;
install-system run from that virtualenv writes them (the same files the .deb ships, ExecStart= pointing at that
virtualenv's station); it refuses an installation a user other than root can change, and one the service's
sandbox hides, naming the path and what to do.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
import sysconfig
import zipfile
from pathlib import Path

import pytest
from realstack import require

ROOT = Path(__file__).resolve().parents[2]
SHIPPED = {
    "systemd/station.service": "etc/systemd/system/station.service",
    "systemd/station-kiosk.service": "etc/systemd/system/station-kiosk.service",
    "systemd/station.sysusers.conf": "usr/lib/sysusers.d/station.conf",
    "systemd/station.tmpfiles.conf": "usr/lib/tmpfiles.d/station.conf",
    "udev/70-station-fido.rules": "etc/udev/rules.d/70-station-fido.rules",
}


def run(*cmd: str | Path, **kw: object) -> subprocess.CompletedProcess[str]:
    return subprocess.run([str(c) for c in cmd], capture_output=True, text=True, timeout=300, **kw)  # type: ignore[call-overload]


@pytest.fixture(scope="module")
def venv(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A root-owned virtualenv holding only the wheel built from a copy of this checkout (its dependencies are
    the locked ones of the test environment, reached through a .pth line, so nothing is downloaded twice)."""
    require(os.geteuid() == 0, "a root-owned virtualenv needs root")
    base = tmp_path_factory.mktemp("wheel")
    src = base / "src"
    src.mkdir()
    copy = "git ls-files -z --cached --others --exclude-standard | tar --null -T - -cf - | tar -xf - -C \"$1\""
    subprocess.run(["bash", "-c", copy, "copy", src], cwd=ROOT, check=True)
    built = run(sys.executable, "-m", "pip", "wheel", "-q", "--no-deps", "-w", base / "dist", src)
    require(built.returncode == 0, f"pip wheel failed (it needs setuptools from PyPI): {built.stderr[-500:]}")
    venv = base / "venv"
    python = Path(sys.base_prefix) / f"bin/python3.{sys.version_info.minor}"
    assert run(python, "-m", "venv", "--without-pip", venv).returncode == 0
    wheel = next((base / "dist").glob("station-*.whl"))
    site = Path(run(venv / "bin/python", "-c", "import sysconfig; print(sysconfig.get_path('purelib'))").stdout.strip())
    installed = run(sys.executable, "-m", "pip", "install", "-q", "--no-deps", "--target", site, wheel)
    assert installed.returncode == 0, installed.stderr
    (site / "test-dependencies.pth").write_text(sysconfig.get_path("purelib") + "\n")
    script = venv / "bin/station"
    script.write_text(f"#!{venv}/bin/python\nimport sys\nfrom station.cli import main\nsys.exit(main())\n")
    script.chmod(0o755)
    return venv


def station(venv: Path, *args: str | Path) -> subprocess.CompletedProcess[str]:
    return run(venv / "bin/station", *args, cwd="/", env={"PATH": "/usr/sbin:/usr/bin:/sbin:/bin", "LANG": "C.UTF-8"})


def test_the_wheel_runs_from_its_own_files(venv: Path) -> None:
    where = run(venv / "bin/python", "-c", "import station; print(station.__file__)", cwd="/")
    assert where.stdout.startswith(str(venv)), where.stdout + where.stderr


def test_the_wheel_carries_no_test_doubles(venv: Path) -> None:
    wheel = next((venv.parent / "dist").glob("station-*.whl"))
    names = zipfile.ZipFile(wheel).namelist()
    assert [n for n in names if n.startswith("station/")], names
    assert not [n for n in names if "emulator" in n or n.startswith(("station/demo/", "station/hid/virtual"))], names


def test_demo_without_the_emulators_says_what_is_missing_and_how_to_install_it(venv: Path) -> None:
    for command in (["demo", "--users", "3"], ["emulate", "key", "--export-root", "/tmp/x.pem"]):
        done = station(venv, *command)
        assert done.returncode == 1, done.stdout + done.stderr
        assert f"'station {command[0]}' needs Station's emulators" in done.stderr, done.stderr
        assert "make demo" in done.stderr and "pip install ./emulator" in done.stderr, done.stderr
        assert "Traceback" not in done.stderr
    listed = station(venv, "--help")
    assert "demo" in listed.stdout and "emulate" in listed.stdout


def test_install_system_from_the_wheel_writes_what_the_package_ships(venv: Path, tmp_path: Path) -> None:
    result = station(venv, "install-system", "--apply", "--root", tmp_path)
    assert result.returncode == 0, result.stderr
    for source, target in SHIPPED.items():
        written = (tmp_path / target).read_text()
        shipped = (ROOT / source).read_text().replace("/usr/bin/station", f"{venv}/bin/station")
        assert written == shipped, target
        assert (tmp_path / target).stat().st_mode & 0o777 == 0o644
    assert re.search(rf"^ExecStart={re.escape(str(venv))}/bin/station run$",
                     (tmp_path / "etc/systemd/system/station.service").read_text(), re.M)
    assert (tmp_path / "etc/station/station.toml").stat().st_mode & 0o777 == 0o640


def test_install_system_refuses_an_installation_others_can_change(venv: Path, tmp_path: Path) -> None:
    found = run(venv / "bin/python", "-c", "import station; print(station.__file__)", cwd="/")
    site = Path(found.stdout.strip()).parent
    assert site.is_relative_to(venv)
    target = site / "config.py"
    target.chmod(0o666)
    try:
        result = station(venv, "install-system", "--apply", "--root", tmp_path)
    finally:
        target.chmod(0o644)
    assert result.returncode != 0
    assert f"a user other than root can change this installation of Station: {target}" in result.stderr
    assert "sudo python3 -m venv /opt/station" in result.stderr and "Traceback" not in result.stderr
    assert not (tmp_path / "etc").exists(), "nothing is written"


def test_install_system_refuses_an_installation_the_service_cannot_see(venv: Path) -> None:
    result = station(venv, "install-system")  # dry run onto /: writes nothing
    assert result.returncode != 0
    assert "station.service cannot see this installation of Station" in result.stderr
    assert "ProtectHome=/PrivateTmp=" in result.stderr and "Traceback" not in result.stderr
