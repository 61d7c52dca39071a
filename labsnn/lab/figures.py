"""The lab's figures, from tidy results (a row per run and epoch); each ``plot_*`` saves its figure and returns it."""

from __future__ import annotations

import io
from pathlib import Path

import pandas as pd

from labsnn.lab.discussion import final_stats
from labsnn.running.atomic import write_bytes
from labsnn.running.summary import value_key


def save_figure(fig, figures_dir: str | Path, name: str) -> None:
    """Saves ``fig`` as ``<figures_dir>/<name>.png`` and ``.pdf``, each written atomically.

    Args:
        fig, figures_dir, name: a matplotlib Figure; the folder (created when missing); the files' stem."""
    figures_dir = Path(figures_dir)
    figures_dir.mkdir(parents=True, exist_ok=True)
    for suffix in ("png", "pdf"):
        buffer = io.BytesIO()
        fig.savefig(buffer, format=suffix, bbox_inches="tight", dpi=130)
        write_bytes(figures_dir / f"{name}.{suffix}", buffer.getvalue())


def _curve_limits(rows: pd.DataFrame) -> tuple[float, float]:
    """A y-range that holds every mean ± sd curve of test accuracy, so the lines separate."""
    stats = rows.groupby(["value", "epoch"])["test_acc"].agg(["mean", "std"]).fillna(0)
    low, high = (stats["mean"] - stats["std"]).min(), (stats["mean"] + stats["std"]).max()
    pad = max(0.01, 0.05 * (high - low))
    return max(0.0, low - pad), min(1.0, high + pad)


def _against_value(ax, stats: pd.DataFrame, column: str, sd: str | None, ylabel: str, sweep: str) -> None:
    """Draws ``stats[column]`` (error bars ``stats[sd]``) by swept value, marking values whose runs all diverged."""
    values = list(stats.index)
    numeric = all(isinstance(v, (int, float)) and v > 0 for v in values)
    x = values if numeric else list(range(len(values)))
    ax.errorbar(x, stats[column], yerr=None if sd is None else stats[sd].fillna(0), marker="o", capsize=3)
    lost = stats[column].isna()
    if lost.any():
        bottom = ax.get_ylim()[0]
        ax.scatter(
            [xi for xi, gone in zip(x, lost) if gone],
            [bottom] * int(lost.sum()),
            marker="x",
            color="red",
            s=60,
            zorder=3,
            clip_on=False,
            label="diverged",
        )
        ax.legend(loc="best", fontsize=8)
    if numeric:
        ax.set_xscale("log")
        ax.set_xticks(values, [f"{v:g}" for v in values])
        ax.minorticks_off()
    else:
        ax.set_xticks(x, [str(v) for v in values])
    ax.set(xlabel=sweep, ylabel=ylabel)


def plot_sweep(frame: pd.DataFrame, sweep: str, title: str, figures_dir: str | Path, name: str):
    """Draws test accuracy by epoch, a line per value (sd shaded), and final accuracy by value; returns the Figure.

    Args:
        frame, sweep, title, figures_dir, name: tidy results; the swept field; the title; as ``save_figure``."""
    import matplotlib.pyplot as plt
    import seaborn as sns

    rows = frame[frame["sweep"] == sweep].copy()
    order = [str(v) for v in sorted(rows["value"].unique(), key=value_key)]
    limits = _curve_limits(rows)
    rows["value"] = rows["value"].astype(str)
    fig, (curves, final) = plt.subplots(1, 2, figsize=(11, 3.8), gridspec_kw={"width_ratios": [1.25, 1]})
    sns.lineplot(data=rows, x="epoch", y="test_acc", hue="value", hue_order=order, errorbar="sd", marker="o", ax=curves)
    curves.set(xlabel="epoch", ylabel="test accuracy", ylim=limits)
    curves.xaxis.get_major_locator().set_params(integer=True)
    curves.legend(title=sweep, fontsize=8, title_fontsize=8, loc="best")
    _against_value(final, final_stats(frame, sweep), "acc", "sd", "final test accuracy", sweep)
    fig.suptitle(title)
    save_figure(fig, figures_dir, name)
    return fig


def plot_sweep_diagnostics(frame: pd.DataFrame, sweep: str, title: str, figures_dir: str | Path, name: str):
    """Draws the share of test images with silent outputs and the output firing rate by value; returns the Figure.

    Args:
        frame, sweep, title, figures_dir, name: tidy results; the swept field; the title; as ``save_figure``."""
    import matplotlib.pyplot as plt

    stats = final_stats(frame, sweep)
    fig, (silent, rate) = plt.subplots(1, 2, figsize=(11, 3.2))
    silent.set_ylim(-0.05, 1.05)
    _against_value(silent, stats, "silent_frac_test", None, "test images with silent outputs", sweep)
    _against_value(rate, stats, "out_rate_test", None, "mean output firing rate", sweep)
    fig.suptitle(title)
    save_figure(fig, figures_dir, name)
    return fig


def plot_flops(frame: pd.DataFrame, figures_dir: str | Path, name: str = "figure7_flops"):
    """Draws SNN FLOPs per forward pass by epoch, training and validation, beside the ANN's; returns the Figure.

    Args:
        frame, figures_dir, name: 4.3's tidy results (``snn_flops_train``, ``snn_flops_test``, ``ann_flops``, ``T``)."""
    import matplotlib.pyplot as plt
    import seaborn as sns

    rows = frame.melt(
        id_vars=["epoch", "seed"],
        value_vars=["snn_flops_train", "snn_flops_test"],
        var_name="split",
        value_name="flops",
    )
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
    """Draws ``table`` as an annotated heatmap (``labels`` in the cells) on ``ax``."""
    import seaborn as sns

    sns.heatmap(table.astype(float), annot=labels.to_numpy(), fmt="", cbar=False, ax=ax, linewidths=0.5, **style)
    ax.set(title=title, xlabel="", ylabel="")
    ax.tick_params(axis="x", rotation=30)


