"""Fully connected LIF networks (the lab's 784-10-10 by default) and their ANN reference.

Each layer is ``I = W x + b`` followed by a LIF layer (``labsnn.dynamics.neuron``). ``SNNStack`` holds K such networks of
the same sizes with stacked weights, each with its own ``beta``, ``V_th``, ``z``, surrogate and initialisation seed,
fed one shared input sequence: a sweep over the neuron's hyperparameters trains as one model. Network ``k`` computes
exactly what it would compute alone, bit for bit, forward and backward: every product is network ``k``'s own (its
own ``F.linear``, or its own sums in fixed order in the compiled kernels) and everything else is elementwise
(``tests/test_model.py`` and ``tests/test_train.py`` check it). A stack reads as its layers, ``fc1``, ``lif1``,
``fc2``, ``lif2`` (``StackedLinear`` and ``StackedLIF``), each of which computes on its own with the readable torch
code; the stack's ``forward`` is ``labsnn.engine.stack``'s pass on the run's backend (the compiled loops or torch's,
events or dense input), which on the torch backend computes what the layers do. What is measured of a forward pass (rates for the FLOPs formula, diagnostics) is computed by its consumers
from ``StackOutput`` (``labsnn.running.measure``).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import torch
from torch import Tensor, nn

from labsnn.dynamics.neuron import LIFParameters, check_lif_params, surrogate_gain
from labsnn.engine import reference, stack
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


def _shown(values: Tensor) -> list[float]:
    return [float(f"{float(v):.6g}") for v in values.flatten()]


class StackedLinear(nn.Module):
    """K fully connected layers side by side: network ``k``'s currents are ``weight[k] x + bias[k]``.

    Args:
        in_features, out_features: the layer's M inputs and N outputs.
        networks: K, how many networks the stack holds.

    Attributes:
        weight, bias: ``[K, N, M]`` and ``[K, N]`` (network ``k``'s are ``torch.nn.Linear``'s ``weight`` and ``bias``).
    """

    def __init__(self, in_features: int, out_features: int, networks: int) -> None:
        super().__init__()
        self.weight = nn.Parameter(torch.empty(networks, out_features, in_features))
        self.bias = nn.Parameter(torch.empty(networks, out_features))

    def reset_parameters(self, network: int, generator: torch.Generator) -> None:
        """Draws network ``network``'s weight, then bias, from ``U(-1/sqrt(M), 1/sqrt(M))`` (``torch.nn.Linear``'s)."""
        bound = self.weight.shape[2] ** -0.5
        with torch.no_grad():
            self.weight[network].uniform_(-bound, bound, generator=generator)
            self.bias[network].uniform_(-bound, bound, generator=generator)

    def forward(self, x: Tensor) -> Tensor:
        """Currents ``[K, T, B, N]`` of ``x``: ``[K, T, B, M]``, one input per network, or ``[T, B, M]`` shared."""
        if x.dim() == 3:
            x = x.expand(self.weight.shape[0], *x.shape)
        return reference.dense_currents(x, self.weight, self.bias)

    def extra_repr(self) -> str:
        """The layer's sizes and width, shown by ``repr``."""
        K, N, M = self.weight.shape
        return f"in_features={M}, out_features={N}, networks={K}"


