"""The lab's profiles (full and smoke) and the runs each section of the report plans."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pandas as pd

from labsnn.dynamics.encoders import ENCODERS
from labsnn.lab import setup_search
from labsnn.lab.preflight import check_data_root, profile
from labsnn.log import log
from labsnn.running.config import RunConfig
from labsnn.running.data import MNISTData, load_mnist, load_subset
from labsnn.running.paths import check_writable_folder, default_folder
from labsnn.running.results import read_result, result_path
from labsnn.running.sweep import run_configs, sweep_configs, sweeps

SECTION_LOSSES = ("mse_rate", "cross_entropy_rate")  # the two the source report compares in 4.2
FLOPS_T = 5  # the source report quotes its SNN FLOPs at T = 5


def base_config(profile_name: str, epochs: int | None = None, device: str = "auto") -> RunConfig:
    """Returns the lab's default run at the profile's data size, batch size and epochs.

    Args:
        profile_name, epochs, device: the profile; epochs (None: the profile's); the run's device field.

    Raises:
        ValueError: an unknown profile.
    """
    return RunConfig(**profile_sizes(profile_name, epochs), device=device)


def profile_sizes(profile_name: str, epochs: int | None = None) -> dict[str, Any]:
    """Returns the ``RunConfig`` fields a profile sets: ``n_train``, ``n_test``, ``epochs`` and, where set, ``batch_size``.

    Args:
        profile_name, epochs: the profile; epochs (None: the profile's).

    Raises:
        ValueError: an unknown profile.
    """
    p = profile(profile_name)
    sizes = {k: p[k] for k in ("n_train", "n_test", "batch_size") if k in p}
    return {**sizes, "epochs": epochs or p["epochs"]}


def check_grid(profile_name: str, grid: dict[str, list] | None) -> dict[str, list]:
    """Returns 4.1's grid: ``grid``, or the profile's where None; before any data or training.

    A grid names every sweep that 4.1 shows (``z``, ``beta``, ``v_th``, ``T``), each with at least one value:
    a partial grid is refused rather than run with subsections that have nothing to show.

    Args:
        profile_name, grid: the profile; field -> values, or None.

    Raises:
        ValueError: one line: an unknown or missing sweep, or one with no values.
    """
    expected = profile(profile_name)["grid"]
    if grid is None:
        return expected
    unknown = [name for name in grid if name not in expected]
    missing = [name for name in expected if name not in grid]
    empty = [name for name in expected if name in grid and not list(grid[name])]
    problems = [
        f"unknown sweep(s) {', '.join(unknown)}" if unknown else "",
        f"no values for {', '.join(empty)}" if empty else "",
        f"it lacks {', '.join(missing)}" if missing else "",
    ]
    problem = next((text for text in problems if text), None)
    if problem:
        raise ValueError(
            f"grid must give values for each of 4.1's sweeps ({', '.join(expected)}): {problem}; to change one, "
            f'start from the profile\'s, e.g. grid = {{**lab.profile("{profile_name}")["grid"], "z": [2, 10]}}'
        )
    return {name: list(grid[name]) for name in expected}


def load_data(profile_name: str, data_root: str | None = None) -> MNISTData:
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


def notebook_folders(
    profile_name: str, results_dir: str | None = None, figures_dir: str | None = None
) -> tuple[Path, Path]:
    """Returns a notebook's result cache and figures folder, checked writable (creating nothing).

    Args:
        profile_name: the profile.
        results_dir, figures_dir: None for the defaults, wherever Jupyter or papermill was started:
            ``<repository>/results`` (``results/smoke`` for smoke) and ``<results>/figures``.

    Returns:
        ``(results, figures)``, absolute.

    Raises:
        ValueError: an unknown profile, or a folder that cannot be written.
    """
    profile(profile_name)
    results = (
        Path(results_dir) if results_dir else default_folder("results", *(["smoke"] if profile_name == "smoke" else []))
    )
    figures = Path(figures_dir) if figures_dir else results / "figures"
    return check_writable_folder(results, "results_dir"), check_writable_folder(figures, "figures_dir")


def section_grids(profile_name: str, grid: dict[str, list] | None = None) -> dict[str, dict[str, list]]:
    """Returns, per section (``4.1``, ``4.2``, ``4.3``), the one-at-a-time sweeps it shows: field -> values.

    Args:
        profile_name, grid: the profile; 4.1's grid (None: the profile's).
    """
    grid = check_grid(profile_name, grid)
    return {
        "4.1": {**grid, "encoder": list(ENCODERS)},
        "4.2": {"loss": list(SECTION_LOSSES)},
        "4.3": {"T": [FLOPS_T]},
    }


def chapter_plans(
    profile_name: str,
    seeds: int | None = None,
    device: str = "auto",
    data: MNISTData | None = None,
    results_dir: str | Path | None = None,
) -> dict[str, list[RunConfig]]:
    """Returns the runs of each chapter, 4.1 to 4.4; a run two chapters share is listed once, in the first.

    What 4.4's screening decides (a fallback screening, the winner) is known only once it has trained: with ``data``
    and ``results_dir`` the plan adds what the cache decides, 4.4's further screening and the winner's runs of 4.1-4.3
    (chapter ``4.4 winner``).

    Args:
        profile_name, seeds, device: the profile; seeds per value (None: the profile's); the runs' device.
        data, results_dir: the data and the result cache, or None.

    Returns:
        Chapter name -> its ``RunConfig`` list.
    """
    base = base_config(profile_name, device=device)
    seeds = seeds or profile(profile_name)["seeds"]
    seen: set[str] = set()

    def new(configs: list[RunConfig]) -> list[RunConfig]:
        return [c for c in configs if not (c.config_hash in seen or seen.add(c.config_hash))]

    plans = {}
    for section, grids in section_grids(profile_name).items():
        plans[section] = new([c for param, values in grids.items() for c in sweep_configs(base, param, values, seeds)])
    ours = [c for section in ("4.1", "4.2", "4.3") for c in plans[section]]
    plans["4.4"] = new(setup_search.first_plan(profile_name, device))
    if data is not None and results_dir is not None:
        decision = setup_search.decide(profile_name, data, results_dir)
        plans["4.4"] += new(setup_search.screening_plan(decision, device))
        if decision.fields is not None:
            plans["4.4 winner"] = new([c.replace(**decision.fields) for c in ours])
    return plans


def plan(
    profile_name: str,
    seeds: int | None = None,
    device: str = "auto",
    data: MNISTData | None = None,
    results_dir: str | Path | None = None,
) -> list[RunConfig]:
    """Returns every run of sections 4.1-4.4 in one list, so that all can train in one batch (maximal stacking).

    Args:
        profile_name, seeds, device, data, results_dir: as ``chapter_plans`` takes them.
    """
    return [c for configs in chapter_plans(profile_name, seeds, device, data, results_dir).values() for c in configs]


def training_seconds(profile_name: str, data: MNISTData, results_dir: str | Path) -> dict[str, float]:
    """Returns, per chapter, the seconds its runs trained (whenever that was), from their recorded epoch times.

    Args:
        profile_name, data, results_dir: the profile, its data and the result cache.

    Returns:
        Chapter name -> seconds; a stack's epoch time is shared equally by the runs stacked in it.
    """
    times = {}
    for chapter, configs in chapter_plans(profile_name, data=data, results_dir=results_dir).items():
        seconds = 0.0
        for config in configs:
            result = read_result(result_path(Path(results_dir), config, data), config)
            seconds += sum(row["epoch_time_s"] / row["stacked_runs"] for row in (result.epochs if result else []))
        times[chapter] = seconds
    return times


def run_section(
    section: str,
    profile_name: str,
    data: MNISTData,
    results_dir: str | Path,
    seeds: int | None = None,
    epochs: int | None = None,
    grid: dict[str, list] | None = None,
    device: str = "auto",
    progress: bool = True,
    scheduler: str | None = None,
    setup: dict[str, Any] | None = None,
) -> pd.DataFrame:
    """Returns the tidy results of one section's sweeps, training what the cache lacks.

    Args:
        section, profile_name, data, results_dir: ``4.1``, ``4.2`` or ``4.3``; the profile; its data; the cache.
        seeds, epochs, grid: None for the profile's; only 4.1 sweeps a ``grid``.
        device, progress, scheduler: where and how runs train (``labsnn.running.sweep.sweeps``).
        setup: config fields that replace labsnn's setup (4.4's source-like winner), or None.

    Returns:
        One row per run and epoch, with ``sweep`` and ``value``.

    Raises:
        ValueError: a ``grid`` given to another section (an error, not silently dropped), or a partial one
            (``check_grid``, through ``section_grids``, before any training).
    """
    if grid is not None and section != "4.1":
        raise ValueError(f"section {section} does not sweep the 4.1 grid, so grid={grid!r} would be ignored")
    base = base_config(profile_name, epochs, device).replace(**(setup or {}))
    seeds = seeds or profile(profile_name)["seeds"]
    return sweeps(base, section_grids(profile_name, grid)[section], seeds, results_dir, data, progress, scheduler)


def prepare(
    profile_name: str,
    data: MNISTData,
    results_dir: str | Path,
    progress: bool = True,
    scheduler: str | None = None,
    workers: int | str = 1,
) -> None:
    """Trains every run of the report; the notebooks then read the cache.

    The runs planned beforehand train in one batch; then what they decide (4.4's fallback screening, the winner's
    runs of 4.1-4.3), until the plan stops growing.

    Args:
        profile_name, data, results_dir: the profile, its data and the result cache.
        progress, scheduler, workers: as ``labsnn.running.sweep.run_configs`` takes them.
    """
    configs, trained = plan(profile_name), -1
    while len(configs) != trained:
        if trained >= 0:
            log.info(f"{len(configs) - trained} more run(s) planned from what 4.4's screening decided")
        run_configs(configs, results_dir, data, progress, scheduler, workers)
        configs, trained = plan(profile_name, data=data, results_dir=results_dir), len(configs)


def flops_config(profile_name: str, seed: int = 0, epochs: int | None = None, device: str = "auto") -> RunConfig:
    """Returns the run whose FLOPs the source report quotes: the lab's default at T = 5.

    Args:
        profile_name, seed, epochs, device: the profile; the run's seed; epochs (None: the profile's); its device.
    """
    return base_config(profile_name, epochs, device).replace(T=FLOPS_T, seed=seed)


def _duration(seconds: float) -> str:
    """Formats seconds as ``a.b min``, or ``c s`` under a minute."""
    return f"{seconds / 60:.1f} min" if seconds >= 60 else f"{seconds:.0f} s"


def training_summary(profile_name: str, data: MNISTData, results_dir: str | Path) -> str:
    """Returns ``4.1 a min, 4.2 b s, ... (in all c min)``, from ``training_seconds``.

    Args:
        profile_name, data, results_dir: as ``training_seconds`` takes them.
    """
    seconds = training_seconds(profile_name, data, results_dir)
    listed = ", ".join(f"{chapter} {_duration(value)}" for chapter, value in seconds.items())
    return f"{listed} (in all {_duration(sum(seconds.values()))})"
