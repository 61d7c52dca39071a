"""The source report's claims, each measured on this run's results (the reproduction table)."""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import pandas as pd

from labsnn.dynamics.flops import ann_flops
from labsnn.lab.discussion import claims_sentence, discuss, final_stats
from labsnn.lab.findings import final_accuracy
from labsnn.model import LAB_SIZES
from labsnn.running.summary import final_epochs, value_key

LAB_ANN_FLOPS = ann_flops(LAB_SIZES)


@dataclass(frozen=True)
class Claim:
    """One claim of the source report and how this run measures it.

    Attributes:
        section, claim: the source report's section (e.g. ``4.1.2``) and the claim's words.
        measure: the measured value from the frames (section -> tidy results); NaN when not measured.
        holds, fmt: whether a measured value meets the claim; the value as shown.
        tie: for a "best" claim, whether a value that fails is a tie within seed noise; else None.
        run: ``(frame, sweep, value)`` of the run whose diagnostics explain it; None for a formula.
    """

    section: str
    claim: str
    measure: Callable[[dict[str, pd.DataFrame]], float | Any]
    holds: Callable[[Any], bool]
    fmt: Callable[[Any], str]
    tie: Callable[[Any], bool] | None = None
    run: tuple[str, str, Any] | None = None


def _acc(sweep: str, value: Any, section: str = "4.1") -> Callable[[dict[str, pd.DataFrame]], float]:
    """Measures the mean final test accuracy of ``sweep = value`` in ``section`` (NaN when absent)."""

    def measure(frames: dict[str, pd.DataFrame]) -> float:
        acc = final_accuracy(frames[section], sweep)
        return float(acc.get(value, math.nan))

    return measure


def _ranking(sweep: str, claimed: Any, section: str = "4.1") -> Callable[[dict[str, pd.DataFrame]], tuple | float]:
    """Measures a sweep's (best value, sorted grid, accuracy and sd per value); NaN without ``claimed``."""

    def measure(frames: dict[str, pd.DataFrame]) -> tuple | float:
        stats = final_stats(frames[section], sweep)
        if claimed not in stats.index:
            return math.nan
        return stats["acc"].idxmax(), sorted(stats.index, key=value_key), stats["acc"], stats["sd"]

    return measure


def _near(target: Any) -> Callable[[tuple], bool]:
    """Holds when the best value is the target or its neighbour in the swept grid."""

    def holds(ranking: tuple) -> bool:
        best, grid = ranking[:2]
        return abs(grid.index(best) - grid.index(target)) <= 1

    return holds


def _tied(target: Any) -> Callable[[tuple], bool]:
    """Ties when the target trails the best by at most the two values' sds added (never with one seed)."""

    def tie(ranking: tuple) -> bool:
        best, _, acc, sd = ranking
        noise = sd[best] + sd[target]
        return not math.isnan(noise) and acc[best] - acc[target] <= noise

    return tie


def percent(value: float) -> str:
    """Formats a fraction as a percentage with one decimal.

    Args:
        value: a fraction, NaN or None.

    Returns:
        e.g. ``"12.3%"``; ``"n/a"`` for None or NaN.
    """
    return "n/a" if value is None or (isinstance(value, float) and math.isnan(value)) else f"{value:.1%}"


def _best_claim(section: str, text: str, sweep: str, claimed: Any, near: bool, shown: str, at: str = "4.1") -> Claim:
    """Builds a "best" claim: ``claimed`` ends best in ``sweep`` (with ``near``: it or a grid neighbour)."""
    holds = _near(claimed) if near else (lambda ranking: ranking[0] == claimed)

    def show(ranking: tuple) -> str:
        return f"best {shown} = {ranking[0]}"

    return Claim(section, text, _ranking(sweep, claimed, at), holds, show, _tied(claimed), (at, sweep, claimed))


def _value_claim(section: str, text: str, sweep: str, value: Any, holds: Callable[[float], bool]) -> Claim:
    """Builds a claim on the mean final test accuracy of 4.1's ``sweep = value``."""
    return Claim(section, text, _acc(sweep, value), holds, percent, run=("4.1", sweep, value))


def _flops_t5(frames: dict[str, pd.DataFrame]) -> float:
    """SNN FLOPs on validation after the last epoch, mean over seeds (as Figure 7's caption)."""
    return float(final_epochs(frames["4.3"])["snn_flops_test"].mean())


# The numbers in the claims are the source report's own (what it claims); labsnn's are measured.
CLAIMS: list[Claim] = [
    _best_claim("4.1.1", "z: best near z = 2", "z", 2.0, near=True, shown="z"),
    _value_claim("4.1.1", "z = 10 below 20%", "z", 10.0, lambda v: v < 0.20),
    _best_claim("4.1.2", "beta: best near 0.1", "beta", 0.1, near=True, shown="beta"),
    _value_claim("4.1.2", "beta = 2 about 18-20%", "beta", 2.0, lambda v: 0.15 <= v <= 0.23),
    _value_claim("4.1.2", "beta = 5 at 9.8%", "beta", 5.0, lambda v: abs(v - 0.098) <= 0.01),
    _best_claim("4.1.3", "V_th: best near 1", "v_th", 1.0, near=True, shown="V_th"),
    _value_claim("4.1.3", "V_th = 5 below 80%", "v_th", 5.0, lambda v: v < 0.80),
    _value_claim("4.1.3", "V_th = 10 at 10%", "v_th", 10.0, lambda v: abs(v - 0.10) <= 0.015),
    _value_claim("4.1.4", "T = 2 below 10%", "T", 2, lambda v: v < 0.10),
    _best_claim("4.1.4", "T = 50 best", "T", 50, near=False, shown="T"),
    _value_claim("4.1.4", "T = 50 about 93%", "T", 50, lambda v: abs(v - 0.93) <= 0.02),
    _value_claim("4.1.4", "T = 100 about 92%", "T", 100, lambda v: abs(v - 0.92) <= 0.02),
    _best_claim("4.1.5", "Bernoulli is the best encoding", "encoder", "bernoulli", near=False, shown="encoding"),
    _best_claim("4.2", "MSE better than cross-entropy", "loss", "mse_rate", near=False, shown="loss", at="4.2"),
    Claim("4.3", "ANN 15,900 FLOPs", lambda frames: float(LAB_ANN_FLOPS), lambda v: v == 15900, lambda v: f"{v:,.0f}"),
    Claim(
        "4.3",
        "SNN about 10,945 FLOPs at T = 5 (validation)",
        _flops_t5,
        lambda v: abs(v - 10945) <= 0.1 * 10945,
        lambda v: f"{v:,.0f}",
        run=("4.3", "T", 5),
    ),
    Claim(
        "4.3",
        "a 31% reduction against the ANN",
        lambda frames: 1 - _flops_t5(frames) / LAB_ANN_FLOPS,
        lambda v: abs(v - 0.31) <= 0.05,
        percent,
        run=("4.3", "T", 5),
    ),
]

