"""The lab's experiments: profiles, the runs of each section, figures and the findings
read from results. The notebooks call these; they hold no training logic themselves.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable

import pandas as pd

from labsnn.config import RunConfig
from labsnn.data import MNISTData, load_mnist, load_subset
from labsnn.flops import ann_flops, snn_flops
from labsnn.sweep import final_epochs, run_configs, summarize, sweep_configs, sweeps, value_key

ENCODERS = ["repeat", "threshold", "bernoulli"]
LOSSES = ["mse_rate", "cross_entropy_rate"]
FLOPS_T = 5  # the seed quotes its SNN FLOPs at T = 5

PROFILES: dict[str, dict[str, Any]] = {
    "full": {
        "n_train": None, "n_test": None, "epochs": 5, "seeds": 3,
        "grid": {
            "z": [0.5, 1.0, 2.0, 5.0, 10.0],
            "beta": [0.01, 0.05, 0.1, 0.5, 1.0, 2.0, 5.0],
            "v_th": [0.25, 0.5, 1.0, 2.0, 5.0, 10.0],
            "T": [2, 5, 10, 25, 50, 100],
        },
    },
    "smoke": {  # small batches so that a 1,000-image subset still learns in 2 epochs
        "n_train": 1000, "n_test": 500, "epochs": 2, "seeds": 1, "batch_size": 16,
        "grid": {"z": [2.0, 10.0], "beta": [0.1, 5.0], "v_th": [1.0, 10.0], "T": [2, 5, 25]},
    },
}


def profile(name: str) -> dict[str, Any]:
    if name not in PROFILES:
        raise ValueError(f"unknown profile {name!r}; choose one of: {', '.join(PROFILES)}")
    return PROFILES[name]


def base_config(profile_name: str, epochs: int | None = None, device: str = "auto") -> RunConfig:
    """The lab's default run at the profile's data size and epochs."""
    p = profile(profile_name)
    sizes = {k: p[k] for k in ("n_train", "n_test", "batch_size") if k in p}
    return RunConfig(**sizes, epochs=epochs or p["epochs"], device=device)


def load_data(profile_name: str, data_root: str | None = None) -> MNISTData:
    """Smoke: the packaged subset (the same on every machine, so nbval can compare).
    Full: MNIST by ``labsnn.data``'s resolution order, falling back loudly."""
    profile(profile_name)
    return load_subset() if profile_name == "smoke" else load_mnist(data_root)


def section_grids(profile_name: str, grid: dict[str, list] | None = None) -> dict[str, dict[str, list]]:
    """Per section, the one-at-a-time sweeps it shows."""
    grid = grid or profile(profile_name)["grid"]
    return {
        "4.1": {**grid, "encoder": ENCODERS},
        "4.2": {"loss": LOSSES},
        "4.3": {"T": [FLOPS_T]},
    }


def plan(profile_name: str, seeds: int | None = None, device: str = "auto") -> list[RunConfig]:
    """Every run of the report, so that all of them can train in one batch (maximal stacking)."""
    base = base_config(profile_name, device=device)
    seeds = seeds or profile(profile_name)["seeds"]
    return [
        c for grids in section_grids(profile_name).values() for param, values in grids.items()
        for c in sweep_configs(base, param, values, seeds)
    ]


def run_section(
    section: str, profile_name: str, data: MNISTData, results_dir: str | Path, seeds: int | None = None,
    epochs: int | None = None, grid: dict[str, list] | None = None, device: str = "auto", progress: bool = True,
) -> pd.DataFrame:
    """The tidy results of one section's sweeps (cached runs are read back)."""
    base = base_config(profile_name, epochs, device)
    seeds = seeds or profile(profile_name)["seeds"]
    return sweeps(base, section_grids(profile_name, grid)[section], seeds, results_dir, data, progress)


def prepare(profile_name: str, data: MNISTData, results_dir: str | Path, progress: bool = True) -> None:
    """Train every run of the report in one batch; the notebooks then read the cache."""
    run_configs(plan(profile_name), results_dir, data, progress)


# ---------------------------------------------------------------- findings from results


def final_accuracy(frame: pd.DataFrame, sweep: str) -> pd.Series:
    """Last-epoch test accuracy per value of ``sweep``, averaged over seeds (NaN if diverged)."""
    last = final_epochs(frame[frame["sweep"] == sweep])
    return last.groupby("value", sort=True)["test_acc"].mean()


def best_value(frame: pd.DataFrame, sweep: str) -> Any:
    return final_accuracy(frame, sweep).idxmax()


