"""Sweeps on a Dask cluster (``labsnn.running.executor``): a LocalCluster of 2 worker processes
gives the in-process numbers bit for bit, survives a worker killed mid-task, and resumes
an interrupted sweep with only the missing runs."""

import json
import os
import signal
import subprocess
import sys
import threading
import time

import pandas as pd
import pytest

import labsnn.running.executor as executor
from conftest import REPO
from labsnn.cli import main
from labsnn.running.config import RunConfig
from labsnn.running.sweep import sweep

pytest.importorskip("dask.distributed")

TINY = RunConfig(T=4, epochs=1, n_train=200, n_test=100, batch_size=50)


def _stable(frame):
    return frame.drop(columns=["epoch_time_s", "stacked_runs"]).reset_index(drop=True)


@pytest.fixture
def submitted(monkeypatch):
    """The stacks submitted to Dask by this process."""
    groups = []
    original = executor.train_on_dask

    def recording(todo, *args, **kwargs):
        groups.extend(todo)
        return original(todo, *args, **kwargs)

    monkeypatch.setattr(executor, "train_on_dask", recording)
    return groups


@pytest.mark.slow
def test_a_dask_sweep_gives_the_in_process_table_bit_for_bit(tmp_path, subset, submitted):
    config = TINY.replace(T=25, n_train=512, batch_size=128)
    local = sweep(config, "beta", [0.1, 0.5, 2.0], 2, tmp_path / "local", subset, False)
    remote = sweep(config, "beta", [0.1, 0.5, 2.0], 2, tmp_path / "dask", subset, False, scheduler="local:2")
    pd.testing.assert_frame_equal(_stable(local), _stable(remote))
    assert len(submitted) == 2 and sum(len(group) for group in submitted) == 6  # one task per stack (seed)
    assert len(list((tmp_path / "dask").glob("*.json"))) == 6


@pytest.mark.slow
def test_a_worker_killed_mid_task_still_completes_the_cache(tmp_path, subset):
    config = TINY.replace(T=25, n_train=2000, epochs=2)
    folder = tmp_path / "dask"
    killed = []

    def kill_a_busy_worker(client_box):
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline and not killed:
            client = client_box.get("client")
            if client is not None:
                busy = [worker for worker, tasks in client.processing().items() if tasks]
                if busy:
                    pid = client.run(os.getpid, workers=[busy[0]])[busy[0]]
                    os.kill(pid, signal.SIGKILL)
                    killed.append(pid)
            time.sleep(0.05)

    box = {}
    original = executor.connect

    def keeping_the_client(scheduler):
        manager = original(scheduler)

        class Wrapped:
            def __enter__(self):
                box["client"] = manager.__enter__()
                return box["client"]

            def __exit__(self, *exc):
                return manager.__exit__(*exc)

        return Wrapped()

    executor.connect = keeping_the_client
    killer = threading.Thread(target=kill_a_busy_worker, args=(box,), daemon=True)
    killer.start()
    try:
        remote = sweep(config, "beta", [0.1, 0.5], 2, folder, subset, False, scheduler="local:2")
    finally:
        executor.connect = original
    killer.join(timeout=5)
    assert killed, "no worker was busy long enough to be killed"
    assert len(list(folder.glob("*.json"))) == 4 and not list(folder.glob(".*.tmp"))
    for path in folder.glob("*.json"):
        json.loads(path.read_text())
    local = sweep(config, "beta", [0.1, 0.5], 2, tmp_path / "local", subset, False)
    pd.testing.assert_frame_equal(_stable(local), _stable(remote))


INTERRUPTED = """
import time
import labsnn.running.sweep as sweep_module
from labsnn.running.config import RunConfig
from labsnn.running.data import load_subset

write = sweep_module.write_result
def write_then_hang(path, result):
    write(path, result)
    print("wrote", flush=True)
    time.sleep(600)
sweep_module.write_result = write_then_hang
sweep_module.sweep(RunConfig(**{config}), "beta", [0.1, 0.5], seeds=3, results_dir={folder!r}, data=load_subset(),
                   progress=False, scheduler="local:2")
"""


@pytest.mark.slow
def test_an_interrupted_dask_sweep_resumes_with_only_the_missing_runs(tmp_path, subset, submitted):
    folder = tmp_path / "dask"
    script = INTERRUPTED.format(config=repr(TINY.to_dict()), folder=str(folder))
    process = subprocess.Popen(
        [sys.executable, "-c", script], cwd=REPO, stdout=subprocess.PIPE, text=True, start_new_session=True
    )
    assert process.stdout.readline() == "wrote\n"
    os.killpg(process.pid, signal.SIGKILL)  # the submitter and its local cluster
    process.wait()
    done = len(list(folder.glob("*.json")))
    assert done == 1
    resumed = sweep(TINY, "beta", [0.1, 0.5], 3, folder, subset, False, scheduler="local:2")
    assert sum(len(group) for group in submitted) == 6 - done
    clean = sweep(TINY, "beta", [0.1, 0.5], 3, tmp_path / "clean", subset, False)
    pd.testing.assert_frame_equal(_stable(resumed), _stable(clean))


def test_a_task_that_raises_fails_the_sweep_in_one_line_and_keeps_finished_runs(tmp_path, subset, monkeypatch, capsys):
    monkeypatch.setattr("labsnn.running.data.load_mnist", lambda root: subset)
    bad = ["--T", "4", "--epochs", "1", "--n_train", "200", "--n_test", "100", "--no-progress", "--device", "cuda"]
    try:
        code = main(["sweep", "beta", "0.1", "--results", str(tmp_path), "--scheduler", "local:1", *bad])
    except SystemExit as stop:
        code = stop.code
    err = capsys.readouterr().err
    assert code == 2 and len(err.strip().splitlines()) == 1, err
    assert "training failed for 1 run(s) from the stack of (T=4" in err and "device=cuda" in err
    assert "CUDA is not available" in err and list(tmp_path.glob("*.json")) == []


