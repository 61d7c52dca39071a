"""labsnn's Adam and SGD: torch's update, and each network's elements updated the same way whatever K is."""

import pytest
import torch

from labsnn.running.optimizers import SGD, Adam

MAKERS = {
    "adam": (lambda params: Adam(params, lr=1e-2), lambda params: torch.optim.Adam(params, lr=1e-2, foreach=False)),
    "sgd": (lambda params: SGD(params, lr=0.5), lambda params: torch.optim.SGD(params, lr=0.5, foreach=False)),
    "sgd-momentum": (
        lambda params: SGD(params, lr=0.1, momentum=0.9),
        lambda params: torch.optim.SGD(params, lr=0.1, momentum=0.9, foreach=False),
    ),
}
#: Gradients over seven decades, in every column range, so that rounding has room to differ.
_SEED = torch.Generator().manual_seed(0)
GRADIENTS = torch.randn(60, 7840, generator=_SEED) * torch.logspace(-6, 1, 7840)[torch.randperm(7840, generator=_SEED)]


def _first_network(make, n: int, K: int) -> torch.Tensor:
    """Network 0's parameters after 60 steps of a ``[K, n]`` parameter whose K networks see the same gradients."""
    parameter = torch.nn.Parameter(torch.linspace(-1, 1, n).repeat(K, 1))
    optimizer = make([parameter])
    for gradient in GRADIENTS[:, :n]:
        parameter.grad = gradient.repeat(K, 1)
        optimizer.step()
    return parameter.detach()[0].clone()


@pytest.mark.parametrize("name", MAKERS)
@pytest.mark.parametrize("n", [10, 100, 7840])  # a bias, a hidden weight, a first-layer weight
def test_a_network_steps_the_same_in_any_stack(name, n):
    alone = _first_network(MAKERS[name][0], n, 1)
    for K in (2, 3, 12, 17):
        assert torch.equal(_first_network(MAKERS[name][0], n, K), alone), f"K = {K}"


@pytest.mark.parametrize("name", MAKERS)
def test_the_update_is_torchs(name):
    ours, torchs = MAKERS[name]
    a, b = _first_network(ours, 100, 1), _first_network(torchs, 100, 1)
    assert not torch.equal(a, torch.linspace(-1, 1, 100))
    torch.testing.assert_close(a, b, rtol=1e-5, atol=1e-6)


def test_parameters_without_gradients_are_left_alone():
    moved, kept = torch.nn.Parameter(torch.ones(3)), torch.nn.Parameter(torch.ones(3))
    optimizer = Adam([moved, kept], lr=0.1)
    moved.grad = torch.ones(3)
    optimizer.step()
    assert torch.equal(kept, torch.ones(3)) and not torch.equal(moved, torch.ones(3))
    assert optimizer.state_dict()["state"][0]["step"] == 1
