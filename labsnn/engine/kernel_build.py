"""Building the compiled kernels: the compiler, the flags, and a cache key that names the
CPU and the build (``labsnn.engine.kernels`` loads what this builds).

The build goes to ``$LABSNN_KERNEL_CACHE`` (default ``~/.cache/labsnn``), named by a hash of
the sources, flags, compiler and (for ``native``) CPU, written to a temporary file and
renamed, so processes that build at once do not collide. Flags: ``-O3
-march=$LABSNN_MARCH`` (default ``native``) with ``-ffp-contract=off`` and no fast-math, so
no float operation is fused or reordered: results do not depend on the vector width. A
compiler that refuses OpenMP or the target builds the same loops without them, cached under
those flags' name; ``<name>.failed`` records the refusal, so it is not retried every process.
"""

from __future__ import annotations

import hashlib
import json
import os
import platform
import re
import shlex
import shutil
import subprocess
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

SOURCES = sorted((Path(__file__).parent / "csrc").glob("*.c"))
HEADERS = sorted((Path(__file__).parent / "csrc").glob("*.h"))
FLAGS = ["-O3", "-march=native", "-ffp-contract=off", "-fno-math-errno", "-std=c11", "-shared", "-fPIC", "-fopenmp"]
_MARCH = re.compile(r"[A-Za-z0-9._-]+")
# /proc/cpuinfo lines naming what -march=native compiles for: x86, then ARM Linux (which has no flags line)
_CPU_FIELDS = ("model name", "flags", "Features", "CPU implementer", "CPU part", "CPU architecture", "CPU variant")


class CompileError(RuntimeError):
    """The compiler ran and refused the flags or the sources."""


def target_march() -> str:
    """The ``-march=`` target of the build: ``$LABSNN_MARCH``, unset or empty meaning ``native``.

    Returns: the value, e.g. ``native``, ``x86-64-v3``. Raises: ValueError where it is not a plain
    name (letters, digits, ``.``, ``_``, ``-``).
    """
    value = os.environ.get("LABSNN_MARCH") or "native"
    if not _MARCH.fullmatch(value):
        raise ValueError(
            f"LABSNN_MARCH={value!r} is not a -march target (letters, digits, '.', '_', '-'; e.g. native, x86-64-v3)"
        )
    return value


def candidate_flags(march: str) -> list[list[str]]:
    """The flags to try, preferred first: all of them, then without OpenMP, then without ``-march`` too."""
    full = [f"-march={march}" if flag == "-march=native" else flag for flag in FLAGS]
    without_openmp = [flag for flag in full if flag != "-fopenmp"]
    return [full, without_openmp, [flag for flag in without_openmp if not flag.startswith("-march=")]]


def cpu_key(cpuinfo: str | None = None) -> str:
    """What ``-march=native`` compiles for: the CPU's model and instruction sets, and the machine.

    Parameters: cpuinfo: the text of ``/proc/cpuinfo``; None reads it.
    Returns: its ``model name``, ``flags`` (x86), ``Features``, ``CPU implementer/part/architecture/
    variant`` (ARM Linux) lines, each distinct line once (one CPU's worth where cores are alike),
    then ``platform.machine()``; with none of them (or no file), ``platform.processor()`` instead.
    """
    if cpuinfo is None:
        try:
            cpuinfo = Path("/proc/cpuinfo").read_text()
        except OSError:
            cpuinfo = ""
    seen: dict[str, set[str]] = {}
    for line in cpuinfo.splitlines():
        name, _, value = line.partition(":")
        seen.setdefault(name.strip(), set()).add(" ".join(value.split()))
    lines = [f"{name}: {value}" for name in _CPU_FIELDS for value in sorted(seen.get(name, ()))]
    return "\n".join(lines or [f"processor: {platform.processor()}"]) + f"\nmachine: {platform.machine()}"


def compiler_version(command: str) -> str:
    """The first line of ``command --version``.

    Parameters: command: the compiler, a path or a name on the PATH. Raises: RuntimeError where it
    does not run or says nothing.
    """
    try:
        done = subprocess.run(
            [*shlex.split(command), "--version"], check=False, capture_output=True, text=True, timeout=120
        )
    except (OSError, subprocess.SubprocessError) as error:
        raise RuntimeError(f"the C compiler {command} does not run: {error}") from error
    lines = (done.stdout or done.stderr).strip().splitlines()
    if done.returncode != 0 or not lines:
        raise RuntimeError(f"{command} --version failed (exit {done.returncode})")
    return lines[0].strip()


