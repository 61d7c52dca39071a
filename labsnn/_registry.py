"""Name lookup shared by the encoders and losses."""

from __future__ import annotations

from typing import Mapping, TypeVar

T = TypeVar("T")


def lookup(kind: str, table: Mapping[str, T], name: str) -> T:
    """Return ``table[name]``; an unknown name is a ``ValueError`` listing the choices."""
    try:
        return table[name]
    except (KeyError, TypeError):
        raise ValueError(f"unknown {kind} {name!r}; choose one of: {', '.join(sorted(table))}") from None
