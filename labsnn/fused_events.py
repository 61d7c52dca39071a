"""The first layer fed ``BernoulliSpikes``, over the compiled loops of ``labsnn.kernels``:
``W x + b`` summed over the drawn pixels only (``event_linear``, and the two kernels the
whole-stack node of ``labsnn.fused`` calls), equal to ``F.linear`` on ``spikes.dense()``
up to float rounding (the sum runs in another order)."""

from __future__ import annotations

import torch
from torch import Tensor

from labsnn import kernels
from labsnn.spike_events import BernoulliSpikes

_ptr = kernels.pointer


def _padded(columns: int) -> int:
    return -(-columns // kernels.LANES) * kernels.LANES


def row_sums(x: Tensor) -> Tensor:
    """``x [K, ..., N]`` summed over its middle dimensions, in fixed parts (a bias's gradient)."""
    K, N = x.shape[0], x.shape[-1]
    flat, out = x.contiguous(), torch.empty(K, N)
    kernels.check(
        kernels.load().row_sums(_ptr(flat), K, flat[0].numel() // N, N, _ptr(out), kernels.threads()), "row_sums"
    )
    return out


def event_currents(spikes: BernoulliSpikes, weight: Tensor, bias: Tensor) -> Tensor:
    (T, B, M), (K, N, _) = spikes.shape, weight.shape
    currents, padded = torch.empty(K, T, B, N), _padded(K * N)
    weight_t = torch.zeros(M, padded)
    weight_t[:, : K * N] = weight.detach().permute(2, 0, 1).reshape(M, K * N)
    kernels.check(
        kernels.load().event_currents(
            _ptr(spikes.mask),
            spikes.mask.shape[1],
            T,
            _ptr(spikes.starts),
            B,
            _ptr(spikes.columns),
            _ptr(weight_t),
            padded,
            _ptr(bias.detach().float().contiguous()),
            K,
            N,
            _ptr(currents),
            kernels.threads(),
        ),
        "event_currents",
    )
    return currents


def event_weight_grad(spikes: BernoulliSpikes, grad_currents: Tensor) -> Tensor:
    (T, B, M), (K, _, _, N) = spikes.shape, grad_currents.shape
    grad, padded = grad_currents.contiguous(), _padded(K * N)
    grad_weight_t = torch.empty(M, padded)
    kernels.check(
        kernels.load().event_weight_grad(
            _ptr(spikes.mask),
            spikes.mask.shape[1],
            T,
            _ptr(spikes.starts),
            B,
            _ptr(spikes.columns),
            _ptr(grad),
            K,
            N,
            padded,
            M,
            _ptr(grad_weight_t),
            kernels.threads(),
        ),
        "event_weight_grad",
    )
    return grad_weight_t[:, : K * N].reshape(M, K, N).permute(1, 2, 0)


class _EventLinear(torch.autograd.Function):
    @staticmethod
    def forward(ctx, weight: Tensor, bias: Tensor, spikes: BernoulliSpikes):  # type: ignore[override]
        ctx.spikes = spikes
        return event_currents(spikes, weight, bias)

    @staticmethod
    def backward(ctx, grad_currents: Tensor):  # type: ignore[override]
        return event_weight_grad(ctx.spikes, grad_currents), row_sums(grad_currents), None


def event_linear(spikes: BernoulliSpikes, weight: Tensor, bias: Tensor) -> Tensor:
    """Currents ``[K, T, B, N]`` of K first layers, ``weight [K, N, M]`` and ``bias [K, N]``,
    fed ``spikes`` (``[T, B, M]`` as events): ``I[k, t, b] = W[k] x[t, b] + bias[k]``."""
    return _EventLinear.apply(weight, bias, spikes)