def _rows_height(rows: int) -> float:
    """A heatmap's height in inches: rows narrower when there are many, so a grid fits a page."""
    return (0.45 if rows <= 12 else 0.3) * rows + 1.6


def plot_setup_accuracy(
    table: pd.DataFrame, diverged: pd.DataFrame, figures_dir: str | Path, name: str = "figure8_setup_accuracy"
):
    """Draws final test accuracy by setup (rows) and source report's run (columns), "div" where all diverged; returns it.

    Args:
        table, diverged, figures_dir, name: ``setup_search.run_table`` of ``scored_acc``; ``diverged_table``."""
    import matplotlib.pyplot as plt

    labels = table.map(lambda v: f"{v:.0%}").where(~diverged, "div")
    fig, ax = plt.subplots(figsize=(8.5, _rows_height(len(table))))
    _heatmap(ax, table, labels, "Final test accuracy per run and setup", vmin=0, vmax=1, cmap="viridis")
    save_figure(fig, figures_dir, name)
    return fig


def plot_setup_diagnostics(
    silent: pd.DataFrame,
    membrane: pd.DataFrame,
    diverged: pd.DataFrame,
    figures_dir: str | Path,
    name: str = "figure9_setup_diagnostics",
):
    """Draws silent outputs and the largest |membrane| (log10) by setup and run, "div" if diverged; returns it.

    Args:
        silent, membrane, diverged, figures_dir, name: ``setup_search.run_table`` frames; as ``save_figure``."""
    import matplotlib.pyplot as plt
    import numpy as np

    fig, axes = plt.subplots(1, 2, figsize=(14, _rows_height(len(silent))), sharey=True)
    _heatmap(
        axes[0],
        silent,
        silent.map(lambda v: f"{v:.0%}").where(~diverged, "div"),
        "Test images with silent outputs",
        vmin=0,
        vmax=1,
        cmap="rocket_r",
    )
    logged = np.log10(membrane.astype(float).clip(lower=1e-3))
    _heatmap(
        axes[1],
        logged,
        membrane.map(lambda v: f"{v:.2g}").where(~diverged, "div"),
        "Largest |membrane| on the test set (colour: log10)",
        cmap="mako_r",
    )
    save_figure(fig, figures_dir, name)
    return fig


def plot_sweep_pair(
    ours: pd.DataFrame, theirs: pd.DataFrame, sweep: str, title: str, figures_dir: str | Path, name: str
):
    """Draws a 4.1 sweep under both setups: accuracy by epoch, then final accuracy and silent share by value.

    Args:
        ours, theirs, sweep, title, figures_dir, name: 4.1's results, labsnn's and source-like; as ``plot_sweep``."""
    import matplotlib.pyplot as plt
    import seaborn as sns

    rows = {"labsnn": ours[ours["sweep"] == sweep].copy(), "source-like": theirs[theirs["sweep"] == sweep].copy()}
    order = [str(v) for v in sorted(rows["labsnn"]["value"].unique(), key=value_key)]
    limits = [_curve_limits(r) for r in rows.values() if r["test_acc"].notna().any()] or [(0.0, 1.0)]
    low, high = zip(*limits)
    fig, axes = plt.subplots(1, 3, figsize=(15, 3.8), gridspec_kw={"width_ratios": [1, 1, 1]})
    for ax, (label, frame) in zip(axes[:2], rows.items()):
        frame["value"] = frame["value"].astype(str)
        sns.lineplot(
            data=frame, x="epoch", y="test_acc", hue="value", hue_order=order, errorbar="sd", marker="o", ax=ax
        )
        ax.set(xlabel="epoch", ylabel="test accuracy", ylim=(min(low), max(high)), title=label)
        ax.xaxis.get_major_locator().set_params(integer=True)
        ax.legend(title=sweep, fontsize=7, title_fontsize=7, loc="best")
    for (label, frame), colour in zip({"labsnn": ours, "source-like": theirs}.items(), ("C0", "C3")):
        stats = final_stats(frame, sweep)
        x = _positions(stats.index)
        axes[2].plot(x, stats["acc"], marker="o", color=colour, label=f"{label}: accuracy")
        axes[2].plot(x, stats["silent_frac_test"], marker="s", linestyle="--", color=colour, label=f"{label}: silent")
    _value_axis(axes[2], list(final_stats(ours, sweep).index), sweep)
    axes[2].set(ylim=(-0.05, 1.05), ylabel="final accuracy / silent share", title="last epoch, mean over seeds")
    axes[2].legend(fontsize=7, loc="best")
    fig.suptitle(title, y=1.03)
    save_figure(fig, figures_dir, name)
    return fig


def _numeric(values: list) -> bool:
    return all(isinstance(v, (int, float)) and v > 0 for v in values)


def _positions(values) -> list:
    """Returns x positions: the values themselves when numeric, else 0, 1, ..."""
    values = list(values)
    return values if _numeric(values) else list(range(len(values)))


def _value_axis(ax, values: list, sweep: str) -> None:
    """Log x with one tick per value for numbers, one tick per name otherwise."""
    if _numeric(values):
        ax.set_xscale("log")
        ax.set_xticks(values, [f"{v:g}" for v in values])
        ax.minorticks_off()
    else:
        ax.set_xticks(range(len(values)), [str(v) for v in values])
    ax.set(xlabel=sweep)
