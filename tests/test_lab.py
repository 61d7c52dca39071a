import pandas as pd
import pytest

from labsnn import lab
from labsnn.running.summary import summarize


def _frame(sweep, accuracies, epochs=2, seeds=(0, 1)):
    rows = []
    for value, acc in accuracies.items():
        for seed in seeds:
            for epoch in range(1, epochs + 1):
                rows.append(
                    {
                        "sweep": sweep,
                        "value": value,
                        "seed": seed,
                        "epoch": epoch,
                        "status": "ok",
                        "test_acc": acc if epoch == epochs else 0.0,
                    }
                )
    return pd.DataFrame(rows)


def _section_41(**overrides):
    accs = {
        "z": {0.5: 0.8, 1.0: 0.85, 2.0: 0.9, 5.0: 0.7, 10.0: 0.15},
        "beta": {0.05: 0.88, 0.1: 0.9, 0.5: 0.8, 2.0: 0.19, 5.0: 0.098},
        "v_th": {0.5: 0.85, 1.0: 0.9, 5.0: 0.75, 10.0: 0.10},
        "T": {2: 0.08, 25: 0.9, 50: 0.93, 100: 0.92},
        "encoder": {"repeat": 0.5, "threshold": 0.6, "bernoulli": 0.9},
    }
    accs.update(overrides)
    return pd.concat([_frame(s, a) for s, a in accs.items()], ignore_index=True)


def _frames(section_41):
    flops = pd.DataFrame(
        {"sweep": "T", "value": 5, "seed": [0], "epoch": [1], "status": "ok", "snn_flops_test": [10945.0]}
    )
    return {"4.1": section_41, "4.2": _frame("loss", {"mse_rate": 0.9, "cross_entropy_rate": 0.8}), "4.3": flops}


def test_every_claim_reproduces_on_seed_like_results():
    table = lab.reproduction_table(_frames(_section_41()))
    assert len(table) == len(lab.CLAIMS)
    assert table["reproduced"].tolist() == ["yes"] * len(lab.CLAIMS), table


def test_disagreement_is_reported_and_missing_values_are_not_measured():
    frame = _section_41(z={1.0: 0.9, 2.0: 0.5, 5.0: 0.4, 10.0: 0.6}, T={2: 0.3, 25: 0.95})
    table = lab.reproduction_table(_frames(frame)).set_index("source report's claim")
    assert table.loc["z: best near z = 2", "reproduced"] == "yes"  # best z = 1 is 2's neighbour
    assert table.loc["z = 10 below 20%", "reproduced"] == "no"
    assert table.loc["z = 10 below 20%", "this run"] == "60.0%"
    assert table.loc["T = 2 below 10%", "reproduced"] == "no"
    assert table.loc["T = 50 about 93%", "this run"] == "not measured"
    assert table.loc["T = 50 about 93%", "reproduced"] == "n/a"
    assert table.loc["T = 50 best", "reproduced"] == "n/a"


def test_snn_flops_claim_reads_the_last_epoch():
    flops = pd.DataFrame(
        {
            "sweep": "T",
            "value": 5,
            "seed": [0, 0],
            "epoch": [1, 2],
            "status": "ok",
            "snn_flops_test": [14000.0, 10945.0],
        }
    )
    table = lab.reproduction_table({**_frames(_section_41()), "4.3": flops}).set_index("source report's claim")
    assert table.loc["SNN about 10,945 FLOPs at T = 5 (validation)", "this run"] == "10,945"


def test_final_accuracy_takes_the_last_epoch_mean_over_seeds():
    frame = _frame("beta", {0.1: 0.9, 2.0: 0.2})
    assert lab.final_accuracy(frame, "beta").to_dict() == {0.1: pytest.approx(0.9), 2.0: pytest.approx(0.2)}
    assert "highest at beta = 0.1 (90.0%)" in lab.describe_sweep(frame, "beta", "beta")


def test_summary_sorts_values_within_sweeps():
    frame = pd.concat([_frame("z", {10.0: 0.1, 2.0: 0.9}), _frame("encoder", {"repeat": 0.5, "bernoulli": 0.9})])
    table = summarize(frame)
    assert table["value"].tolist() == [2.0, 10.0, "bernoulli", "repeat"]
    assert table["runs"].tolist() == [2, 2, 2, 2]


def test_outcomes_say_which_runs_learned_and_which_diverged():
    frame = pd.concat([_frame("beta", {0.1: 0.55, 5.0: 0.10}), _frame("v_th", {1.0: 0.2})], ignore_index=True)
    frame.loc[(frame["value"] == 5.0) & (frame["seed"] == 1), "status"] = "diverged"
    frame.loc[(frame["value"] == 1.0) & (frame["seed"] == 1) & (frame["epoch"] == 2), "test_acc"] = 0.19
    table = lab.outcomes(frame)
    assert table.columns.tolist() == ["sweep", "value", "runs", "diverged", "learned"]
    assert table["learned"].tolist() == [True, False, False]  # v_th = 1: one seed stayed below twice chance
    assert table["diverged"].tolist() == [0, 1, 0]


