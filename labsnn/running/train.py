"""Training: ``train(config)`` for one run, ``train_stack(configs)`` for runs that share their input and train
together as one stacked model (``labsnn.model.SNNStack``).

Randomness comes from explicit generators seeded by ``config.seed``: initial weights, the training order, the
training input spikes and the (per-epoch identical) test input spikes. The same config and seed give the same
history on the same machine, whether a run trains alone or stacked with others. A run whose loss or membrane
becomes NaN or infinite stops: it is recorded as ``diverged`` at that epoch (its scores NaN), never raised.
"""

from __future__ import annotations

import time
from collections.abc import Sequence

import torch
from torch import Tensor
from tqdm.auto import tqdm

from labsnn.dynamics.flops import FlopsMeter
from labsnn.engine import backend
from labsnn.model import SNNStack
from labsnn.running import measure, optimizers, provenance
from labsnn.running.batches import BatchEngine
from labsnn.running.config import RunConfig
from labsnn.running.data import MNISTData, load_mnist, run_subset
from labsnn.running.results import RunResult
from labsnn.running.train_records import EpochStats, TestStats, record_epoch

EVAL_BATCH = 256
_ORDER_STREAM, _TRAIN_SPIKE_STREAM, _TEST_SPIKE_STREAM = 1, 2, 3


def resolve_device(name: str) -> torch.device:
    """Returns the ``torch.device`` a run's ``device`` field names.

    Args:
        name: ``auto`` (CUDA when present, else the CPU), ``cpu`` or ``cuda``.

    Raises:
        ValueError: ``cuda`` on a machine without CUDA.
    """
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if name == "cuda" and not torch.cuda.is_available():
        raise ValueError("device='cuda' was asked for but CUDA is not available on this machine")
    return torch.device(name)


def _generator(seed: int, stream: int, device: torch.device) -> torch.Generator:
    return torch.Generator(device=device).manual_seed(seed * 16 + stream)


def make_optimizer(config: RunConfig, parameters) -> torch.optim.Optimizer:
    """Returns the run's optimizer: each network's update is the same whatever it is stacked with.

    Args:
        config: the run: ``optimizer`` ``adam`` (``Adam(lr)``) or ``sgd`` (``SGD(lr, momentum)``).
        parameters: the model's parameters (``[K, ...]`` tensors of a stack).

    Returns:
        A ``labsnn.running.optimizers`` ``Adam`` or ``SGD``.
    """
    if config.optimizer == "sgd":
        return optimizers.SGD(parameters, lr=config.lr, momentum=config.momentum)
    return optimizers.Adam(parameters, lr=config.lr)


def _train_epoch(
    engine: BatchEngine,
    optimizer,
    images: Tensor,
    labels: Tensor,
    order: Tensor,
    generator: torch.Generator,
    active: Tensor,
    progress: str | None,
) -> EpochStats:
    """One pass over the training set in ``order``; networks whose loss or membrane stops
    being finite leave ``active`` (and take no more steps)."""
    K, width = engine.model.n_models, engine.model.sizes[0]
    stats = EpochStats(
        FlopsMeter(engine.base.sizes),
        torch.zeros(K, dtype=torch.float64),
        torch.zeros(K, dtype=torch.float64),
        torch.zeros(K, dtype=torch.bool),
    )
    batches = range(0, labels.numel(), engine.base.batch_size)
    for start in tqdm(batches, desc=progress, disable=progress is None, leave=False):
        index = order[start : start + engine.base.batch_size]
        y = labels.index_select(0, index)
        inputs, out = engine.forward(images, generator, index)
        rates = out.firing_rates()
        losses = engine.losses(rates, y)
        bad = ~(torch.isfinite(losses.detach()) & measure.finite(out)).cpu()
        stats.diverged |= bad & active
        active &= ~bad
        if not bool(active.any()):
            break
        optimizer.zero_grad(set_to_none=True)
        (losses if bool(active.all()) else losses[active.to(engine.device)]).sum().backward()
        optimizer.step()
        stats.loss_sum += losses.detach().double().cpu() * y.numel()
        stats.correct += (rates.detach().argmax(dim=2) == y).sum(dim=1).double().cpu()
        stats.meter.update(measure.input_rates(inputs, out, width), None, y.numel())
    return stats


