import pytest
import torch

from labsnn.engine import kernels, stack
from labsnn.model import ANN, SNN, SNNStack, StackOutput
from labsnn.running import measure


def test_snn_shapes_and_rates():
    model = SNN(sizes=(784, 20, 10), beta=0.5, v_th=0.5)
    x = (torch.rand(6, 3, 784) < 0.3).float()
    assert model(x).shape == (6, 3, 10)
    out = model.stack(x)
    rates = measure.input_rates(x, out, 784)
    assert [r.shape for r in rates] == [(6, 1), (6, 1)]
    torch.testing.assert_close(rates[0][:, 0], x.mean(dim=(1, 2)))
    torch.testing.assert_close(rates[1][:, 0], out.layer_spikes[0][0].mean(dim=(1, 2)))


def test_stacked_network_computes_what_it_computes_alone():
    torch.manual_seed(0)
    x = (torch.rand(10, 16, 784) < 0.3).float()
    target = torch.randint(0, 10, (16,))
    settings = [(0.1, 1.0, 2.0, 0), (0.5, 0.5, 5.0, 0), (0.9, 0.25, 1.0, 1)]
    stack = SNNStack(
        beta=[s[0] for s in settings],
        v_th=[s[1] for s in settings],
        z=[s[2] for s in settings],
        seeds=[s[3] for s in settings],
    )
    out = stack(x)
    loss = sum(((out.firing_rates()[k] - torch.nn.functional.one_hot(target, 10)) ** 2).mean() for k in range(3))
    loss.backward()
    for k, (beta, v_th, z, seed) in enumerate(settings):
        alone = SNN(beta=beta, v_th=v_th, z=z, seed=seed)
        spikes = alone(x)
        ((spikes.mean(0) - torch.nn.functional.one_hot(target, 10)) ** 2).mean().backward()
        assert torch.equal(spikes, out.spikes[k])
        for fc_stack, fc_alone in zip(stack.linears, alone.stack.linears):
            assert torch.equal(fc_stack.weight[k], fc_alone.weight[0])
            assert torch.equal(fc_stack.weight.grad[k], fc_alone.weight.grad[0])
            assert torch.equal(fc_stack.bias.grad[k], fc_alone.bias.grad[0])


def test_an_expanded_constant_input_gives_what_its_materialised_copy_gives():
    x = torch.rand(4, 784)
    model = SNN(beta=0.5, v_th=0.3)
    expanded = model(x.unsqueeze(0).expand(12, 4, 784))
    materialised = model(x.unsqueeze(0).repeat(12, 1, 1))
    assert torch.equal(expanded, materialised)


def test_bad_shapes_and_sizes():
    with pytest.raises(ValueError, match="inputs must have shape"):
        SNN()(torch.zeros(3, 2, 100))
    with pytest.raises(ValueError, match="sizes must be"):
        SNN(sizes=(784,))
    with pytest.raises(ValueError, match="beta must be"):
        SNN(beta=float("nan"))


def test_ann_reference():
    ann = ANN((784, 10, 10))
    assert ann(torch.rand(3, 784)).shape == (3, 10)
    assert sum(p.numel() for p in ann.parameters()) == 784 * 10 + 10 + 10 * 10 + 10


@pytest.mark.skipif(kernels.load() is None, reason="no C compiler: the compiled kernels are not built here")
def test_the_compiled_model_matches_the_readable_reference():
    torch.manual_seed(2)
    x = (torch.rand(25, 32, 784) < 0.2).float()
    target = torch.randint(0, 10, (32,))
    outputs = []
    for backend in ("compiled", "torch"):
        model = SNNStack(beta=[0.1, 0.9], v_th=[1.0, 0.5], z=[2.0, 5.0], seeds=[0, 1], backend=backend)
        out = model(x)
        loss = ((out.firing_rates() - torch.nn.functional.one_hot(target, 10)) ** 2).mean()
        loss.backward()
        outputs.append((out.spikes, loss.detach(), [fc.weight.grad for fc in model.linears]))
    (s_fast, l_fast, g_fast), (s_ref, l_ref, g_ref) = outputs
    assert torch.equal(s_fast, s_ref)
    torch.testing.assert_close(l_fast, l_ref)
    for a, b in zip(g_fast, g_ref):
        torch.testing.assert_close(a, b, rtol=1e-4, atol=1e-6)
        assert b.abs().sum() > 0


