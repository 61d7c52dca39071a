"""The seed report's claims, each measured on this run's results (the reproduction table)."""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any, Callable

import pandas as pd

from labsnn.flops import ann_flops
from labsnn.lab.findings import best_value, final_accuracy
from labsnn.model import LAB_SIZES
from labsnn.sweep import final_epochs

LAB_ANN_FLOPS = ann_flops(LAB_SIZES)


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


def percent(value: float) -> str:
    """``value`` as a percentage with one decimal; n/a for None or NaN."""
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


# The numbers below are the seed's own (what it claims); labsnn's are measured.
CLAIMS: list[Claim] = [
    Claim("4.1.1", "z: best near z = 2", _best_with_grid("z", 2.0), _near(2.0), lambda v: f"best z = {v[0]}"),
    Claim("4.1.1", "z = 10 below 20%", _acc("z", 10.0), lambda v: v < 0.20, percent),
    Claim("4.1.2", "beta: best near 0.1", _best_with_grid("beta", 0.1), _near(0.1), lambda v: f"best beta = {v[0]}"),
    Claim("4.1.2", "beta = 2 about 18-20%", _acc("beta", 2.0), lambda v: 0.15 <= v <= 0.23, percent),
    Claim("4.1.2", "beta = 5 at 9.8%", _acc("beta", 5.0), lambda v: abs(v - 0.098) <= 0.01, percent),
    Claim("4.1.3", "V_th: best near 1", _best_with_grid("v_th", 1.0), _near(1.0), lambda v: f"best V_th = {v[0]}"),
    Claim("4.1.3", "V_th = 5 below 80%", _acc("v_th", 5.0), lambda v: v < 0.80, percent),
    Claim("4.1.3", "V_th = 10 at 10%", _acc("v_th", 10.0), lambda v: abs(v - 0.10) <= 0.015, percent),
    Claim("4.1.4", "T = 2 below 10%", _acc("T", 2), lambda v: v < 0.10, percent),
    Claim("4.1.4", "T = 50 best", _best_with_grid("T", 50), lambda v: v[0] == 50, lambda v: f"best T = {v[0]}"),
    Claim("4.1.4", "T = 50 about 93%", _acc("T", 50), lambda v: abs(v - 0.93) <= 0.02, percent),
    Claim("4.1.4", "T = 100 about 92%", _acc("T", 100), lambda v: abs(v - 0.92) <= 0.02, percent),
    Claim("4.1.5", "Bernoulli is the best encoding", _best("encoder"), lambda v: v == "bernoulli", str),
    Claim("4.2", "MSE better than cross-entropy", _best("loss", "4.2"), lambda v: v == "mse_rate", lambda v: f"best: {v}"),
    Claim("4.3", "ANN 15,900 FLOPs", lambda frames: float(LAB_ANN_FLOPS), lambda v: v == 15900, lambda v: f"{v:,.0f}"),
    Claim("4.3", "SNN about 10,945 FLOPs at T = 5 (validation)", _flops_t5, lambda v: abs(v - 10945) <= 0.1 * 10945, lambda v: f"{v:,.0f}"),
    Claim("4.3", "a 31% reduction against the ANN", lambda frames: 1 - _flops_t5(frames) / LAB_ANN_FLOPS,
          lambda v: abs(v - 0.31) <= 0.05, percent),
]


def _verdict(claim: Claim, frames: dict[str, pd.DataFrame]) -> tuple[str, str]:
    """(value as shown, "yes" / "no"), or ("not measured", "n/a") when the frames lack it."""
    try:
        value = claim.measure(frames)
    except (KeyError, ValueError):
        return "not measured", "n/a"
    if isinstance(value, float) and math.isnan(value):
        return "not measured", "n/a"
    return claim.fmt(value), "yes" if claim.holds(value) else "no"


def reproduction_table(frames: dict[str, pd.DataFrame], seed_like: dict[str, pd.DataFrame] | None = None) -> pd.DataFrame:
    """Each of the seed's claims beside this run's value and whether it reproduced; with
    ``seed_like`` (section 4.4's best seed-like setup, as frames), two more columns for it.

    Claims whose value is not in this run's grid read "not measured"."""
    rows = []
    for claim in CLAIMS:
        shown, verdict = _verdict(claim, frames)
        row = {"section": claim.section, "seed's claim": claim.claim, "this run": shown, "reproduced": verdict}
        if seed_like is not None:
            row["seed-like setup"], row["reproduced there"] = _verdict(claim, seed_like)
        rows.append(row)
    return pd.DataFrame(rows)
