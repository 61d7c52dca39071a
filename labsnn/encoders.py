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


def bernoulli_encode(
    images: Tensor, T: int, generator: torch.Generator | None = None, out: Tensor | None = None
) -> Tensor:
    """Rate coding: ``x[t] ~ Bernoulli(image)`` per step and pixel, as a dense tensor.

    This is ``bernoulli_events(images, T, generator).dense(out)``: probabilities are resolved to 1/65536.

    Args:
        images: intensities ``[B, M]`` in [0, 1].
        T: time steps, an integer >= 1.
        generator: the source of the draws; None uses torch's default generator.
        out: a contiguous tensor ``[T, B, M]`` of ``images``' dtype to write the spikes into (the training loop
            reuses one: large fresh tensors cost page faults on CPU); None allocates one.

    Returns:
        Spikes ``[T, B, M]`` of 0 and 1 in ``images``' dtype (``out`` itself when given).

    Raises:
        ValueError: ``T`` is not an integer >= 1, ``images`` is not 2-D or has a value outside [0, 1], or
            ``out`` has another shape or dtype or is not contiguous.
    """
    return bernoulli_events(images, T, generator).dense(out)


class Encoder(Protocol):
    """The uniform signature of the encoders ``get_encoder`` returns."""

    def __call__(
        self, images: Tensor, T: int, *, generator: torch.Generator | None, threshold: float, out: Tensor | None = None
    ) -> Tensor:
        """Encodes a batch of images as an input sequence.

        Args:
            images: intensities ``[B, M]`` in [0, 1].
            T: time steps, an integer >= 1.
            generator: the source of the Bernoulli draws (unused by ``repeat`` and ``threshold``).
            threshold: the ``threshold`` encoder's pixel threshold (unused by the others).
            out: ``[T, B, M]``, where an encoder that makes new spikes writes them (the view encoders need none).

        Returns:
            The input sequence ``[T, B, M]``.
        """
        ...


ENCODERS: dict[str, Callable[..., Tensor]] = {
    "repeat": lambda images, T, *, generator, threshold, out=None: repeat_encode(images, T),
    "threshold": lambda images, T, *, generator, threshold, out=None: threshold_encode(images, T, threshold),
    "bernoulli": lambda images, T, *, generator, threshold, out=None: bernoulli_encode(images, T, generator, out),
}


def get_encoder(name: str) -> Encoder:
    """The encoder called ``name``.

    Args:
        name: ``repeat``, ``threshold`` or ``bernoulli``.

    Returns:
        An ``Encoder``: the uniform signature ``(images, T, *, generator, threshold, out=None)``, images ``[B, M]``
        to inputs ``[T, B, M]``; ``out`` is where an encoder that makes new spikes writes them (the view encoders
        need none).

    Raises:
        ValueError: an unknown name (the message lists the choices).
    """
    return lookup("encoder", ENCODERS, name)
