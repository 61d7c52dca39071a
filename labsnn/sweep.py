"""Sweeps with a resumable result cache.

Each run's result is one JSON file under the results folder, named by the config hash
and the data it was trained on, and written atomically (a temporary file, then
``os.replace``): an interrupted sweep leaves only whole files, and a rerun computes only
the runs whose files are missing. A file that cannot be read back is reported and
recomputed, never used. Runs that share their input (same everything but ``z``,
``beta``, ``v_th``, ``loss``) train together as one stacked model.
"""

from __future__ import annotations

import hashlib
import json
import os
import sys
import tempfile
from pathlib import Path
from typing import Any, Iterable, Sequence

import pandas as pd

from labsnn.config import RunConfig, field_names
from labsnn.data import MNISTData, load_mnist
from labsnn.train import RunResult, train_stack

DEFAULT_RESULTS = Path("results")
#: Part of every result's file name: bump it when a change to training changes results,
#: so that old cached results are recomputed rather than reused.
RESULTS_VERSION = 4  # 2: a stacked network computes exactly what it computes alone; 3: 16-bit Bernoulli draws;
# 4: the first layer sums over a batch's non-blank pixels only


def result_path(results_dir: Path, config: RunConfig, data: MNISTData) -> Path:
    """``<results_dir>/<config hash>-<data and results-version hash>.json``."""
    data_hash = hashlib.sha256(f"{data.fingerprint}-v{RESULTS_VERSION}".encode()).hexdigest()[:8]
    return Path(results_dir) / f"{config.config_hash}-{data_hash}.json"


def write_result(path: Path, result: RunResult) -> None:
    """Write ``result`` to ``path`` atomically."""
    path.parent.mkdir(parents=True, exist_ok=True)
    handle, temporary = tempfile.mkstemp(dir=path.parent, prefix=f".{path.stem}.", suffix=".tmp")
    try:
        with os.fdopen(handle, "w") as stream:
            json.dump(result.to_json(), stream)
            stream.flush()
            os.fsync(stream.fileno())
        os.replace(temporary, path)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise


def read_result(path: Path, config: RunConfig) -> RunResult | None:
    """The cached result at ``path``, or None when it is missing or unreadable (reported)."""
    if not path.exists():
        return None
    try:
        result = RunResult.from_json(json.loads(path.read_text()))
        if result.config.config_hash != config.config_hash:
            raise ValueError("it holds another config")
        if len(result.epochs) != config.epochs and result.status != "diverged":
            raise ValueError(f"it has {len(result.epochs)} of {config.epochs} epochs")
        return result
    except Exception as error:  # any corruption: report, then recompute
        print(f"labsnn: unreadable result file {path} ({type(error).__name__}: {error}); recomputing", file=sys.stderr)
        return None


def run_configs(
    configs: Sequence[RunConfig],
    results_dir: str | os.PathLike = DEFAULT_RESULTS,
    data: MNISTData | None = None,
    progress: bool = True,
) -> list[RunResult]:
    """Results of ``configs`` in order: cached ones read back, missing ones trained
    (stacked where they share their input) and written as each stack finishes."""
    data = data if data is not None else load_mnist()
    results_dir = Path(results_dir)
    found: dict[str, RunResult] = {}
    missing: dict[tuple, list[RunConfig]] = {}
    for config in dict.fromkeys(configs):
        cached = read_result(result_path(results_dir, config, data), config)
        if cached is not None:
            found[config.config_hash] = cached
        else:
            missing.setdefault(config.stack_key(), []).append(config)
    n_missing = sum(len(group) for group in missing.values())
    if progress:
        print(f"labsnn: {len(found)} run(s) cached, {n_missing} to train in {len(missing)} stack(s)", file=sys.stderr)
    for group in missing.values():
        for config, result in zip(group, train_stack(group, data, progress)):
            write_result(result_path(results_dir, config, data), result)
            found[config.config_hash] = result
    return [found[config.config_hash] for config in configs]