CHANCE = 0.1  # ten balanced classes
LEARNED = 2 * CHANCE


def outcomes(frame: pd.DataFrame) -> pd.DataFrame:
    """Per sweep value: runs, diverged runs, and whether every run ``learned`` (final test
    accuracy >= twice chance). Coarse on purpose: it holds on any machine, where the exact
    accuracies of a short seeded run may differ in the last digits from one CPU to another."""
    table = summarize(frame)
    learned = final_epochs(frame).groupby(["sweep", "value"], sort=False)["test_acc"].apply(lambda acc: bool((acc >= LEARNED).all()))
    table["learned"] = [learned[(sweep, value)] for sweep, value in zip(table["sweep"], table["value"])]
    return table[["sweep", "value", "runs", "diverged", "learned"]]


def dataset_table(data: MNISTData) -> pd.DataFrame:
    return pd.DataFrame([{"split": "train", "images": data.n_train}, {"split": "test", "images": data.n_test}]).assign(
        source=data.source
    )


def config_table(config: RunConfig) -> pd.DataFrame:
    return pd.DataFrame([{"field": k, "value": str(v)} for k, v in config.to_dict().items()])


def describe_sweep(frame: pd.DataFrame, sweep: str, symbol: str) -> str:
    """A sentence on the sweep's outcome, with numbers from ``frame``."""
    acc = final_accuracy(frame, sweep)
    best = acc.idxmax()
    worst = acc.idxmin()
    diverged = frame[(frame["sweep"] == sweep) & (frame["status"] == "diverged")]["value"].unique()
    if acc.max() == acc.min():
        return f"Every value of {symbol} ends at the same test accuracy, {acc.max():.1%}."
    text = (
        f"Final test accuracy is highest at {symbol} = {best} ({acc[best]:.1%}) and lowest at "
        f"{symbol} = {worst} ({acc[worst]:.1%}); per value: "
        + ", ".join(f"{v}: {a:.1%}" for v, a in acc.items()) + "."
    )
    if len(diverged):
        text += f" Runs at {symbol} = {', '.join(map(str, diverged))} diverged (NaN or infinite loss or membrane)."
    return text


# ---------------------------------------------------------------- figures


def _save(fig, figures_dir: str | Path, name: str) -> None:
    figures_dir = Path(figures_dir)
    figures_dir.mkdir(parents=True, exist_ok=True)
    for suffix in ("png", "pdf"):
        fig.savefig(figures_dir / f"{name}.{suffix}", bbox_inches="tight", dpi=130)


def plot_sweep(frame: pd.DataFrame, sweep: str, title: str, figures_dir: str | Path, name: str):
    """Test accuracy against epoch, one line per value, shaded over seeds (sd)."""
    import matplotlib.pyplot as plt
    import seaborn as sns

    rows = frame[frame["sweep"] == sweep].copy()
    order = [str(v) for v in sorted(rows["value"].unique(), key=value_key)]
    rows["value"] = rows["value"].astype(str)
    fig, ax = plt.subplots(figsize=(6.4, 3.8))
    sns.lineplot(data=rows, x="epoch", y="test_acc", hue="value", hue_order=order, errorbar="sd", marker="o", ax=ax)
    ax.set(xlabel="epoch", ylabel="test accuracy", title=title, ylim=(0, 1))
    ax.xaxis.get_major_locator().set_params(integer=True)
    ax.legend(title=sweep, loc="center left", bbox_to_anchor=(1.01, 0.5))
    _save(fig, figures_dir, name)
    return fig


def plot_flops(frame: pd.DataFrame, figures_dir: str | Path, name: str = "figure7_flops"):
    """Average SNN FLOPs per forward pass against epoch, training and validation, ANN line."""
    import matplotlib.pyplot as plt
    import seaborn as sns

    rows = frame.melt(id_vars=["epoch", "seed"], value_vars=["snn_flops_train", "snn_flops_test"], var_name="split", value_name="flops")
    rows["split"] = rows["split"].map({"snn_flops_train": "SNN, training", "snn_flops_test": "SNN, validation"})
    fig, ax = plt.subplots(figsize=(6.4, 3.8))
    sns.lineplot(data=rows, x="epoch", y="flops", hue="split", errorbar="sd", marker="o", ax=ax)
    ax.axhline(float(frame["ann_flops"].iloc[0]), color="black", linestyle="--", label="ANN")
    ax.set(xlabel="epoch", ylabel="FLOPs per forward pass", title=f"FLOPs, T = {int(frame['T'].iloc[0])}")
    ax.xaxis.get_major_locator().set_params(integer=True)
    ax.legend()
    _save(fig, figures_dir, name)
    return fig


