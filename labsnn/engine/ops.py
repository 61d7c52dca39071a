"""The compiled loops as typed operators, ``torch.ops.labsnn.*``.

Each operator takes tensors and checks their dtype, shape and device where it is called
(``ValueError`` naming the operator and the argument) and runs the C loop of
``labsnn.engine.kernels`` (on contiguous CPU tensors: anything else is an error, not a
copy). They exist on the CPU only: elsewhere a run takes the torch backend, the readable
torch code (``labsnn.dynamics.neuron.lif_sequence``, ``labsnn.engine.reference``) that
``tests/test_ops.py`` holds every operator to. Each has a fake (meta) implementation for
tracing, and the differentiable ones (``lif``, ``event_currents``, ``dense_currents``) their
backward registered with them; the tests run ``torch.library.opcheck`` on every one.

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

import torch
from torch import Tensor

from labsnn.engine.op_c import C_IMPLEMENTATIONS
from labsnn.engine.op_checks import CHECKS
from labsnn.engine.op_fakes import FAKES

SCHEMAS = {
    "lif": "(Tensor currents, Tensor beta, Tensor v_th, Tensor z, Tensor gain, bool scaled, int delay)"
    " -> (Tensor, Tensor)",
    "lif_backward": "(Tensor grad_spikes, Tensor membrane, Tensor beta, Tensor v_th, Tensor z, Tensor gain,"
    " bool scaled, int delay) -> Tensor",
    "event_currents": "(Tensor mask, Tensor starts, Tensor columns, Tensor weight, Tensor bias) -> Tensor",
    "event_weight_grad": "(Tensor mask, Tensor starts, Tensor columns, Tensor grad_currents, int M) -> Tensor",
    "dense_currents": "(Tensor spikes, Tensor weight, Tensor bias) -> Tensor",
    "dense_grads": "(Tensor grad, Tensor spikes, Tensor weight) -> (Tensor, Tensor)",
    "row_sums": "(Tensor x) -> Tensor",
    "pixel_levels": "(Tensor images, Tensor rows) -> (Tensor, Tensor, Tensor)",
    "bernoulli_mask": "(int seed, Tensor limits, int T) -> (Tensor, Tensor)",
}

_library = torch.library.Library("labsnn", "DEF")  # kept: the operators live as long as this module


def _checked(name: str, implementations: dict):
    """``implementations[name]`` (looked up at each call: a profiler may wrap it) after its checks."""
    check = CHECKS[name]

    def run(*args):
        check(*args)
        return implementations[name](*args)

    run.__name__ = f"labsnn_{name}"
    return run


for _name, _schema in SCHEMAS.items():
    _library.define(_name + _schema)
    torch.library.impl(f"labsnn::{_name}", "CPU", lib=_library)(_checked(_name, C_IMPLEMENTATIONS))
    torch.library.register_fake(f"labsnn::{_name}", _checked(_name, FAKES), lib=_library)


def _save_lif(ctx, inputs, output) -> None:
    _, beta, v_th, z, gain, scaled, delay = inputs
    ctx.save_for_backward(output[1], beta, v_th, z, gain)
    ctx.scaled, ctx.delay = scaled, delay


def _lif_grad(ctx, grad_spikes: Tensor, grad_membrane: Tensor | None):
    membrane, beta, v_th, z, gain = ctx.saved_tensors
    grad = torch.ops.labsnn.lif_backward(grad_spikes.contiguous(), membrane, beta, v_th, z, gain, ctx.scaled, ctx.delay)
    return grad, None, None, None, None, None, None


def _save_events(ctx, inputs, output) -> None:
    mask, starts, columns, weight, _ = inputs
    ctx.save_for_backward(mask, starts, columns)
    ctx.M = weight.shape[2]


def _event_grad(ctx, grad: Tensor):
    mask, starts, columns = ctx.saved_tensors
    grad = grad.contiguous()
    grad_weight = torch.ops.labsnn.event_weight_grad(mask, starts, columns, grad, ctx.M)
    return None, None, None, grad_weight, torch.ops.labsnn.row_sums(grad)


def _save_dense(ctx, inputs, output) -> None:
    spikes, weight, _ = inputs
    ctx.save_for_backward(spikes, weight)


def _dense_grad(ctx, grad: Tensor):
    spikes, weight = ctx.saved_tensors
    grad = grad.contiguous()
    grad_weight, grad_spikes = torch.ops.labsnn.dense_grads(grad, spikes, weight)
    return grad_spikes, grad_weight, torch.ops.labsnn.row_sums(grad)


torch.library.register_autograd("labsnn::lif", _lif_grad, setup_context=_save_lif, lib=_library)
torch.library.register_autograd("labsnn::event_currents", _event_grad, setup_context=_save_events, lib=_library)
torch.library.register_autograd("labsnn::dense_currents", _dense_grad, setup_context=_save_dense, lib=_library)
