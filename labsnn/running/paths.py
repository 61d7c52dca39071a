"""The folders labsnn reads and writes, checked before any data is loaded or any run
trains: MNIST's data root, the result and output folders, and the repository's default
locations for them. Imports nothing heavy."""

from __future__ import annotations

import os
from pathlib import Path

#: The checkout labsnn is imported from (it holds ``notebooks/``), or None for an installed copy.
REPOSITORY: Path | None = Path(__file__).resolve().parents[2]
if not (REPOSITORY / "notebooks").is_dir():
    REPOSITORY = None


#: MNIST's four files in torchvision's layout, ``<root>/MNIST/raw/<name>``.
MNIST_FILES = (
    "train-images-idx3-ubyte",
    "train-labels-idx1-ubyte",
    "t10k-images-idx3-ubyte",
    "t10k-labels-idx1-ubyte",
)
DATA_ENV_VAR = "LABSNN_DATA"


def missing_mnist_files(root: str | os.PathLike) -> list[Path]:
    """The files of ``MNIST_FILES`` that are not under ``<root>/MNIST/raw``, in order."""
    raw = Path(root) / "MNIST" / "raw"
    return [raw / name for name in MNIST_FILES if not (raw / name).is_file()]


def explicit_data_root(root: str | os.PathLike | None) -> tuple[Path, str] | None:
    """The data root a user named, and how: ``root`` itself, else ``$LABSNN_DATA``; None
    when neither names one (then ``labsnn.running.data`` looks in ./data and falls back)."""
    if root is not None:
        return Path(root), "the data root"
    if os.environ.get(DATA_ENV_VAR):
        return Path(os.environ[DATA_ENV_VAR]), f"${DATA_ENV_VAR} ="
    return None


def check_data_root(root: str | os.PathLike | None) -> None:
    """Check that a data root the user named holds MNIST, reading nothing.

    Args:
        root: the data root given, or None (then ``$LABSNN_DATA`` is checked, if set).

    Raises:
        FileNotFoundError: one line naming the root and the files it lacks.
    """
    named = explicit_data_root(root)
    if named is None:
        return
    folder, how = named
    missing = missing_mnist_files(folder)
    if missing:
        shown = ", ".join(path.name for path in missing)
        raise FileNotFoundError(f"MNIST not found at {how} {folder}: {folder / 'MNIST' / 'raw'} lacks {shown}")


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
