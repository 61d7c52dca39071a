"""Input encoders: images ``[B, 784]`` in [0, 1] to input sequences ``[T, B, 784]``.

- ``repeat``: ``x[t] = image`` at every step.
- ``threshold``: ``x[t] = image * 1[image > threshold]`` at every step (pixel kept, else 0).
- ``bernoulli``: ``x[t] ~ Bernoulli(image)`` independently per step and pixel (rate coding).

``repeat`` and ``threshold`` return an expanded view (stride 0 along time), which the
model uses to compute the first layer's current once instead of ``T`` times.
"""

from __future__ import annotations

from typing import Callable, Protocol

import torch
from torch import Tensor

from labsnn._registry import lookup


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


def bernoulli_encode(images: Tensor, T: int, generator: torch.Generator | None = None) -> Tensor:
    """``x[t, b, i] = 1[u < image[b, i]]``, ``u ~ U[0, 1)`` drawn per step for nonzero pixels only.

    A zero pixel never spikes, so no random number is drawn for it (81% of MNIST pixels).
    """
    _check_steps(T)
    if images.numel() and (images.min() < 0 or images.max() > 1):
        raise ValueError("bernoulli_encode needs intensities in [0, 1]")
    flat = images.reshape(-1)
    nonzero = flat.nonzero().squeeze(1)
    draws = torch.rand((T, nonzero.numel()), generator=generator, device=images.device, dtype=images.dtype)
    spikes = torch.zeros((T, flat.numel()), device=images.device, dtype=images.dtype)
    spikes.index_copy_(1, nonzero, (draws < flat[nonzero]).to(images.dtype))
    return spikes.view(T, *images.shape)


class Encoder(Protocol):
    def __call__(self, images: Tensor, T: int, *, generator: torch.Generator | None, threshold: float) -> Tensor: ...


ENCODERS: dict[str, Callable[..., Tensor]] = {
    "repeat": lambda images, T, *, generator, threshold: repeat_encode(images, T),
    "threshold": lambda images, T, *, generator, threshold: threshold_encode(images, T, threshold),
    "bernoulli": lambda images, T, *, generator, threshold: bernoulli_encode(images, T, generator),
}


def get_encoder(name: str) -> Encoder:
    """The encoder called ``name`` (``repeat``, ``threshold`` or ``bernoulli``), with the
    uniform signature ``(images, T, *, generator, threshold)``."""
    return lookup("encoder", ENCODERS, name)
