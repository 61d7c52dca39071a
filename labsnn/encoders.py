"""Input encoders: images ``[B, 784]`` in [0, 1] to input sequences ``[T, B, 784]``.

- ``repeat``: ``x[t] = image`` at every step.
- ``threshold``: ``x[t] = image * 1[image > threshold]`` at every step (pixel kept, else 0).
- ``bernoulli``: ``x[t] ~ Bernoulli(image)`` independently per step and pixel (rate coding),
  with probabilities resolved to 1/65536 (``labsnn.spike_events``, which also gives the
  spikes as events, the form the training loop's compiled first layer reads).

``repeat`` and ``threshold`` return an expanded view (stride 0 along time), which the
model uses to compute the first layer's current once instead of ``T`` times.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Protocol

import torch
from torch import Tensor

from labsnn.spike_events import LEVELS, BernoulliSpikes, bernoulli_events, spike_limits
from labsnn.validation import check_steps, lookup

__all__ = [
    "LEVELS",
    "BernoulliSpikes",
    "bernoulli_encode",
    "bernoulli_events",
    "get_encoder",
    "repeat_encode",
    "spike_limits",
    "threshold_encode",
]


def repeat_encode(images: Tensor, T: int) -> Tensor:
    """``x[t] = image`` for ``t < T``."""
    check_steps(T)
    return images.unsqueeze(0).expand(T, *images.shape)


def threshold_encode(images: Tensor, T: int, threshold: float = 0.5) -> Tensor:
    """``x[t] = image * 1[image > threshold]`` for ``t < T``."""
    check_steps(T)
    return repeat_encode(torch.where(images > threshold, images, torch.zeros_like(images)), T)


def bernoulli_encode(
    images: Tensor, T: int, generator: torch.Generator | None = None, out: Tensor | None = None
) -> Tensor:
    """``bernoulli_events(images, T, generator).dense(out)``: rate-coded spikes ``[T, B, M]``.
    ``out``: a tensor of shape ``[T, *images.shape]`` to write the spikes into (the training
    loop reuses one: large fresh tensors cost page faults on CPU)."""
    return bernoulli_events(images, T, generator).dense(out)


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