class StackedLIF(nn.Module):
    """A LIF layer of each of K networks: ``V[t+1] = beta*V[t] + I[t] - S[t]*V_th``, ``S = H(V - V_th)``, each
    network with its own parameters (``labsnn.dynamics.neuron.lif_step``).

    Args:
        beta, v_th, z: one per network: leak factor (finite), threshold and surrogate slope (> 0).
        surrogate: one name per network (``labsnn.dynamics.neuron.SURROGATES``).
        spike_timing: ``same_step`` or ``next_step``, shared (not checked until it runs).

    Attributes:
        beta, v_th, z, gain: ``[K, 1, 1]``; ``gain`` None where every network has the lab's surrogate.

    Raises:
        ValueError: a parameter out of range or a bad surrogate.
    """

    def __init__(
        self,
        beta: Sequence[float],
        v_th: Sequence[float],
        z: Sequence[float],
        surrogate: Sequence[str],
        spike_timing: str = "same_step",
    ) -> None:
        super().__init__()
        for b, v, s in zip(beta, v_th, z):
            check_lif_params(b, v, s)
        gains = [surrogate_gain(name, s) for name, s in zip(surrogate, z)]
        self.surrogate, self.spike_timing = list(surrogate), spike_timing
        for name, values in (("beta", beta), ("v_th", v_th), ("z", z)):
            self.register_buffer(name, _per_network(values), persistent=False)
        # the lab's surrogate multiplies by no gain; a stack that mixes in the scaled one
        # multiplies every network's by its own (1.0 is exact), so a run is the same stacked or alone
        has_gain = any(g is not None for g in gains)
        self.register_buffer(
            "gain", _per_network([1.0 if g is None else g for g in gains]) if has_gain else None, persistent=False
        )

    def parameters_per_network(self) -> LIFParameters:
        """The parameters as ``labsnn.dynamics.neuron.lif_sequence`` takes them, ``[K, 1, 1]`` each."""
        return LIFParameters(self.beta, self.v_th, self.z, self.gain)

    def forward(self, currents: Tensor) -> tuple[Tensor, Tensor]:
        """Spikes and membrane ``[K, T, B, N]`` of ``currents [K, T, B, N]``, by the readable recurrence."""
        return stack.lif_layer(currents, self.parameters_per_network(), self.spike_timing, "torch")

    def extra_repr(self) -> str:
        """The parameters per network and the spike timing, shown by ``repr``."""
        return (
            f"beta={_shown(self.beta)}, v_th={_shown(self.v_th)}, z={_shown(self.z)}, surrogate={self.surrogate}, "
            f"spike_timing={self.spike_timing}"
        )


class SNNStack(nn.Module):
    """K LIF networks of layer sizes ``sizes`` side by side, one per entry of ``beta``.

    Layer ``l`` is ``fc{l}`` (a ``StackedLinear``) followed by ``lif{l}`` (a ``StackedLIF``). The lab's layers share
    their neurons' parameters, so every ``lif{l}`` is one module. On the torch backend ``forward`` computes what
    the layers compute one after the other (``x = lif1(fc1(x))[0]``, then ``fc2``, ...), bit for bit.

    Args:
        sizes: layer sizes, inputs first (the lab's 784-10-10 by default).
        beta, v_th, z, seeds: one per network: leak factor (finite), threshold and surrogate slope (> 0), and the
            seed of its initialisation, ``U(-1/sqrt(M), 1/sqrt(M))`` as ``torch.nn.Linear``'s.
        surrogate: one name per network (``labsnn.dynamics.neuron.SURROGATES``); None: the lab's ``fast_sigmoid``.
        spike_timing: ``same_step`` or ``next_step``, shared by the stack (not checked until it runs).
        backend: the loops its passes run: ``torch`` (the default: the readable step-by-step recurrence of
            ``labsnn.dynamics.neuron``, on any device), ``compiled`` (the C loops, CPU only) or ``auto`` (compiled
            where they load); a run hands in the one it resolved (``labsnn.engine.backend``).

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
        self.n_models = K
        neurons = StackedLIF(beta, v_th, z, surrogate, spike_timing)
        for layer, (M, N) in enumerate(zip(self.sizes[:-1], self.sizes[1:]), start=1):
            self.add_module(f"fc{layer}", StackedLinear(M, N, K))
            self.add_module(f"lif{layer}", neurons)
        for k, seed in enumerate(seeds):
            generator = torch.Generator().manual_seed(int(seed))
            for linear in self.linears:
                linear.reset_parameters(k, generator)

    @property
    def linears(self) -> list[StackedLinear]:
        """The layers' ``StackedLinear`` modules, ``fc1`` first."""
        return [getattr(self, f"fc{layer}") for layer in range(1, len(self.sizes))]

    @property
    def neurons(self) -> StackedLIF:
        """The LIF layers' one module (``lif1``, ``lif2``, ...)."""
        return self.lif1

    @property
    def spike_timing(self) -> str:
        """``same_step`` or ``next_step``: what each step of the LIF layers reports."""
        return self.neurons.spike_timing

    def extra_repr(self) -> str:
        """The stack's sizes, width and backend, shown by ``repr``."""
        return f"sizes={'-'.join(map(str, self.sizes))}, networks={self.n_models}, backend={self.backend}"

    def params(self) -> StackParams:
        """The stack's parameters, as the engine's passes take them (``labsnn.engine.stack``)."""
        lif = self.neurons
        return StackParams(
            [linear.weight for linear in self.linears],
            [linear.bias for linear in self.linears],
            lif.beta,
            lif.v_th,
            lif.z,
            lif.gain,
            lif.spike_timing,
            self.backend,
        )

    def forward(self, inputs: Tensor) -> StackOutput:
        """Runs the K networks on one shared input sequence ``inputs [T, B, M]``, on the stack's backend.

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
