"""A whole stack of K networks fed ``BernoulliSpikes``, on the compiled operators of
``labsnn.engine.ops``, as one autograd node with a hand-written backward (the training
loop's path, free of per-layer graph overhead): the first layer summed over the drawn
pixels only, the LIF layers and the hidden layers' products. Every sum over a batch
(weight and bias gradients) runs in fixed parts added in a fixed order, so the numbers
depend neither on the thread count nor on the other networks of the stack."""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import Tensor

import labsnn.engine.ops  # noqa: F401 (defines torch.ops.labsnn)
from labsnn.dynamics.encoders import BernoulliSpikes

_ops = torch.ops.labsnn


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
class LIFVectors:
    """One value per network (``[K]`` float32) of beta, V_th, z and the surrogate's gain
    (``scaled``: use it), and the spike delay (0: ``same_step``, 1: ``next_step``): the
    ``labsnn::lif`` operator's parameters."""

    beta: Tensor
    v_th: Tensor
    z: Tensor
    gain: Tensor
    scaled: bool
    delay: int

    @staticmethod
    def of(beta: Tensor, v_th: Tensor, z: Tensor, gain: Tensor | None, spike_timing: str) -> LIFVectors:
        """From per-network tensors of any shape (``[K, 1, 1]`` in a stack); ``gain`` None: the lab's surrogate."""
        K = beta.numel()
        vectors = (_vector(beta, K), _vector(v_th, K), _vector(z, K), _vector(gain, K))
        return LIFVectors(*vectors, gain is not None, int(spike_timing == "next_step"))

    def lif(self, currents: Tensor) -> tuple[Tensor, Tensor]:
        """``labsnn::lif`` of ``currents [K, T, B, N]``: spikes and membrane, differentiable in the currents."""
        return _ops.lif(currents.contiguous(), self.beta, self.v_th, self.z, self.gain, self.scaled, self.delay)

    def lif_backward(self, grad_spikes: Tensor, membrane: Tensor) -> Tensor:
        """``labsnn::lif_backward``: the currents' gradient ``[K, T, B, N]``."""
        args = (self.beta, self.v_th, self.z, self.gain, self.scaled, self.delay)
        return _ops.lif_backward(grad_spikes.contiguous(), membrane, *args)


class _CompiledStack(torch.autograd.Function):
    @staticmethod
    def forward(ctx, spikes: BernoulliSpikes, p: LIFVectors, *parameters: Tensor):  # type: ignore[override]
        weights, biases = parameters[0::2], parameters[1::2]
        layer_spikes, membranes = [], []
        currents = _ops.event_currents(spikes.mask, spikes.starts, spikes.columns, weights[0], biases[0])
        for layer in range(len(weights)):
            if layer:
                currents = _ops.dense_currents(layer_spikes[-1], weights[layer], biases[layer])
            out, membrane = p.lif(currents)
            layer_spikes.append(out)
            membranes.append(membrane)
        ctx.save_for_backward(*layer_spikes[:-1], *membranes, *weights)
        ctx.spikes, ctx.p, ctx.layers = spikes, p, len(weights)
        ctx.mark_non_differentiable(*layer_spikes[:-1], *membranes)
        return (*layer_spikes, *membranes)

    @staticmethod
    def backward(ctx, *grads: Tensor):  # type: ignore[override]
        L, saved, events = ctx.layers, ctx.saved_tensors, (ctx.spikes.mask, ctx.spikes.starts, ctx.spikes.columns)
        hidden, membranes, weights = saved[: L - 1], saved[L - 1 : 2 * L - 1], saved[2 * L - 1 :]
        grad, parameter_grads = grads[L - 1], []
        for layer in reversed(range(L)):
            grad_currents = ctx.p.lif_backward(grad, membranes[layer])
            if layer:
                grad_weight, grad = _ops.dense_grads(grad_currents, hidden[layer - 1], weights[layer])
            else:
                grad_weight = _ops.event_weight_grad(*events, grad_currents, weights[0].shape[2])
            parameter_grads = [grad_weight, _ops.row_sums(grad_currents), *parameter_grads]
        return (None, None, *parameter_grads)


def compiled_stack(
    spikes: BernoulliSpikes, weights: list[Tensor], biases: list[Tensor], p: LIFVectors
) -> tuple[list[Tensor], list[Tensor]]:
    """Each layer's spikes and membrane ``[K, T, B, N]`` of a stack fed ``spikes [T, B, M]``.

    Args:
        spikes: the shared input as events; weights, biases: per layer ``[K, N, M]`` and ``[K, N]``
            (contiguous float32 on the CPU); p: the LIF parameters.

    Returns:
        ``(layer_spikes, membranes)``: only the last layer's spikes carry a gradient, to every weight and bias.
    """
    parameters = [t for pair in zip(weights, biases) for t in pair]
    outputs = _CompiledStack.apply(spikes, p, *parameters)
    return list(outputs[: len(weights)]), list(outputs[len(weights) :])
