import os
from pathlib import Path

import pytest

from labsnn.running.data import has_mnist, load_mnist, load_subset

REPO = Path(__file__).resolve().parents[1]
SMOKE_RESULTS = REPO / "results" / "smoke"  # the notebooks' default results_dir, "../results/smoke"


@pytest.fixture(scope="session")
def mnist():
    """Full MNIST when LABSNN_DATA points at it (as in CI), else the packaged subset."""
    root = os.environ.get("LABSNN_DATA")
    if root and has_mnist(Path(root)):
        return load_mnist(root)
    return load_subset()


def write_tiny_mnist(root, n_train=30, n_test=10):
    """Writes an MNIST of ``n_train`` + ``n_test`` random images in torchvision's IDX layout under ``root``."""
    import numpy as np

    raw = root / "MNIST" / "raw"
    raw.mkdir(parents=True)
    rng = np.random.default_rng(0)
    for prefix, n in (("train", n_train), ("t10k", n_test)):
        images = rng.integers(0, 256, size=(n, 28, 28), dtype=np.uint8)
        labels = (np.arange(n) % 10).astype(np.uint8)
        header = np.array([0x803, n, 28, 28], dtype=">i4").tobytes()
        (raw / f"{prefix}-images-idx3-ubyte").write_bytes(header + images.tobytes())
        (raw / f"{prefix}-labels-idx1-ubyte").write_bytes(
            np.array([0x801, n], dtype=">i4").tobytes() + labels.tobytes()
        )


@pytest.fixture(scope="session")
def subset():
    return load_subset()


@pytest.fixture
def count_trained(monkeypatch):
    """The configs trained in this process through the sweep machinery."""
    import labsnn.running.sweep as sweep_module
    import labsnn.running.train as train_module

    trained = []
    original = sweep_module.train_stack

    def counting(configs, data, progress):
        trained.extend(configs)
        return original(configs, data, progress)

    monkeypatch.setattr(sweep_module, "train_stack", counting)  # a run another sweep left unfinished
    monkeypatch.setattr(train_module, "train_stack", counting)  # the stacks the executor trains in this process
    return trained


class _SmokeRunsFirst:
    """Before the first notebook cell runs under nbval, train every run of the three
    notebooks' smoke profile in one batch, as ``make report`` does, so that runs sharing
    their input train stacked (bit-identical to training alone) and each notebook then
    reads them from the cache instead of training its section on its own."""

    def __init__(self) -> None:
        self.done = False

    def pytest_runtest_setup(self, item: pytest.Item) -> None:
        if self.done or not item.nodeid.startswith("notebooks/"):
            return
        self.done = True
        from labsnn import lab

        lab.prepare(lab.LabContext("smoke", lab.load_data("smoke"), SMOKE_RESULTS))


def pytest_configure(config: pytest.Config) -> None:
    # Registered as a plugin so that its hook also sees items outside tests/ (the notebooks).
    config.pluginmanager.register(_SmokeRunsFirst(), "labsnn-smoke-runs-first")
