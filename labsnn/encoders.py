"""Input encoders: images ``[B, 784]`` in [0, 1] to input sequences ``[T, B, 784]``.

- ``repeat``: ``x[t] = image`` at every step.
- ``threshold``: ``x[t] = image * 1[image > threshold]`` at every step (pixel kept, else 0).
- ``bernoulli``: ``x[t] ~ Bernoulli(image)`` independently per step and pixel (rate coding),
  with probabilities resolved to 1/65536.

``repeat`` and ``threshold`` return an expanded view (stride 0 along time), which the
model uses to compute the first layer's current once instead of ``T`` times.
"""

from __future__ import annotations

from typing import Callable, Protocol

import torch
from torch import Tensor

from labsnn.validation import lookup


def _check_steps(T: int) -> None:
    if isinstance(T, bool) or not isinstance(T, int) or T < 1:
        raise ValueError(f"T must be an integer >= 1, got {T!r}")


def repeat_encode(images: Tensor, T: int) -> Tensor:
    """``x[t] = image`` for ``t < T``."""
    _check_steps(T)
    return images.unsqueeze(0).expand(T, *images.shape)


def threshold_encode(images: Tensor, T: int, threshold: float = 0.5) -> Tensor:
    """``x[t] = image * 1[image > threshold]`` for ``t < T``."""
    _check_steps(T)
    return repeat_encode(torch.where(images > threshold, images, torch.zeros_like(images)), T)


LEVELS = 65536  # a spike probability is a multiple of 1 / LEVELS (16-bit draws)


def spike_limits(levels: Tensor) -> Tensor:
    """For levels ``q`` in 1..65536, the int16 ``c`` with ``P(u <= c) = q / 65536`` for ``u``
    uniform on the 65,536 int16 values: ``c = q - 32769``."""
    return (levels - (LEVELS // 2 + 1)).to(torch.int16)


def bernoulli_encode(
    images: Tensor, T: int, generator: torch.Generator | None = None, out: Tensor | None = None
) -> Tensor:
    """``x[t, b, i] ~ Bernoulli(q / 65536)`` with ``q = round(65536 * image[b, i])``, per step and pixel.

    Each draw is a uniform 16-bit integer ``u`` (four per 64-bit random word) and the
    pixel spikes when ``u < q``, so its probability is within 2^-17 of its intensity
    (exactly 0 for a black pixel, exactly 1 for a white one). Pixels with ``q = 0`` get no
    draw (most of MNIST's pixels). ``out``: a tensor of shape ``[T, *images.shape]`` to
    write the spikes into (the training loop reuses one: large fresh tensors cost page
    faults on CPU).
    """
    _check_steps(T)
    if images.numel():
        low, high = torch.aminmax(images)
        if not (low >= 0 and high <= 1):  # NaN fails too
            raise ValueError("bernoulli_encode needs intensities in [0, 1]")
    shape = (T, *images.shape)
    if out is not None and (tuple(out.shape) != shape or out.dtype != images.dtype or not out.is_contiguous()):
        raise ValueError(f"out must be a contiguous {images.dtype} tensor of shape {list(shape)}, got {list(out.shape)}")
    flat = images.reshape(-1)
    levels = torch.round(flat.to(torch.promote_types(flat.dtype, torch.float32)) * LEVELS)  # exact from float32 up
    drawn = levels.nonzero().squeeze(1)
    n = drawn.numel()
    limits = spike_limits(levels[drawn])
    words = torch.empty((T * n + 3) // 4, dtype=torch.int64, device=images.device)
    words.random_(-(2**63), 2**63 - 1, generator=generator)
    draws = words.view(torch.int16)[: T * n].view(T, n)
    spikes = (out if out is not None else torch.empty(shape, dtype=images.dtype, device=images.device)).view(T, -1)
    values = torch.le(draws, limits, out=torch.empty((T, n), dtype=images.dtype, device=images.device))
    spikes.zero_().scatter_(1, drawn.expand(T, n), values)  # scatter_ rather than index_copy_: faster (README)
    return spikes.view(shape)


class Encoder(Protocol):
    def __call__(
        self, images: Tensor, T: int, *, generator: torch.Generator | None, threshold: float, out: Tensor | None = None
    ) -> Tensor: ...


ENCODERS: dict[str, Callable[..., Tensor]] = {
    "repeat": lambda images, T, *, generator, threshold, out=None: repeat_encode(images, T),
    "threshold": lambda images, T, *, generator, threshold, out=None: threshold_encode(images, T, threshold),
    "bernoulli": lambda images, T, *, generator, threshold, out=None: bernoulli_encode(images, T, generator, out),
}


def get_encoder(name: str) -> Encoder:
    """The encoder called ``name`` (``repeat``, ``threshold`` or ``bernoulli``), with the
    uniform signature ``(images, T, *, generator, threshold, out=None)``; ``out`` is where
    an encoder that makes new spikes writes them (the view encoders need none)."""
    return lookup("encoder", ENCODERS, name)
