"""Torch implementations of the ``labsnn`` operators' products (``labsnn.engine.ops``); the LIF
recurrence's is ``labsnn.dynamics.neuron.lif_sequence`` and the Bernoulli draws' are in
``labsnn.dynamics.encoders``. Readable, on any device.
The torch backend computes with them, and the compiled loops are held to them
(``tests/test_ops.py``).

Layouts are the operators': a stack of K networks, network first (``[K, T, B, N]``), one
value per network of each LIF parameter (``[K]``), and Bernoulli input as events (the
encoding is ``labsnn.dynamics.encoders``'): ``mask [T, n]`` uint8, ``starts [B + 1]``
and ``columns [n]`` int64.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor

from labsnn.dynamics.encoders import dense_spikes


def row_sums(x: Tensor) -> Tensor:
    """``x [K, ..., N]`` summed over its middle dimensions: ``[K, N]`` (a bias's gradient)."""
    return x.reshape(x.shape[0], -1, x.shape[-1]).sum(1)


def dense_currents(spikes: Tensor, weight: Tensor, bias: Tensor) -> Tensor:
    """Currents ``[K, T, B, N]`` of ``spikes [K, T, B, M]``: network k's ``weight[k] x + bias[k]``."""
    return torch.stack([F.linear(x, w, b) for x, w, b in zip(spikes, weight, bias)])


def dense_grads(grad: Tensor, spikes: Tensor, weight: Tensor) -> tuple[Tensor, Tensor]:
    """``(grad_weight [K, N, M], grad_spikes [K, T, B, M])`` of ``dense_currents`` from its gradient ``grad``."""
    K, N, M = weight.shape
    grad_weight = torch.einsum("krn,krm->knm", grad.reshape(K, -1, N), spikes.reshape(K, -1, M))
    return grad_weight, torch.einsum("ktbn,knm->ktbm", grad, weight)


def _dense_events(mask: Tensor, starts: Tensor, columns: Tensor, M: int, dtype: torch.dtype) -> Tensor:
    out = torch.empty(mask.shape[0], starts.numel() - 1, M, dtype=dtype, device=mask.device)
    return dense_spikes(mask, starts, columns, M, out)


def event_currents(mask: Tensor, starts: Tensor, columns: Tensor, weight: Tensor, bias: Tensor) -> Tensor:
    """Currents ``[K, T, B, N]`` of K first layers, ``weight [K, N, M]``, ``bias [K, N]``, fed the events."""
    x = _dense_events(mask, starts, columns, weight.shape[2], weight.dtype)
    return torch.stack([F.linear(x, w, b) for w, b in zip(weight, bias)])


def event_weight_grad(mask: Tensor, starts: Tensor, columns: Tensor, grad_currents: Tensor, M: int) -> Tensor:
    """Gradient ``[K, N, M]`` of ``event_currents``' weight, from that of its currents ``[K, T, B, N]``."""
    K, N = grad_currents.shape[0], grad_currents.shape[-1]
    x = _dense_events(mask, starts, columns, M, grad_currents.dtype).reshape(-1, M)
    return torch.einsum("krn,rm->knm", grad_currents.reshape(K, -1, N), x)
