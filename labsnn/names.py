"""The names a run's config chooses among, and the lab's data sizes: plain data that
imports nothing heavy, so that a config is checked before torch is imported."""

from __future__ import annotations

#: MNIST: 28 x 28 pixels in, one output per digit class, and the sizes of its two splits.
INPUT_SIZE = 784
N_CLASSES = 10
MNIST_TRAIN, MNIST_TEST = 60_000, 10_000
#: The lab's network: 784 inputs, 10 hidden LIF neurons, 10 output LIF neurons.
LAB_SIZES: tuple[int, ...] = (INPUT_SIZE, 10, N_CLASSES)

ENCODERS = ("repeat", "threshold", "bernoulli")
LOSSES = ("mse_rate", "cross_entropy_rate", "mse_count")
SURROGATES = ("fast_sigmoid", "scaled_fast_sigmoid")
SPIKE_TIMINGS = ("same_step", "next_step")
OPTIMIZERS = ("adam", "sgd")
DEVICES = ("auto", "cpu", "cuda")
BACKENDS = ("auto", "compiled", "torch")
