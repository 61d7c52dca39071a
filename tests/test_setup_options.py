"""The training-setup choices the source report leaves unstated (surrogate form, spike timing,
optimizer, count-based loss) and the diagnostics that show how a network is stuck."""

import hashlib
import json

import pytest
import torch

from labsnn.dynamics.neuron import LIFParameters, fast_sigmoid, lif_sequence
from labsnn.model import SNN, SNNStack
from labsnn.running.config import RunConfig
from labsnn.running.train import train

TINY = RunConfig(T=8, epochs=1, n_train=200, n_test=100, batch_size=20, lr=1e-2, v_th=0.5)


@pytest.mark.parametrize("z", [0.5, 2.0, 10.0])
def test_scaled_surrogate_is_z_over_one_plus_z_abs_x_squared(z):
    x = torch.tensor([-3.0, -0.5, 0.0, 0.01, 0.4, 2.0], requires_grad=True)
    fast_sigmoid(x, z, gain=z).sum().backward()
    expected = torch.tensor([z / (1.0 + z * abs(v)) ** 2 for v in x.tolist()])
    torch.testing.assert_close(x.grad, expected)


def test_next_step_is_same_step_delayed_by_one():
    torch.manual_seed(0)
    currents = torch.rand(12, 3, 4) * 1.5
    same, _ = lif_sequence(currents, LIFParameters(0.5, 1.0, 2.0))
    late, _ = lif_sequence(currents, LIFParameters(0.5, 1.0, 2.0), spike_timing="next_step")
    assert late[0].sum() == 0 and torch.equal(late[1:], same[:-1])


def test_next_step_two_layer_trace_by_hand():
    """1-1-1 network, w1 = 2, w2 = 1.5, no bias, beta = 0.5, V_th = 1, input 1 at every step.
    Layer 1: V = 0, 2, 2 -> S = 0, 1, 1. Layer 2 currents 0, 1.5, 1.5: V = 0, 0, 1.5 -> S = 0, 0, 1.
    Same-step timing fires both layers from the first step."""
    x = torch.ones(3, 1, 1)
    for timing, expected in (("next_step", [0.0, 0.0, 1.0]), ("same_step", [1.0, 1.0, 1.0])):
        net = SNN(sizes=(1, 1, 1), beta=0.5, v_th=1.0, spike_timing=timing)
        with torch.no_grad():
            for fc, value in zip(net.stack.linears, (2.0, 1.5)):
                fc.weight.fill_(value)
                fc.bias.zero_()
        assert net(x).flatten().tolist() == expected
    late = SNN(sizes=(1, 1, 1), beta=0.5, v_th=1.0, spike_timing="next_step")
    with torch.no_grad():
        late.stack.fc2.bias.fill_(-5.0)  # at T = 2 the output reads only its bias: no input makes it fire
    assert late(torch.ones(2, 4, 1) * 100).sum() == 0
    with torch.no_grad():
        late.stack.fc2.bias.fill_(5.0)
    assert late(torch.zeros(2, 4, 1)).tolist() == late(torch.ones(2, 4, 1) * 100).tolist()


def test_stack_mixing_surrogates_computes_each_network_as_alone():
    torch.manual_seed(0)
    x = (torch.rand(9, 6, 784) < 0.3).float()
    target = torch.randint(0, 10, (6,))
    surrogates = ["fast_sigmoid", "scaled_fast_sigmoid"]
    stack = SNNStack(beta=[0.5, 0.5], v_th=[0.5, 0.5], z=[5.0, 5.0], seeds=[0, 0], surrogate=surrogates)
    out = stack(x)
    ((out.firing_rates() - torch.nn.functional.one_hot(target, 10)) ** 2).mean(dim=(1, 2)).sum().backward()
    for k, surrogate in enumerate(surrogates):
        alone = SNN(beta=0.5, v_th=0.5, z=5.0, seed=0, surrogate=surrogate)
        spikes = alone(x)
        ((spikes.mean(0) - torch.nn.functional.one_hot(target, 10)) ** 2).mean().backward()
        assert torch.equal(spikes, out.spikes[k])
        for fc_stack, fc_alone in zip(stack.linears, alone.stack.linears):
            assert torch.equal(fc_stack.weight.grad[k], fc_alone.weight.grad[0])
    assert not torch.equal(stack.fc1.weight.grad[0], stack.fc1.weight.grad[1])  # the scaled one is z times larger


