"""The command line's options: one per ``RunConfig`` field, the scheduler's, and their text parsed into a config.

Each field's option takes its help and default from the field (``describe_fields``).
"""

from __future__ import annotations

import argparse
import dataclasses
import typing
from typing import Any

from labsnn.running.config import RunConfig, describe_fields
from labsnn.validation import AUTO_WORKERS


def _field_type(name: str) -> Any:
    """The field's type, ``None`` taken out of an optional one (``int | None`` is ``int``)."""
    hint = typing.get_type_hints(RunConfig)[name]
    if typing.get_origin(hint) is tuple:
        return tuple
    args = [a for a in typing.get_args(hint) if a is not type(None)]
    return args[0] if args else hint


def convert(name: str, text: str) -> Any:
    """Parses an option's text as a value of a config field.

    Args:
        name, text: the ``RunConfig`` field; its text (sizes written ``784-20-10``).

    Returns:
        A tuple of ints for sizes, an int, a float, or the text itself, by the field's type.

    Raises:
        ValueError: text that is not of the field's type, naming the field.
    """
    kind = _field_type(name)
    try:
        if kind is tuple:
            return tuple(int(part) for part in text.split("-"))
        if kind is int:
            return int(text)
        if kind is float:
            return float(text)
        return text
    except ValueError:
        if kind is tuple:
            raise ValueError(
                f"{name} must be two or more positive integers joined by '-', e.g. 784-20-10, got {text!r}"
            ) from None
        raise ValueError(f"{name} must be {'an integer' if kind is int else 'a number'}, got {text!r}") from None


def add_config_options(parser: argparse.ArgumentParser) -> None:
    """Adds an option per ``RunConfig`` field (``--name``, also ``--dashed-name``), ``--data-root``, ``--no-progress``.

    Args:
        parser: the command's parser; each field's option defaults to None, so ``build_config`` sees what was given.
    """
    group = parser.add_argument_group("run configuration (defaults are the lab's)")
    helps = describe_fields()
    for field in dataclasses.fields(RunConfig):
        flags = [f"--{field.name}"] + ([f"--{field.name.replace('_', '-')}"] if "_" in field.name else [])
        default = field.default
        shown = "-".join(map(str, default)) if isinstance(default, tuple) else default
        group.add_argument(
            *flags,
            dest=field.name,
            metavar=field.name.upper(),
            default=None,
            help=helps[field.name] if "(default:" in helps[field.name] else f"{helps[field.name]} (default: {shown})",
        )
    parser.add_argument(
        "--data-root",
        default=None,
        help="folder with MNIST/raw/... (default: $LABSNN_DATA, ./data, download, packaged subset)",
    )
    parser.add_argument("--no-progress", action="store_true", help="hide progress bars")


def add_scheduler_option(parser: argparse.ArgumentParser) -> None:
    """Adds ``--scheduler`` and ``--scheduler-file``, which exclude each other, and ``--workers``.

    Args:
        parser: the command's parser.
    """
    where = parser.add_mutually_exclusive_group()
    where.add_argument(
        "--scheduler",
        default=None,
        metavar="ADDRESS",
        help="train each stack as a task on a Dask scheduler at ADDRESS, or local:N for N worker "
        "processes here (default: $LABSNN_SCHEDULER, else Dask's "
        "configured scheduler-address, else in-process)",
    )
    where.add_argument(
        "--scheduler-file",
        default=None,
        metavar="PATH",
        help="train on the Dask scheduler described by PATH (dask scheduler --scheduler-file PATH)",
    )
    add_workers_option(parser)


def add_workers_option(parser: argparse.ArgumentParser) -> None:
    """Adds ``--workers``: how many processes train stacks side by side.

    Args:
        parser: the command's parser.
    """
    parser.add_argument(
        "--workers",
        default=AUTO_WORKERS,
        metavar="N",
        help="without a scheduler: train stacks side by side in N processes of one thread each (the same numbers), "
        "1 in this process (default: auto, as many as torch's threads)",
    )


def build_config(args: argparse.Namespace) -> RunConfig:
    """Builds the run's config from the parsed options.

    Args:
        args: parsed options (``add_config_options``); fields not given keep the lab's defaults.

    Returns:
        The checked ``RunConfig``.

    Raises:
        ValueError: an option's text of the wrong type, or a value ``RunConfig`` rejects.
    """
    changes = {
        f.name: convert(f.name, getattr(args, f.name))
        for f in dataclasses.fields(RunConfig)
        if getattr(args, f.name) is not None
    }
    return RunConfig(**changes)
