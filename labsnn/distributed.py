"""Sweeps on a Dask cluster: each stack of the plan (what ``train_stack`` trains) is one
task; the results come back to the submitting process, which writes each into the result
cache as soon as its task finishes, so workers need no shared file system.

``scheduler``: ``local:N`` starts a ``LocalCluster`` of N worker processes here, each
running one task at a time with this machine's cores shared out among them (more torch
threads than cores make every task crawl); anything else is a scheduler's address
(``tcp://host:8786``), whose workers run each task with torch's own thread count. Without
one, labsnn never imports Dask.
The data reach the workers once, scattered by the submitter: a worker needs neither MNIST
on its disk nor a data root, and every task trains on exactly the submitter's data.
"""

from __future__ import annotations

import os
import sys
from contextlib import contextmanager
from typing import Callable, Iterator, Sequence

import torch
from tqdm.auto import tqdm

from labsnn.config import RunConfig
from labsnn.data import MNISTData
from labsnn.results import RunResult

ENV_VAR = "LABSNN_SCHEDULER"
INSTALL = "pip install -e '.[dask]'"


def resolve_scheduler(scheduler: str | None) -> str | None:
    """``scheduler``, else ``$LABSNN_SCHEDULER``, else None (in-process); checked at once:
    its form, and that Dask is installed."""
    scheduler = scheduler or os.environ.get(ENV_VAR) or None
    if scheduler is None:
        return None
    if scheduler.startswith("local:") and not (scheduler[6:].isdigit() and int(scheduler[6:]) >= 1):
        raise ValueError(f"scheduler must be local:N (N >= 1 worker processes) or a scheduler address, got {scheduler!r}")
    try:
        import dask.distributed  # noqa: F401 (only whether it imports)
    except ImportError:
        raise RuntimeError(f"--scheduler needs Dask, labsnn's optional extra: {INSTALL}") from None
    return scheduler


def task_threads(scheduler: str) -> int | None:
    """Torch threads per task: for ``local:N``, this machine's cores shared out among the N
    workers; for a remote scheduler, None (each worker's own default)."""
    if scheduler.startswith("local:"):
        return max(1, (os.cpu_count() or 1) // int(scheduler[6:]))
    return None


@contextmanager
def connect(scheduler: str) -> Iterator:
    """A ``dask.distributed.Client`` for ``scheduler``, closed (with its local cluster) on exit."""
    from dask.distributed import Client, LocalCluster

    if scheduler.startswith("local:"):
        with LocalCluster(n_workers=int(scheduler[6:]), threads_per_worker=1, processes=True,
                          dashboard_address=":0") as cluster, Client(cluster) as client:
            yield client
    else:
        with Client(scheduler) as client:
            yield client


def train_task(configs: Sequence[RunConfig], data: MNISTData, threads: int | None) -> list[RunResult]:
    """One stack, on a worker, with ``threads`` torch threads (None: the worker's default)."""
    from labsnn.train import train_stack

    if threads is not None:
        torch.set_num_threads(threads)
    return train_stack(configs, data, progress=False)


def _describe(group: Sequence[RunConfig]) -> str:
    changes = [f"{k}={v}" for k, v in group[0].to_dict().items() if v != RunConfig.__dataclass_fields__[k].default]
    return f"{len(group)} run(s) from the stack of ({', '.join(changes) or 'the defaults'})"


def train_on_cluster(groups: Sequence[Sequence[RunConfig]], data: MNISTData, scheduler: str,
                     on_result: Callable[[RunConfig, RunResult], None], progress: bool = True) -> None:
    """Train each group as one task; ``on_result`` gets every run as its task finishes. A
    task that raises stops the sweep with its stack and the worker's one-line error; an
    interrupt cancels what is pending. Runs already handed to ``on_result`` stay done."""
    from dask.distributed import as_completed

    with connect(scheduler) as client:
        if progress and client.dashboard_link:
            print(f"labsnn: Dask dashboard at {client.dashboard_link}", file=sys.stderr)
        shared = client.scatter(data, broadcast=True)
        threads = task_threads(scheduler)
        futures = {client.submit(train_task, list(group), shared, threads, pure=False, retries=1): group
                   for group in groups}
        bar = tqdm(total=sum(len(group) for group in groups), desc=f"runs on {scheduler}", unit="run",
                   disable=not progress)
        failure = None
        try:
            for future in as_completed(futures):
                group = futures[future]
                if future.status == "error":
                    if failure is None:  # keep what the other tasks already finished; stop giving out more
                        error = future.exception()
                        failure = f"a task failed for {_describe(group)}: {type(error).__name__}: {error}"
                        client.cancel([f for f in futures if not f.done()])
                    continue
                if future.status != "finished":
                    continue
                for config, result in zip(group, future.result()):
                    on_result(config, result)
                bar.update(len(group))
            if failure is not None:
                raise RuntimeError(failure)
        finally:
            client.cancel([future for future in futures if not future.done()])
            bar.close()
