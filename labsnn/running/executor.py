"""Where stacks train: in this process, side by side in worker processes here, or on a Dask cluster, through one
mechanism (Dask's futures) with one failure handling.

A stack is what ``train_stack`` trains, and one stack is one task. The results come back to the submitting process,
which writes each into the result cache as its task finishes (``labsnn.running.sweep``), so workers need no shared
file system and a failure keeps every finished run.

**Side by side here** (``workers > 1``): a Dask ``LocalCluster`` of worker processes with one thread each. A training
step of a small network is mostly torch's per-operation overhead, which one thread runs, so stacks train faster on
the cores one per process than one at a time on all of them. Only stacks whose numbers do not depend on the thread
count go to the workers (CPU runs on the compiled backend, whose sums run in a fixed order); each result is then bit
for bit the one in-process training gives, and the other stacks train in this process. The data are saved once to
a temporary file that every worker maps (one copy in the page cache; not ``/dev/shm``, which a container may keep
small), and the stacks go out largest first, so that the last to finish are short.

**On a cluster** (a scheduler), where the cluster is, first match wins (``resolve_scheduler``):

1. a ``distributed.Client`` passed from Python (for example one of a ``dask_jobqueue.SLURMCluster``); labsnn uses it
   and leaves it open;
2. ``--scheduler ADDRESS`` (``tcp://host:8786``), or ``local:N`` for a ``LocalCluster`` of N worker processes here;
3. ``--scheduler-file PATH``: the file ``dask scheduler --scheduler-file PATH`` writes;
4. ``$LABSNN_SCHEDULER`` (labsnn's alias for 2);
5. Dask's own configured address (``$DASK_SCHEDULER_ADDRESS``, or ``scheduler-address`` in Dask's configuration
   files), as ``Client()`` itself would use it.

Every stack goes to the cluster, and every task runs with the submitter's number of torch threads: the torch
backend's sums split by thread, so another count would change the last bits of a long run. The data reach remote
workers once, scattered by the submitter: a worker needs neither MNIST on its disk nor a data root. Workers made
here wait for their threads passively (``OMP_WAIT_POLICY=PASSIVE``): workers that spin on shared cores slow each
other down.
"""

from __future__ import annotations

import importlib.util
import multiprocessing
import os
import tempfile
from collections.abc import Callable, Iterator, Sequence
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from labsnn.log import log
from labsnn.running.config import RunConfig, describe_stack
from labsnn.validation import AUTO_WORKERS

# torch and the training loop are imported where a stack trains: the command line checks a scheduler first

if TYPE_CHECKING:
    from labsnn.running.data import MNISTData
    from labsnn.running.results import RunResult

ENV_VAR = "LABSNN_SCHEDULER"
INSTALL = "pip install 'dask[distributed]'"


def check_main_guard() -> None:
    """Stops a worker process that is re-running the script which starts the workers, in one line.

    A worker started by spawning imports the script that started it; without ``if __name__ == "__main__":``, that
    import reaches the training call again, which would wait for the run locks its parent holds, for ever.

    Raises:
        SystemExit: in such a worker (its one line on stderr, then the parent's own line names what failed).
    """
    if getattr(multiprocessing.current_process(), "_inheriting", False):  # set while a spawned child imports __main__
        raise SystemExit(
            "labsnn: training side by side (workers > 1) starts worker processes that import the calling script; "
            'put the script\'s code under `if __name__ == "__main__":`'
        )


def thread_invariant(group: Sequence[RunConfig]) -> bool:
    """Whether a stack's numbers are the same with any thread count: a CPU run on the compiled backend."""
    from labsnn.engine import backend
    from labsnn.running.train import resolve_device

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
    import torch

    wanted = torch.get_num_threads() if workers == AUTO_WORKERS else workers
    side, here = [], []
    for group in groups:
        (side if wanted > 1 and thread_invariant(group) else here).append(group)
    if len(side) < 2:
        return 1, [], list(groups)
    return min(wanted, len(side)), sorted(side, key=cost, reverse=True), here


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
        The ``Client``, the address string, a ``SchedulerFile``, or None (this machine), by the order of the module
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
        raise RuntimeError(f"--scheduler needs Dask, a dependency of labsnn missing here: {INSTALL}")
    return resolved


