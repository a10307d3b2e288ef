"""Where this installation of Station lives, and whether it is fit to run as a system service.

The service runs this installation's code with the tenant secret in reach, so no user but root may be able to
change it: every directory and file of the installation (the virtualenv or prefix, and the package itself) must
be owned by root and not writable by group or others, and so must each directory above it (a root-owned
sticky directory such as /tmp is fine above it: nobody else can rename what lies in it). The service's sandbox
(ProtectHome=yes, PrivateTmp=yes) also hides /home, /root, /run/user, /tmp and /var/tmp from it.
"""

from __future__ import annotations

import os
import stat
import sys
from collections.abc import Iterator
from importlib.resources import files
from importlib.resources.abc import Traversable
from pathlib import Path

import station

HIDDEN_FROM_SERVICE = (Path("/home"), Path("/root"), Path("/run/user"), Path("/tmp"), Path("/var/tmp"))
MAX_NAMED = 3


def system_file(name: str) -> Traversable:
    """A unit, snippet or rule shipped in the package (station/system/, from systemd/ and udev/)."""
    return files("station").joinpath("system", name)


def installation_dirs() -> list[Path]:
    """The directories this installation runs from: the interpreter's prefix (a virtualenv) and the package."""
    package = Path(station.__file__).resolve().parent
    prefix = Path(sys.prefix).resolve()
    return [prefix] if package.is_relative_to(prefix) else [prefix, package]


def _writable_by_others(st: os.stat_result, *, above: bool) -> bool:
    if st.st_uid != 0:
        return True
    if stat.S_ISLNK(st.st_mode) or (above and stat.S_ISDIR(st.st_mode) and st.st_mode & stat.S_ISVTX):
        return False
    return bool(st.st_mode & stat.S_IWOTH) or (bool(st.st_mode & stat.S_IWGRP) and st.st_gid != 0)


def _walk(top: Path) -> Iterator[Path]:
    yield top
    for dirpath, dirnames, filenames in os.walk(top):
        base = Path(dirpath)
        for name in (*dirnames, *filenames):
            yield base / name


def writable_by_others(dirs: list[Path]) -> list[Path]:
    """Paths of the installation (and the directories above it) that a user other than root can change."""
    found: list[Path] = []
    for top in dirs:
        for parent in reversed(top.parents):
            if _writable_by_others(parent.lstat(), above=True) and parent not in found:
                found.append(parent)
        for path in _walk(top):
            try:
                st = path.lstat()
            except FileNotFoundError:
                continue
            if _writable_by_others(st, above=False):
                found.append(path)
                if len(found) >= MAX_NAMED:
                    return found
    return found


def hidden_from_service(dirs: list[Path]) -> list[Path]:
    return [d for d in dirs if any(d.is_relative_to(h) for h in HIDDEN_FROM_SERVICE)]