#: Printed under the reproduction table.
VERDICT_RULE = (
    "A claim is reproduced when this run's mean final test accuracy over seeds meets the source report's statement; "
    "'near' means the best value or its neighbour in the swept grid. A 'best' claim that fails is a tie when the "
    "claimed value's accuracy is within the seeds' spread of the best's (the two standard deviations added). "
    "The source report's numbers are read with these margins: 'about X%' within 2 points; '9.8%' within 1 point; '10%' "
    "within 1.5 points; '18-20%' as 15-23%; 'about 10,945 FLOPs' within 10%; '31%' within 5 points."
)


def _verdict(claim: Claim, frames: dict[str, pd.DataFrame]) -> tuple[str, str]:
    """(value as shown, "yes" / "no"), or ("not measured", "n/a") when the frames lack it."""
    try:
        value = claim.measure(frames)
    except (KeyError, ValueError):
        return "not measured", "n/a"
    if isinstance(value, float) and math.isnan(value):
        return "not measured", "n/a"
    if claim.holds(value):
        return claim.fmt(value), "yes"
    return claim.fmt(value), "tie" if claim.tie is not None and claim.tie(value) else "no"


def reproduction_table(
    frames: dict[str, pd.DataFrame], source_like: dict[str, pd.DataFrame] | None = None
) -> pd.DataFrame:
    """Scores each of the source report's claims on this run's frames (and on the source-like winner's).

    Args:
        frames: tidy results per section (``4.1``, ``4.2``, ``4.3``).
        source_like: the same for section 4.4's source-like winner's runs of 4.1-4.3, or None.

    Returns:
        One row per claim: ``section``, ``source report's claim``, ``this run`` (the value, or "not measured" when the
        grid lacks it) and ``reproduced`` (``yes``, ``no``, ``tie`` or ``n/a``); with ``source_like``, also
        ``4.4 source-like`` and ``there`` ("-" where not measured).
    """
    rows = []
    for claim in CLAIMS:
        shown, verdict = _verdict(claim, frames)
        row = {"section": claim.section, "source report's claim": claim.claim, "this run": shown, "reproduced": verdict}
        if source_like is not None:
            shown, verdict = _verdict(claim, source_like)
            row["4.4 source-like"], row["there"] = ("-", "-") if verdict == "n/a" else (shown, verdict)
        rows.append(row)
    return pd.DataFrame(rows)


def discuss_subsection(
    frames: dict[str, pd.DataFrame], sweep: str, symbol: str, subsection: str, section: str = "4.1"
) -> str:
    """Writes the discussion paragraph of one subsection, with the source report's claims for it.

    Args:
        frames: tidy results per section.
        sweep, symbol: the swept config field and its symbol in the text (e.g. ``v_th``, ``V_th``).
        subsection, section: the subsection whose claims are discussed (e.g. ``4.1.2``); the frame it reads.

    Returns:
        The Markdown paragraph.
    """
    table = reproduction_table(frames)
    return discuss(frames[section], sweep, symbol, table[table["section"] == subsection])


def flops_discussion(frame: pd.DataFrame) -> str:
    """Writes section 4.3's discussion: validation against training FLOPs, their trend, the source report's claims.

    Args:
        frame: 4.3's tidy results (``epoch``, ``snn_flops_train``, ``snn_flops_test``, ...).

    Returns:
        The Markdown paragraph, set against the source report's finding (validation higher, both rising).
    """
    by_epoch = frame.groupby("epoch")[["snn_flops_train", "snn_flops_test"]].mean()
    first, last = by_epoch.iloc[0], by_epoch.iloc[-1]
    higher = "higher" if last["snn_flops_test"] > last["snn_flops_train"] else "lower"
    trend = {True: "rise", False: "fall"}
    table = reproduction_table({"4.3": frame})
    return (
        f"**Discussion.** After the last epoch the validation pass needs {last['snn_flops_test']:,.0f} FLOPs, "
        f"{higher} than the training pass's {last['snn_flops_train']:,.0f}; from the first epoch to the last, "
        f"training FLOPs {trend[last['snn_flops_train'] > first['snn_flops_train']]} "
        f"({first['snn_flops_train']:,.0f} to {last['snn_flops_train']:,.0f}) and validation FLOPs "
        f"{trend[last['snn_flops_test'] > first['snn_flops_test']]} ({first['snn_flops_test']:,.0f} to "
        f"{last['snn_flops_test']:,.0f}); the source report saw validation higher and both rising. "
        + claims_sentence(table[table["section"] == "4.3"])
    )