def test_results_cached_before_the_options_keep_their_hash():
    """A default run's hash is that of the fields it had before the options existed."""
    legacy = {
        k: v
        for k, v in RunConfig().to_dict().items()
        if k not in ("device", "backend", "optimizer", "momentum", "surrogate", "spike_timing")
    }
    expected = hashlib.sha256(json.dumps(legacy, sort_keys=True, default=list).encode()).hexdigest()[:16]
    assert RunConfig().config_hash == expected
    assert RunConfig(optimizer="sgd").config_hash != expected
    assert RunConfig(spike_timing="next_step").config_hash != expected
    assert RunConfig(surrogate="scaled_fast_sigmoid").stack_key() == RunConfig().stack_key()
    assert RunConfig(spike_timing="next_step").stack_key() != RunConfig().stack_key()


@pytest.mark.parametrize(
    "field, value, message",
    [
        ("optimizer", "rmsprop", "optimizer must be one of"),
        ("surrogate", "tanh", "surrogate must be one of"),
        ("spike_timing", "later", "spike_timing must be one of"),
        ("momentum", -0.5, "momentum must be"),
    ],
)
def test_bad_options_name_the_field(field, value, message):
    with pytest.raises(ValueError, match=message):
        RunConfig(**{field: value})


def test_next_step_timing_needs_two_steps():
    with pytest.raises(ValueError, match="next_step needs T >= 2"):
        RunConfig(T=1, spike_timing="next_step")
    assert RunConfig(T=2, spike_timing="next_step").T == 2


def test_momentum_applies_to_sgd_only():
    with pytest.raises(ValueError, match="momentum applies to optimizer sgd only"):
        RunConfig(momentum=0.9)
    assert RunConfig(optimizer="sgd", momentum=0.9).momentum == 0.9


def test_sgd_trains_differently_from_adam(subset):
    adam = train(TINY, subset, progress=False).epochs[0]
    sgd = train(TINY.replace(optimizer="sgd", lr=1.0), subset, progress=False).epochs[0]
    assert adam["train_loss"] != sgd["train_loss"] and sgd["max_abs_weight_l0"] != adam["max_abs_weight_l0"]


def test_diagnostics_read_a_silent_network_as_silent(subset):
    silent = train(TINY.replace(v_th=1000.0), subset, progress=False).epochs[0]
    assert silent["silent_frac_test"] == 1.0 and silent["out_rate_test"] == 0.0
    assert silent["top_class_share_test"] == 1.0  # every tie goes to the first class
    firing = train(TINY, subset, progress=False).epochs[0]
    assert firing["silent_frac_test"] < 1.0 and firing["out_rate_test"] > 0
    assert 0 < firing["max_abs_membrane_test"] < 1000 and firing["max_abs_weight_l0"] > 0


def test_a_nan_network_scores_the_share_of_the_first_class(subset):
    """What code without a divergence check reports for a diverged network: NaN membranes
    never cross the threshold, all outputs tie at 0 and the first class wins."""
    from labsnn.lab.setup_search import first_class_share
    from labsnn.running.batches import BatchEngine
    from labsnn.running.train import _evaluate

    model = SNNStack()
    with torch.no_grad():
        model.fc1.weight.fill_(float("nan"))
    engine = BatchEngine(RunConfig(), model, ["mse_rate"], torch.device("cpu"), torch.empty(25 * 256 * 784))
    stats = _evaluate(engine, subset.test_images, subset.test_labels)
    assert float(stats.accuracy()[0]) == pytest.approx(first_class_share(subset))
    assert not bool(stats.finite[0])
