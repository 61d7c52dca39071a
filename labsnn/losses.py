"""Losses on output firing rates ``rate = spike count / T``.

Rates have shape ``[B, C]`` (one network) or ``[B, K, C]`` (K networks side by side);
the loss is averaged over the batch (and classes) and returned per network: a scalar
for ``[B, C]``, shape ``[K]`` for ``[B, K, C]``.
"""

from __future__ import annotations

from typing import Callable

import torch
import torch.nn.functional as F
from torch import Tensor

from labsnn._registry import lookup


def mse_rate(rates: Tensor, targets: Tensor) -> Tensor:
    """``mean_(b,c) (rate[b, c] - onehot(target[b])[c])^2``."""
    onehot = F.one_hot(targets, rates.shape[-1]).to(rates.dtype)
    if rates.dim() == 3:
        onehot = onehot.unsqueeze(1)
    per_sample = (rates - onehot).square().mean(dim=-1)
    return per_sample.mean(dim=0)


def cross_entropy_rate(rates: Tensor, targets: Tensor) -> Tensor:
    """``mean_b -log softmax(rate[b])[target[b]]``: the rates are the logits."""
    if rates.dim() == 3:
        logits = rates.permute(0, 2, 1)
        targets = targets.unsqueeze(1).expand(-1, rates.shape[1])
        return F.cross_entropy(logits, targets, reduction="none").mean(dim=0)
    return F.cross_entropy(rates, targets)


LOSSES: dict[str, Callable[[Tensor, Tensor], Tensor]] = {
    "mse_rate": mse_rate,
    "cross_entropy_rate": cross_entropy_rate,
}


def get_loss(name: str) -> Callable[[Tensor, Tensor], Tensor]:
    """The loss called ``name`` (``mse_rate`` or ``cross_entropy_rate``)."""
    return lookup("loss", LOSSES, name)
