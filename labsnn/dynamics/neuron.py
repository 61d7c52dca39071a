"""Leaky integrate-and-fire (LIF) dynamics with a fast-sigmoid surrogate gradient.

The lab's recurrence, with subtractive reset::

    S[t]   = H(V[t] - V_th)                       (spike when V[t] > V_th, strictly)
    V[t+1] = beta * V[t] + I[t] - S[t] * V_th

``lif_step`` is that recurrence, one step. A layer fed currents ``I[0..T-1]`` from ``V[0] = 0`` reports at step
``t`` the spike of the membrane that has just integrated ``I[t]``: ``spikes[t] = S[t+1] = H(V[t+1] - V_th)`` and
``membrane[t] = V[t+1]``. (``S[0]`` is always 0 because ``V_th > 0``.) This is snnTorch's convention for
``snn.Leaky(beta, threshold, reset_mechanism="subtract")``: its ``spk_t`` and ``mem_t`` are our ``spikes[t]`` and
``membrane[t]`` exactly, for ``beta`` in [0, 1] (snnTorch clamps ``beta`` to [0, 1]; labsnn does not, since the lab
sweeps it up to 5). As in snnTorch, the reset term is detached from the graph: gradients flow through the leak
``beta`` and the spike's surrogate, not through the reset.

Two choices the lab leaves open are options here (``labsnn.running.config.RunConfig`` names them):

- the surrogate: ``fast_sigmoid``, ``1/(1 + z|x|)^2`` (snnTorch's, the default), or ``scaled_fast_sigmoid``,
  ``z/(1 + z|x|)^2``, the derivative of ``z x/(1 + z|x|)``, i.e. the same shape ``z`` times larger (``gain = z``);
- the spike timing: ``same_step`` (above, the default) or ``next_step``, the lab's equation read literally: the
  layer outputs ``S[t] = H(V[t] - V_th)`` from the membrane *before* it integrates ``I[t]``, so every layer passes
  its spikes on one step later (``spikes_next[t] = spikes_same[t-1]``, ``spikes_next[0] = 0``).
"""

from __future__ import annotations

import torch
from torch import Tensor

from labsnn.names import SPIKE_TIMINGS, SURROGATES
from labsnn.validation import is_finite_number, lookup

Param = float | Tensor


def check_lif_params(beta: Param, v_th: Param, z: Param) -> None:
    """Checks LIF parameters, numbers or tensors (every element): ``beta`` finite, ``v_th`` and ``z`` > 0.

    Raises:
        ValueError: naming the first parameter that breaks its rule, with its value.
    """
    for name, value, positive in (("beta", beta, False), ("v_th", v_th, True), ("z", z, True)):
        if isinstance(value, Tensor):
            ok = bool(torch.isfinite(value).all()) and (not positive or bool((value > 0).all()))
            shown = value.tolist()
        else:
            ok = is_finite_number(value) and (not positive or value > 0)
            shown = value
        if not ok:
            rule = "a finite number > 0" if positive else "a finite number"
            raise ValueError(f"{name} must be {rule}, got {shown!r}")


def fast_sigmoid_grad(x: Tensor, z: Param, gain: Param | None = None) -> Tensor:
    """Returns the surrogate derivative ``gain / (1 + z*|x|)^2``, shaped as ``x``.

    Args:
        x: the distance to the threshold, ``V - V_th``, any shape.
        z, gain: slope (> 0) and scale, numbers or tensors broadcasting against ``x``; no ``gain`` means 1 (the lab's).
    """
    grad = (1.0 + z * x.abs()).reciprocal().square()
    return grad if gain is None else grad * gain


def surrogate_gain(surrogate: str, z: Param) -> Param | None:
    """Returns ``fast_sigmoid_grad``'s ``gain`` for ``surrogate``: ``z`` for ``scaled_fast_sigmoid``, else None.

    Raises:
        ValueError: an unknown surrogate.
    """
    lookup("surrogate", dict.fromkeys(SURROGATES), surrogate)
    return z if surrogate == "scaled_fast_sigmoid" else None


