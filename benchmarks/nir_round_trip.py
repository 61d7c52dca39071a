"""A trained labsnn network's round trip through NIR: exported by labsnn, imported by snnTorch and Norse, and run
on the test set with the same input spikes as labsnn.

Per result, library and reset convention it prints one Markdown row: the import's test accuracy (labsnn's beside
it), the share of output spikes (every step, image and output neuron) equal to labsnn's, and the first step at
which any image's output spikes differ. The imports:

- ``snnTorch import_from_nir``: snnTorch's own importer (``Leaky``, reset to zero in the step that spikes);
- ``Norse from_nir``, once with ``reset_value`` and once with ``reset_subtract`` (``dt`` = the exported step);
- ``by hand from the graph and its metadata``: snnTorch ``Leaky(reset_mechanism="subtract")``, the reset one step
  after the spike as snnTorch's default, read from the same graph plus its ``reset`` metadata; the one import that
  should match labsnn.

    python benchmarks/nir_round_trip.py --results results [--data-root DIR] [--betas 0.1 0.5 1.0]
    python benchmarks/nir_round_trip.py RESULT.json [RESULT.json ...]

With ``--results``, the runs are the full profile's default run (seed 0) at each ``--betas`` value (4.1's beta
sweep); the data are full MNIST (``--data-root``, else ``$LABSNN_DATA``), all 10,000 test images unless
``--n-test``. The input spikes are Bernoulli draws of ``--seed``, the same tensor for every network.
"""

from __future__ import annotations

import argparse
import contextlib
import io
import json
import logging
import tempfile
import warnings
from pathlib import Path

import torch

DT_FIELD = "dt"


def input_spikes(images: torch.Tensor, T: int, seed: int) -> torch.Tensor:
    """Bernoulli spikes ``[T, B, M]`` of images ``[B, M]`` (intensity = probability per step), from ``seed``."""
    generator = torch.Generator().manual_seed(seed)
    return (torch.rand(T, *images.shape, generator=generator) < images).float()


def _stepped(module, x: torch.Tensor) -> torch.Tensor:
    """Output spikes ``[T, B, C]`` of an imported graph called step by step: ``out, state = module(x_t, state)``."""
    state, out = None, []
    for step in x:
        spikes, state = module(step, state)
        out.append(spikes)
    return torch.stack(out)


def snntorch_import(graph, x: torch.Tensor) -> torch.Tensor:
    """Output spikes of snnTorch's own importer."""
    from snntorch.import_nir import import_from_nir

    with contextlib.redirect_stdout(io.StringIO()):  # it prints a line per graph it rewrites
        module = import_from_nir(graph)
    return _stepped(module, x)


def norse_import(graph, x: torch.Tensor, reset_method: str) -> torch.Tensor:
    """Output spikes of Norse's importer with ``reset_method`` (``reset_value`` or ``reset_subtract``)."""
    import norse.torch as norse
    from norse.torch.functional import reset

    module = norse.from_nir(graph, reset_method=getattr(reset, reset_method), dt=float(graph.metadata[DT_FIELD]))
    return _stepped(module, x)


def by_hand(graph, x: torch.Tensor) -> torch.Tensor:
    """Output spikes of snnTorch layers built from the graph's nodes and its ``reset`` metadata."""
    import numpy as np
    import snntorch as snn

    dt, layers, i = float(graph.metadata[DT_FIELD]), [], 0
    while f"affine{i}" in graph.nodes:
        affine, neuron = graph.nodes[f"affine{i}"], graph.nodes[f"lif{i}"]
        linear = torch.nn.Linear(affine.weight.shape[1], affine.weight.shape[0])
        with torch.no_grad():
            linear.weight.copy_(torch.from_numpy(affine.weight))
            linear.bias.copy_(torch.from_numpy(affine.bias))
        beta = 1.0 if not hasattr(neuron, "tau") else float(np.float32(1 - dt / float(neuron.tau[0])))
        leaky = snn.Leaky(beta=beta, threshold=float(neuron.v_threshold[0]), reset_mechanism=graph.metadata["reset"])
        layers.append((linear, leaky))
        i += 1
    states = [leaky.init_leaky() for _, leaky in layers]
    out = []
    with torch.no_grad():
        for step in x:
            h = step
            for k, (linear, leaky) in enumerate(layers):
                h, states[k] = leaky(linear(h), states[k])
            out.append(h)
    return torch.stack(out)