def _compiler() -> tuple[str, str]:
    """The C compiler: ``$CC``, else ``cc`` or ``gcc`` on the PATH.

    Returns: the command to run (as named: a ccache link must keep its name) and its description
    (resolved path, version line). Raises: RuntimeError where there is none or it does not run.
    """
    command = os.environ.get("CC") or shutil.which("cc") or shutil.which("gcc")
    if command is None:
        raise RuntimeError("no C compiler found (cc or gcc; set CC to name one)")
    program = shlex.split(command)[-1]  # CC may be a launcher and a compiler, e.g. "ccache gcc"
    return command, f"{os.path.realpath(shutil.which(program) or program)} ({compiler_version(command)})"


def library_path(flags: list[str] | None = None, compiler: str | None = None) -> Path:
    """Where the library built with ``flags`` by ``compiler`` is cached.

    Parameters: flags: default the preferred ones; compiler: its path and version line, default
    those of ``$CC`` (or cc, gcc). Returns: ``$LABSNN_KERNEL_CACHE/labsnn_kernels_<hash>.so``, the
    hash of the sources and headers, compiler, flags and, for ``-march=native``, ``cpu_key()``.
    """
    flags = candidate_flags(target_march())[0] if flags is None else flags
    compiler = _compiler()[1] if compiler is None else compiler
    cache = Path(os.environ.get("LABSNN_KERNEL_CACHE") or Path.home() / ".cache" / "labsnn")
    cpu = cpu_key() if "-march=native" in flags else ""
    code = b"".join(path.read_bytes() for path in (*SOURCES, *HEADERS))
    digest = hashlib.sha256(code + json.dumps([compiler, flags, cpu]).encode()).hexdigest()[:16]
    return cache / f"labsnn_kernels_{digest}.so"


def compile_library(command: str, flags: list[str], target: Path, opener: Callable[[Path], Any] | None = None) -> Any:
    """Compile the sources into a temporary file beside ``target``, then rename it to ``target``.

    Parameters: opener: called on the temporary file before the rename (a load that fails keeps
    the old file); its result is returned. Raises: CompileError where the compiler refuses; OSError.
    """
    target.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=target.parent, prefix=".build-") as scratch:
        built = Path(scratch) / target.name
        done = subprocess.run(
            [*shlex.split(command), *flags, *map(str, SOURCES), "-o", str(built), "-lm"],
            check=False,
            capture_output=True,
            text=True,
        )
        if done.returncode != 0:
            error_type = CompileError if done.returncode > 0 else RuntimeError  # a signal is no verdict on flags
            raise error_type(f"{command} {' '.join(flags)} failed: {done.stderr.strip()[-500:]}")
        opened = opener(built) if opener else None
        os.replace(built, target)
        return opened


def find_or_build() -> tuple[Path, list[str], str, str]:
    """Find or compile the library, with the preferred flags where the compiler takes them.

    Returns: its path, the flags that built it, the compiler's command and description. Raises:
    RuntimeError where no flags build.
    """
    march, (command, compiler) = target_march(), _compiler()
    error = ""
    for flags in candidate_flags(march):
        target = library_path(flags, compiler)
        refused = target.with_name(target.name + ".failed")  # keyed by the compiler: a new one retries
        if target.exists():
            return target, flags, command, compiler
        if refused.exists():
            error = refused.read_text()
            continue
        try:
            compile_library(command, flags, target)
        except CompileError as failure:
            error = str(failure)
            refused.write_text(error)
            continue
        target.with_suffix(".json").write_text(json.dumps({"flags": " ".join(flags), "compiler": compiler}) + "\n")
        return target, flags, command, compiler
    raise RuntimeError(error)


def build() -> Path:
    """Compile ``csrc/*.c`` (once; later calls find it) and return its path.

    Raises: RuntimeError where it cannot be built; ValueError for a bad ``$LABSNN_MARCH``.
    """
    return find_or_build()[0]
