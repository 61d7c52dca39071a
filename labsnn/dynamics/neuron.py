"""Leaky integrate-and-fire (LIF) dynamics with a fast-sigmoid surrogate gradient.

The lab's recurrence, with subtractive reset::

    S[t]   = H(V[t] - V_th)                       (spike when V[t] > V_th, strictly)
    V[t+1] = beta * V[t] + I[t] - S[t] * V_th

``lif_step`` is that recurrence, one step, a pure function of the current, an explicit state ``LIFState(v, s)``
and the parameters ``LIFParameters`` (Norse's split); ``lif_sequence`` runs it over time. A layer fed currents ``I[0..T-1]`` from ``V[0] = 0`` reports at step
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

from typing import NamedTuple

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


class LIFParameters(NamedTuple):
    """A LIF layer's parameters: numbers, or tensors broadcasting against one step (``[N]`` per neuron,
    ``[K, 1, 1]`` per network of a stack).

    Attributes:
        beta: the leak factor (finite; not clamped to [0, 1], the lab sweeps it up to 5).
        v_th: the threshold (> 0), also what a spike subtracts.
        z: the surrogate's slope (> 0).
        gain: the surrogate's scale (``surrogate_gain``); None: the lab's, 1.
    """

    beta: Param = 0.1
    v_th: Param = 1.0
    z: Param = 2.0
    gain: Param | None = None


class LIFState(NamedTuple):
    """A LIF layer's state before step ``t``: the membrane ``v = V[t]`` and its spike ``s = S[t] = H(V[t] - V_th)``,
    each shaped as one step's currents (``[B, N]``; ``[K, B, N]`` in a stack)."""

    v: Tensor
    s: Tensor


def lif_step(current: Tensor, state: LIFState, p: LIFParameters) -> tuple[Tensor, LIFState]:
    """One step of the lab's LIF recurrence, with subtractive reset.

    ``V[t+1] = beta*V[t] + I[t] - S[t]*V_th`` and ``S[t+1] = H(V[t+1] - V_th)``, the spike's gradient the
    fast-sigmoid surrogate's; the reset term is detached, as in snnTorch.

    Args:
        current: the input current ``I[t]``, shaped as the state.
        state: ``(V[t], S[t])``; a layer starts from zeros.
        p: the parameters (not checked here: ``lif_sequence`` and ``LIF`` check them).

    Returns:
        ``(S[t+1], (V[t+1], S[t+1]))``: the new spike, and the new state.
    """
    v = p.beta * state.v + current - state.s.detach() * p.v_th
    s = fast_sigmoid(v - p.v_th, p.z, p.gain)
    return s, LIFState(v, s)


def _check_timing(spike_timing: str) -> None:
    lookup("spike_timing", dict.fromkeys(SPIKE_TIMINGS), spike_timing)


def lif_sequence(currents: Tensor, p: LIFParameters, spike_timing: str = "same_step") -> tuple[Tensor, Tensor]:
    """A LIF layer over a sequence: ``lif_step`` from ``V[0] = S[0] = 0``, step by step, with autograd.

    This is labsnn's one readable LIF recurrence: the ``torch`` backend runs it, and the compiled loop
    (``labsnn::lif``) is tested against it.

    Args:
        currents: input currents ``[T, ...]`` (``[T, B, N]`` for a layer; a stack passes ``[T, K, B, N]``).
        p: the parameters, broadcasting against one step.
        spike_timing: ``same_step``: step ``t`` reports the state after integrating ``I[t]``,
            ``(S[t+1], V[t+1])``; ``next_step``: the state before it, ``(S[t], V[t])``, one step later.

    Returns:
        ``(spikes, membrane)``, each shaped as ``currents``, both carrying their gradient.

    Raises:
        ValueError: a parameter out of range, an unknown ``spike_timing``, or no step in ``currents``.
    """
    check_lif_params(p.beta, p.v_th, p.z)
    _check_timing(spike_timing)
    if currents.dim() == 0 or currents.shape[0] == 0:
        raise ValueError(f"currents must be [T, ...] with T >= 1, got shape {list(currents.shape)}")
    zeros = torch.zeros_like(currents[0])
    state = LIFState(zeros, zeros)
    spikes, membrane = [], []
    for current in currents:
        before = state
        _, state = lif_step(current, state, p)
        shown = state if spike_timing == "same_step" else before
        spikes.append(shown.s)
        membrane.append(shown.v)
    return torch.stack(spikes), torch.stack(membrane)


class LIF(torch.nn.Module):
    """Multi-step LIF layer: currents ``[T, B, N]`` to spikes ``[T, B, N]``, by ``lif_sequence``.

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
        self.params = LIFParameters(beta, v_th, z, surrogate_gain(surrogate, z))
        self.surrogate, self.spike_timing = surrogate, spike_timing

    def forward(self, currents: Tensor, return_membrane: bool = False):
        """Spikes ``[T, B, N]`` of ``currents [T, B, N]``; with ``return_membrane``, ``(spikes, membrane)``."""
        spikes, membrane = lif_sequence(currents, self.params, self.spike_timing)
        return (spikes, membrane) if return_membrane else spikes

    def extra_repr(self) -> str:
        """The layer's settings, shown by ``repr``."""
        return (
            f"beta={self.params.beta}, v_th={self.params.v_th}, z={self.params.z}, "
            f"surrogate={self.surrogate}, spike_timing={self.spike_timing}"
        )
