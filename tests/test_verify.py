"""``labsnn verify``: a cache verified identical, an edited history and swapped weights caught, bad input in one
line before any training."""

import hashlib
import json
import shutil

import pytest

import labsnn.running.train as train_module
from labsnn.cli import main
from labsnn.lab.verify import verify
from labsnn.running.config import RunConfig
from labsnn.running.data import load_subset
from labsnn.running.results import RESULTS_VERSION, result_path, write_result
from labsnn.running.train import train_stack

RUNS = [
    RunConfig(T=8, epochs=2, n_train=400, n_test=200, batch_size=50, lr=5e-3),
    RunConfig(T=8, epochs=2, n_train=400, n_test=200, batch_size=50, lr=5e-3, beta=0.5),
    RunConfig(T=8, epochs=2, n_train=400, n_test=200, batch_size=50, optimizer="sgd", lr=0.5, momentum=0.9),
]


@pytest.fixture(scope="module")
def cache(tmp_path_factory):
    """A result cache of three runs, the first two trained stacked."""
    folder = tmp_path_factory.mktemp("cache")
    data = load_subset()
    for config, result in zip(
        RUNS, [*train_stack(RUNS[:2], data, progress=False), *train_stack(RUNS[2:], data, progress=False)]
    ):
        write_result(result_path(folder, config, data), result)
    return folder


def _copy(cache, tmp_path):
    return shutil.copytree(cache, tmp_path / "cache")


def _verify(*args):
    try:
        return main(["verify", *args])
    except SystemExit as stop:
        return stop.code


def test_a_cache_is_verified_identical(cache, capsys):
    stacked = verify(cache, all_runs=True, workers=1)
    assert [v.verdict for v in stacked] == ["identical"] * 3, stacked
    assert sorted(v.detail.split("(retrained ")[1] for v in stacked) == [
        "alone)",
        "in a stack of 2)",
        "in a stack of 2)",
    ]
    alone = verify(cache, all_runs=True, alone=True, workers=1)
    assert [v.verdict for v in alone] == ["identical"] * 3 and all(
        v.detail.endswith("(retrained alone)") for v in alone
    )
    assert _verify("--results", str(cache), "--runs", "2") == 0
    out = capsys.readouterr().out
    assert out.count("identical") == 2 and "chapter" in out


def test_a_history_edited_by_one_digit_is_caught(cache, tmp_path, capsys):
    folder = _copy(cache, tmp_path)
    path = result_path(folder, RUNS[2], load_subset())
    payload = json.loads(path.read_text())
    before = payload["epochs"][1]["train_loss"]
    text = repr(before)
    payload["epochs"][1]["train_loss"] = float(text[:-1] + str((int(text[-1]) + 1) % 10))
    path.write_text(json.dumps(payload))
    verdict = next(v for v in verify(folder, all_runs=True, workers=1) if v.name == path.name)
    assert verdict.verdict == "differs" and verdict.detail.startswith("train_loss at epoch 2: cached")
    assert _verify("--results", str(folder), "--all") == 1


def test_weights_swapped_between_two_runs_are_caught(cache, tmp_path):
    folder = _copy(cache, tmp_path)
    a, b = (result_path(folder, config, load_subset()).with_suffix(".pt") for config in RUNS[:2])
    a_bytes, b_bytes = a.read_bytes(), b.read_bytes()
    assert hashlib.sha256(a_bytes).digest() != hashlib.sha256(b_bytes).digest()
    a.write_bytes(b_bytes)
    b.write_bytes(a_bytes)
    verdicts = {v.name: v for v in verify(folder, all_runs=True, workers=1)}
    for path in (a, b):
        verdict = verdicts[path.with_suffix(".json").name]
        assert verdict.verdict == "differs" and "is not the one recorded" in verdict.detail


@pytest.mark.parametrize("case", ["missing", "empty", "old version", "runs 0", "runs 4"])
def test_bad_input_is_one_line_and_exit_2_before_any_training(case, cache, tmp_path, monkeypatch, capsys):
    monkeypatch.setattr(train_module, "train", lambda *args, **kwargs: pytest.fail("trained"))
    folder = tmp_path / "nowhere"
    args = []
    if case == "empty":
        folder.mkdir()
    elif case != "missing":
        folder = _copy(cache, tmp_path)
    if case == "old version":
        data = load_subset()
        path = result_path(folder, RUNS[0], data)
        old = hashlib.sha256(f"{data.fingerprint}-v{RESULTS_VERSION - 1}".encode()).hexdigest()[:8]
        path.rename(path.with_name(f"{RUNS[0].config_hash}-{old}.json"))
    if case.startswith("runs"):
        args = ["--runs", case.split()[1]]
    assert _verify("--results", str(folder), *args) == 2
    err = capsys.readouterr().err
    assert len(err.strip().splitlines()) == 1 and err.startswith("labsnn: error: "), err
    expected = {
        "missing": "does not exist",
        "empty": "holds no results",
        "old version": f"results version {RESULTS_VERSION - 1}",
        "runs 0": "--runs must be",
        "runs 4": "--runs must be between 1 and 3",
    }[case]
    assert expected in err


def test_the_choice_represents_every_chapter_and_depends_on_the_seed_only(tmp_path):
    from labsnn.lab.verify import choose

    chapters = {
        "4.1": [tmp_path / f"a{i}" for i in range(5)],
        "4.2": [tmp_path / "b"],
        "4.4": [tmp_path / "c0", tmp_path / "c1"],
    }
    three = choose(chapters, 3, seed=1)
    assert {path.name[0] for path in three} == {"a", "b", "c"}
    assert three == choose(chapters, 3, seed=1)
    assert len(choose(chapters, None, seed=1)) == 8
    assert any(choose(chapters, 3, seed=s) != three for s in range(2, 6))
