"""The validation rules labsnn applies to numbers, sizes and names, each written once."""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any, TypeVar

T = TypeVar("T")


def is_finite_number(value: Any) -> bool:
    """Whether ``value`` is an int or float (not a bool) that is neither NaN nor infinite.

    Args:
        value: anything.

    Returns:
        True for a finite int or float.
    """
    return isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)


def is_integer(value: Any, minimum: int) -> bool:
    """Whether ``value`` is an int (not a bool) of at least ``minimum``.

    Args:
        value: anything.
        minimum: the smallest value allowed.

    Returns:
        True for such an int.
    """
    return isinstance(value, int) and not isinstance(value, bool) and value >= minimum


def check_steps(T: Any) -> None:
    """Checks a number of time steps.

    Args:
        T: time steps; must be an integer >= 1.

    Raises:
        ValueError: ``T`` is not an integer >= 1.
    """
    if not is_integer(T, 1):
        raise ValueError(f"T must be an integer >= 1, got {T!r}")


def check_sizes(sizes: Sequence[int]) -> tuple[int, ...]:
    """Checks layer sizes (inputs first, e.g. 784-10-10).

    Args:
        sizes: a tuple or list of two or more positive integers.

    Returns:
        ``sizes`` as a tuple.

    Raises:
        ValueError: ``sizes`` is not a tuple or list of two or more positive integers.
    """
    if not isinstance(sizes, (tuple, list)) or len(sizes) < 2 or not all(is_integer(n, 1) for n in sizes):
        raise ValueError(f"sizes must be two or more positive integers, got {sizes!r}")
    return tuple(sizes)


def lookup(kind: str, table: Mapping[str, T], name: str) -> T:
    """Looks a name up in a table of choices.

    Args:
        kind: what the name chooses (e.g. ``encoder``), for the error message.
        table: the choices by name.
        name: the name asked for.

    Returns:
        ``table[name]``.

    Raises:
        ValueError: an unknown (or unhashable) name; the message names ``kind`` and the choices.
    """
    try:
        return table[name]
    except (KeyError, TypeError):
        raise ValueError(f"{kind} must be one of {', '.join(sorted(table))}, got {name!r}") from None


#: ``workers`` meaning as many worker processes as torch has threads.
AUTO_WORKERS = "auto"


def check_workers(workers: Any) -> int | str:
    """Returns ``workers`` checked: an integer >= 1 (a digit string too), or ``"auto"``.

    Raises:
        ValueError: anything else, in one line.
    """
    if workers == AUTO_WORKERS or is_integer(workers, 1):
        return workers
    if isinstance(workers, str) and workers.isdigit() and int(workers) >= 1:
        return int(workers)
    raise ValueError(f"workers must be an integer >= 1 or {AUTO_WORKERS!r}, got {workers!r}")
