"""What the report needs from the machine it runs on: TeX for the PDF, and the peak
memory of the report's process tree."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import threading

import psutil

TEX_PACKAGES = ("texlive-xetex", "texlive-fonts-recommended", "texlive-plain-generic", "pandoc")
INSTALL_TEX = "apt-get update && apt-get install -y --no-install-recommends " + " ".join(TEX_PACKAGES)


def ensure_tex() -> None:
    """xelatex and pandoc for nbconvert's PDF: installed with apt-get where this process
    may (root on Debian), else a ``RuntimeError`` with the exact command to run."""
    if shutil.which("xelatex") and shutil.which("pandoc"):
        return
    if shutil.which("apt-get") and os.geteuid() == 0:
        print(f"labsnn: installing TeX for the PDF: {INSTALL_TEX}", file=sys.stderr)
        env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
        done = subprocess.run(["bash", "-c", INSTALL_TEX], env=env)
        if done.returncode == 0 and shutil.which("xelatex") and shutil.which("pandoc"):
            return
    raise RuntimeError(f"the PDF needs xelatex and pandoc; install them with: sudo {INSTALL_TEX}")


def tree_rss_bytes(root: int) -> int | None:
    """Resident memory of process ``root`` and all its descendants together (``psutil``);
    None when ``root`` is gone. Shared pages count once per process, so it errs high."""
    try:
        process = psutil.Process(root)
        tree = [process, *process.children(recursive=True)]
    except psutil.Error:
        return None
    total, found = 0, False
    for member in tree:
        try:
            total += member.memory_info().rss
            found = True
        except psutil.Error:
            continue  # the process ended while we looked
    return total if found else None


class PeakMemory:
    """Peak resident memory of this process and its children together (notebook kernels,
    TeX), sampled every ``interval`` seconds in a thread while the ``with`` block runs.

    ``getrusage`` cannot give this: a child started from a large process reports that
    process's size as its own peak (Linux carries it over the ``exec``).
    """

    def __init__(self, interval: float = 0.5) -> None:
        self.interval = interval
        self.peak_bytes: int | None = None
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def sample(self) -> None:
        now = tree_rss_bytes(os.getpid())
        if now is not None:
            self.peak_bytes = max(self.peak_bytes or 0, now)

    def _run(self) -> None:
        while not self._stop.wait(self.interval):
            self.sample()

    def __enter__(self) -> "PeakMemory":
        self.sample()
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()
        self.sample()

    def __str__(self) -> str:
        return "not measured" if self.peak_bytes is None else f"{self.peak_bytes / 2**30:.2f} GB"
