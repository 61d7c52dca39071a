"""The lab's profiles (full and smoke) and the runs each section of the report plans."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pandas as pd

from labsnn.dynamics.encoders import ENCODERS
from labsnn.lab import seed_screening
from labsnn.lab.preflight import PROFILES, check_data_root, profile  # noqa: F401 (PROFILES: re-exported by labsnn.lab)
from labsnn.log import log
from labsnn.running.config import RunConfig
from labsnn.running.data import MNISTData, load_mnist, load_subset
from labsnn.running.paths import check_writable_folder, default_folder
from labsnn.running.results import read_result, result_path
from labsnn.running.sweep import run_configs, sweep_configs, sweeps

SECTION_LOSSES = ("mse_rate", "cross_entropy_rate")  # the two the seed compares in 4.2
FLOPS_T = 5  # the seed quotes its SNN FLOPs at T = 5


def base_config(profile_name: str, epochs: int | None = None, device: str = "auto") -> RunConfig:
    """The lab's default run at the profile's data size and epochs."""
    p = profile(profile_name)
    sizes = {k: p[k] for k in ("n_train", "n_test", "batch_size") if k in p}
    return RunConfig(**sizes, epochs=epochs or p["epochs"], device=device)


def load_data(profile_name: str, data_root: str | None = None) -> MNISTData:
    """Smoke: the packaged subset (the same on every machine, so nbval can compare).
    Full: MNIST by ``labsnn.running.data``'s resolution order, falling back loudly."""
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


def chapter_plans(
    profile_name: str,
    seeds: int | None = None,
    device: str = "auto",
    data: MNISTData | None = None,
    results_dir: str | Path | None = None,
) -> dict[str, list[RunConfig]]:
    """The runs of each chapter, 4.1 to 4.4; a run two chapters share is listed once, in the first.

    4.4 screens the seed-like setups; what it decides (a fallback screening, the winner)
    is known only once the screening has trained: with ``data`` and ``results_dir`` the
    plan adds what the cache decides, 4.4's further screening and the winner's runs of
    4.1-4.3 (chapter "4.4 winner")."""
    base = base_config(profile_name, device=device)
    seeds = seeds or profile(profile_name)["seeds"]
    seen: set[str] = set()

    def new(configs: list[RunConfig]) -> list[RunConfig]:
        return [c for c in configs if not (c.config_hash in seen or seen.add(c.config_hash))]

    plans = {}
    for section, grids in section_grids(profile_name).items():
        plans[section] = new([c for param, values in grids.items() for c in sweep_configs(base, param, values, seeds)])
    ours = [c for section in ("4.1", "4.2", "4.3") for c in plans[section]]
    plans["4.4"] = new(seed_screening.first_plan(profile_name, device))
    if data is not None and results_dir is not None:
        decision = seed_screening.decide(profile_name, data, results_dir)
        plans["4.4"] += new(seed_screening.screening_plan(decision, device))
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
    """Every run of sections 4.1-4.4, so that all of them can train in one batch (maximal
    stacking); with ``data`` and ``results_dir``, also what the cache has decided (``chapter_plans``)."""
    return [c for configs in chapter_plans(profile_name, seeds, device, data, results_dir).values() for c in configs]


def training_seconds(profile_name: str, data: MNISTData, results_dir: str | Path) -> dict[str, float]:
    """Per chapter, the seconds its runs trained (whenever that was), from their recorded
    epoch times: a stack's epoch time is shared equally by the runs stacked in it."""
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
    """The tidy results of one section's sweeps (cached runs are read back), under labsnn's
    setup or the config fields ``setup`` sets (4.4's seed-like winner). Only 4.1 sweeps a
    ``grid``; one given to another section is an error, not silently dropped."""
    if grid is not None and section != "4.1":
        raise ValueError(f"section {section} does not sweep the 4.1 grid, so grid={grid!r} would be ignored")
    base = base_config(profile_name, epochs, device).replace(**(setup or {}))
    seeds = seeds or profile(profile_name)["seeds"]
    return sweeps(base, section_grids(profile_name, grid)[section], seeds, results_dir, data, progress, scheduler)


def prepare(
    profile_name: str, data: MNISTData, results_dir: str | Path, progress: bool = True, scheduler: str | None = None
) -> None:
    """Train every run of the report; the notebooks then read the cache. The runs planned
    beforehand train in one batch; then what they decide (4.4's fallback screening, the
    winner's runs of 4.1-4.3), until the plan stops growing."""
    configs, trained = plan(profile_name), -1
    while len(configs) != trained:
        if trained >= 0:
            log.info(f"{len(configs) - trained} more run(s) planned from what 4.4's screening decided")
        run_configs(configs, results_dir, data, progress, scheduler)
        configs, trained = plan(profile_name, data=data, results_dir=results_dir), len(configs)


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
