"""A run's record (``RunResult``) and the result cache: one JSON file per run, named by the config hash, the data
and ``RESULTS_VERSION``, written atomically beside its weights; one that cannot be read back is recomputed."""

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

from labsnn.log import log
from labsnn.running.atomic import write_atomically, write_bytes
from labsnn.running.config import RunConfig
from labsnn.running.data import MNISTData

#: Part of every result's file name: bump it when a change to training changes results, so that old cached
#: results are recomputed rather than reused (``tests/test_results_version.py`` fails when the numbers change
#: without a bump). CHANGELOG.md says what changed at each version.
#: Version 9: the compiled backend's dense first layer (repeat and threshold input) sums in a fixed order, and a
#: dense input's rate image by image: their last bits no longer depend on the thread count.
#: Version 10: Adam and SGD are ``labsnn.running.optimizers``' (each network's update the same whatever its stack,
#: where torch's fused kernels rounded a tensor's tail differently), and the FLOPs meter sums each network's rates
#: as a contiguous block: a run's numbers no longer depend on its stack mates.
#: Version 11: every epoch's test pass records NeuroBench's metrics under NeuroBench's names (ActivationSparsity,
#: overall and per LIF layer, MembraneUpdates, Dense, Footprint, ConnectionSparsity); the synaptic operations
#: ``snn_macs_test`` and ``snn_acs_test`` are renamed ``Effective_MACs`` and ``Effective_ACs``. No other number moved.
#: Version 12: a weights file is keyed by the network's layers, as ``torch.nn.Linear``'s state dicts are
#: (``fc1.weight``, ``fc1.bias``, ...; version 11 had ``weights.0``, ``biases.0``): the model is built of layer
#: modules, and a file of the old keys would not load into it. No number moved, and the tensors are the same.
RESULTS_VERSION = 12


@dataclass
class RunResult:
    """One run's outcome: its config, the data it saw, its status and one dict per epoch.

    Attributes:
        config, data: the run's settings and its data's record (``MNISTData.describe``).
        status, diverged_epoch: ``ok``, or ``diverged`` and the epoch its loss or membrane stopped being finite.
        epochs: one row per epoch (``labsnn.running.train_records.record_epoch``).
        test_step_rates: ``[layers][T]``, the FLOPs formula's F: layer ``l``'s mean input at step ``t`` on the test
            set in the last epoch that did not diverge (the rate for spikes, the mean pixel for dense encoders).
        state: final weights, ``SNN.stack``'s state dict less the network axis (``fc1.weight [N, M]``, ``fc1.bias
            [N]``, ... as ``torch.nn.Linear``'s), kept beside the JSON, not in it.
        environment, weights_sha256: what the run trained on (``labsnn.running.provenance``); its weights file's SHA-256.
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
        """Tidy rows: one per epoch, with every config field (``sizes`` as ``784-10-10``), the data and the status."""
        fixed = {**self.config.to_dict(), "sizes": "-".join(map(str, self.config.sizes))}
        fixed.update(
            self.data, config_hash=self.config.config_hash, status=self.status, diverged_epoch=self.diverged_epoch
        )
        return [{**fixed, **epoch} for epoch in self.epochs]

    def frame(self):
        """``rows()`` as a pandas DataFrame."""
        import pandas as pd

        return pd.DataFrame(self.rows())

    def to_json(self) -> dict[str, Any]:
        """The result file's payload: everything but ``state``, whose file lies beside it."""
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
        """Returns the result whose ``to_json`` is ``payload``; ``environment`` and ``weights_sha256`` may be absent."""
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


def data_key(data: MNISTData, version: int = RESULTS_VERSION) -> str:
    """Returns the second part of a result's file name: 8 hex digits of the data's fingerprint and a results version.

    Args:
        data: the data the run trains on; version: the results version (this labsnn's by default).
    """
    return hashlib.sha256(f"{data.fingerprint}-v{version}".encode()).hexdigest()[:8]


def result_path(results_dir: Path, config: RunConfig, data: MNISTData) -> Path:
    """Returns ``<results_dir>/<config hash>-<data_key(data)>.json``.

    Args:
        results_dir, config, data: the results folder, the run and the data it trains on.
    """
    return Path(results_dir) / f"{config.config_hash}-{data_key(data)}.json"


