"""Section 4.4's calibrated screening, its winner rule, the two-phase plan and the
generated text, on made-up results (nothing trains here)."""

import pandas as pd
from test_setup_search import TIE, _runs

from labsnn import lab
from labsnn.lab import context as context_module
from labsnn.lab import setup_findings, setup_search
from labsnn.lab.context import LabContext
from labsnn.lab.setup_search import LABSNN_SETUP, screenings, setups

SEED_LIKE = "SGD 1 m0.9, scaled fast sigmoid, next step"  # a name of the declared grid
OTHER = "SGD 10, fast sigmoid, same step"
#: labsnn's six runs (and the default) as 4.1's full protocol ends them, then as a short screening does.
FULL = [0.9, 0.903, 0.121, 0.218, 0.658, 0.462, 0.815]
SHORT_AGREES = [0.88, 0.886, 0.098, 0.184, 0.452, 0.255, 0.749]
SHORT_DISAGREES = [0.87, 0.865, 0.103, 0.112, 0.297, 0.098, 0.707]  # V_th = 10 stuck at chance
FAILS_LIKE_THE_SEED = [0.86, 0.12, 0.19, 0.098, 0.6, 0.098, 0.05]  # 6 of 6, default learning


def _final(*setups_):
    return setup_search.final_runs(pd.DataFrame([row for rows in setups_ for row in rows]), TIE)


def test_the_calibration_sets_labsnns_verdicts_side_by_side_and_says_when_they_differ():
    reference = _final(_runs(LABSNN_SETUP, FULL))
    agrees = setup_search.screen(_final(_runs(LABSNN_SETUP, SHORT_AGREES)), reference, screenings("full")[0])
    assert agrees.agrees and agrees.calibration["reproduced (4.1 protocol)"].tolist() == [0, 0, 0, 1, 0, 0]
    apart = setup_search.screen(_final(_runs(LABSNN_SETUP, SHORT_DISAGREES)), reference, screenings("full")[0])
    assert not apart.agrees
    assert apart.calibration.loc[~apart.calibration["same verdict"], "source report's claim"].tolist() == [
        "V_th = 10 at 10%"
    ]
    text = setup_findings.calibration_markdown(apart)
    assert "The verdicts differ on V_th = 10 at 10%, so this screening ranks nothing." in text
    assert "| V_th = 10 at 10%  " in text and "9.8%" in text and "46.2%" in text


def _fake_cache(monkeypatch, frames):
    """``read_setups`` answers from ``frames``: budget name -> made-up rows (None: not cached)."""

    def read(context, budget=None, grid=None):
        rows = frames[budget["name"]]
        if rows is None:
            return None
        frame = pd.DataFrame(rows)
        return frame[frame["setup"].isin(grid)] if grid else frame

    monkeypatch.setattr(setup_search, "read_setups", read)


def test_a_screening_that_disagrees_ranks_nothing_and_the_setups_are_screened_on_4_1s_protocol(
    monkeypatch, subset, tmp_path
):
    short = _runs(LABSNN_SETUP, SHORT_DISAGREES) + _runs(SEED_LIKE, FAILS_LIKE_THE_SEED)
    protocol = _runs(LABSNN_SETUP, FULL) + _runs(OTHER, [0.85, 0.1, 0.19, 0.3, 0.6, 0.3, 0.5])
    _fake_cache(monkeypatch, {"screening": short, "4.1 protocol": protocol})
    decision = setup_search.decide(LabContext("full", subset, tmp_path))
    assert [s.budget["name"] for s in decision.tried] == ["screening", "4.1 protocol"]
    assert decision.ranking is decision.tried[1] and decision.winner == OTHER  # not SEED_LIKE's 6 of 6
    assert [b["name"] for b in decision.needed] == ["screening", "4.1 protocol"]
    study = setup_findings.Study(decision, {}, None, TIE)
    assert "another verdict than 4.1's full protocol on V_th = 10 at 10%, so it ranks nothing; then on" in (
        setup_findings._calibrated(decision)
    )
    assert study.winner == OTHER

    _fake_cache(monkeypatch, {"screening": _runs(LABSNN_SETUP, SHORT_AGREES) + short[7:], "4.1 protocol": protocol})
    decision = setup_search.decide(LabContext("full", subset, tmp_path))
    assert len(decision.tried) == 1 and decision.winner == SEED_LIKE and decision.fields == setups("full")[SEED_LIKE]


