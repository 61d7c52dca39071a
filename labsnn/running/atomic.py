"""Files written whole or not at all: a temporary file beside the target, then a rename,
so that a reader, a second writer or a crash in between sees the old file or the new
one, never a torn one."""

from __future__ import annotations

import os
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import IO


def _read_umask() -> int:
    """The process's umask: from /proc on Linux (reading it changes nothing), else by
    setting and restoring it."""
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("Umask:"):
                return int(line.split()[1], 8)
    except (OSError, ValueError):
        pass
    mask = os.umask(0)
    os.umask(mask)
    return mask


_UMASK = _read_umask()  # read once at import: os.umask is process-wide, so reading it later races other threads


def umask() -> int:
    """The process's umask, as read when labsnn was imported."""
    return _UMASK


def write_atomically(path: Path, write: Callable[[IO], object], binary: bool) -> None:
    """Write a file through a temporary beside it, then rename it onto ``path``.

    Args:
        path: the file to (re)place; its folder must exist.
        write: called with the open temporary file (``"wb"`` if ``binary``, else ``"w"``).
        binary: whether ``write`` writes bytes.

    The file is readable as the process's umask allows (a folder shared by a group stays
    readable by it); an interrupted write leaves only the temporary.
    """
    path = Path(path)
    handle, temporary = tempfile.mkstemp(dir=path.parent, prefix=f".{path.stem}.", suffix=".tmp")
    try:
        with os.fdopen(handle, "wb" if binary else "w") as stream:
            write(stream)
            stream.flush()
            os.fsync(stream.fileno())
        os.chmod(temporary, 0o666 & ~_UMASK)  # mkstemp makes it 0600
        os.replace(temporary, path)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise


def write_bytes(path: Path, data: bytes) -> None:
    """``path.write_bytes(data)``, atomically."""
    write_atomically(path, lambda stream: stream.write(data), binary=True)


def write_text(path: Path, text: str) -> None:
    """``path.write_text(text)``, atomically."""
    write_atomically(path, lambda stream: stream.write(text), binary=False)
