"""Torch operations over the compiled loops of ``labsnn.kernels``, for a stack of K networks
on the CPU in float32:

- ``lif_stack``: the LIF layers of K networks, currents ``[K, T, B, N]`` to spikes and
  membranes; the same numbers as ``labsnn.neuron.lif_sequence`` (bit for bit).
- ``event_linear`` (``labsnn.fused_events``): the first layer fed ``BernoulliSpikes``, ``W x + b`` summed over the
  drawn pixels only; equal to ``F.linear`` on ``spikes.dense()`` up to float rounding
  (the sum runs in another order).
- ``stack_forward``: a whole stack fed ``BernoulliSpikes`` (the two above, and the hidden
  layers' products) as one autograd node with a hand-written backward: the training
  loop's path, free of per-layer graph overhead. Every sum over a batch (weight and bias
  gradients) runs in fixed parts added in a fixed order: the numbers depend neither on
  the thread count nor on the other networks of the stack.

``usable(device, dtype)`` says whether they run here: on the CPU, in float32, with the
kernels built (else the callers take their torch paths; a CPU without a compiler is said
once on the ``labsnn`` logger). On CUDA the torch paths run.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import Tensor

from labsnn import kernels
from labsnn.fused_events import event_currents, event_linear, event_weight_grad, row_sums
from labsnn.spike_events import BernoulliSpikes

__all__ = ["event_linear", "lif_stack", "stack_forward", "usable"]

_ptr = kernels.pointer


def usable(device: torch.device, dtype: torch.dtype = torch.float32) -> bool:
    return device.type == "cpu" and dtype == torch.float32 and kernels.load() is not None


def _vector(values: Tensor | None, K: int) -> Tensor:
    """``values`` (one per network, any shape) as a contiguous float32 vector of ``K``; None is ones."""
    if values is None:
        return torch.ones(K)
    return (
        values.view(K)
        if values.is_contiguous() and values.dtype == torch.float32
        else values.reshape(K).float().contiguous()
    )


@dataclass(frozen=True)
class LIFParams:
    """One value per network of beta, V_th, z and the surrogate's gain (``scaled``: use it),
    and the spike delay (0: ``same_step``, 1: ``next_step``)."""

    beta: Tensor
    v_th: Tensor
    z: Tensor
    gain: Tensor
    scaled: bool
    delay: int

    @staticmethod
    def of(beta: Tensor, v_th: Tensor, z: Tensor, gain: Tensor | None, spike_timing: str) -> LIFParams:
        K = beta.numel()
        return LIFParams(
            _vector(beta, K),
            _vector(v_th, K),
            _vector(z, K),
            _vector(gain, K),
            gain is not None,
            int(spike_timing == "next_step"),
        )


def _lif_forward(currents: Tensor, p: LIFParams) -> tuple[Tensor, Tensor]:
    K, T = currents.shape[:2]
    spikes, membrane = torch.empty_like(currents), torch.empty_like(currents)
    kernels.load().lif_forward(
        _ptr(currents), _ptr(p.beta), _ptr(p.v_th), K, T, currents[0, 0].numel(), p.delay, _ptr(spikes), _ptr(membrane)
    )
    return spikes, membrane


def _lif_backward(grad_spikes: Tensor, membrane: Tensor, p: LIFParams) -> Tensor:
    K, T = membrane.shape[:2]
    grad, grad_currents = grad_spikes.contiguous(), torch.empty_like(membrane)
    kernels.load().lif_backward(
        _ptr(grad),
        _ptr(membrane),
        _ptr(p.beta),
        _ptr(p.v_th),
        _ptr(p.z),
        _ptr(p.gain),
        int(p.scaled),
        K,
        T,
        membrane[0, 0].numel(),
        p.delay,
        _ptr(grad_currents),
    )
    return grad_currents


class _LIFStack(torch.autograd.Function):
    @staticmethod
    def forward(ctx, currents: Tensor, p: LIFParams):  # type: ignore[override]
        spikes, membrane = _lif_forward(currents.detach().contiguous(), p)
        ctx.save_for_backward(membrane)
        ctx.p = p
        ctx.mark_non_differentiable(membrane)
        return spikes, membrane

    @staticmethod
    def backward(ctx, grad_spikes: Tensor, grad_membrane: Tensor | None):  # type: ignore[override]
        return _lif_backward(grad_spikes, ctx.saved_tensors[0], ctx.p), None


def lif_stack(
    currents: Tensor, beta: Tensor, v_th: Tensor, z: Tensor, gain: Tensor | None, spike_timing: str
) -> tuple[Tensor, Tensor]:
    """Spikes and membrane (no gradient) ``[K, T, B, N]`` of K LIF layers fed ``currents
    [K, T, B, N]``, one value of each parameter per network; ``gain`` None is the lab's
    surrogate. ``next_step``: ``same_step`` over the first ``T - 1`` currents, one step later."""
    return _LIFStack.apply(currents, LIFParams.of(beta, v_th, z, gain, spike_timing))


def _hidden_currents(spikes: Tensor, weight: Tensor, bias: Tensor) -> Tensor:
    K, T, B, M = spikes.shape
    N = weight.shape[1]
    currents, weight_t = torch.empty(K, T, B, N), weight.detach().transpose(1, 2).contiguous()
    kernels.check(
        kernels.load().dense_currents(
            _ptr(spikes),
            _ptr(weight_t),
            _ptr(bias.detach().float().contiguous()),
            K,
            T * B,
            M,
            N,
            _ptr(currents),
            kernels.threads(),
        ),
        "dense_currents",
    )
    return currents


def _hidden_backward(grad_currents: Tensor, spikes: Tensor, weight: Tensor) -> tuple[Tensor, Tensor]:
    """Gradients of a hidden layer's weight and of its input spikes."""
    K, T, B, N = grad_currents.shape
    M = spikes.shape[-1]
    grad, weight = grad_currents.contiguous(), weight.contiguous()
    grad_weight, grad_spikes = torch.empty(K, N, M), torch.empty_like(spikes)
    kernels.check(
        kernels.load().dense_grads(
            _ptr(grad),
            _ptr(spikes),
            _ptr(weight),
            K,
            T * B,
            M,
            N,
            _ptr(grad_spikes),
            _ptr(grad_weight),
            kernels.threads(),
        ),
        "dense_grads",
    )
    return grad_weight, grad_spikes


