"""The configuration of one training run: the lab's defaults, validated when built.

``RunConfig`` is the single source of truth: the command line and the notebooks build it
from their parameters, its fields' ``metadata["help"]`` documents them (and is the
command line's help), and ``config_hash`` keys the result cache.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, fields
from typing import Any

from labsnn.names import (
    BACKENDS,
    DEVICES,
    ENCODERS,
    INPUT_SIZE,
    LAB_SIZES,
    LOSSES,
    MNIST_TEST,
    MNIST_TRAIN,
    N_CLASSES,
    OPTIMIZERS,
    SPIKE_TIMINGS,
    SURROGATES,
)
from labsnn.validation import check_sizes, is_finite_number, is_integer, lookup

#: Fields that neither change a run's numbers' meaning nor key the cache.
EXECUTION_FIELDS = frozenset({"device", "backend"})
#: Fields in which runs may differ and still train together as one stacked model.
STACKABLE_FIELDS = frozenset({"z", "beta", "v_th", "loss", "surrogate"})
#: Fields added after results were first cached: they key the cache only when not at
#: their default, so a run that does not use them keeps its hash.
KEYED_WHEN_CHANGED = frozenset({"optimizer", "momentum", "surrogate", "spike_timing"})


def _option(default: Any, help: str) -> Any:
    return field(default=default, metadata={"help": help})


@dataclass(frozen=True)
class RunConfig:
    """One run of the lab's network. Defaults are the lab's settings (the source report's best z,
    beta and V_th; T = 25, Bernoulli input, rate MSE, Adam 1e-3); each
    field's ``metadata["help"]`` says what it is (``describe_fields()`` lists them)."""

    z: float = _option(2.0, "surrogate slope z")
    beta: float = _option(0.1, "membrane decay beta (not clamped)")
    v_th: float = _option(1.0, "firing threshold V_th")
    T: int = _option(25, "time steps per image")
    encoder: str = _option("bernoulli", "input encoding: " + ", ".join(ENCODERS))
    threshold: float = _option(0.5, "pixel threshold of the threshold encoder")
    loss: str = _option("mse_rate", "loss on output spikes: " + ", ".join(LOSSES))
    sizes: tuple[int, ...] = _option(LAB_SIZES, "layer sizes, input first, e.g. 784-20-10")
    batch_size: int = _option(128, "training batch size")
    lr: float = _option(1e-3, "learning rate")
    epochs: int = _option(5, "training epochs")
    seed: int = _option(0, "seed of weights, data order and input spikes")
    n_train: int | None = _option(None, "stratified training subset size (default: all)")
    n_test: int | None = _option(None, "stratified test subset size (default: all)")
    device: str = _option("auto", "auto (CUDA when present), cpu or cuda")
    optimizer: str = _option("adam", "optimizer: " + ", ".join(OPTIMIZERS))
    momentum: float = _option(0.0, "SGD momentum (sgd only)")
    surrogate: str = _option(
        "fast_sigmoid", "surrogate gradient: fast_sigmoid 1/(1+z|x|)^2 or scaled_fast_sigmoid z/(1+z|x|)^2"
    )
    spike_timing: str = _option(
        "same_step", "same_step: a spike reads the membrane after it integrated I[t]; next_step: before"
    )
    backend: str = _option(
        "auto", "compiled (C kernels, CPU), torch, or auto: compiled where the kernels build, else torch"
    )

    def __post_init__(self) -> None:
        for name, (check, rule) in _RULES.items():
            value = getattr(self, name)
            if not check(value):
                raise ValueError(f"{name} must be {rule}, got {value!r}")
            if rule.startswith("a finite"):
                object.__setattr__(self, name, float(value))
        for name, choices in _CHOICES.items():
            lookup(name, dict.fromkeys(choices), getattr(self, name))
        object.__setattr__(self, "sizes", check_sizes(self.sizes))
        self._check_ranges()
        if self.spike_timing == "next_step" and self.T < 2:
            raise ValueError("spike_timing next_step needs T >= 2: at T = 1 no spike can be read, so nothing can learn")
        if self.momentum and self.optimizer != "sgd":
            raise ValueError(f"momentum applies to optimizer sgd only, got optimizer {self.optimizer!r}")

    def _check_ranges(self) -> None:
        """The rules that tie a run to MNIST and to the ranges its fields make sense in."""
        sizes = "-".join(map(str, self.sizes))
        if self.sizes[0] != INPUT_SIZE:
            raise ValueError(f"sizes must start with {INPUT_SIZE}, the pixels of an MNIST image, got {sizes}")
        if self.sizes[-1] != N_CLASSES:
            raise ValueError(f"sizes must end with {N_CLASSES}, one output per MNIST digit class, got {sizes}")
        for name, most, split in (("n_train", MNIST_TRAIN, "training"), ("n_test", MNIST_TEST, "test")):
            value = getattr(self, name)
            if value is not None and value > most:
                raise ValueError(f"{name} must be at most {most:,}, the images in MNIST's {split} set, got {value:,}")
        if self.encoder == "threshold" and self.threshold >= 1.0:
            raise ValueError(
                f"threshold must be below 1 (pixels lie in [0, 1]; none would exceed it), got {self.threshold:g}"
            )
        if self.backend == "compiled" and self.device == "cuda":
            raise ValueError("backend compiled runs on the CPU only: use device cpu, or backend torch or auto on cuda")
        if self.momentum >= 1.0:
            raise ValueError(
                f"momentum must be below 1 (at 1 or more SGD's steps grow without bound), got {self.momentum:g}"
            )
        if self.seed >= _MAX_SEED:
            raise ValueError(
                f"seed must be below 2**60 (it seeds torch generators with seed * 16 + stream), got {self.seed}"
            )

    def replace(self, **changes: Any) -> RunConfig:
        """A copy with ``changes`` applied (and validated)."""
        unknown = set(changes) - {f.name for f in fields(self)}
        if unknown:
            raise ValueError(f"unknown config field(s): {', '.join(sorted(unknown))}")
        return dataclasses.replace(self, **changes)

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, values: dict[str, Any]) -> RunConfig:
        known = {f.name for f in fields(cls)}
        return cls(**{k: (tuple(v) if k == "sizes" else v) for k, v in values.items() if k in known})

    @property
    def config_hash(self) -> str:
        """Stable 16-hex-digit hash of every field that defines the run: not the
        ``EXECUTION_FIELDS`` (device, backend: where and how it runs, recorded in the result
        instead), and the ``KEYED_WHEN_CHANGED`` fields only when not at their default."""
        defaults = RunConfig.__dataclass_fields__
        keyed = {
            k: v
            for k, v in self.to_dict().items()
            if k not in EXECUTION_FIELDS and not (k in KEYED_WHEN_CHANGED and v == defaults[k].default)
        }
        text = json.dumps(keyed, sort_keys=True, default=list)
        return hashlib.sha256(text.encode()).hexdigest()[:16]

    def stack_key(self) -> tuple:
        """Runs with equal keys share their input and can train as one stacked model."""
        return tuple((k, v) for k, v in self.to_dict().items() if k not in STACKABLE_FIELDS)


