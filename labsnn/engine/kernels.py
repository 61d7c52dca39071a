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

from labsnn.engine.kernel_build import (  # noqa: F401 (build's names, re-exported)
    FLAGS,
    HEADERS,
    SOURCES,
    CompileError,
    build,
    candidate_flags,
    compile_library,
    compiler_version,
    cpu_key,
    find_or_build,
    library_path,
    target_march,
)
from labsnn.log import log

_I64, _PTR = ctypes.c_int64, ctypes.c_void_p
_SIGNATURES = {
    "splitmix64_fill": (None, [ctypes.c_uint64, _I64, _I64, _PTR]),
    "pixel_levels": (_I64, [_PTR, _PTR, _I64, _I64, _PTR, _PTR, _PTR, _PTR, _PTR, ctypes.c_int]),
    "bernoulli_mask": (ctypes.c_int, [ctypes.c_uint64, _PTR, _I64, _I64, _PTR, _PTR, ctypes.c_int]),
    "lif_forward": (None, [_PTR, _PTR, _PTR, _I64, _I64, _I64, _I64, _PTR, _PTR]),
    "lif_backward": (None, [_PTR, _PTR, _PTR, _PTR, _PTR, _PTR, ctypes.c_int, _I64, _I64, _I64, _I64, _PTR]),
    "event_currents": (
        ctypes.c_int,
        [_PTR, _I64, _I64, _PTR, _I64, _PTR, _PTR, _I64, _PTR, _I64, _I64, _PTR, ctypes.c_int],
    ),
    "event_weight_grad": (
        ctypes.c_int,
        [_PTR, _I64, _I64, _PTR, _I64, _PTR, _PTR, _I64, _I64, _I64, _I64, _PTR, ctypes.c_int],
    ),
    "row_sums": (ctypes.c_int, [_PTR, _I64, _I64, _I64, _PTR, ctypes.c_int]),
    "dense_currents": (ctypes.c_int, [_PTR, _PTR, _PTR, _I64, _I64, _I64, _I64, _PTR, ctypes.c_int]),
    "dense_grads": (ctypes.c_int, [_PTR, _PTR, _PTR, _I64, _I64, _I64, _I64, _PTR, _PTR, ctypes.c_int]),
}
_state: dict[str, object] = {}


def _open(path: Path) -> ctypes.CDLL:
    """``path`` loaded, its functions given their C signatures; raises OSError or AttributeError."""
    library = ctypes.CDLL(str(path))
    for name, (result, arguments) in _SIGNATURES.items():
        function = getattr(library, name)
        function.restype, function.argtypes = result, arguments
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
