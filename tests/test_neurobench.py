"""NeuroBench's metrics as labsnn records them (``labsnn.running.measure``), checked against the ``neurobench``
package's own ``Benchmark`` on the same trained network and the same input spikes.

NeuroBench measures snnTorch models, so the trained weights are copied into ``Linear`` plus
``Leaky(reset_mechanism="subtract", init_hidden=True)`` layers. The weights are first put on a grid of 2^-14 (none
left at zero): with binary inputs every current is then an exact sum in float32, whichever order the two libraries
add in, so both compute the same spikes, and the metrics can be compared exactly.
"""

import math

import pytest
import torch

from labsnn.dynamics.flops import FlopsMeter, dense_synaptic_ops
from labsnn.model import SNNStack
from labsnn.running import measure
from labsnn.running.config import RunConfig
from labsnn.running.train import train

snn = pytest.importorskip("snntorch")
pytest.importorskip("neurobench")

GRID = 2.0**-14
T, N_TEST = 12, 96


def _on_grid(tensor):
    snapped = torch.round(tensor / GRID) * GRID
    return torch.where(snapped == 0, torch.full_like(snapped, GRID), snapped)


def _snntorch_copy(weights, biases, beta, v_th):
    from torch import nn

    class Net(nn.Module):
        def __init__(self):
            super().__init__()
            self.fc1, self.fc2 = nn.Linear(*weights[0].shape[::-1]), nn.Linear(*weights[1].shape[::-1])
            leaky = {"beta": beta, "threshold": v_th, "reset_mechanism": "subtract", "init_hidden": True}
            self.lif1, self.lif2 = snn.Leaky(**leaky), snn.Leaky(**leaky, output=True)
            with torch.no_grad():
                for fc, w, b in ((self.fc1, weights[0], biases[0]), (self.fc2, weights[1], biases[1])):
                    fc.weight.copy_(w)
                    fc.bias.copy_(b)

        def forward(self, x):
            return self.lif2(self.fc2(self.lif1(self.fc1(x))))

    return Net()


@pytest.fixture(scope="module")
def trained(subset):
    config = RunConfig(T=T, epochs=1, n_train=512, n_test=N_TEST, batch_size=32, lr=1e-2, beta=0.5, device="cpu")
    result = train(config, subset, progress=False)
    weights = [_on_grid(result.state[f"fc{layer}.weight"]) for layer in (1, 2)]
    biases = [_on_grid(result.state[f"fc{layer}.bias"]) for layer in (1, 2)]
    images = subset.test_images[:N_TEST]
    spikes = (torch.rand(T, *images.shape, generator=torch.Generator().manual_seed(3)) < images).float()
    return config, weights, biases, spikes, subset.test_labels[:N_TEST]


def _labsnn_metrics(config, weights, biases, spikes):
    stack = SNNStack(config.sizes, [config.beta], [config.v_th], [config.z], backend="torch")
    with torch.no_grad():
        for fc, weight, bias in zip(stack.linears, weights, biases):
            fc.weight.copy_(weight.unsqueeze(0))
            fc.bias.copy_(bias.unsqueeze(0))
    activity, meter = measure.Activity(1, 2), FlopsMeter(config.sizes)
    for batch in spikes.split(32, dim=1):
        out = stack(batch)
        activity.update(out)
        rates = measure.input_rates(batch, out, config.sizes[0])
        meter.update(rates, measure.input_active(batch, rates, config.sizes[0]), batch.shape[1])
    values = {name: float(v[0]) for name, v in activity.values().items()}
    ops = meter.synaptic_ops()[0]
    values.update(Effective_MACs=ops.macs, Effective_ACs=ops.acs, Dense=dense_synaptic_ops(config.sizes, T))
    values.update(
        Footprint=measure.footprint([fc.weight for fc in stack.linears], [fc.bias for fc in stack.linears]),
        ConnectionSparsity=float(measure.connection_sparsity([fc.weight for fc in stack.linears])[0]),
    )
    return values


