import pytest
import torch

from labsnn.dynamics.flops import (
    AC_ENERGY_PJ,
    MAC_ENERGY_PJ,
    FlopsMeter,
    ann_flops,
    ann_layer_flops,
    ann_synaptic_ops,
    snn_flops,
    snn_layer_flops,
    snn_synaptic_ops,
)
from labsnn.model import SNN
from labsnn.running import measure


def test_ann_flops_of_the_lab_network():
    assert ann_layer_flops(784, 10) == (2 * 784 - 1) * 10 + 20
    assert ann_flops((784, 10, 10)) == 15900


@pytest.mark.parametrize("T", [1, 5, 25])
def test_snn_with_every_rate_one_costs_T_ann_passes(T):
    assert snn_flops((784, 10, 10), [[1.0] * T, [1.0] * T]) == pytest.approx(T * 15900)


def test_hand_computed_case():
    # layer 1: M=4, N=3; layer 2: M=3, N=2; T=2
    rates = [[0.5, 0.25], [1 / 3, 0.0]]
    by_hand = ((2 * 4 * 0.5 - 1) * 3 + 6) + ((2 * 4 * 0.25 - 1) * 3 + 6) + ((2 * 3 / 3 - 1) * 2 + 4) + ((0 - 1) * 2 + 4)
    assert snn_flops((4, 3, 2), rates) == pytest.approx(by_hand)
    assert snn_layer_flops(4, 3, 0.5) == pytest.approx(15.0)


def test_seed_estimate_at_T5():
    T = 5
    value = snn_flops((784, 10, 10), [[0.1307] * T, [0.6] * T])
    assert value == pytest.approx(10945, rel=0.01)


def test_rates_must_match_layers():
    with pytest.raises(ValueError, match="rates must be"):
        snn_flops((784, 10, 10), [[0.1] * 5])


def test_synaptic_ops_and_energy():
    ann = ann_synaptic_ops((784, 10, 10))
    assert ann.macs == 784 * 10 + 10 * 10 and ann.acs == 0
    assert ann.energy_pj == pytest.approx(ann.macs * MAC_ENERGY_PJ)
    ops = snn_synaptic_ops((4, 3, 2), [[0.5, 0.25], [1.0, 0.0]], binary=[False, True])
    assert ops.macs == pytest.approx((0.5 + 0.25) * 12)
    assert ops.acs == pytest.approx(1.0 * 6)
    assert ops.energy_pj == pytest.approx(9 * MAC_ENERGY_PJ + 6 * AC_ENERGY_PJ)


def test_meter_averages_rates_measured_by_the_model():
    torch.manual_seed(0)
    model = SNN(beta=0.5, v_th=0.5)
    meter = FlopsMeter((784, 10, 10))
    batches = [(torch.rand(5, 8, 784) < 0.2).float(), (torch.rand(5, 4, 784) < 0.1).float()]
    expected_in = (batches[0].mean(dim=(1, 2)) * 8 + batches[1].mean(dim=(1, 2)) * 4) / 12
    for x in batches:
        out = model.stack(x)
        rates = measure.input_rates(x, out, 784)
        meter.update(rates, measure.input_active(x, rates, 784), x.shape[1])
    rates = meter.mean_rates()
    assert rates.shape == (1, 2, 5)
    torch.testing.assert_close(rates[0, 0], expected_in.double())
    assert meter.snn_flops()[0] == pytest.approx(snn_flops((784, 10, 10), rates[0]))
    ops = meter.synaptic_ops()[0]
    assert ops.macs == 0 and ops.acs > 0  # binary spike inputs count as accumulates
