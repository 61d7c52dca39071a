"""The ``torch.ops.labsnn`` operators (``labsnn.engine.ops``): ``torch.library.opcheck`` on
each (schema, fake implementation, registered autograd, tracing), each against the readable
torch code (``labsnn.dynamics.neuron.lif_sequence`` for the LIF recurrence, else
``labsnn.engine.reference``), and clear errors for arguments of the wrong dtype, shape,
device or layout."""

import pytest
import torch

import labsnn.engine.ops  # noqa: F401 (defines torch.ops.labsnn)
from labsnn.dynamics import encoders
from labsnn.dynamics.neuron import LIFParameters, lif_sequence
from labsnn.engine import kernels, reference
from labsnn.engine.ops import SCHEMAS
from labsnn.engine.spike_events import draw_events

compiled = pytest.mark.skipif(kernels.load() is None, reason="no C compiler: the compiled kernels are not built here")
ops = torch.ops.labsnn
K, T, B, N, M = 2, 5, 6, 7, 40
DIFFERENTIABLE = ("lif", "event_currents", "dense_currents")


def _generator(seed: int = 0) -> torch.Generator:
    return torch.Generator().manual_seed(seed)


def _events():
    images = torch.rand(B, M, generator=_generator()) * (torch.rand(B, M, generator=_generator(1)) < 0.4)
    spikes = draw_events(images, T, _generator(2))
    return images, (spikes.mask, spikes.starts, spikes.columns)


def _lif_params(scaled: bool):
    beta, v_th, z = torch.tensor([0.3, 1.2]), torch.tensor([1.0, 0.5]), torch.tensor([2.0, 5.0])
    return beta, v_th, z, z.clone() if scaled else torch.ones(K), scaled


def _arguments(grad: bool = False) -> dict[str, tuple]:
    """One call's arguments for each operator; ``grad``: the differentiable inputs require it."""
    images, events = _events()
    g = _generator(3)
    currents = (2 * torch.randn(K, T, B, N, generator=g)).requires_grad_(grad)
    weight = (0.1 * torch.randn(K, N, M, generator=g)).requires_grad_(grad)
    bias = torch.randn(K, N, generator=g).requires_grad_(grad)
    spikes = (torch.rand(K, T, B, M, generator=g) < 0.3).float().requires_grad_(grad)
    hidden_weight = torch.randn(K, N, M, generator=g).requires_grad_(grad)
    grad_out = torch.randn(K, T, B, N, generator=g)
    membrane = _TORCH_LIF_MEMBRANE
    limits = encoders.pixel_levels(images, torch.arange(B))[1]
    return {
        "lif": (currents, *_lif_params(True), 0),
        "lif_backward": (grad_out, membrane, *_lif_params(True), 1),
        "event_currents": (*events, weight, bias),
        "event_weight_grad": (*events, grad_out, M),
        "dense_currents": (spikes, hidden_weight, bias),
        "dense_grads": (grad_out, spikes.detach(), hidden_weight.detach()),
        "row_sums": (grad_out,),
        "pixel_levels": (images, torch.randperm(B, generator=g)),
        "bernoulli_mask": (-12345, limits, T),
    }


def _torch_lif(currents, beta, v_th, z, gain, scaled, delay):
    """``labsnn::lif`` computed by the readable recurrence."""
    shape = (K, 1, 1)
    p = LIFParameters(beta.view(shape), v_th.view(shape), z.view(shape), gain.view(shape) if scaled else None)
    timing = ("same_step", "next_step")[delay]
    return tuple(x.transpose(0, 1) for x in lif_sequence(currents.transpose(0, 1), p, timing))


def _torch_lif_backward(grad_spikes, membrane, beta, v_th, z, gain, scaled, delay):
    """``labsnn::lif_backward`` computed by autograd through the readable recurrence, which needs the
    membrane's own currents: ``_lif_backward_arguments`` gives a consistent pair."""
    currents = _LIF_CURRENTS.clone().requires_grad_(True)
    spikes, _ = _torch_lif(currents, beta, v_th, z, gain, scaled, delay)
    return torch.autograd.grad((spikes * grad_spikes).sum(), currents)[0]


_LIF_CURRENTS = 2 * torch.randn(K, T, B, N, generator=_generator(5))
_TORCH_LIF_MEMBRANE = _torch_lif(_LIF_CURRENTS, *_lif_params(True), 1)[1].detach().contiguous()

TORCH_IMPLEMENTATIONS = {
    "lif": _torch_lif,
    "lif_backward": _torch_lif_backward,
    "event_currents": reference.event_currents,
    "event_weight_grad": reference.event_weight_grad,
    "dense_currents": reference.dense_currents,
    "dense_grads": reference.dense_grads,
    "row_sums": reference.row_sums,
    "pixel_levels": encoders.pixel_levels,
    "bernoulli_mask": encoders.bernoulli_mask,
}