class _CompiledStack(torch.autograd.Function):
    @staticmethod
    def forward(ctx, spikes: BernoulliSpikes, p: LIFParams, *parameters: Tensor):  # type: ignore[override]
        weights, biases = parameters[0::2], parameters[1::2]
        layer_spikes, membranes = [], []
        currents = event_currents(spikes, weights[0], biases[0])
        for layer in range(len(weights)):
            if layer:
                currents = _hidden_currents(layer_spikes[-1], weights[layer], biases[layer])
            out, membrane = _lif_forward(currents, p)
            layer_spikes.append(out)
            membranes.append(membrane)
        ctx.save_for_backward(*layer_spikes[:-1], *membranes, *(w.detach() for w in weights))
        ctx.spikes, ctx.p, ctx.layers = spikes, p, len(weights)
        ctx.mark_non_differentiable(*layer_spikes[:-1], *membranes)
        return (*layer_spikes, *membranes)

    @staticmethod
    def backward(ctx, *grads: Tensor):  # type: ignore[override]
        L = ctx.layers
        saved = ctx.saved_tensors
        hidden, membranes, weights = saved[: L - 1], saved[L - 1 : 2 * L - 1], saved[2 * L - 1 :]
        grad, parameter_grads = grads[L - 1], []
        for layer in reversed(range(L)):
            grad_currents = _lif_backward(grad, membranes[layer], ctx.p)
            if layer:
                grad_weight, grad = _hidden_backward(grad_currents, hidden[layer - 1], weights[layer])
            else:
                grad_weight = event_weight_grad(ctx.spikes, grad_currents)
            parameter_grads = [grad_weight, row_sums(grad_currents), *parameter_grads]
        return (None, None, *parameter_grads)


def stack_forward(
    spikes: BernoulliSpikes, weights: list[Tensor], biases: list[Tensor], p: LIFParams
) -> tuple[list[Tensor], list[Tensor]]:
    """Each layer's spikes and membrane (no gradient) ``[K, T, B, N]`` of a stack fed
    ``spikes``; the gradient flows from the last layer's spikes to every weight and bias."""
    outputs = _CompiledStack.apply(spikes, p, *(t for pair in zip(weights, biases) for t in pair))
    return list(outputs[: len(weights)]), list(outputs[len(weights) :])
