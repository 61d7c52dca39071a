"""Summaries of a sweep's tidy frame (``labsnn.running.sweep.sweeps``): its final epochs, and final-epoch accuracy
per swept value over seeds."""

from __future__ import annotations

from typing import Any

import pandas as pd


def value_key(value: Any) -> tuple[bool, Any]:
    """Returns the sort key ``(is a name, value)`` of a sweep's ``value``: numbers ascending, then names A-Z."""
    return isinstance(value, str), value


def final_epochs(frame: pd.DataFrame) -> pd.DataFrame:
    """Returns each run's last recorded epoch of ``frame``, a tidy frame of ``sweeps``: a row per sweep, value, seed."""
    return frame[frame["epoch"] == frame.groupby(["sweep", "value", "seed"])["epoch"].transform("max")]


def summarize(frame: pd.DataFrame) -> pd.DataFrame:
    """Final-epoch test accuracy per sweep value, over its seeds.

    Args:
        frame: a tidy frame of ``sweeps``.

    Returns:
        A row per sweep and value (sweeps in ``frame``'s order, values by ``value_key``): ``test_acc_mean`` and
        ``test_acc_std`` (skipping diverged runs' NaN), ``runs``, ``diverged`` (how many) and ``epochs`` (the last).
    """
    table = (
        final_epochs(frame)
        .groupby(["sweep", "value"], sort=False)
        .agg(
            test_acc_mean=("test_acc", "mean"),
            test_acc_std=("test_acc", "std"),
            runs=("seed", "count"),
            diverged=("status", lambda s: int((s == "diverged").sum())),
            epochs=("epoch", "max"),
        )
    )
    table = table.reset_index()
    sweep_rank = {name: rank for rank, name in enumerate(dict.fromkeys(frame["sweep"]))}
    order = sorted(table.index, key=lambda i: (sweep_rank[table.at[i, "sweep"]], *value_key(table.at[i, "value"])))
    return table.loc[order].reset_index(drop=True)
