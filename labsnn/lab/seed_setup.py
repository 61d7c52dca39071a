"""Section 4.4: which training setup, of those the seed leaves unstated, reproduces its
failures. The seed's diagnostic runs train under every setup of a declared grid; each
setup is scored against the seed's claims for those runs, and the diagnostics recorded
per epoch say how each failing network is stuck."""

from __future__ import annotations

from itertools import product
from pathlib import Path
from typing import Any

import pandas as pd

from labsnn.config import RunConfig
from labsnn.data import MNISTData
from labsnn.lab.claims import CLAIMS
from labsnn.sweep import final_epochs, run_configs

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
DEFAULT_LEARNS = 0.80  # the seed's default runs end near 90%; 4.4 trains less, so "learns" is >= 80%
OPTIMIZERS = {
    "Adam 1e-3": {"optimizer": "adam", "lr": 1e-3},
    "SGD 1": {"optimizer": "sgd", "lr": 1.0},
    "SGD 1 m0.9": {"optimizer": "sgd", "lr": 1.0, "momentum": 0.9},
}
SURROGATES = {"fast sigmoid": "fast_sigmoid", "scaled fast sigmoid": "scaled_fast_sigmoid"}
TIMINGS = {"same step": "same_step", "next step": "next_step"}

SETUP_PROFILES: dict[str, dict[str, Any]] = {
    # 7 runs x 12 setups x 3 seeds: trained on 12,000 of the 60,000 images for 3 epochs to fit the report's time
    "full": {
        "n_train": 12000,
        "n_test": None,
        "epochs": 3,
        "seeds": 3,
        "optimizers": list(OPTIMIZERS),
        "surrogates": list(SURROGATES),
        "timings": list(TIMINGS),
    },
    "smoke": {
        "n_train": 1000,
        "n_test": 500,
        "epochs": 2,
        "seeds": 1,
        "batch_size": 16,
        "optimizers": ["Adam 1e-3", "SGD 1"],
        "surrogates": ["fast sigmoid"],
        "timings": list(TIMINGS),
    },
}


def setups(profile_name: str) -> dict[str, dict[str, Any]]:
    """The declared grid: setup name -> the config fields it sets (optimizer x surrogate x timing)."""
    p = SETUP_PROFILES[profile_name]
    grid = {}
    for opt, sur, timing in product(p["optimizers"], p["surrogates"], p["timings"]):
        grid[f"{opt}, {sur}, {timing}"] = {
            **OPTIMIZERS[opt],
            "surrogate": SURROGATES[sur],
            "spike_timing": TIMINGS[timing],
        }
    return grid


def _base(profile_name: str, device: str) -> RunConfig:
    """The lab's default run at 4.4's data size and epochs."""
    p = SETUP_PROFILES[profile_name]
    return RunConfig(
        **{k: p[k] for k in ("n_train", "n_test", "batch_size") if k in p}, epochs=p["epochs"], device=device
    )


def labelled_configs(profile_name: str, device: str = "auto") -> list[tuple[str, str, Any, RunConfig]]:
    """``(setup, sweep, value, config)`` for every run of 4.4."""
    base, seeds = _base(profile_name, device), SETUP_PROFILES[profile_name]["seeds"]
    rows = []
    for name, fields in setups(profile_name).items():
        for (sweep, value), seed in product(SEED_RUNS, range(seeds)):
            change = {} if sweep == "default" else {sweep: value}
            rows.append((name, sweep, value, base.replace(**fields, **change, seed=base.seed + seed)))
    return rows


def plan(profile_name: str, device: str = "auto") -> list[RunConfig]:
    return [config for *_, config in labelled_configs(profile_name, device)]


def run_setups(
    profile_name: str,
    data: MNISTData,
    results_dir: str | Path,
    device: str = "auto",
    progress: bool = True,
    scheduler: str | None = None,
) -> pd.DataFrame:
    """Tidy results of 4.4: one row per run and epoch, with ``setup``, ``sweep`` and ``value``."""
    labelled = labelled_configs(profile_name, device)
    results = run_configs([c for *_, c in labelled], results_dir, data, progress, scheduler)
    frames = []
    for (name, sweep, value, _), result in zip(labelled, results):
        frame = result.frame()
        frame.insert(0, "value", pd.Series([value] * len(frame), dtype=object))
        frame.insert(0, "sweep", sweep)
        frame.insert(0, "setup", name)
        frames.append(frame)
    return pd.concat(frames, ignore_index=True)


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


def score(last: pd.DataFrame) -> pd.DataFrame:
    """Per setup: each failure claim reproduced or not, whether the default learns, and the count."""
    claims = {c.claim: c for c in CLAIMS if c.claim in FAILURE_CLAIMS}
    rows = []
    for name, group in last.groupby("setup", sort=False):
        frame = group.assign(test_acc=group["scored_acc"])
        verdicts = {text: bool(claims[text].holds(claims[text].measure({"4.1": frame}))) for text in FAILURE_CLAIMS}
        default = float(frame.loc[frame["sweep"] == "default", "scored_acc"].mean())
        rows.append(
            {
                "setup": name,
                **verdicts,
                "default learns": default >= DEFAULT_LEARNS,
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


def best_setup(scores: pd.DataFrame, last: pd.DataFrame | None = None) -> str | None:
    """The best seed-like setup (``tied_best``); among tied setups, the one whose default
    run ends most accurate (with ``last``), else the first in the grid."""
    tied = tied_best(scores)
    if len(tied) > 1 and last is not None:
        default = last[last["sweep"] == "default"].groupby("setup")["scored_acc"].mean()
        return max(tied, key=lambda name: default[name])
    return tied[0] if tied else None


def seed_like_frames(last: pd.DataFrame, scores: pd.DataFrame) -> dict[str, pd.DataFrame] | None:
    """The best seed-like setup's runs as the reproduction table reads them (diverged runs
    at the tie accuracy), or None when no setup keeps the default learning."""
    best = best_setup(scores, last)
    if best is None:
        return None
    runs = last[last["setup"] == best]
    return {"4.1": runs.assign(test_acc=runs["scored_acc"])}
