"""The compiled CPU kernels (``labsnn.engine.kernels``, through the operators of
``labsnn.engine.ops``, the stack of ``labsnn.engine.compiled``) against their readable torch forms, thread counts, the fallback without a compiler, and
the CUDA path (skipped without CUDA)."""

import ctypes
import os
import shutil
from dataclasses import replace

import pytest
import torch
import torch.nn.functional as F

import labsnn.engine.ops  # noqa: F401 (defines torch.ops.labsnn)
from labsnn.dynamics import encoders
from labsnn.dynamics.encoders import BernoulliSpikes
from labsnn.dynamics.neuron import LIFParameters, lif_sequence
from labsnn.engine import kernels, stack
from labsnn.engine.compiled import LIFVectors
from labsnn.engine.spike_events import draw_events
from labsnn.model import SNNStack, StackOutput
from labsnn.running import measure
from labsnn.running.config import RunConfig
from labsnn.running.train import train

compiled = pytest.mark.skipif(kernels.load() is None, reason="no C compiler: the compiled kernels are not built here")
cuda = pytest.mark.skipif(not torch.cuda.is_available(), reason="no CUDA device on this machine")
ops_labsnn = torch.ops.labsnn  # defined by labsnn.engine.ops

#: csrc/input.c's SplitMix64 outputs, for the tests only
SPLITMIX64_FILL = kernels.c_function(
    "splitmix64_fill", None, [ctypes.c_uint64, ctypes.c_int64, ctypes.c_int64, ctypes.c_void_p]
)


def _splitmix64_python(seed: int, w: int) -> int:
    mask = (1 << 64) - 1
    z = (seed + (w + 1) * 0x9E3779B97F4A7C15) & mask
    z = ((z ^ (z >> 30)) * 0xBF58476D1CE4E5B9) & mask
    z = ((z ^ (z >> 27)) * 0x94D049BB133111EB) & mask
    return z ^ (z >> 31)


@pytest.mark.parametrize("seed", [0, 1234567, -5, 2**63 - 1, -(2**63)])
def test_splitmix64_is_the_published_generator_in_torch_and_in_c(seed):
    expected = [_splitmix64_python(seed % 2**64, w) for w in range(3, 503)]
    assert [int(v) % 2**64 for v in encoders.splitmix64(seed, 3, 500)] == expected
    if kernels.load() is not None:
        out = torch.empty(500, dtype=torch.int64)
        SPLITMIX64_FILL(seed % 2**64, 3, 500, out.data_ptr())
        assert [int(v) % 2**64 for v in out] == expected
    if seed == 1234567:  # the first outputs of Vigna's splitmix64.c from this state
        assert [_splitmix64_python(seed, w) for w in (0, 1)] == [6457827717110365317, 3203168211198807973]


def _images(B: int, M: int, seed: int = 0) -> torch.Tensor:
    generator = torch.Generator().manual_seed(seed)
    x = torch.rand(B, M, generator=generator) * (torch.rand(B, M, generator=generator) < 0.3)
    x[0, 0], x[-1, -1], x[-1, -2] = 1.0, 2**-17, 3 * 2**-17  # white, and two ties of the rounding
    return x


@compiled
@pytest.mark.parametrize("B, M, T", [(5, 30, 7), (128, 784, 25), (3, 10, 1), (1, 4, 3)])
def test_compiled_encoder_equals_its_torch_form_bit_for_bit(B, M, T):
    x = _images(B, M)
    rows = torch.randperm(B)
    for seed in (0, -3, 2**62):
        columns, limits, starts = ops_labsnn.pixel_levels(x, rows)
        mask, counts = ops_labsnn.bernoulli_mask(seed, limits, T)
        ref_columns, ref_limits, ref_starts = encoders.pixel_levels(x, rows)
        ref_mask, ref_counts = encoders.bernoulli_mask(seed, ref_limits, T)
        for got, want in (
            (mask, ref_mask),
            (counts, ref_counts),
            (columns, ref_columns),
            (limits, ref_limits),
            (starts, ref_starts),
        ):
            assert torch.equal(got, want)


