"""The compiled CPU loops of ``csrc/`` (``input.c``, ``layers.c``): built once per machine
with the system's C compiler into one library, loaded with ``ctypes``, called on
contiguous CPU tensors.

``load()`` returns the library, or None where it cannot be built (no compiler, a failed
build); then callers take their torch paths, and the first one says so once on stderr.
The build goes to ``$LABSNN_KERNEL_CACHE`` (default ``~/.cache/labsnn``), named by a hash
of the source, the flags and the CPU, written to a temporary file and renamed, so
processes that build at once do not collide. ``python -m labsnn kernels`` builds it (the
project's set-up runs this) and says where.

Flags: ``-O3 -march=native`` with ``-ffp-contract=off`` and no fast-math, so no float
operation is fused or reordered: results do not depend on the vector width.
"""

from __future__ import annotations

import ctypes
import hashlib
import os
import platform
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import torch
from torch import Tensor

SOURCES = sorted((Path(__file__).parent / "csrc").glob("*.c"))
HEADERS = sorted((Path(__file__).parent / "csrc").glob("*.h"))
FLAGS = ["-O3", "-march=native", "-ffp-contract=off", "-fno-math-errno", "-std=c11", "-shared", "-fPIC", "-fopenmp"]
# a compiler without OpenMP (Apple's clang) or without -march=native builds the same loops
# single-threaded or for the baseline instruction set: the same results, more slowly
_FALLBACK_FLAGS = [FLAGS, [f for f in FLAGS if f != "-fopenmp"], [f for f in FLAGS if f not in ("-fopenmp", "-march=native")]]
_I64, _PTR = ctypes.c_int64, ctypes.c_void_p
_SIGNATURES = {
    "splitmix64_fill": (None, [ctypes.c_uint64, _I64, _I64, _PTR]),
    "pixel_levels": (_I64, [_PTR, _PTR, _I64, _I64, _PTR, _PTR, _PTR, _PTR, _PTR, ctypes.c_int]),
    "bernoulli_mask": (ctypes.c_int, [ctypes.c_uint64, _PTR, _I64, _I64, _PTR, _PTR, ctypes.c_int]),
    "lif_forward": (None, [_PTR, _PTR, _PTR, _I64, _I64, _I64, _I64, _PTR, _PTR]),
    "lif_backward": (None, [_PTR, _PTR, _PTR, _PTR, _PTR, _PTR, ctypes.c_int, _I64, _I64, _I64, _I64, _PTR]),
    "event_currents": (ctypes.c_int, [_PTR, _I64, _I64, _PTR, _I64, _PTR, _PTR, _I64, _PTR, _I64, _I64, _PTR,
                                      ctypes.c_int]),
    "event_weight_grad": (ctypes.c_int, [_PTR, _I64, _I64, _PTR, _I64, _PTR, _PTR, _I64, _I64, _I64, _I64, _PTR,
                                         ctypes.c_int]),
    "row_sums": (ctypes.c_int, [_PTR, _I64, _I64, _I64, _PTR, ctypes.c_int]),
    "dense_currents": (ctypes.c_int, [_PTR, _PTR, _PTR, _I64, _I64, _I64, _I64, _PTR, ctypes.c_int]),
    "dense_grads": (ctypes.c_int, [_PTR, _PTR, _PTR, _I64, _I64, _I64, _I64, _PTR, _PTR, ctypes.c_int]),
}
_state: dict[str, object] = {}


def _cpu_tag() -> str:
    """What ``-march=native`` depends on: the CPU's model and flags (Linux), else its name."""
    try:
        info = Path("/proc/cpuinfo").read_text().splitlines()
        return "".join(sorted({line for line in info if line.startswith(("model name", "flags"))}))
    except OSError:
        return platform.processor() or platform.machine()


def library_path() -> Path:
    cache = Path(os.environ.get("LABSNN_KERNEL_CACHE", Path.home() / ".cache" / "labsnn"))
    code = b"".join(path.read_bytes() for path in (*SOURCES, *HEADERS))
    digest = hashlib.sha256(code + " ".join(FLAGS).encode() + _cpu_tag().encode()).hexdigest()[:16]
    return cache / f"labsnn_kernels_{digest}.so"


def build() -> Path:
    """Compile ``csrc/*.c`` (once; later calls find it); raises ``RuntimeError`` on failure."""
    target = library_path()
    if target.exists():
        return target
    compiler = os.environ.get("CC") or shutil.which("cc") or shutil.which("gcc")
    if compiler is None:
        raise RuntimeError("no C compiler found (cc or gcc; set CC to name one)")
    target.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=target.parent) as scratch:
        built = Path(scratch) / target.name
        for flags in _FALLBACK_FLAGS:
            done = subprocess.run([compiler, *flags, *map(str, SOURCES), "-o", str(built), "-lm"], capture_output=True,
                                  text=True)
            if done.returncode == 0:
                os.replace(built, target)
                return target
        raise RuntimeError(f"{compiler} failed: {done.stderr.strip()[-500:]}")


def load() -> ctypes.CDLL | None:
    """The built library, or None (said once on stderr) where it cannot be built."""
    if "library" not in _state:
        try:
            library = ctypes.CDLL(str(build()))
            for name, (result, arguments) in _SIGNATURES.items():
                function = getattr(library, name)
                function.restype, function.argtypes = result, arguments
            _state["library"] = library
        except (OSError, RuntimeError) as error:
            _state["library"] = None
            print(f"labsnn: compiled kernels unavailable ({error}); training runs its torch loops "
                  "(slower; the same results up to float rounding)", file=sys.stderr)
    return _state["library"]  # type: ignore[return-value]


def pointer(tensor: Tensor) -> int:
    """Address of a contiguous CPU tensor's data, for a kernel argument."""
    if tensor.device.type != "cpu" or not tensor.is_contiguous():
        raise ValueError("kernels need contiguous CPU tensors")
    return tensor.data_ptr()


LANES = 16  # event kernels' columns come in multiples of this (csrc/input.c)


def threads() -> int:
    """Threads a kernel may use: torch's intra-op count (``torch.set_num_threads``)."""
    return torch.get_num_threads()


def check(status: int, name: str) -> None:
    if status != 0:
        raise MemoryError(f"labsnn kernel {name}: out of memory")