def _evaluate(engine: BatchEngine, images: Tensor, labels: Tensor) -> TestStats:
    """Test loss, accuracy, the FLOPs meter (with nonzero fractions), finiteness and the
    diagnostics, per network."""
    generator = _generator(engine.base.seed, _TEST_SPIKE_STREAM, engine.device)
    K, width = engine.model.n_models, engine.model.sizes[0]
    weights = [linear.weight for linear in engine.model.linears]
    stats = TestStats(
        FlopsMeter(engine.base.sizes),
        torch.zeros(K, dtype=torch.float64),
        torch.zeros(K, dtype=torch.float64),
        torch.ones(K, dtype=torch.bool),
        measure.Diagnostics(K, engine.model.sizes[-1]),
        measure.max_abs_weights(weights),
        measure.Activity(K, len(weights)),
        measure.connection_sparsity(weights),
        measure.footprint(weights, [linear.bias for linear in engine.model.linears]),
    )
    with torch.no_grad():
        for start in range(0, labels.numel(), EVAL_BATCH):
            y = labels[start : start + EVAL_BATCH].to(engine.device)
            inputs, out = engine.forward(images[start : start + EVAL_BATCH].to(engine.device), generator)
            rates = out.firing_rates()
            predictions = rates.argmax(dim=2)
            stats.loss_sum += engine.losses(rates, y).double().cpu() * y.numel()
            stats.correct += (predictions == y).sum(dim=1).double().cpu()
            stats.diagnostics.update(out, rates, predictions)
            stats.activity.update(out)
            stats.finite &= measure.finite(out).cpu()
            step_rates = measure.input_rates(inputs, out, width)
            stats.meter.update(step_rates, measure.input_active(inputs, step_rates, width), y.numel())
    return stats


def _stacked_model(configs: Sequence[RunConfig], chosen: str) -> SNNStack:
    """One ``SNNStack`` of the configs' networks (their neuron settings and seeds), on the backend ``chosen``."""
    base = configs[0]
    return SNNStack(
        base.sizes,
        [c.beta for c in configs],
        [c.v_th for c in configs],
        [c.z for c in configs],
        [c.seed for c in configs],
        surrogate=[c.surrogate for c in configs],
        spike_timing=base.spike_timing,
        backend=chosen,
    )


def train_stack(configs: Sequence[RunConfig], data: MNISTData | None = None, progress: bool = True) -> list[RunResult]:
    """Trains runs that differ only in ``STACKABLE_FIELDS`` (z, beta, v_th, loss, surrogate) as one stacked model.

    Args:
        configs: the runs; the backend their config asks for (``labsnn.engine.backend``) is resolved once for all.
        data: MNIST (None: ``load_mnist()``), cut to the runs' ``n_train`` and ``n_test``.
        progress: show progress bars and each epoch's test accuracy.

    Returns:
        One ``RunResult`` per config, in order.

    Raises:
        ValueError: configs that differ in other fields, ``cuda`` without CUDA, ``compiled`` off the CPU.
    """
    configs = list(configs)
    if not configs:
        return []
    base = configs[0]
    if any(c.stack_key() != base.stack_key() for c in configs):
        raise ValueError("train_stack needs configs that differ only in z, beta, v_th, loss and surrogate")
    device = resolve_device(base.device)
    return _train_stack(configs, data, progress, device, backend.resolve(base.backend, device.type))


def _train_stack(
    configs: list[RunConfig], data: MNISTData | None, progress: bool, device: torch.device, chosen: str
) -> list[RunResult]:
    base = configs[0]
    data = run_subset(data if data is not None else load_mnist(), base.n_train, base.n_test)
    model = _stacked_model(configs, chosen).to(device)
    engine = BatchEngine(base, model, [c.loss for c in configs], device, torch.empty(0, device=device))
    if not engine.events:
        engine.buffer = torch.empty(
            base.T * max(base.batch_size, EVAL_BATCH) * data.train_images.shape[1], device=device
        )
    optimizer = make_optimizer(base, model.parameters())
    order_generator = _generator(base.seed, _ORDER_STREAM, torch.device("cpu"))
    spike_generator = _generator(base.seed, _TRAIN_SPIKE_STREAM, device)
    environment = provenance.environment(device.type, chosen)
    results = [RunResult(c, dict(data.describe()), environment=dict(environment)) for c in configs]
    active = torch.ones(len(configs), dtype=torch.bool)
    train_images, train_labels = data.train_images.to(device), data.train_labels.to(device)
    for epoch in range(1, base.epochs + 1):
        started = time.perf_counter()
        order = torch.randperm(data.n_train, generator=order_generator).to(device)
        label = f"epoch {epoch}/{base.epochs} ({len(configs)} run{'s' * (len(configs) > 1)})" if progress else None
        stats = _train_epoch(engine, optimizer, train_images, train_labels, order, spike_generator, active, label)
        test = _evaluate(engine, data.test_images, data.test_labels)
        stats.diverged |= active & ~test.finite
        active &= test.finite
        record_epoch(results, epoch, stats, test, time.perf_counter() - started)
        if progress:
            accs = ", ".join(f"{a:.3f}" for a in test.accuracy().tolist()[:8])
            tqdm.write(
                f"epoch {epoch}: test accuracy {accs}{' ...' if len(configs) > 8 else ''} "
                f"({time.perf_counter() - started:.1f} s)"
            )
        if not bool(active.any()):
            break
    for k, result in enumerate(results):
        result.state = {name: tensor[k].detach().cpu().clone() for name, tensor in model.named_parameters()}
    return results


def train(config: RunConfig, data: MNISTData | None = None, progress: bool = True) -> RunResult:
    """Trains one run, ``train_stack([config], data, progress)[0]``; see ``RunResult`` for what it records.

    Args:
        config: the run; ``data`` and ``progress`` as in ``train_stack``, which raises the same ValueErrors.
    """
    return train_stack([config], data, progress)[0]
