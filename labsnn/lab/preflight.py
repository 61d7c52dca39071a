"""The checks a command makes before it imports torch, loads data or trains: the
profile, the data root, the folders it writes, the notebooks and the scheduler. Each
bad value is one ``ValueError`` (or ``FileNotFoundError``) line. Also the lab's
profiles themselves, as plain data."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from labsnn.running.paths import REPOSITORY, check_writable_folder
from labsnn.running.paths import check_data_root as check_mnist_root

#: The report's notebooks, in the order of the report.
NOTEBOOKS = ("4.1_hyperparameters", "4.2_loss_functions", "4.3_flops", "4.4_seed_setup")

PROFILES: dict[str, dict[str, Any]] = {
    "full": {
        "n_train": None,
        "n_test": None,
        "epochs": 5,
        "seeds": 3,
        "grid": {
            "z": [0.5, 1.0, 2.0, 5.0, 10.0],
            "beta": [0.01, 0.05, 0.1, 0.5, 1.0, 2.0, 5.0],
            "v_th": [0.25, 0.5, 1.0, 2.0, 5.0, 10.0],
            "T": [2, 5, 10, 25, 50, 100],
        },
    },
    "smoke": {  # small batches so that a 1,000-image subset still learns in 2 epochs
        "n_train": 1000,
        "n_test": 500,
        "epochs": 2,
        "seeds": 1,
        "batch_size": 16,
        "grid": {"z": [2.0, 10.0], "beta": [0.1, 5.0], "v_th": [1.0, 10.0], "T": [2, 5, 25]},
    },
}


def profile(name: str) -> dict[str, Any]:
    """The profile called ``name``; an unknown name is a ``ValueError`` listing the choices."""
    if name not in PROFILES:
        raise ValueError(f"unknown profile {name!r}; choose one of: {', '.join(PROFILES)}")
    return PROFILES[name]


def check_data_root(profile_name: str, data_root: str | os.PathLike | None) -> None:
    """The data root fits the profile: the smoke profile reads none (one given to it is an
    error, not silently dropped); the full profile's root, or ``$LABSNN_DATA``, holds MNIST."""
    if profile(profile_name) is PROFILES["smoke"]:
        if data_root is not None:
            raise ValueError(
                f"the smoke profile always uses the packaged MNIST subset (the same numbers on every machine), "
                f"so data_root {str(data_root)!r} would be ignored; use the full profile to read it"
            )
        return
    check_mnist_root(data_root)


def notebook_paths() -> list[Path]:
    """The section notebooks of the labsnn checkout; a ``RuntimeError`` saying where to run
    the report from when labsnn is installed without them."""
    if REPOSITORY is None:
        raise RuntimeError(
            "labsnn report executes the notebooks of a labsnn checkout, and this labsnn is installed "
            "without them: clone the repository and run it there (make report)"
        )
    paths = [REPOSITORY / "notebooks" / f"{name}.ipynb" for name in NOTEBOOKS]
    missing = [path.name for path in paths if not path.is_file()]
    if missing:
        raise RuntimeError(f"the checkout at {REPOSITORY} lacks the notebook(s) {', '.join(missing)}")
    return paths


@dataclass(frozen=True)
class ReportPlan:
    """A report's arguments, checked: absolute folders and the resolved scheduler."""

    profile: str
    data_root: str | None
    results_dir: Path
    out_dir: Path
    figures_dir: Path
    scheduler: Any


def check_report(
    profile_name: str,
    data_root: str | None,
    results_dir: str | os.PathLike,
    out_dir: str | os.PathLike,
    scheduler: Any = None,
    scheduler_file: str | os.PathLike | None = None,
) -> ReportPlan:
    """Every check of ``labsnn report`` that needs neither TeX nor data, in seconds.

    Returns:
        The checked arguments; raises ``ValueError``, ``FileNotFoundError`` or
        ``RuntimeError`` with one line on the first bad one. Creates nothing.
    """
    from labsnn.running.distributed import resolve_scheduler

    check_data_root(profile_name, data_root)
    out = check_writable_folder(out_dir, "output folder")
    results = check_writable_folder(results_dir, "results folder")
    figures = check_writable_folder(out / "figures", "figures folder")
    notebook_paths()
    return ReportPlan(profile_name, data_root, results, out, figures, resolve_scheduler(scheduler, scheduler_file))
