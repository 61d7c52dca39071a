"""Sweeps over the result cache (``labsnn.running.results``): a rerun computes only the runs whose files are missing,
runs that share their input (same everything but ``STACKABLE_FIELDS``) train together as one stacked model, whose
results are written as it finishes, and sweeps sharing a results folder train each run once: each run trains under
its lock, and a run that another sweep into the same folder is training is waited for and read back.
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

import pandas as pd
from filelock import Timeout

from labsnn.log import log
from labsnn.running.config import EXECUTION_FIELDS, RunConfig, field_names
from labsnn.running.data import MNISTData, load_mnist
from labsnn.running.executor import check_main_guard, train_groups
from labsnn.running.paths import check_writable_folder
from labsnn.running.results import RunResult, read_result, remove_stale_temporaries, result_path, run_lock, write_result
from labsnn.running.train import train_stack
from labsnn.validation import check_workers

DEFAULT_RESULTS = Path("results")


def run_configs(
    configs: Sequence[RunConfig],
    results_dir: str | os.PathLike = DEFAULT_RESULTS,
    data: MNISTData | None = None,
    progress: bool = True,
    scheduler: str | None = None,
    workers: int | str = 1,
) -> list[RunResult]:
    """Returns the results of ``configs`` in order: cached ones read back, missing ones trained and written.

    Args:
        configs: the runs; results_dir (unwritable: a ValueError), data, progress, scheduler, workers: as in
            ``sweeps``.
    """
    check_main_guard()
    workers = check_workers(workers)
    results_dir = check_writable_folder(results_dir, "results folder")
    data = data if data is not None else load_mnist()
    found, missing = _scan(configs, results_dir, data)
    n_missing = sum(len(group) for group in missing.values())
    if progress:
        log.info(f"{len(found)} run(s) cached, {n_missing} to train in {len(missing)} stack(s)")
    if missing:
        results_dir.mkdir(parents=True, exist_ok=True)
        remove_stale_temporaries(results_dir)

    def keep(config: RunConfig, result: RunResult) -> None:
        write_result(result_path(results_dir, config, data), result)
        found[config.config_hash] = result

    locks, todo, elsewhere = _claim(list(missing.values()), results_dir, data, found)
    try:
        train_groups(todo, data, keep, progress, scheduler, workers)
    finally:
        for lock in locks:
            lock.release()
    if elsewhere and progress:
        log.info(f"waiting for {len(elsewhere)} run(s) that another sweep into {results_dir} is training")
    for config in elsewhere:  # another sweep holds them: wait, then read (or train, if it stopped first)
        path = result_path(results_dir, config, data)
        with run_lock(path):
            cached = read_result(path, config)
            if cached is None:
                keep(config, train_stack([config], data, progress)[0])
            else:
                found[config.config_hash] = cached
    return [found[config.config_hash] for config in configs]


def _scan(configs: Sequence[RunConfig], results_dir: Path, data: MNISTData) -> tuple[dict, dict]:
    """``(found, missing)``: cached results by config hash, and the missing configs grouped
    by stack key (runs that share their input train as one stack)."""
    found: dict[str, RunResult] = {}
    missing: dict[tuple, list[RunConfig]] = {}
    for config in dict.fromkeys(configs):
        cached = read_result(result_path(results_dir, config, data), config)
        if cached is not None:
            found[config.config_hash] = cached
        else:
            missing.setdefault(config.stack_key(), []).append(config)
    return found, missing


def _claim(groups: list[list[RunConfig]], results_dir: Path, data: MNISTData, found: dict[str, RunResult]) -> tuple:
    """Take the lock of every run this process can; returns ``(locks, groups to train,
    runs another process holds)``. A run finished since the scan is read back instead."""
    locks, todo, elsewhere = [], [], []
    for group in groups:
        mine = []
        for config in group:
            path = result_path(results_dir, config, data)
            lock = run_lock(path)
            try:
                lock.acquire(timeout=0)
            except Timeout:
                elsewhere.append(config)
                continue
            locks.append(lock)
            cached = read_result(path, config, report=False) if path.exists() else None  # said by the scan
            if cached is not None:
                found[config.config_hash] = cached
            else:
                mine.append(config)
        if mine:
            todo.append(mine)
    return locks, todo, elsewhere


def seed_list(base: RunConfig, seeds: int | Iterable[int]) -> list[int]:
    """Returns the seeds a sweep runs each value with, as a list of ints.

    Args:
        base: the config whose ``seed`` an int count starts from.
        seeds: an int ``n``, meaning ``base.seed, ..., base.seed + n - 1``, or the seeds themselves.

    Raises:
        ValueError: an int ``seeds`` below 1.
    """
    if isinstance(seeds, int):
        if seeds < 1:
            raise ValueError(f"seeds must be >= 1, got {seeds}")
        return [base.seed + i for i in range(seeds)]
    return [int(s) for s in seeds]


def sweep_configs(
    base: RunConfig, param: str, values: Iterable[Any], seeds: int | Iterable[int] = 1
) -> list[RunConfig]:
    """Returns one config per value of ``param`` and seed (value-major), everything else as in ``base``.

    Args:
        base: the config the sweep starts from.
        param: the config field varied (any but ``seed`` and ``device``).
        values, seeds: the values it takes; the seeds of each, as in ``seed_list``.

    Raises:
        ValueError: a ``param`` that cannot be swept, a value the config rejects, or ``seeds`` below 1.
    """
    if param not in field_names() or param in ("seed", *EXECUTION_FIELDS):  # those do not key a result
        swept = ", ".join(f for f in field_names() if f not in ("seed", *EXECUTION_FIELDS))
        raise ValueError(f"cannot sweep {param!r}; choose a config field: {swept}")
    return [base.replace(**{param: value, "seed": seed}) for value in values for seed in seed_list(base, seeds)]


def labelled_frame(result: RunResult, value: Any, **labels: str) -> pd.DataFrame:
    """Returns a run's tidy rows (``RunResult.frame``) with its labels as the first columns.

    Args:
        result: the run; value: its swept value (an object column: numbers and names mix across sweeps).
        labels: further columns, e.g. ``sweep="z"``; each goes first, so the last named leads.

    Returns:
        One row per epoch: the labels, ``value``, then the result's columns.
    """
    frame = result.frame()
    frame.insert(0, "value", pd.Series([value] * len(frame), dtype=object))
    for name, label in labels.items():
        frame.insert(0, name, label)
    return frame


def sweeps(
    base: RunConfig,
    grid: dict[str, Iterable[Any]],
    seeds: int | Iterable[int] = 1,
    results_dir: str | os.PathLike = DEFAULT_RESULTS,
    data: MNISTData | None = None,
    progress: bool = True,
    scheduler: str | None = None,
    workers: int | str = 1,
) -> pd.DataFrame:
    """One-at-a-time sweeps of every ``param: values`` in ``grid`` around ``base``, run as one batch.

    Args:
        base: the config every sweep starts from; a run that several sweeps share (such as ``base``) trains once.
        grid: each config field to vary (not ``seed`` or ``device``), with the values it takes.
        seeds: seeds per value: an int ``n`` means ``base.seed .. base.seed + n - 1``; or the seeds themselves.
        results_dir: the result cache's folder, created where missing.
        data: the data to train on; None means ``load_mnist()``.
        progress: log what is cached, and show progress bars and each epoch's test accuracy.
        scheduler: a Dask scheduler to train on, one task per stack (``labsnn.running.executor.resolve_scheduler``:
            ``tcp://host:8786``, ``local:N``, a scheduler file or a ``Client``); None trains on this machine.
        workers: without a scheduler, train stacks side by side in this many processes of one thread each
            (``labsnn.running.executor``: the same numbers), or ``"auto"``: as many as torch's threads; 1 trains
            in this process.

    Returns:
        A tidy frame: one row per run and epoch (``RunResult.rows``), led by ``sweep`` (the parameter varied)
        and ``value`` columns (``sizes`` values as ``784-10-10``).

    Raises:
        ValueError: a field that cannot be swept, a value the config rejects, ``seeds`` below 1, an unwritable folder.
    """
    plan = {param: sweep_configs(base, param, values, seeds) for param, values in grid.items()}
    every = [config for configs in plan.values() for config in configs]
    results = run_configs(every, results_dir, data, progress, scheduler, workers)
    by_hash = {r.config.config_hash: r for r in results}
    frames = []
    for param, configs in plan.items():
        for config in configs:
            value = getattr(config, param) if param != "sizes" else "-".join(map(str, config.sizes))
            frames.append(labelled_frame(by_hash[config.config_hash], value, sweep=param))
    return pd.concat(frames, ignore_index=True)


def sweep(
    base: RunConfig,
    param: str,
    values: Iterable[Any],
    seeds: int | Iterable[int] = 1,
    results_dir: str | os.PathLike = DEFAULT_RESULTS,
    data: MNISTData | None = None,
    progress: bool = True,
    scheduler: str | None = None,
    workers: int | str = 1,
) -> pd.DataFrame:
    """Sweeps one parameter: ``sweeps(base, {param: values}, ...)``, with its frame and ValueErrors.

    Args:
        base, param, values: the config the sweep starts from, the field varied and its values.
        seeds, results_dir, data, progress, scheduler, workers: as in ``sweeps``.
    """
    return sweeps(base, {param: values}, seeds, results_dir, data, progress, scheduler, workers)
