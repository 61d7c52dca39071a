"""One explicit backend per run: ``compiled`` fails in one line where the kernels cannot
be built, ``torch`` trains without them, and each result records the backend that made it."""

import os
import subprocess
import sys

import pytest
import torch

from conftest import REPO
from labsnn.engine import backend, kernels
from labsnn.model import SNN
from labsnn.running.config import RunConfig
from labsnn.running.train import train_stack

TINY = RunConfig(T=4, epochs=1, n_train=200, n_test=100, batch_size=50, device="cpu")


def test_the_torch_backend_trains_without_the_kernels_and_says_so(subset):
    (torch_run,) = train_stack([TINY.replace(backend="torch")], subset, progress=False)
    assert torch_run.environment["backend"] == "torch"
    assert "compiled_kernels" not in torch_run.epochs[0]  # the result's backend says it (results version 8)
    # every compiled path asks runs_compiled with the backend its model was given
    assert not kernels.runs_compiled(torch.device("cpu"), backend="torch")
    assert SNN(backend="torch").stack.params().backend == "torch"
    if kernels.load() is None:
        pytest.skip("no compiled kernels on this machine: auto is torch too")
    (auto_run,) = train_stack([TINY], subset, progress=False)
    assert auto_run.environment["backend"] == "compiled"
    assert abs(auto_run.epochs[0]["test_acc"] - torch_run.epochs[0]["test_acc"]) <= 0.02  # float rounding only


def test_the_backend_does_not_key_the_cache():
    assert TINY.replace(backend="torch").config_hash == TINY.config_hash == TINY.replace(backend="compiled").config_hash


def test_an_unknown_backend_or_compiled_on_cuda_is_an_error():
    with pytest.raises(ValueError, match="backend must be one of auto, compiled, torch"):
        RunConfig(backend="fast")
    with pytest.raises(ValueError, match="CPU only"):
        backend.resolve("compiled", "cuda")
    assert backend.resolve("auto", "cuda") == "torch"


def test_compiled_without_a_compiler_is_one_line_and_exit_2(tmp_path):
    env = {**os.environ, "CC": str(tmp_path / "no-compiler"), "LABSNN_KERNEL_CACHE": str(tmp_path / "cache")}
    env["PATH"] = os.path.dirname(sys.executable)  # no cc or gcc
    args = ["train", "--backend", "compiled", "--T", "2", "--epochs", "1", "--n-train", "100", "--n-test", "50"]
    done = subprocess.run(
        [sys.executable, "-m", "labsnn", *args], cwd=REPO, env=env, capture_output=True, text=True, timeout=120
    )
    assert done.returncode == 2, done.stderr
    last = done.stderr.strip().splitlines()[-1]
    assert (
        last.startswith("labsnn: error: backend compiled: the kernels cannot be built")
        and "Traceback" not in done.stderr
    )
