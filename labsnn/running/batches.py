"""The engine behind a stacked training: how a batch of images becomes the stack's input
(events for the compiled path, or dense and without blank pixels) and its losses."""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import Tensor

from labsnn.dynamics.encoders import BernoulliSpikes, get_encoder
from labsnn.dynamics.losses import stack_losses
from labsnn.engine import kernels, stack
from labsnn.engine.spike_events import draw_events
from labsnn.model import SNNStack, StackOutput
from labsnn.running.config import RunConfig


def batch_view(buffer: Tensor, T: int, images: Tensor) -> Tensor:
    """Returns the first ``T * images.numel()`` elements of ``buffer`` as a ``[T, *images.shape]`` tensor.

    Args:
        buffer, T, images: a flat scratch tensor at least that long, time steps and the batch ``[B, U]``.
    """
    return buffer[: T * images.numel()].view(T, *images.shape)


def nonblank_columns(images: Tensor) -> tuple[Tensor, Tensor]:
    """Returns ``(images[:, columns] [B, U], columns [U])``: the batch without the pixels that are 0 in all of it.

    Every encoder turns a 0 pixel into no input at any step, so the first layer can skip them.

    Args:
        images: the batch ``[B, M]``; ``columns`` are the kept pixels' ascending int64 indices.
    """
    columns = images.ne(0).any(dim=0).nonzero().squeeze(1)
    return images[:, columns], columns


@dataclass
class BatchEngine:
    """How one stacked training encodes a batch and runs it: Bernoulli input as events
    through the compiled stack where the backend allows, else dense input in a reused
    buffer without the batch's blank pixels. The model and the training loop know
    nothing of these paths.

    Args:
        base: the stack's config (encoder, T, threshold); model: the ``SNNStack``;
        loss_names: one loss per network; device: where it runs; buffer: a flat scratch
        tensor for dense input (``T * batch * 784`` floats; empty on the events path).
        The backend is the model's (``SNNStack.backend``).
    """

    base: RunConfig
    model: SNNStack
    loss_names: list[str]
    device: torch.device
    buffer: Tensor  # one batch of dense input, reused batch after batch (fresh tensors cost page faults on CPU)

    @property
    def events(self) -> bool:
        """Bernoulli input as events through the compiled stack (else dense, in ``buffer``)."""
        return self.base.encoder == "bernoulli" and kernels.runs_compiled(self.device, backend=self.model.backend)

    def encode(
        self, images: Tensor, generator: torch.Generator, rows: Tensor | None = None
    ) -> tuple[Tensor | BernoulliSpikes, Tensor | None]:
        """``(inputs, columns)``: ``images`` (or ``images[rows]``) encoded without their blank
        columns, and the columns kept; Bernoulli spikes as events where the compiled stack runs."""
        if self.events:
            return draw_events(images, self.base.T, generator, rows, self.model.backend), None
        x, columns = nonblank_columns(images if rows is None else images.index_select(0, rows))
        if self.base.encoder == "bernoulli":  # written into the reused buffer
            spikes = draw_events(x, self.base.T, generator, backend=self.model.backend)
            return spikes.dense(batch_view(self.buffer, self.base.T, x)), columns
        encode = get_encoder(self.base.encoder)
        return encode(x, self.base.T, generator=generator, threshold=self.base.threshold), columns

    def run(self, inputs: Tensor | BernoulliSpikes, columns: Tensor | None) -> StackOutput:
        """The stack fed ``inputs`` as ``encode`` made them (events, or dense with ``columns``)."""
        params = self.model.params()
        if isinstance(inputs, BernoulliSpikes):
            return StackOutput(*stack.forward_events(params, inputs))
        return StackOutput(*stack.forward(params, inputs, columns))

    def forward(
        self, images: Tensor, generator: torch.Generator, rows: Tensor | None = None
    ) -> tuple[Tensor | BernoulliSpikes, StackOutput]:
        """Encode ``images`` (or ``images[rows]``) and run the stack: ``(inputs, out)``."""
        inputs, columns = self.encode(images, generator, rows)
        return inputs, self.run(inputs, columns)

    def losses(self, rates: Tensor, targets: Tensor) -> Tensor:
        """Loss of network k under its own loss function, ``[K]``, from its rates ``rates[k]``."""
        return stack_losses(self.loss_names, rates, targets, self.base.T)
