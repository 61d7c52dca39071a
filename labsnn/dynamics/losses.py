"""Losses on output spikes, given as firing rates ``rate = spike count / T``.

Rates have shape ``[B, C]`` (one network) or ``[B, K, C]`` (K networks side by side);
the loss is averaged over the batch (and classes) and returned per network: a scalar
for ``[B, C]``, shape ``[K]`` for ``[B, K, C]``. ``get_loss(name)`` gives the uniform
signature ``(rates, targets, steps)``; only the count-based loss uses ``steps`` (T).
``stack_losses`` gives a training stack's losses, network first.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import torch
import torch.nn.functional as F
from torch import Tensor

from labsnn.validation import lookup


def _onehot(rates: Tensor, targets: Tensor) -> Tensor:
    """One-hot targets ``[B, C]`` (``[B, 1, C]`` for stacked rates) in the rates' dtype; a
    target outside ``0 .. C-1`` is a ``RuntimeError`` of ``scatter_``."""
    onehot = rates.new_zeros(targets.shape[0], rates.shape[-1]).scatter_(1, targets.unsqueeze(1), 1.0)
    return onehot.unsqueeze(1) if rates.dim() == 3 else onehot


def mse_rate(rates: Tensor, targets: Tensor) -> Tensor:
    """Mean squared error of the rates to the one-hot targets: ``mean_(b,c) (rate[b, c] - onehot(target[b])[c])^2``.

    Args:
        rates: output firing rates in [0, 1], ``[B, C]`` or ``[B, K, C]``.
        targets: class indices ``[B]`` in ``0 .. C-1`` (int64).

    Returns:
        The loss: a scalar for ``[B, C]`` rates, ``[K]`` for ``[B, K, C]``.
    """
    per_sample = (rates - _onehot(rates, targets)).square().mean(dim=-1)
    return per_sample.mean(dim=0)


def mse_count(rates: Tensor, targets: Tensor, steps: int) -> Tensor:
    """Mean squared error of the spike counts: ``mean_(b,c) (count[b, c] - T * onehot(target[b])[c])^2 / T``.

    With ``count = T * rate`` this is snnTorch's ``mse_count_loss()`` (correct rate 1, incorrect 0), and
    ``T`` times ``mse_rate``.

    Args:
        rates: output firing rates in [0, 1], ``[B, C]`` or ``[B, K, C]``.
        targets: class indices ``[B]`` in ``0 .. C-1`` (int64).
        steps: the number of time steps ``T`` the rates were counted over.

    Returns:
        The loss: a scalar for ``[B, C]`` rates, ``[K]`` for ``[B, K, C]``.
    """
    per_sample = (rates * steps - _onehot(rates, targets) * steps).square().mean(dim=-1)
    return per_sample.mean(dim=0) / steps


def cross_entropy_rate(rates: Tensor, targets: Tensor) -> Tensor:
    """Cross-entropy with the rates as the logits: ``mean_b -log softmax(rate[b])[target[b]]``.

    Args:
        rates: output firing rates in [0, 1], ``[B, C]`` or ``[B, K, C]``.
        targets: class indices ``[B]`` in ``0 .. C-1`` (int64).

    Returns:
        The loss: a scalar for ``[B, C]`` rates, ``[K]`` for ``[B, K, C]``.
    """
    if rates.dim() == 3:
        logits = rates.permute(0, 2, 1)
        targets = targets.unsqueeze(1).expand(-1, rates.shape[1])
        return F.cross_entropy(logits, targets, reduction="none").mean(dim=0)
    return F.cross_entropy(rates, targets)


Loss = Callable[[Tensor, Tensor, int], Tensor]

LOSSES: dict[str, Loss] = {
    "mse_rate": lambda rates, targets, steps: mse_rate(rates, targets),
    "cross_entropy_rate": lambda rates, targets, steps: cross_entropy_rate(rates, targets),
    "mse_count": mse_count,
}


def get_loss(name: str) -> Loss:
    """The loss called ``name``, with the uniform signature ``(rates, targets, steps)``.

    Args:
        name: ``mse_rate``, ``cross_entropy_rate`` or ``mse_count`` (the keys of ``LOSSES``).

    Returns:
        A callable ``(rates [B, C] or [B, K, C], targets [B], steps) -> loss`` (scalar or ``[K]``).

    Raises:
        ValueError: an unknown name (the message lists the choices).
    """
    return lookup("loss", LOSSES, name)


def stack_losses(names: Sequence[str], rates: Tensor, targets: Tensor, steps: int) -> Tensor:
    """Each network's loss under its own loss function, network k's exactly ``get_loss(names[k])(rates[k], ...)``.

    A stack whose networks all take ``mse_rate`` or all ``mse_count`` is reduced in one pass over its innermost
    dimensions, which sums each network's values in the order it sums them alone (``tests/test_losses.py``
    holds the two equal, values and gradients); any other stack is looped over network by network.

    Args:
        names: one loss name per network.
        rates: output firing rates ``[K, B, C]``.
        targets: class indices ``[B]``.
        steps: the number of time steps ``T``.

    Returns:
        The losses ``[K]``.
    """
    if len(set(names)) == 1 and names[0] in ("mse_rate", "mse_count"):
        onehot = _onehot(rates[0], targets)
        if names[0] == "mse_rate":
            return (rates - onehot).square().mean(dim=-1).mean(dim=-1)
        return (rates * steps - onehot * steps).square().mean(dim=-1).mean(dim=-1) / steps
    return torch.stack([get_loss(name)(rates[k], targets, steps) for k, name in enumerate(names)])