def flops_config(profile_name: str, seed: int = 0, epochs: int | None = None, device: str = "auto") -> RunConfig:
    """The run whose FLOPs the seed quotes: the lab's default at T = 5."""
    return base_config(profile_name, epochs, device).replace(T=FLOPS_T, seed=seed)


def flops_terms(config: RunConfig, data: MNISTData, results_dir: str | Path) -> pd.DataFrame:
    """The seed's formula term by term for one run: each layer's input firing rate F and
    ``(2MF - 1)N + 2N`` at every step on the test set (last epoch); the steps sum to the
    run's SNN FLOPs per forward pass."""
    (result,) = run_configs([config], results_dir, data, progress=False)
    sizes = config.sizes
    rows = []
    for t in range(config.T):
        row: dict[str, Any] = {"step": t + 1}
        for layer, (M, N) in enumerate(zip(sizes[:-1], sizes[1:])):
            F = result.test_step_rates[layer][t]
            row[f"F layer {layer + 1}"] = F
            row[f"FLOPs layer {layer + 1}"] = snn_flops((M, N), [[F]])
        row["FLOPs step"] = sum(v for k, v in row.items() if k.startswith("FLOPs layer"))
        rows.append(row)
    return pd.DataFrame(rows)


def energy_table(frame: pd.DataFrame) -> pd.DataFrame:
    """Synaptic operations and energy per forward pass on the test set (last epoch,
    mean over seeds) beside the ANN's: MACs at 4.6 pJ, ACs at 0.9 pJ (45 nm)."""
    last = frame[frame["epoch"] == frame["epoch"].max()]
    snn = {"network": f"SNN, T = {int(last['T'].iloc[0])}", "MACs": last["snn_macs_test"].mean(),
           "ACs": last["snn_acs_test"].mean(), "energy (nJ)": last["snn_energy_pj_test"].mean() / 1000,
           "FLOPs (lab formula)": last["snn_flops_test"].mean()}
    ann = {"network": "ANN", "MACs": last["ann_macs"].iloc[0], "ACs": 0.0,
           "energy (nJ)": last["ann_energy_pj"].iloc[0] / 1000, "FLOPs (lab formula)": last["ann_flops"].iloc[0]}
    return pd.DataFrame([ann, snn])


# ---------------------------------------------------------------- reproduction table


@dataclass(frozen=True)
class Claim:
    section: str
    claim: str
    measure: Callable[[dict[str, pd.DataFrame]], float | Any]
    holds: Callable[[Any], bool]
    fmt: Callable[[Any], str]


def _acc(sweep: str, value: Any, section: str = "4.1") -> Callable[[dict[str, pd.DataFrame]], float]:
    def measure(frames: dict[str, pd.DataFrame]) -> float:
        acc = final_accuracy(frames[section], sweep)
        return float(acc.get(value, math.nan))

    return measure


def _best(sweep: str, section: str = "4.1") -> Callable[[dict[str, pd.DataFrame]], Any]:
    return lambda frames: best_value(frames[section], sweep)


def _near(target: float) -> Callable[[Any], bool]:
    """Best value is the target or its neighbour in the swept grid."""

    def holds(best_and_grid: Any) -> bool:
        best, grid = best_and_grid
        grid = sorted(grid)
        if target not in grid or best not in grid:
            return False
        return abs(grid.index(best) - grid.index(target)) <= 1

    return holds


def _pct(value: float) -> str:
    return "n/a" if value is None or (isinstance(value, float) and math.isnan(value)) else f"{value:.1%}"


def _best_with_grid(sweep: str, claimed: Any) -> Callable[[dict[str, pd.DataFrame]], tuple[Any, list] | float]:
    """(best value, grid) of a sweep; NaN (not measured) when the claimed value is not in the grid."""

    def measure(frames: dict[str, pd.DataFrame]) -> tuple[Any, list] | float:
        rows = frames["4.1"][frames["4.1"]["sweep"] == sweep]
        grid = sorted(rows["value"].unique())
        if claimed not in grid:
            return math.nan
        return best_value(frames["4.1"], sweep), grid

    return measure


def _flops_t5(frames: dict[str, pd.DataFrame]) -> float:
    """SNN FLOPs on validation after the last epoch, mean over seeds (as Figure 7's caption)."""
    return float(final_epochs(frames["4.3"])["snn_flops_test"].mean())


