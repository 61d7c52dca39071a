"""What each ``labsnn`` operator accepts (``labsnn.engine.ops``): dtypes, shapes and one
device, checked before any loop runs, on real and on fake tensors alike; a wrong argument
is a ``ValueError`` naming the operator and the argument, never memory read out of bounds."""

from __future__ import annotations

import torch
from torch import Tensor

F32, I64, I16, U8 = torch.float32, torch.int64, torch.int16, torch.uint8


def _fail(op: str, message: str) -> None:
    raise ValueError(f"labsnn::{op}: {message}")


def expect(op: str, name: str, tensor: Tensor, dtype: torch.dtype, shape: tuple | int) -> None:
    """``tensor`` has ``dtype`` and ``shape`` (a tuple, None where any size goes) or that many dimensions."""
    dims = shape if isinstance(shape, int) else len(shape)
    if tensor.dtype != dtype:
        _fail(op, f"{name} must be {dtype}, got {tensor.dtype}")
    if tensor.dim() != dims or (
        not isinstance(shape, int) and any(s is not None and s != n for s, n in zip(shape, tensor.shape))
    ):
        wanted = (
            f"{dims}-D"
            if isinstance(shape, int)
            else "[" + ", ".join("*" if s is None else str(s) for s in shape) + "]"
        )
        _fail(op, f"{name} must have shape {wanted}, got {list(tensor.shape)}")


def same_device(op: str, *tensors: Tensor) -> None:
    """All of ``tensors`` on one device."""
    if len({t.device for t in tensors}) > 1:
        _fail(op, f"every tensor must be on one device, got {sorted({str(t.device) for t in tensors})}")


def _lif_params(op: str, like: Tensor, beta: Tensor, v_th: Tensor, z: Tensor, gain: Tensor, delay: int) -> None:
    K = like.shape[0]
    for name, value in (("beta", beta), ("v_th", v_th), ("z", z), ("gain", gain)):
        expect(op, name, value, F32, (K,))
    if delay not in (0, 1):
        _fail(op, f"delay must be 0 (same_step) or 1 (next_step), got {delay}")
    same_device(op, like, beta, v_th, z, gain)


def lif(currents: Tensor, beta: Tensor, v_th: Tensor, z: Tensor, gain: Tensor, scaled: bool, delay: int) -> None:
    expect("lif", "currents", currents, F32, 4)
    _lif_params("lif", currents, beta, v_th, z, gain, delay)


def lif_backward(grad_spikes, membrane, beta, v_th, z, gain, scaled, delay) -> None:
    expect("lif_backward", "membrane", membrane, F32, 4)
    expect("lif_backward", "grad_spikes", grad_spikes, F32, tuple(membrane.shape))
    _lif_params("lif_backward", membrane, beta, v_th, z, gain, delay)
    same_device("lif_backward", grad_spikes, membrane)


def _events(op: str, mask: Tensor, starts: Tensor, columns: Tensor) -> None:
    expect(op, "mask", mask, U8, 2)
    expect(op, "starts", starts, I64, 1)
    expect(op, "columns", columns, I64, (mask.shape[1],))
    if starts.numel() < 1:
        _fail(op, "starts must hold B + 1 offsets, got none")


def event_currents(mask: Tensor, starts: Tensor, columns: Tensor, weight: Tensor, bias: Tensor) -> None:
    _events("event_currents", mask, starts, columns)
    expect("event_currents", "weight", weight, F32, 3)
    expect("event_currents", "bias", bias, F32, tuple(weight.shape[:2]))
    same_device("event_currents", mask, starts, columns, weight, bias)


def event_weight_grad(mask: Tensor, starts: Tensor, columns: Tensor, grad_currents: Tensor, M: int) -> None:
    _events("event_weight_grad", mask, starts, columns)
    expect("event_weight_grad", "grad_currents", grad_currents, F32, (None, mask.shape[0], starts.numel() - 1, None))
    if M < 1:
        _fail("event_weight_grad", f"M must be >= 1, got {M}")
    same_device("event_weight_grad", mask, starts, columns, grad_currents)


def dense_currents(spikes: Tensor, weight: Tensor, bias: Tensor) -> None:
    expect("dense_currents", "weight", weight, F32, 3)
    K, N, M = weight.shape
    expect("dense_currents", "spikes", spikes, F32, (K, None, None, M))
    expect("dense_currents", "bias", bias, F32, (K, N))
    same_device("dense_currents", spikes, weight, bias)


def dense_grads(grad: Tensor, spikes: Tensor, weight: Tensor) -> None:
    expect("dense_grads", "weight", weight, F32, 3)
    K, N, M = weight.shape
    expect("dense_grads", "spikes", spikes, F32, (K, None, None, M))
    expect("dense_grads", "grad", grad, F32, (K, *spikes.shape[1:3], N))
    same_device("dense_grads", grad, spikes, weight)


def row_sums(x: Tensor) -> None:
    if x.dtype != F32 or x.dim() < 2:
        _fail("row_sums", f"x must be float32 [K, ..., N], got {x.dtype} {list(x.shape)}")


def pixel_levels(images: Tensor, rows: Tensor) -> None:
    expect("pixel_levels", "images", images, F32, 2)
    expect("pixel_levels", "rows", rows, I64, 1)
    same_device("pixel_levels", images, rows)


def bernoulli_mask(seed: int, limits: Tensor, T: int) -> None:
    expect("bernoulli_mask", "limits", limits, I16, 1)
    if T < 1:
        _fail("bernoulli_mask", f"T must be >= 1, got {T}")


#: Each operator's boundary check, in the order ``labsnn.engine.ops`` defines the operators.
CHECKS = {
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
