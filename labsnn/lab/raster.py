"""One test digit through a trained network: its input spikes, the layers' spike rasters and the output membranes.

The network's weights come from beside the run's result in the cache; nothing is retrained.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import torch
from torch import Tensor

from labsnn.dynamics.encoders import get_encoder
from labsnn.lab.figures import save_figure
from labsnn.running.config import RunConfig
from labsnn.running.data import MNISTData
from labsnn.running.results import load_model, result_path


@dataclass
class Trace:
    """One digit through one trained network.

    Attributes:
        inputs: input spikes ``[T, M]``.
        spikes: per layer, its spikes ``[T, N]``.
        membrane: the output layer's membrane ``[T, C]``.
        label, predicted: the digit's class and the network's prediction (highest output firing rate).
        config: the run.
    """

    inputs: Tensor
    spikes: list[Tensor]
    membrane: Tensor
    label: int
    predicted: int
    config: RunConfig


def trace(config: RunConfig, data: MNISTData, results_dir: str | Path, index: int = 0) -> Trace:
    """Runs one test digit of the run's own test split through the run's trained network.

    Args:
        config, data, results_dir: the run, its data and the result cache holding its weights.
        index: the digit's index in the run's test split; its input spikes are seeded by ``config.seed``.

    Returns:
        The ``Trace``.

    Raises:
        ResultError: (a ``ValueError``) the run's result or weights are missing or damaged.
    """
    model = load_model(result_path(Path(results_dir), config, data))  # keyed by the whole data set
    test = data.subset(config.n_train, config.n_test)
    image = test.test_images[index : index + 1]
    generator = torch.Generator().manual_seed(config.seed)
    inputs = get_encoder(config.encoder)(image, config.T, generator=generator, threshold=config.threshold)
    with torch.no_grad():
        out = model.stack(inputs)
    spikes = [layer[0, :, 0] for layer in out.layer_spikes]
    predicted = int(out.firing_rates()[0, 0].argmax())
    return Trace(inputs[:, 0], spikes, out.membranes[-1][0, :, 0], int(test.test_labels[index]), predicted, config)


def plot_trace(run: Trace, figures_dir: str | Path, name: str = "figure_spike_raster"):
    """Draws a ``Trace`` in four panels over T: input spikes, hidden and output rasters, output membranes.

    The input panel shows only pixels that spike at least once; the membranes' panel draws V_th dashed.

    Args:
        run: the ``Trace``.
        figures_dir, name: as ``labsnn.lab.figures.save_figure`` takes them.

    Returns:
        The matplotlib Figure, saved.
    """
    import matplotlib.pyplot as plt

    T = run.inputs.shape[0]
    active = run.inputs.ne(0).any(dim=0).nonzero().squeeze(1)
    fig, axes = plt.subplots(4, 1, figsize=(8, 8.5), sharex=True, gridspec_kw={"height_ratios": [2, 1, 1, 1.6]})
    panels = [
        (run.inputs[:, active], f"input ({active.numel()} pixels that spike)"),
        (run.spikes[0], "hidden layer"),
        (run.spikes[-1], "output layer (class)"),
    ]
    for ax, (spikes, label) in zip(axes, panels):
        steps, neurons = spikes.nonzero(as_tuple=True)
        ax.scatter(steps.numpy(), neurons.numpy(), marker="|", s=40 if spikes.shape[1] < 50 else 6, color="black")
        ax.set(ylabel=label, ylim=(-0.5, spikes.shape[1] - 0.5))
    axes[2].set_yticks(range(run.spikes[-1].shape[1]))
    for c in range(run.membrane.shape[1]):
        style = {"linewidth": 2.2, "color": "C3"} if c == run.label else {"linewidth": 0.9, "alpha": 0.7}
        axes[3].plot(range(T), run.membrane[:, c].numpy(), label=f"{c}" if c == run.label else None, **style)
    axes[3].axhline(run.config.v_th, color="black", linestyle="--", linewidth=1, label="V_th")
    axes[3].set(xlabel="time step", ylabel="output membrane")
    axes[3].legend(fontsize=8, loc="upper right", title="true class", title_fontsize=8)
    fig.suptitle(f"A test digit {run.label} through the trained network (predicted {run.predicted})")
    save_figure(fig, figures_dir, name)
    return fig


def trace_caption(run: Trace, number: str = "A") -> str:
    """Writes the raster figure's caption: the run, its output spikes and its prediction.

    Args:
        run, number: the ``Trace`` and the figure's number.

    Returns:
        The Markdown caption.
    """
    counts = run.spikes[-1].sum(dim=0)
    return (
        f"**Figure {number}: one test digit through the trained default network** (seed {run.config.seed}, its "
        f"weights from the result cache). Bernoulli input spikes, the hidden and output layers' spikes over the "
        f"{run.inputs.shape[0]} steps, and the output membranes (the true class {run.label} drawn thick; dashed: "
        f"V_th = {run.config.v_th:g}). The output neurons fire {int(counts.sum())} spikes in all, "
        f"{int(counts[run.label])} of them for class {run.label}; the network predicts {run.predicted}."
    )