@contextmanager
def _local_cluster(processes: int) -> Iterator:
    """A ``Client`` of a ``LocalCluster`` of ``processes`` workers here, one thread each, waiting passively.

    Raises:
        RuntimeError: the workers did not start (in one line).
    """
    import dask
    from dask.distributed import Client, LocalCluster

    environ = {**dask.config.get("distributed.nanny.pre-spawn-environ"), "OMP_WAIT_POLICY": "PASSIVE"}
    environ.pop("MALLOC_TRIM_THRESHOLD_", None)  # glibc's own, as in-process: no memory handed back every batch
    # a task is a Python loop holding the GIL on a core of its own: nothing samples or wakes it that training does not
    # need (no profiler or GIL monitor; event-loop health, memory and the system monitor checked every few seconds,
    # not many times a second), and no stealing, since no stack waits at a worker
    quiet = {
        "distributed.worker.profile.enabled": False,
        "distributed.admin.system-monitor.gil.enabled": False,
        "distributed.admin.system-monitor.interval": "5s",
        "distributed.admin.tick.interval": "1s",
        "distributed.worker.memory.monitor-interval": "1s",
        "distributed.scheduler.work-stealing": False,
        "distributed.scheduler.allowed-failures": 1,  # a worker that dies twice on one stack stops the run
    }
    saved = dict(os.environ)  # Dask's nanny writes the workers' environment into this process's own
    try:
        with dask.config.set({"distributed.nanny.pre-spawn-environ": environ, **quiet}):
            try:
                cluster = LocalCluster(
                    n_workers=processes, threads_per_worker=1, processes=True, dashboard_address=":0"
                )
            except RuntimeError as error:
                raise RuntimeError(
                    f"{processes} worker process(es) did not start ({error}): killed, out of memory, or started from "
                    "a script without `if __name__ == '__main__':`, which processes started by spawning need"
                ) from None
            with cluster, Client(cluster) as client:
                yield client
    finally:
        os.environ.clear()
        os.environ.update(saved)


@contextmanager
def connect(scheduler: Any) -> Iterator:
    """Connects to a scheduler as a context manager.

    Args:
        scheduler: what ``resolve_scheduler`` returns, other than None.

    Yields:
        A ``distributed.Client``; one made here is closed (with its local cluster) on exit, one passed in is left open.
    """
    from dask.distributed import Client

    if _is_client(scheduler):
        yield scheduler
    elif isinstance(scheduler, SchedulerFile):
        with Client(scheduler_file=str(scheduler.path)) as client:
            yield client
    elif scheduler.startswith("local:"):
        with _local_cluster(int(scheduler[6:])) as client:
            yield client
    else:
        with Client(scheduler) as client:
            yield client


@dataclass(frozen=True)
class MappedData:
    """The data as a file that workers on this machine map, instead of a copy sent to each.

    Attributes:
        path: the file ``torch.save`` wrote.
    """

    path: str


_mapped: dict[str, MNISTData] = {}  # in a worker process: the data files it has mapped, by path


def train_task(configs: Sequence[RunConfig], data: MNISTData | MappedData, threads: int) -> list[RunResult]:
    """Trains one stack on a worker.

    Args:
        configs: the stack's runs; data: the data (scattered by the submitter), or the file to map.
        threads: torch's thread count, so the same arithmetic, and numbers, as in-process on the same kind of machine.

    Returns:
        The runs' ``RunResult`` list, in the order of ``configs``.
    """
    import torch

    from labsnn.running.train import train_stack

    if isinstance(data, MappedData):
        if data.path not in _mapped:  # mapped, not read: the workers share one copy of the images in the page cache
            _mapped[data.path] = torch.load(data.path, mmap=True, weights_only=False)
        data = _mapped[data.path]
    torch.set_num_threads(threads)
    return train_stack(configs, data, progress=False)


def _failure(group: Sequence[RunConfig], error: BaseException) -> str:
    """The one line that says which stack failed, and how."""
    if type(error).__name__ == "KilledWorker":
        return (
            f"a worker process died while training {describe_stack(group)} (killed, or out of memory; "
            "it was retried on a new worker first)"
        )
    return f"training failed for {describe_stack(group)}: {type(error).__name__}: {error}"


