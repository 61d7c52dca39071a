"""Torch operations over the compiled loops of ``labsnn.kernels``, for a stack of K networks
on the CPU in float32:

- ``lif_stack``: the LIF layers of K networks, currents ``[K, T, B, N]`` to spikes and
  membranes; the same numbers as ``labsnn.neuron.lif_sequence`` (bit for bit).
- ``event_linear``: the first layer fed ``BernoulliSpikes``, ``W x + b`` summed over the
  drawn pixels only; equal to ``F.linear`` on ``spikes.dense()`` up to float rounding
  (the sum runs in another order).
- ``stack_forward``: a whole stack fed ``BernoulliSpikes`` (the two above, and the hidden
  layers' products) as one autograd node with a hand-written backward: the training
  loop's path, free of per-layer graph overhead. Every sum over a batch (weight and bias
  gradients) runs in fixed parts added in a fixed order: the numbers depend neither on
  the thread count nor on the other networks of the stack.

``usable(device, dtype)`` says whether they run here: on the CPU, in float32, with the
kernels built (else the callers take their torch paths; a CPU without a compiler is said
once on stderr). On CUDA the torch paths run.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import Tensor

from labsnn import kernels
from labsnn.spike_events import BernoulliSpikes

_ptr = kernels.pointer


def usable(device: torch.device, dtype: torch.dtype = torch.float32) -> bool:
    return device.type == "cpu" and dtype == torch.float32 and kernels.load() is not None


def _vector(values: Tensor | None, K: int) -> Tensor:
    """``values`` (one per network, any shape) as a contiguous float32 vector of ``K``; None is ones."""
    if values is None:
        return torch.ones(K)
    return values.view(K) if values.is_contiguous() and values.dtype == torch.float32 else values.reshape(K).float().contiguous()


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
    def of(beta: Tensor, v_th: Tensor, z: Tensor, gain: Tensor | None, spike_timing: str) -> "LIFParams":
        K = beta.numel()
        return LIFParams(_vector(beta, K), _vector(v_th, K), _vector(z, K), _vector(gain, K), gain is not None,
                         int(spike_timing == "next_step"))


def _lif_forward(currents: Tensor, p: LIFParams) -> tuple[Tensor, Tensor]:
    K, T = currents.shape[:2]
    spikes, membrane = torch.empty_like(currents), torch.empty_like(currents)
    kernels.load().lif_forward(_ptr(currents), _ptr(p.beta), _ptr(p.v_th), K, T, currents[0, 0].numel(), p.delay,
                               _ptr(spikes), _ptr(membrane))
    return spikes, membrane


def _lif_backward(grad_spikes: Tensor, membrane: Tensor, p: LIFParams) -> Tensor:
    K, T = membrane.shape[:2]
    grad, grad_currents = grad_spikes.contiguous(), torch.empty_like(membrane)
    kernels.load().lif_backward(_ptr(grad), _ptr(membrane), _ptr(p.beta), _ptr(p.v_th), _ptr(p.z), _ptr(p.gain),
                                int(p.scaled), K, T, membrane[0, 0].numel(), p.delay, _ptr(grad_currents))
    return grad_currents


def _padded(columns: int) -> int:
    return -(-columns // kernels.LANES) * kernels.LANES


def _event_currents(spikes: BernoulliSpikes, weight: Tensor, bias: Tensor) -> Tensor:
    (T, B, M), (K, N, _) = spikes.shape, weight.shape
    currents, padded = torch.empty(K, T, B, N), _padded(K * N)
    weight_t = torch.zeros(M, padded)
    weight_t[:, : K * N] = weight.detach().permute(2, 0, 1).reshape(M, K * N)
    kernels.check(kernels.load().event_currents(
        _ptr(spikes.mask), spikes.mask.shape[1], T, _ptr(spikes.starts), B, _ptr(spikes.columns), _ptr(weight_t),
        padded, _ptr(bias.detach().float().contiguous()), K, N, _ptr(currents), kernels.threads()), "event_currents")
    return currents


def _event_weight_grad(spikes: BernoulliSpikes, grad_currents: Tensor) -> Tensor:
    (T, B, M), (K, _, _, N) = spikes.shape, grad_currents.shape
    grad, padded = grad_currents.contiguous(), _padded(K * N)
    grad_weight_t = torch.empty(M, padded)
    kernels.check(kernels.load().event_weight_grad(
        _ptr(spikes.mask), spikes.mask.shape[1], T, _ptr(spikes.starts), B, _ptr(spikes.columns), _ptr(grad), K, N,
        padded, M, _ptr(grad_weight_t), kernels.threads()), "event_weight_grad")
    return grad_weight_t[:, : K * N].reshape(M, K, N).permute(1, 2, 0)


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


class _EventLinear(torch.autograd.Function):
    @staticmethod
    def forward(ctx, weight: Tensor, bias: Tensor, spikes: BernoulliSpikes):  # type: ignore[override]
        ctx.spikes = spikes
        return _event_currents(spikes, weight, bias)

    @staticmethod
    def backward(ctx, grad_currents: Tensor):  # type: ignore[override]
        return _event_weight_grad(ctx.spikes, grad_currents), _row_sums(grad_currents), None


def event_linear(spikes: BernoulliSpikes, weight: Tensor, bias: Tensor) -> Tensor:
    """Currents ``[K, T, B, N]`` of K first layers, ``weight [K, N, M]`` and ``bias [K, N]``,
    fed ``spikes`` (``[T, B, M]`` as events): ``I[k, t, b] = W[k] x[t, b] + bias[k]``."""
    return _EventLinear.apply(weight, bias, spikes)


def _row_sums(x: Tensor) -> Tensor:
    """``x [K, ..., N]`` summed over its middle dimensions, in fixed parts (a bias's gradient)."""
    K, N = x.shape[0], x.shape[-1]
    flat, out = x.contiguous(), torch.empty(K, N)
    kernels.check(kernels.load().row_sums(_ptr(flat), K, flat[0].numel() // N, N, _ptr(out), kernels.threads()),
                  "row_sums")
    return out


def _hidden_currents(spikes: Tensor, weight: Tensor, bias: Tensor) -> Tensor:
    K, T, B, M = spikes.shape
    N = weight.shape[1]
    currents, weight_t = torch.empty(K, T, B, N), weight.detach().transpose(1, 2).contiguous()
    kernels.check(kernels.load().dense_currents(_ptr(spikes), _ptr(weight_t), _ptr(bias.detach().float().contiguous()),
                                                K, T * B, M, N, _ptr(currents), kernels.threads()), "dense_currents")
    return currents


def _hidden_backward(grad_currents: Tensor, spikes: Tensor, weight: Tensor) -> tuple[Tensor, Tensor]:
    """Gradients of a hidden layer's weight and of its input spikes."""
    K, T, B, N = grad_currents.shape
    M = spikes.shape[-1]
    grad, weight = grad_currents.contiguous(), weight.contiguous()
    grad_weight, grad_spikes = torch.empty(K, N, M), torch.empty_like(spikes)
    kernels.check(kernels.load().dense_grads(_ptr(grad), _ptr(spikes), _ptr(weight), K, T * B, M, N,
                                             _ptr(grad_spikes), _ptr(grad_weight), kernels.threads()), "dense_grads")
    return grad_weight, grad_spikes


class _CompiledStack(torch.autograd.Function):
    @staticmethod
    def forward(ctx, spikes: BernoulliSpikes, p: LIFParams, *parameters: Tensor):  # type: ignore[override]
        weights, biases = parameters[0::2], parameters[1::2]
        layer_spikes, membranes = [], []
        currents = _event_currents(spikes, weights[0], biases[0])
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
                grad_weight = _event_weight_grad(ctx.spikes, grad_currents)
            parameter_grads = [grad_weight, _row_sums(grad_currents), *parameter_grads]
        return (None, None, *parameter_grads)


def stack_forward(spikes: BernoulliSpikes, weights: list[Tensor], biases: list[Tensor],
                  p: LIFParams) -> tuple[list[Tensor], list[Tensor]]:
    """Each layer's spikes and membrane (no gradient) ``[K, T, B, N]`` of a stack fed
    ``spikes``; the gradient flows from the last layer's spikes to every weight and bias."""
    outputs = _CompiledStack.apply(spikes, p, *(t for pair in zip(weights, biases) for t in pair))
    return list(outputs[: len(weights)]), list(outputs[len(weights) :])
