"""Secret files kept outside the database: created once, atomically, readable by their owner only."""

from __future__ import annotations

import contextlib
import os
import stat
import tempfile
from collections.abc import Callable
from pathlib import Path


class SecretFileError(Exception):
    """A secret file that cannot be used as it is (readable by others, unreadable)."""


def read_or_create(path: Path, generate: Callable[[], bytes]) -> bytes:
    """The content of `path`; when it does not exist yet, it is first created with `generate()`.

    The content goes into a private temporary file next to `path` (mkstemp: O_CREAT|O_EXCL, mode 0600)
    and is then hard-linked into place, which fails if `path` exists. So no process ever sees a partial
    file or a moment when the secret is readable by others, and of two processes creating it at once
    one links first and both end up with its content.
    """
    try:
        return read_private(path)
    except FileNotFoundError:
        pass
    path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    fd, temporary = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".new")
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(generate())
            handle.flush()
            os.fsync(handle.fileno())
        with contextlib.suppress(FileExistsError):  # another process was first: its file wins
            os.link(temporary, path)
    finally:
        os.unlink(temporary)
    _sync_folder(path.parent)
    return read_private(path)


def read_private(path: Path) -> bytes:
    """The content of `path`, refused when the file is readable or writable by group or others."""
    try:
        info = path.stat()
    except PermissionError:
        raise SecretFileError(f"{path} cannot be read") from None
    if not stat.S_ISREG(info.st_mode):
        raise SecretFileError(f"{path} is not a regular file")
    mode = stat.S_IMODE(info.st_mode)
    if mode & 0o077:
        raise SecretFileError(f"{path} is accessible to other users (mode {mode:04o}): chmod 600 it")
    try:
        return path.read_bytes()
    except PermissionError:
        raise SecretFileError(f"{path} cannot be read") from None


def _sync_folder(folder: Path) -> None:
    """Make the new directory entry durable (a crash must not lose a key that events were signed with)."""
    try:
        fd = os.open(folder, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)