def test_first_layer_active_fraction_counts_nonzero_inputs_of_each_step():
    torch.manual_seed(0)
    x = torch.rand(3, 1400, 784)  # 1.1 million values per step: counted in slices
    x[x < 0.6] = 0
    out = SNNStack(beta=(0.5, 0.9), v_th=(1.0, 1.0), z=(2.0, 2.0), seeds=(0, 1))(x)
    rates = measure.input_rates(x, out, 784)
    active = measure.input_active(x, rates, 784)[0]
    assert active.shape == (3, 2)
    expected = (x != 0).double().mean(dim=(1, 2))
    torch.testing.assert_close(active[:, 0].double(), expected)
    torch.testing.assert_close(active[:, 1], active[:, 0])
    assert (rates[0][:, 0] < active[:, 0]).all()  # intensities below 1: the mean is below the active fraction


def test_inputs_without_their_blank_columns_compute_the_same_network():
    torch.manual_seed(0)
    x = (torch.rand(6, 5, 784, dtype=torch.float64) < 0.3).double()
    x[:, :, 300:500] = 0  # blank in every image and step
    columns = x.ne(0).any(dim=1).any(dim=0).nonzero().squeeze(1)
    assert 0 < columns.numel() < 784
    full, compact = (SNNStack(beta=(0.5, 0.9), v_th=(0.5, 1.0), z=(2.0, 2.0), seeds=(0, 1)).double() for _ in range(2))
    compact.load_state_dict(full.state_dict())
    a, b = full(x), StackOutput(*stack.forward(compact.params(), x[:, :, columns], columns))
    assert torch.equal(a.spikes, b.spikes)
    rates_a, rates_b = measure.input_rates(x, a, 784), measure.input_rates(x[:, :, columns], b, 784)
    for rate_a, rate_b in zip(rates_a, rates_b):
        assert torch.equal(rate_a, rate_b)
    assert torch.equal(
        measure.input_active(x, rates_a, 784)[0], measure.input_active(x[:, :, columns], rates_b, 784)[0]
    )
    a.firing_rates().sum().backward()
    b.firing_rates().sum().backward()
    for pa, pb in zip(full.parameters(), compact.parameters()):
        torch.testing.assert_close(pa.grad, pb.grad)


def test_bad_columns():
    params = SNN().stack.params()
    with pytest.raises(ValueError, match=r"inputs must have shape \[T, B, 3\]"):
        stack.forward(params, torch.zeros(2, 1, 784), torch.tensor([0, 5, 9]))
    for columns in (torch.tensor([3, 784]), torch.tensor([5, 5]), torch.tensor([5, 3]), torch.tensor([1.0, 2.0])):
        with pytest.raises(ValueError, match="columns must be"):
            stack.forward(params, torch.zeros(2, 1, 2), columns)


def test_the_stack_reads_as_its_layers_and_computes_what_they_compute():
    torch.manual_seed(4)
    x = (torch.rand(12, 8, 784) < 0.2).float()
    stack = SNNStack(beta=[0.1, 0.9], v_th=[1.0, 0.5], z=[2.0, 5.0], seeds=[0, 1], spike_timing="next_step")
    shown = repr(stack)
    assert all(f"({name}): Stacked" in shown for name in ("fc1", "lif1", "fc2", "lif2")) and stack.lif1 is stack.lif2
    assert list(stack.state_dict()) == ["fc1.weight", "fc1.bias", "fc2.weight", "fc2.bias"]
    out = stack(x)
    hidden, _ = stack.lif1(stack.fc1(x))
    spikes, membrane = stack.lif2(stack.fc2(hidden))
    assert torch.equal(out.layer_spikes[0], hidden) and torch.equal(out.spikes, spikes)
    assert torch.equal(out.membranes[1], membrane)
    linear = torch.nn.Linear(784, 10)  # network k's layer is a torch.nn.Linear with its weight and bias
    linear.load_state_dict({"weight": stack.fc1.weight[1], "bias": stack.fc1.bias[1]})
    assert torch.equal(linear(x), stack.fc1(x)[1])
