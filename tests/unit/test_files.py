"""Private files: exact modes whatever the umask, whole-file replacement, never a write through a link."""

from __future__ import annotations

import os
import stat
from collections.abc import Iterator
from pathlib import Path

import pytest

from station.errors import StationError
from station.files import create_private_file, private_dir, write_private_atomically


def mode(path: Path) -> int:
    return stat.S_IMODE(os.lstat(path).st_mode)


@pytest.fixture
def strange_umask() -> Iterator[None]:
    previous = os.umask(0o727)  # takes the owner's write bit away, and more
    try:
        yield
    finally:
        os.umask(previous)


def test_modes_are_exact_whatever_the_umask(tmp_path: Path, strange_umask: None) -> None:
    deep = private_dir(tmp_path / "a" / "b")
    assert mode(tmp_path / "a") == mode(deep) == 0o700
    create_private_file(deep / "station.db")
    written = write_private_atomically(deep / "pins.csv", "upn\n")
    assert mode(deep / "station.db") == mode(written) == 0o600


def test_a_replacement_is_whole_and_private(tmp_path: Path) -> None:
    target = tmp_path / "pins.csv"
    target.write_text("old")
    target.chmod(0o644)
    write_private_atomically(target, b"new")
    assert target.read_bytes() == b"new" and mode(target) == 0o600
    assert sorted(p.name for p in tmp_path.iterdir()) == ["pins.csv"]


def test_never_overwriting_keeps_what_is_there(tmp_path: Path) -> None:
    target = tmp_path / "escrow-private.pem"
    target.write_text("the only copy")
    with pytest.raises(StationError, match="already exists"):
        write_private_atomically(target, "another key", replace=False)
    assert target.read_text() == "the only copy"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["escrow-private.pem"]


@pytest.mark.parametrize("dangling", [False, True])
def test_a_link_is_refused_and_its_target_untouched(tmp_path: Path, dangling: bool) -> None:
    victim = tmp_path / "victim"
    if not dangling:
        victim.write_text("precious")
    link = tmp_path / "out.csv"
    link.symlink_to(victim)
    for write in (lambda: write_private_atomically(link, "pins"), lambda: create_private_file(link)):
        with pytest.raises(StationError, match="is a symbolic link"):
            write()
    assert link.is_symlink()
    assert victim.read_text() == "precious" if not dangling else not victim.exists()


def test_a_directory_that_cannot_be_written_is_one_clear_error(tmp_path: Path) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("")
    with pytest.raises(StationError, match=f"cannot write {blocker / 'pins.csv'}"):
        write_private_atomically(blocker / "pins.csv", "pins")
