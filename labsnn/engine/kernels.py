"""The compiled CPU loops of ``csrc/`` (``input.c``, ``layers.c``), loaded with ``ctypes``
and called on contiguous CPU tensors; ``labsnn.engine.kernel_build`` builds them, once per
machine (``python -m labsnn kernels``: the project's set-up runs this).

``load()`` returns the library, or None where it cannot be built or loaded: callers then
take their torch paths, and the first says why, once, on the ``labsnn`` logger. A cached
library that does not load is rebuilt once. ``build_info()`` says which runs and how it
was built.
"""

from __future__ import annotations

import ctypes
from pathlib import Path

import torch

from labsnn.engine.kernel_build import compile_library, find_or_build, target_march
from labsnn.log import log

_state: dict[str, object] = {}
#: Each C function's ctypes signature, declared by ``c_function`` beside the operator that calls it.
_SIGNATURES: dict[str, tuple[type | None, list[type]]] = {}


def _bind(library: ctypes.CDLL, name: str):
    """``library``'s function ``name`` with its declared signature; AttributeError where it has none."""
    function = getattr(library, name)
    function.restype, function.argtypes = _SIGNATURES[name]
    return function


def _open(path: Path) -> ctypes.CDLL:
    """``path`` loaded, every declared function found; raises OSError or AttributeError (not the kernels' library)."""
    library = ctypes.CDLL(str(path))
    for name in _SIGNATURES:
        _bind(library, name)
    return library


def _load() -> tuple[ctypes.CDLL, dict[str, str]]:
    """The library, built and loaded (a file that does not load is rebuilt once), and its build info."""
    path, flags, command, compiler = find_or_build()
    try:
        library = _open(path)
    except (OSError, AttributeError) as error:
        log.warning("%s does not load (%s); rebuilding it", path, error)
        try:  # loaded from the fresh file: the same path may still name the old one in this process
            library = compile_library(command, flags, path, _open)
        except (OSError, AttributeError, RuntimeError) as again:
            raise RuntimeError(f"{path.name} does not load ({error}), nor rebuilt ({again})") from again
    march = next((flag.split("=", 1)[1] for flag in flags if flag.startswith("-march=")), "compiler default")
    return library, {
        "backend_build": "compiled",
        "march": march,
        "flags": " ".join(flags),
        "compiler": compiler,
        "library": path.name,
        "reason": "",
    }


def load() -> ctypes.CDLL | None:
    """The built library, loaded once per process; None where it cannot be built or loaded
    (``build_info()["reason"]`` says why; ``labsnn.engine.backend`` tells the user).

    Raises: ValueError for a bad ``$LABSNN_MARCH`` (a setting to mend, not a reason for torch loops).
    """
    if "library" not in _state:
        try:
            library, info = _load()
        except (OSError, RuntimeError) as error:
            library, info = (
                None,
                {
                    "backend_build": "torch loops",
                    "march": target_march(),
                    "flags": "",
                    "compiler": "",
                    "library": "",
                    "reason": str(error),
                },
            )
        _state.update(library=library, info=info)
    return _state["library"]  # type: ignore[return-value]


def library() -> ctypes.CDLL:
    """The built library (the ``labsnn`` operators' CPU loops).

    Raises: RuntimeError (one line, saying why) where it cannot be built or loaded.
    """
    found = load()
    if found is None:
        raise RuntimeError(f"the compiled kernels are not available here ({build_info()['reason']})")
    return found  # type: ignore[return-value]


def c_function(name: str, result: type | None, arguments: list[type]):
    """The library's C function ``name`` with its signature (``csrc/kernels.h``), loaded on its first call.

    Args:
        name: the C function; result, arguments: its ctypes return and argument types.

    Returns:
        A callable that passes its arguments to the C function and returns its result.
    """

    _SIGNATURES[name] = (result, arguments)

    def call(*args):
        bound = _state.setdefault("bound", {})
        function = bound.get(name)
        if function is None:
            function = bound[name] = _bind(library(), name)
        return function(*args)

    call.__name__ = name
    return call


def runs_compiled(device: torch.device, dtype: torch.dtype = torch.float32, backend: str = "auto") -> bool:
    """Whether the compiled loops run on ``device`` in ``dtype`` under ``backend`` (``auto``, ``compiled``: where
    they load; ``torch``: never): the one question the model's passes, the encoder and the batch engine ask."""
    return backend != "torch" and device.type == "cpu" and dtype == torch.float32 and load() is not None


def say_unavailable() -> None:
    """Say once per process, on the ``labsnn`` logger, why training runs its torch loops."""
    if not _state.get("said"):
        _state["said"] = True
        log.warning(
            "compiled kernels unavailable (%s); training runs its torch loops "
            "(slower; the same results up to float rounding)",
            build_info()["reason"],
        )


def build_info() -> dict[str, str]:
    """How this process's kernels were built, for results; loads them first (as ``load()``).

    Returns: plain strings under fixed keys: ``backend_build`` ("compiled" or "torch loops"),
    ``march`` (the target of the flags that built it), ``flags`` (those flags), ``compiler`` (its
    path and version line), ``library`` (the file's name) and ``reason`` (why torch loops, else "").
    """
    load()
    return dict(_state["info"])  # type: ignore[arg-type]


LANES = 16  # event kernels' columns come in multiples of this (csrc/input.c)


def threads() -> int:
    """Threads a kernel may use: torch's intra-op count (``torch.set_num_threads``)."""
    return torch.get_num_threads()


def check(status: int, name: str) -> None:
    if status != 0:
        raise MemoryError(f"labsnn kernel {name}: out of memory")
