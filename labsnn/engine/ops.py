"""The compiled loops as typed operators, ``torch.ops.labsnn.*``, each in one place.

Each operator's section holds, side by side: its C function's signature (``csrc/kernels.h``),
its schema, the check of its arguments (dtype, shape, one device: a ``ValueError`` naming the
operator and the argument, on real and fake tensors alike, never memory read out of bounds),
its CPU implementation (the C loop, on contiguous tensors: anything else is an error, not a
copy), its fake (meta) implementation for tracing and, for the differentiable ones (``lif``,
``event_currents``, ``dense_currents``), its registered backward. They exist on the CPU only:
elsewhere a run takes the torch backend, the readable torch code
(``labsnn.dynamics.neuron.lif_sequence``, ``labsnn.dynamics.encoders``,
``labsnn.engine.reference``) that ``tests/test_ops.py`` holds every operator to, after
``torch.library.opcheck``.

    lif(currents [K,T,B,N], beta, v_th, z, gain [K], scaled, delay) -> spikes, membrane
    lif_backward(grad_spikes, membrane [K,T,B,N], beta, v_th, z, gain [K], scaled, delay) -> grad
    event_currents(mask [T,n] u8, starts [B+1], columns [n], weight [K,N,M], bias [K,N]) -> [K,T,B,N]
    event_weight_grad(mask, starts, columns, grad [K,T,B,N], M) -> [K,N,M]
    dense_currents(spikes [K,T,B,M], weight [K,N,M], bias [K,N]) -> [K,T,B,N]
    dense_grads(grad [K,T,B,N], spikes [K,T,B,M], weight [K,N,M]) -> grad_weight, grad_spikes
    row_sums(x [K,...,N]) -> [K,N]
    pixel_levels(images [I,M], rows [B]) -> columns [n], limits [n] i16, starts [B+1]
    bernoulli_mask(seed, limits [n] i16, T) -> mask [T,n] u8, counts [T]
"""

from __future__ import annotations

import ctypes
from collections.abc import Callable

import torch
from torch import Tensor

from labsnn.engine import kernels

F32, I64, I16, U8 = torch.float32, torch.int64, torch.int16, torch.uint8
_I64, _PTR, _INT, _U64 = ctypes.c_int64, ctypes.c_void_p, ctypes.c_int, ctypes.c_uint64

_library = torch.library.Library("labsnn", "DEF")  # kept: the operators live as long as this module
#: Each operator's schema, in the order they are defined.
SCHEMAS: dict[str, str] = {}
#: Each operator's CPU implementation, looked up at each call (a profiler may wrap one).
IMPLEMENTATIONS: dict[str, Callable] = {}


def _define(name: str, schema: str, check: Callable, fake: Callable) -> Callable:
    """Defines ``labsnn::name`` with ``schema``; the decorated function is its CPU implementation.

    Args:
        name, schema: the operator and its signature; check: raises ValueError for a wrong argument, and runs
            before the implementation and before the fake; fake: outputs of the right dtype, shape and device.

    Returns:
        A decorator that registers the implementation and returns it unchanged.
    """

    def register(implementation: Callable) -> Callable:
        def cpu(*args):
            check(*args)
            return IMPLEMENTATIONS[name](*args)

        def meta(*args):
            check(*args)
            return fake(*args)

        _library.define(name + schema)
        cpu.__name__ = f"labsnn_{name}"
        torch.library.impl(f"labsnn::{name}", "CPU", lib=_library)(cpu)
        torch.library.register_fake(f"labsnn::{name}", meta, lib=_library)
        SCHEMAS[name], IMPLEMENTATIONS[name] = schema, implementation
        return implementation

    return register


def _fail(op: str, message: str) -> None:
    raise ValueError(f"labsnn::{op}: {message}")


