"""Stacks side by side on this machine: worker processes of one torch thread each.

A training step of a small network is mostly torch's per-operation overhead, which one
thread runs; so stacks train faster on the cores one per process than one at a time on
all of them. Only stacks whose numbers do not depend on the thread count go to workers
(CPU runs on the compiled backend, whose sums run in a fixed order): each result is then
bit for bit the one in-process training gives. The others train in this process.

The data are saved once to a temporary file that every worker maps (one copy in the page
cache; not ``/dev/shm``, which a container may keep small), and the stacks go out largest
first, so that the last to finish are short. The results come back to this process, which writes each into the cache as
its stack finishes (``labsnn.running.sweep``).
"""

from __future__ import annotations

import multiprocessing
import pickle
import tempfile
from collections.abc import Callable, Sequence
from concurrent.futures import FIRST_COMPLETED, Future, ProcessPoolExecutor, wait
from concurrent.futures.process import BrokenProcessPool
from pathlib import Path
from typing import Any

import torch

from labsnn.engine import backend
from labsnn.log import log
from labsnn.running.config import RunConfig, describe_stack
from labsnn.running.data import MNISTData
from labsnn.running.results import RunResult
from labsnn.running.train import resolve_device, train_stack
from labsnn.validation import AUTO_WORKERS

_worker: dict[str, Any] = {}  # the data a worker process trains on, set by _start


def check_main_guard() -> None:
    """Stops a worker process that is re-running the script which starts the workers, in one line.

    A worker started by spawning imports the script that started it; without ``if __name__ == "__main__":``, that
    import reaches the training call again, which would wait for the run locks its parent holds, for ever.

    Raises:
        SystemExit: in such a worker (its one line on stderr, then the parent's own line names the stack).
    """
    if getattr(multiprocessing.current_process(), "_inheriting", False):  # set while a spawned child imports __main__
        raise SystemExit(
            "labsnn: training side by side (workers > 1) starts worker processes that import the calling script; "
            'put the script\'s code under `if __name__ == "__main__":`'
        )


def thread_invariant(group: Sequence[RunConfig]) -> bool:
    """Whether a stack's numbers are the same with any thread count: a CPU run on the compiled backend."""
    try:
        device = resolve_device(group[0].device).type
        return device == "cpu" and backend.resolve(group[0].backend, device) == "compiled"
    except (ValueError, RuntimeError):  # training the stack says so, where it is trained
        return False


def cost(group: Sequence[RunConfig]) -> float:
    """A stack's rough training time, for ordering only: images x epochs x steps x networks, each with a share that
    does not grow with it (a batch's overhead)."""
    base = group[0]
    images = base.n_train or 60_000
    return base.epochs * images * (125 + base.T) * (12 + len(group))


def split(groups: Sequence[Sequence[RunConfig]], workers: int | str) -> tuple[int, list, list]:
    """Returns ``(processes, stacks for them largest first, stacks for this process)``.

    Args:
        groups: the stacks to train; workers: as ``check_workers`` returns it (``auto``: torch's thread count).
    """
    wanted = torch.get_num_threads() if workers == AUTO_WORKERS else workers
    side, here = [], []
    for group in groups:
        (side if wanted > 1 and thread_invariant(group) else here).append(group)
    if len(side) < 2:
        return 1, [], list(groups)
    return min(wanted, len(side)), sorted(side, key=cost, reverse=True), here


def _start(path: str) -> None:
    torch.set_num_threads(1)
    # mapped, not read: the workers share one copy of the images in the page cache
    _worker["data"] = torch.load(path, mmap=True, weights_only=False)


def _train(group: list[RunConfig]) -> bytes:
    # pickled here: returned as they are, the weights would travel through /dev/shm (torch's reducers)
    return pickle.dumps(train_stack(group, _worker["data"], progress=False))


def train_in_processes(
    groups: Sequence[Sequence[RunConfig]],
    data: MNISTData,
    processes: int,
    on_result: Callable[[RunConfig, RunResult], None],
    progress: bool = True,
) -> None:
    """Trains each stack in one of ``processes`` workers; ``on_result`` gets every run as its stack finishes.

    Args:
        groups: the stacks, in the order they are handed out; data: what every stack trains on.
        processes: worker processes, one torch thread each; on_result: called with ``(config, result)`` per run.
        progress: show a progress bar of runs.

    Raises:
        RuntimeError: a stack failed or a worker died (naming the stack and the error); stacks not yet started are
            dropped, and what the others finished is kept.
    """
    from tqdm.auto import tqdm

    context = multiprocessing.get_context("spawn")  # a forked child would inherit torch's thread pools
    log.info(f"training {len(groups)} stack(s) in {processes} processes of one thread each")
    bar = tqdm(total=sum(map(len, groups)), desc=f"runs in {processes} processes", unit="run", disable=not progress)
    with tempfile.TemporaryDirectory(prefix="labsnn-workers-") as folder:
        path = Path(folder) / "data.pt"
        torch.save(data, path)
        with ProcessPoolExecutor(processes, mp_context=context, initializer=_start, initargs=(str(path),)) as pool:
            futures = {pool.submit(_train, list(group)): group for group in groups}
            try:
                failure = _collect(futures, on_result, bar)
            finally:
                for future in futures:
                    future.cancel()
                bar.close()
    if failure is not None:
        raise RuntimeError(failure)


def _collect(futures: dict[Future, Sequence[RunConfig]], on_result: Callable, bar) -> str | None:
    """Hands each finished stack's runs to ``on_result``; after a failure, starts no more. Returns the failure."""
    failure, pending = None, set(futures)
    while pending:
        done, pending = wait(pending, return_when=FIRST_COMPLETED)
        for future in done:
            if future.cancelled():
                continue
            error = future.exception()
            if error is not None:
                if failure is None:
                    failure = _failure(futures[future], error)
                    for other in pending:
                        other.cancel()
                continue
            for config, result in zip(futures[future], pickle.loads(future.result())):
                on_result(config, result)
            bar.update(len(futures[future]))
    return failure


def _failure(group: Sequence[RunConfig], error: BaseException) -> str:
    """The one line that says which stack failed, and how."""
    if isinstance(error, BrokenProcessPool):
        return (
            f"a worker process died while training {describe_stack(group)} (killed, out of memory, or started "
            "from a script without `if __name__ == '__main__':`, which processes started by spawning need)"
        )
    return f"training failed for {describe_stack(group)}: {type(error).__name__}: {error}"
