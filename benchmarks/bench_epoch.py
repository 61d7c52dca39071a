"""Seconds per training epoch of the lab's network, labsnn against snnTorch's idiomatic loop.

784-10-10 LIF, batch 128, Bernoulli input, MSE on output rates, Adam, at T = 25 and 100.
The two paths alternate batch by batch on the same images, so both see the same machine
load; each batch is timed on its own and seconds per epoch are extrapolated to 60,000
images. Two figures per path:

- median: the typical batch, stalls included;
- best: the 10th-percentile batch. On a shared machine the slow batches are the ones
  where the host took the CPU away (here, a busy loop of pure Python loses over half of
  its wall time in gaps of 2-500 ms), so, as ``timeit`` advises, the fast end of the
  distribution is the better estimate of what the code itself costs.

A few untimed batches first page in the code each path runs. Each batch is the bare
step (encode, forward, loss, backward, Adam); labsnn's leaves out the batch's blank
pixels and reuses one input buffer across batches, as ``labsnn.train`` does.

``--accuracy`` also trains one whole epoch from scratch per path, one after the other, and
prints its seconds (training and test set) and test accuracy; labsnn's is
``labsnn.train.train``, the report's loop with every metric it records.

    python benchmarks/bench_epoch.py [--batches 60] [--steps 25 100] [--accuracy]

snnTorch is a benchmark dependency (it is in labsnn's dev extra).
"""

from __future__ import annotations

import argparse
import time

import torch
import torch.nn.functional as F

from labsnn.config import RunConfig
from labsnn.data import load_mnist
from labsnn.encoders import bernoulli_encode
from labsnn.losses import mse_rate
from labsnn.model import SNN
from labsnn.train import batch_view, nonblank_columns, train

BATCH = 128
EPOCH_BATCHES = 60000 / BATCH


def snntorch_path(T: int):
    import snntorch as snn
    from snntorch import spikegen, surrogate

    class Net(torch.nn.Module):
        def __init__(self) -> None:
            super().__init__()
            grad = surrogate.fast_sigmoid(slope=2.0)
            self.fc1, self.fc2 = torch.nn.Linear(784, 10), torch.nn.Linear(10, 10)
            self.lif1 = snn.Leaky(beta=0.1, threshold=1.0, spike_grad=grad, reset_mechanism="subtract")
            self.lif2 = snn.Leaky(beta=0.1, threshold=1.0, spike_grad=grad, reset_mechanism="subtract")

        def forward(self, x):
            mem1, mem2 = self.lif1.init_leaky(), self.lif2.init_leaky()
            out = []
            for step in range(x.shape[0]):
                spk1, mem1 = self.lif1(self.fc1(x[step]), mem1)
                spk2, mem2 = self.lif2(self.fc2(spk1), mem2)
                out.append(spk2)
            return torch.stack(out)

    net = Net()
    optimizer = torch.optim.Adam(net.parameters(), lr=1e-3)

    def step(images, labels):
        spikes = net(spikegen.rate(images, num_steps=T))
        loss = F.mse_loss(spikes.mean(0), F.one_hot(labels, 10).float())
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()

    def predict(images):
        with torch.no_grad():
            return net(spikegen.rate(images, num_steps=T)).mean(0).argmax(1)

    return step, predict


def labsnn_path(T: int):
    """labsnn's bare training step (its whole epoch is ``one_epoch_labsnn``)."""
    net = SNN()
    optimizer = torch.optim.Adam(net.parameters(), lr=1e-3)
    generator = torch.Generator().manual_seed(0)
    buffer = torch.empty(T * BATCH * 784)  # reused for every batch's input, as labsnn.train does

    def step(images, labels):
        images, columns = nonblank_columns(images)  # as labsnn.train does
        inputs = bernoulli_encode(images, T, generator, out=batch_view(buffer, T, images))
        loss = mse_rate(net(inputs, columns).mean(0), labels)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()

    return step


