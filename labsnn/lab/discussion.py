"""The discussion paragraph of each subsection, generated from this run's results.

Which value is best and whether its lead exceeds the spread between seeds, what the diagnostics show for the worst
value, and whether the source report's claims for the subsection hold. No sentence states a finding the frame did not produce.
"""

from __future__ import annotations

import pandas as pd

from labsnn.running.summary import final_epochs, value_key


def final_stats(frame: pd.DataFrame, sweep: str) -> pd.DataFrame:
    """Summarizes a sweep's last epoch per value, over seeds.

    Args:
        frame: tidy results, one row per run and epoch (``sweep``, ``value``, ``seed``, ``epoch``, ``status``,
            ``test_acc`` and, where recorded, the test diagnostics).
        sweep: the swept config field.

    Returns:
        One row per value, in sweep order: ``acc`` and ``sd`` (mean and sd of test accuracy), ``seeds``,
        ``finite`` (runs with an accuracy), ``diverged``, and the means of ``silent_frac_test``,
        ``out_rate_test`` and ``max_abs_membrane_test`` where present.
    """
    last = final_epochs(frame[frame["sweep"] == sweep])
    columns = {
        "acc": ("test_acc", "mean"),
        "sd": ("test_acc", "std"),
        "seeds": ("seed", "count"),
        "finite": ("test_acc", "count"),
        "diverged": ("status", lambda s: int((s == "diverged").sum())),
    }
    for name in ("silent_frac_test", "out_rate_test", "max_abs_membrane_test"):
        if name in last:
            columns[name] = (name, "mean")
    table = last.groupby("value", sort=False).agg(**columns)
    return table.loc[sorted(table.index, key=value_key)]


def lead_sentence(stats: pd.DataFrame, symbol: str) -> str:
    """Says which value ends best and whether its lead over the runner-up exceeds the seeds' spread.

    Args:
        stats: ``final_stats`` of the sweep.
        symbol: the swept field as the text writes it.

    Returns:
        The sentence; the spread is the two values' sds added, and a lead within it "a tie within seed noise".
    """
    ranked = stats.dropna(subset=["acc"]).sort_values("acc", ascending=False, kind="stable")
    if ranked.empty:
        return f"Every run of {symbol} diverged."
    best = ranked.index[0]
    head = f"{symbol} = {best} ends best, at {ranked.at[best, 'acc']:.1%}"
    if len(ranked) == 1:
        return head + "."
    runner = ranked.index[1]
    lead = ranked.at[best, "acc"] - ranked.at[runner, "acc"]
    if min(ranked.at[best, "finite"], ranked.at[runner, "finite"]) < 2:
        return (
            head + f", {100 * lead:.1f} points ahead of {symbol} = {runner}; with one finished seed for one of "
            "them, whether that lead exceeds the spread between seeds cannot be judged."
        )
    noise = ranked.at[best, "sd"] + ranked.at[runner, "sd"]
    if lead > noise:
        return head + (
            f" (± {100 * ranked.at[best, 'sd']:.1f} points over seeds), {100 * lead:.1f} points ahead of "
            f"{symbol} = {runner}: more than the spread between seeds ({100 * noise:.1f} points)."
        )
    return (
        f"{symbol} = {best} ({ranked.at[best, 'acc']:.1%}) and {symbol} = {runner} "
        f"({ranked.at[runner, 'acc']:.1%}) are a tie within seed noise: the lead, {100 * lead:.1f} points, is no "
        f"larger than the spread between seeds ({100 * noise:.1f} points)."
    )


def worst_sentence(stats: pd.DataFrame, symbol: str) -> str:
    """Says what the diagnostics show at the worst value, and which values' runs diverged.

    Args:
        stats: ``final_stats`` of the sweep.
        symbol: the swept field as the text writes it.

    Returns:
        The sentences, or "" when there is nothing to say.
    """
    diverged = stats[stats["diverged"] > 0]
    text = ""
    if len(diverged):
        text = (
            " ".join(
                f"At {symbol} = {v}, {int(r['diverged'])} of {int(r['seeds'])} run(s) diverged (NaN or "
                f"infinite loss or membrane)."
                for v, r in diverged.iterrows()
            )
            + " "
        )
    finite = stats.dropna(subset=["acc"])
    if finite.empty or "silent_frac_test" not in finite or len(finite) < 2:
        return text.strip()
    worst = finite["acc"].idxmin()
    row = finite.loc[worst]
    return text + (
        f"The worst, {symbol} = {worst} at {row['acc']:.1%}: its outputs stay silent on "
        f"{row['silent_frac_test']:.0%} of test images, the mean output firing rate is "
        f"{row['out_rate_test']:.3f} and the membrane reaches {row['max_abs_membrane_test']:.3g}."
    )


VERDICT_WORDS = {"yes": "reproduced", "no": "not reproduced", "tie": "a tie within seed noise"}


def claims_sentence(claims: pd.DataFrame) -> str:
    """States the source report's claims for a subsection and their verdicts.

    Args:
        claims: rows of ``labsnn.lab.claims.reproduction_table`` (``source report's claim``, ``this run``, ``reproduced``).

    Returns:
        One sentence per claim, joined by spaces.
    """
    claim, value, verdict = claims["source report's claim"], claims["this run"], claims["reproduced"]
    return " ".join(
        f"The source report's claim '{c}' is not measured in this profile."
        if r == "n/a"
        else f"The source report: {c}; here {v}, {VERDICT_WORDS[r]}."
        for c, v, r in zip(claim, value, verdict)
    )


def discuss(frame: pd.DataFrame, sweep: str, symbol: str, claims: pd.DataFrame | None = None) -> str:
    """Writes the discussion paragraph of one sweep's subsection.

    Args:
        frame, sweep: tidy results and the swept config field, as ``final_stats`` takes them.
        symbol: the swept field as the text writes it.
        claims: the subsection's rows of the reproduction table, or None.

    Returns:
        The Markdown paragraph, opening with "**Discussion.**".
    """
    stats = final_stats(frame, sweep)
    parts = [lead_sentence(stats, symbol), worst_sentence(stats, symbol)]
    if claims is not None and len(claims):
        parts.append(claims_sentence(claims))
    return "**Discussion.** " + " ".join(part for part in parts if part)
