"""Section 4.4 for reading: the declared grid and protocol, the setups' scores, the
figures' captions and the chapter's findings, each generated from the results."""

from __future__ import annotations

import pandas as pd

from labsnn.lab.seed_setup import (
    DEFAULT_LEARNS,
    FAILURE_CLAIMS,
    SEED_RUNS,
    SETUP_PROFILES,
    best_setup,
    run_label,
    run_table,
    setups,
    tied_best,
)


def _stuck(row: pd.Series) -> str:
    """How one failing run ended, from its diagnostics."""
    if row["status"] == "diverged":
        return f"diverged in epoch {int(row['diverged_epoch'])} (NaN or infinite loss or membrane)"
    parts = [
        f"{row['test_acc']:.1%} accuracy",
        f"outputs silent on {row['silent_frac_test']:.0%} of test images",
        f"{row['top_class_share_test']:.0%} of predictions in one class",
        f"largest |weight| {row['max_abs_weight_l0']:.3g} / {row['max_abs_weight_l1']:.3g}",
        f"largest |membrane| {row['max_abs_membrane_test']:.3g}",
    ]
    return ", ".join(parts)


def findings(last: pd.DataFrame, scores: pd.DataFrame) -> str:
    """The chapter's text, generated from ``scores`` and the runs' diagnostics."""
    best, tied = best_setup(scores, last), tied_best(scores)
    n = len(FAILURE_CLAIMS)
    never = [c for c in FAILURE_CLAIMS if not scores[c].any()]
    lines = []
    if best is None:
        lines.append("No setup of the grid keeps the default network learning; none can stand for the seed's.")
    else:
        top = int(scores.set_index("setup").loc[best, "claims reproduced"])
        if len(tied) > 1:
            lines.append(
                f"{len(tied)} setups tie for the most of the seed's {n} failure claims reproduced while the "
                f"default still learns, {top} of {n}: {'; '.join(tied)}. Of them, **{best}** has the most "
                "accurate default run and stands for the seed's setup below."
            )
        else:
            lines.append(
                f"The setup that reproduces the most of the seed's {n} failure claims while the default still "
                f"learns is **{best}**: {top} of {n}."
            )
        lines[-1] += f" labsnn's own setup (the first row) reproduces {int(scores['claims reproduced'].iloc[0])}."
    most = scores.sort_values("claims reproduced", ascending=False, kind="stable").iloc[0]
    if best is None or most["claims reproduced"] > scores.set_index("setup").loc[best, "claims reproduced"]:
        default = last[(last["setup"] == most["setup"]) & (last["sweep"] == "default")]["scored_acc"].mean()
        lines.append(
            f"Without the condition that the default learns, **{most['setup']}** reproduces the most, "
            f"{int(most['claims reproduced'])} of {n}, but its default run ends at {default:.1%}."
        )
    lines.append(
        "No setup reproduces: " + "; ".join(never) + "." if never else "Every claim is reproduced by some setup."
    )
    if best is not None:
        lines.append(f"\nHow each of the seed's runs ends under {best} (first seed):\n")
        runs = last[(last["setup"] == best) & (last["seed"] == last["seed"].min())]
        for sweep, value in SEED_RUNS:
            row = runs[(runs["sweep"] == sweep) & (runs["value"] == value)]
            if len(row):
                lines.append(f"- {run_label(sweep, value)}: {_stuck(row.iloc[0])}.")
    return "\n".join(lines)


def score_table(scores: pd.DataFrame) -> pd.DataFrame:
    """``score`` for reading: yes / no per claim, each claim's column headed by its run."""
    short = {claim: claim.split(" ")[0] + " = " + claim.split(" ")[2] for claim in FAILURE_CLAIMS}
    table = scores.rename(
        columns={**short, "default learns": "default learns", "claims reproduced": f"of {len(FAILURE_CLAIMS)}"}
    )
    return table.map(lambda v: ("yes" if v else "no") if isinstance(v, bool) else v)


def accuracy_caption(last: pd.DataFrame, number: int = 8) -> str:
    """Figure 8's caption, with the setups' extremes read from ``last``."""
    table = run_table(last, "scored_acc")
    default = table["default"]
    return (
        f"**Figure {number}: final test accuracy of the seed's runs under each setup** (mean over "
        f'{last["seed"].nunique()} seed(s); "div": every seed diverged, scored at the tie accuracy). The default run '
        f"ends between {default.min():.1%} ({default.idxmin()}) and {default.max():.1%} ({default.idxmax()})."
    )


def diagnostics_caption(last: pd.DataFrame, number: int = 9) -> str:
    """Figure 9's caption: how many runs end silent, read from ``last``."""
    silent = last[last["silent_frac_test"] >= 0.99]
    return (
        f"**Figure {number}: how the runs fail.** Left: the fraction of test images on which no output neuron fires "
        f"(mean over seeds); right: the largest |membrane| on the test set (largest over seeds). Of "
        f"{len(last)} runs, {len(silent)} end with silent outputs on at least 99% of test images and "
        f"{int((last['status'] == 'diverged').sum())} diverged."
    )


def grid_table(profile_name: str) -> pd.DataFrame:
    """The declared grid, one row per setup, with the fields each sets."""
    rows = [
        {
            "setup": name,
            "optimizer": f["optimizer"],
            "lr": f["lr"],
            "momentum": f.get("momentum", 0.0),
            "surrogate": f["surrogate"],
            "spike timing": f["spike_timing"],
        }
        for name, f in setups(profile_name).items()
    ]
    return pd.DataFrame(rows)


def protocol_text(profile_name: str, tie_accuracy: float) -> str:
    """What was searched and the rule for "reproduced", from the profile and the data."""
    p = SETUP_PROFILES[profile_name]
    images = "all" if p["n_train"] is None else f"{p['n_train']:,}"
    tested = "the whole test set" if p["n_test"] is None else f"{p['n_test']:,} test images"
    grid = "; ".join(
        f"{axis}: {', '.join(p[key])}"
        for axis, key in (("optimizer", "optimizers"), ("surrogate", "surrogates"), ("spike timing", "timings"))
    )
    return (
        f"Searched: the {len(setups(profile_name))} setups of the grid {grid} (fast sigmoid: the lab's "
        f"$1/(1 + z|x|)^2$; scaled: $z/(1 + z|x|)^2$; m0.9: momentum 0.9), nothing else; every other setting at "
        f"the lab's defaults. Each of the seed's {len(SEED_RUNS)} "
        f"diagnostic runs trains under each setup with {p['seeds']} seed(s), {p['epochs']} epoch(s) on {images} "
        f"training images, tested on {tested}. A claim is reproduced when the mean final test accuracy over "
        f"seeds meets the seed's statement as in the reproduction table. A run that diverged counts at "
        f"{tie_accuracy:.1%}, the share of class 0 in the test set: its NaN network leaves every output silent and "
        f'the first class wins the tie, which is what code without a divergence check reports. "The default learns" '
        f"means at least {DEFAULT_LEARNS:.0%}. The count-based loss `mse_count` is not in the grid: it is T times "
        f"`mse_rate`, so under SGD it equals `mse_rate` at T times the learning rate."
    )
