"""Sweeps on a Dask cluster: one task per stack, each result written to the cache by the submitting process.

A stack is what ``train_stack`` trains. The results come back to the submitting process, which writes each into
the result cache as soon as its task finishes, so workers need no shared file system.

Where the cluster is, first match wins (``resolve_scheduler``):

1. a ``distributed.Client`` passed from Python (for example one of a
   ``dask_jobqueue.SLURMCluster``); labsnn uses it and leaves it open;
2. ``--scheduler ADDRESS`` (``tcp://host:8786``), or ``local:N`` for a ``LocalCluster`` of
   N worker processes here, each running one task at a time;
3. ``--scheduler-file PATH``: the file ``dask scheduler --scheduler-file PATH`` writes;
4. ``$LABSNN_SCHEDULER`` (labsnn's alias for 2);
5. Dask's own configured address (``$DASK_SCHEDULER_ADDRESS``, or ``scheduler-address`` in
   Dask's configuration files), as ``Client()`` itself would use it.

Without any, labsnn trains in-process and never imports Dask. Every task runs with the
submitter's number of torch threads: some of torch's sums split by thread, so another
count would change the last bits of a long run. Local workers wait for their threads
passively (``OMP_WAIT_POLICY=PASSIVE``): workers that spin on shared cores slow each
other down. The data reach the workers once, scattered by the submitter: a worker needs
neither MNIST on its disk nor a data root, and every task trains on exactly the
submitter's data.
"""

from __future__ import annotations

import importlib.util
import os
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from labsnn.log import log
from labsnn.running.config import RunConfig, describe_stack

if TYPE_CHECKING:
    from labsnn.running.data import MNISTData
    from labsnn.running.results import RunResult

ENV_VAR = "LABSNN_SCHEDULER"
INSTALL = "pip install -e '.[cluster]'"


@dataclass(frozen=True)
class SchedulerFile:
    """A scheduler reached through the JSON file that ``dask scheduler --scheduler-file`` writes.

    Attributes:
        path: the file, absolute.
    """

    path: Path

    def __str__(self) -> str:
        return f"the scheduler of {self.path}"


def _is_client(scheduler: Any) -> bool:
    """Tells whether ``scheduler`` is a ``distributed.Client``, without importing Dask."""
    return type(scheduler).__name__ == "Client" and type(scheduler).__module__.startswith("distributed")


def _installed(module: str) -> bool:
    """Whether ``module`` can be imported, without importing it (only its parents)."""
    try:
        return importlib.util.find_spec(module) is not None
    except (ImportError, ValueError, AttributeError):  # a parent that is missing or blocked
        return False


def _configured_address() -> str | None:
    """Dask's own default scheduler address (environment or configuration), if any."""
    if os.environ.get("DASK_SCHEDULER_ADDRESS"):
        return os.environ["DASK_SCHEDULER_ADDRESS"]
    if not _installed("dask.config"):
        return None
    import dask.config

    return dask.config.get("scheduler-address", None) or None


def resolve_scheduler(scheduler: Any = None, scheduler_file: str | os.PathLike | None = None) -> Any:
    """Returns where to train, checked at once: its form, the file, that Dask is installed.

    Args:
        scheduler: a ``distributed.Client``, an address, ``local:N``, or None.
        scheduler_file: a Dask scheduler file (not with ``scheduler``).

    Returns:
        The ``Client``, the address string, a ``SchedulerFile``, or None (in-process), by the order of the module
        docstring.

    Raises:
        ValueError: both given, a missing file, or a scheduler of another form.
        RuntimeError: a scheduler without Dask installed (naming the extra to install).
    """
    if scheduler is not None and scheduler_file is not None:
        raise ValueError("give a scheduler or a scheduler file, not both")
    if _is_client(scheduler):
        return scheduler
    if scheduler_file is not None:
        path = Path(scheduler_file)
        if not path.is_file():
            raise ValueError(f"scheduler file {path} does not exist (dask scheduler --scheduler-file writes it)")
        resolved: Any = SchedulerFile(path.absolute())
    else:
        resolved = scheduler or os.environ.get(ENV_VAR) or _configured_address()
    if resolved is None:
        return None
    if not isinstance(resolved, (str, SchedulerFile)):
        raise ValueError(f"scheduler must be a distributed.Client, an address or local:N, got {resolved!r}")
    if (
        isinstance(resolved, str)
        and resolved.startswith("local:")
        and not (resolved[6:].isdigit() and int(resolved[6:]) >= 1)
    ):
        raise ValueError(
            f"scheduler must be local:N (N >= 1 worker processes) or a scheduler address, got {resolved!r}"
        )
    if not _installed("dask.distributed"):
        raise RuntimeError(f"--scheduler needs Dask, labsnn's optional extra: {INSTALL}")
    return resolved


