"""What made a result: labsnn's version and commit, torch, the CPU, the kernels' build,
the thread count and the device. Recorded once per result (``RunResult.environment``)
and printed in the report's run summary: near-tie verdicts can differ between CPUs."""

from __future__ import annotations

import functools
import platform
import subprocess
from pathlib import Path

from labsnn.running.paths import REPOSITORY


@functools.lru_cache(maxsize=1)
def commit() -> str:
    """``git describe --always --dirty`` of labsnn's checkout; ``unknown`` for an installed
    copy (the folder it runs in may be another repository)."""
    if REPOSITORY is None:
        return "unknown"
    try:
        done = subprocess.run(
            ["git", "-C", str(REPOSITORY), "describe", "--always", "--dirty"],
            capture_output=True,
            text=True,
            check=True,
            timeout=10,
        )
        return done.stdout.strip() or "unknown"
    except (OSError, subprocess.SubprocessError):
        return "unknown"


def cpu_model(cpuinfo: str | None = None) -> str:
    """The CPU's name: /proc/cpuinfo's ``model name`` (x86), else its ARM implementer and
    part, else what ``platform`` says."""
    if cpuinfo is None:
        try:
            cpuinfo = Path("/proc/cpuinfo").read_text()
        except OSError:
            cpuinfo = ""
    fields = {}
    for line in cpuinfo.splitlines():
        key, _, value = line.partition(":")
        fields.setdefault(key.strip(), value.strip())
    if fields.get("model name"):
        return fields["model name"]
    if fields.get("CPU implementer"):
        return f"ARM implementer {fields['CPU implementer']} part {fields.get('CPU part', '?')}"
    return platform.processor() or platform.machine() or "unknown"


def environment(device: str, backend: str = "") -> dict[str, str]:
    """This process's environment, as plain strings.

    Args:
        device: the device the run trained on (``cpu``, ``cuda``).
        backend: the backend it trained under (``compiled`` or ``torch``).

    Returns:
        ``labsnn``, ``commit``, ``python``, ``torch``, ``cpu``, ``machine``, ``threads``,
        ``device``, ``backend`` and the kernels' build (``kernels``: ``compiled`` or ``torch loops``,
        ``kernels_march``, ``kernels_flags``, ``kernels_compiler``).
    """
    import torch

    import labsnn
    from labsnn.engine import kernels

    unused = {"backend_build": "unused (torch backend)", "march": "-", "flags": "-", "compiler": "-"}
    build = kernels.build_info() if backend == "compiled" else unused  # a torch run builds no kernels
    return {
        "labsnn": labsnn.__version__,
        "commit": commit(),
        "python": platform.python_version(),
        "torch": torch.__version__,
        "cpu": cpu_model(),
        "machine": platform.machine(),
        "threads": str(torch.get_num_threads()),
        "device": device,
        "backend": backend,
        "kernels": build.get("backend_build", "unknown"),
        "kernels_march": build.get("march", "-"),
        "kernels_flags": build.get("flags", "-"),
        "kernels_compiler": build.get("compiler", "-"),
    }


def describe(env: dict[str, str]) -> str:
    """One line for a report: CPU, kernels' build, torch, threads, device."""
    if not env:
        return "not recorded (results made before labsnn recorded their environment)"
    kernels = env.get("kernels", "unknown")
    if env.get("backend") == "torch":
        kernels = "torch backend"
    elif kernels == "compiled":
        compiler = env.get("kernels_compiler", "?")
        compiler = compiler[compiler.find("(") + 1 : compiler.rfind(")")] if "(" in compiler else compiler
        kernels = f"compiled kernels (-march={env.get('kernels_march', '?')}, {compiler})"
    return (
        f"{env.get('cpu', '?')} ({env.get('machine', '?')}); {kernels}; torch {env.get('torch', '?')}; "
        f"{env.get('threads', '?')} thread(s); {env.get('device', '?')}; labsnn {env.get('labsnn', '?')} "
        f"at {env.get('commit', '?')}"
    )


def summarize(results) -> list[tuple[str, int]]:
    """The environments that made ``results`` (``RunResult`` or None), as ``(describe line,
    number of results)``, the most common first."""
    counts: dict[str, int] = {}
    for result in results:
        line = describe(result.environment if result is not None else {})
        counts[line] = counts.get(line, 0) + 1
    return sorted(counts.items(), key=lambda item: -item[1])
