import math

import pytest
import torch

from labsnn.dynamics.neuron import LIF, fast_sigmoid, fast_sigmoid_grad, lif_sequence, lif_sequence_reference, lif_step


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
    current = torch.tensor([0.2, 0.3, -0.1])
    spike, v_next = lif_step(v, current, beta=0.9, v_th=1.0, z=2.0)
    assert spike.tolist() == [0.0, 1.0, 0.0]  # V = V_th does not spike
    torch.testing.assert_close(v_next, torch.tensor([0.9 * 0.5 + 0.2, 0.9 * 1.5 + 0.3 - 1.0, 0.9 * 1.0 - 0.1]))


def test_layer_reports_spike_of_membrane_after_integrating_input():
    """Documented relation: spikes[t] = S[t+1], membrane[t] = V[t+1] of lif_step from V[0]=0."""
    torch.manual_seed(1)
    currents = torch.rand(30, 4, 6) * 1.5
    spikes, membrane = LIF(beta=0.7, v_th=1.0, z=2.0)(currents, return_membrane=True)
    v = torch.zeros(4, 6)
    for t in range(30):
        s_t, v = lif_step(v, currents[t], 0.7, 1.0, 2.0)
        if t > 0:
            assert torch.equal(s_t, spikes[t - 1])
        torch.testing.assert_close(v, membrane[t])
    assert torch.equal(lif_step(v, currents[0], 0.7, 1.0, 2.0)[0], spikes[-1])


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
    for spikes, membrane in (layer, lif_sequence_reference(currents, beta, threshold, 2.0)):
        assert torch.equal(spikes, torch.stack(ref_spikes).detach())
        torch.testing.assert_close(membrane, torch.stack(ref_mem).detach(), rtol=0, atol=1e-6)
    assert 0 < spikes.mean() < 1  # the comparison exercised both spiking and silent steps


@pytest.mark.parametrize("per_neuron", [False, True])
def test_fast_path_matches_reference_values_and_gradients(per_neuron):
    torch.manual_seed(3)
    T, B, N = 40, 5, 7
    beta = torch.linspace(0.05, 1.5, N) if per_neuron else 0.3
    v_th = torch.linspace(0.5, 2.0, N) if per_neuron else 1.0
    z = torch.linspace(1.0, 10.0, N) if per_neuron else 2.0
    currents = torch.randn(T, B, N) + 0.5
    weights = torch.randn(T, B, N)
    results = []
    for run in (lif_sequence, lif_sequence_reference):
        x = currents.clone().requires_grad_(True)
        spikes, membrane = run(x, beta, v_th, z)
        (spikes * weights).sum().backward()
        results.append((spikes.detach(), membrane.detach(), x.grad))
    (s_fast, m_fast, g_fast), (s_ref, m_ref, g_ref) = results
    assert torch.equal(s_fast, s_ref)
    torch.testing.assert_close(m_fast, m_ref)
    torch.testing.assert_close(g_fast, g_ref)
    assert g_ref.abs().sum() > 0


def test_beta_above_one_is_not_clamped():
    currents = torch.full((5, 1, 1), 0.1)
    _, membrane = lif_sequence(currents, beta=2.0, v_th=100.0, z=2.0)
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
        lif_sequence(torch.zeros(3, 1, 1), params["beta"], params["v_th"], params["z"])


def test_a_sequence_of_no_steps_is_a_clear_error():
    with pytest.raises(ValueError, match="T >= 1"):
        lif_sequence(torch.zeros(0, 3), 0.5, 1.0, 2.0)
