"""Input encoders: images ``[B, 784]`` in [0, 1] to input sequences ``[T, B, 784]``.

- ``repeat``: ``x[t] = image`` at every step.
- ``threshold``: ``x[t] = image * 1[image > threshold]`` at every step (pixel kept, else 0).
- ``bernoulli``: ``x[t] ~ Bernoulli(image)`` independently per step and pixel (rate coding),
  with probabilities resolved to 1/65536 (``labsnn.engine.spike_events``, which also gives the
  spikes as events, the form the training loop's compiled first layer reads).

``repeat`` and ``threshold`` return an expanded view (stride 0 along time), which the
model uses to compute the first layer's current once instead of ``T`` times.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Protocol

import torch
from torch import Tensor

from labsnn.engine.spike_events import LEVELS, BernoulliSpikes, bernoulli_events, spike_limits
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