_MAX_SEED = 2**60


def _number(minimum: float, strict: bool) -> tuple[Callable[[Any], bool], str]:
    def check(value: Any) -> bool:
        return is_finite_number(value) and (value > minimum if strict else value >= minimum)

    return check, f"a finite number {'>' if strict else '>='} {minimum:g}"


def _integer(minimum: int, optional: bool = False) -> tuple[Callable[[Any], bool], str]:
    rule = f"an integer >= {minimum}"
    if optional:
        return (lambda value: value is None or is_integer(value, minimum)), f"None (all) or {rule}"
    return (lambda value: is_integer(value, minimum)), rule


_RULES = {
    "z": _number(0, strict=True),
    "beta": _number(0, strict=False),
    "v_th": _number(0, strict=True),
    "T": _integer(1),
    "threshold": _number(0, strict=False),
    "batch_size": _integer(1),
    "lr": _number(0, strict=True),
    "epochs": _integer(1),
    "seed": _integer(0),
    "n_train": _integer(1, optional=True),
    "n_test": _integer(1, optional=True),
    "momentum": _number(0, strict=False),
}
_CHOICES = {
    "encoder": ENCODERS,
    "loss": LOSSES,
    "device": DEVICES,
    "optimizer": OPTIMIZERS,
    "surrogate": SURROGATES,
    "backend": BACKENDS,
    "spike_timing": SPIKE_TIMINGS,
}


def field_names() -> list[str]:
    return [f.name for f in fields(RunConfig)]


def describe_fields() -> dict[str, str]:
    """Each field's help text, in declaration order."""
    return {f.name: f.metadata["help"] for f in fields(RunConfig)}


def describe_stack(group: Sequence[RunConfig]) -> str:
    """Names a stack by its size and the fields its first run changes from the defaults."""
    changes = [f"{k}={v}" for k, v in group[0].to_dict().items() if v != RunConfig.__dataclass_fields__[k].default]
    return f"{len(group)} run(s) from the stack of ({', '.join(changes) or 'the defaults'})"
