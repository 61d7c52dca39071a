"""An epoch's statistics and the per-epoch rows of ``RunResult.epochs`` built from them."""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import torch
from torch import Tensor

from labsnn.dynamics.flops import FlopsMeter, ann_flops, ann_synaptic_ops, dense_synaptic_ops
from labsnn.running.measure import Activity, Diagnostics
from labsnn.running.results import RunResult


@dataclass
class EpochStats:
    """What one training pass measured, per network.

    Attributes:
        meter: the FLOPs meter of the pass (input rates, no nonzero fractions).
        loss_sum: ``[K]`` float64, the loss summed over the images trained on.
        correct: ``[K]`` float64, the images classified correctly.
        diverged: ``[K]`` bool, the networks that diverged during the pass.
    """

    meter: FlopsMeter
    loss_sum: Tensor
    correct: Tensor
    diverged: Tensor


@dataclass
class TestStats:
    """What one test pass measured, per network.

    Attributes:
        meter: the FLOPs meter of the pass, with nonzero fractions.
        loss_sum: ``[K]`` float64, the loss summed over the test images.
        correct: ``[K]`` float64, the test images classified correctly.
        finite: ``[K]`` bool, whether every membrane stayed finite.
        diagnostics: the diagnostics of a stuck network.
        max_abs_weights: ``[layers, K]``, the largest |weight| of each layer.
        activity: the LIF layers' spikes and membrane updates (NeuroBench's workload metrics).
        connection_sparsity: ``[K]``, the share of zero weights; footprint: one network's bytes.
    """

    meter: FlopsMeter
    loss_sum: Tensor
    correct: Tensor
    finite: Tensor
    diagnostics: Diagnostics
    max_abs_weights: Tensor
    activity: Activity
    connection_sparsity: Tensor
    footprint: int

    def accuracy(self) -> Tensor:
        """Test accuracy of each network, ``[K]``."""
        return self.correct / self.meter.count


def _scores(stats: EpochStats, test: TestStats, k: int) -> dict[str, float]:
    n_seen = max(stats.meter.count, 1)
    return {
        "train_loss": float(stats.loss_sum[k] / n_seen),
        "train_acc": float(stats.correct[k] / n_seen),
        "test_loss": float(test.loss_sum[k] / test.meter.count),
        "test_acc": float(test.correct[k] / test.meter.count),
    }


def _rates_and_flops(
    stats: EpochStats, test: TestStats, sizes: Sequence[int], T: int, K: int
) -> list[dict[str, float]]:
    """Per network: each layer's mean input rate, FLOPs, synaptic operations (NeuroBench's Effective_MACs,
    Effective_ACs and Dense, per sample) and energy."""
    n_layers = len(sizes) - 1
    trained = stats.meter.count > 0
    train_flops = stats.meter.snn_flops() if trained else [math.nan] * K
    train_rates = stats.meter.mean_rates() if trained else torch.full((K, n_layers, T), math.nan)
    test_rates, test_flops, test_ops = test.meter.mean_rates(), test.meter.snn_flops(), test.meter.synaptic_ops()
    ann_ops, ann, dense = ann_synaptic_ops(sizes), float(ann_flops(sizes)), dense_synaptic_ops(sizes, T)
    rows = []
    for k in range(K):
        row = {}
        for layer in range(n_layers):
            row[f"rate_train_l{layer}"] = float(train_rates[k, layer].mean())
            row[f"rate_test_l{layer}"] = float(test_rates[k, layer].mean())
        row.update(
            snn_flops_train=float(train_flops[k]),
            snn_flops_test=float(test_flops[k]),
            ann_flops=ann,
            Effective_MACs=test_ops[k].macs,
            Effective_ACs=test_ops[k].acs,
            Dense=dense,
            snn_energy_pj_test=test_ops[k].energy_pj,
            ann_macs=ann_ops.macs,
            ann_energy_pj=ann_ops.energy_pj,
        )
        rows.append(row)
    return rows


def _neurobench(test: TestStats, k: int) -> dict[str, float]:
    """NeuroBench's metrics of the test pass beyond the synaptic operations, under NeuroBench's names."""
    row = {name: float(values[k]) for name, values in test.activity.values().items()}
    row.update(Footprint=float(test.footprint), ConnectionSparsity=float(test.connection_sparsity[k]))
    return row


def _diagnostics(test: TestStats, k: int) -> dict[str, float]:
    """What tells a stuck network: silent outputs, one class predicted, frozen or exploding weights."""
    row = {f"{name}_test": float(values[k]) for name, values in test.diagnostics.values().items()}
    row.update({f"max_abs_weight_l{layer}": float(w[k]) for layer, w in enumerate(test.max_abs_weights)})
    return row


def record_epoch(results: list[RunResult], epoch: int, stats: EpochStats, test: TestStats, seconds: float) -> None:
    """Appends epoch ``epoch``'s row to each run still going.

    A run that diverged in this epoch is marked ``diverged`` and its scores are NaN (its rates, FLOPs and
    diagnostics are still recorded); later epochs add nothing to it.

    Args:
        results: the stack's runs, one per network, in the stack's order (updated in place).
        epoch: the epoch number, from 1.
        stats: the epoch's training pass.
        test: the epoch's test pass.
        seconds: the epoch's wall-clock time.
    """
    base = results[0].config
    K = len(results)
    measured = _rates_and_flops(stats, test, base.sizes, base.T, K)
    test_rates = test.meter.mean_rates()
    for k, result in enumerate(results):
        if result.status == "diverged":
            continue
        row: dict[str, float] = {"epoch": epoch}
        if bool(stats.diverged[k]):
            result.status, result.diverged_epoch = "diverged", epoch
            row.update(train_loss=math.nan, train_acc=math.nan, test_loss=math.nan, test_acc=math.nan)
        else:
            row.update(_scores(stats, test, k))
            result.test_step_rates = test_rates[k].tolist()
        row.update(measured[k], **_neurobench(test, k), **_diagnostics(test, k), epoch_time_s=seconds, stacked_runs=K)
        result.epochs.append(row)