def batch_seconds(paths: dict, images, labels, batches: int) -> dict[str, list[float]]:
    """Seconds of each training batch of each path, the paths alternating batch by batch."""
    times: dict[str, list[float]] = {name: [] for name in paths}
    for b in range(batches):
        x, y = images[b * BATCH : (b + 1) * BATCH], labels[b * BATCH : (b + 1) * BATCH]
        for name, step in paths.items():
            started = time.perf_counter()
            step(x, y)
            times[name].append(time.perf_counter() - started)
    return times


def per_epoch(seconds: list[float], quantile: float) -> float:
    """Seconds per 60,000-image epoch from the ``quantile`` of per-batch seconds."""
    ordered = sorted(seconds)
    return ordered[min(int(quantile * len(ordered)), len(ordered) - 1)] * EPOCH_BATCHES


def one_epoch_snntorch(T: int, data) -> tuple[float, float]:
    """Seconds (training and test) and test accuracy of snnTorch's loop, one epoch from scratch."""
    torch.manual_seed(0)
    step, predict = snntorch_path(T)
    started = time.perf_counter()
    images, labels = data.train_images, data.train_labels
    for start in range(0, len(labels), BATCH):
        step(images[start : start + BATCH], labels[start : start + BATCH])
    correct = sum(
        int((predict(data.test_images[s : s + 1000]) == data.test_labels[s : s + 1000]).sum())
        for s in range(0, len(data.test_labels), 1000)
    )
    return time.perf_counter() - started, correct / len(data.test_labels)


def one_epoch_labsnn(T: int, data) -> tuple[float, float]:
    """Seconds (training and test, as recorded) and test accuracy of ``labsnn.train.train``,
    the report's own training loop, one epoch from scratch."""
    epoch = train(RunConfig(T=T, epochs=1, device="cpu"), data, progress=False).epochs[0]
    return epoch["epoch_time_s"], epoch["test_acc"]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--batches", type=int, default=60, help="timed batches per path (default: 60)")
    parser.add_argument("--warmup", type=int, default=5, help="untimed batches per path first (default: 5)")
    parser.add_argument("--steps", type=int, nargs="+", default=[25, 100], help="values of T (default: 25 100)")
    parser.add_argument(
        "--accuracy", action="store_true",
        help="also train one full epoch per path (labsnn through labsnn.train.train) and print its seconds and test accuracy",
    )
    args = parser.parse_args()
    data = load_mnist()
    images, labels = data.train_images, data.train_labels
    print(f"torch {torch.__version__}, {torch.get_num_threads()} threads, data {data.source}, {args.batches} batches per path")
    print(f"{'T':>4} {'figure':>7} {'snntorch s/epoch':>17} {'labsnn s/epoch':>15} {'speed-up':>9}")
    for T in args.steps:
        paths = {"snntorch": snntorch_path(T)[0], "labsnn": labsnn_path(T)}
        batch_seconds(paths, images[-args.warmup * BATCH :], labels[-args.warmup * BATCH :], args.warmup)
        times = batch_seconds(paths, images, labels, args.batches)
        for figure, quantile in (("median", 0.5), ("best", 0.1)):
            ref, ours = per_epoch(times["snntorch"], quantile), per_epoch(times["labsnn"], quantile)
            print(f"{T:>4} {figure:>7} {ref:>17.1f} {ours:>15.1f} {ref / ours:>8.1f}x", flush=True)
    if args.accuracy:
        print(f"{'T':>4} {'snntorch s':>11} {'labsnn s':>9} {'speed-up':>9} {'snntorch acc':>13} {'labsnn acc':>11} {'difference':>11}")
        for T in args.steps:
            (ref_s, ref_acc), (our_s, our_acc) = one_epoch_snntorch(T, data), one_epoch_labsnn(T, data)
            print(
                f"{T:>4} {ref_s:>11.1f} {our_s:>9.1f} {ref_s / our_s:>8.1f}x {ref_acc:>13.2%} {our_acc:>11.2%}"
                f" {100 * (our_acc - ref_acc):>+8.2f} pt",
                flush=True,
            )


if __name__ == "__main__":
    main()
