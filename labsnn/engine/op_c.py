"""The CPU implementations of the ``labsnn`` operators: the C loops of
``labsnn.engine.kernels`` called on contiguous tensors (``labsnn.engine.ops`` checked the
arguments' dtypes and shapes first). Layouts: ``csrc/kernels.h``."""

from __future__ import annotations

import torch
from torch import Tensor

from labsnn.engine import kernels


def _ptr(op: str, name: str, tensor: Tensor) -> int:
    """The address of ``tensor``'s data; a non-contiguous tensor is an error, not a copy."""
    if not tensor.is_contiguous():
        raise ValueError(f"labsnn::{op}: {name} must be contiguous (call .contiguous() first)")
    return tensor.data_ptr()


def _padded(columns: int) -> int:
    return -(-columns // kernels.LANES) * kernels.LANES


def lif(currents: Tensor, beta, v_th, z, gain, scaled: bool, delay: int) -> tuple[Tensor, Tensor]:
    K, T = currents.shape[:2]
    spikes, membrane = torch.empty_like(currents), torch.empty_like(currents)
    p = [_ptr("lif", name, t) for name, t in (("currents", currents), ("beta", beta), ("v_th", v_th))]
    kernels.library().lif_forward(*p, K, T, currents[0, 0].numel(), delay, spikes.data_ptr(), membrane.data_ptr())
    return spikes, membrane


def lif_backward(grad_spikes: Tensor, membrane: Tensor, beta, v_th, z, gain, scaled: bool, delay: int) -> Tensor:
    K, T = membrane.shape[:2]
    grad_currents = torch.empty_like(membrane)
    named = (("grad_spikes", grad_spikes), ("membrane", membrane), ("beta", beta), ("v_th", v_th), ("z", z))
    p = [_ptr("lif_backward", name, t) for name, t in (*named, ("gain", gain))]
    kernels.library().lif_backward(*p, int(scaled), K, T, membrane[0, 0].numel(), delay, grad_currents.data_ptr())
    return grad_currents


def row_sums(x: Tensor) -> Tensor:
    K, N = x.shape[0], x.shape[-1]
    out = torch.empty(K, N)
    status = kernels.library().row_sums(
        _ptr("row_sums", "x", x), K, x[0].numel() // N, N, out.data_ptr(), kernels.threads()
    )
    kernels.check(status, "row_sums")
    return out


def _events(op: str, mask: Tensor, starts: Tensor, columns: Tensor) -> list:
    """The arguments the event kernels begin with: mask, n, T, starts, B, columns."""
    T, n = mask.shape
    return [_ptr(op, "mask", mask), n, T, _ptr(op, "starts", starts), starts.numel() - 1, _ptr(op, "columns", columns)]


def event_currents(mask: Tensor, starts: Tensor, columns: Tensor, weight: Tensor, bias: Tensor) -> Tensor:
    (K, N, M), (T, B) = weight.shape, (mask.shape[0], starts.numel() - 1)
    currents, padded = torch.empty(K, T, B, N), _padded(K * N)
    weight_t = torch.zeros(M, padded)  # [M, K*N] padded to whole vectors: one pixel's weights for every network
    weight_t[:, : K * N] = weight.permute(2, 0, 1).reshape(M, K * N)
    events = _events("event_currents", mask, starts, columns)
    bias_p = _ptr("event_currents", "bias", bias)
    status = kernels.library().event_currents(
        *events, weight_t.data_ptr(), padded, bias_p, K, N, currents.data_ptr(), kernels.threads()
    )
    kernels.check(status, "event_currents")
    return currents


def event_weight_grad(mask: Tensor, starts: Tensor, columns: Tensor, grad_currents: Tensor, M: int) -> Tensor:
    K, N = grad_currents.shape[0], grad_currents.shape[-1]
    padded = _padded(K * N)
    grad_weight_t = torch.empty(M, padded)
    events = _events("event_weight_grad", mask, starts, columns)
    grad_p = _ptr("event_weight_grad", "grad_currents", grad_currents)
    status = kernels.library().event_weight_grad(
        *events, grad_p, K, N, padded, M, grad_weight_t.data_ptr(), kernels.threads()
    )
    kernels.check(status, "event_weight_grad")
    return grad_weight_t[:, : K * N].reshape(M, K, N).permute(1, 2, 0).contiguous()


def dense_currents(spikes: Tensor, weight: Tensor, bias: Tensor) -> Tensor:
    (K, T, B, M), N = spikes.shape, weight.shape[1]
    currents, weight_t = torch.empty(K, T, B, N), weight.transpose(1, 2).contiguous()
    p = [_ptr("dense_currents", name, t) for name, t in (("spikes", spikes), ("bias", bias))]
    status = kernels.library().dense_currents(
        p[0], weight_t.data_ptr(), p[1], K, T * B, M, N, currents.data_ptr(), kernels.threads()
    )
    kernels.check(status, "dense_currents")
    return currents


def dense_grads(grad: Tensor, spikes: Tensor, weight: Tensor) -> tuple[Tensor, Tensor]:
    (K, T, B, N), M = grad.shape, spikes.shape[-1]
    grad_weight, grad_spikes = torch.empty(K, N, M), torch.empty_like(spikes)
    p = [_ptr("dense_grads", name, t) for name, t in (("grad", grad), ("spikes", spikes), ("weight", weight))]
    status = kernels.library().dense_grads(
        *p, K, T * B, M, N, grad_spikes.data_ptr(), grad_weight.data_ptr(), kernels.threads()
    )
    kernels.check(status, "dense_grads")
    return grad_weight, grad_spikes


def pixel_levels(images: Tensor, rows: Tensor) -> tuple[Tensor, Tensor, Tensor]:
    if rows.numel() and not bool((rows.min() >= 0) & (rows.max() < images.shape[0])):
        raise IndexError(f"labsnn::pixel_levels: rows must index the {images.shape[0]} images")
    B, M = rows.numel(), images.shape[1]
    columns, limits = torch.empty(2, B * M, dtype=torch.int64), torch.empty(2, B * M, dtype=torch.int16)
    starts = torch.empty(B + 1, dtype=torch.int64)
    n = kernels.library().pixel_levels(
        _ptr("pixel_levels", "images", images),
        _ptr("pixel_levels", "rows", rows),
        B,
        M,
        columns[1].data_ptr(),
        limits[1].data_ptr(),
        columns[0].data_ptr(),
        limits[0].data_ptr(),
        starts.data_ptr(),
        kernels.threads(),
    )
    kernels.check(int(n == -2), "pixel_levels")
    if n < 0:
        raise ValueError("bernoulli_encode needs intensities in [0, 1]")
    return columns[0, :n].clone(), limits[0, :n].clone(), starts  # copies: the scratch rows are freed


def bernoulli_mask(seed: int, limits: Tensor, T: int) -> tuple[Tensor, Tensor]:
    n = limits.numel()
    mask, counts = torch.empty((T, n), dtype=torch.uint8), torch.empty(T, dtype=torch.int64)
    status = kernels.library().bernoulli_mask(
        seed % (1 << 64),
        _ptr("bernoulli_mask", "limits", limits),
        n,
        T,
        mask.data_ptr(),
        counts.data_ptr(),
        kernels.threads(),
    )
    kernels.check(status, "bernoulli_mask")
    return mask, counts


C_IMPLEMENTATIONS = {
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
