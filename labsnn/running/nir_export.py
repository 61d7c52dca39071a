"""A trained network as a NIR graph (the Neuromorphic Intermediate Representation, ``nir`` 1.0.8).

Each layer becomes an ``Affine`` node (its weights and biases) and a ``LIF`` node, or an ``IF`` node where
beta = 1. The discrete-time parameters are mapped as snnTorch's exporter maps its ``Leaky``: with ``DT`` the step,
``tau = DT / (1 - beta)`` and ``r = tau / DT`` (so that ``beta = 1 - DT / tau`` and an input adds to the membrane
unscaled), ``v_leak = 0``; an ``IF`` node has ``r = 1``, as snnTorch's and Norse's importers expect.

NIR's neurons reset to ``v_reset`` and have no field for labsnn's subtractive reset, nor for when a spike is read
or the surrogate gradient: ``v_reset`` is 0, and the graph's metadata says what labsnn computes (``reset``:
``subtract``, the spike timing, the surrogate and its slope). A reader that ignores the metadata computes a
different network; ``benchmarks/nir_round_trip.py`` measures how different.
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path
from typing import Any

from labsnn.running.config import RunConfig

DT = 1e-4  # snnTorch's exporter's step


def check_exportable(config: RunConfig) -> None:
    """Refuses a network NIR cannot express.

    Args:
        config: the run's config.

    Raises:
        ValueError: one line: beta outside [0, 1] (a growing membrane, beta > 1, or a sign-flipping one, beta < 0,
            has no time constant).
    """
    if not 0 <= config.beta <= 1:
        raise ValueError(
            f"beta = {config.beta:g} cannot be expressed in NIR: a LIF node's time constant tau = dt / (1 - beta) "
            "needs 0 <= beta < 1 (beta = 1 is an IF node)"
        )


def neuron_node(config: RunConfig, n: int) -> Any:
    """The NIR node of one LIF layer of ``n`` neurons: ``LIF``, or ``IF`` where beta = 1.

    Args:
        config: the run's config (``check_exportable`` holds); n: the layer's neurons.
    """
    import nir
    import numpy as np

    threshold, reset = np.full(n, config.v_th, dtype=np.float32), np.zeros(n, dtype=np.float32)
    if config.beta == 1:
        return nir.IF(r=np.ones(n, dtype=np.float32), v_threshold=threshold, v_reset=reset)
    tau = np.full(n, DT / (1 - config.beta))
    return nir.LIF(tau=tau, r=tau / DT, v_leak=np.zeros(n), v_threshold=threshold, v_reset=reset)


def to_nir(config: RunConfig, state: dict[str, Any]) -> Any:
    """The network as a ``nir.NIRGraph``: ``input``, then ``affine{i}`` and ``lif{i}`` per layer, then ``output``.

    Args:
        config: the run's config; state: its weights file's tensors, ``fc{l}.weight`` ``[N, M]`` and ``fc{l}.bias`` ``[N]``
            (layer ``l`` from 1).

    Raises:
        ValueError: what ``check_exportable`` refuses.
    """
    import nir
    import numpy as np

    check_exportable(config)
    sizes = config.sizes
    nodes: dict[str, Any] = {"input": nir.Input(input_type={"input": np.array([sizes[0]])})}
    edges, previous = [], "input"
    for i, n in enumerate(sizes[1:]):
        weight = state[f"fc{i + 1}.weight"].detach().cpu().numpy()
        bias = state[f"fc{i + 1}.bias"].detach().cpu().numpy()
        nodes[f"affine{i}"], nodes[f"lif{i}"] = nir.Affine(weight=weight, bias=bias), neuron_node(config, n)
        edges += [(previous, f"affine{i}"), (f"affine{i}", f"lif{i}")]
        previous = f"lif{i}"
    nodes["output"] = nir.Output(output_type={"output": np.array([sizes[-1]])})
    edges.append((previous, "output"))
    metadata = {
        "producer": "labsnn",
        "reset": "subtract",
        "reset_note": "labsnn subtracts v_threshold one step after a spike; v_reset = 0 stands in for it",
        "spike_timing": config.spike_timing,
        "surrogate": config.surrogate,
        "z": float(config.z),
        "beta": float(config.beta),
        "dt": DT,
        "T": int(config.T),
        "encoder": config.encoder,
    }
    return nir.NIRGraph(nodes=nodes, edges=edges, metadata=metadata)


def export_nir(result_file: str | os.PathLike, out: str | os.PathLike) -> Path:
    """Writes a result's trained network as a NIR file.

    Args:
        result_file: a result's JSON file (its weights beside it); out: the ``.nir`` file to write.

    Returns:
        ``out``.

    Raises:
        ValueError: one line, before anything is written: a missing or damaged result, a network NIR cannot express,
            or an output folder that does not exist.
    """
    out, result_file = Path(out), Path(result_file)
    if not out.parent.is_dir():
        raise ValueError(f"cannot write {out}: the folder {out.parent} does not exist")
    if not result_file.is_file():
        raise ValueError(f"result file {result_file} does not exist")
    import nir

    from labsnn.running.atomic import write_bytes
    from labsnn.running.results import load_run, model_of

    result = load_run(result_file)  # the result and its weights, checked
    model_of(result, result_file)  # weights that fit the network it names
    graph = to_nir(result.config, result.state)
    with tempfile.TemporaryDirectory() as folder:  # nir writes a file by name: written whole, then put in place
        nir.write(Path(folder) / "graph.nir", graph)
        write_bytes(out, (Path(folder) / "graph.nir").read_bytes())
    return out
