"""What the training loop measures of a forward pass (``labsnn.model.StackOutput``):
the input rates of the FLOPs formula, nonzero-input fractions, finiteness, the
diagnostics that tell how a network is stuck (silent, tied, pinned to one class, frozen
or exploding), and the counts behind NeuroBench's metrics (``Activity``, ``footprint``,
``connection_sparsity``)."""

from __future__ import annotations

import torch
from torch import Tensor

from labsnn.dynamics.encoders import BernoulliSpikes
from labsnn.engine.stack import distinct_steps
from labsnn.model import StackOutput


def input_rates(inputs: Tensor | BernoulliSpikes, out: StackOutput, width: int) -> list[Tensor]:
    """Mean value of each layer's input at each step: the F of the FLOPs formula.

    Args:
        inputs: the first layer's input ``[T, B, U]`` (a tensor, possibly an expanded view, or ``BernoulliSpikes``).
        out: the stack's forward pass on ``inputs``, spikes ``[K, T, B, N]`` per layer.
        width: the first layer's full width ``sizes[0]`` (U < width when blank columns were left out).

    Returns:
        One ``[T, K]`` per layer, without gradient: the first layer's (the same for every network), then the
        firing rate of each hidden layer's spikes.
    """
    T, B = inputs.shape[:2]
    K = out.spikes.shape[0]
    with torch.no_grad():
        if isinstance(inputs, BernoulliSpikes):
            first = (inputs.counts / (B * width)).unsqueeze(1).expand(T, K)
        else:
            # image by image, then over the batch: torch splits one long sum by thread count
            distinct = distinct_steps(inputs).sum(dim=2).sum(dim=1)
            first = (distinct / (B * width)).expand(T).unsqueeze(1).expand(T, K)
        return [first, *(spikes.mean(dim=(2, 3)).T for spikes in out.layer_spikes[:-1])]


