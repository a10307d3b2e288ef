"""The hash-locked requirement files agree with pyproject.toml: `make demo` and the service install
requirements/service.txt and then Station with --no-deps, so a dependency added to pyproject.toml but not
locked would be missing at run time; the service's environment must hold no test tools."""

from __future__ import annotations

import re
import tomllib
from pathlib import Path

import pytest
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name
from packaging.version import Version

ROOT = Path(__file__).resolve().parents[2]
PYPROJECT = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
FIX = "run `make lock` and commit requirements/"


def pins(name: str) -> dict[str, tuple[Version, list[str]]]:
    """Package → (pinned version, hashes) of one lock file; each entry must be an exact pin with hashes."""
    text = (ROOT / "requirements" / name).read_text()
    out: dict[str, tuple[Version, list[str]]] = {}
    for entry in re.split(r"\n(?=\S)", text):
        logical = entry.replace("\\\n", " ")
        if logical.lstrip().startswith("#") or not logical.strip():
            continue
        spec = logical.split(" --hash=")[0].split("#")[0].strip()
        req = Requirement(spec)
        (op_version,) = req.specifier
        assert op_version.operator == "==", f"{name}: {spec!r} is not an exact pin"
        hashes = re.findall(r"--hash=sha256:([0-9a-f]{64})", logical)
        assert hashes, f"{name}: {req.name} has no sha256 hash"
        out[canonicalize_name(req.name)] = (Version(op_version.version), hashes)
    return out


def unmet(requirements: list[str], locked: dict[str, tuple[Version, list[str]]]) -> list[str]:
    problems = []
    for line in requirements:
        req = Requirement(line)
        pin = locked.get(canonicalize_name(req.name))
        if pin is None:
            problems.append(f"{req.name} is not locked")
        elif not req.specifier.contains(pin[0], prereleases=True):
            problems.append(f"{req.name}=={pin[0]} does not satisfy {req.specifier}")
    return problems


def test_service_lock_pins_every_dependency_within_its_bounds() -> None:
    assert unmet(PYPROJECT["dependencies"], pins("service.txt")) == [], FIX


def test_test_lock_pins_every_dependency_and_test_tool() -> None:
    wanted = PYPROJECT["dependencies"] + PYPROJECT["optional-dependencies"]["test"]
    assert unmet(wanted, pins("test.txt")) == [], FIX


def test_test_environment_runs_the_service_versions() -> None:
    service, test = pins("service.txt"), pins("test.txt")
    differ = {n: (v, test[n][0]) for n, (v, _) in service.items() if n in test and test[n][0] != v}
    assert differ == {}, FIX
    assert sorted(set(service) - set(test)) == [], FIX


def test_service_lock_holds_no_test_tools() -> None:
    service = pins("service.txt")
    tools = {canonicalize_name(Requirement(r).name) for r in PYPROJECT["optional-dependencies"]["test"]}
    assert sorted(tools & set(service)) == []
    assert "pygobject" not in service and "pycairo" not in service


@pytest.mark.parametrize("name", ["service.txt", "test.txt", "tools.txt"])
def test_every_pin_carries_hashes(name: str) -> None:
    assert pins(name), f"requirements/{name} pins nothing"
