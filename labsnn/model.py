"""Fully connected LIF networks (the lab's 784-10-10 by default) and their ANN reference.

Each layer is ``I = W x + b`` followed by a LIF layer (``labsnn.dynamics.neuron``). ``SNNStack`` holds K such networks of
the same sizes with stacked weights, each with its own ``beta``, ``V_th``, ``z``, surrogate and initialisation seed,
fed one shared input sequence: a sweep over the neuron's hyperparameters trains as one model. Network ``k`` computes
exactly what it would compute alone, bit for bit, forward and backward: every product is network ``k``'s own (its
own ``F.linear``, or its own sums in fixed order in the compiled kernels) and everything else is elementwise
(``tests/test_model.py`` and ``tests/test_train.py`` check it). The modules hold parameters only: how a pass
computes (the compiled loops or torch's, events or dense input) is ``labsnn.engine.stack``'s, behind the run's
backend. What is measured of a forward pass (rates for the FLOPs formula, diagnostics) is computed by its consumers
from ``StackOutput`` (``labsnn.running.measure``).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import torch
from torch import Tensor, nn

from labsnn.dynamics.neuron import check_lif_params, surrogate_gain
from labsnn.engine import stack
from labsnn.engine.stack import StackParams
from labsnn.names import BACKENDS, LAB_SIZES
from labsnn.validation import check_sizes, lookup


@dataclass
class StackOutput:
    """What ``SNNStack.forward`` computes, network first.

    Attributes:
        layer_spikes: each layer's spikes ``[K, T, B, N]`` (on the compiled stack only the last carry a gradient).
        membranes: each layer's membrane ``[K, T, B, N]`` (without gradient, except on the reference path).
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


def _per_network(values: Sequence[float]) -> Tensor:
    return torch.tensor([float(v) for v in values]).view(len(values), 1, 1)


class SNNStack(nn.Module):
    """K LIF networks of layer sizes ``sizes`` side by side, one per entry of ``beta``.

    Args:
        sizes: layer sizes, inputs first (the lab's 784-10-10 by default).
        beta, v_th, z, seeds: one per network: leak factor (finite), threshold and surrogate slope (> 0), and the
            seed of its initialisation, ``U(-1/sqrt(M), 1/sqrt(M))`` as ``torch.nn.Linear``'s.
        surrogate: one name per network (``labsnn.dynamics.neuron.SURROGATES``); None: the lab's ``fast_sigmoid``.
        spike_timing: ``same_step`` or ``next_step``, shared by the stack (not checked until it runs).
        backend: the loops its passes run: ``torch`` (the default: the readable step-by-step recurrence of
            ``labsnn.dynamics.neuron``, on any device), ``compiled`` (the C loops, CPU only) or ``auto`` (compiled
            where they load); a run hands in the one it resolved (``labsnn.engine.backend``).

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
        surrogate: Sequence[str] | None = None,
        spike_timing: str = "same_step",
        backend: str = "torch",
    ) -> None:
        super().__init__()
        self.sizes = check_sizes(sizes)
        lookup("backend", dict.fromkeys(BACKENDS), backend)
        self.backend = backend
        K = len(beta)
        surrogate = list(surrogate) if surrogate is not None else ["fast_sigmoid"] * K
        if not (len(v_th) == len(z) == len(seeds) == len(surrogate) == K) or K == 0:
            raise ValueError("beta, v_th, z, seeds and surrogate need one entry per network")
        for b, v, s in zip(beta, v_th, z):
            check_lif_params(b, v, s)
        gains = [surrogate_gain(name, s) for name, s in zip(surrogate, z)]
        self.n_models, self.spike_timing = K, spike_timing
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

    def extra_repr(self) -> str:
        """The stack's sizes, LIF parameters per network, spike timing and backend, shown by ``repr``."""

        def per_network(values: Tensor) -> list[float]:
            return [float(f"{float(v):.6g}") for v in values.flatten()]

        return (
            f"sizes={'-'.join(map(str, self.sizes))}, networks={self.n_models}, beta={per_network(self.beta)}, "
            f"v_th={per_network(self.v_th)}, z={per_network(self.z)}, spike_timing={self.spike_timing}, "
            f"backend={self.backend}"
        )

    def params(self) -> StackParams:
        """The stack's parameters, as the engine's passes take them (``labsnn.engine.stack``)."""
        return StackParams(
            list(self.weights),
            list(self.biases),
            self.beta,
            self.v_th,
            self.z,
            self.gain,
            self.spike_timing,
            self.backend,
        )

    def forward(self, inputs: Tensor) -> StackOutput:
        """Runs the K networks on one shared input sequence ``inputs [T, B, M]``.

        Returns:
            ``StackOutput``: each layer's spikes and membrane (no gradient) ``[K, T, B, N]``.

        Raises:
            ValueError: ``inputs`` of another shape.
        """
        return StackOutput(*stack.forward(self.params(), inputs))


class SNN(nn.Module):
    """One LIF network: a one-network ``SNNStack`` (``self.stack``) underneath.

    Args:
        sizes, spike_timing, backend: as in ``SNNStack``, which raises the same ValueErrors.
        beta, v_th, z, seed, surrogate: the network's leak, threshold, slope, initialisation seed and surrogate.
    """

    def __init__(
        self,
        sizes: Sequence[int] = LAB_SIZES,
        beta: float = 0.1,
        v_th: float = 1.0,
        z: float = 2.0,
        seed: int = 0,
        surrogate: str = "fast_sigmoid",
        spike_timing: str = "same_step",
        backend: str = "torch",
    ) -> None:
        super().__init__()
        self.stack = SNNStack(sizes, (beta,), (v_th,), (z,), (seed,), (surrogate,), spike_timing, backend)
        self.sizes = self.stack.sizes

    def forward(self, inputs: Tensor) -> Tensor:
        """Output spikes ``[T, B, C]`` of ``inputs [T, B, M]``."""
        return self.stack(inputs).spikes[0]


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
