"""labsnn: the spiking-neural-network lab 1 as a small, tested PyTorch package.

The names below are imported on first use, so that ``python -m labsnn`` can check its
arguments before it imports torch.
"""

from __future__ import annotations

import importlib
from typing import Any

__version__ = "0.1.0"

_EXPORTS = {
    "RunConfig": "labsnn.running.config",
    "ann_flops": "labsnn.dynamics.flops",
    "snn_flops": "labsnn.dynamics.flops",
    "ANN": "labsnn.model",
    "SNN": "labsnn.model",
    "SNNStack": "labsnn.model",
    "LIF": "labsnn.dynamics.neuron",
    "fast_sigmoid": "labsnn.dynamics.neuron",
    "lif_sequence": "labsnn.dynamics.neuron",
    "lif_step": "labsnn.dynamics.neuron",
}
__all__ = sorted(_EXPORTS)


def __getattr__(name: str) -> Any:
    if name in _EXPORTS:
        return getattr(importlib.import_module(_EXPORTS[name]), name)
    try:  # a submodule, as ``import labsnn; labsnn.model`` found it when the package imported them all
        return importlib.import_module(f"labsnn.{name}")
    except ModuleNotFoundError:
        raise AttributeError(f"module 'labsnn' has no attribute {name!r}") from None


def __dir__() -> list[str]:
    return sorted(["__version__", *_EXPORTS])
