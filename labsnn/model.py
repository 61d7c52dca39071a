"""Fully connected LIF networks (the lab's 784-10-10 by default) and their ANN reference.

Each layer is ``I = W x + b`` followed by a LIF layer (``labsnn.neuron``). ``SNNStack``
holds K such networks of the same sizes with stacked weights, each with its own
``beta``, ``V_th``, ``z`` and initialisation seed, fed one shared input sequence: a sweep
over the neuron's hyperparameters trains as one model. Network ``k`` computes exactly
what it would compute alone (``tests/test_model.py`` checks it bit for bit).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Sequence

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from labsnn.neuron import check_lif_params, lif_sequence, lif_sequence_reference

LAB_SIZES: tuple[int, ...] = (784, 10, 10)


def check_sizes(sizes: Sequence[int]) -> tuple[int, ...]:
    """Return ``sizes`` as a tuple; at least two positive integers, else ``ValueError``."""
    sizes = tuple(sizes)
    if len(sizes) < 2 or any(isinstance(n, bool) or not isinstance(n, int) or n < 1 for n in sizes):
        raise ValueError(f"sizes must be two or more positive integers, got {sizes!r}")
    return sizes


@dataclass
class StackOutput:
    """What ``SNNStack.forward`` returns.

    ``spikes``: output spikes ``[T, B, K, C]``. ``input_rates[l]``: mean value of layer
    ``l``'s input at each step, ``[T, K]`` (the F of the FLOPs formula).
    ``input_active[l]``: fraction of nonzero inputs of layer ``l`` at each step, ``[T, K]``.
    ``finite``: ``[K]``, False where a network's membrane became NaN or infinite.
    """

    spikes: Tensor
    input_rates: list[Tensor]
    input_active: list[Tensor]
    finite: Tensor


class SNNStack(nn.Module):
    """K LIF networks of layer sizes ``sizes`` side by side, one per entry of ``beta``."""

    def __init__(
        self,
        sizes: Sequence[int] = LAB_SIZES,
        beta: Sequence[float] = (0.1,),
        v_th: Sequence[float] = (1.0,),
        z: Sequence[float] = (2.0,),
        seeds: Sequence[int] = (0,),
        fast: bool = True,
    ) -> None:
        super().__init__()
        self.sizes = check_sizes(sizes)
        K = len(beta)
        if not (len(v_th) == len(z) == len(seeds) == K) or K == 0:
            raise ValueError("beta, v_th, z and seeds need one entry per network")
        for b, v, s in zip(beta, v_th, z):
            check_lif_params(b, v, s)
        self.n_models = K
        self.fast = fast
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
            for layer, N in enumerate(self.sizes[1:]):
                per_neuron = torch.tensor([float(v) for v in values]).repeat_interleave(N)
                self.register_buffer(f"{name}_{layer}", per_neuron, persistent=False)

    def _currents(self, layer: int, inputs: Tensor) -> Tensor:
        weight, bias = self.weights[layer], self.biases[layer]
        K, N, M = weight.shape
        if layer == 0:  # one input shared by every network
            steps = inputs.shape[0]
            constant = steps > 1 and inputs.stride(0) == 0
            source = inputs[:1] if constant else inputs
            current = F.linear(source, weight.reshape(K * N, M), bias.reshape(K * N))
            return current.expand(steps, -1, -1) if constant else current
        T, B, _ = inputs.shape
        per_model = inputs.reshape(T * B, K, M)
        current = torch.einsum("rkm,knm->rkn", per_model, weight) + bias
        return current.reshape(T, B, K * N)

    def forward(self, inputs: Tensor) -> StackOutput:
        """``inputs [T, B, sizes[0]]`` shared by the K networks."""
        if inputs.dim() != 3 or inputs.shape[2] != self.sizes[0]:
            raise ValueError(f"inputs must have shape [T, B, {self.sizes[0]}], got {list(inputs.shape)}")
        K = self.n_models
        T, B = inputs.shape[:2]
        lif = lif_sequence if self.fast else lif_sequence_reference
        rates, active = [], []
        finite = torch.ones(K, dtype=torch.bool, device=inputs.device)
        hidden = inputs
        with torch.no_grad():
            constant = T > 1 and inputs.stride(0) == 0
            distinct = inputs[:1] if constant else inputs
            size = B * self.sizes[0]
            rate = distinct.sum(dim=(1, 2)) / size
            nonzero = torch.count_nonzero(distinct, dim=(1, 2)) / size
            rates.append(rate.expand(T).unsqueeze(1).expand(T, K))
            active.append(nonzero.expand(T).unsqueeze(1).expand(T, K))
        for layer, N in enumerate(self.sizes[1:]):
            if layer > 0:
                with torch.no_grad():
                    rate = hidden.detach().view(T, B, K, -1).mean(dim=(1, 3))
                rates.append(rate)
                active.append(rate)  # spikes are binary: nonzero fraction == rate
            currents = self._currents(layer, hidden)
            hidden, membrane = lif(
                currents, getattr(self, f"beta_{layer}"), getattr(self, f"v_th_{layer}"), getattr(self, f"z_{layer}")
            )
            with torch.no_grad():
                finite &= torch.isfinite(membrane.detach()).view(T, B, K, N).all(dim=3).all(dim=1).all(dim=0)
        return StackOutput(hidden.view(T, B, K, -1), rates, active, finite)


class SNN(SNNStack):
    """One LIF network: ``forward(inputs [T, B, M]) -> output spikes [T, B, C]``.

    ``forward_with_rates`` also returns each layer's input firing rate per step, ``[T]``.
    """

    def __init__(
        self,
        sizes: Sequence[int] = LAB_SIZES,
        beta: float = 0.1,
        v_th: float = 1.0,
        z: float = 2.0,
        seed: int = 0,
        fast: bool = True,
    ) -> None:
        super().__init__(sizes, (beta,), (v_th,), (z,), (seed,), fast)

    def forward_with_rates(self, inputs: Tensor) -> tuple[Tensor, list[Tensor]]:
        out = super().forward(inputs)
        return out.spikes[:, :, 0], [rate[:, 0] for rate in out.input_rates]

    def forward(self, inputs: Tensor) -> Tensor:  # type: ignore[override]
        return self.forward_with_rates(inputs)[0]


class ANN(nn.Sequential):
    """The ANN of the same sizes: Linear layers with ReLU between them, logits out."""

    def __init__(self, sizes: Sequence[int] = LAB_SIZES) -> None:
        sizes = check_sizes(sizes)
        layers: list[nn.Module] = []
        for M, N in zip(sizes[:-1], sizes[1:]):
            layers += [nn.Linear(M, N), nn.ReLU()]
        super().__init__(*layers[:-1])
        self.sizes = sizes