def input_active(inputs: Tensor | BernoulliSpikes, rates: list[Tensor], width: int) -> list[Tensor]:
    """Fraction of nonzero inputs of each layer at each step.

    Spikes are binary, so past the first layer, and for ``BernoulliSpikes``, it is the rate.

    Args:
        inputs: the first layer's input ``[T, B, U]`` (a tensor or ``BernoulliSpikes``).
        rates: ``input_rates`` of the same pass, one ``[T, K]`` per layer.
        width: the first layer's full width ``sizes[0]``.

    Returns:
        One ``[T, K]`` per layer.
    """
    if isinstance(inputs, BernoulliSpikes):
        return list(rates)
    T, B = inputs.shape[:2]
    distinct = distinct_steps(inputs).flatten(start_dim=1)
    # in slices of about 2^20 values: one temporary the size of the input costs more
    # (fresh pages) than the comparison itself
    rows = max(1, (1 << 20) // max(distinct.shape[1], 1))
    with torch.no_grad():
        counts = [torch.ne(part, 0, out=torch.empty_like(part)).sum(dim=1) for part in distinct.split(rows)]
        nonzero = torch.cat(counts) / (B * width)
    return [nonzero.expand(T).unsqueeze(1).expand_as(rates[0]), *rates[1:]]


def finite(out: StackOutput) -> Tensor:
    """Whether each network's membranes stayed finite.

    Args:
        out: a stack's forward pass, membranes ``[K, T, B, N]`` per layer.

    Returns:
        ``[K]`` bool: False where a network's membrane became NaN or infinite in any layer.
    """
    K = out.spikes.shape[0]
    with torch.no_grad():  # amax propagates NaN: one pass over each membrane
        largest = torch.stack([membrane.reshape(K, -1).abs().amax(dim=1) for membrane in out.membranes])
        return torch.isfinite(largest).all(dim=0)


class Diagnostics:
    """Accumulates, over test batches, what tells how a network is stuck.

    Per network: the images on which no output neuron fires at any step, the predicted class counts, the
    summed output firing rate and the largest |membrane| of any layer.

    Args:
        n_models: K, the networks in the stack.
        n_classes: C, the output neurons.
    """

    def __init__(self, n_models: int, n_classes: int) -> None:
        self.silent = torch.zeros(n_models, dtype=torch.float64)
        self.predicted = torch.zeros(n_models, n_classes, dtype=torch.float64)
        self.rate_sum = torch.zeros(n_models, dtype=torch.float64)
        self.max_membrane = torch.zeros(n_models, dtype=torch.float64)
        self.count = 0

    def update(self, out: StackOutput, rates: Tensor, predictions: Tensor) -> None:
        """Adds one batch.

        Args:
            out: the stack's forward pass on the batch, output spikes ``[K, T, B, C]``.
            rates: the output firing rates of ``out``, ``[K, B, C]``.
            predictions: the predicted classes ``[K, B]`` (int64, ``rates.argmax(dim=2)``).
        """
        K, B, C = rates.shape
        with torch.no_grad():
            self.silent += (out.spikes.sum(dim=(1, 3)) == 0).sum(dim=1).double().cpu()
            hits = torch.zeros(K, C, dtype=torch.float64, device=rates.device)
            hits.scatter_add_(1, predictions, torch.ones_like(predictions, dtype=torch.float64))
            self.predicted += hits.cpu()
            self.rate_sum += rates.double().mean(dim=2).sum(dim=1).cpu()
            for membrane in out.membranes:
                largest = membrane.abs().reshape(K, -1).amax(dim=1).double().cpu()
                self.max_membrane = torch.maximum(self.max_membrane, largest)  # NaN propagates
        self.count += B

    def values(self) -> dict[str, Tensor]:
        """The diagnostics so far, each ``[K]`` float64.

        Returns:
            ``silent_frac`` (share of images with no output spike), ``top_class_share`` (share of the
            most-predicted class), ``out_rate`` (mean output firing rate) and ``max_abs_membrane``.
        """
        n = max(self.count, 1)
        return {
            "silent_frac": self.silent / n,
            "top_class_share": self.predicted.amax(dim=1) / n,
            "out_rate": self.rate_sum / n,
            "max_abs_membrane": self.max_membrane,
        }


def max_abs_weights(weights: list[Tensor]) -> Tensor:
    """Largest |weight| of each layer and network.

    Args:
        weights: the stack's weights, ``[K, N, M]`` per layer.

    Returns:
        ``[layers, K]`` float64, on the CPU.
    """
    with torch.no_grad():
        return torch.stack([w.detach().abs().flatten(start_dim=1).amax(dim=1).double().cpu() for w in weights])


class Activity:
    """Accumulates, over test batches, what NeuroBench's workload metrics count of each network's LIF layers.

    NeuroBench (``neurobench`` 2.3, ``metrics/workload``): ActivationSparsity is the share of zero activations over
    all LIF layers, steps and samples (``ActivationSparsityByLayer``: per layer); MembraneUpdates counts, per sample,
    every neuron's membrane at the first step and, at each later step, the membranes that changed. The counts are
    integers, so they do not depend on how the work is split.

    Args:
        n_models: K, the networks in the stack.
        n_layers: the LIF layers of each network.
    """

    def __init__(self, n_models: int, n_layers: int) -> None:
        self.spikes = torch.zeros(n_layers, n_models, dtype=torch.int64)
        self.slots = [0] * n_layers
        self.updates = torch.zeros(n_models, dtype=torch.int64)
        self.count = 0

    def update(self, out: StackOutput) -> None:
        """Adds one batch.

        Args:
            out: the stack's forward pass on the batch: spikes and membranes ``[K, T, B, N]`` per layer.
        """
        with torch.no_grad():
            for layer, (spikes, membrane) in enumerate(zip(out.layer_spikes, out.membranes)):
                K, T, B, N = spikes.shape
                self.spikes[layer] += torch.count_nonzero(spikes.reshape(K, -1), dim=1).cpu()
                self.slots[layer] += T * B * N
                changed = torch.ne(membrane[:, 1:], membrane[:, :-1]).reshape(K, -1)
                self.updates += torch.count_nonzero(changed, dim=1).cpu() + B * N
            self.count += out.spikes.shape[2]

    def values(self) -> dict[str, Tensor]:
        """NeuroBench's workload metrics of the batches so far, each ``[K]`` float64.

        Returns:
            ``ActivationSparsity`` (all layers), ``ActivationSparsity_l{i}`` (LIF layer ``i``, from 0) and
            ``MembraneUpdates`` (per sample).
        """
        slots = sum(self.slots)
        values = {"ActivationSparsity": 1 - self.spikes.sum(dim=0).double() / max(slots, 1)}
        for layer, n in enumerate(self.slots):
            values[f"ActivationSparsity_l{layer}"] = 1 - self.spikes[layer].double() / max(n, 1)
        values["MembraneUpdates"] = self.updates.double() / max(self.count, 1)
        return values


def footprint(weights: list[Tensor], biases: list[Tensor], constants: int = 3) -> int:
    """Bytes of one network's parameters and buffers, NeuroBench's Footprint.

    Args:
        weights, biases: the stack's, ``[K, N, M]`` and ``[K, N]`` per layer.
        constants: the network's own LIF constants, stored once each (beta, V_th and z).

    Returns:
        The bytes, the same for every network of the stack (a derived constant, such as the scaled surrogate's
        gain, is not counted: it is z's).
    """
    tensors = [*weights, *biases]
    return sum(t[0].numel() * t.element_size() for t in tensors) + constants * tensors[0].element_size()


def connection_sparsity(weights: list[Tensor]) -> Tensor:
    """Share of each network's weights that are exactly zero, NeuroBench's ConnectionSparsity (biases left out).

    Args:
        weights: the stack's weights, ``[K, N, M]`` per layer.

    Returns:
        ``[K]`` float64, on the CPU.
    """
    with torch.no_grad():
        zeros = sum(torch.count_nonzero(w.detach().flatten(start_dim=1) == 0, dim=1).cpu() for w in weights)
        return zeros.double() / sum(w[0].numel() for w in weights)