@contextmanager
def connect(scheduler: Any) -> Iterator:
    """Connects to a scheduler as a context manager.

    Args:
        scheduler: what ``resolve_scheduler`` returns, other than None.

    Yields:
        A ``distributed.Client``; one made here is closed (with its local cluster) on exit, one passed in is left open.
    """
    import dask
    from dask.distributed import Client, LocalCluster

    if _is_client(scheduler):
        yield scheduler
    elif isinstance(scheduler, SchedulerFile):
        with Client(scheduler_file=str(scheduler.path)) as client:
            yield client
    elif scheduler.startswith("local:"):
        environ = {**dask.config.get("distributed.nanny.pre-spawn-environ"), "OMP_WAIT_POLICY": "PASSIVE"}
        with (
            dask.config.set({"distributed.nanny.pre-spawn-environ": environ}),
            LocalCluster(
                n_workers=int(scheduler[6:]), threads_per_worker=1, processes=True, dashboard_address=":0"
            ) as cluster,
            Client(cluster) as client,
        ):
            yield client
    else:
        with Client(scheduler) as client:
            yield client


def train_task(configs: Sequence[RunConfig], data: MNISTData, threads: int) -> list[RunResult]:
    """Trains one stack on a worker, with the submitter's number of torch threads.

    Args:
        configs, data: the stack's runs and the data (scattered by the submitter).
        threads: torch's thread count, so the same arithmetic, and numbers, as in-process on the same kind of machine.

    Returns:
        The runs' ``RunResult`` list, in the order of ``configs``.
    """
    import torch

    from labsnn.running.train import train_stack

    torch.set_num_threads(threads)
    return train_stack(configs, data, progress=False)


def train_on_cluster(
    groups: Sequence[Sequence[RunConfig]],
    data: MNISTData,
    scheduler: Any,
    on_result: Callable[[RunConfig, RunResult], None],
    progress: bool = True,
) -> None:
    """Trains each group as one task; ``on_result`` gets every run as its task finishes, and those runs stay done.

    Args:
        groups, data, scheduler: the stacks; the data, scattered once; as ``resolve_scheduler`` returns it.
        on_result, progress: called with ``(config, result)`` per run; whether to show a progress bar.

    Raises:
        RuntimeError: a task failed (its stack, the worker's error); pending tasks are cancelled, as on an interrupt."""
    import torch
    from dask.distributed import as_completed
    from tqdm.auto import tqdm

    with connect(scheduler) as client:
        if progress and client.dashboard_link:
            log.info(f"Dask dashboard at {client.dashboard_link}")
        threads = torch.get_num_threads()
        shared = client.scatter(data, broadcast=True)

        def submit(group):
            return client.submit(train_task, list(group), shared, threads, pure=False, retries=1)

        futures = {submit(group): group for group in groups}
        resubmitted: set[int] = set()
        bar = tqdm(
            total=sum(len(group) for group in groups), desc=f"runs on {scheduler}", unit="run", disable=not progress
        )
        failure = None
        try:
            pending = as_completed(futures)
            for future in pending:
                group = futures[future]
                if future.status not in ("finished", "error") and failure is None:
                    # lost with the scattered data when the worker holding it died: scatter again, once per stack
                    if id(group) in resubmitted:
                        failure = f"a task was lost twice for {describe_stack(group)} (status {future.status})"
                        client.cancel([f for f in futures if not f.done()])
                        continue
                    resubmitted.add(id(group))
                    shared = client.scatter(data, broadcast=True)
                    again = submit(group)
                    futures[again] = group
                    pending.add(again)
                    continue
                if future.status == "error":
                    if failure is None:  # keep what the other tasks already finished; stop giving out more
                        error = future.exception()
                        failure = f"a task failed for {describe_stack(group)}: {type(error).__name__}: {error}"
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
