"""Torch implementations of the ``labsnn`` operators' arithmetic (``labsnn.engine.ops``) other
than the LIF recurrence (``labsnn.dynamics.neuron.lif_sequence``): readable, on any device.
The torch backend computes with them, and the compiled loops are held to them
(``tests/test_ops.py``).

Layouts are the operators': a stack of K networks, network first (``[K, T, B, N]``), one
value per network of each LIF parameter (``[K]``), and Bernoulli input as events (the
encoding is ``labsnn.engine.spike_events``'s): ``mask [T, n]`` uint8, ``starts [B + 1]``
and ``columns [n]`` int64.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor

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


def row_sums(x: Tensor) -> Tensor:
    """``x [K, ..., N]`` summed over its middle dimensions: ``[K, N]`` (a bias's gradient)."""
    return x.reshape(x.shape[0], -1, x.shape[-1]).sum(1)


def dense_currents(spikes: Tensor, weight: Tensor, bias: Tensor) -> Tensor:
    """Currents ``[K, T, B, N]`` of ``spikes [K, T, B, M]``: network k's ``weight[k] x + bias[k]``."""
    return torch.stack([F.linear(x, w, b) for x, w, b in zip(spikes, weight, bias)])


def dense_grads(grad: Tensor, spikes: Tensor, weight: Tensor) -> tuple[Tensor, Tensor]:
    """``(grad_weight [K, N, M], grad_spikes [K, T, B, M])`` of ``dense_currents`` from its gradient ``grad``."""
    K, N, M = weight.shape
    grad_weight = torch.einsum("krn,krm->knm", grad.reshape(K, -1, N), spikes.reshape(K, -1, M))
    return grad_weight, torch.einsum("ktbn,knm->ktbm", grad, weight)


def _dense_events(mask: Tensor, starts: Tensor, columns: Tensor, M: int, dtype: torch.dtype) -> Tensor:
    out = torch.empty(mask.shape[0], starts.numel() - 1, M, dtype=dtype, device=mask.device)
    return dense_spikes(mask, starts, columns, M, out)


def event_currents(mask: Tensor, starts: Tensor, columns: Tensor, weight: Tensor, bias: Tensor) -> Tensor:
    """Currents ``[K, T, B, N]`` of K first layers, ``weight [K, N, M]``, ``bias [K, N]``, fed the events."""
    x = _dense_events(mask, starts, columns, weight.shape[2], weight.dtype)
    return torch.stack([F.linear(x, w, b) for w, b in zip(weight, bias)])


def event_weight_grad(mask: Tensor, starts: Tensor, columns: Tensor, grad_currents: Tensor, M: int) -> Tensor:
    """Gradient ``[K, N, M]`` of ``event_currents``' weight, from that of its currents ``[K, T, B, N]``."""
    K, N = grad_currents.shape[0], grad_currents.shape[-1]
    x = _dense_events(mask, starts, columns, M, grad_currents.dtype).reshape(-1, M)
    return torch.einsum("krn,rm->knm", grad_currents.reshape(K, -1, N), x)
