"""Executing the section notebooks for the report, with papermill, side by side."""

from __future__ import annotations

import tempfile
from concurrent.futures import ThreadPoolExecutor, as_completed
from pathlib import Path

from labsnn.lab.preflight import notebook_paths
from labsnn.log import log

LONGEST_NOTEBOOK = "4.4_training_setup"  # started first, so that the others fill the second worker
NOTEBOOK_WORKERS = 2  # notebook kernels at once: each is one mostly single-threaded process


def run_notebooks(parameters: dict, out_dir: Path) -> None:
    """Executes each section notebook with papermill into ``out_dir``, with ``parameters``.

    The notebooks only read the result cache, so they run side by side (``NOTEBOOK_WORKERS``
    kernels), the longest first; the first to fail stops the others from starting and is raised.
    """
    import papermill  # imported here: an up-to-date rerun needs them not
    from jupyter_client.manager import KernelManager

    out_dir.mkdir(parents=True, exist_ok=True)

    def execute(source: Path) -> None:
        # local sockets in a private folder: over TCP every kernel warns that it is unencrypted
        with tempfile.TemporaryDirectory(prefix="labsnn-kernel-") as sockets:
            kernel = KernelManager(kernel_name="python3", transport="ipc", ip=str(Path(sockets) / "kernel"))
            try:
                papermill.execute_notebook(
                    str(source),
                    str(out_dir / source.name),
                    parameters=parameters,
                    cwd=str(source.parent),
                    progress_bar=False,
                    kernel_name="python3",
                    km=kernel,
                )
            finally:
                if kernel.has_kernel:  # papermill shuts down only the kernels it started
                    kernel.shutdown_kernel()
        log.info(f"executed {source.name}")

    sources = sorted(notebook_paths(), key=lambda path: path.stem != LONGEST_NOTEBOOK)
    with ThreadPoolExecutor(max_workers=NOTEBOOK_WORKERS) as pool:
        futures = [pool.submit(execute, source) for source in sources]
        for future in as_completed(futures):
            if future.exception() is not None:
                for other in futures:
                    other.cancel()
                raise future.exception()
