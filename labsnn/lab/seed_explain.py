"""Section 4.4's generated text: how runs end, why claims fail to reproduce, and the chapter's summary.

A run's end is read from its diagnostics (silent outputs, one-class predictions, frozen weights, exploding
membranes); every claim of the seed that neither column of the reproduction table reproduces gets an explanation.
Every sentence is built from the results; none states a finding.
"""

from __future__ import annotations

import math
from typing import Any

import pandas as pd

from labsnn.lab.claims import CLAIMS
from labsnn.lab.seed_grid import LABSNN_SETUP, budget_text, setups
from labsnn.lab.seed_setup import FAILURE_CLAIMS
from labsnn.lab.seed_study import Study
from labsnn.running.summary import final_epochs

SILENT = 0.99  # "silent": no output spike on (nearly) every test image, so every image ties at class 0
ONE_CLASS = 0.90  # "one class": (nearly) every prediction the same digit
FROZEN = 1e-3  # the largest |weight| moved by less than this share after the first epoch
EXPLODED = 100.0  # a membrane this many thresholds high is no longer held near V_th by its resets


def run_rows(frame: pd.DataFrame, sweep: str, value: Any) -> pd.DataFrame:
    """Returns every epoch of the runs of ``sweep = value``.

    Args:
        frame: tidy results of 4.1-4.3 (the default run is any sweep's default value).
        sweep, value: the swept field and its value.
    """
    return frame[(frame["sweep"] == sweep) & (frame["value"] == value)]


def _weight_change(rows: pd.DataFrame) -> float:
    """Largest relative change of a layer's largest |weight| from the first epoch to the last, mean over seeds."""
    changes = []
    for _, run in rows.groupby("seed"):
        first, last = run.iloc[0], run.iloc[-1]
        layers = [c for c in run.columns if c.startswith("max_abs_weight_l")]
        changes.append(max(abs(last[c] - first[c]) / max(abs(first[c]), 1e-12) for c in layers))
    return sum(changes) / len(changes)


def state(rows: pd.DataFrame) -> tuple[str, str]:
    """Tells how a run ends, from its diagnostics over its seeds.

    Args:
        rows: every epoch of one run's seeds (``run_rows``), with the test diagnostics.

    Returns:
        ``(word, said)``: ``diverged``, ``silent``, ``one class``, ``exploding membranes``, ``frozen`` or ``learns``
        (the first that applies, by ``SILENT``, ``ONE_CLASS``, ``EXPLODED`` and ``FROZEN``), and the diagnostics that
        say so.
    """
    last = final_epochs(rows)
    lost = last[last["status"] == "diverged"]
    if len(lost) == len(last):
        return (
            "diverged",
            f"every seed diverged (NaN or infinite loss or membrane) by epoch {int(lost['diverged_epoch'].max())}",
        )
    ok = last[last["status"] != "diverged"]
    acc, silent, top = ok["test_acc"].mean(), ok["silent_frac_test"].mean(), ok["top_class_share_test"].mean()
    membrane, v_th = ok["max_abs_membrane_test"].max(), float(ok["v_th"].iloc[0])
    change = _weight_change(rows[rows["status"] != "diverged"]) if rows["epoch"].nunique() > 1 else float("nan")
    said = (
        f"{acc:.1%}, outputs silent on {silent:.0%} of test images, {top:.0%} of predictions in one class, "
        f"largest |membrane| {membrane:.3g} (V_th = {v_th:g})"
    )
    if not math.isnan(change):
        said += f", largest |weight| moved {change:.1%} after epoch 1"
    if len(lost):
        said += f"; {len(lost)} of {len(last)} seeds diverged"
    word = "learns"
    if silent >= SILENT:
        word = "silent"
    elif top >= ONE_CLASS:
        word = "one class"
    elif membrane >= EXPLODED * v_th:
        word = "exploding membranes"
    elif change < FROZEN:  # False for NaN: one epoch tells nothing about movement
        word = "frozen"
    return word, said


def _screened(decision, claim: str) -> str:
    """Which setups of the ranking screening reproduce a failure claim."""
    if decision.ranking is None or claim not in FAILURE_CLAIMS:
        return ""
    scores = decision.ranking.scores
    hits = scores.loc[scores[claim], "setup"].tolist()
    if not hits:
        return f" No setup of the screening reproduces it either ({len(scores)} setups)."
    named = "; ".join(hits[:3]) + (f"; and {len(hits) - 3} more" if len(hits) > 3 else "")
    return f" In the screening, {len(hits)} of {len(scores)} setups reproduce it: {named}."


def _column(name: str, frames: dict[str, pd.DataFrame] | None, claim) -> str:
    """Says how one column's run of a claim ends (``state``), with the spike rates for a 4.3 claim."""
    if frames is None or claim.run is None:
        return ""
    section, sweep, value = claim.run
    rows = run_rows(frames[section], sweep, value)
    if rows.empty:
        return f" {name}: not measured."
    word, said = state(rows)
    rates = ""
    if section == "4.3":
        last = final_epochs(rows)
        rates = (
            f", input and hidden spike rates {last['rate_test_l0'].mean():.3f} and {last['rate_test_l1'].mean():.3f}"
        )
    return f" {name}, {sweep} = {value}: {word} ({said}{rates})."


MEASURED = ("yes", "no", "tie")