class _FastSigmoidSpike(torch.autograd.Function):
    @staticmethod
    def forward(ctx, x: Tensor, z: Param, gain: Param | None) -> Tensor:  # type: ignore[override]
        ctx.save_for_backward(x)
        ctx.z, ctx.gain = z, gain
        return (x > 0).to(x.dtype)

    @staticmethod
    def backward(ctx, grad_output: Tensor):  # type: ignore[override]
        (x,) = ctx.saved_tensors
        return grad_output * fast_sigmoid_grad(x, ctx.z, ctx.gain), None, None


def fast_sigmoid(x: Tensor, z: Param = 2.0, gain: Param | None = None) -> Tensor:
    """Spike function: forward ``H(x) = 1[x > 0]`` (0 or 1, ``x``'s shape and dtype), backward ``gain / (1 + z*|x|)^2``.

    Args:
        x: the distance to the threshold, ``V - V_th``, any shape.
        z, gain: as in ``fast_sigmoid_grad``; without ``gain``, snnTorch's ``surrogate.fast_sigmoid(slope=z)``.
    """
    return _FastSigmoidSpike.apply(x, z, gain)


def lif_step(
    v: Tensor, current: Tensor, beta: Param, v_th: Param, z: Param, gain: Param | None = None
) -> tuple[Tensor, Tensor]:
    """One LIF step; returns ``(S[t], V[t+1])``: ``S[t] = H(V[t] - V_th)``, ``V[t+1] = beta*V[t] + I[t] - S[t]*V_th``.

    Args:
        v, current: the membrane ``V[t]`` and input current ``I[t]``, same shape (e.g. ``[B, N]``, as the outputs).
        beta, v_th, z, gain: as in ``lif_sequence`` (not checked here); the reset term is detached.
    """
    spike = fast_sigmoid(v - v_th, z, gain)
    return spike, beta * v + current - spike.detach() * v_th


def _check_timing(spike_timing: str) -> None:
    lookup("spike_timing", dict.fromkeys(SPIKE_TIMINGS), spike_timing)


def lif_sequence_reference(
    currents: Tensor, beta: Param, v_th: Param, z: Param, gain: Param | None = None, spike_timing: str = "same_step"
) -> tuple[Tensor, Tensor]:
    """Step-by-step LIF with autograd: the readable reference that ``lif_sequence`` must match.

    Args, Returns and Raises as ``lif_sequence``, except that the membrane keeps its gradient (``same_step``:
    ``spikes[t], membrane[t] = S[t+1], V[t+1]`` of ``lif_step`` from ``V[0] = 0``; ``next_step``: ``S[t], V[t]``).
    """
    check_lif_params(beta, v_th, z)
    _check_timing(spike_timing)
    v = torch.zeros_like(currents[0])
    spikes, membrane = [], []
    for current in currents:
        spike, v_next = lif_step(v, current, beta, v_th, z, gain)
        if spike_timing == "next_step":
            spikes.append(spike)
            membrane.append(v)
        else:
            spikes.append(fast_sigmoid(v_next - v_th, z, gain))
            membrane.append(v_next)
        v = v_next
    return torch.stack(spikes), torch.stack(membrane)


class _LIFSequence(torch.autograd.Function):
    """Whole-sequence LIF with a hand-written backward.

    Forward runs the recurrence without building a graph. Backward uses that the reset is detached, so
    ``dL/dV[t] = dL/dspikes[t] * sg(V[t]-V_th) + dL/dmembrane[t] + beta * dL/dV[t+1]`` and ``dL/dI[t] = dL/dV[t]``,
    with ``sg`` the fast-sigmoid derivative.
    """

    @staticmethod
    def forward(ctx, currents: Tensor, beta: Param, v_th: Param, z: Param, gain: Param | None):  # type: ignore[override]
        membrane = torch.empty_like(currents)
        spikes = torch.empty_like(currents)
        threshold = torch.as_tensor(v_th, dtype=currents.dtype, device=currents.device)
        steps = zip(currents.unbind(0), membrane.unbind(0), spikes.unbind(0))  # views, made in one call
        current, v, s = next(steps)
        v.copy_(current)  # V[1] = I[0] exactly, since V[0] = 0 and S[0] = 0
        torch.gt(v, threshold, out=s)
        for current, v_next, s_next in steps:
            v = torch.mul(v, beta, out=v_next).add_(current).addcmul_(s, threshold, value=-1)  # exact: s is 0 or 1
            s = torch.gt(v, threshold, out=s_next)
        ctx.save_for_backward(membrane)
        ctx.params = (beta, v_th, z, gain)
        ctx.mark_non_differentiable(membrane)
        return spikes, membrane

    @staticmethod
    def backward(ctx, grad_spikes: Tensor, grad_membrane: Tensor | None):  # type: ignore[override]
        (membrane,) = ctx.saved_tensors
        beta, v_th, z, gain = ctx.params
        grad_v = grad_spikes * fast_sigmoid_grad(membrane - v_th, z, gain)
        if grad_membrane is not None:
            grad_v = grad_v + grad_membrane
        grad_currents = torch.empty_like(grad_v)
        steps = zip(reversed(grad_v.unbind(0)), reversed(grad_currents.unbind(0)))
        grad_step, acc = next(steps)
        acc.copy_(grad_step)
        for grad_step, out in steps:
            acc = torch.mul(acc, beta, out=out).add_(grad_step)
        return grad_currents, None, None, None, None