def test_every_kernel_is_an_operator_with_a_torch_implementation():
    from labsnn.engine.ops import IMPLEMENTATIONS

    assert set(SCHEMAS) == set(TORCH_IMPLEMENTATIONS) == set(_arguments())
    assert list(SCHEMAS) == list(IMPLEMENTATIONS)
    for name in SCHEMAS:
        keys = ("CPU", "Meta", *(("Autograd",) if name in DIFFERENTIABLE else ()))
        for key in keys:
            assert torch._C._dispatch_has_kernel_for_dispatch_key(f"labsnn::{name}", key), (name, key)


@compiled
@pytest.mark.parametrize("name", sorted(SCHEMAS))
def test_opcheck(name):
    differentiable = name in DIFFERENTIABLE
    # pixel_levels' output size depends on the data: traced as a dynamic size, not run through AOT dispatch
    tests = ("test_schema", "test_autograd_registration", "test_faketensor")
    if name != "pixel_levels":
        tests = (*tests, "test_aot_dispatch_dynamic")
    torch.library.opcheck(getattr(ops, name), _arguments(grad=differentiable)[name], test_utils=tests)


@compiled
@pytest.mark.parametrize("name", sorted(SCHEMAS))
def test_the_compiled_operator_equals_its_torch_implementation(name):
    args = _arguments()[name]
    got, want = getattr(ops, name)(*args), TORCH_IMPLEMENTATIONS[name](*args)
    got, want = (got, want) if isinstance(got, tuple) else ((got,), (want,))
    for a, b in zip(got, want, strict=True):
        assert a.dtype == b.dtype and a.shape == b.shape
        if a.is_floating_point() and name not in ("lif", "lif_backward"):  # sums in another order
            torch.testing.assert_close(a, b, rtol=1e-5, atol=1e-5)
        else:  # LIF, event draws: bit for bit
            assert torch.equal(a, b)


@compiled
@pytest.mark.parametrize("name", DIFFERENTIABLE)
def test_the_registered_backward_equals_the_torch_implementations_gradient(name):
    args = _arguments(grad=True)[name]
    inputs = [a for a in args if isinstance(a, torch.Tensor) and a.requires_grad]
    out = getattr(ops, name)(*args)
    out = out[0] if isinstance(out, tuple) else out
    weights = torch.randn(out.shape, generator=_generator(9))
    got = torch.autograd.grad((out * weights).sum(), inputs)
    want = TORCH_IMPLEMENTATIONS[name](*args)
    want = want[0] if isinstance(want, tuple) else want
    want = torch.autograd.grad((want * weights).sum(), inputs)
    for a, b in zip(got, want, strict=True):
        torch.testing.assert_close(a, b, rtol=1e-4, atol=1e-5)
        assert a.abs().sum() > 0


@pytest.mark.parametrize(
    "name, position, bad, message",
    [
        ("lif", 0, torch.zeros(K, T, B, N, dtype=torch.float64), "currents must be torch.float32"),
        ("lif", 1, torch.ones(K + 1), r"beta must have shape \[2\]"),
        ("lif", 6, 2, "delay must be 0"),
        ("event_currents", 0, torch.zeros(T, 3, dtype=torch.int64), "mask must be torch.uint8"),
        ("event_currents", 4, torch.zeros(K, N + 1), r"bias must have shape \[2, 7\]"),
        ("dense_currents", 0, torch.zeros(K, T, B, M + 1), r"spikes must have shape \[2, \*, \*, 40\]"),
        ("dense_grads", 0, torch.zeros(K, T, B + 1, N), r"grad must have shape \[2, 5, 6, 7\]"),
        ("row_sums", 0, torch.zeros(4), r"x must be float32 \[K, ..., N\]"),
        ("pixel_levels", 1, torch.arange(B, dtype=torch.int32), "rows must be torch.int64"),
        ("bernoulli_mask", 2, 0, "T must be >= 1"),
    ],
)
def test_a_wrong_argument_is_a_clear_error_before_any_loop(name, position, bad, message):
    args = list(_arguments()[name])
    args[position] = bad
    with pytest.raises(ValueError, match=f"labsnn::{name}: {message}"):
        getattr(ops, name)(*args)


@compiled
def test_a_non_contiguous_tensor_is_an_error_not_a_copy():
    currents, *rest = _arguments()["lif"]
    with pytest.raises(ValueError, match="labsnn::lif: currents must be contiguous"):
        ops.lif(currents.transpose(2, 3).contiguous().transpose(2, 3), *rest)


def test_tensors_on_two_devices_are_an_error():
    currents, beta, *rest = _arguments()["lif"]
    with pytest.raises(ValueError, match="labsnn::lif: every tensor must be on one device"):
        ops.lif(currents, beta.to("meta"), *rest)