def unexplained(table: pd.DataFrame) -> tuple[list[str], list[str]]:
    """Returns the claims of a reproduction table that no column reproduces.

    Args:
        table: ``labsnn.lab.claims.reproduction_table``, with or without the seed-like columns.

    Returns:
        ``(neither, missing)``: claims measured in some column and reproduced in none; claims measured in none.
    """
    columns = [c for c in ("reproduced", "there") if c in table.columns]
    measured = table[columns].isin(MEASURED).any(axis=1)
    neither = ~table[columns].eq("yes").any(axis=1)
    return table.loc[measured & neither, "seed's claim"].tolist(), table.loc[~measured, "seed's claim"].tolist()


def explanations(study: Study) -> list[str]:
    """Explains each claim that neither column reproduces.

    Args:
        study: section 4.4's ``Study``.

    Returns:
        Markdown list items: per claim, each column's value and how its run ends, and (for a failure claim) which
        screened setups reproduce it; then one naming the claims this profile does not measure.
    """
    table = study.table()
    neither, missing = unexplained(table)
    rows = table.set_index("seed's claim")
    lines = []
    for claim in (c for c in CLAIMS if c.claim in neither):
        row = rows.loc[claim.claim]
        head = f"- **{claim.claim}**: labsnn {row['this run']} ({row['reproduced']})"
        if "there" in row:
            head += f", seed-like {row['4.4 seed-like']} ({row['there']})"
        why = _column("labsnn", study.labsnn, claim) + _column(study.winner or "", study.seed_like, claim)
        lines.append(head + "." + why + _screened(study.decision, claim.claim))
    if missing:
        lines.append(f"- Not measured in this profile (its grids lack the runs): {'; '.join(missing)}.")
    return lines


def _choices(winner: str) -> str:
    """The winner's unstated choices, each beside labsnn's (the parts of the setups' names)."""
    parts = []
    for mine, ours, what in zip(winner.split(", "), LABSNN_SETUP.split(", "), ("", "the {} surrogate", "{} spikes")):
        shown = what.format(mine) if what else mine
        parts.append(f"{shown} (as labsnn)" if mine == ours else f"{shown} (labsnn: {ours})")
    return f"{parts[0]}, {parts[1]} and {parts[2]}"


def _counts(table: pd.DataFrame, column: str) -> str:
    """Says how many claims a column reproduces, and how many more tie."""
    return (
        f"{(table[column] == 'yes').sum()} of {len(table)} claims "
        f"({(table[column] == 'tie').sum()} more a tie within seed noise)"
    )


def _calibrated(decision) -> str:
    """Says which budget the setups were screened on and whether its calibration agreed."""
    first, ranking = decision.tried[0], decision.ranking
    if first.agrees:
        return (
            f"screened on {budget_text(first.budget)}, where labsnn's own setup gets the same verdict as under "
            "4.1's full protocol on each of the six failure claims"
        )
    apart = first.calibration.loc[~first.calibration["same verdict"], "seed's claim"].tolist()
    tail = f"then on {budget_text(ranking.budget)}" if ranking is not None else "and no budget agreed"
    return (
        f"screened on {budget_text(first.budget)}, which gives labsnn's own setup another verdict than 4.1's "
        f"full protocol on {'; '.join(apart)}, so it ranks nothing; {tail}"
    )


def _winner_sentence(study: Study) -> str:
    """Says what the winner reproduces against labsnn's setup, and what its choices tell of the seed's."""
    scores = study.decision.ranking.scores.set_index("setup")
    won, ours = int(scores.loc[study.winner, "claims reproduced"]), int(scores.loc[LABSNN_SETUP, "claims reproduced"])
    table = study.table()
    text = (
        f" **{study.winner}** reproduces the most of the seed's six failure claims with its default run still "
        f"learning: {won} of 6, against {ours} for labsnn's own setup. Retrained on every run of 4.1-4.3, it "
        f"reproduces {_counts(table, 'there')}; labsnn's setup reproduces {_counts(table, 'reproduced')}. "
    )
    if study.winner == LABSNN_SETUP:
        return text + "No unstated choice of the grid explains the seed's failures better than labsnn's own. "
    if won <= ours:
        return text + (
            f"It reproduces no more of the failures than labsnn's own setup, so the screening does not single out "
            f"the seed's choices; it stands for them by the declared rule: {_choices(study.winner)}. "
        )
    return text + f"The seed most likely trained with {_choices(study.winner)}. "


def summary(study: Study) -> str:
    """Writes the chapter's opening paragraph.

    Args:
        study: section 4.4's ``Study``.

    Returns:
        The screening and its calibration, the winner and the unstated choices it stands for, both columns' counts
        and what no setup explains.
    """
    decision = study.decision
    text = f"The {len(setups(decision.profile))} setups of the declared grid were {_calibrated(decision)}."
    if study.winner is None:
        return text + " No screening that agrees keeps a default run learning, so no setup stands for the seed's."
    text += _winner_sentence(study)
    neither, missing = unexplained(study.table())
    nowhere = [c for c in neither if c in FAILURE_CLAIMS and not decision.ranking.scores[c].any()]
    if not neither:
        text += "Every measured claim is reproduced by one column or the other."
    else:
        text += (
            f"No declared setup explains {len(neither)} claim(s), reproduced by neither column: {'; '.join(neither)}"
        )
        text += f" (no screened setup reproduces {'; '.join(nowhere)} either)." if nowhere else "."
    return text + (f" Not measured in this profile: {'; '.join(missing)}." if missing else "")
