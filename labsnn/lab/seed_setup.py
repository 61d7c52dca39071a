"""Section 4.4: which training setup, of those the seed leaves unstated, reproduces its failures.

The seed's diagnostic runs train under every setup of the declared grid (``seed_grid``) on a screening budget;
each setup is scored against the seed's claims for those runs; ``winner_rule``, declared before any run, picks one.
"""

from __future__ import annotations

from itertools import product
from pathlib import Path
from typing import Any

import pandas as pd

from labsnn.lab.claims import CLAIMS
from labsnn.lab.seed_grid import SETUP_PROFILES, screenings, setups
from labsnn.running.config import RunConfig
from labsnn.running.data import MNISTData
from labsnn.running.results import read_result, result_path
from labsnn.running.summary import final_epochs
from labsnn.running.sweep import run_configs

__all__ = ["SETUP_PROFILES", "setups"]  # read by the run summary, with the names defined here

#: The seed's diagnostic runs: the default and each value the seed reports as failing.
SEED_RUNS: list[tuple[str, Any]] = [
    ("default", "-"),
    ("z", 10.0),
    ("beta", 2.0),
    ("beta", 5.0),
    ("v_th", 5.0),
    ("v_th", 10.0),
    ("T", 2),
]
#: The seed's claims on those runs (``labsnn.lab.claims``), plus: the default still learns.
FAILURE_CLAIMS = [
    "z = 10 below 20%",
    "beta = 2 about 18-20%",
    "beta = 5 at 9.8%",
    "V_th = 5 below 80%",
    "V_th = 10 at 10%",
    "T = 2 below 10%",
]
DEFAULT_LEARNS = SETUP_PROFILES["full"]["default_learns"]  # "the default learns": its run ends at least this accurate


def winner_rule(profile_name: str) -> str:
    """Returns the rule that picks the seed-like setup, as printed before the scores.

    Args:
        profile_name: the profile, whose ``default_learns`` the rule states."""
    learns = SETUP_PROFILES[profile_name]["default_learns"]
    return (
        f"The seed-like setup is, among the setups whose default run ends at {learns:.0%} or more, the one that "
        "reproduces the most of the seed's six failure claims; setups that tie go to the one whose default run ends "
        "most accurate (mean over seeds), and a tie in that to the first in the grid's order. labsnn's own setup "
        "may win: then the seed-like column is labsnn's own."
    )


def budget_base(budget: dict[str, Any], device: str = "auto") -> RunConfig:
    """Returns the lab's default run at a budget's data size, batch size and epochs.

    Args:
        budget, device: an entry of ``seed_grid.screenings``; the run's device."""
    sizes = {key: budget[key] for key in ("n_train", "n_test", "batch_size") if key in budget}
    return RunConfig(**sizes, epochs=budget["epochs"], device=device)


def labelled_configs(
    profile_name: str, budget: dict | None = None, device: str = "auto", grid: dict | None = None
) -> list[tuple[str, str, Any, RunConfig]]:
    """Returns ``(setup, sweep, value, config)`` for each seed of each diagnostic run under each setup.

    Args:
        profile_name, device: the profile; the runs' device.
        budget, grid: a budget and setups (name -> fields); None for the declared screening and grid."""
    budget = budget or screenings(profile_name)[0]
    base = budget_base(budget, device)
    rows = []
    for name, fields in (grid or setups(profile_name)).items():
        for (sweep, value), seed in product(SEED_RUNS, range(budget["seeds"])):
            change = {} if sweep == "default" else {sweep: value}
            rows.append((name, sweep, value, base.replace(**fields, **change, seed=base.seed + seed)))
    return rows


def grid_plan(profile_name: str, device: str = "auto", budget: dict | None = None) -> list[RunConfig]:
    """Returns the runs of the screening at ``budget``.

    Args:
        profile_name, device, budget: as ``labelled_configs`` takes them."""
    return [config for *_, config in labelled_configs(profile_name, budget, device)]


def _tidy(labelled: list, results: list) -> pd.DataFrame:
    """Returns the results as one frame, each row labelled with its ``setup``, ``sweep`` and ``value``."""
    frames = []
    for (name, sweep, value, _), result in zip(labelled, results):
        frame = result.frame()
        frame.insert(0, "value", pd.Series([value] * len(frame), dtype=object))
        frame.insert(0, "sweep", sweep)
        frame.insert(0, "setup", name)
        frames.append(frame)
    return pd.concat(frames, ignore_index=True)


def run_setups(
    profile_name: str,
    data: MNISTData,
    results_dir: str | Path,
    device: str = "auto",
    progress: bool = True,
    scheduler: str | None = None,
    budget: dict | None = None,
    grid: dict | None = None,
) -> pd.DataFrame:
    """Returns the tidy results of a screening, training the runs the cache lacks.

    Args:
        profile_name, data, results_dir: the profile, its data and the result cache.
        device, progress, scheduler: as ``labsnn.running.sweep.run_configs`` takes them.
        budget, grid: as ``labelled_configs`` takes them.

    Returns:
        One row per run and epoch, with ``setup``, ``sweep`` and ``value``."""
    labelled = labelled_configs(profile_name, budget, device, grid)
    return _tidy(labelled, run_configs([c for *_, c in labelled], results_dir, data, progress, scheduler))


