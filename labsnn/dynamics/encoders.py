"""Input encoders: images ``[B, 784]`` in [0, 1] to input sequences ``[T, B, 784]``.

- ``repeat``: ``x[t] = image`` at every step.
- ``threshold``: ``x[t] = image * 1[image > threshold]`` at every step (pixel kept, else 0).
- ``bernoulli``: ``x[t] ~ Bernoulli(image)`` independently per step and pixel (rate coding),
  with probabilities resolved to 1/65536, drawn as events (``BernoulliSpikes``, the form the
  training loop's compiled first layer reads; ``labsnn.engine.spike_events`` draws the same
  events with the compiled operators).

Bernoulli spikes as events: pixel ``x`` in [0, 1] has level ``q = round(65536 x)``; pixels
with ``q = 0`` get no draw (most of MNIST's). The others, ``j = 0 .. n-1`` in image-major
order, spike at step ``t`` when the 16-bit draw ``t*n + j`` is ``<= q - 32769``
(probability ``q / 65536``, within 2^-17 of ``x``; exactly 0 and 1 at black and white).
Draws come from SplitMix64 (Steele, Lea, Flood 2014): draw ``c`` is the int16 lane
``c % 4`` (low lane first) of output ``c // 4``, from a state drawn from the run's
generator once per batch.

``repeat`` and ``threshold`` return an expanded view (stride 0 along time), which the
model uses to compute the first layer's current once instead of ``T`` times.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Protocol

import torch
from torch import Tensor

from labsnn.validation import check_steps, lookup


def repeat_encode(images: Tensor, T: int) -> Tensor:
    """Repeat encoding: ``x[t] = image`` at every step ``t < T``.

    Args:
        images: intensities ``[B, M]`` in [0, 1] (any shape works).
        T: time steps, an integer >= 1.

    Returns:
        ``[T, B, M]``: an expanded view of ``images`` (stride 0 along time, no copy).

    Raises:
        ValueError: ``T`` is not an integer >= 1.
    """
    check_steps(T)
    return images.unsqueeze(0).expand(T, *images.shape)


def threshold_encode(images: Tensor, T: int, threshold: float = 0.5) -> Tensor:
    """Threshold encoding: ``x[t] = image * 1[image > threshold]`` at every step ``t < T``.

    Args:
        images: intensities ``[B, M]`` in [0, 1] (any shape works).
        T: time steps, an integer >= 1.
        threshold: a pixel above it (strictly) keeps its value; the others become 0.

    Returns:
        ``[T, B, M]``: an expanded view of the thresholded images (stride 0 along time).

    Raises:
        ValueError: ``T`` is not an integer >= 1.
    """
    check_steps(T)
    return repeat_encode(torch.where(images > threshold, images, torch.zeros_like(images)), T)


LEVELS = 65536  # a spike probability is a multiple of 1 / LEVELS (16-bit draws)
_GAMMA, _MIX1, _MIX2 = 0x9E3779B97F4A7C15, 0xBF58476D1CE4E5B9, 0x94D049BB133111EB


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
    """Outputs ``start .. start+count-1`` of SplitMix64 from state ``seed``, as int64 ``[count]``:
    ``z = seed + (w+1)*0x9E3779B97F4A7C15``, ``z = (z ^ z>>30) * 0xBF58476D1CE4E5B9``,
    ``z = (z ^ z>>27) * 0x94D049BB133111EB``, output ``z ^ z>>31`` (all mod 2^64)."""
    w = torch.arange(start + 1, start + count + 1, dtype=torch.int64, device=device)
    z = w * _int64(_GAMMA) + _int64(seed)
    z = (z ^ _shift_right(z, 30)) * _int64(_MIX1)
    z = (z ^ _shift_right(z, 27)) * _int64(_MIX2)
    return z ^ _shift_right(z, 31)


def pixel_levels(images: Tensor, rows: Tensor) -> tuple[Tensor, Tensor, Tensor]:
    """The drawn pixels of ``images[rows]``: ``(columns [n], limits [n] int16, starts [B + 1])``.

    Args:
        images: intensities ``[I, M]`` in [0, 1]; rows: the batch's images ``[B]``, int64.

    Returns:
        The pixels with level ``q = round(65536 x) > 0`` in image-major order: their column,
        their spike limit (``spike_limits``) and where each image's pixels start.

    Raises:
        ValueError: an intensity outside [0, 1] (NaN included).
    """
    images = images.index_select(0, rows)
    low, high = torch.aminmax(images) if images.numel() else (0, 1)
    if not (low >= 0 and high <= 1):  # NaN fails too
        raise ValueError("bernoulli_encode needs intensities in [0, 1]")
    levels = torch.round(images.to(torch.promote_types(images.dtype, torch.float32)) * LEVELS)  # exact
    image, columns = levels.nonzero(as_tuple=True)
    starts = torch.searchsorted(image, torch.arange(images.shape[0] + 1, device=images.device))
    return columns, spike_limits(levels[image, columns]), starts


def bernoulli_mask(seed: int, limits: Tensor, T: int) -> tuple[Tensor, Tensor]:
    """``(mask [T, n] uint8, counts [T] int64)``: ``mask[t, j] = draw(t*n + j) <= limits[j]``
    for the 16-bit draws of SplitMix64 from ``seed``; ``counts[t]`` the step's spikes."""
    n = limits.numel()
    words = splitmix64(seed, 0, (T * n + 3) // 4, limits.device)
    mask = torch.le(words.view(torch.int16)[: T * n].view(T, n), limits).to(torch.uint8)
    return mask, mask.sum(dim=1)


def dense_spikes(mask: Tensor, starts: Tensor, columns: Tensor, M: int, out: Tensor) -> Tensor:
    """The events written into ``out [T, B, M]`` as spikes of 0 and 1; returns ``out``."""
    T, n = mask.shape
    B = starts.numel() - 1
    image = torch.repeat_interleave(torch.arange(B, device=mask.device), starts.diff())
    index = (image * M + columns).expand(T, n)
    out.view(T, -1).zero_().scatter_(1, index, mask.to(out.dtype))  # scatter_: faster than index_copy_
    return out


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
        return dense_spikes(self.mask, self.starts, self.columns, self.shape[2], spikes)


def draw_seed(device: torch.device, generator: torch.Generator | None = None) -> int:
    """A batch's SplitMix64 state: one int64 drawn from ``generator`` (None: torch's default) on ``device``."""
    return int(torch.empty((), dtype=torch.int64, device=device).random_(-(2**63), 2**63 - 1, generator=generator))


def bernoulli_events(
    images: Tensor,
    T: int,
    generator: torch.Generator | None = None,
    rows: Tensor | None = None,
    *,
    levels: Callable[[Tensor, Tensor], tuple[Tensor, Tensor, Tensor]] = pixel_levels,
    mask: Callable[[int, Tensor, int], tuple[Tensor, Tensor]] = bernoulli_mask,
) -> BernoulliSpikes:
    """Rate-coded spikes of ``images [B, M]`` (or of ``images[rows]``) over ``T`` steps, as events.

    Args:
        images: intensities ``[B, M]`` in [0, 1]; rows: the images to encode ``[B']`` (None: all).
        T: time steps, an integer >= 1; generator: the source of the batch's seed (None: torch's default).
        levels, mask: the draw's two steps, ``pixel_levels`` and ``bernoulli_mask`` (the compiled operators stand
            in for them: ``labsnn.engine.spike_events.draw_events``).

    Returns:
        ``BernoulliSpikes [T, B, M]`` (module docstring).

    Raises:
        ValueError: ``T`` not an integer >= 1, ``images`` not 2-D, an intensity outside [0, 1].
    """
    check_steps(T)
    if images.dim() != 2:
        raise ValueError(f"images must be [B, pixels], got shape {list(images.shape)}")
    seed = draw_seed(images.device, generator)
    every = torch.arange(images.shape[0], device=images.device) if rows is None else rows
    columns, limits, starts = levels(images, every)
    spikes, counts = mask(seed, limits, T)
    return BernoulliSpikes(spikes, counts, columns, starts, (T, every.numel(), images.shape[1]), images.dtype)


def bernoulli_encode(images: Tensor, T: int, generator: torch.Generator | None = None) -> Tensor:
    """Rate coding: ``x[t] ~ Bernoulli(image)`` per step and pixel, as a dense tensor.

    This is ``bernoulli_events(images, T, generator).dense()``: probabilities are resolved to 1/65536.

    Args:
        images: intensities ``[B, M]`` in [0, 1].
        T: time steps, an integer >= 1.
        generator: the source of the draws; None uses torch's default generator.

    Returns:
        Spikes ``[T, B, M]`` of 0 and 1 in ``images``' dtype.

    Raises:
        ValueError: ``T`` is not an integer >= 1, ``images`` is not 2-D or has a value outside [0, 1].
    """
    return bernoulli_events(images, T, generator).dense()


class Encoder(Protocol):
    """The uniform signature of the encoders ``get_encoder`` returns."""

    def __call__(self, images: Tensor, T: int, *, generator: torch.Generator | None, threshold: float) -> Tensor:
        """Encodes a batch of images as an input sequence.

        Args:
            images: intensities ``[B, M]`` in [0, 1].
            T: time steps, an integer >= 1.
            generator: the source of the Bernoulli draws (unused by ``repeat`` and ``threshold``).
            threshold: the ``threshold`` encoder's pixel threshold (unused by the others).

        Returns:
            The input sequence ``[T, B, M]``.
        """
        ...


ENCODERS: dict[str, Callable[..., Tensor]] = {
    "repeat": lambda images, T, *, generator, threshold: repeat_encode(images, T),
    "threshold": lambda images, T, *, generator, threshold: threshold_encode(images, T, threshold),
    "bernoulli": lambda images, T, *, generator, threshold: bernoulli_encode(images, T, generator),
}


def get_encoder(name: str) -> Encoder:
    """The encoder called ``name``.

    Args:
        name: ``repeat``, ``threshold`` or ``bernoulli``.

    Returns:
        An ``Encoder``: the uniform signature ``(images, T, *, generator, threshold)``, images ``[B, M]`` to
        inputs ``[T, B, M]``.

    Raises:
        ValueError: an unknown name (the message lists the choices).
    """
    return lookup("encoder", ENCODERS, name)
