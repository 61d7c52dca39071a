"""The configuration of one training run: the lab's defaults, validated when built.

``RunConfig`` is the single source of truth: the command line and the notebooks build it
from their parameters, and ``config_hash`` keys the result cache.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import math
from dataclasses import dataclass, fields
from typing import Any

from labsnn.encoders import ENCODERS
from labsnn.losses import LOSSES
from labsnn.model import LAB_SIZES

#: Fields that neither change a run's numbers' meaning nor key the cache.
EXECUTION_FIELDS = frozenset({"device"})
#: Fields in which runs may differ and still train together as one stacked model.
STACKABLE_FIELDS = frozenset({"z", "beta", "v_th", "loss"})
DEVICES = ("auto", "cpu", "cuda")


def _int_rule(minimum: int):
    def check(value: Any) -> bool:
        return isinstance(value, int) and not isinstance(value, bool) and value >= minimum

    return check, f"an integer >= {minimum}"


def _float_rule(minimum: float, strict: bool):
    def check(value: Any) -> bool:
        if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
            return False
        return value > minimum if strict else value >= minimum

    return check, f"a finite number {'>' if strict else '>='} {minimum:g}"


@dataclass(frozen=True)
class RunConfig:
    """One run of the lab's network. Defaults are the seed report's best values.

    z: surrogate slope; beta: membrane decay; v_th: threshold; T: time steps;
    encoder: ``repeat`` | ``threshold`` | ``bernoulli``; threshold: pixel threshold of the
    ``threshold`` encoder; loss: ``mse_rate`` | ``cross_entropy_rate``; sizes: layer
    sizes; batch_size, lr (Adam), epochs; seed: initialisation, data order and input
    spikes; n_train / n_test: stratified subset sizes (None: all); device: ``auto``
    (CUDA when present), ``cpu`` or ``cuda``.
    """

    z: float = 2.0
    beta: float = 0.1
    v_th: float = 1.0
    T: int = 25
    encoder: str = "bernoulli"
    threshold: float = 0.5
    loss: str = "mse_rate"
    sizes: tuple[int, ...] = LAB_SIZES
    batch_size: int = 128
    lr: float = 1e-3
    epochs: int = 5
    seed: int = 0
    n_train: int | None = None
    n_test: int | None = None
    device: str = "auto"

    def __post_init__(self) -> None:
        rules = {
            "z": _float_rule(0, strict=True),
            "beta": _float_rule(0, strict=False),
            "v_th": _float_rule(0, strict=True),
            "T": _int_rule(1),
            "threshold": _float_rule(0, strict=False),
            "batch_size": _int_rule(1),
            "lr": _float_rule(0, strict=True),
            "epochs": _int_rule(1),
            "seed": _int_rule(0),
        }
        for name, (check, rule) in rules.items():
            value = getattr(self, name)
            if not check(value):
                raise ValueError(f"{name} must be {rule}, got {value!r}")
            if rule.startswith("a finite"):
                object.__setattr__(self, name, float(value))
        for name in ("n_train", "n_test"):
            value = getattr(self, name)
            if value is not None and not _int_rule(1)[0](value):
                raise ValueError(f"{name} must be None (all) or an integer >= 1, got {value!r}")
        choices = {"encoder": ENCODERS, "loss": LOSSES, "device": DEVICES}
        for name, table in choices.items():
            value = getattr(self, name)
            if value not in table:
                raise ValueError(f"{name} must be one of {', '.join(sorted(table))}, got {value!r}")
        sizes = self.sizes
        if (
            not isinstance(sizes, (tuple, list))
            or len(sizes) < 2
            or any(isinstance(n, bool) or not isinstance(n, int) or n < 1 for n in sizes)
        ):
            raise ValueError(f"sizes must be two or more positive integers, got {sizes!r}")
        object.__setattr__(self, "sizes", tuple(sizes))

    def replace(self, **changes: Any) -> "RunConfig":
        """A copy with ``changes`` applied (and validated)."""
        unknown = set(changes) - {f.name for f in fields(self)}
        if unknown:
            raise ValueError(f"unknown config field(s): {', '.join(sorted(unknown))}")
        return dataclasses.replace(self, **changes)

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, values: dict[str, Any]) -> "RunConfig":
        known = {f.name for f in fields(cls)}
        return cls(**{k: (tuple(v) if k == "sizes" else v) for k, v in values.items() if k in known})

    @property
    def config_hash(self) -> str:
        """Stable 16-hex-digit hash of every field that defines the run (not ``device``)."""
        keyed = {k: v for k, v in self.to_dict().items() if k not in EXECUTION_FIELDS}
        text = json.dumps(keyed, sort_keys=True, default=list)
        return hashlib.sha256(text.encode()).hexdigest()[:16]

    def stack_key(self) -> tuple:
        """Runs with equal keys share their input and can train as one stacked model."""
        return tuple((k, v) for k, v in self.to_dict().items() if k not in STACKABLE_FIELDS)


def field_names() -> list[str]:
    return [f.name for f in fields(RunConfig)]
