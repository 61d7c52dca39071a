"""Fully connected LIF networks (the lab's 784-10-10 by default) and their ANN reference.

Each layer is ``I = W x + b`` followed by a LIF layer (``labsnn.neuron``). ``SNNStack``
holds K such networks of the same sizes with stacked weights, each with its own
``beta``, ``V_th``, ``z`` and initialisation seed, fed one shared input sequence: a sweep
over the neuron's hyperparameters trains as one model. Network ``k`` computes exactly
what it would compute alone, bit for bit, forward and backward: every matrix product is
network ``k``'s own product on contiguous operands, the same call it makes alone, and
everything else is elementwise (``tests/test_model.py`` and ``tests/test_train.py`` check it).
"""

from __future__ import annotations

from dataclasses import dataclass, field
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

    ``spikes``: output spikes ``[K, T, B, C]`` (network first). ``input_rates[l]``: mean value of layer
    ``l``'s input at each step, ``[T, K]`` (the F of the FLOPs formula).
    ``finite``: ``[K]``, False where a network's membrane became NaN or infinite.
    ``first_input``: the first layer's distinct input steps, flattened ``[T or 1, B*U]`` (U
    columns given, of ``first_width = B*M`` values in all); in training this is a view of
    the input buffer, valid until the next batch is encoded.
    """

    spikes: Tensor
    input_rates: list[Tensor]
    finite: Tensor
    first_input: Tensor = field(repr=False)
    first_width: int

    @property
    def input_active(self) -> list[Tensor]:
        """Fraction of nonzero inputs of each layer at each step, ``[T, K]``, computed on
        demand (training needs only the rates). Spikes are binary, so past the first
        layer it is the rate."""
        T, K = self.input_rates[0].shape
        # in slices of about 2^20 values: one temporary the size of the input costs more
        # (fresh pages) than the comparison itself; count_nonzero and bool sums are slower still
        rows = max(1, (1 << 20) // max(self.first_input.shape[1], 1))
        with torch.no_grad():
            counts = [torch.ne(part, 0, out=torch.empty_like(part)).sum(dim=1) for part in self.first_input.split(rows)]
            nonzero = torch.cat(counts) / self.first_width
        return [nonzero.expand(T).unsqueeze(1).expand(T, K), *self.input_rates[1:]]

    def firing_rates(self) -> Tensor:
        """Output firing rate (spike count / T) of each network, ``[K, B, C]``."""
        return torch.stack([spikes.mean(dim=0) for spikes in self.spikes])


def _distinct_steps(inputs: Tensor) -> Tensor:
    """``inputs [T, ...]`` without its repeats: the first step alone when the encoder
    returned one step expanded over time (stride 0), else ``inputs``."""
    return inputs[:1] if inputs.shape[0] > 1 and inputs.stride(0) == 0 else inputs


def _ascending_indices(columns: Tensor, bound: int) -> bool:
    """True when ``columns`` is a 1-D integer tensor, strictly ascending, within [0, bound)."""
    if columns.dim() != 1 or columns.dtype not in (torch.int32, torch.int64):
        return False
    if columns.numel() == 0:
        return True
    ok = (columns[1:] > columns[:-1]).all() & (columns[0] >= 0) & (columns[-1] < bound)
    return bool(ok)  # one synchronisation


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
            per_network = torch.tensor([float(v) for v in values]).view(K, 1, 1)
            self.register_buffer(name, per_network, persistent=False)

    def _currents(self, layer: int, inputs: Tensor, columns: Tensor | None = None) -> Tensor:
        """Currents ``[K, T, B, N]`` of every network; ``inputs`` is ``[T, B, M]`` shared
        (layer 0, only the input ``columns`` when given) or ``[K, T, B, M]``. One
        ``F.linear`` per network keeps each network's arithmetic independent of the others
        in the stack."""
        weight, bias = self.weights[layer], self.biases[layer]
        if layer == 0:
            if columns is not None:
                weight = weight.index_select(2, columns)
            source = _distinct_steps(inputs)
            current = torch.stack([F.linear(source, w, b) for w, b in zip(weight, bias)])
            return current.expand(-1, inputs.shape[0], -1, -1)
        return torch.stack([F.linear(x, w, b) for x, w, b in zip(inputs, weight, bias)])

    def forward(self, inputs: Tensor, columns: Tensor | None = None) -> StackOutput:
        """``inputs [T, B, sizes[0]]`` shared by the K networks; or, with ``columns`` (the
        ascending indices of U input columns), ``inputs [T, B, U]`` holding only those
        columns, the others being 0 at every step: a batch's blank pixels need no
        arithmetic. Rates and counts are over all ``sizes[0]`` columns either way."""
        M = self.sizes[0]
        width = M if columns is None else columns.numel()
        if inputs.dim() != 3 or inputs.shape[2] != width:
            raise ValueError(f"inputs must have shape [T, B, {width}], got {list(inputs.shape)}")
        if columns is not None and not _ascending_indices(columns, M):
            raise ValueError(f"columns must be ascending integer indices in [0, {M}), got {columns}")
        K = self.n_models
        T, B = inputs.shape[:2]
        lif = lif_sequence if self.fast else lif_sequence_reference
        finite = torch.ones(K, dtype=torch.bool, device=inputs.device)
        with torch.no_grad():
            distinct = _distinct_steps(inputs).flatten(start_dim=1)
            rates = [(distinct.sum(dim=1) / (B * M)).expand(T).unsqueeze(1).expand(T, K)]
        hidden = inputs
        for layer in range(len(self.sizes) - 1):
            if layer > 0:
                with torch.no_grad():
                    rates.append(hidden.mean(dim=(2, 3)).T)
            currents = self._currents(layer, hidden, columns).transpose(0, 1)  # [T, K, B, N]
            spikes, membrane = lif(currents, self.beta, self.v_th, self.z)
            hidden = spikes.transpose(0, 1).contiguous()  # [K, T, B, N]
            with torch.no_grad():
                finite &= torch.isfinite(membrane).transpose(0, 1).reshape(K, -1).all(dim=1)
        return StackOutput(hidden, rates, finite, distinct, B * M)


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

    def forward_with_rates(self, inputs: Tensor, columns: Tensor | None = None) -> tuple[Tensor, list[Tensor]]:
        out = super().forward(inputs, columns)
        return out.spikes[0], [rate[:, 0] for rate in out.input_rates]

    def forward(self, inputs: Tensor, columns: Tensor | None = None) -> Tensor:  # type: ignore[override]
        return self.forward_with_rates(inputs, columns)[0]


class ANN(nn.Sequential):
    """The ANN of the same sizes: Linear layers with ReLU between them, logits out."""

    def __init__(self, sizes: Sequence[int] = LAB_SIZES) -> None:
        sizes = check_sizes(sizes)
        layers: list[nn.Module] = []
        for M, N in zip(sizes[:-1], sizes[1:]):
            layers += [nn.Linear(M, N), nn.ReLU()]
        super().__init__(*layers[:-1])
        self.sizes = sizes