def train_on_dask(
    groups: Sequence[Sequence[RunConfig]],
    data: MNISTData,
    scheduler: Any,
    on_result: Callable[[RunConfig, RunResult], None],
    progress: bool = True,
    threads: int | None = None,
) -> None:
    """Trains each stack as one task; ``on_result`` gets every run as its task finishes, and those runs stay done.

    Args:
        groups: the stacks, in the order they are handed out (here, one per free worker); data: what every stack
            trains on.
        scheduler: as ``resolve_scheduler`` returns it (``local:N``: N worker processes here, which map the data).
        on_result, progress: called with ``(config, result)`` per run; whether to show a progress bar.
        threads: each task's torch threads; None: this process's.

    Raises:
        RuntimeError: a task failed, or its workers died (naming the stack and the error). Here, the stacks already
            running finish and are kept and no other starts; on a cluster, the unfinished tasks are cancelled.
    """
    import torch
    from dask.distributed import as_completed
    from tqdm.auto import tqdm

    threads = threads or torch.get_num_threads()
    here = isinstance(scheduler, str) and scheduler.startswith("local:")
    with ExitStack() as context:
        if here:
            path = str(Path(context.enter_context(tempfile.TemporaryDirectory(prefix="labsnn-workers-"))) / "data.pt")
            torch.save(data, path)
        client = context.enter_context(connect(scheduler))
        if progress and client.dashboard_link:
            log.info(f"Dask dashboard at {client.dashboard_link}")

        def share() -> Any:
            return MappedData(path) if here else client.scatter(data, broadcast=True)

        shared = share()

        def submit(group: Sequence[RunConfig]) -> Any:
            return client.submit(train_task, list(group), shared, threads, pure=False)

        # here, no more stacks out than workers, each handed out as one frees (largest first): after a failure
        # the running ones finish and are kept, and no other starts; a cluster schedules them all itself
        slots = len(client.scheduler_info()["workers"]) if here else len(groups)
        queue, futures, pending = list(groups), {}, as_completed()
        resubmitted: set[int] = set()
        failure = None

        def give_out() -> None:
            while queue and failure is None and sum(not f.done() for f in futures) < slots:
                group = queue.pop(0)
                future = submit(group)
                futures[future] = group
                pending.add(future)

        where = f"{slots} processes" if here else str(scheduler)
        bar = tqdm(total=sum(map(len, groups)), desc=f"runs in {where}", unit="run", disable=not progress)
        try:
            give_out()
            for future in pending:
                group = futures[future]
                if future.status not in ("finished", "error"):
                    if failure is not None:
                        continue
                    # lost with the scattered data when the worker holding it died: scatter again, once per stack
                    if id(group) in resubmitted:
                        failure = f"a task was lost twice for {describe_stack(group)} (status {future.status})"
                    else:
                        resubmitted.add(id(group))
                        shared = share()
                        queue.insert(0, group)
                elif future.status == "error":
                    if failure is None:
                        failure = _failure(group, future.exception())
                        if not here:  # a cluster's queued tasks cannot be told from its running ones
                            client.cancel([f for f in futures if not f.done()])
                else:
                    for config, result in zip(group, future.result()):
                        on_result(config, result)
                    bar.update(len(group))
                give_out()
        finally:
            client.cancel([future for future in futures if not future.done()])
            bar.close()
    if failure is not None:
        raise RuntimeError(failure)


def train_groups(
    todo: Sequence[Sequence[RunConfig]],
    data: MNISTData,
    keep: Callable[[RunConfig, RunResult], None],
    progress: bool,
    scheduler: Any = None,
    workers: int | str = 1,
) -> None:
    """Trains stacks, writing nothing: on the scheduler, else side by side in ``workers`` processes where that changes
    no number, and in this process otherwise.

    Args:
        todo: the stacks, each a list of configs that share their input (one config: a run alone).
        data: what they train on; progress: show progress.
        keep: called with ``(config, result)`` for every run as its stack finishes.
        scheduler: as ``resolve_scheduler`` returns it; workers: as ``check_workers`` returns it.
    """
    from labsnn.running.train import train_stack

    if scheduler is not None and todo:
        train_on_dask(todo, data, scheduler, keep, progress)
        return
    processes, side, here = split(todo, workers)
    if side:
        log.info(f"training {len(side)} stack(s) in {processes} processes of one thread each")
        train_on_dask(side, data, f"local:{processes}", keep, progress, threads=1)
    for group in here:
        for config, result in zip(group, train_stack(group, data, progress)):
            keep(config, result)