@compiled
def test_the_compiled_draw_gives_the_readable_encoders_events():
    x = _images(40, 784)
    rows = torch.randperm(40)[:17]
    got = draw_events(x, 11, torch.Generator().manual_seed(3), rows, backend="compiled")
    want = encoders.bernoulli_events(x, 11, torch.Generator().manual_seed(3), rows)
    for name in ("mask", "counts", "columns", "starts"):
        assert torch.equal(getattr(got, name), getattr(want, name)), name
    assert got.shape == want.shape == (11, 17, 784) and got.counts.sum() > 0


def test_events_dense_form_and_counts():
    x = _images(6, 50)
    spikes = draw_events(x, 9, torch.Generator().manual_seed(2))
    dense = spikes.dense()
    assert dense.shape == (9, 6, 50) and set(dense.unique().tolist()) <= {0.0, 1.0}
    assert torch.equal(dense.sum(dim=(1, 2)).long(), spikes.counts)
    assert torch.all(dense[:, x == 0] == 0) and torch.all(dense[:, 0, 0] == 1)  # black never, white always


@compiled
def test_bad_intensities_and_rows_are_clear_errors():
    for bad in (float("nan"), 1.5, -0.1):
        with pytest.raises(ValueError, match=r"intensities in \[0, 1\]"):
            draw_events(torch.tensor([[0.5, bad]]), 3)
    with pytest.raises(IndexError, match="rows must index the 2 images"):
        draw_events(torch.rand(2, 4), 3, rows=torch.tensor([0, 2]))


PARAMS = {
    "beta": torch.tensor([0.1, 0.9, 2.0]),
    "v_th": torch.tensor([1.0, 0.5, 2.0]),
    "z": torch.tensor([2.0, 10.0, 0.5]),
}


@compiled
@pytest.mark.parametrize("timing", ["same_step", "next_step"])
@pytest.mark.parametrize("scaled", [False, True])
@pytest.mark.parametrize("T", [1, 2, 17])
def test_compiled_lif_equals_the_torch_loop_bit_for_bit(timing, scaled, T):
    torch.manual_seed(T)
    K = 3
    beta, v_th, z = (PARAMS[name].view(K, 1, 1) for name in ("beta", "v_th", "z"))
    gain = z if scaled else None
    currents = (2 * torch.randn(K, T, 8, 5)).requires_grad_()
    grad_out = torch.randn(K, T, 8, 5)
    results = []
    for run in ("compiled", "torch"):
        if run == "compiled":
            spikes, membrane = LIFVectors.of(beta, v_th, z, gain, timing).lif(currents)
        else:
            spikes, membrane = (
                x.transpose(0, 1)
                for x in lif_sequence(currents.transpose(0, 1), LIFParameters(beta, v_th, z, gain), timing)
            )
        loss = (spikes * grad_out).sum()  # next_step at T = 1: no spike reads a current
        grad = torch.autograd.grad(loss, currents)[0] if loss.requires_grad else torch.zeros_like(currents)
        results.append((spikes, membrane, grad))
    for a, b in zip(*results):
        assert torch.equal(a, b)
    if T > 1:
        assert results[0][2].abs().sum() > 0 and results[0][0].sum() > 0


@compiled
@pytest.mark.parametrize("K", [1, 2])  # 10 and 20 columns: one vector and two per step
def test_event_first_layer_equals_the_dense_product(K):
    torch.manual_seed(K)
    spikes = draw_events(_images(64, 784), 13, torch.Generator().manual_seed(1))
    weight = (0.05 * torch.randn(K, 10, 784)).requires_grad_()
    bias = torch.randn(K, 10).requires_grad_()
    grad_out = torch.randn(K, 13, 64, 10)
    currents = ops_labsnn.event_currents(spikes.mask, spikes.starts, spikes.columns, weight, bias)
    grads = torch.autograd.grad((currents * grad_out).sum(), (weight, bias))
    dense = spikes.dense()
    expected = torch.stack([F.linear(dense, w, b) for w, b in zip(weight, bias)])
    expected_grads = torch.autograd.grad((expected * grad_out).sum(), (weight, bias))
    torch.testing.assert_close(currents, expected, rtol=1e-5, atol=1e-5)
    for got, want in zip(grads, expected_grads):
        torch.testing.assert_close(got, want, rtol=1e-4, atol=1e-4)