def compare(ours: torch.Tensor, theirs: torch.Tensor, labels: torch.Tensor) -> dict[str, object]:
    """Accuracy of ``theirs``, its share of output spikes equal to ``ours`` and the first step where any differs."""
    differs = (ours != theirs).flatten(start_dim=1).any(dim=1)
    first = int(differs.nonzero()[0]) if bool(differs.any()) else None
    return {
        "accuracy": float((theirs.sum(dim=0).argmax(dim=1) == labels).double().mean()),
        "spikes equal": float((ours == theirs).double().mean()),
        "first differing step": "none" if first is None else first,
    }


def round_trip(result_file: Path, images: torch.Tensor, labels: torch.Tensor, seed: int) -> list[dict[str, object]]:
    """The rows of one result: labsnn's own run, then each import."""
    import nir

    from labsnn.running.nir_export import export_nir
    from labsnn.running.results import RunResult, load_model

    config = RunResult.from_json(json.loads(result_file.read_text())).config
    model = load_model(result_file)
    with tempfile.TemporaryDirectory() as folder:
        graph = nir.read(export_nir(result_file, Path(folder) / "network.nir"))
    x = input_spikes(images, config.T, seed)
    with torch.no_grad():
        ours = torch.cat([model(part) for part in x.split(1000, dim=1)], dim=1)
    imports = {
        ("snnTorch import_from_nir", "reset to zero (v_reset)"): lambda: snntorch_import(graph, x),
        ("Norse from_nir", "reset_value"): lambda: norse_import(graph, x, "reset_value"),
        ("Norse from_nir", "reset_subtract"): lambda: norse_import(graph, x, "reset_subtract"),
        ("by hand from the graph and its metadata", "subtract (metadata)"): lambda: by_hand(graph, x),
    }
    name = f"beta = {config.beta:g}, {config.spike_timing}"
    labsnn_accuracy = float((ours.sum(dim=0).argmax(dim=1) == labels).double().mean())
    rows = []
    for (library, reset), run in imports.items():
        row = {"run": name, "import": library, "reset": reset, "labsnn accuracy": labsnn_accuracy}
        try:
            with torch.no_grad():
                row.update(compare(ours, run(), labels))
        except Exception as error:  # an importer that cannot run this graph: a finding, not the end of the table
            message = (str(error).splitlines() or [""])[0]
            failed = f"fails: {type(error).__name__}: {message}"
            row.update({"accuracy": None, "spikes equal": None, "first differing step": failed})
        rows.append(row)
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("results", nargs="*", type=Path, help="result JSON files")
    parser.add_argument("--results", dest="folder", type=Path, help="a full report's result cache")
    parser.add_argument("--betas", nargs="+", type=float, default=[0.1, 0.5, 1.0])
    parser.add_argument("--data-root", default=None)
    parser.add_argument("--n-test", type=int, default=None)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    warnings.filterwarnings("ignore")
    logging.getLogger().setLevel(logging.ERROR)  # Norse warns that r != 1 on every import

    from labsnn.lab.profiles import base_config
    from labsnn.running.data import load_mnist
    from labsnn.running.results import result_path

    data = load_mnist(args.data_root)
    files = list(args.results)
    if args.folder is not None:
        files += [result_path(args.folder, base_config("full").replace(beta=beta), data) for beta in args.betas]
    if not files:
        parser.error("give result files, or --results FOLDER")
    test = data.subset(None, args.n_test)
    rows = [row for path in files for row in round_trip(path, test.test_images, test.test_labels, args.seed)]
    import pandas as pd

    table = pd.DataFrame(rows)
    for column, shown in (("accuracy", "{:.2%}"), ("labsnn accuracy", "{:.2%}"), ("spikes equal", "{:.4%}")):
        table[column] = table[column].map(lambda v, shown=shown: "-" if v is None or v != v else shown.format(v))
    print(table.to_markdown(index=False))


if __name__ == "__main__":
    main()
