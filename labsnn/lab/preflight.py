"""The checks a command makes before it imports torch, loads data or trains, and the lab's profiles as plain data.

It checks the profile, the data root, the folders a command writes, the notebooks and the scheduler; each bad value
is one ``ValueError`` (or ``FileNotFoundError``, ``RuntimeError``) line.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from labsnn.running.paths import REPOSITORY, check_writable_folder
from labsnn.running.paths import check_data_root as check_mnist_root
from labsnn.validation import AUTO_WORKERS, check_workers

#: The report's notebooks, in the order of the report.
NOTEBOOKS = ("4.1_hyperparameters", "4.2_loss_functions", "4.3_flops", "4.4_training_setup")

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
    """Returns the profile called ``name``.

    Args:
        name: a key of ``PROFILES`` (``full`` or ``smoke``).

    Returns:
        Its settings: ``n_train``, ``n_test`` (None: all), ``epochs``, ``seeds``, ``grid`` (4.1's sweeps) and,
        where set, ``batch_size``.

    Raises:
        ValueError: an unknown name, listing the choices.
    """
    if name not in PROFILES:
        raise ValueError(f"unknown profile {name!r}; choose one of: {', '.join(PROFILES)}")
    return PROFILES[name]


def report_folders(profile_name: str) -> tuple[Path, Path]:
    """Returns where a profile's report keeps its result cache and its output, relative to the current folder.

    Each profile has its own, so that a quick smoke report never overwrites the full one.

    Args:
        profile_name: ``full`` or ``smoke``.

    Returns:
        ``(results, reports)``: ``results`` and ``reports`` for full, ``results/smoke`` and ``reports/smoke`` for smoke.

    Raises:
        ValueError: an unknown profile.
    """
    below = () if profile(profile_name) is PROFILES["full"] else (profile_name,)
    return Path("results", *below), Path("reports", *below)


def check_data_root(profile_name: str, data_root: str | os.PathLike | None) -> None:
    """Checks that the data root fits the profile, reading no data.

    Args:
        profile_name: ``full`` or ``smoke``.
        data_root: the folder given, or None. The smoke profile reads none; the full profile's, or
            ``$LABSNN_DATA``, must hold MNIST.

    Raises:
        ValueError: an unknown profile, or a root given to the smoke profile (an error, not silently dropped).
        FileNotFoundError: a root that lacks MNIST's files.
    """
    if profile(profile_name) is PROFILES["smoke"]:
        if data_root is not None:
            raise ValueError(
                f"the smoke profile always uses the packaged MNIST subset (the same numbers on every machine), "
                f"so data_root {str(data_root)!r} would be ignored; use the full profile to read it"
            )
        return
    check_mnist_root(data_root)


def notebook_paths() -> list[Path]:
    """Returns the section notebooks of the labsnn checkout.

    Returns:
        ``notebooks/<name>.ipynb`` for each of ``NOTEBOOKS``, in the report's order.

    Raises:
        RuntimeError: labsnn is installed without its checkout (saying where to run the report), or a notebook is
            missing.
    """
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
    """A report's arguments, checked.

    Attributes:
        profile: as given.
        data_root: the data root given, absolute against the folder the command was run from (None: none given).
        results_dir, out_dir, figures_dir: absolute folders (``<out_dir>/figures`` for the figures).
        scheduler: the resolved scheduler (``labsnn.running.executor.resolve_scheduler``), None for this machine.
        workers: without a scheduler, the processes training side by side (``labsnn.running.executor``).
    """

    profile: str
    data_root: str | None
    results_dir: Path
    out_dir: Path
    figures_dir: Path
    scheduler: Any
    workers: int | str


def check_report(
    profile_name: str,
    data_root: str | None,
    results_dir: str | os.PathLike | None = None,
    out_dir: str | os.PathLike | None = None,
    scheduler: Any = None,
    scheduler_file: str | os.PathLike | None = None,
    workers: int | str = AUTO_WORKERS,
) -> ReportPlan:
    """Runs every check of ``labsnn report`` that needs neither TeX nor data; creates nothing.

    Args:
        profile_name, data_root: as ``check_data_root`` takes them.
        results_dir, out_dir: the result cache and the output folder, each writable or creatable; None for the
            profile's own (``report_folders``).
        scheduler, scheduler_file: as ``labsnn.running.executor.resolve_scheduler`` takes them.
        workers: as ``labsnn.running.sweep.sweeps`` takes it.

    Returns:
        The checked ``ReportPlan``.

    Raises:
        ValueError, FileNotFoundError, RuntimeError: one line on the first bad argument.
    """
    from labsnn.running.executor import resolve_scheduler

    check_data_root(profile_name, data_root)
    default_results, default_out = report_folders(profile_name)
    out = check_writable_folder(default_out if out_dir is None else out_dir, "output folder")
    results = check_writable_folder(default_results if results_dir is None else results_dir, "results folder")
    figures = check_writable_folder(out / "figures", "figures folder")
    notebook_paths()
    where = resolve_scheduler(scheduler, scheduler_file)
    root = None if data_root is None else str(Path(data_root).absolute())
    return ReportPlan(profile_name, root, results, out, figures, where, check_workers(workers))
