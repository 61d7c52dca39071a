"""Seconds per training epoch of the lab's network: labsnn against snnTorch (and SpikingJelly
and Norse where they are installed), in one process, on the same data.

The same network in every library: 784-10-10 LIF, beta 0.1, V_th 1, subtractive reset,
fast-sigmoid surrogate of slope 2 (SpikingJelly's ``SoftSign(alpha=2)`` is that function),
Bernoulli input, MSE on the output firing rates, Adam lr 1e-3, batch 128. Each library's
loop is written as its users write it (its tutorials' idiom); labsnn's is
``labsnn.running.train.train``, the report's own loop with every metric it records. An epoch is
timed whole: 60,000 training images, then the test pass over 10,000; the accuracy is the
test accuracy after that one epoch. The libraries run one after another, labsnn first,
then each of the others, for each T; the ratio is their seconds over labsnn's.

Norse's nearest network (``LIFBoxCell`` with ``reset_subtract`` and SuperSpike of alpha 2,
the fast sigmoid) integrates ``(1 - beta) I``, so its currents are scaled by
``1 / (1 - beta)``; it still differs in one point: it subtracts V_th before the leak
(``V' = beta (V - S V_th) + I``), not after. Its row is marked "nearest".

    python benchmarks/bench_epoch.py [--steps 25 100]

Where CUDA is present, every row is measured again on the GPU.

snnTorch is a benchmark dependency (in labsnn's dev extra); full MNIST through
``LABSNN_DATA`` (else the packaged subset, and the numbers say little).
"""

from __future__ import annotations

import argparse
import importlib.util
import time
from collections.abc import Callable

import torch
import torch.nn.functional as F

from labsnn.engine import kernels
from labsnn.running.config import RunConfig
from labsnn.running.data import MNISTData, load_mnist
from labsnn.running.provenance import cpu_model
from labsnn.running.train import train

BATCH, BETA, V_TH, SLOPE = 128, 0.1, 1.0, 2.0


def snntorch_net(T: int):
    import snntorch as snn
    from snntorch import spikegen, surrogate

    class Net(torch.nn.Module):
        def __init__(self) -> None:
            super().__init__()
            grad = surrogate.fast_sigmoid(slope=SLOPE)
            self.fc1, self.fc2 = torch.nn.Linear(784, 10), torch.nn.Linear(10, 10)
            self.lif1 = snn.Leaky(beta=BETA, threshold=V_TH, spike_grad=grad, reset_mechanism="subtract")
            self.lif2 = snn.Leaky(beta=BETA, threshold=V_TH, spike_grad=grad, reset_mechanism="subtract")

        def forward(self, x):
            mem1, mem2 = self.lif1.init_leaky(), self.lif2.init_leaky()
            out = []
            for step in range(x.shape[0]):
                spk1, mem1 = self.lif1(self.fc1(x[step]), mem1)
                spk2, mem2 = self.lif2(self.fc2(spk1), mem2)
                out.append(spk2)
            return torch.stack(out)

    return Net(), lambda images: spikegen.rate(images, num_steps=T), lambda net: None


def spikingjelly_net(T: int):
    from spikingjelly.activation_based import encoding, functional, layer, neuron, surrogate

    def lif():  # H = (1 - 1/tau) V + X, soft reset: beta = 1 - 1/tau
        return neuron.LIFNode(
            tau=1 / (1 - BETA),
            decay_input=False,
            v_threshold=V_TH,
            v_reset=None,
            surrogate_function=surrogate.SoftSign(alpha=SLOPE),
            detach_reset=True,
            step_mode="m",
        )

    net = torch.nn.Sequential(layer.Linear(784, 10, step_mode="m"), lif(), layer.Linear(10, 10, step_mode="m"), lif())
    encoder = encoding.PoissonEncoder()
    return net, lambda images: torch.stack([encoder(images) for _ in range(T)]), functional.reset_net


