import pytest
import torch

from labsnn.dynamics.losses import cross_entropy_rate, get_loss, mse_count, mse_rate, stack_losses


def test_mse_rate_against_hand_computation():
    rates = torch.tensor([[0.2, 0.8, 0.0], [1.0, 0.0, 0.4]])
    targets = torch.tensor([1, 2])
    expected = ((0.2**2 + 0.2**2 + 0) / 3 + (1 + 0 + 0.6**2) / 3) / 2
    assert mse_rate(rates, targets).item() == pytest.approx(expected)


def test_cross_entropy_uses_rates_as_logits():
    rates = torch.tensor([[0.2, 0.8, 0.0], [1.0, 0.0, 0.4]])
    targets = torch.tensor([1, 2])
    manual = -(torch.log_softmax(rates, dim=1)[[0, 1], [1, 2]]).mean()
    assert cross_entropy_rate(rates, targets).item() == pytest.approx(manual.item())


@pytest.mark.parametrize("name", ["mse_rate", "cross_entropy_rate", "mse_count"])
def test_stacked_rates_give_one_loss_per_network(name):
    torch.manual_seed(0)
    rates = torch.rand(6, 3, 10)
    targets = torch.randint(0, 10, (6,))
    loss = get_loss(name)
    stacked = loss(rates, targets, 8)
    assert stacked.shape == (3,)
    for k in range(3):
        assert stacked[k].item() == pytest.approx(loss(rates[:, k], targets, 8).item())


@pytest.mark.parametrize("T", [1, 5, 25])
def test_mse_count_is_snntorchs_mse_count_loss(T):
    SF = pytest.importorskip("snntorch.functional")
    torch.manual_seed(T)
    spikes = (torch.rand(T, 7, 10) < 0.3).float()
    targets = torch.randint(0, 10, (7,))
    ours = mse_count(spikes.mean(dim=0), targets, T)
    torch.testing.assert_close(ours, SF.mse_count_loss()(spikes, targets))
    torch.testing.assert_close(ours, T * mse_rate(spikes.mean(dim=0), targets))


def test_unknown_loss_lists_choices():
    with pytest.raises(ValueError, match="cross_entropy_rate, mse_count, mse_rate"):
        get_loss("hinge")


@pytest.mark.parametrize(
    "names", [["mse_rate"] * 17, ["mse_count"] * 12, ["cross_entropy_rate"] * 3, ["mse_rate", "cross_entropy_rate"]]
)
@pytest.mark.parametrize("B, T", [(128, 25), (1000, 100), (17, 2)])
def test_a_stack_s_losses_are_each_network_s_alone_bit_for_bit(names, B, T):
    generator = torch.Generator().manual_seed(B + T)
    K = len(names)
    rates = (torch.randint(0, T + 1, (K, B, 10), generator=generator).float() / T).requires_grad_()
    targets = torch.randint(0, 10, (B,), generator=generator)
    alone = torch.stack([get_loss(name)(rates[k], targets, T) for k, name in enumerate(names)])
    (alone_grad,) = torch.autograd.grad(alone.sum(), rates)
    stacked = stack_losses(names, rates, targets, T)
    (stacked_grad,) = torch.autograd.grad(stacked.sum(), rates)
    assert torch.equal(stacked, alone) and torch.equal(stacked_grad, alone_grad)
