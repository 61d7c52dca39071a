"""Training: ``train(config)`` for one run, ``train_stack(configs)`` for runs that share
their input and train together as one stacked model (``labsnn.model.SNNStack``).

Randomness comes from explicit generators seeded by ``config.seed``: initial weights,
the training order, the training input spikes and the (per-epoch identical) test input
spikes. The same config and seed give the same history on the same machine, whether a
run trains alone or stacked with others.

A run whose loss or membrane becomes NaN or infinite stops: it is recorded as
``diverged`` at that epoch (that epoch's metrics are NaN), never raised.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass, field
from typing import Any, Sequence

import torch
from torch import Tensor
from tqdm.auto import tqdm

from labsnn.config import RunConfig
from labsnn.data import MNISTData, load_mnist
from labsnn.encoders import get_encoder
from labsnn.flops import FlopsMeter, ann_flops, ann_synaptic_ops
from labsnn.losses import get_loss
from labsnn.model import SNNStack

EVAL_BATCH = 256
_ORDER_STREAM, _TRAIN_SPIKE_STREAM, _TEST_SPIKE_STREAM = 1, 2, 3


def resolve_device(name: str) -> torch.device:
    """``auto``: CUDA when present, else CPU. ``cuda`` without CUDA is a ``ValueError``."""
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if name == "cuda" and not torch.cuda.is_available():
        raise ValueError("device='cuda' was asked for but CUDA is not available on this machine")
    return torch.device(name)


def _generator(seed: int, stream: int, device: torch.device) -> torch.Generator:
    return torch.Generator(device=device).manual_seed(seed * 16 + stream)


@dataclass
class RunResult:
    """One run's outcome: its config, the data it saw, its status and one dict per epoch.

    ``test_step_rates[l][t]``: the last completed epoch's mean firing rate of layer
    ``l``'s input at step ``t`` on the test set (the terms of the FLOPs formula).
    """

    config: RunConfig
    data: dict[str, Any]
    status: str = "ok"
    diverged_epoch: int | None = None
    epochs: list[dict[str, float]] = field(default_factory=list)
    test_step_rates: list[list[float]] = field(default_factory=list)

    def rows(self) -> list[dict[str, Any]]:
        """Tidy rows: one per epoch, with every config field, the data and the status."""
        fixed = {**self.config.to_dict(), "sizes": "-".join(map(str, self.config.sizes))}
        fixed.update(self.data, config_hash=self.config.config_hash, status=self.status, diverged_epoch=self.diverged_epoch)
        return [{**fixed, **epoch} for epoch in self.epochs]

    def frame(self):
        import pandas as pd

        return pd.DataFrame(self.rows())

    def to_json(self) -> dict[str, Any]:
        return {
            "config": self.config.to_dict(), "data": self.data, "status": self.status,
            "diverged_epoch": self.diverged_epoch, "epochs": self.epochs, "test_step_rates": self.test_step_rates,
        }

    @classmethod
    def from_json(cls, payload: dict[str, Any]) -> "RunResult":
        return cls(
            RunConfig.from_dict(payload["config"]), dict(payload["data"]), str(payload["status"]),
            payload["diverged_epoch"], [dict(e) for e in payload["epochs"]], payload["test_step_rates"],
        )


def _input_buffer(config: RunConfig, width: int, device: torch.device) -> Tensor:
    """Storage for one batch of encoded input (``width`` values per image), reused batch
    after batch: allocating tens of MB afresh for every batch costs more than the batch's
    arithmetic on CPU. On CPU ``torch.empty`` touches no memory, so encoders that return
    views never pay for it (on CUDA it is reserved)."""
    return torch.empty(config.T * max(config.batch_size, EVAL_BATCH) * width, device=device)


def batch_view(buffer: Tensor, T: int, images: Tensor) -> Tensor:
    """The first ``T * images.numel()`` elements of ``buffer`` as a ``[T, *images.shape]`` tensor."""
    return buffer[: T * images.numel()].view(T, *images.shape)


def nonblank_columns(images: Tensor) -> tuple[Tensor, Tensor]:
    """``(images[:, columns], columns)``: the batch without the pixels that are 0 in all its
    images (a third of MNIST's 784 in a batch of 128). Every encoder turns a 0 pixel into
    no input at any step, so the first layer can skip them."""
    columns = images.ne(0).any(dim=0).nonzero().squeeze(1)
    return images[:, columns], columns


def _per_model_losses(rates: Tensor, targets: Tensor, loss_names: Sequence[str]) -> Tensor:
    """Loss of network k under its own loss function, ``[K]``, from its rates ``rates[k]``."""
    return torch.stack([get_loss(name)(rates[k], targets) for k, name in enumerate(loss_names)])


def _evaluate(
    model: SNNStack, config: RunConfig, images: Tensor, labels: Tensor, loss_names: Sequence[str],
    device: torch.device, buffer: Tensor,
) -> tuple[Tensor, Tensor, FlopsMeter, Tensor]:
    """Test loss ``[K]``, accuracy ``[K]``, the FLOPs meter and membrane finiteness ``[K]``."""
    encode = get_encoder(config.encoder)
    generator = _generator(config.seed, _TEST_SPIKE_STREAM, device)
    meter = FlopsMeter(config.sizes)
    K = model.n_models
    loss_sum = torch.zeros(K, dtype=torch.float64)
    correct = torch.zeros(K, dtype=torch.float64)
    finite = torch.ones(K, dtype=torch.bool)
    with torch.no_grad():
        for start in range(0, labels.numel(), EVAL_BATCH):
            x, columns = nonblank_columns(images[start : start + EVAL_BATCH].to(device))
            y = labels[start : start + EVAL_BATCH].to(device)
            inputs = encode(x, config.T, generator=generator, threshold=config.threshold, out=batch_view(buffer, config.T, x))
            out = model(inputs, columns)
            rates = out.firing_rates()
            loss_sum += _per_model_losses(rates, y, loss_names).double().cpu() * y.numel()
            correct += (rates.argmax(dim=2) == y).sum(dim=1).double().cpu()
            finite &= out.finite.cpu()
            meter.update(out.input_rates, out.input_active, y.numel())
    n = labels.numel()
    return loss_sum / n, correct / n, meter, finite


def train_stack(
    configs: Sequence[RunConfig], data: MNISTData | None = None, progress: bool = True
) -> list[RunResult]:
    """Train runs that differ only in ``z``, ``beta``, ``v_th`` and ``loss`` as one stacked
    model; returns one ``RunResult`` per config, in order."""
    configs = list(configs)
    if not configs:
        return []
    base = configs[0]
    if any(c.stack_key() != base.stack_key() for c in configs):
        raise ValueError("train_stack needs configs that differ only in z, beta, v_th and loss")
    device = resolve_device(base.device)
    data = (data if data is not None else load_mnist()).subset(base.n_train, base.n_test)
    data_info = data.describe()
    K = len(configs)
    loss_names = [c.loss for c in configs]
    model = SNNStack(
        base.sizes, [c.beta for c in configs], [c.v_th for c in configs], [c.z for c in configs], [c.seed for c in configs]
    ).to(device)
    optimizer = torch.optim.Adam(model.parameters(), lr=base.lr)
    encode = get_encoder(base.encoder)
    order_generator = _generator(base.seed, _ORDER_STREAM, torch.device("cpu"))
    spike_generator = _generator(base.seed, _TRAIN_SPIKE_STREAM, device)
    results = [RunResult(c, dict(data_info)) for c in configs]
    active = torch.ones(K, dtype=torch.bool)
    reference_flops = float(ann_flops(base.sizes))
    reference_ops = ann_synaptic_ops(base.sizes)
    train_images, train_labels = data.train_images.to(device), data.train_labels.to(device)
    n_layers = len(base.sizes) - 1
    buffer = _input_buffer(base, data.train_images.shape[1], device)

    for epoch in range(1, base.epochs + 1):
        started = time.perf_counter()
        order = torch.randperm(data.n_train, generator=order_generator).to(device)
        meter = FlopsMeter(base.sizes)
        loss_sum = torch.zeros(K, dtype=torch.float64)
        correct = torch.zeros(K, dtype=torch.float64)
        diverged = torch.zeros(K, dtype=torch.bool)
        batches = range(0, data.n_train, base.batch_size)
        bar = tqdm(batches, desc=f"epoch {epoch}/{base.epochs} ({K} run{'s' * (K > 1)})", disable=not progress, leave=False)
        for start in bar:
            index = order[start : start + base.batch_size]
            (x, columns), y = nonblank_columns(train_images[index]), train_labels[index]
            inputs = encode(x, base.T, generator=spike_generator, threshold=base.threshold, out=batch_view(buffer, base.T, x))
            out = model(inputs, columns)
            rates = out.firing_rates()
            losses = _per_model_losses(rates, y, loss_names)
            bad = (~torch.isfinite(losses.detach()).cpu()) | (~out.finite.cpu())
            diverged |= bad & active
            active &= ~bad
            if not bool(active.any()):
                break
            optimizer.zero_grad(set_to_none=True)
            losses[active.to(device)].sum().backward()
            optimizer.step()
            loss_sum += losses.detach().double().cpu() * y.numel()
            correct += (rates.detach().argmax(dim=2) == y).sum(dim=1).double().cpu()
            meter.update(out.input_rates, None, y.numel())
        test_loss, test_acc, test_meter, test_finite = _evaluate(
            model, base, data.test_images, data.test_labels, loss_names, device, buffer
        )
        diverged |= active & ~test_finite
        active &= test_finite
        elapsed = time.perf_counter() - started
        n_seen = max(meter.count, 1)
        train_flops = meter.snn_flops() if meter.count else [math.nan] * K
        test_flops = test_meter.snn_flops()
        test_ops = test_meter.synaptic_ops()
        test_rates = test_meter.mean_rates()
        train_rates = meter.mean_rates() if meter.count else torch.full((n_layers, base.T, K), math.nan)
        for k, result in enumerate(results):
            if result.status == "diverged":
                continue
            row: dict[str, float] = {"epoch": epoch}
            if bool(diverged[k]):
                result.status, result.diverged_epoch = "diverged", epoch
                row.update(train_loss=math.nan, train_acc=math.nan, test_loss=math.nan, test_acc=math.nan)
            else:
                row.update(
                    train_loss=float(loss_sum[k] / n_seen), train_acc=float(correct[k] / n_seen),
                    test_loss=float(test_loss[k]), test_acc=float(test_acc[k]),
                )
                result.test_step_rates = test_rates[:, :, k].tolist()
            for layer in range(n_layers):
                row[f"rate_train_l{layer}"] = float(train_rates[layer, :, k].mean())
                row[f"rate_test_l{layer}"] = float(test_rates[layer, :, k].mean())
            row.update(
                snn_flops_train=float(train_flops[k]), snn_flops_test=float(test_flops[k]), ann_flops=reference_flops,
                snn_macs_test=test_ops[k].macs, snn_acs_test=test_ops[k].acs, snn_energy_pj_test=test_ops[k].energy_pj,
                ann_macs=reference_ops.macs, ann_energy_pj=reference_ops.energy_pj,
                epoch_time_s=elapsed, stacked_runs=K,
            )
            result.epochs.append(row)
        if progress:
            accs = ", ".join(f"{a:.3f}" for a in test_acc.tolist()[:8])
            tqdm.write(f"epoch {epoch}: test accuracy {accs}{' ...' if K > 8 else ''} ({elapsed:.1f} s)")
        if not bool(active.any()):
            break
    return results


def train(config: RunConfig, data: MNISTData | None = None, progress: bool = True) -> RunResult:
    """Train one run; see ``RunResult`` for what it records."""
    return train_stack([config], data, progress)[0]
