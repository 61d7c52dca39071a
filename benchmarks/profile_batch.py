"""Where one training batch of ``labsnn.train`` spends its time, by phase.

The lab's 784-10-10 network, one run, Bernoulli input, rate MSE, Adam, batch 128, at
T = 25 and 100. Each batch runs the training loop's steps in its order, with a clock read
between phases; the backward pass is split by gradient hooks, which fire when autograd
reaches each layer's currents and spikes (on CPU autograd runs on the calling thread):

- encode: the batch's blank columns left out, Bernoulli spikes drawn;
- first layer: its product forward and backward (weight gradient);
- LIF: both layers' recurrences, forward and backward;
- second layer: its product forward and backward;
- loss: rates, loss and their backward;
- optimizer: ``zero_grad`` and Adam's step;
- bookkeeping: finiteness checks, correct count, the FLOPs meter.

Milliseconds per batch, the median over ``--batches`` batches after a few untimed ones.

    python benchmarks/profile_batch.py [--batches 100] [--steps 25 100]
"""

from __future__ import annotations

import argparse
import statistics
import time
from collections import defaultdict

import torch

from labsnn import measure
from labsnn.config import RunConfig
from labsnn.data import load_mnist
from labsnn.flops import FlopsMeter
from labsnn.train import EVAL_BATCH, _Stack, make_optimizer, resolve_device
from labsnn.model import SNNStack, StackOutput

PHASES = ("encode", "first layer fwd", "first layer bwd", "LIF fwd", "LIF bwd",
          "second layer fwd+bwd", "loss fwd+bwd", "optimizer", "bookkeeping")


def make_stack(T: int) -> tuple[_Stack, torch.optim.Optimizer]:
    base = RunConfig(T=T, device="cpu")
    model = SNNStack(base.sizes)
    buffer = torch.empty(T * max(base.batch_size, EVAL_BATCH) * base.sizes[0])
    stack = _Stack(base, model, [base.loss], resolve_device("cpu"), buffer)
    return stack, make_optimizer(base, model.parameters())


def one_batch(stack: _Stack, optimizer, images, labels, generator, meter: FlopsMeter) -> dict[str, float]:
    """One training batch of ``labsnn.train._train_epoch``, phase by phase; seconds per phase."""
    clock, marks = time.perf_counter, {}
    model, started = stack.model, time.perf_counter()
    marks["start"] = started
    inputs, columns = stack.encode(images, generator)
    marks["encode"] = clock()
    currents = model.layer_currents(0, inputs, columns)
    currents.register_hook(lambda g: marks.__setitem__("lif1 bwd start", clock()))
    marks["first layer fwd"] = clock()
    spikes1, membrane1 = model.layer_spikes(currents)
    spikes1.register_hook(lambda g: marks.__setitem__("layer2 bwd end", clock()))
    marks["lif1 fwd"] = clock()
    currents2 = model.layer_currents(1, spikes1)
    currents2.register_hook(lambda g: marks.__setitem__("layer2 bwd start", clock()))
    marks["layer2 fwd"] = clock()
    spikes2, membrane2 = model.layer_spikes(currents2)
    spikes2.register_hook(lambda g: marks.__setitem__("loss bwd end", clock()))
    marks["lif2 fwd"] = clock()
    out = StackOutput([spikes1, spikes2], [membrane1, membrane2])
    rates = out.firing_rates()
    losses = stack.losses(rates, labels)
    marks["loss fwd"] = clock()
    bad = (~torch.isfinite(losses.detach())) | (~measure.finite(out))
    marks["check"] = clock()
    optimizer.zero_grad(set_to_none=True)
    losses.sum().backward()
    marks["backward"] = clock()
    optimizer.step()
    marks["optimizer"] = clock()
    correct = (rates.detach().argmax(dim=2) == labels).sum(dim=1).double()
    meter.update(measure.input_rates(inputs, out, model.sizes[0]), None, labels.numel())
    marks["bookkeeping"] = clock()
    del bad, correct
    m = marks
    return {
        "encode": m["encode"] - m["start"],
        "first layer fwd": m["first layer fwd"] - m["encode"],
        "first layer bwd": m["backward"] - m["lif1 bwd start"],
        "LIF fwd": (m["lif1 fwd"] - m["first layer fwd"]) + (m["lif2 fwd"] - m["layer2 fwd"]),
        "LIF bwd": (m["layer2 bwd start"] - m["loss bwd end"]) + (m["lif1 bwd start"] - m["layer2 bwd end"]),
        "second layer fwd+bwd": (m["layer2 fwd"] - m["lif1 fwd"]) + (m["layer2 bwd end"] - m["layer2 bwd start"]),
        "loss fwd+bwd": (m["loss fwd"] - m["lif2 fwd"]) + (m["loss bwd end"] - m["check"]),
        "optimizer": m["optimizer"] - m["backward"],
        "bookkeeping": (m["bookkeeping"] - m["optimizer"]) + (m["check"] - m["loss fwd"]),
        "total": m["bookkeeping"] - m["start"],
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--batches", type=int, default=100, help="timed batches per T (default: 100)")
    parser.add_argument("--steps", type=int, nargs="+", default=[25, 100], help="values of T (default: 25 100)")
    args = parser.parse_args()
    data = load_mnist()
    images, labels = data.train_images, data.train_labels
    print(f"torch {torch.__version__}, {torch.get_num_threads()} threads; ms per batch of 128, median of {args.batches}")
    rows = {}
    for T in args.steps:
        stack, optimizer = make_stack(T)
        generator = torch.Generator().manual_seed(0)
        meter = FlopsMeter(stack.base.sizes)
        seconds: dict[str, list[float]] = defaultdict(list)
        for b in range(args.batches + 10):
            x, y = images[b * 128 : (b + 1) * 128], labels[b * 128 : (b + 1) * 128]
            phases = one_batch(stack, optimizer, x, y, generator, meter)
            if b >= 10:
                for name, value in phases.items():
                    seconds[name].append(value)
        rows[T] = {name: 1000 * statistics.median(values) for name, values in seconds.items()}
    print(f"{'phase':<22}" + "".join(f"{'T = ' + str(T):>12}" for T in args.steps))
    for name in (*PHASES, "total"):
        print(f"{name:<22}" + "".join(f"{rows[T][name]:>12.3f}" for T in args.steps))


if __name__ == "__main__":
    main()
