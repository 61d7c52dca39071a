"""A run's record (``RunResult``) and the result cache it is kept in.

Each run's result is one JSON file under the results folder, named by the config hash
and by the data and ``RESULTS_VERSION`` it was trained with, and written atomically (a
temporary file, then ``os.replace``): an interrupted write leaves only whole files. A
file that cannot be read back is reported and recomputed, never used.
"""

from __future__ import annotations

import hashlib
import io
import json
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch
from filelock import FileLock, Timeout
from torch import Tensor

from labsnn.atomic import write_atomically, write_bytes
from labsnn.config import RunConfig
from labsnn.data import MNISTData
from labsnn.log import log

#: Part of every result's file name: bump it when a change to training changes results,
#: so that old cached results are recomputed rather than reused
#: (``tests/test_results_version.py`` fails when the numbers change without a bump).
#: CHANGELOG.md says what changed at each version.
RESULTS_VERSION = 7


@dataclass
class RunResult:
    """One run's outcome: its config, the data it saw, its status and one dict per epoch.

    ``test_step_rates[l][t]``: the last completed epoch's mean value of layer ``l``'s
    input at step ``t`` on the test set (the firing rate for spikes; the mean pixel value
    for the repeat and threshold encoders' first layer): the F of the FLOPs formula.
    ``state``: the network's final weights (``SNN.stack``'s state dict), kept beside the
    JSON in the cache rather than in it.
    """

    config: RunConfig
    data: dict[str, Any]
    status: str = "ok"
    diverged_epoch: int | None = None
    epochs: list[dict[str, float]] = field(default_factory=list)
    test_step_rates: list[list[float]] = field(default_factory=list)
    state: dict[str, Tensor] | None = field(default=None, repr=False, compare=False)
    environment: dict[str, str] = field(default_factory=dict, repr=False, compare=False)
    weights_sha256: str | None = field(default=None, repr=False, compare=False)

    def rows(self) -> list[dict[str, Any]]:
        """Tidy rows: one per epoch, with every config field, the data and the status."""
        fixed = {**self.config.to_dict(), "sizes": "-".join(map(str, self.config.sizes))}
        fixed.update(
            self.data, config_hash=self.config.config_hash, status=self.status, diverged_epoch=self.diverged_epoch
        )
        return [{**fixed, **epoch} for epoch in self.epochs]

    def frame(self):
        import pandas as pd

        return pd.DataFrame(self.rows())

    def to_json(self) -> dict[str, Any]:
        return {
            "config": self.config.to_dict(),
            "data": self.data,
            "status": self.status,
            "diverged_epoch": self.diverged_epoch,
            "epochs": self.epochs,
            "test_step_rates": self.test_step_rates,
            "environment": self.environment,
            "weights_sha256": self.weights_sha256,
        }

    @classmethod
    def from_json(cls, payload: dict[str, Any]) -> RunResult:
        return cls(
            RunConfig.from_dict(payload["config"]),
            dict(payload["data"]),
            str(payload["status"]),
            payload["diverged_epoch"],
            [dict(e) for e in payload["epochs"]],
            payload["test_step_rates"],
            environment=dict(payload.get("environment") or {}),
            weights_sha256=payload.get("weights_sha256"),
        )


class ResultError(ValueError):
    """A result file, or the weights file beside it, that is missing or damaged."""


def result_path(results_dir: Path, config: RunConfig, data: MNISTData) -> Path:
    """``<results_dir>/<config hash>-<data and results-version hash>.json``."""
    data_hash = hashlib.sha256(f"{data.fingerprint}-v{RESULTS_VERSION}".encode()).hexdigest()[:8]
    return Path(results_dir) / f"{config.config_hash}-{data_hash}.json"


def weights_path(path: Path) -> Path:
    """Where the weights of the result at ``path`` are kept: ``<path without .json>.pt``."""
    return Path(path).with_suffix(".pt")


def write_result(path: Path, result: RunResult) -> None:
    """Write ``result`` to ``path`` and its weights beside it, each atomically; the weights
    first, so that a result file always has its weights, and their SHA-256 in the result."""
    path.parent.mkdir(parents=True, exist_ok=True)
    if result.state is not None:
        buffer = io.BytesIO()  # serialised in memory: a full disk is then a plain OSError, not torch's
        torch.save(result.state, buffer)
        result.weights_sha256 = hashlib.sha256(buffer.getvalue()).hexdigest()
        write_bytes(weights_path(path), buffer.getvalue())
    write_atomically(path, lambda stream: json.dump(result.to_json(), stream), binary=False)


