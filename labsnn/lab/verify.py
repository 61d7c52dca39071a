"""``python -m labsnn verify``: retrains a sample of a report's cached runs, each alone, and compares them with the cache.

A run's numbers depend on its config, its data, the CPU kind and build target and the backend, and on nothing else
(docs/results.md): retrained alone from its recorded config, on the same kind of machine, a run gives its cached
history and weights file bit for bit. On another kind of machine the last bits differ and grow with training, so the
numbers are compared within ``REL_TOL``/``ABS_TOL`` instead. Every run of a cache (``all_runs``) is retrained in
stacks of the runs that share their input, as the report trains them, unless asked alone: its numbers are the same
(they do not depend on stack mates), and alone the full report's runs take hours on a lab machine's two cores.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import math
import random
from dataclasses import dataclass
from pathlib import Path

from labsnn.running.config import RunConfig
from labsnn.running.results import RESULTS_VERSION, RunResult, data_key, result_path, weights_bytes, weights_path
from labsnn.validation import AUTO_WORKERS, check_workers

#: Runs retrained when no number is asked for.
DEFAULT_RUNS = 5
#: Within tolerance: every recorded number within 2% of the cached one, or 0.01 of it (an accuracy's point).
REL_TOL, ABS_TOL = 0.02, 0.01
#: The environment fields that decide a run's last bits; the thread count too off the compiled backend.
DECIDING = ("cpu", "machine", "device", "backend", "kernels_march", "kernels_flags", "kernels_compiler", "torch")
#: Fields of an epoch's row that describe the machine's work, not the run.
NOT_COMPARED = ("epoch_time_s", "stacked_runs")


@dataclass(frozen=True)
class Verdict:
    """One run's verdict.

    Attributes:
        chapter: the report's chapter the run belongs to (``4.1`` ... ``4.4 winner``), or ``other``.
        name: the result file's name.
        run: the run in words.
        verdict: ``identical``, ``within tolerance`` or ``differs``.
        detail: what was compared, or what differs first.
    """

    chapter: str
    name: str
    run: str
    verdict: str
    detail: str

    @property
    def holds(self) -> bool:
        """Whether the cached run is confirmed: identical, or within tolerance on another kind of machine."""
        return self.verdict != "differs"


def cached_runs(results_dir: Path) -> list[tuple[Path, RunResult]]:
    """Reads every result of a cache, checking what can be checked before any training.

    Args:
        results_dir: the result cache (its own files, not its subfolders).

    Returns:
        ``(path, result)`` per result file, by name.

    Raises:
        ValueError: a folder that is missing or holds no results, or a result file that cannot be read.
    """
    if not results_dir.is_dir():
        raise ValueError(f"results folder {results_dir} does not exist")
    paths = sorted(path for path in results_dir.glob("*.json") if not path.name.startswith("."))
    if not paths:
        raise ValueError(f"results folder {results_dir} holds no results (*.json): run make report first")
    runs = []
    for path in paths:
        try:
            runs.append((path, RunResult.from_json(json.loads(path.read_text()))))
        except (ValueError, KeyError, TypeError) as error:
            raise ValueError(f"result file {path} cannot be read ({type(error).__name__}: {error})") from None
    return runs


def check_keys(runs: list[tuple[Path, RunResult]], data) -> None:
    """Checks that every result was made from ``data`` by this ``RESULTS_VERSION``, from its file name.

    Raises:
        ValueError: naming the results version a file was made by, or saying that it was made from other data.
    """
    for path, result in runs:
        if result_path(path.parent, result.config, data).name == path.name:
            continue
        for version in range(1, RESULTS_VERSION):
            if path.stem.endswith(f"-{data_key(data, version)}"):
                raise ValueError(
                    f"{path.name} is a result of results version {version}, and this labsnn computes version "
                    f"{RESULTS_VERSION}: its numbers cannot be retrained here (rerun make report)"
                )
        raise ValueError(f"{path.name} was not made from the data at {data.location} ({data.source})")


def choose(chapters: dict[str, list[Path]], runs: int | None, seed: int) -> list[Path]:
    """Chooses the runs to retrain: one per chapter in turn, each chapter's order shuffled by ``seed``.

    Args:
        chapters: chapter -> its cached result files.
        runs: how many (None: all).
        seed: the shuffle's seed; the same seed chooses the same runs.

    Returns:
        The chosen files, every chapter represented as soon as ``runs`` allows.
    """
    rng = random.Random(seed)
    queues = [rng.sample(paths, len(paths)) for _, paths in sorted(chapters.items())]
    total = sum(map(len, queues))
    wanted = total if runs is None else min(runs, total)
    chosen: list[Path] = []
    while len(chosen) < wanted:
        chosen += [queue.pop() for queue in queues if queue][: wanted - len(chosen)]
    return chosen


def _rows(result: RunResult) -> list[dict]:
    return [{k: v for k, v in row.items() if k not in NOT_COMPARED} for row in result.epochs]


def _close(a, b) -> bool:
    if isinstance(a, float) and isinstance(b, float):
        return (math.isnan(a) and math.isnan(b)) or math.isclose(a, b, rel_tol=REL_TOL, abs_tol=ABS_TOL)
    return a == b


def _first_difference(cached: RunResult, again: RunResult, close) -> str | None:
    """Where two runs' statuses or histories first differ (``close`` compares two values), or None."""
    if cached.status != again.status:
        return f"status: cached {cached.status}, retrained {again.status}"
    if cached.diverged_epoch != again.diverged_epoch:
        return f"diverged_epoch: cached {cached.diverged_epoch}, retrained {again.diverged_epoch}"
    a, b = _rows(cached), _rows(again)
    if len(a) != len(b):
        return f"epochs: cached {len(a)}, retrained {len(b)}"
    for row_a, row_b in zip(a, b):
        for field in row_a:
            if not close(row_a[field], row_b.get(field)):
                return f"{field} at epoch {row_a['epoch']}: cached {row_a[field]!r}, retrained {row_b.get(field)!r}"
    steps_a, steps_b = cached.test_step_rates, again.test_step_rates
    if len(steps_a) != len(steps_b) or not all(
        len(x) == len(y) and all(map(close, x, y)) for x, y in zip(steps_a, steps_b)
    ):
        return "test_step_rates of the last epoch"
    return None


