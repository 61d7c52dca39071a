"""The compiled first and hidden layers sum in the order their comments state, bit for bit:
each kernel against a torch emulation of that order (one float operation at a time per
element, so any vector width or tile gives the same numbers). The first layer: ascending
pixel within an image, then the bias; its weight gradient: even and odd steps apart, added
pixel by pixel, images in PARTS fixed ranges added in order. The hidden layer and the bias
gradients: ascending input, then the bias; rows in PARTS fixed ranges."""

import pytest
import torch

import labsnn.engine.ops  # noqa: F401 (defines torch.ops.labsnn)
from labsnn.engine import kernels
from labsnn.engine.spike_events import draw_events

ops = torch.ops.labsnn

compiled = pytest.mark.skipif(kernels.load() is None, reason="no C compiler: the compiled kernels are not built here")
PARTS = 4  # csrc/kernels.h


def _images(B: int, seed: int = 0) -> torch.Tensor:
    generator = torch.Generator().manual_seed(seed)
    return torch.rand(B, 784, generator=generator) * (torch.rand(B, 784, generator=generator) < 0.2)


def _bits(x: torch.Tensor) -> torch.Tensor:
    return x.contiguous().view(torch.int32)


def _currents_in_order(spikes, weight, bias):
    (T, B, M), (K, N, _) = spikes.shape, weight.shape
    weight_t, mask, out = weight.permute(2, 0, 1).reshape(M, K * N), spikes.mask.float(), torch.empty(K, T, B, N)
    for b in range(B):
        acc = torch.zeros(T, K * N)
        for j in range(int(spikes.starts[b]), int(spikes.starts[b + 1])):
            acc = acc + mask[:, j : j + 1] * weight_t[spikes.columns[j]]
        out[:, :, b] = (acc + bias.reshape(K * N)).view(T, K, N).transpose(0, 1)
    return out


def _weight_grad_in_order(spikes, grad):
    (K, T, B, N), M = grad.shape, spikes.shape[2]
    mask, total = spikes.mask.float(), None
    for part in range(PARTS):
        partial = torch.zeros(M, K * N)
        for b in range(part * B // PARTS, (part + 1) * B // PARTS):
            j0, j1 = int(spikes.starts[b]), int(spikes.starts[b + 1])
            g, s = grad[:, :, b].transpose(0, 1).reshape(T, K * N), mask[:, j0:j1]
            even, odd = torch.zeros(j1 - j0, K * N), torch.zeros(j1 - j0, K * N)
            for t in range(T):
                term = s[t][:, None] * g[t][None, :]
                even, odd = (even + term, odd) if t % 2 == 0 else (even, odd + term)
            columns = spikes.columns[j0:j1]  # distinct within an image
            partial[columns] = partial[columns] + (even + odd)
        total = partial if total is None else total + partial
    return total.view(M, K, N).permute(1, 2, 0)


def _row_parts(R: int):
    return [range(part * R // PARTS, (part + 1) * R // PARTS) for part in range(PARTS)]


def _sum_parts(x: torch.Tensor) -> torch.Tensor:
    """x [K, R, ...] summed over rows: PARTS ranges, each in order, then added in order."""
    total = None
    for rows in _row_parts(x.shape[1]):
        acc = torch.zeros_like(x[:, 0])
        for r in rows:
            acc = acc + x[:, r]
        total = acc if total is None else total + acc
    return total


@compiled
@pytest.mark.parametrize(
    "K, N, T, B",
    [(1, 10, 25, 128), (17, 10, 25, 128), (2, 7, 5, 9), (3, 16, 100, 4), (1, 10, 1, 3)],
)
def test_the_first_layer_sums_in_the_stated_order(K, N, T, B):
    spikes = draw_events(_images(B, seed=K + T), T, torch.Generator().manual_seed(B))
    generator = torch.Generator().manual_seed(T)
    weight = (torch.rand(K, N, 784, generator=generator) - 0.5) / 14
    weight.view(-1)[::13] = -0.0  # signed zeros change nothing either
    bias, grad = torch.randn(K, N, generator=generator), 1e-3 * torch.randn(K, T, B, N, generator=generator)
    grad.view(-1)[::7] = 0.0
    events = (spikes.mask, spikes.starts, spikes.columns)
    currents = ops.event_currents(*events, weight, bias)
    assert torch.equal(_bits(currents), _bits(_currents_in_order(spikes, weight, bias)))
    assert torch.equal(_bits(ops.event_weight_grad(*events, grad, 784)), _bits(_weight_grad_in_order(spikes, grad)))


@compiled
@pytest.mark.parametrize("K, T, B, M, N", [(1, 25, 128, 10, 10), (17, 25, 16, 10, 10), (2, 3, 7, 13, 9)])
def test_the_hidden_layer_and_the_bias_gradients_sum_in_the_stated_order(K, T, B, M, N):
    generator = torch.Generator().manual_seed(K * T)
    spikes = (torch.rand(K, T, B, M, generator=generator) < 0.3).float()
    weight, bias = torch.randn(K, N, M, generator=generator), torch.randn(K, N, generator=generator)
    grad = 1e-2 * torch.randn(K, T, B, N, generator=generator)
    R = T * B
    s, g, weight_t = spikes.view(K, R, M), grad.view(K, R, N), weight.transpose(1, 2)
    currents, grad_spikes = torch.zeros(K, R, N), torch.zeros(K, R, M)
    for m in range(M):
        currents = currents + s[:, :, m : m + 1] * weight_t[:, m : m + 1, :]
    for n in range(N):
        grad_spikes = grad_spikes + g[:, :, n : n + 1] * weight[:, n : n + 1, :]
    grad_weight = _sum_parts(g[:, :, :, None] * s[:, :, None, :])  # each product rounds alone, as in the loop
    got = ops.dense_currents(spikes, weight, bias)
    got_grad_weight, got_grad_spikes = ops.dense_grads(grad, spikes, weight)
    assert torch.equal(_bits(got), _bits((currents + bias[:, None, :]).view(K, T, B, N)))
    assert torch.equal(_bits(got_grad_spikes), _bits(grad_spikes.view(K, T, B, M)))
    assert torch.equal(_bits(got_grad_weight), _bits(grad_weight))
    assert torch.equal(_bits(ops.row_sums(grad)), _bits(_sum_parts(g)))
