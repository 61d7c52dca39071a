"""Findings read from results: final accuracies, outcomes, and the tables and captions the notebooks show.

Every sentence is built from the frame it is given: tidy results, one row per run and epoch.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pandas as pd

from labsnn.dynamics.flops import snn_flops
from labsnn.lab.discussion import final_stats
from labsnn.running.config import RunConfig
from labsnn.running.data import MNISTData
from labsnn.running.summary import final_epochs, summarize, value_key
from labsnn.running.sweep import run_configs

CHANCE = 0.1  # ten balanced classes
LEARNED = 2 * CHANCE


def final_accuracy(frame: pd.DataFrame, sweep: str) -> pd.Series:
    """Returns the last epoch's test accuracy per value of ``sweep``, mean over seeds.

    Args:
        frame, sweep: tidy results and the swept config field.

    Returns:
        A Series indexed by value, in sweep order; NaN where every run diverged.
    """
    return final_stats(frame, sweep)["acc"]


def outcomes(frame: pd.DataFrame) -> pd.DataFrame:
    """Tells, per sweep value, whether every run learned (final test accuracy at least twice chance).

    Args:
        frame: tidy results of one or more sweeps.

    Returns:
        One row per sweep and value: ``sweep``, ``value``, ``runs``, ``diverged``, ``learned``; coarse on purpose,
        it holds on any machine, where a short seeded run's last digits may differ from one CPU to another.
    """
    table = summarize(frame)
    learned = (
        final_epochs(frame)
        .groupby(["sweep", "value"], sort=False)["test_acc"]
        .apply(lambda acc: bool((acc >= LEARNED).all()))
    )
    table["learned"] = [learned[(sweep, value)] for sweep, value in zip(table["sweep"], table["value"])]
    return table[["sweep", "value", "runs", "diverged", "learned"]]


def dataset_table(data: MNISTData) -> pd.DataFrame:
    """Returns the data's splits: rows ``train`` and ``test``, columns ``split``, ``images``, ``source``.

    Args:
        data: the loaded MNIST (or subset).
    """
    return pd.DataFrame([{"split": "train", "images": data.n_train}, {"split": "test", "images": data.n_test}]).assign(
        source=data.source
    )


def config_table(config: RunConfig) -> pd.DataFrame:
    """Returns a run's config as a table: one row per field, columns ``field``, ``value`` (as text).

    Args:
        config: the run.
    """
    return pd.DataFrame([{"field": k, "value": str(v)} for k, v in config.to_dict().items()])


def describe_sweep(frame: pd.DataFrame, sweep: str, symbol: str) -> str:
    """Returns a sentence on where a sweep's final test accuracy is highest and lowest, and what diverged.

    Args:
        frame, sweep, symbol: tidy results; the swept config field; its symbol in the text.
    """
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
    """Returns a sweep figure's Markdown caption: its settings and its outcome (``describe_sweep``).

    Args:
        frame, sweep, symbol: as ``describe_sweep``.
        number, title: the figure's number and title.
    """
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
    """Returns Figure 7's Markdown caption: the SNN's FLOPs after the last epoch against the ANN's.

    Args:
        frame: 4.3's tidy results (``T``, ``seed``, ``snn_flops_test``, ``ann_flops``).
        number: the figure's number.
    """
    last = final_epochs(frame)
    snn, ann = last["snn_flops_test"].mean(), last["ann_flops"].iloc[0]
    return (
        f"**Figure {number}: average FLOPs per forward pass.** SNN at T = {int(last['T'].iloc[0])} on the training and "
        f"validation sets after each epoch (mean over {frame['seed'].nunique()} seed(s), shaded ± 1 sd); dashed: the "
        f"ANN's {ann:,.0f}. After the last epoch the SNN needs {snn:,.0f} FLOPs on validation, "
        f"{1 - snn / ann:.0%} fewer than the ANN."
    )


def flops_terms(config: RunConfig, data: MNISTData, results_dir: str | Path) -> pd.DataFrame:
    """Spells out the source report's FLOPs formula, ``(2MF - 1)N + 2N`` per layer, for one run step by step.

    Args:
        config, data, results_dir: the run (read from the cache, trained if missing), its data, the cache.

    Returns:
        One row per step: ``step``, per layer its input firing rate ``F layer i`` (test set, last epoch) and
        ``FLOPs layer i``, and ``FLOPs step``; the steps sum to the run's SNN FLOPs per forward pass.
    """
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
    """Tabulates synaptic operations and energy per forward pass, the ANN's beside the SNN's.

    Args:
        frame: tidy results of one T (``Effective_MACs``, ``Effective_ACs``, ``snn_energy_pj_test``, ``ann_*``).

    Returns:
        Rows ANN and SNN (test set, last epoch, mean over seeds): ``network``, ``MACs``, ``ACs``,
        ``energy (nJ)`` (MACs at 4.6 pJ, ACs at 0.9 pJ, 45 nm), ``FLOPs (lab formula)``.
    """
    last = frame[frame["epoch"] == frame["epoch"].max()]
    snn = {
        "network": f"SNN, T = {int(last['T'].iloc[0])}",
        "MACs": last["Effective_MACs"].mean(),
        "ACs": last["Effective_ACs"].mean(),
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


#: NeuroBench's metrics as each result records them, with what each counts (all per test sample, last epoch).
NEUROBENCH_METRICS = {
    "ActivationSparsity": "share of zero spikes over both LIF layers, all steps",
    "ActivationSparsity_l0": "the same, hidden layer",
    "ActivationSparsity_l1": "the same, output layer",
    "Effective_MACs": "multiply-accumulates with a nonzero real-valued input",
    "Effective_ACs": "accumulates with a nonzero (spike) input",
    "Dense": "synaptic operations counting every input, zero or not",
    "MembraneUpdates": "membranes set at the first step or changed at a later one",
    "Footprint": "bytes of the weights, biases and LIF constants",
    "ConnectionSparsity": "share of the weights that are exactly zero",
}


def neurobench_table(frame: pd.DataFrame) -> pd.DataFrame:
    """Tabulates NeuroBench's metrics of one T, under NeuroBench's names.

    Args:
        frame: tidy results of one T (the columns of ``NEUROBENCH_METRICS``).

    Returns:
        One row per metric (test set, last epoch, mean over seeds): ``metric``, ``value``, ``what it counts``.
    """
    last = frame[frame["epoch"] == frame["epoch"].max()]
    return pd.DataFrame(
        [
            {"metric": name, "value": last[name].mean(), "what it counts": what}
            for name, what in NEUROBENCH_METRICS.items()
        ]
    )


def accuracy_table(frame: pd.DataFrame, sweep: str, symbol: str) -> pd.DataFrame:
    """Tabulates a sweep's final results for reading.

    Args:
        frame, sweep, symbol: tidy results; the swept config field; the first column's heading.

    Returns:
        One row per value: the value, ``final test accuracy`` (mean ± sd over seeds, or "diverged"),
        ``silent outputs`` (share of test images), ``seeds``, ``diverged``.
    """
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
    """Returns a copy of ``frame`` with columns as text: thousands separators, ``decimals[column]`` decimals.

    Args:
        frame, decimals: any table; column -> number of decimals.
    """
    shown = frame.copy()
    for column, places in decimals.items():
        shown[column] = shown[column].map(lambda v, places=places: f"{v:,.{places}f}")
    return shown


def markdown_table(frame: pd.DataFrame) -> str:
    """Returns ``frame`` as a Markdown pipe table without its index, for report text pandoc turns into LaTeX.

    Args:
        frame: any table (pandas' ``to_markdown``, via tabulate).
    """
    return frame.to_markdown(index=False, tablefmt="pipe", disable_numparse=True)


def diagnostics_caption(frame: pd.DataFrame, sweep: str, number: str, symbol: str) -> str:
    """Returns a sweep's diagnostics caption (Markdown), naming the value with the most silent outputs.

    Args:
        frame, sweep, symbol: as ``describe_sweep``.
        number: the figure's number (e.g. ``"2b"``).
    """
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
