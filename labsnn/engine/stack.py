"""The forward pass of a stack of K networks, on the run's backend (``labsnn.engine.backend``).

A stack is its parameters (``StackParams``): per layer a weight ``[K, N, M]`` and a bias
``[K, N]``, and per network ``beta``, ``V_th``, ``z`` and a surrogate gain (``[K, 1, 1]``).
Network ``k`` computes exactly what it would compute alone, bit for bit, forward and
backward: each product is its own (its own ``F.linear``, or its own sums in a fixed order
in the compiled loops) and everything else is elementwise.

- ``forward``: dense input ``[T, B, M]``, or ``[T, B, U]`` with the ``columns`` it holds (a
  batch's blank pixels need no arithmetic); the LIF layers on the ``labsnn::lif`` operator
  where the backend is compiled, else ``labsnn.dynamics.neuron.lif_sequence``, the readable
  step-by-step recurrence with autograd that the compiled loop is tested against.
- ``forward_events``: ``BernoulliSpikes`` input, through the compiled whole-stack node
  (``labsnn.engine.compiled``) where the backend is compiled, else densely.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import Tensor

from labsnn.dynamics.encoders import BernoulliSpikes
from labsnn.dynamics.neuron import LIFParameters, lif_sequence
from labsnn.engine import reference as torch_ops
from labsnn.engine.compiled import LIFVectors, compiled_stack
from labsnn.engine.kernels import runs_compiled

Layers = tuple[list[Tensor], list[Tensor]]  # each layer's spikes and membrane [K, T, B, N]


@dataclass(frozen=True)
class StackParams:
    """A stack's parameters: ``weights``, ``biases`` per layer; ``beta``, ``v_th``, ``z``,
    ``gain`` (None: the lab's surrogate) per network, ``[K, 1, 1]``; the ``spike_timing``; and the
    ``backend`` its passes run on (``auto``, ``compiled`` or ``torch``; ``labsnn.engine.backend``)."""

    weights: Sequence[Tensor]
    biases: Sequence[Tensor]
    beta: Tensor
    v_th: Tensor
    z: Tensor
    gain: Tensor | None
    spike_timing: str
    backend: str

    def lif_parameters(self) -> LIFParameters:
        """The LIF parameters as ``labsnn.dynamics.neuron.lif_sequence`` takes them (``[K, 1, 1]`` each)."""
        return LIFParameters(self.beta, self.v_th, self.z, self.gain)

    def lif_vectors(self) -> LIFVectors:
        """The LIF parameters as the ``labsnn::lif`` operator takes them (``compiled.LIFVectors``)."""
        return LIFVectors.of(self.beta, self.v_th, self.z, self.gain, self.spike_timing)


def _ascending_indices(columns: Tensor, bound: int) -> bool:
    """True when ``columns`` is a 1-D integer tensor, strictly ascending, within [0, bound)."""
    if columns.dim() != 1 or columns.dtype not in (torch.int32, torch.int64):
        return False
    if columns.numel() == 0:
        return True
    ok = (columns[1:] > columns[:-1]).all() & (columns[0] >= 0) & (columns[-1] < bound)
    return bool(ok)  # one synchronisation


def distinct_steps(inputs: Tensor) -> Tensor:
    """``inputs [T, ...]`` without its repeats: ``inputs[:1]`` when an encoder returned one
    step expanded over time (stride 0), else ``inputs``."""
    return inputs[:1] if inputs.shape[0] > 1 and inputs.stride(0) == 0 else inputs


def _first_currents(params: StackParams, inputs: Tensor, columns: Tensor | None) -> Tensor:
    """The first layer's currents ``[K, T, B, N]``: once for a view repeated over time; on the
    compiled backend through ``labsnn::dense_currents``, network by network (sums in a fixed
    order, so that a run's numbers do not depend on the thread count), else ``F.linear``."""
    weight, bias = params.weights[0], params.biases[0]
    if columns is not None:
        weight = weight.index_select(2, columns)
    source = distinct_steps(inputs)
    if runs_compiled(source.device, source.dtype, params.backend):
        source = source.contiguous().unsqueeze(0)
        current = torch.cat([torch.ops.labsnn.dense_currents(source, w[None], b[None]) for w, b in zip(weight, bias)])
    else:
        current = torch.stack([F.linear(source, w, b) for w, b in zip(weight, bias)])
    return current.expand(-1, inputs.shape[0], -1, -1)


def lif_layer(currents: Tensor, lif: LIFParameters, spike_timing: str, backend: str) -> tuple[Tensor, Tensor]:
    """A LIF layer of each of K networks: spikes and membrane ``[K, T, B, N]`` of ``currents [K, T, B, N]``.

    Args:
        currents: each network's input currents; lif: its parameters, ``[K, 1, 1]`` each.
        spike_timing: ``same_step`` or ``next_step``; backend: ``labsnn::lif`` where it runs compiled, else
            ``labsnn.dynamics.neuron.lif_sequence``.
    """
    if runs_compiled(currents.device, currents.dtype, backend):
        return LIFVectors.of(*lif, spike_timing).lif(currents)
    spikes, membrane = lif_sequence(currents.transpose(0, 1), lif, spike_timing)
    return spikes.transpose(0, 1).contiguous(), membrane.transpose(0, 1)


def forward(params: StackParams, inputs: Tensor, columns: Tensor | None = None) -> Layers:
    """Each layer's spikes and membrane ``[K, T, B, N]`` of the stack fed ``inputs`` (the membrane
    carries its gradient on the torch backend only).

    Args:
        params: the stack; inputs: ``[T, B, M]`` shared by the networks, or with ``columns``
            ``[T, B, U]`` holding only those (the others 0 at every step).
        columns: ascending int32 or int64 indices ``[U]`` in ``[0, M)``.

    Raises:
        ValueError: ``inputs`` of another shape, or bad ``columns``.
    """
    M = params.weights[0].shape[2]
    width = M if columns is None else columns.numel()
    if inputs.dim() != 3 or inputs.shape[2] != width:
        raise ValueError(f"inputs must have shape [T, B, {width}], got {list(inputs.shape)}")
    if columns is not None and not _ascending_indices(columns, M):
        raise ValueError(f"columns must be ascending integer indices in [0, {M}), got {columns}")
    currents, layer_spikes, membranes = _first_currents(params, inputs, columns), [], []
    for layer in range(len(params.weights)):
        if layer:
            weight, bias = params.weights[layer], params.biases[layer]
            currents = torch_ops.dense_currents(layer_spikes[-1], weight, bias)
        spikes, membrane = lif_layer(currents, params.lif_parameters(), params.spike_timing, params.backend)
        layer_spikes.append(spikes)
        membranes.append(membrane)
    return layer_spikes, membranes


def forward_events(params: StackParams, spikes: BernoulliSpikes) -> Layers:
    """As ``forward``, fed ``BernoulliSpikes [T, B, M]``; on the compiled stack only the last
    layer's spikes carry a gradient (the losses read them)."""
    if spikes.shape[2] != params.weights[0].shape[2]:
        raise ValueError(f"BernoulliSpikes input needs shape [T, B, {params.weights[0].shape[2]}]")
    if runs_compiled(params.weights[0].device, params.weights[0].dtype, params.backend):
        return compiled_stack(spikes, list(params.weights), list(params.biases), params.lif_vectors())
    return forward(params, spikes.dense())
