"""One profile of the lab in one place: its data, its result cache and where its runs train.

Notebooks, the report and ``verify`` build one ``LabContext`` and hand it to what plans, trains and reads runs,
instead of passing the profile, data, folder, device, progress and executor one by one.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from labsnn.lab.preflight import check_data_root, profile
from labsnn.names import DEVICES
from labsnn.running.config import RunConfig
from labsnn.running.data import MNISTData, load_mnist, load_subset
from labsnn.running.paths import check_writable_folder, default_folder
from labsnn.running.results import RunResult
from labsnn.running.sweep import run_configs
from labsnn.validation import check_workers, lookup


@dataclass(frozen=True)
class LabContext:
    """A profile's data and result cache, and where and how its missing runs train.

    Attributes:
        profile: ``full`` (the lab) or ``smoke`` (a quick check).
        data: what every run trains and tests on (``load_data``).
        results_dir: the result cache, one JSON file per run.
        device: the runs' device field: ``auto``, ``cpu`` or ``cuda``.
        progress: log what is cached and show progress bars while training.
        scheduler: a Dask cluster to train on, as ``labsnn.running.executor.resolve_scheduler`` returns it; None:
            this machine.
        workers: on this machine, stacks side by side in this many processes (``auto``: torch's threads).
    """

    profile: str
    data: MNISTData
    results_dir: Path
    device: str = "auto"
    progress: bool = False
    scheduler: Any = None
    workers: int | str = 1

    @classmethod
    def open(
        cls,
        profile: str,
        data_root: str | os.PathLike | None = None,
        results_dir: str | os.PathLike | None = None,
        device: str = "auto",
        progress: bool = False,
        scheduler: Any = None,
        workers: int | str = 1,
    ) -> LabContext:
        """Checks every argument, then loads the profile's data.

        Args:
            profile, data_root: as ``load_data`` takes them.
            results_dir: the result cache; None: ``<repository>/results`` (``results/smoke`` for smoke).
            device, progress, workers: as the attributes.
            scheduler: as ``labsnn.running.executor.resolve_scheduler`` takes it.

        Raises:
            ValueError, FileNotFoundError, RuntimeError: one line on the first bad argument, before any data.
        """
        from labsnn.running.executor import resolve_scheduler

        results = results_folder(profile, results_dir)
        lookup("device", dict.fromkeys(DEVICES), device)  # as a run checks it
        scheduler, workers = resolve_scheduler(scheduler), check_workers(workers)
        return cls(profile, load_data(profile, data_root), results, device, progress, scheduler, workers)

    def run(self, configs: Sequence[RunConfig]) -> list[RunResult]:
        """Returns the results of ``configs`` in order: cached ones read back, missing ones trained into the cache.

        Args:
            configs: the runs, as ``labsnn.running.sweep.run_configs`` takes them.
        """
        return run_configs(configs, self.results_dir, self.data, self.progress, self.scheduler, self.workers)


def load_data(profile_name: str, data_root: str | os.PathLike | None = None) -> MNISTData:
    """Loads the profile's data: the packaged subset for smoke, MNIST for full.

    The subset is the same on every machine, so nbval can compare; MNIST comes by ``labsnn.running.data``'s
    resolution order, falling back loudly.

    Args:
        profile_name, data_root: as ``labsnn.lab.preflight.check_data_root`` checks them (and raises).

    Returns:
        The ``MNISTData``.
    """
    check_data_root(profile_name, data_root)
    return load_subset() if profile_name == "smoke" else load_mnist(data_root)


def results_folder(profile_name: str, results_dir: str | os.PathLike | None = None) -> Path:
    """Returns a profile's result cache, checked writable (creating nothing).

    Args:
        profile_name: the profile.
        results_dir: None for the default, wherever Python was started: ``<repository>/results``
            (``results/smoke`` for smoke).

    Raises:
        ValueError: an unknown profile, or a folder that cannot be written.
    """
    profile(profile_name)
    smoke = ["smoke"] if profile_name == "smoke" else []
    return check_writable_folder(Path(results_dir) if results_dir else default_folder("results", *smoke), "results_dir")


def figures_folder(
    profile_name: str, results_dir: str | os.PathLike | None = None, figures_dir: str | os.PathLike | None = None
) -> Path:
    """Returns where a notebook saves its figures, checked writable (creating nothing), before any data is loaded.

    Args:
        profile_name, results_dir: as ``results_folder`` takes them.
        figures_dir: None for ``<results_dir>/figures``.

    Raises:
        ValueError: an unknown profile, or a folder that cannot be written.
    """
    figures = Path(figures_dir) if figures_dir else results_folder(profile_name, results_dir) / "figures"
    return check_writable_folder(figures, "figures_dir")