@compiled
@pytest.mark.parametrize("timing", ["same_step", "next_step"])
def test_compiled_stack_equals_the_step_by_step_reference(timing):
    torch.manual_seed(3)
    spikes = draw_events(_images(32, 784), 20, torch.Generator().manual_seed(4))
    target = torch.randint(0, 10, (32,))
    outputs = []
    torch_stack = lambda p: stack.forward(replace(p, backend="torch"), spikes.dense())  # noqa: E731
    for run in (lambda p: stack.forward_events(p, spikes), torch_stack):
        model = SNNStack(
            beta=[0.1, 0.9],
            v_th=[1.0, 0.5],
            z=[2.0, 5.0],
            seeds=[0, 1],
            surrogate=["fast_sigmoid", "scaled_fast_sigmoid"],
            spike_timing=timing,
        )
        out = StackOutput(*run(model.params()))
        ((out.firing_rates() - F.one_hot(target, 10)) ** 2).mean().backward()
        outputs.append((out, [p.grad for p in model.parameters()]))
    (fast_out, fast_grads), (ref_out, ref_grads) = outputs
    for a, b in zip(fast_out.layer_spikes, ref_out.layer_spikes):
        assert torch.equal(a, b)
    for a, b in zip(fast_out.membranes, ref_out.membranes):
        torch.testing.assert_close(a, b, rtol=1e-5, atol=1e-5)
    for a, b in zip(fast_grads, ref_grads):
        torch.testing.assert_close(a, b, rtol=1e-4, atol=1e-5)
        assert b.abs().sum() > 0
    rates = measure.input_rates(spikes, fast_out, 784)[0]
    torch.testing.assert_close(rates, measure.input_rates(spikes.dense(), ref_out, 784)[0])


@compiled
def test_a_network_in_the_compiled_stack_computes_what_it_computes_alone():
    # the lab's sizes (T = 25, batch 128): large enough that a library product would split its sums
    spikes = draw_events(_images(128, 784), 25, torch.Generator().manual_seed(5))
    target = torch.randint(0, 10, (128,), generator=torch.Generator().manual_seed(6))
    settings = [(0.1, 1.0, 2.0, 0), (0.5, 0.5, 5.0, 0), (0.9, 0.25, 1.0, 1)]
    beta, v_th, z, seeds = ([s[i] for s in settings] for i in range(4))
    stacked = SNNStack(beta=beta, v_th=v_th, z=z, seeds=seeds)
    out = StackOutput(*stack.forward_events(stacked.params(), spikes))
    sum(((out.firing_rates()[k] - F.one_hot(target, 10)) ** 2).mean() for k in range(3)).backward()
    for k, (beta, v_th, z, seed) in enumerate(settings):
        alone = SNNStack(beta=[beta], v_th=[v_th], z=[z], seeds=[seed])
        single = StackOutput(*stack.forward_events(alone.params(), spikes))
        ((single.firing_rates()[0] - F.one_hot(target, 10)) ** 2).mean().backward()
        assert all(torch.equal(a[k], b[0]) for a, b in zip(out.layer_spikes, single.layer_spikes))
        assert all(torch.equal(a.grad[k], b.grad[0]) for a, b in zip(stacked.parameters(), alone.parameters()))


@compiled
@pytest.mark.parametrize("encoder", ["bernoulli", "repeat", "threshold"])
def test_results_do_not_depend_on_the_thread_count(subset, encoder):
    # the lab's T and batch 128; repeat and threshold feed the dense first layer
    config = RunConfig(T=25, epochs=1, n_train=512, n_test=256, device="cpu", encoder=encoder)
    before = torch.get_num_threads()
    try:
        histories = []
        for threads in (1, 2):
            torch.set_num_threads(threads)
            result = train(config, subset, progress=False)
            histories.append(
                ([{k: v for k, v in row.items() if k != "epoch_time_s"} for row in result.epochs], result.state)
            )
    finally:
        torch.set_num_threads(before)
    (rows_1, state_1), (rows_2, state_2) = histories
    assert rows_1 == rows_2
    assert all(torch.equal(state_1[name], state_2[name]) for name in state_1)


