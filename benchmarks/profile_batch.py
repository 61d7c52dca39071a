"""Where one training batch of ``labsnn.running.train`` spends its time, by phase.

The lab's 784-10-10 network, one run (or a stack of K, ``--networks``: the report trains
stacks of 17 and 12), Bernoulli input, rate MSE, Adam, batch 128, at T = 25 and 100, on
the training loop's own path (``labsnn.running.batches.BatchEngine``): with the
compiled kernels, the encoder makes events and the whole stack is one autograd node
(``labsnn.engine.compiled``) over the ``torch.ops.labsnn`` operators, whose C loops are
timed by wrapping them (``labsnn.engine.ops.IMPLEMENTATIONS``):

- encode: the batch's drawn pixels and their Bernoulli spikes;
- first layer fwd / bwd: its currents from the spikes, its weight gradient;
- LIF fwd / bwd: both layers' recurrences;
- hidden layer fwd+bwd: the 10-10 product and its gradients;
- bias gradients: both layers';
- autograd and glue: the rest of the forward and backward passes (the operators' dispatch
  and argument checks, tensors made, the autograd node, the loss's backward);
- loss fwd: rates and loss;
- optimizer: ``zero_grad`` and Adam's step;
- bookkeeping: finiteness checks, correct count, the FLOPs meter.

Milliseconds per batch, the median over ``--batches`` batches after 10 untimed ones; the
batches are drawn in a random order from the training set, as in training.

    python benchmarks/profile_batch.py [--batches 200] [--steps 25 100] [--networks 1 17]

The first line names the kernels' build (``labsnn.engine.kernels.build_info()``: the ``-march``
target, ``LABSNN_MARCH``).
"""

from __future__ import annotations

import argparse
import statistics
import time
from collections import defaultdict

import torch

from labsnn.dynamics.flops import FlopsMeter
from labsnn.engine import kernels, ops
from labsnn.model import SNNStack
from labsnn.running import measure
from labsnn.running.batches import BatchEngine
from labsnn.running.config import RunConfig
from labsnn.running.data import load_mnist
from labsnn.running.train import make_optimizer

PIECES = {
    "event_currents": "first layer fwd",
    "event_weight_grad": "first layer bwd",
    "lif": "LIF fwd",
    "lif_backward": "LIF bwd",
    "dense_currents": "hidden layer fwd+bwd",
    "dense_grads": "hidden layer fwd+bwd",
    "row_sums": "bias gradients",
}
PHASES = (
    "encode",
    "first layer fwd",
    "first layer bwd",
    "LIF fwd",
    "LIF bwd",
    "hidden layer fwd+bwd",
    "bias gradients",
    "autograd and glue",
    "loss fwd",
    "optimizer",
    "bookkeeping",
)


def timed_pieces(spent: dict[str, float]) -> None:
    """Wrap the compiled stack's pieces so that each call adds its seconds to ``spent``."""
    for name, phase in PIECES.items():
        piece = ops.IMPLEMENTATIONS[name]

        def wrapper(*args, _piece=piece, _phase=phase):
            started = time.perf_counter()
            result = _piece(*args)
            spent[_phase] += time.perf_counter() - started
            return result

        ops.IMPLEMENTATIONS[name] = wrapper


def one_batch(engine: BatchEngine, optimizer, data, rows, generator, meter, spent) -> dict[str, float]:
    """One training batch of ``labsnn.running.train._train_epoch``; seconds per phase."""
    clock = time.perf_counter
    spent.clear()
    started = clock()
    labels = data.train_labels.index_select(0, rows)
    inputs, columns = engine.encode(data.train_images, generator, rows)
    encoded = clock()
    out = engine.run(inputs, columns)
    forward = clock()
    losses = engine.losses(out.firing_rates(), labels)
    loss_forward = clock()
    finite = torch.isfinite(losses.detach()) & measure.finite(out)
    checked = clock()
    optimizer.zero_grad(set_to_none=True)
    zeroed = clock()
    losses.sum().backward()
    backward = clock()
    optimizer.step()
    stepped = clock()
    correct = (out.firing_rates().detach().argmax(dim=2) == labels).sum(dim=1).double()
    meter.update(measure.input_rates(inputs, out, engine.model.sizes[0]), None, labels.numel())
    done = clock()
    del finite, correct
    pieces = dict(spent)
    phases = {phase: pieces.get(phase, 0.0) for phase in PHASES}
    phases["encode"] = encoded - started
    phases["autograd and glue"] = (forward - encoded) + (backward - zeroed) - sum(pieces.values())
    phases["loss fwd"] = loss_forward - forward
    phases["optimizer"] = (zeroed - checked) + (stepped - backward)
    phases["bookkeeping"] = (checked - loss_forward) + (done - stepped)
    phases["total"] = done - started
    return phases


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--batches", type=int, default=200, help="timed batches per T (default: 200)")
    parser.add_argument("--steps", type=int, nargs="+", default=[25, 100], help="values of T (default: 25 100)")
    parser.add_argument(
        "--networks", type=int, nargs="+", default=[1], help="networks stacked, K (default: 1; the report: 17, 12)"
    )
    args = parser.parse_args()
    data = load_mnist()
    spent: dict[str, float] = defaultdict(float)
    timed_pieces(spent)
    info = kernels.build_info()
    print(
        f"torch {torch.__version__}, {torch.get_num_threads()} threads, compiled kernels "
        f"{'on' if kernels.runs_compiled(torch.device('cpu')) else 'off'} (march {info['march']}, {info['backend_build']}); "
        f"ms per batch of 128, median of {args.batches}"
    )
    rows = {}
    runs = [(K, T) for K in args.networks for T in args.steps]
    for K, T in runs:
        base = RunConfig(T=T, device="cpu")
        model = SNNStack(base.sizes, beta=[0.1] * K, v_th=[1.0] * K, z=[2.0] * K, seeds=list(range(K)))
        buffer = torch.empty(T * 128 * base.sizes[0])
        engine = BatchEngine(base, model, [base.loss] * K, torch.device("cpu"), buffer)
        optimizer, meter = make_optimizer(base, model.parameters()), FlopsMeter(base.sizes)
        generator, order = torch.Generator().manual_seed(0), torch.randperm(len(data.train_labels))
        seconds: dict[str, list[float]] = defaultdict(list)
        for b in range(args.batches + 10):
            phases = one_batch(engine, optimizer, data, order[b * 128 : (b + 1) * 128], generator, meter, spent)
            for name, value in phases.items():
                if b >= 10:
                    seconds[name].append(value)
        rows[K, T] = {name: 1000 * statistics.median(values) for name, values in seconds.items()}
    print(f"{'phase':<22}" + "".join(f"{f'K {K}, T {T}':>14}" for K, T in runs))
    for name in (*PHASES, "total"):
        print(f"{name:<22}" + "".join(f"{rows[run][name]:>14.3f}" for run in runs))


if __name__ == "__main__":
    main()
