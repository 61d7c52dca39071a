"""Fault injection: unusable folders and options, interrupted and racing sweeps, a full
disk. Each bad invocation exits 2 with one line, trains nothing and creates nothing;
no fault loses or corrupts a result."""

import json
import os
import signal
import stat
import subprocess
import sys

import pandas as pd
import pytest

from conftest import REPO
from labsnn.cli import main
from labsnn.running.config import RunConfig
from labsnn.running.sweep import sweep

TINY = RunConfig(T=4, epochs=1, n_train=200, n_test=100, batch_size=50)

COMMON = ["--T", "4", "--epochs", "1", "--n_train", "200", "--n_test", "100", "--no-progress"]
SWEEP = [*COMMON, "--workers", "1"]  # in this process: the fixtures watch train_stack here


@pytest.fixture
def trained(count_trained, monkeypatch, subset):
    """Configs trained in this process; the command line reads the packaged subset."""
    monkeypatch.setattr("labsnn.running.data.load_mnist", lambda root: subset)
    return count_trained


def _one_line_exit_2(capsys, *args):
    try:
        code = main(list(args))
    except SystemExit as stop:
        code = stop.code
    err = capsys.readouterr().err
    assert code == 2, err
    assert len(err.strip().splitlines()) == 1 and "Traceback" not in err, err
    return err


def _tree(path):
    return sorted(str(p.relative_to(path)) for p in path.rglob("*"))


@pytest.mark.parametrize("where", ["file", "file/sub"])
def test_sweep_into_a_file_exits_2_before_training(tmp_path, capsys, trained, where):
    (tmp_path / "file").write_text("not a folder")
    before = _tree(tmp_path)
    err = _one_line_exit_2(capsys, "sweep", "beta", "0.1", "0.5", "--results", str(tmp_path / where), *COMMON)
    assert "results folder" in err and "is not a folder" in err
    assert trained == [] and _tree(tmp_path) == before


@pytest.mark.skipif(os.geteuid() == 0, reason="root writes into read-only folders: the file cases cover root")
def test_sweep_into_a_read_only_folder_exits_2_before_training(tmp_path, capsys, trained):
    locked = tmp_path / "locked"
    locked.mkdir()
    locked.chmod(stat.S_IRUSR | stat.S_IXUSR)
    try:
        err = _one_line_exit_2(capsys, "sweep", "beta", "0.1", "--results", str(locked / "results"), *COMMON)
    finally:
        locked.chmod(stat.S_IRWXU)
    assert "cannot be written" in err and trained == [] and _tree(locked) == []


@pytest.mark.parametrize(
    "option, message",
    [
        (["--out", "{file}"], "output folder"),
        (["--results", "{file}/sub"], "results folder"),
        (["--out", "{file}/reports"], "output folder"),
    ],
)
def test_report_into_a_file_exits_2_before_anything(tmp_path, capsys, trained, option, message):
    (tmp_path / "file").write_text("not a folder")
    before = _tree(tmp_path)
    args = [a.format(file=tmp_path / "file") for a in option]
    defaults = ["--out", str(tmp_path / "out"), "--results", str(tmp_path / "res")]
    err = _one_line_exit_2(capsys, "report", "--profile", "smoke", *defaults, *args)
    assert message in err and trained == [] and _tree(tmp_path) == before


def test_report_with_a_missing_data_root_creates_nothing(tmp_path, capsys):
    err = _one_line_exit_2(
        capsys,
        "report",
        "--data-root",
        str(tmp_path / "nowhere"),
        "--out",
        str(tmp_path / "out"),
        "--results",
        str(tmp_path / "res"),
    )
    assert "MNIST not found" in err and _tree(tmp_path) == []


def test_smoke_report_rejects_a_data_root_it_would_ignore(tmp_path, capsys):
    err = _one_line_exit_2(
        capsys, "report", "--profile", "smoke", "--data-root", str(tmp_path), "--out", str(tmp_path / "out")
    )
    assert "smoke profile" in err and "would be ignored" in err and _tree(tmp_path) == []


