"""Bernoulli (rate-coded) input spikes of a batch, as events: which of the batch's nonzero
pixels spike at which step.

Pixel ``x`` in [0, 1] has level ``q = round(65536 x)``; pixels with ``q = 0`` get no draw
(most of MNIST's). The others, ``j = 0 .. n-1`` in image-major order, spike at step ``t``
when the 16-bit draw ``t*n + j`` is ``<= q - 32769`` (probability ``q / 65536``, within
2^-17 of ``x``; exactly 0 and 1 at black and white). Draws come from SplitMix64 (Steele,
Lea, Flood 2014): draw ``c`` is the int16 lane ``c % 4`` (low lane first) of output
``c // 4``, from a state drawn from the run's generator once per batch.

Each step has a readable torch form (``pixel_levels_reference``, ``bernoulli_mask_reference``)
and, on the CPU, a compiled one (``labsnn.engine.kernels``) that tests hold equal to it, bit for bit.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import Tensor

import labsnn.engine.ops  # noqa: F401 (defines torch.ops.labsnn)
from labsnn.engine import kernels, reference
from labsnn.engine.reference import LEVELS, spike_limits
from labsnn.validation import check_steps

__all__ = ["LEVELS", "BernoulliSpikes", "bernoulli_events", "spike_limits"]


@dataclass(frozen=True)
class BernoulliSpikes:
    """Spikes ``[T, B, M]`` as events: drawn pixel ``j`` (column ``columns[j]`` of image
    ``b``, ``starts[b] <= j < starts[b + 1]``) spikes at step ``t`` where ``mask[t, j]`` is 1;
    ``counts[t]`` is the step's spikes. ``dense()`` is the ``[T, B, M]`` tensor of 0/1."""

    mask: Tensor  # uint8 [T, n]
    counts: Tensor  # int64 [T]
    columns: Tensor  # int64 [n]
    starts: Tensor  # int64 [B + 1]
    shape: tuple[int, int, int]
    dtype: torch.dtype

    def dense(self, out: Tensor | None = None) -> Tensor:
        """The spikes as a ``[T, B, M]`` tensor of 0 and 1 (written into ``out`` when given)."""
        if out is not None and (tuple(out.shape) != self.shape or out.dtype != self.dtype or not out.is_contiguous()):
            raise ValueError(
                f"out must be a contiguous {self.dtype} tensor of shape {list(self.shape)}, got {list(out.shape)}"
            )
        spikes = out if out is not None else torch.empty(self.shape, dtype=self.dtype, device=self.mask.device)
        return reference.dense_spikes(self.mask, self.starts, self.columns, self.shape[2], spikes)


def _draw(images: Tensor, rows: Tensor, seed: int, T: int, backend: str) -> tuple[Tensor, Tensor, Tensor, Tensor]:
    """``(mask, counts, columns, starts)`` of ``images[rows]``: the compiled operators where
    ``backend`` runs them (``images[rows]`` read in place), else the torch forms."""
    if kernels.runs_compiled(images.device, images.dtype, backend):
        columns, limits, starts = torch.ops.labsnn.pixel_levels(images.contiguous(), rows.to(torch.int64))
        mask, counts = torch.ops.labsnn.bernoulli_mask(seed, limits, T)
    else:
        columns, limits, starts = reference.pixel_levels(images, rows)
        mask, counts = reference.bernoulli_mask(seed, limits, T)
    return mask, counts, columns, starts


def bernoulli_events(
    images: Tensor,
    T: int,
    generator: torch.Generator | None = None,
    rows: Tensor | None = None,
    backend: str = "auto",
) -> BernoulliSpikes:
    """Rate-coded spikes of ``images [B, M]`` (or of ``images[rows]``, gathered without a
    copy where compiled) over ``T`` steps, as events (module docstring); the compiled
    operators draw them where ``backend`` runs them (the same spikes either way)."""
    check_steps(T)
    if images.dim() != 2:
        raise ValueError(f"images must be [B, pixels], got shape {list(images.shape)}")
    seed = int(
        torch.empty((), dtype=torch.int64, device=images.device).random_(-(2**63), 2**63 - 1, generator=generator)
    )
    batch = images.shape[0] if rows is None else rows.numel()
    every = torch.arange(images.shape[0], device=images.device) if rows is None else rows
    mask, counts, columns, starts = _draw(images, every, seed, T, backend)
    return BernoulliSpikes(mask, counts, columns, starts, (T, batch, images.shape[1]), images.dtype)