def norse_net(T: int):
    import norse.torch as norse
    from norse.torch.functional.reset import reset_subtract

    dt = 1e-3
    p = norse.LIFBoxParameters(
        tau_mem_inv=torch.tensor((1 - BETA) / dt),
        v_th=torch.tensor(V_TH),
        method="super",
        alpha=torch.tensor(SLOPE),
        reset_method=reset_subtract,
    )

    class Net(torch.nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.fc1, self.fc2 = torch.nn.Linear(784, 10), torch.nn.Linear(10, 10)
            self.lif1, self.lif2 = norse.LIFBoxCell(p, dt=dt), norse.LIFBoxCell(p, dt=dt)

        def forward(self, x):
            state1 = state2 = None
            out = []
            for step in x:
                spikes1, state1 = self.lif1(self.fc1(step) / (1 - BETA), state1)
                spikes2, state2 = self.lif2(self.fc2(spikes1) / (1 - BETA), state2)
                out.append(spikes2)
            return torch.stack(out)

    return Net(), lambda images: torch.bernoulli(images.expand(T, *images.shape)), lambda net: None


def library_epoch(make: Callable, T: int, data: MNISTData, device: str) -> tuple[float, float]:
    """Seconds (training and test) and test accuracy of one epoch of a library's own loop."""
    torch.manual_seed(0)
    net, encode, reset = make(T)
    net = net.to(device)
    optimizer = torch.optim.Adam(net.parameters(), lr=1e-3)
    images, labels = data.train_images.to(device), data.train_labels.to(device)
    started = time.perf_counter()
    for start in range(0, len(labels), BATCH):
        x, y = images[start : start + BATCH], labels[start : start + BATCH]
        reset(net)
        loss = F.mse_loss(net(encode(x)).mean(0), F.one_hot(y, 10).float())
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
    correct = 0
    with torch.no_grad():
        for start in range(0, len(data.test_labels), 1000):
            reset(net)
            x, y = data.test_images[start : start + 1000].to(device), data.test_labels[start : start + 1000].to(device)
            correct += int((net(encode(x)).mean(0).argmax(1) == y).sum())
    if device == "cuda":
        torch.cuda.synchronize()
    return time.perf_counter() - started, correct / len(data.test_labels)


def labsnn_epoch(T: int, data: MNISTData, device: str) -> tuple[float, float]:
    """Seconds (training and test, as recorded) and test accuracy of ``labsnn.running.train.train``."""
    epoch = train(RunConfig(T=T, epochs=1, beta=BETA, v_th=V_TH, z=SLOPE, device=device), data, progress=False).epochs[
        0
    ]
    return epoch["epoch_time_s"], epoch["test_acc"]


def libraries() -> dict[str, Callable]:
    """The libraries to compare with: snnTorch always, the others where installed."""
    found: dict[str, Callable] = {"snntorch": snntorch_net}
    if importlib.util.find_spec("spikingjelly") is not None:
        found["spikingjelly"] = spikingjelly_net
    if importlib.util.find_spec("norse") is not None:
        found["norse nearest"] = norse_net
    return found


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--steps", type=int, nargs="+", default=[25, 100], help="values of T (default: 25 100)")
    args = parser.parse_args()
    data = load_mnist()
    devices = ["cpu", "cuda"] if torch.cuda.is_available() else ["cpu"]
    build = kernels.build_info()
    print(f"kernels: {build['backend_build']}, -march={build['march']} ({build['compiler']}); cpu: {cpu_model()}")
    print(
        f"torch {torch.__version__}, {torch.get_num_threads()} threads, data {data.source}; one epoch each "
        f"(60,000 training images, then the test set){'' if len(devices) > 1 else '; no CUDA here'}"
    )
    print(
        f"{'T':>4} {'device':<6} {'library':<13} {'seconds':>8} {'labsnn s':>9} {'ratio':>7} {'accuracy':>9} "
        f"{'labsnn':>7} {'diff':>8}"
    )
    for device in devices:
        for T in args.steps:
            ours, our_acc = labsnn_epoch(T, data, device)
            for name, make in libraries().items():
                seconds, acc = library_epoch(make, T, data, device)
                print(
                    f"{T:>4} {device:<6} {name:<13} {seconds:>8.1f} {ours:>9.2f} {seconds / ours:>6.1f}x {acc:>9.2%} "
                    f"{our_acc:>7.2%} {100 * (our_acc - acc):>+6.2f}pt",
                    flush=True,
                )


if __name__ == "__main__":
    main()
