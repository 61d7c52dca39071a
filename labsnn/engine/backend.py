"""Which implementation of the network's loops runs: one explicit choice per run.

``compiled``: the C kernels of ``labsnn.engine.kernels`` (CPU, float32); ``torch``: torch's own
operations, on any device; ``auto``: compiled where the kernels build and the run is on
the CPU, else torch. A run resolves its choice once (``resolve``) and hands the value to its
model and batch engine; everything that could take the compiled path asks
``kernels.runs_compiled(device, dtype, backend)``. The two give the same results up to float
rounding; each result records the backend that made it.
"""

from __future__ import annotations

from labsnn.engine import kernels
from labsnn.names import BACKENDS
from labsnn.validation import lookup


def resolve(name: str, device: str = "cpu") -> str:
    """The backend a run asking for ``name`` on ``device`` gets, ``compiled`` or ``torch``.

    Raises:
        ValueError: an unknown name, or ``compiled`` on a device other than the CPU.
        RuntimeError: ``compiled`` where the kernels cannot be built (one line saying why).
    """
    lookup("backend", dict.fromkeys(BACKENDS), name)
    if name == "torch":
        return "torch"
    on_cpu = device == "cpu"
    if name == "compiled" and not on_cpu:
        raise ValueError(f"backend compiled runs on the CPU only, not on {device}: use backend torch or auto")
    library = kernels.load() if on_cpu else None
    if library is not None:
        return "compiled"
    reason = kernels.build_info().get("reason") or "they are not usable here"
    if name == "compiled":
        raise RuntimeError(f"backend compiled: the kernels cannot be built or loaded ({reason})")
    if on_cpu:
        kernels.say_unavailable()
    return "torch"
