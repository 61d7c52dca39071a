"""Section 4.4: which training setup, of those the seed leaves unstated, reproduces its
failures. The seed's diagnostic runs train under every setup of the declared grid
(``seed_grid``) on a screening budget; each setup is scored against the seed's claims
for those runs, and the winner is chosen by the rule below, declared before any run."""

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
from labsnn.running.sweep import final_epochs, run_configs

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
    """The rule that picks the seed-like setup, printed before the scores."""
    learns = SETUP_PROFILES[profile_name]["default_learns"]
    return (
        f"The seed-like setup is, among the setups whose default run ends at {learns:.0%} or more, the one that "
        "reproduces the most of the seed's six failure claims; setups that tie go to the one whose default run ends "
        "most accurate (mean over seeds), and a tie in that to the first in the grid's order. labsnn's own setup "
        "may win: then the seed-like column is labsnn's own."
    )


def budget_base(budget: dict[str, Any], device: str = "auto") -> RunConfig:
    """The lab's default run at a budget's data size and epochs."""
    sizes = {key: budget[key] for key in ("n_train", "n_test", "batch_size") if key in budget}
    return RunConfig(**sizes, epochs=budget["epochs"], device=device)


def labelled_configs(
    profile_name: str, budget: dict | None = None, device: str = "auto", grid: dict | None = None
) -> list[tuple[str, str, Any, RunConfig]]:
    """``(setup, sweep, value, config)`` for every run of the seed's diagnostic runs under
    each setup of ``grid`` (default: the declared grid) at ``budget`` (default: the screening)."""
    budget = budget or screenings(profile_name)[0]
    base = budget_base(budget, device)
    rows = []
    for name, fields in (grid or setups(profile_name)).items():
        for (sweep, value), seed in product(SEED_RUNS, range(budget["seeds"])):
            change = {} if sweep == "default" else {sweep: value}
            rows.append((name, sweep, value, base.replace(**fields, **change, seed=base.seed + seed)))
    return rows


def plan(profile_name: str, device: str = "auto", budget: dict | None = None) -> list[RunConfig]:
    """The runs of the screening at ``budget`` (default: the declared screening)."""
    return [config for *_, config in labelled_configs(profile_name, budget, device)]


def _tidy(labelled: list, results: list) -> pd.DataFrame:
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
    """Tidy results of a screening: one row per run and epoch, with ``setup``, ``sweep`` and
    ``value`` (missing runs are trained)."""
    labelled = labelled_configs(profile_name, budget, device, grid)
    return _tidy(labelled, run_configs([c for *_, c in labelled], results_dir, data, progress, scheduler))


def read_setups(
    profile_name: str, data: MNISTData, results_dir: str | Path, budget: dict | None = None, grid: dict | None = None
) -> pd.DataFrame | None:
    """``run_setups`` from the cache only: None when any of its runs is not there."""
    labelled = labelled_configs(profile_name, budget, grid=grid)
    results = [read_result(result_path(Path(results_dir), c, data), c, report=False) for *_, c in labelled]
    return None if any(r is None for r in results) else _tidy(labelled, results)


def first_class_share(data: MNISTData, n_test: int | None = None) -> float:
    """Share of class 0 in the test set: the accuracy of a network whose outputs all tie
    (all silent, or NaN), since the first class wins a tie."""
    labels = data.subset(None, n_test).test_labels
    return float((labels == 0).double().mean())


def final_runs(frame: pd.DataFrame, tie_accuracy: float) -> pd.DataFrame:
    """Last epoch of every run, with ``scored_acc``: the test accuracy, or for a diverged
    run ``tie_accuracy`` (its NaN network leaves every output silent: the seed's code, with
    no divergence check, would have read that share)."""
    last = pd.concat([final_epochs(group) for _, group in frame.groupby("setup", sort=False)])
    last = last.copy()
    last["scored_acc"] = last["test_acc"].where(last["status"] != "diverged", tie_accuracy)
    return last


def run_label(sweep: str, value: Any) -> str:
    return "default" if sweep == "default" else f"{'V_th' if sweep == 'v_th' else sweep} = {value:g}"


def run_table(last: pd.DataFrame, column: str, aggfunc: str = "mean") -> pd.DataFrame:
    """Setups (rows) by the seed's runs (columns): ``column`` aggregated over seeds; for
    ``scored_acc``, the accuracy with diverged runs at the tie accuracy."""
    last = last.assign(run=[run_label(s, v) for s, v in zip(last["sweep"], last["value"])])
    table = last.pivot_table(index="setup", columns="run", values=column, aggfunc=aggfunc, sort=False)
    return table[[run_label(s, v) for s, v in SEED_RUNS]]


def diverged_table(last: pd.DataFrame) -> pd.DataFrame:
    """True where every seed of that setup and run diverged."""
    return run_table(last.assign(diverged=last["status"].eq("diverged")), "diverged", "all").astype(bool)


def claim_values(runs: pd.DataFrame) -> dict[str, float]:
    """Each failure claim's measured value on one setup's final runs (scored accuracy)."""
    frame = runs.assign(test_acc=runs["scored_acc"])
    claims = {c.claim: c for c in CLAIMS if c.claim in FAILURE_CLAIMS}
    return {text: float(claims[text].measure({"4.1": frame})) for text in FAILURE_CLAIMS}


def holds(claim: str, value: float) -> bool:
    """Whether the failure claim ``claim`` holds at ``value`` (the reproduction table's rule)."""
    return bool(next(c for c in CLAIMS if c.claim == claim).holds(value))


def score(last: pd.DataFrame, learns: float = DEFAULT_LEARNS) -> pd.DataFrame:
    """Per setup: each failure claim reproduced or not, the default's accuracy and whether
    it learns (ends at ``learns`` or more), and the count of claims reproduced."""
    rows = []
    for name, group in last.groupby("setup", sort=False):
        verdicts = {text: holds(text, value) for text, value in claim_values(group).items()}
        default = float(group.loc[group["sweep"] == "default", "scored_acc"].mean())
        rows.append(
            {
                "setup": name,
                **verdicts,
                "default acc": default,
                "default learns": default >= learns,
                "claims reproduced": sum(verdicts.values()),
            }
        )
    return pd.DataFrame(rows)


def tied_best(scores: pd.DataFrame) -> list[str]:
    """Every setup that reproduces the most failure claims with the default still learning."""
    learning = scores[scores["default learns"]]
    if learning.empty:
        return []
    return learning.loc[learning["claims reproduced"] == learning["claims reproduced"].max(), "setup"].tolist()


def best_setup(scores: pd.DataFrame) -> str | None:
    """The seed-like setup by ``winner_rule``: of ``tied_best``, the most accurate default
    run, then the first in the grid (``scores``' order); None when no default learns."""
    tied = scores[scores["setup"].isin(tied_best(scores))]
    if tied.empty:
        return None
    return str(tied.loc[tied["default acc"].idxmax(), "setup"])  # idxmax: the first of equal maxima
