"""The fake (meta) implementations of the ``labsnn`` operators: outputs of the right
dtype, shape and device, no data, for tracing (``torch.compile``, ``opcheck``)."""

from __future__ import annotations

import torch
from torch import Tensor


def lif(currents: Tensor, beta, v_th, z, gain, scaled, delay) -> tuple[Tensor, Tensor]:
    return torch.empty_like(currents), torch.empty_like(currents)


def lif_backward(grad_spikes: Tensor, membrane: Tensor, beta, v_th, z, gain, scaled, delay) -> Tensor:
    return torch.empty_like(membrane)


def event_currents(mask: Tensor, starts: Tensor, columns: Tensor, weight: Tensor, bias: Tensor) -> Tensor:
    K, N, _ = weight.shape
    return weight.new_empty(K, mask.shape[0], starts.shape[0] - 1, N)


def event_weight_grad(mask, starts, columns, grad_currents: Tensor, M: int) -> Tensor:
    return grad_currents.new_empty(grad_currents.shape[0], grad_currents.shape[-1], M)


def dense_currents(spikes: Tensor, weight: Tensor, bias: Tensor) -> Tensor:
    return spikes.new_empty(*spikes.shape[:-1], weight.shape[1])


def dense_grads(grad: Tensor, spikes: Tensor, weight: Tensor) -> tuple[Tensor, Tensor]:
    return torch.empty_like(weight), torch.empty_like(spikes)


def row_sums(x: Tensor) -> Tensor:
    return x.new_empty(x.shape[0], x.shape[-1])


def pixel_levels(images: Tensor, rows: Tensor) -> tuple[Tensor, Tensor, Tensor]:
    n = torch.library.get_ctx().new_dynamic_size()  # how many pixels are drawn depends on the data
    return (
        rows.new_empty(n),
        torch.empty(n, dtype=torch.int16, device=images.device),
        rows.new_empty(rows.shape[0] + 1),
    )


def bernoulli_mask(seed: int, limits: Tensor, T: int) -> tuple[Tensor, Tensor]:
    mask = torch.empty(T, limits.shape[0], dtype=torch.uint8, device=limits.device)
    return mask, torch.empty(T, dtype=torch.int64, device=limits.device)


FAKES = {
    "lif": lif,
    "lif_backward": lif_backward,
    "event_currents": event_currents,
    "event_weight_grad": event_weight_grad,
    "dense_currents": dense_currents,
    "dense_grads": dense_grads,
    "row_sums": row_sums,
    "pixel_levels": pixel_levels,
    "bernoulli_mask": bernoulli_mask,
}
