import math

import pytest
import torch

from labsnn.dynamics.neuron import LIF, LIFParameters, LIFState, fast_sigmoid, fast_sigmoid_grad, lif_sequence, lif_step


@pytest.mark.parametrize("z", [0.5, 2.0, 10.0, 25.0])
def test_spike_gradient_is_fast_sigmoid_derivative(z):
    x = torch.tensor([-3.0, -0.5, -0.01, 0.0, 0.01, 0.4, 2.0], requires_grad=True)
    fast_sigmoid(x, z).sum().backward()
    expected = torch.tensor([1.0 / (1.0 + z * abs(v)) ** 2 for v in x.tolist()])
    torch.testing.assert_close(x.grad, expected)
    torch.testing.assert_close(fast_sigmoid_grad(x.detach(), z), expected)


def test_spike_forward_is_strict_heaviside():
    x = torch.tensor([-1.0, -1e-7, 0.0, 1e-7, 3.0])
    assert fast_sigmoid(x, 2.0).tolist() == [0.0, 0.0, 0.0, 1.0, 1.0]


def test_lif_step_is_the_lab_recurrence():
    v = torch.tensor([0.5, 1.5, 1.0])
    state = LIFState(v, (v > 1.0).float())  # V = V_th does not spike
    current = torch.tensor([0.2, 0.3, -0.1])
    spike, new = lif_step(current, state, LIFParameters(beta=0.9, v_th=1.0, z=2.0))
    expected = torch.tensor([0.9 * 0.5 + 0.2, 0.9 * 1.5 + 0.3 - 1.0, 0.9 * 1.0 - 0.1])
    torch.testing.assert_close(new.v, expected)
    assert torch.equal(spike, new.s) and spike.tolist() == (expected > 1.0).float().tolist()


def test_layer_reports_spike_of_membrane_after_integrating_input():
    """Documented relation: spikes[t] = S[t+1], membrane[t] = V[t+1], by hand from V[0] = 0."""
    torch.manual_seed(1)
    currents = torch.rand(30, 4, 6) * 1.5
    spikes, membrane = LIF(beta=0.7, v_th=1.0, z=2.0)(currents, return_membrane=True)
    v, s = torch.zeros(4, 6), torch.zeros(4, 6)
    for t in range(30):
        v = 0.7 * v + currents[t] - s * 1.0
        s = (v > 1.0).float()
        assert torch.equal(s, spikes[t]) and torch.equal(v, membrane[t])
    assert spikes.sum() > 0


@pytest.mark.parametrize("beta", [0.0, 0.1, 0.5, 0.95, 1.0])
@pytest.mark.parametrize("threshold", [0.5, 1.0])
def test_conforms_to_snntorch_leaky(beta, threshold):
    snn = pytest.importorskip("snntorch")
    from snntorch import surrogate

    torch.manual_seed(0)
    currents = torch.randn(50, 8, 16) * 0.8 + 0.3
    leaky = snn.Leaky(
        beta=beta, threshold=threshold, reset_mechanism="subtract", spike_grad=surrogate.fast_sigmoid(slope=2.0)
    )
    mem = leaky.init_leaky()
    ref_spikes, ref_mem = [], []
    for t in range(50):
        spk, mem = leaky(currents[t], mem)
        ref_spikes.append(spk)
        ref_mem.append(mem)
    layer = LIF(beta, threshold, 2.0)(currents, return_membrane=True)
    for spikes, membrane in (layer, lif_sequence(currents, LIFParameters(beta, threshold, 2.0))):
        assert torch.equal(spikes, torch.stack(ref_spikes).detach())
        torch.testing.assert_close(membrane, torch.stack(ref_mem).detach(), rtol=0, atol=1e-6)
    assert 0 < spikes.mean() < 1  # the comparison exercised both spiking and silent steps


def test_beta_above_one_is_not_clamped():
    currents = torch.full((5, 1, 1), 0.1)
    _, membrane = lif_sequence(currents, LIFParameters(beta=2.0, v_th=100.0, z=2.0))
    expected = [0.1, 0.3, 0.7, 1.5, 3.1]
    torch.testing.assert_close(membrane.flatten(), torch.tensor(expected))


@pytest.mark.parametrize(
    "kwargs, name",
    [
        ({"beta": math.nan}, "beta"),
        ({"beta": math.inf}, "beta"),
        ({"v_th": 0.0}, "v_th"),
        ({"v_th": -1.0}, "v_th"),
        ({"z": 0.0}, "z"),
        ({"z": -2.0}, "z"),
        ({"z": math.inf}, "z"),
    ],
)
def test_bad_parameters_raise_naming_the_parameter(kwargs, name):
    params = {"beta": 0.5, "v_th": 1.0, "z": 2.0, **kwargs}
    with pytest.raises(ValueError, match=rf"^{name} must be .*got {params[name]!r}"):
        LIF(**params)
    with pytest.raises(ValueError, match=rf"^{name} must be"):
        lif_sequence(torch.zeros(3, 1, 1), LIFParameters(**params))


def test_a_sequence_of_no_steps_is_a_clear_error():
    with pytest.raises(ValueError, match="T >= 1"):
        lif_sequence(torch.zeros(0, 3), LIFParameters(0.5, 1.0, 2.0))
