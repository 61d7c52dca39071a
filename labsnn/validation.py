"""The validation rules labsnn applies to numbers, sizes and names, each written once."""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any, TypeVar

T = TypeVar("T")


def is_finite_number(value: Any) -> bool:
    """True for an int or float (not a bool) that is neither NaN nor infinite."""
    return isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)


def is_integer(value: Any, minimum: int) -> bool:
    """True for an int (not a bool) of at least ``minimum``."""
    return isinstance(value, int) and not isinstance(value, bool) and value >= minimum


def check_steps(T: Any) -> None:
    """``T`` (time steps) an integer >= 1, else ``ValueError``."""
    if not is_integer(T, 1):
        raise ValueError(f"T must be an integer >= 1, got {T!r}")


def check_sizes(sizes: Sequence[int]) -> tuple[int, ...]:
    """``sizes`` as a tuple; two or more positive integers, else ``ValueError``."""
    if not isinstance(sizes, (tuple, list)) or len(sizes) < 2 or not all(is_integer(n, 1) for n in sizes):
        raise ValueError(f"sizes must be two or more positive integers, got {sizes!r}")
    return tuple(sizes)


def lookup(kind: str, table: Mapping[str, T], name: str) -> T:
    """``table[name]``; an unknown name is a ``ValueError`` naming ``kind`` and the choices."""
    try:
        return table[name]
    except (KeyError, TypeError):
        raise ValueError(f"{kind} must be one of {', '.join(sorted(table))}, got {name!r}") from None