def judge(path: Path, cached: RunResult, again: RunResult, chapter: str) -> Verdict:
    """Compares a cached run with the same config retrained alone.

    Args:
        path: the cached result's file (its weights file lies beside it).
        cached, again: the cached result, and the retrained one (with its ``state``).
        chapter: the run's chapter.

    Returns:
        ``identical`` when every recorded number, the status and the weights' SHA-256 are equal; ``within tolerance``
        when the machines differ in a field of ``DECIDING`` and every number is within ``REL_TOL``/``ABS_TOL``;
        else ``differs``, naming the first difference.
    """
    run = describe_run(cached.config)
    weights = weights_path(path)
    on_disk = hashlib.sha256(weights.read_bytes()).hexdigest() if weights.is_file() else None
    if on_disk != cached.weights_sha256:
        return Verdict(chapter, path.name, run, "differs", f"weights file {weights.name} is not the one recorded")
    deciding = DECIDING if cached.environment.get("backend") == "compiled" else (*DECIDING, "threads")
    moved = [f for f in deciding if cached.environment.get(f) != again.environment.get(f)]
    exact = _first_difference(cached, again, lambda a, b: a == b or (a != a and b != b))
    if exact is None and hashlib.sha256(weights_bytes(again.state)).hexdigest() == cached.weights_sha256:
        return Verdict(chapter, path.name, run, "identical", "history and weights bit for bit")
    if exact is None:
        exact = "weights: their SHA-256 differs"
    if moved and _first_difference(cached, again, _close) is None:
        machines = ", ".join(f"{f} {cached.environment.get(f)!r} here {again.environment.get(f)!r}" for f in moved)
        return Verdict(
            chapter,
            path.name,
            run,
            "within tolerance",
            f"every number within {REL_TOL:.0%} or {ABS_TOL:g}; made with {machines}",
        )
    where = f" (made on another machine: {', '.join(moved)})" if moved else ""
    return Verdict(chapter, path.name, run, "differs", exact + where)


def describe_run(config: RunConfig) -> str:
    """A run in a few words: the fields that differ from the lab's defaults, and its seed."""
    default = RunConfig()
    changed = [
        f"{name}={value}"
        for name, value in config.to_dict().items()
        if name not in ("seed", "device", "backend") and value != getattr(default, name, value)
    ]
    return ", ".join([*changed, f"seed={config.seed}"])