def weights_path(path: Path) -> Path:
    """Returns where the weights of the result file ``path`` are kept: ``<path without .json>.pt``."""
    return Path(path).with_suffix(".pt")


def weights_bytes(state: dict[str, Tensor]) -> bytes:
    """Returns a weights file's bytes: ``state`` as ``torch.save`` writes it (serialised in memory, so that a full disk
    is a plain OSError, not torch's)."""
    buffer = io.BytesIO()
    torch.save(state, buffer)
    return buffer.getvalue()


def write_result(path: Path, result: RunResult) -> None:
    """Writes ``result`` to ``path`` and its ``state`` beside it (``weights_path``), each atomically.

    Args:
        path: the result file (``result_path``); its folder is created.
        result: the run; where it has a ``state``, the weights are written first and their SHA-256 set in it, so
            that a result file always has its weights.
    """
    path.parent.mkdir(parents=True, exist_ok=True)
    if result.state is not None:
        raw = weights_bytes(result.state)
        result.weights_sha256 = hashlib.sha256(raw).hexdigest()
        write_bytes(weights_path(path), raw)
    write_atomically(path, lambda stream: json.dump(result.to_json(), stream), binary=False)


def _weights_bytes(path: Path, result: RunResult) -> bytes:
    """The bytes of the weights beside the result at ``path``, checked against its recorded SHA-256 if any."""
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


def load_run(path: str | os.PathLike) -> RunResult:
    """A result file with its final weights in ``state`` (``fc1.weight [N, M]``, ...), both checked.

    Args:
        path: a result's JSON file (its weights lie beside it, ``<result>.pt``).

    Raises:
        ResultError: (a ``ValueError``) naming the file, when the result or its weights are missing or damaged.
    """
    path = Path(path)
    try:
        result = RunResult.from_json(json.loads(path.read_text()))
    except FileNotFoundError:
        raise ResultError(f"result file {path} does not exist") from None
    except Exception as error:
        raise ResultError(f"result file {path} cannot be read ({type(error).__name__}: {error})") from None
    try:
        result.state = _read_weights(path, result)
    except ResultError as error:
        raise ResultError(f"result file {path}: {error}") from None
    return result


def model_of(result: RunResult, path: str | os.PathLike):
    """The trained network of a loaded run (``load_run``), with its neuron settings and final weights.

    Args:
        result: the run, with its ``state``; path: its result file, named in errors.

    Returns:
        An ``SNN`` in eval mode: inputs ``[T, B, M]`` to output spikes ``[T, B, C]``.

    Raises:
        ResultError: its weights do not fit its network.
    """
    from labsnn.model import SNN

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
    try:
        model.stack.load_state_dict({name: tensor.unsqueeze(0) for name, tensor in result.state.items()})
    except RuntimeError as error:  # weights of another network's shape
        raise ResultError(
            f"result file {path}: its weights do not fit its network ({str(error).splitlines()[0]})"
        ) from None
    return model.eval()


def load_model(path: str | os.PathLike):
    """The trained network of a result file, with the run's neuron settings and its final weights (no retraining).

    Args:
        path: a result's JSON file (its weights lie beside it, ``<result>.pt``).

    Returns:
        An ``SNN`` in eval mode: inputs ``[T, B, M]`` to output spikes ``[T, B, C]``.

    Raises:
        ResultError: (a ``ValueError``) naming the file, when the result or its weights are missing, damaged, or do
            not fit its network.
    """
    return model_of(load_run(path), path)


def run_lock(path: Path) -> FileLock:
    """Returns the lock of the run whose result file is ``path`` (``.<stem>.lock`` beside it), not yet held.

    It is held while the run trains and is written, so that sweeps sharing a results folder train each run
    once. The operating system releases it when its process dies, so a killed sweep leaves no stale lock.
    """
    return FileLock(path.parent / f".{path.stem}.lock")


def remove_stale_temporaries(results_dir: Path) -> int:
    """Deletes the temporary files that interrupted writes left in ``results_dir``; returns how many.

    Args:
        results_dir: the results folder; a temporary whose run's lock another process holds is kept.
    """
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
    """The cached result at ``path``, or None (to recompute it) when it is missing or unusable.

    Args:
        path: the result file (``result_path``).
        config: the run it must hold, with all of its epochs unless it diverged.
        report: log why a file that exists is unusable (unreadable, another config, too few epochs, bad weights).
    """
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