def test_without_a_compiler_training_runs_the_torch_loops_and_says_so_once(subset, monkeypatch, tmp_path, capsys):
    config = RunConfig(T=8, epochs=1, n_train=2000, n_test=1000, batch_size=32, lr=1e-2, device="cpu")
    with_kernels = train(config, subset, progress=False)
    built = "compiled" if kernels.load() is not None else "torch"
    monkeypatch.setenv("LABSNN_KERNEL_CACHE", str(tmp_path))
    monkeypatch.setenv("CC", str(tmp_path / "no-such-compiler"))
    monkeypatch.setattr(kernels, "_state", {})
    first_run, second_run = (train(config, subset, progress=False) for _ in range(2))
    err = capsys.readouterr().err
    assert err.count("compiled kernels unavailable") == 1 and "torch loops" in err
    assert first_run.environment["backend"] == "torch" and with_kernels.environment["backend"] == built
    first, second = first_run.epochs[0], second_run.epochs[0]
    assert first["test_acc"] == second["test_acc"]  # the torch loops repeat themselves
    assert abs(first["test_acc"] - with_kernels.epochs[0]["test_acc"]) <= 0.02  # the same up to float rounding
    assert first["test_acc"] > 0.5


@compiled
def test_a_compiler_without_openmp_builds_kernels_with_the_same_results(subset, monkeypatch, tmp_path):
    config = RunConfig(T=6, epochs=1, n_train=512, n_test=256, device="cpu")
    with_openmp = train(config, subset, progress=False)
    compiler = tmp_path / "cc-without-openmp"
    real = os.environ.get("CC") or shutil.which("cc") or shutil.which("gcc")
    compiler.write_text(f'#!/bin/sh\nfor a in "$@"; do [ "$a" = -fopenmp ] && exit 1; done\nexec {real} "$@"\n')
    compiler.chmod(0o755)
    monkeypatch.setenv("CC", str(compiler))
    monkeypatch.setenv("LABSNN_KERNEL_CACHE", str(tmp_path / "cache"))
    monkeypatch.setattr(kernels, "_state", {})
    assert kernels.load() is not None and kernels.load()._name.startswith(str(tmp_path))
    without = train(config, subset, progress=False)
    assert [row["test_acc"] for row in without.epochs] == [row["test_acc"] for row in with_openmp.epochs]
    assert all(torch.equal(without.state[name], with_openmp.state[name]) for name in without.state)


@cuda
def test_cuda_runs_the_same_network_through_its_torch_path(subset):
    """The kernels are CPU code; on CUDA the torch path runs: the same spikes and, within float
    rounding, the same currents and gradients as the compiled CPU path."""
    spikes = draw_events(_images(16, 784), 8, torch.Generator().manual_seed(0))
    on_gpu = BernoulliSpikes(
        *(t.cuda() for t in (spikes.mask, spikes.counts, spikes.columns, spikes.starts)), spikes.shape, spikes.dtype
    )
    results = []
    for device, inputs in (("cpu", spikes), ("cuda", on_gpu)):
        backend = "compiled" if device == "cpu" else "torch"
        model = SNNStack(beta=[0.5], v_th=[1.0], z=[2.0], seeds=[0], backend=backend).to(device)
        out = StackOutput(*stack.forward_events(model.params(), inputs))
        out.firing_rates().sum().backward()
        results.append((out.spikes.cpu(), [p.grad.cpu() for p in model.parameters()]))
    assert torch.equal(results[0][0], results[1][0])
    for a, b in zip(results[0][1], results[1][1]):
        torch.testing.assert_close(a, b, rtol=1e-4, atol=1e-5)
    result = train(RunConfig(T=5, epochs=1, n_train=256, n_test=128, device="cuda"), subset, progress=False)
    assert result.status == "ok" and result.environment["backend"] == "torch"