def lif_sequence(
    currents: Tensor, beta: Param, v_th: Param, z: Param, gain: Param | None = None, spike_timing: str = "same_step"
) -> tuple[Tensor, Tensor]:
    """Fast multi-step LIF: the same values and gradients as ``lif_sequence_reference``.

    Args:
        currents: input currents ``[T, ...]`` (``[T, B, N]`` for a layer; ``SNNStack`` passes ``[T, K, B, N]``).
        beta, v_th, z, gain: leak (finite), threshold and slope (> 0), and the surrogate's scale (None: the lab's);
            numbers, or tensors that broadcast against one step (``[N]`` per neuron, ``[K, 1, 1]`` per network).
        spike_timing: ``same_step``, or ``next_step``: ``same_step`` over ``currents[:-1]``, one step later.

    Returns:
        ``(spikes, membrane)``, each shaped as ``currents``; the membrane is returned without gradient.

    Raises:
        ValueError: a parameter out of range, an unknown ``spike_timing``, or no step in ``currents``.
    """
    check_lif_params(beta, v_th, z)
    _check_timing(spike_timing)
    if currents.dim() == 0 or currents.shape[0] == 0:
        raise ValueError(f"currents must be [T, ...] with T >= 1, got shape {list(currents.shape)}")
    if spike_timing == "same_step":
        return _LIFSequence.apply(currents, beta, v_th, z, gain)
    start = torch.zeros_like(currents[:1])
    if currents.shape[0] == 1:
        return start, start.detach()
    spikes, membrane = _LIFSequence.apply(currents[:-1], beta, v_th, z, gain)
    return torch.cat([start, spikes]), torch.cat([start.detach(), membrane])


class LIF(torch.nn.Module):
    """Multi-step LIF layer: currents ``[T, B, N]`` to spikes ``[T, B, N]``, by ``lif_sequence``
    (``lif_sequence_reference`` is the step-by-step form it is held equal to).

    Args:
        beta, v_th, z: leak factor (finite), threshold and surrogate slope (> 0).
        surrogate, spike_timing: a name in ``SURROGATES`` and one in ``SPIKE_TIMINGS``.

    Raises:
        ValueError: a parameter out of range, or an unknown surrogate or spike timing.
    """

    def __init__(
        self,
        beta: float = 0.1,
        v_th: float = 1.0,
        z: float = 2.0,
        surrogate: str = "fast_sigmoid",
        spike_timing: str = "same_step",
    ) -> None:
        super().__init__()
        check_lif_params(beta, v_th, z)
        _check_timing(spike_timing)
        self.gain = surrogate_gain(surrogate, z)
        self.beta, self.v_th, self.z = beta, v_th, z
        self.surrogate, self.spike_timing = surrogate, spike_timing

    def forward(self, currents: Tensor, return_membrane: bool = False):
        """Spikes ``[T, B, N]`` of ``currents [T, B, N]``; with ``return_membrane``, ``(spikes, membrane)``."""
        spikes, membrane = lif_sequence(currents, self.beta, self.v_th, self.z, self.gain, self.spike_timing)
        return (spikes, membrane) if return_membrane else spikes

    def extra_repr(self) -> str:
        """The layer's settings, shown by ``repr``."""
        return (
            f"beta={self.beta}, v_th={self.v_th}, z={self.z}, "
            f"surrogate={self.surrogate}, spike_timing={self.spike_timing}"
        )
