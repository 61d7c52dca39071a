"""Bernoulli (rate-coded) input spikes of a batch, as events: which of the batch's nonzero
pixels spike at which step.

Pixel ``x`` in [0, 1] has level ``q = round(65536 x)``; pixels with ``q = 0`` get no draw
(most of MNIST's). The others, ``j = 0 .. n-1`` in image-major order, spike at step ``t``
when the 16-bit draw ``t*n + j`` is ``<= q - 32769`` (probability ``q / 65536``, within
2^-17 of ``x``; exactly 0 and 1 at black and white). Draws come from SplitMix64 (Steele,
Lea, Flood 2014): draw ``c`` is the int16 lane ``c % 4`` (low lane first) of output
``c // 4``, from a state drawn from the run's generator once per batch.

Each step has a readable torch form (``pixel_levels_reference``, ``bernoulli_mask_reference``)
and, on the CPU, a compiled one (``labsnn.kernels``) that tests hold equal to it, bit for bit.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import Tensor

from labsnn import kernels
from labsnn.validation import check_steps

LEVELS = 65536  # a spike probability is a multiple of 1 / LEVELS (16-bit draws)
_GAMMA, _MIX1, _MIX2 = 0x9E3779B97F4A7C15, 0xBF58476D1CE4E5B9, 0x94D049BB133111EB
_ptr = kernels.pointer


def spike_limits(levels: Tensor) -> Tensor:
    """For levels ``q`` in 1..65536, the int16 ``c`` with ``P(u <= c) = q / 65536`` for ``u``
    uniform on the 65,536 int16 values: ``c = q - 32769``."""
    return (levels - (LEVELS // 2 + 1)).to(torch.int16)


def _int64(value: int) -> int:
    """``value`` mod 2^64 as a signed 64-bit integer (torch's int64 arithmetic wraps)."""
    value %= 1 << 64
    return value - (1 << 64) if value >= 1 << 63 else value


def _shift_right(z: Tensor, k: int) -> Tensor:
    """Logical right shift of int64 ``z`` (torch's ``>>`` keeps the sign)."""
    return (z >> k) & ((1 << (64 - k)) - 1)


def splitmix64(seed: int, start: int, count: int, device: torch.device | str = "cpu") -> Tensor:
    """Outputs ``start .. start+count-1`` of SplitMix64 from state ``seed``, as int64:
    ``z = seed + (w+1)*0x9E3779B97F4A7C15``, ``z = (z ^ z>>30) * 0xBF58476D1CE4E5B9``,
    ``z = (z ^ z>>27) * 0x94D049BB133111EB``, output ``z ^ z>>31`` (all mod 2^64)."""
    w = torch.arange(start + 1, start + count + 1, dtype=torch.int64, device=device)
    z = w * _int64(_GAMMA) + _int64(seed)
    z = (z ^ _shift_right(z, 30)) * _int64(_MIX1)
    z = (z ^ _shift_right(z, 27)) * _int64(_MIX2)
    return z ^ _shift_right(z, 31)


def pixel_levels_reference(images: Tensor) -> tuple[Tensor, Tensor, Tensor]:
    """``(columns [n], limits [n], starts [B + 1])`` of the pixels with ``q > 0`` of
    ``images [B, M]``; image ``b`` owns ``starts[b] <= j < starts[b + 1]``."""
    low, high = torch.aminmax(images) if images.numel() else (0, 1)
    if not (low >= 0 and high <= 1):  # NaN fails too
        raise ValueError("bernoulli_encode needs intensities in [0, 1]")
    levels = torch.round(images.to(torch.promote_types(images.dtype, torch.float32)) * LEVELS)  # exact
    rows, columns = levels.nonzero(as_tuple=True)
    starts = torch.searchsorted(rows, torch.arange(images.shape[0] + 1, device=images.device))
    return columns, spike_limits(levels[rows, columns]), starts


def bernoulli_mask_reference(seed: int, limits: Tensor, T: int) -> tuple[Tensor, Tensor]:
    """``(mask [T, n] uint8, counts [T])``: ``mask[t, j] = draw(t*n + j) <= limits[j]``,
    ``counts[t]`` the step's spikes."""
    n = limits.numel()
    words = splitmix64(seed, 0, (T * n + 3) // 4, limits.device)
    mask = torch.le(words.view(torch.int16)[: T * n].view(T, n), limits).to(torch.uint8)
    return mask, mask.sum(dim=1)


def _compiled(images: Tensor, rows: Tensor, seed: int, T: int):
    """The compiled ``pixel_levels`` (of ``images[rows]``, read in place) and
    ``bernoulli_mask``; None where they do not apply."""
    library = kernels.load() if images.device.type == "cpu" and images.dtype == torch.float32 else None
    if library is None:
        return None
    images, rows = images.contiguous(), rows.to(torch.int64).contiguous()
    if rows.numel() and not bool((rows.min() >= 0) & (rows.max() < images.shape[0])):
        raise IndexError(f"rows must index the {images.shape[0]} images")
    B, M = rows.numel(), images.shape[1]
    columns, limits = torch.empty(2, B * M, dtype=torch.int64), torch.empty(2, B * M, dtype=torch.int16)
    starts = torch.empty(B + 1, dtype=torch.int64)
    n = library.pixel_levels(
        _ptr(images),
        _ptr(rows),
        B,
        M,
        _ptr(columns[1]),
        _ptr(limits[1]),
        _ptr(columns[0]),
        _ptr(limits[0]),
        _ptr(starts),
        kernels.threads(),
    )
    if n < 0:
        raise ValueError("bernoulli_encode needs intensities in [0, 1]")
    columns, limits = columns[0, :n].clone(), limits[0, :n]  # a copy: the scratch is freed with this call
    mask, counts = torch.empty((T, n), dtype=torch.uint8), torch.empty(T, dtype=torch.int64)
    kernels.check(
        library.bernoulli_mask(seed % (1 << 64), _ptr(limits), n, T, _ptr(mask), _ptr(counts), kernels.threads()),
        "bernoulli_mask",
    )
    return mask, counts, columns, starts


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
        (T, n), (_, B, M) = self.mask.shape, self.shape
        if out is not None and (tuple(out.shape) != self.shape or out.dtype != self.dtype or not out.is_contiguous()):
            raise ValueError(
                f"out must be a contiguous {self.dtype} tensor of shape {list(self.shape)}, got {list(out.shape)}"
            )
        spikes = out if out is not None else torch.empty(self.shape, dtype=self.dtype, device=self.mask.device)
        rows = torch.repeat_interleave(torch.arange(B, device=self.mask.device), self.starts.diff())
        index = (rows * M + self.columns).expand(T, n)
        spikes.view(T, -1).zero_().scatter_(1, index, self.mask.to(self.dtype))  # scatter_: faster than index_copy_
        return spikes


def bernoulli_events(
    images: Tensor, T: int, generator: torch.Generator | None = None, rows: Tensor | None = None
) -> BernoulliSpikes:
    """Rate-coded spikes of ``images [B, M]`` (or of ``images[rows]``, gathered without a
    copy where compiled) over ``T`` steps, as events (module docstring)."""
    check_steps(T)
    if images.dim() != 2:
        raise ValueError(f"images must be [B, pixels], got shape {list(images.shape)}")
    seed = int(
        torch.empty((), dtype=torch.int64, device=images.device).random_(-(2**63), 2**63 - 1, generator=generator)
    )
    batch = images.shape[0] if rows is None else rows.numel()
    every = torch.arange(images.shape[0], device=images.device) if rows is None else rows
    compiled = _compiled(images, every, seed, T)
    if compiled is None:
        columns, limits, starts = pixel_levels_reference(images if rows is None else images.index_select(0, rows))
        mask, counts = bernoulli_mask_reference(seed, limits, T)
    else:
        mask, counts, columns, starts = compiled
    return BernoulliSpikes(mask, counts, columns, starts, (T, batch, images.shape[1]), images.dtype)