def expect(op: str, name: str, tensor: Tensor, dtype: torch.dtype, shape: tuple | int) -> None:
    """Checks that ``tensor`` has ``dtype`` and ``shape`` (a tuple, None where any size goes) or that many dimensions.

    Raises:
        ValueError: naming ``op``, ``name``, what it must be and what it is.
    """
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
    """Checks that all of ``tensors`` are on one device (ValueError naming ``op`` otherwise)."""
    if len({t.device for t in tensors}) > 1:
        _fail(op, f"every tensor must be on one device, got {sorted({str(t.device) for t in tensors})}")


def _ptr(op: str, name: str, tensor: Tensor) -> int:
    """The address of ``tensor``'s data; a non-contiguous tensor is an error, not a copy."""
    if not tensor.is_contiguous():
        raise ValueError(f"labsnn::{op}: {name} must be contiguous (call .contiguous() first)")
    return tensor.data_ptr()


# lif and lif_backward: K LIF layers over T steps, and their gradient ----------------------------

_lif_forward_c = kernels.c_function("lif_forward", None, [_PTR, _PTR, _PTR, _I64, _I64, _I64, _I64, _PTR, _PTR])
_lif_backward_c = kernels.c_function(
    "lif_backward", None, [_PTR, _PTR, _PTR, _PTR, _PTR, _PTR, _INT, _I64, _I64, _I64, _I64, _PTR]
)


def _check_lif_params(op: str, like: Tensor, beta: Tensor, v_th: Tensor, z: Tensor, gain: Tensor, delay: int) -> None:
    K = like.shape[0]
    for name, value in (("beta", beta), ("v_th", v_th), ("z", z), ("gain", gain)):
        expect(op, name, value, F32, (K,))
    if delay not in (0, 1):
        _fail(op, f"delay must be 0 (same_step) or 1 (next_step), got {delay}")
    same_device(op, like, beta, v_th, z, gain)


def _check_lif(currents: Tensor, beta: Tensor, v_th: Tensor, z: Tensor, gain: Tensor, scaled: bool, delay: int):
    expect("lif", "currents", currents, F32, 4)
    _check_lif_params("lif", currents, beta, v_th, z, gain, delay)


def _fake_lif(currents: Tensor, beta, v_th, z, gain, scaled, delay) -> tuple[Tensor, Tensor]:
    return torch.empty_like(currents), torch.empty_like(currents)


@_define(
    "lif",
    "(Tensor currents, Tensor beta, Tensor v_th, Tensor z, Tensor gain, bool scaled, int delay) -> (Tensor, Tensor)",
    _check_lif,
    _fake_lif,
)
def lif(currents: Tensor, beta, v_th, z, gain, scaled: bool, delay: int) -> tuple[Tensor, Tensor]:
    """Spikes and membrane ``[K, T, B, N]`` of K LIF layers fed ``currents``: ``lif_sequence``'s recurrence, in C."""
    K, T = currents.shape[:2]
    spikes, membrane = torch.empty_like(currents), torch.empty_like(currents)
    p = [_ptr("lif", name, t) for name, t in (("currents", currents), ("beta", beta), ("v_th", v_th))]
    _lif_forward_c(*p, K, T, currents[0, 0].numel(), delay, spikes.data_ptr(), membrane.data_ptr())
    return spikes, membrane


def _check_lif_backward(grad_spikes, membrane, beta, v_th, z, gain, scaled, delay) -> None:
    expect("lif_backward", "membrane", membrane, F32, 4)
    expect("lif_backward", "grad_spikes", grad_spikes, F32, tuple(membrane.shape))
    _check_lif_params("lif_backward", membrane, beta, v_th, z, gain, delay)
    same_device("lif_backward", grad_spikes, membrane)


def _fake_lif_backward(grad_spikes: Tensor, membrane: Tensor, beta, v_th, z, gain, scaled, delay) -> Tensor:
    return torch.empty_like(membrane)