CLAIMS: list[Claim] = [
    Claim("4.1.1", "z: best near z = 2", _best_with_grid("z", 2.0), _near(2.0), lambda v: f"best z = {v[0]}"),
    Claim("4.1.1", "z = 10 below 20%", _acc("z", 10.0), lambda v: v < 0.20, _pct),
    Claim("4.1.2", "beta: best near 0.1", _best_with_grid("beta", 0.1), _near(0.1), lambda v: f"best beta = {v[0]}"),
    Claim("4.1.2", "beta = 2 about 18-20%", _acc("beta", 2.0), lambda v: 0.15 <= v <= 0.23, _pct),
    Claim("4.1.2", "beta = 5 at 9.8%", _acc("beta", 5.0), lambda v: abs(v - 0.098) <= 0.01, _pct),
    Claim("4.1.3", "V_th: best near 1", _best_with_grid("v_th", 1.0), _near(1.0), lambda v: f"best V_th = {v[0]}"),
    Claim("4.1.3", "V_th = 5 below 80%", _acc("v_th", 5.0), lambda v: v < 0.80, _pct),
    Claim("4.1.3", "V_th = 10 at 10%", _acc("v_th", 10.0), lambda v: abs(v - 0.10) <= 0.015, _pct),
    Claim("4.1.4", "T = 2 below 10%", _acc("T", 2), lambda v: v < 0.10, _pct),
    Claim("4.1.4", "T = 50 best", _best_with_grid("T", 50), lambda v: v[0] == 50, lambda v: f"best T = {v[0]}"),
    Claim("4.1.4", "T = 50 about 93%", _acc("T", 50), lambda v: abs(v - 0.93) <= 0.02, _pct),
    Claim("4.1.4", "T = 100 about 92%", _acc("T", 100), lambda v: abs(v - 0.92) <= 0.02, _pct),
    Claim("4.1.5", "Bernoulli is the best encoding", _best("encoder"), lambda v: v == "bernoulli", str),
    Claim("4.2", "MSE better than cross-entropy", _best("loss", "4.2"), lambda v: v == "mse_rate", lambda v: f"best: {v}"),
    Claim("4.3", "ANN 15,900 FLOPs", lambda frames: float(ann_flops((784, 10, 10))), lambda v: v == 15900, lambda v: f"{v:,.0f}"),
    Claim("4.3", "SNN about 10,945 FLOPs at T = 5 (validation)", _flops_t5, lambda v: abs(v - 10945) <= 0.1 * 10945, lambda v: f"{v:,.0f}"),
    Claim("4.3", "a 31% reduction against the ANN", lambda frames: 1 - _flops_t5(frames) / 15900, lambda v: abs(v - 0.31) <= 0.05, _pct),
]


def reproduction_table(frames: dict[str, pd.DataFrame]) -> pd.DataFrame:
    """Each of the seed's claims beside this run's value and whether it reproduced.

    Claims whose value is not in this run's grid read "not measured"."""
    rows = []
    for claim in CLAIMS:
        try:
            value = claim.measure(frames)
            missing = isinstance(value, float) and math.isnan(value)
        except (KeyError, ValueError):
            value, missing = None, True
        if missing:
            rows.append({"section": claim.section, "seed's claim": claim.claim, "this run": "not measured", "reproduced": "n/a"})
            continue
        rows.append({"section": claim.section, "seed's claim": claim.claim, "this run": claim.fmt(value),
                     "reproduced": "yes" if claim.holds(value) else "no"})
    return pd.DataFrame(rows)


def caption(frame: pd.DataFrame, sweep: str, number: int, title: str, symbol: str) -> str:
    """Figure caption with the run's settings and its outcome, read from ``frame``."""
    rows = frame[frame["sweep"] == sweep]
    first = rows.iloc[0]
    values = ", ".join(str(v) for v in sorted(rows["value"].unique(), key=value_key))
    return (
        f"**Figure {number}: {title}.** Test accuracy after each epoch for {symbol} in {{{values}}}; mean over "
        f"{rows['seed'].nunique()} seed(s), shaded ± 1 sd. Other settings at the lab's defaults; "
        f"{int(first['n_train']):,} training / {int(first['n_test']):,} test images ({first['data_source']}). "
        + describe_sweep(frame, sweep, symbol)
    )


def markdown_table(frame: pd.DataFrame) -> str:
    """``frame`` as a Markdown table (for report text that pandoc turns into LaTeX)."""
    lines = ["| " + " | ".join(map(str, frame.columns)) + " |", "|" + "---|" * len(frame.columns)]
    lines += ["| " + " | ".join(str(v) for v in row) + " |" for row in frame.itertuples(index=False)]
    return "\n".join(lines)
