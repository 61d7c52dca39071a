"""The lab's profiles (full and smoke) and the runs each section of the report plans."""

from __future__ import annotations

from typing import Any

import pandas as pd

from labsnn.dynamics.encoders import ENCODERS
from labsnn.lab import setup_search
from labsnn.lab.context import LabContext
from labsnn.lab.preflight import profile
from labsnn.log import log
from labsnn.running.config import RunConfig
from labsnn.running.results import read_result, result_path
from labsnn.running.sweep import sweep_configs, sweeps

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
    profile_name: str, seeds: int | None = None, device: str = "auto", decision: setup_search.Decision | None = None
) -> dict[str, list[RunConfig]]:
    """Returns the runs of each chapter, 4.1 to 4.4; a run two chapters share is listed once, in the first.

    What 4.4's screening decides (a fallback screening, the winner) is known only once it has trained: with its
    ``decision`` the plan adds 4.4's further screening and the winner's runs of 4.1-4.3 (chapter ``4.4 winner``).

    Args:
        profile_name, seeds, device: the profile; seeds per value (None: the profile's); the runs' device.
        decision: what 4.4's screening decided (``labsnn.lab.setup_search.decide``), or None before it trained.

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
    if decision is not None:
        plans["4.4"] += new(setup_search.screening_plan(decision, device))
        if decision.fields is not None:
            plans["4.4 winner"] = new([c.replace(**decision.fields) for c in ours])
    return plans


def plan(
    profile_name: str, seeds: int | None = None, device: str = "auto", decision: setup_search.Decision | None = None
) -> list[RunConfig]:
    """Returns every run of sections 4.1-4.4 in one list, so that all can train in one batch (maximal stacking).

    Args:
        profile_name, seeds, device, decision: as ``chapter_plans`` takes them.
    """
    return [c for configs in chapter_plans(profile_name, seeds, device, decision).values() for c in configs]


def training_seconds(context: LabContext, decision: setup_search.Decision) -> dict[str, float]:
    """Returns, per chapter, the seconds its runs trained (whenever that was), from their recorded epoch times.

    Args:
        context: the lab; decision: what 4.4's screening decided.

    Returns:
        Chapter name -> seconds; a stack's epoch time is shared equally by the runs stacked in it.
    """
    times = {}
    for chapter, configs in chapter_plans(context.profile, device=context.device, decision=decision).items():
        seconds = 0.0
        for config in configs:
            result = read_result(result_path(context.results_dir, config, context.data), config)
            seconds += sum(row["epoch_time_s"] / row["stacked_runs"] for row in (result.epochs if result else []))
        times[chapter] = seconds
    return times


def run_section(
    context: LabContext,
    section: str,
    seeds: int | None = None,
    epochs: int | None = None,
    grid: dict[str, list] | None = None,
    setup: dict[str, Any] | None = None,
) -> pd.DataFrame:
    """Returns the tidy results of one section's sweeps, training what the cache lacks.

    Args:
        context: the lab (profile, data, cache, where runs train).
        section: ``4.1``, ``4.2`` or ``4.3``.
        seeds, epochs, grid: None for the profile's; only 4.1 sweeps a ``grid``.
        setup: config fields that replace labsnn's setup (4.4's source-like winner), or None.

    Returns:
        One row per run and epoch, with ``sweep`` and ``value``.

    Raises:
        ValueError: a ``grid`` given to another section (an error, not silently dropped), or a partial one
            (``check_grid``, through ``section_grids``, before any training).
    """
    if grid is not None and section != "4.1":
        raise ValueError(f"section {section} does not sweep the 4.1 grid, so grid={grid!r} would be ignored")
    base = base_config(context.profile, epochs, context.device).replace(**(setup or {}))
    return sweeps(
        base,
        section_grids(context.profile, grid)[section],
        seeds or profile(context.profile)["seeds"],
        context.results_dir,
        context.data,
        context.progress,
        context.scheduler,
        context.workers,
    )


def prepare(context: LabContext) -> setup_search.Decision:
    """Trains every run of the report; the notebooks then read the cache.

    The runs planned beforehand train in one batch; then what they decide (4.4's fallback screening, the winner's
    runs of 4.1-4.3), until the plan stops growing.

    Args:
        context: the lab (profile, data, cache, where runs train).

    Returns:
        What 4.4's screening decided, on the whole cache.
    """
    configs, decision = plan(context.profile, device=context.device), None
    while True:
        context.run(configs)
        decision = setup_search.decide(context)
        grown = plan(context.profile, device=context.device, decision=decision)
        if len(grown) == len(configs):
            return decision
        log.info(f"{len(grown) - len(configs)} more run(s) planned from what 4.4's screening decided")
        configs = grown


def flops_config(profile_name: str, seed: int = 0, epochs: int | None = None, device: str = "auto") -> RunConfig:
    """Returns the run whose FLOPs the source report quotes: the lab's default at T = 5.

    Args:
        profile_name, seed, epochs, device: the profile; the run's seed; epochs (None: the profile's); its device.
    """
    return base_config(profile_name, epochs, device).replace(T=FLOPS_T, seed=seed)


def _duration(seconds: float) -> str:
    """Formats seconds as ``a.b min``, or ``c s`` under a minute."""
    return f"{seconds / 60:.1f} min" if seconds >= 60 else f"{seconds:.0f} s"


def training_summary(context: LabContext, decision: setup_search.Decision) -> str:
    """Returns ``4.1 a min, 4.2 b s, ... (in all c min)``, from ``training_seconds``.

    Args:
        context, decision: as ``training_seconds`` takes them.
    """
    seconds = training_seconds(context, decision)
    listed = ", ".join(f"{chapter} {_duration(value)}" for chapter, value in seconds.items())
    return f"{listed} (in all {_duration(sum(seconds.values()))})"