def read_setups(
    profile_name: str, data: MNISTData, results_dir: str | Path, budget: dict | None = None, grid: dict | None = None
) -> pd.DataFrame | None:
    """Returns ``run_setups``' frame from the cache only, or None when any of its runs is not there.

    Args:
        profile_name, data, results_dir, budget, grid: as ``run_setups`` takes them."""
    labelled = labelled_configs(profile_name, budget, grid=grid)
    results = [read_result(result_path(Path(results_dir), c, data), c, report=False) for *_, c in labelled]
    return None if any(r is None for r in results) else _tidy(labelled, results)


def first_class_share(data: MNISTData, n_test: int | None = None) -> float:
    """Returns the share of class 0 in the test set: the accuracy of a network whose outputs all tie (silent or NaN).

    Args:
        data, n_test: the data and its test images used (None: all); the first class wins a tie."""
    labels = data.subset(None, n_test).test_labels
    return float((labels == 0).double().mean())


def final_runs(frame: pd.DataFrame, tie_accuracy: float) -> pd.DataFrame:
    """Returns the last epoch of every run, with ``scored_acc``: the test accuracy, or ``tie_accuracy`` if diverged.

    Args:
        frame, tie_accuracy: ``run_setups``' frame; ``first_class_share``, what code with no divergence check reads."""
    last = pd.concat([final_epochs(group) for _, group in frame.groupby("setup", sort=False)])
    last = last.copy()
    last["scored_acc"] = last["test_acc"].where(last["status"] != "diverged", tie_accuracy)
    return last


def run_label(sweep: str, value: Any) -> str:
    """Returns a diagnostic run's column heading: ``default``, or e.g. ``V_th = 5``.

    Args:
        sweep, value: the run's swept field and value."""
    return "default" if sweep == "default" else f"{'V_th' if sweep == 'v_th' else sweep} = {value:g}"


def run_table(last: pd.DataFrame, column: str, aggfunc: str = "mean") -> pd.DataFrame:
    """Returns setups (rows) by the seed's runs (columns, ``run_label``): ``column`` aggregated over seeds.

    Args:
        last, column, aggfunc: ``final_runs``; a column (``scored_acc``: diverged at the tie accuracy); an aggregate."""
    last = last.assign(run=[run_label(s, v) for s, v in zip(last["sweep"], last["value"])])
    table = last.pivot_table(index="setup", columns="run", values=column, aggfunc=aggfunc, sort=False)
    return table[[run_label(s, v) for s, v in SEED_RUNS]]


def diverged_table(last: pd.DataFrame) -> pd.DataFrame:
    """Returns ``run_table`` of booleans: True where every seed of that setup and run diverged.

    Args:
        last: ``final_runs``."""
    return run_table(last.assign(diverged=last["status"].eq("diverged")), "diverged", "all").astype(bool)


def claim_values(runs: pd.DataFrame) -> dict[str, float]:
    """Returns each failure claim's measured value (scored accuracy) on one setup's final runs.

    Args:
        runs: one setup's rows of ``last``."""
    frame = runs.assign(test_acc=runs["scored_acc"])
    claims = {c.claim: c for c in CLAIMS if c.claim in FAILURE_CLAIMS}
    return {text: float(claims[text].measure({"4.1": frame})) for text in FAILURE_CLAIMS}


def holds(claim: str, value: float) -> bool:
    """Tells whether a failure claim holds at ``value``, by the reproduction table's rule.

    Args:
        claim, value: an entry of ``FAILURE_CLAIMS``; its measured value."""
    return bool(next(c for c in CLAIMS if c.claim == claim).holds(value))


def score(last: pd.DataFrame, learns: float = DEFAULT_LEARNS) -> pd.DataFrame:
    """Scores each setup against the failure claims.

    Args:
        last, learns: ``final_runs``; the accuracy at which the default run counts as learning.

    Returns:
        One row per setup: ``setup``, each failure claim (bool), ``default acc``, ``default learns`` and
        ``claims reproduced`` (a count)."""
    rows = []
    for name, group in last.groupby("setup", sort=False):
        verdicts = {text: holds(text, value) for text, value in claim_values(group).items()}
        default = float(group.loc[group["sweep"] == "default", "scored_acc"].mean())
        reproduced = sum(verdicts.values())
        row = {"default acc": default, "default learns": default >= learns, "claims reproduced": reproduced}
        rows.append({"setup": name, **verdicts, **row})
    return pd.DataFrame(rows)


def tied_best(scores: pd.DataFrame) -> list[str]:
    """Returns every setup that reproduces the most failure claims with the default still learning.

    Args:
        scores: ``score``'s table."""
    learning = scores[scores["default learns"]]
    if learning.empty:
        return []
    return learning.loc[learning["claims reproduced"] == learning["claims reproduced"].max(), "setup"].tolist()


def best_setup(scores: pd.DataFrame) -> str | None:
    """Returns the seed-like setup by ``winner_rule``, or None when no default learns.

    Args:
        scores: ``score``'s table; of ``tied_best``, the most accurate default wins, then the first in its order."""
    tied = scores[scores["setup"].isin(tied_best(scores))]
    if tied.empty:
        return None
    return str(tied.loc[tied["default acc"].idxmax(), "setup"])  # idxmax: the first of equal maxima
