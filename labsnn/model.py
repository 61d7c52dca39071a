"""Fully connected LIF networks (the lab's 784-10-10 by default) and their ANN reference.

Each layer is ``I = W x + b`` followed by a LIF layer (``labsnn.neuron``). ``SNNStack`` holds K such networks of
the same sizes with stacked weights, each with its own ``beta``, ``V_th``, ``z``, surrogate and initialisation seed,
fed one shared input sequence: a sweep over the neuron's hyperparameters trains as one model. Network ``k`` computes
exactly what it would compute alone, bit for bit, forward and backward: every product is network ``k``'s own (its
own ``F.linear``, or its own sums in fixed order in the compiled kernels) and everything else is elementwise
(``tests/test_model.py`` and ``tests/test_train.py`` check it). On the CPU, Bernoulli input as events runs through
the compiled kernels (``labsnn.fused``); elsewhere, the torch loops. What is measured of a forward pass (rates for
the FLOPs formula, diagnostics) is computed by its consumers from ``StackOutput`` (``labsnn.measure``).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from labsnn import fused
from labsnn.names import LAB_SIZES
from labsnn.neuron import check_lif_params, lif_sequence, lif_sequence_reference, surrogate_gain
from labsnn.spike_events import BernoulliSpikes
from labsnn.validation import check_sizes


@dataclass
class StackOutput:
    """What ``SNNStack.forward`` computes, network first.

    Attributes:
        layer_spikes: each layer's spikes ``[K, T, B, N]`` (on the compiled stack only the last carry a gradient).
        membranes: each layer's membrane ``[K, T, B, N]`` (without gradient, unless the stack is not ``fast``).
    """

    layer_spikes: list[Tensor]
    membranes: list[Tensor]

    @property
    def spikes(self) -> Tensor:
        """Output spikes ``[K, T, B, C]``."""
        return self.layer_spikes[-1]

    def firing_rates(self) -> Tensor:
        """Output firing rate (spike count / T) of each network, ``[K, B, C]``."""
        return self.spikes.mean(dim=1)


def distinct_steps(inputs: Tensor) -> Tensor:
    """Returns ``inputs [T, ...]`` without its repeats: ``inputs[:1]`` when the encoder returned one step
    expanded over time (stride 0), else ``inputs``."""
    return inputs[:1] if inputs.shape[0] > 1 and inputs.stride(0) == 0 else inputs


def _ascending_indices(columns: Tensor, bound: int) -> bool:
    """True when ``columns`` is a 1-D integer tensor, strictly ascending, within [0, bound)."""
    if columns.dim() != 1 or columns.dtype not in (torch.int32, torch.int64):
        return False
    if columns.numel() == 0:
        return True
    ok = (columns[1:] > columns[:-1]).all() & (columns[0] >= 0) & (columns[-1] < bound)
    return bool(ok)  # one synchronisation


def _per_network(values: Sequence[float]) -> Tensor:
    return torch.tensor([float(v) for v in values]).view(len(values), 1, 1)


class SNNStack(nn.Module):
    """K LIF networks of layer sizes ``sizes`` side by side, one per entry of ``beta``.

    Args:
        sizes: layer sizes, inputs first (the lab's 784-10-10 by default).
        beta, v_th, z, seeds: one per network: leak factor (finite), threshold and surrogate slope (> 0), and the
            seed of its initialisation, ``U(-1/sqrt(M), 1/sqrt(M))`` as ``torch.nn.Linear``'s.
        fast: ``lif_sequence`` and, where usable, the compiled kernels; False: the step-by-step reference.
        surrogate: one name per network (``labsnn.neuron.SURROGATES``); None: the lab's ``fast_sigmoid``.
        spike_timing: ``same_step`` or ``next_step``, shared by the stack (not checked until it runs).

    Attributes:
        weights, biases: per layer, ``[K, N, M]`` and ``[K, N]``.

    Raises:
        ValueError: bad sizes, no networks, sequences of other lengths, a parameter out of range, a bad surrogate.
    """

    def __init__(
        self,
        sizes: Sequence[int] = LAB_SIZES,
        beta: Sequence[float] = (0.1,),
        v_th: Sequence[float] = (1.0,),
        z: Sequence[float] = (2.0,),
        seeds: Sequence[int] = (0,),
        fast: bool = True,
        surrogate: Sequence[str] | None = None,
        spike_timing: str = "same_step",
    ) -> None:
        super().__init__()
        self.sizes = check_sizes(sizes)
        K = len(beta)
        surrogate = list(surrogate) if surrogate is not None else ["fast_sigmoid"] * K
        if not (len(v_th) == len(z) == len(seeds) == len(surrogate) == K) or K == 0:
            raise ValueError("beta, v_th, z, seeds and surrogate need one entry per network")
        for b, v, s in zip(beta, v_th, z):
            check_lif_params(b, v, s)
        gains = [surrogate_gain(name, s) for name, s in zip(surrogate, z)]
        self.n_models, self.fast, self.spike_timing = K, fast, spike_timing
        self.weights = nn.ParameterList()
        self.biases = nn.ParameterList()
        for M, N in zip(self.sizes[:-1], self.sizes[1:]):
            self.weights.append(nn.Parameter(torch.empty(K, N, M)))
            self.biases.append(nn.Parameter(torch.empty(K, N)))
        for k, seed in enumerate(seeds):
            generator = torch.Generator().manual_seed(int(seed))
            for weight, bias in zip(self.weights, self.biases):
                bound = weight.shape[2] ** -0.5  # torch.nn.Linear's default: U(-1/sqrt(M), 1/sqrt(M))
                with torch.no_grad():
                    weight[k].uniform_(-bound, bound, generator=generator)
                    bias[k].uniform_(-bound, bound, generator=generator)
        for name, values in (("beta", beta), ("v_th", v_th), ("z", z)):
            self.register_buffer(name, _per_network(values), persistent=False)
        # the lab's surrogate multiplies by no gain; a stack that mixes in the scaled one
        # multiplies every network's by its own (1.0 is exact), so a run is the same stacked or alone
        has_gain = any(g is not None for g in gains)
        self.register_buffer(
            "gain", _per_network([1.0 if g is None else g for g in gains]) if has_gain else None, persistent=False
        )

    def _compiled(self, tensor: Tensor) -> bool:
        """The compiled kernels run for this fast stack on ``tensor``'s device and dtype."""
        return self.fast and fused.usable(tensor.device, tensor.dtype)

    def layer_currents(self, layer: int, inputs: Tensor | BernoulliSpikes, columns: Tensor | None = None) -> Tensor:
        """Currents ``[K, T, B, N]`` of layer ``layer``: one ``F.linear`` per network keeps their arithmetic apart.

        Args:
            layer: the layer's index, from 0.
            inputs: layer 0: ``[T, B, M]`` shared (``[T, B, U]`` with ``columns``), or ``BernoulliSpikes``, summed
                over the spikes by ``fused.event_linear`` where compiled; a later layer: ``[K, T, B, M]``.
            columns: layer 0's input columns ``[U]`` that ``inputs`` holds, ascending.
        """
        weight, bias = self.weights[layer], self.biases[layer]
        if isinstance(inputs, BernoulliSpikes):
            if self._compiled(weight):
                return fused.event_linear(inputs, weight, bias)
            inputs = inputs.dense()
        if layer == 0:
            if columns is not None:
                weight = weight.index_select(2, columns)
            source = distinct_steps(inputs)
            current = torch.stack([F.linear(source, w, b) for w, b in zip(weight, bias)])
            return current.expand(-1, inputs.shape[0], -1, -1)
        return torch.stack([F.linear(x, w, b) for x, w, b in zip(inputs, weight, bias)])

    def forward(self, inputs: Tensor | BernoulliSpikes, columns: Tensor | None = None) -> StackOutput:
        """Runs the K networks on one shared input sequence.

        Args:
            inputs: ``[T, B, M]``; with ``columns``, ``[T, B, U]`` holding only those, the others 0 at every step (a
                batch's blank pixels need no arithmetic); or ``BernoulliSpikes`` ``[T, B, M]`` (no ``columns``), run
                through the compiled stack (``fused.stack_forward``) where it is usable, else densely.
            columns: the ascending int32 or int64 indices ``[U]``, in ``[0, M)``, of the columns ``inputs`` holds.

        Returns:
            ``StackOutput``: each layer's spikes and membrane ``[K, T, B, N]``; on the compiled stack only the last
            layer's spikes carry a gradient (the losses read them).

        Raises:
            ValueError: ``inputs`` of another shape, ``BernoulliSpikes`` with ``columns``, or bad ``columns``.
        """
        M = self.sizes[0]
        width = M if columns is None else columns.numel()
        if isinstance(inputs, BernoulliSpikes):
            if columns is not None or inputs.shape[2] != M:
                raise ValueError(f"BernoulliSpikes input needs shape [T, B, {M}] and no columns")
            if self._compiled(self.weights[0]):
                params = fused.LIFParams.of(self.beta, self.v_th, self.z, self.gain, self.spike_timing)
                return StackOutput(*fused.stack_forward(inputs, list(self.weights), list(self.biases), params))
        elif inputs.dim() != 3 or inputs.shape[2] != width:
            raise ValueError(f"inputs must have shape [T, B, {width}], got {list(inputs.shape)}")
        if columns is not None and not _ascending_indices(columns, M):
            raise ValueError(f"columns must be ascending integer indices in [0, {M}), got {columns}")
        hidden, layer_spikes, membranes = inputs, [], []
        for layer in range(len(self.sizes) - 1):
            hidden, membrane = self.layer_spikes(self.layer_currents(layer, hidden, columns))
            layer_spikes.append(hidden)
            membranes.append(membrane)
        return StackOutput(layer_spikes, membranes)

    def layer_spikes(self, currents: Tensor) -> tuple[Tensor, Tensor]:
        """Every network's LIF layer fed ``currents [K, T, B, N]``; compiled (``fused.lif_stack``) where usable.

        Returns:
            ``(spikes, membrane)``, each ``[K, T, B, N]``: spikes contiguous, membrane without gradient if ``fast``.
        """
        if self._compiled(currents):
            return fused.lif_stack(currents, self.beta, self.v_th, self.z, self.gain, self.spike_timing)
        lif = lif_sequence if self.fast else lif_sequence_reference
        spikes, membrane = lif(currents.transpose(0, 1), self.beta, self.v_th, self.z, self.gain, self.spike_timing)
        return spikes.transpose(0, 1).contiguous(), membrane.transpose(0, 1)


class SNN(nn.Module):
    """One LIF network: a one-network ``SNNStack`` (``self.stack``) underneath.

    Args:
        sizes, fast, spike_timing: as in ``SNNStack``, which raises the same ValueErrors.
        beta, v_th, z, seed, surrogate: the network's leak, threshold, slope, initialisation seed and surrogate.
    """

    def __init__(
        self,
        sizes: Sequence[int] = LAB_SIZES,
        beta: float = 0.1,
        v_th: float = 1.0,
        z: float = 2.0,
        seed: int = 0,
        fast: bool = True,
        surrogate: str = "fast_sigmoid",
        spike_timing: str = "same_step",
    ) -> None:
        super().__init__()
        self.stack = SNNStack(sizes, (beta,), (v_th,), (z,), (seed,), fast, (surrogate,), spike_timing)
        self.sizes = self.stack.sizes

    def forward(self, inputs: Tensor, columns: Tensor | None = None) -> Tensor:
        """Output spikes ``[T, B, C]`` of ``inputs [T, B, M]`` (``inputs``, ``columns``: as ``SNNStack.forward``)."""
        return self.stack(inputs, columns).spikes[0]


class ANN(nn.Sequential):
    """The ANN of the same sizes: Linear layers with ReLU between them, logits out (``[B, M]`` to ``[B, C]``).

    Args:
        sizes: layer sizes, inputs first.

    Raises:
        ValueError: ``sizes`` is not two or more positive integers.
    """

    def __init__(self, sizes: Sequence[int] = LAB_SIZES) -> None:
        sizes = check_sizes(sizes)
        layers: list[nn.Module] = []
        for M, N in zip(sizes[:-1], sizes[1:]):
            layers += [nn.Linear(M, N), nn.ReLU()]
        super().__init__(*layers[:-1])
        self.sizes = sizes
