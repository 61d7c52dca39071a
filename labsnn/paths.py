"""The folders labsnn writes to, checked before any data is loaded or any run trains, and
the repository's default locations for them."""

from __future__ import annotations

import os
from pathlib import Path

#: The checkout labsnn is imported from (it holds ``notebooks/``), or None for an installed copy.
REPOSITORY: Path | None = Path(__file__).resolve().parents[1]
if not (REPOSITORY / "notebooks").is_dir():
    REPOSITORY = None


def check_writable_folder(path: str | os.PathLike, what: str) -> Path:
    """``path`` as an absolute ``Path`` if labsnn can write there: an existing folder it may
    write to, or a new one whose nearest existing parent is such a folder. Else a
    ``ValueError`` naming ``what``, the path and the problem. Creates nothing."""
    path = Path(path).absolute()
    existing = path
    while not existing.exists():
        if existing.is_symlink():
            raise ValueError(f"{what} {path}: {existing} is a broken link")
        existing = existing.parent
    if not existing.is_dir():
        where = "" if existing == path else f" ({existing} is a file)"
        raise ValueError(f"{what} {path} is not a folder{where}")
    if not os.access(existing, os.W_OK | os.X_OK):
        raise ValueError(f"{what} {path} cannot be written: no write permission on {existing}")
    return path


def default_folder(*parts: str) -> Path:
    """``<repository>/<parts>`` when labsnn runs from its checkout, else ``./<parts>``: a
    notebook's defaults do not depend on the folder Jupyter or papermill was started in."""
    return (REPOSITORY or Path.cwd()).joinpath(*parts)
