import os
from pathlib import Path

import pytest

from labsnn.data import has_mnist, load_mnist, load_subset

REPO = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="session")
def mnist():
    """Full MNIST when LABSNN_DATA points at it (as in CI), else the packaged subset."""
    root = os.environ.get("LABSNN_DATA")
    if root and has_mnist(Path(root)):
        return load_mnist(root)
    return load_subset()


@pytest.fixture(scope="session")
def subset():
    return load_subset()