def test_markdown_table_has_a_header_a_rule_and_one_line_per_row_without_index():
    lines = lab.markdown_table(pd.DataFrame({"a": [1, 22], "b": ["x", "y"]}, index=[7, 8])).splitlines()
    assert len(lines) == 4
    assert [cell.strip() for cell in lines[0].strip("|").split("|")] == ["a", "b"]
    assert set(lines[1]) <= set("|-: ")
    assert [cell.strip() for cell in lines[3].strip("|").split("|")] == ["22", "y"]


def test_profiles_cover_the_seeds_values():
    grid = lab.PROFILES["full"]["grid"]
    assert {2.0, 10.0} <= set(grid["z"]) and len(grid["z"]) >= 5
    assert {0.1, 2.0, 5.0} <= set(grid["beta"]) and min(grid["beta"]) < 0.1
    assert {1.0, 5.0, 10.0} <= set(grid["v_th"]) and min(grid["v_th"]) < 1
    assert {2, 5, 50, 100} <= set(grid["T"]) and len(grid["T"]) >= 6
    with pytest.raises(ValueError, match="unknown profile"):
        lab.profile("huge")


def _diag_frame(sweep, finals, silent=None):
    """Final-epoch rows: ``finals`` maps a value to its per-seed accuracies."""
    rows = []
    for value, accs in finals.items():
        for seed, acc in enumerate(accs):
            rows.append(
                {
                    "sweep": sweep,
                    "value": value,
                    "seed": seed,
                    "epoch": 5,
                    "status": "ok",
                    "test_acc": acc,
                    "silent_frac_test": (silent or {}).get(value, 0.0),
                    "out_rate_test": 0.2,
                    "max_abs_membrane_test": 4.0,
                }
            )
    return pd.DataFrame(rows)


def test_discussion_names_a_clear_winner():
    from labsnn.lab.discussion import discuss

    text = discuss(_diag_frame("z", {1.0: [0.80, 0.81], 2.0: [0.90, 0.91], 10.0: [0.50, 0.52]}), "z", "z")
    assert (
        "z = 2.0 ends best, at 90.5%" in text and "points ahead of z = 1.0: more than the spread between seeds" in text
    )
    assert "tie" not in text
    assert "The worst, z = 10.0 at 51.0%: its outputs stay silent on 0% of test images" in text


def test_discussion_calls_a_lead_within_seed_noise_a_tie():
    from labsnn.lab.discussion import discuss

    text = discuss(_diag_frame("beta", {0.1: [0.88, 0.92], 1.0: [0.90, 0.91], 5.0: [0.3, 0.2]}), "beta", "beta")
    assert "beta = 1.0 (90.5%) and beta = 0.1 (90.0%) are a tie within seed noise" in text
    assert "ends best" not in text


def test_discussion_reports_a_silent_network_and_the_seeds_claim():
    from labsnn.lab.discussion import discuss

    frame = _diag_frame("v_th", {1.0: [0.90, 0.91], 10.0: [0.098, 0.098]}, silent={10.0: 1.0})
    claims = pd.DataFrame([{"source report's claim": "V_th = 10 at 10%", "this run": "9.8%", "reproduced": "yes"}])
    text = discuss(frame, "v_th", "V_th", claims)
    assert "The worst, V_th = 10.0 at 9.8%: its outputs stay silent on 100% of test images" in text
    assert "The source report: V_th = 10 at 10%; here 9.8%, reproduced." in text
    one_seed = discuss(_diag_frame("v_th", {1.0: [0.9], 10.0: [0.1]}), "v_th", "V_th")
    assert "with one finished seed for one of them, whether that lead exceeds the spread" in one_seed
    diverged = _diag_frame("beta", {1.0: [0.90, 0.5, 0.5], 2.0: [0.85, 0.86, 0.87]})
    diverged.loc[(diverged["value"] == 1.0) & (diverged["seed"] > 0), ["status", "test_acc"]] = [
        "diverged",
        float("nan"),
    ]
    text = discuss(diverged, "beta", "beta")
    assert "cannot be judged" in text and "At beta = 1.0, 2 of 3 run(s) diverged" in text and "nan" not in text


def test_a_best_claim_within_seed_noise_of_the_best_is_a_tie():
    tied = _section_41(z={0.5: 0.85, 1.0: 0.86, 2.0: 0.87, 5.0: 0.88, 10.0: 0.89})
    tied.loc[(tied["sweep"] == "z") & (tied["seed"] == 1) & (tied["epoch"] == 2), "test_acc"] -= 0.02
    table = lab.reproduction_table(_frames(tied)).set_index("source report's claim")
    assert table.loc["z: best near z = 2", "reproduced"] == "tie"  # best z = 10; z = 2 within the spread
    apart = lab.reproduction_table(_frames(_section_41(z={2.0: 0.5, 5.0: 0.7, 10.0: 0.9}))).set_index(
        "source report's claim"
    )
    assert apart.loc["z: best near z = 2", "reproduced"] == "no"  # same value for both seeds: no spread
