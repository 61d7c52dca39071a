"""``python -m labsnn export-nir``: a trained network written as a NIR graph, read back with ``nir.read`` parameter by
parameter, refused in one line where NIR cannot express it, and run again through the readers
``benchmarks/nir_round_trip.py`` compares (the one that honours the graph's reset metadata matches labsnn exactly)."""

import importlib.util

import numpy as np
import pytest
import torch

from conftest import REPO
from labsnn.cli import main
from labsnn.running.config import RunConfig
from labsnn.running.nir_export import DT
from labsnn.running.results import result_path
from labsnn.running.sweep import run_configs

nir = pytest.importorskip("nir")

TINY = RunConfig(T=6, epochs=1, n_train=256, n_test=64, batch_size=32, lr=1e-2, device="cpu")


def _round_trip_script():
    spec = importlib.util.spec_from_file_location("nir_round_trip", REPO / "benchmarks" / "nir_round_trip.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="module")
def cached(subset, tmp_path_factory):
    """Result files of three trained runs: beta 0.5, beta 1 (an IF neuron) and beta 2 (not expressible)."""
    folder = tmp_path_factory.mktemp("results")
    configs = [TINY.replace(beta=0.5), TINY.replace(beta=1.0), TINY.replace(beta=2.0)]
    results = run_configs(configs, folder, subset, progress=False, workers=1)
    return {c.beta: (result_path(folder, c, subset), r) for c, r in zip(configs, results)}


def test_an_exported_network_reads_back_with_every_parameter(cached, tmp_path):
    path, result = cached[0.5]
    out = tmp_path / "network.nir"
    assert main(["export-nir", str(path), str(out)]) == 0
    graph = nir.read(out)
    assert set(graph.nodes) == {"input", "affine0", "lif0", "affine1", "lif1", "output"}
    assert sorted(graph.edges) == sorted(
        [("input", "affine0"), ("affine0", "lif0"), ("lif0", "affine1"), ("affine1", "lif1"), ("lif1", "output")]
    )
    for i in range(2):
        affine, lif = graph.nodes[f"affine{i}"], graph.nodes[f"lif{i}"]
        assert np.array_equal(affine.weight, result.state[f"fc{i + 1}.weight"].numpy())
        assert np.array_equal(affine.bias, result.state[f"fc{i + 1}.bias"].numpy())
        assert isinstance(lif, nir.LIF) and lif.tau.shape == (10,)
        assert np.allclose(lif.tau, DT / (1 - 0.5)) and np.allclose(lif.r, lif.tau / DT)
        assert np.allclose(1 - DT / lif.tau, 0.5)  # beta, as snnTorch's importer recovers it
        assert np.all(lif.v_threshold == TINY.v_th) and np.all(lif.v_reset == 0) and np.all(lif.v_leak == 0)
    meta = graph.metadata
    assert meta["reset"] == "subtract" and meta["spike_timing"] == "same_step" and meta["surrogate"] == "fast_sigmoid"
    assert float(meta["z"]) == TINY.z and int(meta["T"]) == TINY.T and float(meta["dt"]) == DT


def test_beta_one_is_an_if_node(cached, tmp_path):
    out = tmp_path / "if.nir"
    assert main(["export-nir", str(cached[1.0][0]), str(out)]) == 0
    neuron = nir.read(out).nodes["lif0"]
    assert isinstance(neuron, nir.IF) and np.all(neuron.r == 1) and np.all(neuron.v_threshold == TINY.v_th)


@pytest.mark.parametrize("case", ["beta 2", "missing", "no folder"])
def test_what_nir_cannot_take_is_one_line_and_exit_2(cached, tmp_path, capsys, case):
    args = {
        "beta 2": [str(cached[2.0][0]), str(tmp_path / "x.nir")],
        "missing": [str(tmp_path / "none.json"), str(tmp_path / "x.nir")],
        "no folder": [str(cached[0.5][0]), str(tmp_path / "no" / "x.nir")],
    }[case]
    assert main(["export-nir", *args]) == 2
    err = capsys.readouterr().err
    assert err.startswith("labsnn: error: ") and len(err.strip().splitlines()) == 1
    assert {
        "beta 2": "beta = 2 cannot be expressed in NIR",
        "missing": "does not exist",
        "no folder": "does not exist",
    }[case] in err
    assert not (tmp_path / "x.nir").exists()


def test_the_reader_that_honours_the_reset_metadata_matches_labsnn_spike_for_spike(cached, subset, tmp_path):
    script = _round_trip_script()
    path, _ = cached[0.5]
    assert main(["export-nir", str(path), str(tmp_path / "n.nir")]) == 0
    graph = nir.read(tmp_path / "n.nir")
    from labsnn.running.results import load_model

    x = script.input_spikes(subset.test_images[:64], TINY.T, seed=1)
    with torch.no_grad():
        ours = load_model(path)(x)
    rows = script.compare(ours, script.by_hand(graph, x), subset.test_labels[:64])
    assert rows["spikes equal"] == 1.0 and rows["first differing step"] == "none"
    # snnTorch's own importer resets to zero in the step that spikes: where a neuron spikes, it parts from labsnn's
    theirs = script.snntorch_import(graph, x)
    assert ours.sum() > 0 and script.compare(ours, theirs, subset.test_labels[:64])["spikes equal"] < 1.0
