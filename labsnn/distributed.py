"""Sweeps on a Dask cluster: each stack of the plan (what ``train_stack`` trains) is one
task; the results come back to the submitting process, which writes each into the result
cache as soon as its task finishes, so workers need no shared file system.

``scheduler``: ``local:N`` starts a ``LocalCluster`` of N worker processes here, each
running one task at a time; anything else is a scheduler's address (``tcp://host:8786``).
Without one, labsnn never imports Dask. Every task runs with the submitter's number of
torch threads: some of torch's sums split by thread, so another count changes the last
bits of a long run (measured: T >= 25 runs differed between 1 and 2 threads). Local
workers wait for their threads passively (``OMP_WAIT_POLICY=PASSIVE``): N workers of 2
threads each on 2 cores otherwise spin against each other and crawl (measured: 4 stacks
took 47.8 s spinning, 8.2 s passive, 5.6 s in-process).
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


@contextmanager
def connect(scheduler: str) -> Iterator:
    """A ``dask.distributed.Client`` for ``scheduler``, closed (with its local cluster) on exit."""
    import dask
    from dask.distributed import Client, LocalCluster

    if scheduler.startswith("local:"):
        environ = {**dask.config.get("distributed.nanny.pre-spawn-environ"), "OMP_WAIT_POLICY": "PASSIVE"}
        with dask.config.set({"distributed.nanny.pre-spawn-environ": environ}), \
                LocalCluster(n_workers=int(scheduler[6:]), threads_per_worker=1, processes=True,
                             dashboard_address=":0") as cluster, Client(cluster) as client:
            yield client
    else:
        with Client(scheduler) as client:
            yield client


def train_task(configs: Sequence[RunConfig], data: MNISTData, threads: int) -> list[RunResult]:
    """One stack, on a worker, with the submitter's number of torch threads (so the same
    arithmetic, and the same numbers, as in-process on the same kind of machine)."""
    from labsnn.train import train_stack

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
        threads = torch.get_num_threads()
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