def test_a_grid_for_a_section_that_sweeps_none_is_rejected(subset, tmp_path):
    from labsnn import lab

    with pytest.raises(ValueError, match="section 4.2 does not sweep the 4.1 grid"):
        lab.run_section(lab.LabContext("smoke", subset, tmp_path), "4.2", grid={"z": [1.0]})


@pytest.mark.parametrize(
    "grid, problem",
    [
        ({"z": [2, 10]}, "it lacks beta, v_th, T"),
        ({"z": [2], "beta": [0.1], "v_th": [1.0], "T": [5], "lr": [0.1]}, "unknown sweep"),
        ({"z": [], "beta": [0.1], "v_th": [1.0], "T": [5]}, "no values for z"),
    ],
)
def test_a_partial_grid_is_refused_in_one_line_before_any_training(tmp_path, grid, problem):
    from labsnn import lab

    with pytest.raises(ValueError, match=f"grid must give values for each of 4.1's sweeps.*{problem}") as caught:
        lab.run_section(
            lab.LabContext("smoke", None, tmp_path), "4.1", grid=grid
        )  # no data: it stops before loading any
    assert "\n" not in str(caught.value) and list(tmp_path.iterdir()) == []


def test_a_grid_from_the_profiles_with_one_sweep_changed_is_accepted():
    from labsnn import lab

    grid = {**lab.profile("smoke")["grid"], "z": [2, 10]}
    assert lab.check_grid("smoke", grid) == grid
    assert lab.section_grids("smoke", grid)["4.1"]["z"] == [2, 10]


def test_notebook_folders_default_to_the_repository_and_are_checked(tmp_path):
    from labsnn import lab

    assert lab.results_folder("smoke") == REPO / "results" / "smoke"
    assert lab.figures_folder("smoke") == REPO / "results" / "smoke" / "figures"
    assert lab.results_folder("full") == REPO / "results"
    (tmp_path / "file").write_text("x")
    with pytest.raises(ValueError, match="figures_dir .* is not a folder"):
        lab.figures_folder("smoke", str(tmp_path), str(tmp_path / "file" / "figs"))
    with pytest.raises(ValueError, match="results_dir .* is not a folder"):
        lab.LabContext.open("smoke", results_dir=str(tmp_path / "file" / "results"))
    assert _tree(tmp_path) == ["file"]


def test_sizes_from_the_command_line(capsys, trained, monkeypatch):
    import labsnn.running.train as train_module

    results = []
    original = train_module.train_stack
    monkeypatch.setattr(train_module, "train_stack", lambda *a, **k: results.extend(original(*a, **k)) or results)
    assert main(["train", "--sizes", "784-20-10", *COMMON]) == 0
    assert results[0].config.sizes == (784, 20, 10) and results[0].rows()[0]["sizes"] == "784-20-10"
    assert "sizes 784-20-10" in capsys.readouterr().out
    for bad, message in (
        ("784-0-10", "sizes must be two or more positive integers"),
        ("784", "sizes must be"),
        ("a-b", "joined by '-', e.g. 784-20-10"),
    ):
        assert message in _one_line_exit_2(capsys, "train", "--sizes", bad, *COMMON)


def test_sweep_over_sizes(tmp_path, capsys, trained):
    assert main(["sweep", "sizes", "784-10-10", "784-20-10", "--results", str(tmp_path), *SWEEP]) == 0
    assert sorted(c.sizes for c in trained) == [(784, 10, 10), (784, 20, 10)]
    rows = [json.loads(p.read_text())["config"]["sizes"] for p in tmp_path.glob("*.json")]
    assert sorted(rows) == [[784, 10, 10], [784, 20, 10]]


def test_results_follow_the_umask_and_leftover_temporaries_are_removed(tmp_path, subset, monkeypatch):
    stale = tmp_path / ".0123456789abcdef-01234567.abcd.tmp"
    stale.write_text('{"half": ')
    monkeypatch.setattr("labsnn.running.atomic._UMASK", 0o027)  # the process's umask, read at import
    sweep(TINY, "beta", [0.1], results_dir=tmp_path, data=subset, progress=False)
    (result,) = tmp_path.glob("*.json")
    assert stat.S_IMODE(result.stat().st_mode) == 0o640  # readable by the group, not 0600
    assert stat.S_IMODE(result.with_suffix(".pt").stat().st_mode) == 0o640
    assert not list(tmp_path.glob(".*.tmp"))