def _data(runs: list[tuple[Path, RunResult]], data_root: str | None):
    """The data the cache's first result was made from: MNIST at ``data_root`` or its recorded location, else the
    packaged subset."""
    from labsnn.running.data import SUBSET_SOURCE, load_mnist, load_subset

    recorded = runs[0][1].data
    if recorded.get("data_source") == SUBSET_SOURCE:
        return load_subset()
    return load_mnist(data_root or recorded.get("data_location"), download=False)


def _chapters(runs: list[tuple[Path, RunResult]], data, results_dir: Path) -> dict[str, list[Path]]:
    """Each cached result's chapter of the report (by the profile whose plan holds the most of them), else ``other``."""
    from labsnn.lab.context import LabContext
    from labsnn.lab.profiles import chapter_plans
    from labsnn.lab.setup_search import decide

    hashes = {result.config.config_hash: path for path, result in runs}
    best: dict[str, str] = {}
    for profile_name in ("full", "smoke"):
        plans = chapter_plans(profile_name, decision=decide(LabContext(profile_name, data, results_dir)))
        chapter_of = {c.config_hash: chapter for chapter, configs in plans.items() for c in configs}
        if sum(h in chapter_of for h in hashes) > sum(h in best for h in hashes):
            best = chapter_of
    chapters: dict[str, list[Path]] = {}
    for config_hash, path in hashes.items():
        chapters.setdefault(best.get(config_hash, "other"), []).append(path)
    return chapters


def verify(
    results_dir: str | Path = "results",
    runs: int | None = None,
    seed: int = 0,
    data_root: str | None = None,
    all_runs: bool = False,
    alone: bool | None = None,
    workers: int | str = AUTO_WORKERS,
) -> list[Verdict]:
    """Retrains some of a cache's runs from their recorded configs, and judges each.

    Args:
        results_dir: the result cache (relative to the current folder).
        runs: how many runs; None for ``DEFAULT_RUNS``, or all when the cache holds fewer.
        seed: the seed of the choice (``choose``).
        data_root: where the MNIST the runs were made from lies; None: the location they recorded.
        all_runs: retrain every run (``runs`` must then be None).
        alone: retrain each run alone; None: alone unless ``all_runs`` (then in the report's stacks).
        workers: train side by side in this many processes where that changes no number (``labsnn.running.executor``).

    Returns:
        One ``Verdict`` per chosen run, by chapter.

    Raises:
        ValueError, FileNotFoundError: one line, before any training: a folder that is missing or holds no results,
            ``runs`` out of range, results of another results version or other data, data that is not there.
    """
    from labsnn.running.executor import train_groups

    workers = check_workers(workers)
    results_dir = Path(results_dir).absolute()
    cached = cached_runs(results_dir)
    if runs is not None and not 1 <= runs <= len(cached):
        raise ValueError(f"--runs must be between 1 and {len(cached)}, the results in {results_dir}, got {runs}")
    runs = len(cached) if all_runs else min(DEFAULT_RUNS, len(cached)) if runs is None else runs
    data = _data(cached, data_root)
    check_keys(cached, data)
    by_path = dict(cached)
    chapters = _chapters(cached, data, results_dir)
    chapter_of = {path: chapter for chapter, paths in chapters.items() for path in paths}
    chosen = choose(chapters, runs, seed)
    configs = {by_path[path].config.config_hash: by_path[path].config for path in chosen}
    if all_runs if alone is None else not alone:
        stacks: dict[tuple, list[RunConfig]] = {}
        for config in configs.values():
            stacks.setdefault(config.stack_key(), []).append(config)
        groups = list(stacks.values())
    else:
        groups = [[config] for config in configs.values()]
    again: dict[str, RunResult] = {}
    train_groups(
        groups, data, lambda config, result: again.__setitem__(config.config_hash, result), False, None, workers
    )
    size = {config.config_hash: len(group) for group in groups for config in group}
    verdicts = []
    for path in chosen:
        config_hash = by_path[path].config.config_hash
        verdict = judge(path, by_path[path], again[config_hash], chapter_of[path])
        how = "alone" if size[config_hash] == 1 else f"in a stack of {size[config_hash]}"
        verdicts.append(dataclasses.replace(verdict, detail=f"{verdict.detail} (retrained {how})"))
    return sorted(verdicts, key=lambda v: (v.chapter, v.name))