def _neurobench(net, spikes, labels):
    from neurobench.benchmarks import Benchmark
    from neurobench.metrics.static import ConnectionSparsity, Footprint
    from neurobench.metrics.workload import (
        ActivationSparsity,
        ActivationSparsityByLayer,
        MembraneUpdates,
        SynapticOperations,
    )
    from neurobench.models import SNNTorchModel

    loader = torch.utils.data.DataLoader(list(zip(spikes.transpose(0, 1), labels)), batch_size=32)
    metrics = [
        [Footprint, ConnectionSparsity],
        [ActivationSparsity, ActivationSparsityByLayer, MembraneUpdates, SynapticOperations],
    ]
    benchmark = Benchmark(SNNTorchModel(net), loader, [], [lambda out: out.sum(dim=1).argmax(dim=-1)], metrics)
    return benchmark.run(quiet=True)


def test_labsnn_records_neurobenchs_metrics_as_neurobench_computes_them(trained):
    config, weights, biases, spikes, labels = trained
    net = _snntorch_copy(weights, biases, config.beta, config.v_th)
    # NeuroBench counts snnTorch's own neuron buffers (beta, threshold, ...); labsnn its three constants
    snntorch_buffers = sum(b.numel() * b.element_size() for b in net.buffers())
    theirs = _neurobench(net, spikes, labels)
    ours = _labsnn_metrics(config, weights, biases, spikes)
    by_layer = theirs["ActivationSparsityByLayer"]
    assert ours["ActivationSparsity_l0"] == pytest.approx(by_layer["lif1"], abs=1e-12)
    assert ours["ActivationSparsity_l1"] == pytest.approx(by_layer["lif2"], abs=1e-12)
    assert 0 < ours["ActivationSparsity"] < 1
    assert ours["ActivationSparsity"] == pytest.approx(theirs["ActivationSparsity"], abs=1e-12)
    assert ours["MembraneUpdates"] == pytest.approx(theirs["MembraneUpdates"], rel=1e-12)
    operations = theirs["SynapticOperations"]
    assert ours["Effective_ACs"] == pytest.approx(operations["Effective_ACs"], rel=1e-9)
    assert ours["Effective_MACs"] == operations["Effective_MACs"] == 0  # spikes in: accumulates only
    assert ours["Dense"] == operations["Dense"]
    assert ours["ConnectionSparsity"] == theirs["ConnectionSparsity"] == 0.0
    assert ours["Footprint"] - 3 * 4 == theirs["Footprint"] - snntorch_buffers == 7960 * 4


def test_connection_sparsity_counts_zero_weights_as_neurobench_does(trained):
    from neurobench.metrics.static import ConnectionSparsity
    from neurobench.models import SNNTorchModel

    config, weights, biases, *_ = trained
    zeroed = [w.clone() for w in weights]
    zeroed[0][:, :100] = 0  # the first 100 pixels' synapses
    net = _snntorch_copy(zeroed, biases, config.beta, config.v_th)
    ours = float(measure.connection_sparsity([w.unsqueeze(0) for w in zeroed])[0])
    assert ours == pytest.approx(1000 / 7940) and round(ours, 4) == ConnectionSparsity()(SNNTorchModel(net))


def test_every_epoch_of_a_run_records_the_metrics(trained, subset):
    config = trained[0]
    row = train(config.replace(encoder="repeat", epochs=1), subset, progress=False).epochs[-1]
    assert row["Effective_MACs"] > 0 and row["Dense"] == T * (784 * 10 + 10 * 10)  # real-valued pixels: MACs
    assert 0 <= row["ActivationSparsity_l0"] <= 1 and 0 <= row["ActivationSparsity_l1"] <= 1
    assert row["MembraneUpdates"] <= T * 20 and row["Footprint"] == 7960 * 4 + 12
    assert not math.isnan(row["ConnectionSparsity"])
