"""How many Dask workers the report's plan can use, and the wall time that 2, 4, 8, ...
workers would give, projected from the per-stack training times recorded in a result cache.

Each stack of the plan is one task. Its time is the sum of its epochs' recorded
``epoch_time_s`` (every run of a stack records the same). Tasks are placed longest first,
each on the worker that frees up first (what a Dask scheduler does with equal workers);
the longest stack bounds the wall time however many workers there are. Transfers, worker
start-up and the notebooks are not counted.

    python benchmarks/dask_projection.py [--profile full] [--results results] [--workers 1 2 4 8 24 60]
"""

from __future__ import annotations

import argparse
import heapq

from labsnn import lab
from labsnn.running.results import read_result, result_path


def stack_seconds(profile: str, results_dir: str) -> list[float]:
    """Recorded training seconds of each stack of the profile's plan (cached runs only)."""
    data = lab.load_data(profile)
    seconds: dict[tuple, float] = {}
    for config in lab.plan(profile):
        result = read_result(result_path(results_dir, config, data), config)
        if result is None:
            raise SystemExit(f"run {config.config_hash} is not in {results_dir}: run the report first")
        seconds[config.stack_key()] = sum(epoch["epoch_time_s"] for epoch in result.epochs)
    return sorted(seconds.values(), reverse=True)


def makespan(tasks: list[float], workers: int) -> float:
    """Wall time of ``tasks`` (longest first) on ``workers`` equal workers."""
    free = [0.0] * workers
    for task in sorted(tasks, reverse=True):
        heapq.heappush(free, heapq.heappop(free) + task)
    return max(free)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--profile", default="full")
    parser.add_argument("--results", default="results")
    parser.add_argument("--workers", type=int, nargs="+", default=[1, 2, 4, 8, 24, 60])
    args = parser.parse_args()
    tasks = stack_seconds(args.profile, args.results)
    one = makespan(tasks, 1)
    print(
        f"{len(tasks)} stacks (at most {len(tasks)} busy workers); training {one / 60:.1f} min on one worker; "
        f"longest stack {tasks[0] / 60:.1f} min"
    )
    print(f"{'workers':>8} {'wall min':>9} {'speed-up':>9}")
    for workers in args.workers:
        span = makespan(tasks, workers)
        print(f"{workers:>8} {span / 60:>9.1f} {one / span:>8.1f}x")


if __name__ == "__main__":
    main()