@_define(
    "lif_backward",
    "(Tensor grad_spikes, Tensor membrane, Tensor beta, Tensor v_th, Tensor z, Tensor gain, bool scaled, int delay)"
    " -> Tensor",
    _check_lif_backward,
    _fake_lif_backward,
)
def lif_backward(grad_spikes: Tensor, membrane: Tensor, beta, v_th, z, gain, scaled: bool, delay: int) -> Tensor:
    """The currents' gradient ``[K, T, B, N]`` from the spikes' and the membrane of ``lif`` (the reset detached)."""
    K, T = membrane.shape[:2]
    grad_currents = torch.empty_like(membrane)
    named = (("grad_spikes", grad_spikes), ("membrane", membrane), ("beta", beta), ("v_th", v_th), ("z", z))
    p = [_ptr("lif_backward", name, t) for name, t in (*named, ("gain", gain))]
    _lif_backward_c(*p, int(scaled), K, T, membrane[0, 0].numel(), delay, grad_currents.data_ptr())
    return grad_currents


def _save_lif(ctx, inputs, output) -> None:
    _, beta, v_th, z, gain, scaled, delay = inputs
    ctx.save_for_backward(output[1], beta, v_th, z, gain)
    ctx.scaled, ctx.delay = scaled, delay


def _lif_grad(ctx, grad_spikes: Tensor, grad_membrane: Tensor | None):
    membrane, beta, v_th, z, gain = ctx.saved_tensors
    grad = torch.ops.labsnn.lif_backward(grad_spikes.contiguous(), membrane, beta, v_th, z, gain, ctx.scaled, ctx.delay)
    return grad, None, None, None, None, None, None


torch.library.register_autograd("labsnn::lif", _lif_grad, setup_context=_save_lif, lib=_library)


# event_currents and event_weight_grad: the first layer fed Bernoulli events -------------------

_event_currents_c = kernels.c_function(
    "event_currents", _INT, [_PTR, _I64, _I64, _PTR, _I64, _PTR, _PTR, _I64, _PTR, _I64, _I64, _PTR, _INT]
)
_event_weight_grad_c = kernels.c_function(
    "event_weight_grad", _INT, [_PTR, _I64, _I64, _PTR, _I64, _PTR, _PTR, _I64, _I64, _I64, _I64, _PTR, _INT]
)