KILLED_MID_WRITE = """
import json, time
import labsnn.running.results as results
from labsnn.running.config import RunConfig
from labsnn.running.data import load_subset
from labsnn.running.sweep import sweep

def half_then_hang(result, stream):
    stream.write(json.dumps(result)[:100])
    stream.flush()
    print("writing", flush=True)
    time.sleep(600)

results.json.dump = half_then_hang
sweep(RunConfig(**{config}), "beta", [0.1, 0.5], results_dir={folder!r}, data=load_subset(), progress=False)
"""


def test_a_sweep_killed_while_writing_leaves_no_corrupt_result(tmp_path, subset, trained):
    script = KILLED_MID_WRITE.format(config=repr(TINY.to_dict()), folder=str(tmp_path))
    process = subprocess.Popen([sys.executable, "-c", script], cwd=REPO, stdout=subprocess.PIPE, text=True)
    assert process.stdout.readline() == "writing\n"
    process.send_signal(signal.SIGKILL)
    process.wait()
    assert list(tmp_path.glob(".*.tmp")) and not list(tmp_path.glob("*.json"))  # only the torn temporary
    frame = sweep(TINY, "beta", [0.1, 0.5], results_dir=tmp_path, data=subset, progress=False)
    assert len(trained) == 2 and len(frame) == 2
    assert not list(tmp_path.glob(".*.tmp"))
    for path in tmp_path.glob("*.json"):
        json.loads(path.read_text())


RACER = """
import sys
import labsnn.running.sweep as sweep_module
import labsnn.running.train as train_module
from labsnn.running.config import RunConfig
from labsnn.running.data import load_subset

original = sweep_module.train_stack
def counting(configs, data, progress):
    with open({log!r}, "a") as log:
        log.write("".join(c.config_hash + "\\n" for c in configs))
    return original(configs, data, progress)
sweep_module.train_stack = train_module.train_stack = counting
frame = sweep_module.sweep(RunConfig(**{config}), "beta", [0.1, 0.5, 1.0], seeds=2, results_dir={folder!r},
                           data=load_subset(), progress=False)
frame.drop(columns=["epoch_time_s", "stacked_runs"]).to_json(sys.argv[1])
"""


def test_two_sweeps_racing_on_one_folder_train_each_run_once(tmp_path):
    log, folder = tmp_path / "trained.log", tmp_path / "results"
    script = RACER.format(log=str(log), config=repr(TINY.to_dict()), folder=str(folder))
    racers = [
        subprocess.Popen([sys.executable, "-c", script, str(tmp_path / f"table{i}.json")], cwd=REPO) for i in range(2)
    ]
    assert [racer.wait(timeout=300) for racer in racers] == [0, 0]
    hashes = log.read_text().split()
    assert len(hashes) == len(set(hashes)) == 6  # 3 values x 2 seeds, each trained exactly once
    tables = [pd.read_json(tmp_path / f"table{i}.json") for i in range(2)]
    pd.testing.assert_frame_equal(tables[0], tables[1])
    assert len(list(folder.glob("*.json"))) == 6


@pytest.fixture
def tiny_disk(tmp_path):
    disk = tmp_path / "disk"
    disk.mkdir()
    if (
        os.geteuid() != 0
        or subprocess.run(
            ["mount", "-t", "tmpfs", "-o", "size=12k", "tmpfs", str(disk)], capture_output=True
        ).returncode
        != 0
    ):
        pytest.skip("cannot mount a tiny tmpfs here (needs root and mount permission)")
    yield disk
    subprocess.run(["umount", str(disk)], check=True)


def test_a_full_disk_is_one_line_and_keeps_every_whole_result(tiny_disk, capsys, trained):
    err = _one_line_exit_2(
        capsys, "sweep", "beta", "0.1", "0.5", "1.0", "2.0", "--seeds", "2", "--results", str(tiny_disk), *SWEEP
    )
    assert "No space left on device" in err
    assert not list(tiny_disk.glob(".*.tmp"))
    for path in tiny_disk.glob("*.json"):
        json.loads(path.read_text())
