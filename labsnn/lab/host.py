"""What the report needs from the machine it runs on: TeX for the PDF, and the peak memory of its process tree."""

from __future__ import annotations

import os
import shutil
import threading

import psutil

TEX_PACKAGES = ("texlive-xetex", "texlive-fonts-recommended", "texlive-plain-generic", "pandoc")


def missing_tex() -> str | None:
    """Says what the PDF lacks of xelatex and pandoc (nbconvert's PDF), looking on PATH; installs nothing.

    Returns:
        None when both are there, else one line naming what is missing and what to install (``make tex`` and
        ``make report`` install it as root on Debian; see the README).
    """
    missing = [tool for tool in ("xelatex", "pandoc") if shutil.which(tool) is None]
    if not missing:
        return None
    return (
        f"the PDF needs {' and '.join(missing)}, not found on PATH: run `make tex` as root on Debian, "
        f"or install them yourself (sudo apt-get install {' '.join(TEX_PACKAGES)})"
    )


def tree_rss_bytes(root: int) -> int | None:
    """Returns the resident memory of a process and all its descendants together (``psutil``).

    Args:
        root: the process id.

    Returns:
        Bytes, or None when ``root`` is gone. Shared pages count once per process, so it errs high.
    """
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
    """Peak resident memory of this process and its children together (notebook kernels, TeX), as a ``with`` block.

    A thread samples it while the block runs. ``getrusage`` cannot give this: a child started from a large process
    reports that process's size as its own peak (Linux carries it over the ``exec``).

    Args:
        interval: seconds between samples.

    Attributes:
        peak_bytes: the largest sample so far, or None before one succeeds; ``str()`` shows it in GB.
    """

    def __init__(self, interval: float = 0.5) -> None:
        self.interval = interval
        self.peak_bytes: int | None = None
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def sample(self) -> None:
        """Takes one sample, raising ``peak_bytes`` if it is higher."""
        now = tree_rss_bytes(os.getpid())
        if now is not None:
            self.peak_bytes = max(self.peak_bytes or 0, now)

    def _run(self) -> None:
        """Samples every ``interval`` seconds until the block ends."""
        while not self._stop.wait(self.interval):
            self.sample()

    def __enter__(self) -> PeakMemory:
        self.sample()
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()
        self.sample()

    def __str__(self) -> str:
        return "not measured" if self.peak_bytes is None else f"{self.peak_bytes / 2**30:.2f} GB"