def test_nothing_is_decided_before_the_screening_is_cached(monkeypatch, subset, tmp_path):
    _fake_cache(monkeypatch, {"screening": None, "4.1 protocol": _runs(LABSNN_SETUP, FULL)})
    decision = setup_search.decide(LabContext("full", subset, tmp_path))
    assert decision.tried == [] and decision.winner is None and [b["name"] for b in decision.needed] == ["screening"]
    plans = lab.chapter_plans("full", decision=decision)
    assert "4.4 winner" not in plans and len(plans["4.4"]) == len(lab.chapter_plans("full")["4.4"])


def _scores(*rows):
    return pd.DataFrame(
        [{"setup": s, "default acc": acc, "default learns": acc >= 0.8, "claims reproduced": n} for s, acc, n in rows]
    )


def test_the_winner_rule_takes_the_most_claims_with_a_learning_default_then_its_accuracy_then_grid_order():
    tie = _scores((LABSNN_SETUP, 0.9, 1), (SEED_LIKE, 0.85, 4), (OTHER, 0.85, 4))
    assert setup_search.tied_best(tie) == [SEED_LIKE, OTHER] and setup_search.best_setup(tie) == SEED_LIKE  # grid order
    sharper = _scores((LABSNN_SETUP, 0.9, 1), (SEED_LIKE, 0.85, 4), (OTHER, 0.86, 4))
    assert setup_search.best_setup(sharper) == OTHER  # the more accurate default
    stuck = _scores((LABSNN_SETUP, 0.9, 1), (SEED_LIKE, 0.5, 6))
    assert setup_search.best_setup(stuck) == LABSNN_SETUP  # 6 of 6, but its default does not learn
    assert setup_search.best_setup(_scores((SEED_LIKE, 0.5, 6))) is None
    last = _final(_runs(LABSNN_SETUP, FULL), _runs(SEED_LIKE, [0.3, 0.12, 0.19, 0.098, 0.6, 0.098, 0.05]))
    assert setup_search.best_setup(setup_search.score(last)) == LABSNN_SETUP
    assert setup_search.best_setup(setup_search.score(last, learns=0.2)) == SEED_LIKE  # the smoke profile's threshold
    assert "0.8" not in setup_search.winner_rule("full") and "80%" in setup_search.winner_rule("full")


def _decided(winner):
    decision = setup_search.Decision("smoke")
    rival = FAILS_LIKE_THE_SEED if winner != LABSNN_SETUP else [0.3, *FAILS_LIKE_THE_SEED[1:]]  # a stuck default
    last = _final(_runs(LABSNN_SETUP, FULL), _runs(winner if winner != LABSNN_SETUP else OTHER, rival))
    decision.tried.append(setup_search.screen(last, _final(_runs(LABSNN_SETUP, FULL)), screenings("smoke")[0]))
    return decision


