"""FLOPs of the lab's fully connected networks (section 4.3) and, separately, synaptic
operations and an energy estimate.

The lab's formulas, for a layer of M inputs and N outputs:

- ANN, one forward pass: ``(2M - 1)N + 2N``.
- SNN, one step: ``(2MF - 1)N + 2N`` with ``F`` the mean value (firing rate) of the
  layer's input at that step; a forward pass sums this over the ``T`` steps.

Beyond the lab: synaptic operations counted per nonzero input, as multiply-accumulates
(MAC, real-valued input) or accumulates (AC, binary spike input), priced with
45 nm CMOS energies (Horowitz, ISSCC 2014: 32-bit float MAC 4.6 pJ, add 0.9 pJ).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

import torch
from torch import Tensor

from labsnn.validation import check_sizes

MAC_ENERGY_PJ = 4.6
AC_ENERGY_PJ = 0.9


def ann_layer_flops(M: int, N: int) -> int:
    """The lab's FLOPs of one dense layer's forward pass, ``(2M - 1)N + 2N``.

    Args:
        M: inputs of the layer.
        N: outputs of the layer.

    Returns:
        The FLOPs, an int.
    """
    return (2 * M - 1) * N + 2 * N


def ann_flops(sizes: Sequence[int]) -> int:
    """The lab's FLOPs of one ANN forward pass: ``ann_layer_flops`` summed over the layers.

    Args:
        sizes: layer sizes, inputs first (e.g. 784-10-10, which gives 15,900).

    Returns:
        The FLOPs, an int.

    Raises:
        ValueError: ``sizes`` is not two or more positive integers.
    """
    sizes = check_sizes(sizes)
    return sum(ann_layer_flops(M, N) for M, N in zip(sizes[:-1], sizes[1:]))


def snn_layer_flops(M: int, N: int, F: float) -> float:
    """The lab's FLOPs of one layer at one step, ``(2MF - 1)N + 2N``.

    Args:
        M: inputs of the layer.
        N: outputs of the layer.
        F: mean value (firing rate, in [0, 1] for spikes) of the layer's input at that step; a tensor of
            rates gives one value per element.

    Returns:
        The FLOPs (a tensor where ``F`` is one).
    """
    return (2 * M * F - 1) * N + 2 * N


def snn_flops(sizes: Sequence[int], rates: Sequence[Sequence[float]] | Tensor) -> float:
    """The lab's FLOPs of one SNN forward pass, ``sum_t sum_l snn_layer_flops(M_l, N_l, F[l][t])``.

    Args:
        sizes: layer sizes, inputs first.
        rates: ``[layers, T]``: ``rates[l][t]`` is the firing rate of layer ``l``'s input at step ``t``.

    Returns:
        The FLOPs summed over layers and steps.

    Raises:
        ValueError: ``sizes`` is not two or more positive integers, or ``rates`` is not ``[layers, T]``.
    """
    sizes = check_sizes(sizes)
    rates = torch.as_tensor(rates, dtype=torch.float64)
    if rates.dim() != 2 or rates.shape[0] != len(sizes) - 1:
        raise ValueError(f"rates must be [layers={len(sizes) - 1}, T], got shape {list(rates.shape)}")
    return float(sum(snn_layer_flops(M, N, F).sum() for (M, N), F in zip(zip(sizes[:-1], sizes[1:]), rates)))


@dataclass(frozen=True)
class SynapticOps:
    """Synaptic operations of one forward pass and their energy in picojoules.

    Attributes:
        macs: multiply-accumulates (real-valued inputs).
        acs: accumulates (binary spike inputs).
    """

    macs: float
    acs: float

    @property
    def energy_pj(self) -> float:
        """Energy in picojoules: ``MAC_ENERGY_PJ`` per MAC plus ``AC_ENERGY_PJ`` per AC (45 nm CMOS)."""
        return self.macs * MAC_ENERGY_PJ + self.acs * AC_ENERGY_PJ


def ann_synaptic_ops(sizes: Sequence[int]) -> SynapticOps:
    """Synaptic operations of one ANN forward pass: ``M * N`` MACs per dense layer, no ACs.

    Args:
        sizes: layer sizes, inputs first.

    Returns:
        The ``SynapticOps``.

    Raises:
        ValueError: ``sizes`` is not two or more positive integers.
    """
    sizes = check_sizes(sizes)
    return SynapticOps(macs=float(sum(M * N for M, N in zip(sizes[:-1], sizes[1:]))), acs=0.0)


def dense_synaptic_ops(sizes: Sequence[int], T: int) -> float:
    """Synaptic operations of one SNN forward pass counting every input, zero or not: ``T * sum_l M_l * N_l``
    (NeuroBench's ``Dense``; biases are not synaptic operations).

    Args:
        sizes: layer sizes, inputs first; T: time steps.

    Raises:
        ValueError: ``sizes`` is not two or more positive integers.
    """
    sizes = check_sizes(sizes)
    return float(T * sum(M * N for M, N in zip(sizes[:-1], sizes[1:])))


def snn_synaptic_ops(
    sizes: Sequence[int], active: Sequence[Sequence[float]] | Tensor, binary: Sequence[bool]
) -> SynapticOps:
    """Synaptic operations of one SNN forward pass, ``sum_t sum_l active[l][t] * M_l * N_l``.

    Only nonzero inputs cost an operation: ACs where layer ``l``'s input is binary (spikes), MACs where it is
    real-valued.

    Args:
        sizes: layer sizes, inputs first.
        active: ``[layers, T]``: the fraction of layer ``l``'s inputs that are nonzero at step ``t``.
        binary: one flag per layer, True where its input is binary.

    Returns:
        The ``SynapticOps``.

    Raises:
        ValueError: ``sizes`` is not two or more positive integers.
    """
    sizes = check_sizes(sizes)
    active = torch.as_tensor(active, dtype=torch.float64)
    macs = acs = 0.0
    for (M, N), fraction, is_binary in zip(zip(sizes[:-1], sizes[1:]), active, binary):
        ops = float(fraction.sum()) * M * N
        if is_binary:
            acs += ops
        else:
            macs += ops
    return SynapticOps(macs=macs, acs=acs)


@dataclass
class FlopsMeter:
    """Accumulates the per-step input rates of every layer over forward passes, for K networks.

    Each pass is weighted by its batch size. The lab averages F over batches, then applies the (linear)
    FLOPs formula. Each network's numbers are kept as one contiguous block, ``[K, layers, T]``: a sum over a
    strided slice is ordered differently from one over a contiguous row, so a network's FLOPs would otherwise
    depend on how many networks share the meter.

    Attributes:
        sizes: layer sizes, inputs first.
        count: images seen so far.
    """

    sizes: tuple[int, ...]
    _rates: Tensor | None = field(default=None, repr=False)
    _active: Tensor | None = field(default=None, repr=False)
    _binary: Tensor | None = field(default=None, repr=False)
    count: int = 0

    def update(self, input_rates: Sequence[Tensor], input_active: Sequence[Tensor] | None, batch_size: int) -> None:
        """Adds one forward pass.

        Args:
            input_rates: one ``[T, K]`` per layer, the mean value of its input at each step
                (``labsnn.running.measure.input_rates``).
            input_active: one ``[T, K]`` per layer, the fraction of its inputs that are nonzero
                (``labsnn.running.measure.input_active``); needed only for ``synaptic_ops``, else None.
            batch_size: images in the pass (its weight).
        """
        rates = _by_network(input_rates) * batch_size
        self._rates = rates if self._rates is None else self._rates + rates
        if input_active is not None:
            active = _by_network(input_active) * batch_size
            binary = (rates == active).all(dim=2).all(dim=0)
            self._active = active if self._active is None else self._active + active
            self._binary = binary if self._binary is None else self._binary & binary
        self.count += batch_size

    def mean_rates(self) -> Tensor:
        """Mean input rate of each layer at each step over the images seen, ``[K, layers, T]`` (float64).

        Raises:
            ValueError: no forward pass was added.
        """
        if self._rates is None:
            raise ValueError("FlopsMeter has seen no forward pass")
        return self._rates / self.count

    def snn_flops(self) -> list[float]:
        """Average SNN FLOPs per forward pass (``snn_flops`` of the mean rates), one value per network.

        Raises:
            ValueError: no forward pass was added.
        """
        rates = self.mean_rates()
        return [snn_flops(self.sizes, network) for network in rates]

    def synaptic_ops(self) -> list[SynapticOps]:
        """Average synaptic operations per forward pass, one ``SynapticOps`` per network.

        A layer's input counts as binary when its mean value equals its nonzero fraction in every pass. The
        averages are right when every pass came with ``input_active``.

        Raises:
            ValueError: no pass came with ``input_active``.
        """
        if self._active is None or self._binary is None:
            raise ValueError("FlopsMeter was updated without nonzero fractions (input_active)")
        active = self._active / self.count
        binary = [bool(b) for b in self._binary]
        return [snn_synaptic_ops(self.sizes, network, binary) for network in active]


def _by_network(per_layer: Sequence[Tensor]) -> Tensor:
    """Layers' ``[T, K]`` values as one float64 CPU tensor ``[K, layers, T]``, each network's block contiguous."""
    return torch.stack([values.detach().double().cpu() for values in per_layer]).permute(2, 0, 1).contiguous()