def test_without_dask_the_scheduler_option_names_the_extra(monkeypatch, capsys, tmp_path):
    monkeypatch.setitem(sys.modules, "dask", None)
    monkeypatch.setitem(sys.modules, "dask.distributed", None)
    try:
        code = main(["sweep", "beta", "0.1", "--results", str(tmp_path), "--scheduler", "local:2", "--no-progress"])
    except SystemExit as stop:
        code = stop.code
    err = capsys.readouterr().err
    assert (
        code == 2
        and err
        == "labsnn: error: --scheduler needs Dask, a dependency of labsnn missing here: pip install 'dask[distributed]'\n"
    )
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize("bad", ["local:", "local:0", "local:00", "local:two"])
def test_a_malformed_local_scheduler_is_one_line(bad, capsys, tmp_path):
    try:
        code = main(["sweep", "beta", "0.1", "--results", str(tmp_path), "--scheduler", bad, "--no-progress"])
    except SystemExit as stop:
        code = stop.code
    assert code == 2 and "scheduler must be local:N" in capsys.readouterr().err


@pytest.fixture
def cluster():
    """A LocalCluster of 2 single-threaded worker processes, as ``local:2`` makes one."""
    import dask
    from dask.distributed import LocalCluster

    environ = {**dask.config.get("distributed.nanny.pre-spawn-environ"), "OMP_WAIT_POLICY": "PASSIVE"}
    with dask.config.set({"distributed.nanny.pre-spawn-environ": environ}):
        with LocalCluster(n_workers=2, threads_per_worker=1, processes=True, dashboard_address=":0") as local:
            yield local


@pytest.mark.slow
def test_a_client_and_a_scheduler_file_give_the_in_process_table_bit_for_bit(tmp_path, subset, cluster, submitted):
    from dask.distributed import Client

    config = TINY.replace(T=25, n_train=512, batch_size=128)
    local = sweep(config, "beta", [0.1, 0.5], 2, tmp_path / "local", subset, False)
    with Client(cluster) as client:
        through_client = sweep(config, "beta", [0.1, 0.5], 2, tmp_path / "client", subset, False, scheduler=client)
        assert client.status == "running"  # a client passed in is the caller's: left open
    scheduler_file = tmp_path / "scheduler.json"
    scheduler_file.write_text(json.dumps({"address": cluster.scheduler_address}))
    resolved = executor.resolve_scheduler(scheduler_file=scheduler_file)
    through_file = sweep(config, "beta", [0.1, 0.5], 2, tmp_path / "file", subset, False, scheduler=resolved)
    pd.testing.assert_frame_equal(_stable(local), _stable(through_client))
    pd.testing.assert_frame_equal(_stable(local), _stable(through_file))
    assert len(submitted) == 4  # two stacks (seeds) through each door


def test_the_scheduler_is_found_by_dasks_own_conventions(tmp_path, monkeypatch):
    import dask

    monkeypatch.delenv("LABSNN_SCHEDULER", raising=False)
    monkeypatch.delenv("DASK_SCHEDULER_ADDRESS", raising=False)
    assert executor.resolve_scheduler() is None
    with dask.config.set({"scheduler-address": "tcp://10.0.0.1:8786"}):
        assert executor.resolve_scheduler() == "tcp://10.0.0.1:8786"
    monkeypatch.setenv("DASK_SCHEDULER_ADDRESS", "tcp://10.0.0.2:8786")
    assert executor.resolve_scheduler() == "tcp://10.0.0.2:8786"
    monkeypatch.setenv("LABSNN_SCHEDULER", "local:2")  # labsnn's alias comes before Dask's default
    assert executor.resolve_scheduler() == "local:2"
    assert executor.resolve_scheduler("tcp://10.0.0.3:8786") == "tcp://10.0.0.3:8786"
    with pytest.raises(ValueError, match="does not exist"):
        executor.resolve_scheduler(scheduler_file=tmp_path / "missing.json")
    with pytest.raises(ValueError, match="not both"):
        executor.resolve_scheduler("local:2", scheduler_file=tmp_path / "missing.json")


def test_scheduler_and_scheduler_file_options_are_one_line_errors(capsys, tmp_path):
    for args in (
        ["--scheduler-file", str(tmp_path / "missing.json")],
        ["--scheduler", "local:2", "--scheduler-file", str(tmp_path / "x.json")],
    ):
        try:
            code = main(["sweep", "beta", "0.1", "--results", str(tmp_path / "r"), *args, "--no-progress"])
        except SystemExit as stop:
            code = stop.code
        err = capsys.readouterr().err
        assert code == 2 and len(err.strip().splitlines()) == 1, err
    assert not (tmp_path / "r").exists()


def test_the_docs_slurm_recipe_runs_up_to_the_submission():
    pytest.importorskip("dask_jobqueue")
    text = (REPO / "docs" / "cluster.md").read_text()
    recipe = text.split("## On SLURM", 1)[1].split("```python\n", 1)[1].split("```", 1)[0]
    before_submission = recipe.split("cluster.scale(", 1)[0]
    namespace = {}
    exec(before_submission, namespace)  # imports labsnn.lab.report and builds the cluster; submits nothing
    try:
        assert "OMP_WAIT_POLICY=PASSIVE" in namespace["cluster"].job_script()
        assert "scheduler=client" in recipe and "build_report" in recipe
    finally:
        namespace["cluster"].close()
