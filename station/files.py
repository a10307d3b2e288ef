"""Files Station creates: directories 0700, files 0600 whatever the umask, and writes that never follow a link.

* ``private_dir`` makes a directory and each missing parent 0700 (an existing directory keeps its mode: systemd
  or the administrator chose it).
* ``create_private_file`` makes an empty file 0600 unless one exists (a database before SQLite opens it, whose
  ``-wal`` and ``-shm`` files SQLite then creates with the same mode; a log file before it is appended to);
  ``restrict_to_owner`` makes one that an earlier version left readable by others 0600.
* ``write_private_atomically`` writes a whole file (an export, a key): a new temporary file in the target's
  directory (``O_CREAT | O_EXCL | O_NOFOLLOW``, 0600), fsync, then rename over the target — a reader sees the
  old file or the new one, never half of one, and a symbolic link at the target is refused, never followed.
"""

from __future__ import annotations

import contextlib
import errno
import os
import secrets
import stat
from pathlib import Path

from station.errors import StationError

FILE_MODE = 0o600
DIR_MODE = 0o700


def private_dir(path: str | os.PathLike[str]) -> Path:
    """``path`` as a directory; each one created here is 0700."""
    directory = Path(path)
    missing: list[Path] = []
    for candidate in (directory, *directory.parents):
        if candidate.is_dir():
            break
        missing.append(candidate)
    for candidate in reversed(missing):
        try:
            os.mkdir(candidate, DIR_MODE)
        except FileExistsError:
            if not candidate.is_dir():
                raise
            continue
        os.chmod(candidate, DIR_MODE)
    return directory


def create_private_file(path: str | os.PathLike[str]) -> None:
    """Create ``path`` empty and 0600 unless it exists; a symbolic link there is refused."""
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC, FILE_MODE)
    except FileExistsError:
        refuse_symlink(path)
        return
    try:
        os.fchmod(fd, FILE_MODE)
    finally:
        os.close(fd)


def restrict_to_owner(path: str | os.PathLike[str]) -> int | None:
    """Make an existing file of this user that group or others may read 0600 (one an earlier version left
    0644); its old mode, or None when nothing changed. A link, another user's file or no file is left alone."""
    try:
        st = os.lstat(path)
    except FileNotFoundError:
        return None
    if not stat.S_ISREG(st.st_mode) or st.st_uid != os.geteuid() or not st.st_mode & 0o077:
        return None
    os.chmod(path, FILE_MODE)
    return stat.S_IMODE(st.st_mode)


def write_private_atomically(path: str | os.PathLike[str], data: bytes | str, *, replace: bool = True) -> Path:
    """Write ``data`` to ``path`` (0600) through a temporary file and a rename.

    ``replace=False`` never overwrites: an existing ``path`` is an error. A symbolic link at ``path`` is
    refused either way; its target is never touched."""
    target = Path(path)
    payload = data.encode("utf-8") if isinstance(data, str) else data
    refuse_symlink(target)
    try:
        existing: int | None = os.lstat(target).st_mode
    except FileNotFoundError:
        existing = None
    except OSError as e:
        raise StationError(f"cannot write {target}: {e.strerror}",
                           remedy="Write to a directory this user may create files in.") from None
    if existing is not None and not replace:
        raise StationError(f"{target} already exists", remedy="Choose another name; it is never overwritten.")
    if existing is not None and not stat.S_ISREG(existing):
        raise StationError(f"{target} is not a regular file", remedy="Choose a file name to write to.")
    try:
        directory = private_dir(target.parent)
        temporary = directory / f".{target.name}.{secrets.token_hex(6)}.tmp"
        fd = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC, FILE_MODE)
    except OSError as e:
        raise StationError(f"cannot write {target}: {e.strerror}",
                           remedy="Write to a directory this user may create files in.") from None
    try:
        try:
            os.fchmod(fd, FILE_MODE)
            view = memoryview(payload)
            while view:
                view = view[os.write(fd, view):]
            os.fsync(fd)
        finally:
            os.close(fd)
        if replace:
            os.replace(temporary, target)
        else:
            _link_new(temporary, target)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(temporary)
        raise
    _sync_directory(directory)
    return target


def refuse_symlink(path: str | os.PathLike[str]) -> None:
    """StationError when ``path`` is a symbolic link (dangling or not)."""
    if Path(path).is_symlink():
        raise _symlink_error(Path(path))


def _link_new(temporary: Path, target: Path) -> None:
    """Give ``temporary`` the name ``target`` only if nothing has that name (link(2) never replaces)."""
    try:
        os.link(temporary, target)
    except FileExistsError:
        raise StationError(f"{target} already exists", remedy="Choose another name; it is never overwritten.") \
            from None
    os.unlink(temporary)


def _sync_directory(directory: Path) -> None:
    try:
        fd = os.open(directory, os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError as e:
        if e.errno not in (errno.EINVAL, errno.EROFS):
            raise
    finally:
        os.close(fd)


def _symlink_error(path: Path) -> StationError:
    return StationError(f"{path} is a symbolic link; Station does not write through links",
                        remedy="Give the path of a file (or of one that does not exist yet), not of a link.")
