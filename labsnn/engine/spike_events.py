"""Bernoulli input spikes as events (``labsnn.dynamics.encoders.BernoulliSpikes``), drawn by
the compiled operators where a run's backend runs them, else by the readable torch form
(``labsnn.dynamics.encoders.bernoulli_events``): the same spikes either way, bit for bit.
"""

from __future__ import annotations

import torch
from torch import Tensor

import labsnn.engine.ops  # noqa: F401 (defines torch.ops.labsnn)
from labsnn.dynamics.encoders import BernoulliSpikes, bernoulli_events
from labsnn.engine import kernels


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
    if not kernels.runs_compiled(images.device, images.dtype, backend):
        return bernoulli_events(images, T, generator, rows)
    rows = None if rows is None else rows.to(torch.int64)
    ops = torch.ops.labsnn
    return bernoulli_events(images.contiguous(), T, generator, rows, levels=ops.pixel_levels, mask=ops.bernoulli_mask)