def _weights_bytes(path: Path, result: RunResult) -> bytes:
    """The bytes of the weights beside the result at ``path``, checked against the
    result's recorded SHA-256 where it has one."""
    weights = weights_path(path)
    if not weights.is_file():
        raise ResultError(f"its weights file {weights.name} is missing")
    raw = weights.read_bytes()
    if result.weights_sha256 is not None and hashlib.sha256(raw).hexdigest() != result.weights_sha256:
        raise ResultError(f"its weights file {weights.name} is damaged (its SHA-256 differs from the recorded one)")
    return raw


def _read_weights(path: Path, result: RunResult) -> dict[str, Tensor]:
    """The weights beside the result at ``path``, checked (``_weights_bytes``) and loaded."""
    raw = _weights_bytes(path, result)
    try:
        return torch.load(io.BytesIO(raw), weights_only=True)
    except Exception as error:
        raise ResultError(
            f"its weights file {weights_path(path).name} cannot be read ({type(error).__name__})"
        ) from None


def load_model(path: str | os.PathLike):
    """The trained network of a result file, with the run's neuron settings and its final
    weights (no retraining).

    Args:
        path: a result's JSON file (its weights lie beside it, ``<result>.pt``).

    Returns:
        An ``SNN`` in eval mode. Raises ``ResultError`` naming the file when the result or
        its weights are missing or damaged.
    """
    from labsnn.model import SNN

    path = Path(path)
    try:
        result = RunResult.from_json(json.loads(path.read_text()))
    except FileNotFoundError:
        raise ResultError(f"result file {path} does not exist") from None
    except Exception as error:
        raise ResultError(f"result file {path} cannot be read ({type(error).__name__}: {error})") from None
    try:
        state = _read_weights(path, result)
    except ResultError as error:
        raise ResultError(f"result file {path}: {error}") from None
    config = result.config
    model = SNN(
        config.sizes,
        config.beta,
        config.v_th,
        config.z,
        config.seed,
        surrogate=config.surrogate,
        spike_timing=config.spike_timing,
    )
    model.stack.load_state_dict({name: tensor.unsqueeze(0) for name, tensor in state.items()})
    return model.eval()


def run_lock(path: Path) -> FileLock:
    """The lock of the run whose result is ``path``: held while the run trains and is
    written, so that sweeps sharing a results folder train each run once. The operating
    system releases it when its process dies, so a killed sweep leaves no stale lock."""
    return FileLock(path.parent / f".{path.stem}.lock")


def remove_stale_temporaries(results_dir: Path) -> int:
    """Delete the temporary files that interrupted writes left in ``results_dir`` (those of
    runs no process holds the lock of); returns how many."""
    removed = 0
    for temporary in Path(results_dir).glob(".*.tmp"):
        lock = FileLock(temporary.parent / f".{temporary.name[1:].split('.')[0]}.lock")
        try:
            with lock.acquire(timeout=0):
                temporary.unlink(missing_ok=True)
                removed += 1
        except Timeout:
            continue  # its run is being written right now
    return removed


def read_result(path: Path, config: RunConfig, report: bool = True) -> RunResult | None:
    """The cached result at ``path``, or None when it is missing, unreadable or its weights
    are missing or damaged (said in one line unless ``report`` is False)."""
    if not path.exists():
        return None
    try:
        result = RunResult.from_json(json.loads(path.read_text()))
        if result.config.config_hash != config.config_hash:
            raise ValueError("it holds another config")
        if len(result.epochs) != config.epochs and result.status != "diverged":
            raise ValueError(f"it has {len(result.epochs)} of {config.epochs} epochs")
        if result.weights_sha256 is None:
            _read_weights(path, result)  # made before checksums were recorded: loading them checks them
        else:
            _weights_bytes(path, result)
        return result
    except Exception as error:  # any corruption: report, then recompute
        if report:
            log.warning(f"unreadable result file {path} ({type(error).__name__}: {error}); recomputing")
        return None