def seed_list(base: RunConfig, seeds: int | Iterable[int]) -> list[int]:
    """``seeds`` as a list: an int ``n`` means ``base.seed, ..., base.seed + n - 1``."""
    if isinstance(seeds, int):
        if seeds < 1:
            raise ValueError(f"seeds must be >= 1, got {seeds}")
        return [base.seed + i for i in range(seeds)]
    return [int(s) for s in seeds]


def sweep_configs(base: RunConfig, param: str, values: Iterable[Any], seeds: int | Iterable[int] = 1) -> list[RunConfig]:
    """One config per value of ``param`` and seed, everything else as in ``base``."""
    if param not in field_names() or param in ("seed", "device"):
        raise ValueError(f"cannot sweep {param!r}; choose a config field: {', '.join(f for f in field_names() if f not in ('seed', 'device'))}")
    return [base.replace(**{param: value, "seed": seed}) for value in values for seed in seed_list(base, seeds)]


def sweeps(
    base: RunConfig,
    grid: dict[str, Iterable[Any]],
    seeds: int | Iterable[int] = 1,
    results_dir: str | os.PathLike = DEFAULT_RESULTS,
    data: MNISTData | None = None,
    progress: bool = True,
) -> pd.DataFrame:
    """One-at-a-time sweeps of every ``param: values`` in ``grid`` around ``base``, run
    as one batch (shared runs such as the baseline train once). Tidy frame: one row per
    run and epoch, with ``sweep`` (the parameter varied) and ``value`` columns."""
    plan = {param: sweep_configs(base, param, values, seeds) for param, values in grid.items()}
    results = run_configs([c for configs in plan.values() for c in configs], results_dir, data, progress)
    by_hash = {r.config.config_hash: r for r in results}
    frames = []
    for param, configs in plan.items():
        for config in configs:
            frame = by_hash[config.config_hash].frame()
            value = getattr(config, param) if param != "sizes" else "-".join(map(str, config.sizes))
            frame.insert(0, "value", pd.Series([value] * len(frame), dtype=object))
            frame.insert(0, "sweep", param)
            frames.append(frame)
    return pd.concat(frames, ignore_index=True)


def sweep(
    base: RunConfig,
    param: str,
    values: Iterable[Any],
    seeds: int | Iterable[int] = 1,
    results_dir: str | os.PathLike = DEFAULT_RESULTS,
    data: MNISTData | None = None,
    progress: bool = True,
) -> pd.DataFrame:
    """Sweep one parameter: ``sweeps(base, {param: values}, ...)``."""
    return sweeps(base, {param: values}, seeds, results_dir, data, progress)


def value_key(value: Any) -> tuple[bool, Any]:
    """Sort key for a sweep's values: numbers ascending, then names alphabetically."""
    return isinstance(value, str), value


def final_epochs(frame: pd.DataFrame) -> pd.DataFrame:
    """Each run's last recorded epoch: one row per sweep, value and seed."""
    return frame[frame["epoch"] == frame.groupby(["sweep", "value", "seed"])["epoch"].transform("max")]


def summarize(frame: pd.DataFrame) -> pd.DataFrame:
    """Final-epoch test accuracy per sweep value: mean and std over seeds, runs, diverged runs."""
    table = final_epochs(frame).groupby(["sweep", "value"], sort=False).agg(
        test_acc_mean=("test_acc", "mean"),
        test_acc_std=("test_acc", "std"),
        runs=("seed", "count"),
        diverged=("status", lambda s: int((s == "diverged").sum())),
        epochs=("epoch", "max"),
    )
    table = table.reset_index()
    sweep_rank = {name: rank for rank, name in enumerate(dict.fromkeys(frame["sweep"]))}
    order = sorted(table.index, key=lambda i: (sweep_rank[table.at[i, "sweep"]], *value_key(table.at[i, "value"])))
    return table.loc[order].reset_index(drop=True)
