"""The lab's figures, drawn from tidy result frames and saved as PNG and PDF."""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from labsnn.sweep import value_key


def save_figure(fig, figures_dir: str | Path, name: str) -> None:
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
    save_figure(fig, figures_dir, name)
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
    save_figure(fig, figures_dir, name)
    return fig


def _heatmap(ax, table: pd.DataFrame, labels: pd.DataFrame, title: str, **style) -> None:
    import seaborn as sns

    sns.heatmap(table.astype(float), annot=labels.to_numpy(), fmt="", cbar=False, ax=ax, linewidths=0.5, **style)
    ax.set(title=title, xlabel="", ylabel="")
    ax.tick_params(axis="x", rotation=30)


def plot_setup_accuracy(table: pd.DataFrame, diverged: pd.DataFrame, figures_dir: str | Path,
                        name: str = "figure8_setup_accuracy"):
    """Setups (rows) by the seed's diagnostic runs (columns): final test accuracy, mean over
    seeds; a cell where every seed diverged reads "div" (scored at the tie accuracy)."""
    import matplotlib.pyplot as plt

    labels = table.map(lambda v: f"{v:.0%}").where(~diverged, "div")
    fig, ax = plt.subplots(figsize=(8.5, 0.45 * len(table) + 1.6))
    _heatmap(ax, table, labels, "Final test accuracy per run and setup", vmin=0, vmax=1, cmap="viridis")
    save_figure(fig, figures_dir, name)
    return fig


def plot_setup_diagnostics(silent: pd.DataFrame, membrane: pd.DataFrame, diverged: pd.DataFrame,
                           figures_dir: str | Path, name: str = "figure9_setup_diagnostics"):
    """Why the runs fail, per setup and run: the fraction of test images on which no output
    neuron fires, and the largest |membrane| on the test set (log10); "div": diverged."""
    import matplotlib.pyplot as plt
    import numpy as np

    fig, axes = plt.subplots(1, 2, figsize=(14, 0.45 * len(silent) + 1.6), sharey=True)
    _heatmap(axes[0], silent, silent.map(lambda v: f"{v:.0%}").where(~diverged, "div"),
             "Test images with silent outputs", vmin=0, vmax=1, cmap="rocket_r")
    logged = np.log10(membrane.astype(float).clip(lower=1e-3))
    _heatmap(axes[1], logged, membrane.map(lambda v: f"{v:.2g}").where(~diverged, "div"),
             "Largest |membrane| on the test set (colour: log10)", cmap="mako_r")
    save_figure(fig, figures_dir, name)
    return fig