def test_the_winners_runs_of_4_1_to_4_3_are_planned_once_the_screening_decides(monkeypatch, subset, tmp_path):
    winner = "SGD 1, scaled fast sigmoid, next step"
    monkeypatch.setattr(setup_search, "decide", lambda *args, **kwargs: _decided(winner))
    plans = lab.chapter_plans("smoke", decision=_decided(winner))
    ours = [c for section in ("4.1", "4.2", "4.3") for c in plans[section]]
    assert [
        c.replace(optimizer="adam", lr=1e-3, surrogate="fast_sigmoid", spike_timing="same_step")
        for c in plans["4.4 winner"]
    ] == ours
    assert {(c.optimizer, c.lr, c.surrogate, c.spike_timing) for c in plans["4.4 winner"]} == {
        ("sgd", 1.0, "scaled_fast_sigmoid", "next_step")
    }
    calls = []
    monkeypatch.setattr(context_module, "run_configs", lambda configs, *args: calls.append(list(configs)))
    decision = lab.prepare(LabContext("smoke", subset, tmp_path))
    assert [len(c) for c in calls] == [len(lab.plan("smoke")), len(lab.plan("smoke")) + len(plans["4.4 winner"])]
    assert decision.winner == winner

    monkeypatch.setattr(setup_search, "decide", lambda *args, **kwargs: _decided(LABSNN_SETUP))
    assert lab.chapter_plans("smoke", decision=_decided(LABSNN_SETUP))["4.4 winner"] == []  # 4.1's own runs
    calls.clear()
    lab.prepare(LabContext("smoke", subset, tmp_path))
    assert len(calls) == 1


def _sweeps(accuracies, silent=()):
    """A made-up 4.1 frame, two epochs: ``accuracies`` maps (sweep, value) to the final accuracy."""
    rows = []
    for (sweep, value), acc in accuracies.items():
        for epoch in (1, 2):
            quiet = (sweep, value) in silent
            rows.append(
                {
                    "sweep": sweep,
                    "value": value,
                    "seed": 0,
                    "epoch": epoch,
                    "status": "ok",
                    "diverged_epoch": None,
                    "test_acc": acc,
                    "v_th": value if sweep == "v_th" else 1.0,
                    "silent_frac_test": 1.0 if quiet else 0.02,
                    "top_class_share_test": 1.0 if quiet else 0.12,
                    "max_abs_membrane_test": 0.5 if quiet else 3.0,
                    "max_abs_weight_l0": 0.1 if quiet else 0.1 * epoch,
                    "max_abs_weight_l1": 0.3 if quiet else 0.3 * epoch,
                }
            )
    return pd.DataFrame(rows)


def test_the_summary_and_the_explanations_are_read_from_the_results():
    winner = SEED_LIKE
    runs = {("z", 2.0): 0.9, ("z", 10.0): 0.9, ("v_th", 1.0): 0.9, ("v_th", 10.0): 0.45}
    ours = _sweeps(runs)
    theirs = _sweeps({**runs, ("z", 10.0): 0.85, ("v_th", 10.0): 0.3}, silent=[("v_th", 10.0)])
    study = setup_findings.Study(_decided(winner), {"4.1": ours}, {"4.1": theirs}, TIE)
    lines = setup_findings.explanations(study)
    z10 = next(line for line in lines if line.startswith("- **z = 10 below 20%**"))
    assert "labsnn 90.0% (no), source-like 85.0% (no)." in z10
    assert "labsnn, z = 10.0: learns (90.0%, outputs silent on 2% of test images" in z10
    vth = next(line for line in lines if line.startswith("- **V_th = 10 at 10%**"))
    assert f"{winner}, v_th = 10.0: silent (30.0%, outputs silent on 100% of test images" in vth
    assert "largest |weight| moved 0.0% after epoch 1" in vth
    assert lines[-1].startswith("- Not measured in this profile (its grids lack the runs): beta: best near 0.1; beta")
    text = setup_findings.summary(study)
    assert f"**{winner}** reproduces the most of the source report's six failure claims" in text
    assert "6 of 6, against 1 for labsnn's own setup" in text
    assert (
        "The source report most likely trained with SGD 1 m0.9 (labsnn: Adam 1e-3), the scaled fast sigmoid surrogate "
        "(labsnn: fast sigmoid) and next step spikes (labsnn: same step)." in text
    )
    assert (
        "No declared setup explains 2 claim(s), reproduced by neither column: z = 10 below 20%; V_th = 10 at 10%."
        in text
    )
    assert "it reproduces 3 of 17 claims (0 more a tie within seed noise)" in text
