"""Findings read from results: final accuracies, outcomes, the tables and captions the
notebooks show. Every sentence here is built from the frame it is given."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pandas as pd

from labsnn.dynamics.flops import snn_flops
from labsnn.lab.discussion import final_stats
from labsnn.running.config import RunConfig
from labsnn.running.data import MNISTData
from labsnn.running.sweep import final_epochs, run_configs, summarize, value_key

CHANCE = 0.1  # ten balanced classes
LEARNED = 2 * CHANCE


def final_accuracy(frame: pd.DataFrame, sweep: str) -> pd.Series:
    """Last-epoch test accuracy per value of ``sweep``, averaged over seeds (NaN if diverged)."""
    return final_stats(frame, sweep)["acc"]


def outcomes(frame: pd.DataFrame) -> pd.DataFrame:
    """Per sweep value: runs, diverged runs, and whether every run ``learned`` (final test
    accuracy >= twice chance). Coarse on purpose: it holds on any machine, where the exact
    accuracies of a short seeded run may differ in the last digits from one CPU to another."""
    table = summarize(frame)
    learned = (
        final_epochs(frame)
        .groupby(["sweep", "value"], sort=False)["test_acc"]
        .apply(lambda acc: bool((acc >= LEARNED).all()))
    )
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
        f"{symbol} = {worst} ({acc[worst]:.1%}); per value: " + ", ".join(f"{v}: {a:.1%}" for v, a in acc.items()) + "."
    )
    if len(diverged):
        text += f" Runs at {symbol} = {', '.join(map(str, diverged))} diverged (NaN or infinite loss or membrane)."
    return text


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


def flops_caption(frame: pd.DataFrame, number: int = 7) -> str:
    """Figure 7's caption: the SNN's FLOPs after the last epoch against the ANN's, from ``frame``."""
    last = final_epochs(frame)
    snn, ann = last["snn_flops_test"].mean(), last["ann_flops"].iloc[0]
    return (
        f"**Figure {number}: average FLOPs per forward pass.** SNN at T = {int(last['T'].iloc[0])} on the training and "
        f"validation sets after each epoch (mean over {frame['seed'].nunique()} seed(s), shaded ± 1 sd); dashed: the "
        f"ANN's {ann:,.0f}. After the last epoch the SNN needs {snn:,.0f} FLOPs on validation, "
        f"{1 - snn / ann:.0%} fewer than the ANN."
    )


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
    snn = {
        "network": f"SNN, T = {int(last['T'].iloc[0])}",
        "MACs": last["snn_macs_test"].mean(),
        "ACs": last["snn_acs_test"].mean(),
        "energy (nJ)": last["snn_energy_pj_test"].mean() / 1000,
        "FLOPs (lab formula)": last["snn_flops_test"].mean(),
    }
    ann = {
        "network": "ANN",
        "MACs": last["ann_macs"].iloc[0],
        "ACs": 0.0,
        "energy (nJ)": last["ann_energy_pj"].iloc[0] / 1000,
        "FLOPs (lab formula)": last["ann_flops"].iloc[0],
    }
    return pd.DataFrame([ann, snn])


def accuracy_table(frame: pd.DataFrame, sweep: str, symbol: str) -> pd.DataFrame:
    """One row per value of ``sweep``, for reading: final test accuracy as mean ± sd over
    seeds, the share of test images with silent outputs, seeds and diverged runs."""
    stats = final_stats(frame, sweep)
    spread = stats["sd"].map(lambda sd: "" if pd.isna(sd) else f" ± {100 * sd:.1f}")
    return pd.DataFrame(
        {
            symbol: [str(v) for v in stats.index],
            "final test accuracy": [
                ("diverged" if pd.isna(a) else f"{a:.1%}") + s for a, s in zip(stats["acc"], spread)
            ],
            "silent outputs": stats["silent_frac_test"].map(lambda v: f"{v:.0%}").tolist(),
            "seeds": stats["seeds"].tolist(),
            "diverged": stats["diverged"].tolist(),
        }
    )


def number_table(frame: pd.DataFrame, decimals: dict[str, int]) -> pd.DataFrame:
    """``frame`` with the named columns formatted for reading: thousands separators and
    ``decimals[column]`` decimals."""
    shown = frame.copy()
    for column, places in decimals.items():
        shown[column] = shown[column].map(lambda v, places=places: f"{v:,.{places}f}")
    return shown


def markdown_table(frame: pd.DataFrame) -> str:
    """``frame`` as a Markdown pipe table without its index (pandas' own, via tabulate),
    for report text that pandoc turns into a LaTeX table."""
    return frame.to_markdown(index=False, tablefmt="pipe", disable_numparse=True)


def diagnostics_caption(frame: pd.DataFrame, sweep: str, number: str, symbol: str) -> str:
    """Caption of a sweep's diagnostics figure, with the most silent value read from ``frame``."""
    stats = final_stats(frame, sweep)
    quiet = stats["silent_frac_test"].idxmax()
    silent = stats.at[quiet, "silent_frac_test"]
    most = (
        f"Most silent: {symbol} = {quiet}, on {silent:.0%} of test images."
        if silent >= 0.005
        else "At every value the outputs fire on more than 99.5% of test images."
    )
    return (
        f"**Figure {number}: what the outputs do across {symbol}.** After the last epoch, mean over "
        f"{int(stats['seeds'].max())} seed(s): the fraction of test images on which no output neuron fires, and the "
        f"mean output firing rate. " + most
    )
