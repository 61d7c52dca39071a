"""Bernoulli input spikes as events (``labsnn.dynamics.encoders.BernoulliSpikes``), drawn by
the compiled operators where a run's backend runs them, else by the readable torch form
(``labsnn.dynamics.encoders.bernoulli_events``): the same spikes either way, bit for bit.
"""

from __future__ import annotations

import torch
from torch import Tensor

import labsnn.engine.ops  # noqa: F401 (defines torch.ops.labsnn)
from labsnn.dynamics.encoders import BernoulliSpikes, bernoulli_mask, draw_seed, pixel_levels
from labsnn.engine import kernels
from labsnn.validation import check_steps


def _draw(images: Tensor, rows: Tensor, seed: int, T: int, backend: str) -> tuple[Tensor, Tensor, Tensor, Tensor]:
    """``(mask, counts, columns, starts)`` of ``images[rows]``: the compiled operators where
    ``backend`` runs them (``images[rows]`` read in place), else the torch forms."""
    if kernels.runs_compiled(images.device, images.dtype, backend):
        columns, limits, starts = torch.ops.labsnn.pixel_levels(images.contiguous(), rows.to(torch.int64))
        mask, counts = torch.ops.labsnn.bernoulli_mask(seed, limits, T)
    else:
        columns, limits, starts = pixel_levels(images, rows)
        mask, counts = bernoulli_mask(seed, limits, T)
    return mask, counts, columns, starts


def draw_events(
    images: Tensor,
    T: int,
    generator: torch.Generator | None = None,
    rows: Tensor | None = None,
    backend: str = "auto",
) -> BernoulliSpikes:
    """``labsnn.dynamics.encoders.bernoulli_events`` (same arguments, same spikes), drawn by the
    compiled operators where ``backend`` runs them (``images[rows]`` then read in place).

    Returns:
        ``BernoulliSpikes [T, B, M]``.

    Raises:
        ValueError: ``T`` not an integer >= 1, ``images`` not 2-D, an intensity outside [0, 1].
    """
    check_steps(T)
    if images.dim() != 2:
        raise ValueError(f"images must be [B, pixels], got shape {list(images.shape)}")
    seed = draw_seed(images.device, generator)
    batch = images.shape[0] if rows is None else rows.numel()
    every = torch.arange(images.shape[0], device=images.device) if rows is None else rows
    mask, counts, columns, starts = _draw(images, every, seed, T, backend)
    return BernoulliSpikes(mask, counts, columns, starts, (T, batch, images.shape[1]), images.dtype)