def _padded(columns: int) -> int:
    """``columns`` rounded up to whole vectors of ``kernels.LANES``."""
    return -(-columns // kernels.LANES) * kernels.LANES


def _check_events(op: str, mask: Tensor, starts: Tensor, columns: Tensor) -> None:
    expect(op, "mask", mask, U8, 2)
    expect(op, "starts", starts, I64, 1)
    expect(op, "columns", columns, I64, (mask.shape[1],))
    if starts.numel() < 1:
        _fail(op, "starts must hold B + 1 offsets, got none")


def _event_pointers(op: str, mask: Tensor, starts: Tensor, columns: Tensor) -> list:
    """The arguments the event kernels begin with: mask, n, T, starts, B, columns."""
    T, n = mask.shape
    return [_ptr(op, "mask", mask), n, T, _ptr(op, "starts", starts), starts.numel() - 1, _ptr(op, "columns", columns)]


def _check_event_currents(mask: Tensor, starts: Tensor, columns: Tensor, weight: Tensor, bias: Tensor) -> None:
    _check_events("event_currents", mask, starts, columns)
    expect("event_currents", "weight", weight, F32, 3)
    expect("event_currents", "bias", bias, F32, tuple(weight.shape[:2]))
    same_device("event_currents", mask, starts, columns, weight, bias)


def _fake_event_currents(mask: Tensor, starts: Tensor, columns: Tensor, weight: Tensor, bias: Tensor) -> Tensor:
    K, N, _ = weight.shape
    return weight.new_empty(K, mask.shape[0], starts.shape[0] - 1, N)


@_define(
    "event_currents",
    "(Tensor mask, Tensor starts, Tensor columns, Tensor weight, Tensor bias) -> Tensor",
    _check_event_currents,
    _fake_event_currents,
)
def event_currents(mask: Tensor, starts: Tensor, columns: Tensor, weight: Tensor, bias: Tensor) -> Tensor:
    """Currents ``[K, T, B, N]`` of K first layers fed the events, summed over the drawn pixels only."""
    (K, N, M), (T, B) = weight.shape, (mask.shape[0], starts.numel() - 1)
    currents, padded = torch.empty(K, T, B, N), _padded(K * N)
    weight_t = torch.zeros(M, padded)  # [M, K*N] padded to whole vectors: one pixel's weights for every network
    weight_t[:, : K * N] = weight.permute(2, 0, 1).reshape(M, K * N)
    events = _event_pointers("event_currents", mask, starts, columns)
    bias_p = _ptr("event_currents", "bias", bias)
    status = _event_currents_c(
        *events, weight_t.data_ptr(), padded, bias_p, K, N, currents.data_ptr(), kernels.threads()
    )
    kernels.check(status, "event_currents")
    return currents


def _check_event_weight_grad(mask: Tensor, starts: Tensor, columns: Tensor, grad_currents: Tensor, M: int) -> None:
    _check_events("event_weight_grad", mask, starts, columns)
    expect("event_weight_grad", "grad_currents", grad_currents, F32, (None, mask.shape[0], starts.numel() - 1, None))
    if M < 1:
        _fail("event_weight_grad", f"M must be >= 1, got {M}")
    same_device("event_weight_grad", mask, starts, columns, grad_currents)


def _fake_event_weight_grad(mask, starts, columns, grad_currents: Tensor, M: int) -> Tensor:
    return grad_currents.new_empty(grad_currents.shape[0], grad_currents.shape[-1], M)


@_define(
    "event_weight_grad",
    "(Tensor mask, Tensor starts, Tensor columns, Tensor grad_currents, int M) -> Tensor",
    _check_event_weight_grad,
    _fake_event_weight_grad,
)
def event_weight_grad(mask: Tensor, starts: Tensor, columns: Tensor, grad_currents: Tensor, M: int) -> Tensor:
    """Gradient ``[K, N, M]`` of ``event_currents``' weight, from that of its currents ``[K, T, B, N]``."""
    K, N = grad_currents.shape[0], grad_currents.shape[-1]
    padded = _padded(K * N)
    grad_weight_t = torch.empty(M, padded)
    events = _event_pointers("event_weight_grad", mask, starts, columns)
    grad_p = _ptr("event_weight_grad", "grad_currents", grad_currents)
    status = _event_weight_grad_c(*events, grad_p, K, N, padded, M, grad_weight_t.data_ptr(), kernels.threads())
    kernels.check(status, "event_weight_grad")
    return grad_weight_t[:, : K * N].reshape(M, K, N).permute(1, 2, 0).contiguous()


def _save_events(ctx, inputs, output) -> None:
    mask, starts, columns, weight, _ = inputs
    ctx.save_for_backward(mask, starts, columns)
    ctx.M = weight.shape[2]


def _event_grad(ctx, grad: Tensor):
    mask, starts, columns = ctx.saved_tensors
    grad = grad.contiguous()
    grad_weight = torch.ops.labsnn.event_weight_grad(mask, starts, columns, grad, ctx.M)
    return None, None, None, grad_weight, torch.ops.labsnn.row_sums(grad)


torch.library.register_autograd("labsnn::event_currents", _event_grad, setup_context=_save_events, lib=_library)


# dense_currents and dense_grads: a hidden layer's product, network by network -----------------

_dense_currents_c = kernels.c_function("dense_currents", _INT, [_PTR, _PTR, _PTR, _I64, _I64, _I64, _I64, _PTR, _INT])
_dense_grads_c = kernels.c_function("dense_grads", _INT, [_PTR, _PTR, _PTR, _I64, _I64, _I64, _I64, _PTR, _PTR, _INT])


def _check_dense_currents(spikes: Tensor, weight: Tensor, bias: Tensor) -> None:
    expect("dense_currents", "weight", weight, F32, 3)
    K, N, M = weight.shape
    expect("dense_currents", "spikes", spikes, F32, (K, None, None, M))
    expect("dense_currents", "bias", bias, F32, (K, N))
    same_device("dense_currents", spikes, weight, bias)


def _fake_dense_currents(spikes: Tensor, weight: Tensor, bias: Tensor) -> Tensor:
    return spikes.new_empty(*spikes.shape[:-1], weight.shape[1])


@_define(
    "dense_currents",
    "(Tensor spikes, Tensor weight, Tensor bias) -> Tensor",
    _check_dense_currents,
    _fake_dense_currents,
)
def dense_currents(spikes: Tensor, weight: Tensor, bias: Tensor) -> Tensor:
    """Currents ``[K, T, B, N]`` of ``spikes [K, T, B, M]``: network k's ``weight[k] x + bias[k]``, sums in a fixed order."""
    (K, T, B, M), N = spikes.shape, weight.shape[1]
    currents, weight_t = torch.empty(K, T, B, N), weight.transpose(1, 2).contiguous()
    p = [_ptr("dense_currents", name, t) for name, t in (("spikes", spikes), ("bias", bias))]
    status = _dense_currents_c(p[0], weight_t.data_ptr(), p[1], K, T * B, M, N, currents.data_ptr(), kernels.threads())
    kernels.check(status, "dense_currents")
    return currents


def _check_dense_grads(grad: Tensor, spikes: Tensor, weight: Tensor) -> None:
    expect("dense_grads", "weight", weight, F32, 3)
    K, N, M = weight.shape
    expect("dense_grads", "spikes", spikes, F32, (K, None, None, M))
    expect("dense_grads", "grad", grad, F32, (K, *spikes.shape[1:3], N))
    same_device("dense_grads", grad, spikes, weight)


def _fake_dense_grads(grad: Tensor, spikes: Tensor, weight: Tensor) -> tuple[Tensor, Tensor]:
    return torch.empty_like(weight), torch.empty_like(spikes)


@_define(
    "dense_grads",
    "(Tensor grad, Tensor spikes, Tensor weight) -> (Tensor, Tensor)",
    _check_dense_grads,
    _fake_dense_grads,
)
def dense_grads(grad: Tensor, spikes: Tensor, weight: Tensor) -> tuple[Tensor, Tensor]:
    """``(grad_weight [K, N, M], grad_spikes [K, T, B, M])`` of ``dense_currents`` from its gradient ``grad``."""
    (K, T, B, N), M = grad.shape, spikes.shape[-1]
    grad_weight, grad_spikes = torch.empty(K, N, M), torch.empty_like(spikes)
    p = [_ptr("dense_grads", name, t) for name, t in (("grad", grad), ("spikes", spikes), ("weight", weight))]
    status = _dense_grads_c(*p, K, T * B, M, N, grad_spikes.data_ptr(), grad_weight.data_ptr(), kernels.threads())
    kernels.check(status, "dense_grads")
    return grad_weight, grad_spikes


def _save_dense(ctx, inputs, output) -> None:
    spikes, weight, _ = inputs
    ctx.save_for_backward(spikes, weight)


def _dense_grad(ctx, grad: Tensor):
    spikes, weight = ctx.saved_tensors
    grad = grad.contiguous()
    grad_weight, grad_spikes = torch.ops.labsnn.dense_grads(grad, spikes, weight)
    return grad_spikes, grad_weight, torch.ops.labsnn.row_sums(grad)


torch.library.register_autograd("labsnn::dense_currents", _dense_grad, setup_context=_save_dense, lib=_library)


# row_sums: a bias's gradient ----------------------------------------------------------------

_row_sums_c = kernels.c_function("row_sums", _INT, [_PTR, _I64, _I64, _I64, _PTR, _INT])


def _check_row_sums(x: Tensor) -> None:
    if x.dtype != F32 or x.dim() < 2:
        _fail("row_sums", f"x must be float32 [K, ..., N], got {x.dtype} {list(x.shape)}")


def _fake_row_sums(x: Tensor) -> Tensor:
    return x.new_empty(x.shape[0], x.shape[-1])


@_define("row_sums", "(Tensor x) -> Tensor", _check_row_sums, _fake_row_sums)
def row_sums(x: Tensor) -> Tensor:
    """``x [K, ..., N]`` summed over its middle dimensions, in fixed parts: ``[K, N]``."""
    K, N = x.shape[0], x.shape[-1]
    out = torch.empty(K, N)
    status = _row_sums_c(_ptr("row_sums", "x", x), K, x[0].numel() // N, N, out.data_ptr(), kernels.threads())
    kernels.check(status, "row_sums")
    return out


# pixel_levels and bernoulli_mask: Bernoulli input as events (labsnn.dynamics.encoders) -------

_pixel_levels_c = kernels.c_function("pixel_levels", _I64, [_PTR, _PTR, _I64, _I64, _PTR, _PTR, _PTR, _PTR, _PTR, _INT])
_bernoulli_mask_c = kernels.c_function("bernoulli_mask", _INT, [_U64, _PTR, _I64, _I64, _PTR, _PTR, _INT])


def _check_pixel_levels(images: Tensor, rows: Tensor) -> None:
    expect("pixel_levels", "images", images, F32, 2)
    expect("pixel_levels", "rows", rows, I64, 1)
    same_device("pixel_levels", images, rows)


def _fake_pixel_levels(images: Tensor, rows: Tensor) -> tuple[Tensor, Tensor, Tensor]:
    n = torch.library.get_ctx().new_dynamic_size()  # how many pixels are drawn depends on the data
    return (
        rows.new_empty(n),
        torch.empty(n, dtype=torch.int16, device=images.device),
        rows.new_empty(rows.shape[0] + 1),
    )


@_define(
    "pixel_levels",
    "(Tensor images, Tensor rows) -> (Tensor, Tensor, Tensor)",
    _check_pixel_levels,
    _fake_pixel_levels,
)
def pixel_levels(images: Tensor, rows: Tensor) -> tuple[Tensor, Tensor, Tensor]:
    """``labsnn.dynamics.encoders.pixel_levels`` in C: ``images[rows]`` read in place."""
    if rows.numel() and not bool((rows.min() >= 0) & (rows.max() < images.shape[0])):
        raise IndexError(f"labsnn::pixel_levels: rows must index the {images.shape[0]} images")
    B, M = rows.numel(), images.shape[1]
    columns, limits = torch.empty(2, B * M, dtype=torch.int64), torch.empty(2, B * M, dtype=torch.int16)
    starts = torch.empty(B + 1, dtype=torch.int64)
    n = _pixel_levels_c(
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


def _check_bernoulli_mask(seed: int, limits: Tensor, T: int) -> None:
    expect("bernoulli_mask", "limits", limits, I16, 1)
    if T < 1:
        _fail("bernoulli_mask", f"T must be >= 1, got {T}")


def _fake_bernoulli_mask(seed: int, limits: Tensor, T: int) -> tuple[Tensor, Tensor]:
    mask = torch.empty(T, limits.shape[0], dtype=torch.uint8, device=limits.device)
    return mask, torch.empty(T, dtype=torch.int64, device=limits.device)


@_define(
    "bernoulli_mask",
    "(int seed, Tensor limits, int T) -> (Tensor, Tensor)",
    _check_bernoulli_mask,
    _fake_bernoulli_mask,
)
def bernoulli_mask(seed: int, limits: Tensor, T: int) -> tuple[Tensor, Tensor]:
    """``labsnn.dynamics.encoders.bernoulli_mask`` in C."""
    n = limits.numel()
    mask, counts = torch.empty((T, n), dtype=torch.uint8), torch.empty(T, dtype=torch.int64)
    limits_p = _ptr("bernoulli_mask", "limits", limits)
    status = _bernoulli_mask_c(seed % (1 << 64), limits_p, n, T, mask.data_ptr(), counts.data_ptr(), kernels.threads())
    kernels.check(status, "bernoulli_mask")
    return mask, counts
