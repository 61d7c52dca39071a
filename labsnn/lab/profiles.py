"""The lab's profiles (full and smoke) and the runs each section of the report plans."""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from labsnn.config import RunConfig
from labsnn.data import MNISTData, load_mnist, load_subset
from labsnn.encoders import ENCODERS
from labsnn.lab import seed_setup
from labsnn.paths import check_writable_folder, default_folder
from labsnn.preflight import PROFILES, check_data_root, profile  # noqa: F401 (PROFILES: re-exported by labsnn.lab)
from labsnn.results import read_result, result_path
from labsnn.sweep import run_configs, sweep_configs, sweeps

SECTION_LOSSES = ("mse_rate", "cross_entropy_rate")  # the two the seed compares in 4.2
FLOPS_T = 5  # the seed quotes its SNN FLOPs at T = 5


def base_config(profile_name: str, epochs: int | None = None, device: str = "auto") -> RunConfig:
    """The lab's default run at the profile's data size and epochs."""
    p = profile(profile_name)
    sizes = {k: p[k] for k in ("n_train", "n_test", "batch_size") if k in p}
    return RunConfig(**sizes, epochs=epochs or p["epochs"], device=device)


def load_data(profile_name: str, data_root: str | None = None) -> MNISTData:
    """Smoke: the packaged subset (the same on every machine, so nbval can compare).
    Full: MNIST by ``labsnn.data``'s resolution order, falling back loudly."""
    check_data_root(profile_name, data_root)
    return load_subset() if profile_name == "smoke" else load_mnist(data_root)


def notebook_folders(
    profile_name: str, results_dir: str | None = None, figures_dir: str | None = None
) -> tuple[Path, Path]:
    """A notebook's result cache and figures folder, checked writable (creating nothing).
    Defaults: ``<repository>/results`` (the report's cache) for the full profile,
    ``<repository>/results/smoke`` for smoke, figures in ``<results>/figures``; wherever
    Jupyter or papermill was started."""
    profile(profile_name)
    results = (
        Path(results_dir) if results_dir else default_folder("results", *(["smoke"] if profile_name == "smoke" else []))
    )
    figures = Path(figures_dir) if figures_dir else results / "figures"
    return check_writable_folder(results, "results_dir"), check_writable_folder(figures, "figures_dir")


def section_grids(profile_name: str, grid: dict[str, list] | None = None) -> dict[str, dict[str, list]]:
    """Per section, the one-at-a-time sweeps it shows."""
    grid = grid or profile(profile_name)["grid"]
    return {
        "4.1": {**grid, "encoder": list(ENCODERS)},
        "4.2": {"loss": list(SECTION_LOSSES)},
        "4.3": {"T": [FLOPS_T]},
    }


def chapter_plans(profile_name: str, seeds: int | None = None, device: str = "auto") -> dict[str, list[RunConfig]]:
    """The runs of each chapter, 4.1 to 4.4; a run two chapters share is listed once, in the first."""
    base = base_config(profile_name, device=device)
    seeds = seeds or profile(profile_name)["seeds"]
    plans, seen = {}, set()
    for section, grids in section_grids(profile_name).items():
        configs = [c for param, values in grids.items() for c in sweep_configs(base, param, values, seeds)]
        plans[section] = [c for c in configs if not (c.config_hash in seen or seen.add(c.config_hash))]
    plans["4.4"] = seed_setup.plan(profile_name, device)
    return plans


def plan(profile_name: str, seeds: int | None = None, device: str = "auto") -> list[RunConfig]:
    """Every run of sections 4.1-4.4, so that all of them can train in one batch (maximal stacking)."""
    return [c for configs in chapter_plans(profile_name, seeds, device).values() for c in configs]


def training_seconds(profile_name: str, data: MNISTData, results_dir: str | Path) -> dict[str, float]:
    """Per chapter, the seconds its runs trained (whenever that was), from their recorded
    epoch times: a stack's epoch time is shared equally by the runs stacked in it."""
    times = {}
    for chapter, configs in chapter_plans(profile_name).items():
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
) -> pd.DataFrame:
    """The tidy results of one section's sweeps (cached runs are read back). Only 4.1
    sweeps a ``grid``; one given to another section is an error, not silently dropped."""
    if grid is not None and section != "4.1":
        raise ValueError(f"section {section} does not sweep the 4.1 grid, so grid={grid!r} would be ignored")
    base = base_config(profile_name, epochs, device)
    seeds = seeds or profile(profile_name)["seeds"]
    return sweeps(base, section_grids(profile_name, grid)[section], seeds, results_dir, data, progress, scheduler)


def prepare(
    profile_name: str, data: MNISTData, results_dir: str | Path, progress: bool = True, scheduler: str | None = None
) -> None:
    """Train every run of the report in one batch; the notebooks then read the cache."""
    run_configs(plan(profile_name), results_dir, data, progress, scheduler)


def flops_config(profile_name: str, seed: int = 0, epochs: int | None = None, device: str = "auto") -> RunConfig:
    """The run whose FLOPs the seed quotes: the lab's default at T = 5."""
    return base_config(profile_name, epochs, device).replace(T=FLOPS_T, seed=seed)


def _duration(seconds: float) -> str:
    return f"{seconds / 60:.1f} min" if seconds >= 60 else f"{seconds:.0f} s"


def training_summary(profile_name: str, data: MNISTData, results_dir: str | Path) -> str:
    """``4.1 a min, 4.2 b s, ... (in all c min)``, from ``training_seconds``."""
    seconds = training_seconds(profile_name, data, results_dir)
    listed = ", ".join(f"{chapter} {_duration(value)}" for chapter, value in seconds.items())
    return f"{listed} (in all {_duration(sum(seconds.values()))})"
