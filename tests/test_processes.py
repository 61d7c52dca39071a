"""Stacks side by side in worker processes here (``labsnn.running.executor``, a Dask LocalCluster): the same numbers
as in-process training, which stacks go to workers, and failures in one line with the finished runs kept."""

import os

import pytest
import torch

from labsnn.cli import main
from labsnn.engine import kernels
from labsnn.running.config import RunConfig
from labsnn.running.executor import split, train_on_dask
from labsnn.running.sweep import run_configs

TINY = RunConfig(T=6, epochs=1, n_train=256, n_test=128, batch_size=32, lr=1e-2, device="cpu")
compiled = pytest.mark.skipif(kernels.load() is None, reason="no C compiler: every stack trains in-process")


def _numbers(results) -> list:
    return [([{k: v for k, v in e.items() if k != "epoch_time_s"} for e in r.epochs], r.state) for r in results]


@compiled
def test_stacks_side_by_side_give_the_in_process_results_bit_for_bit(tmp_path, subset):
    configs = [TINY, TINY.replace(beta=0.5), TINY.replace(encoder="repeat"), TINY.replace(encoder="threshold", T=4)]
    alone = run_configs(configs, tmp_path / "alone", subset, progress=False, workers=1)
    side = run_configs(configs, tmp_path / "side", subset, progress=False, workers=2)
    for (rows_a, state_a), (rows_s, state_s) in zip(_numbers(alone), _numbers(side)):
        assert rows_a == rows_s
        assert all(torch.equal(state_a[name], state_s[name]) for name in state_a)
    assert {r.environment["threads"] for r in side} == {"1"}
    assert sorted(p.name for p in (tmp_path / "side").glob("*.json")) == sorted(
        p.name for p in (tmp_path / "alone").glob("*.json")
    )


@compiled
def test_only_stacks_whose_numbers_ignore_the_thread_count_go_to_workers():
    big, small, torch_loops = TINY.replace(epochs=3), TINY.replace(T=2), TINY.replace(backend="torch", T=3)
    processes, side, here = split([[small], [big, big.replace(beta=0.3)], [torch_loops]], 2)
    assert processes == 2 and side == [[big, big.replace(beta=0.3)], [small]]  # the largest first
    assert here == [[torch_loops]]
    assert split([[small], [big]], 1) == (1, [], [[small], [big]])
    assert split([[small], [torch_loops]], 4) == (1, [], [[small], [torch_loops]])  # one stack alone: in-process
    assert split([[small], [big], [TINY]], 8)[0] == 3  # no more processes than stacks


@compiled
def test_a_failing_stack_fails_in_one_line_and_the_others_are_kept(subset):
    good, bad = TINY, TINY.replace(T=3)
    object.__setattr__(bad, "sizes", (100, 10, 10))  # past the config's checks: training it raises in the worker
    kept = []
    with pytest.raises(RuntimeError, match=r"^training failed for 1 run\(s\) from the stack of \(T=3.*sizes=") as info:
        train_on_dask([[bad], [good]], subset, "local:2", lambda config, result: kept.append(config), False, threads=1)
    assert "\n" not in str(info.value)
    assert kept == [good]


@compiled
def test_after_a_failure_the_running_stacks_finish_and_no_other_starts(subset):
    bad, kept = TINY.replace(T=3), []
    object.__setattr__(bad, "sizes", (100, 10, 10))  # fails in its first batch
    # seconds of training, against the bad stack's fraction of one: a worker's start-up (imports, mapping the data)
    # varies by more than a small stack takes, and one that finished first would rightly free its slot
    slow = [TINY.replace(n_train=4000, T=100, epochs=12, seed=seed) for seed in range(3)]
    environ = dict(os.environ)
    with pytest.raises(RuntimeError, match=r"^training failed for 1 run\(s\) from the stack of \(T=3"):
        train_on_dask([[bad], *[[c] for c in slow]], subset, "local:2", lambda c, r: kept.append(c), False, threads=1)
    assert kept[:1] == slow[:1] and slow[2] not in kept  # two workers: the bad stack and the first slow one ran
    assert dict(os.environ) == environ  # the workers' environment stays theirs


@pytest.mark.parametrize("workers", ["0", "two", "-1"])
def test_bad_workers_exit_2_with_one_line_before_any_work(workers, tmp_path, capsys):
    try:
        code = main(["sweep", "beta", "0.1", "--results", str(tmp_path), "--workers", workers, "--no-progress"])
    except SystemExit as stop:
        code = stop.code
    err = capsys.readouterr().err
    assert code == 2 and err == f"labsnn: error: workers must be an integer >= 1 or 'auto', got {workers!r}\n"
    assert list(tmp_path.iterdir()) == []


def test_run_configs_checks_workers_before_any_work(tmp_path, subset):
    with pytest.raises(ValueError, match="workers must be an integer >= 1 or 'auto', got 0"):
        run_configs([TINY], tmp_path / "cache", subset, progress=False, workers=0)
    assert not (tmp_path / "cache").exists()


class _DiesWhenLoaded:
    """Stands in for the data: a worker that loads it exits at once, as one killed would."""

    def __reduce__(self):
        return os._exit, (3,)


@compiled
def test_a_worker_that_dies_stops_the_run_in_one_line():
    kept = []
    with pytest.raises(RuntimeError, match=r"^a worker process died while training 1 run\(s\) from the stack") as info:
        train_on_dask([[TINY], [TINY.replace(T=3)]], _DiesWhenLoaded(), "local:2", lambda c, r: kept.append(c), False)
    assert "\n" not in str(info.value) and kept == []


@compiled
def test_a_script_without_a_main_guard_fails_in_one_line_instead_of_hanging(tmp_path):
    script = tmp_path / "no_guard.py"
    script.write_text(
        "from labsnn.running.config import RunConfig\n"
        "from labsnn.running.data import load_subset\n"
        "from labsnn.running.sweep import run_configs\n"
        f"base = RunConfig(T=2, epochs=1, n_train=64, n_test=32, batch_size=32, device='cpu')\n"
        f"run_configs([base, base.replace(encoder='repeat')], {str(tmp_path / 'results')!r}, load_subset(),"
        " progress=False, workers=2)\n"
    )
    import subprocess
    import sys

    done = subprocess.run([sys.executable, str(script)], capture_output=True, text=True, timeout=300)
    assert done.returncode != 0
    told = [line for line in done.stderr.splitlines() if "if __name__ ==" in line]
    assert (
        told
        and told[0].startswith("labsnn: training side by side")
        and "Traceback" not in done.stderr.split(told[0])[0]
    )
