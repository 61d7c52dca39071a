"""Command line: ``python -m labsnn {train,sweep,report,verify,kernels,export,export-nir}``.

Every ``RunConfig`` field is an option with the lab's default. Bad values exit with
status 2 and a one-line message, before torch, the notebook stack or any data is
loaded; an interrupted sweep keeps the runs it finished.
"""

from __future__ import annotations

import argparse
import sys
import typing
from collections.abc import Sequence
from pathlib import Path

from labsnn import __version__
from labsnn.cli_options import add_config_options, add_scheduler_option, add_workers_option, build_config, convert
from labsnn.lab.preflight import PROFILES, check_report
from labsnn.log import log
from labsnn.running.config import RunConfig
from labsnn.running.executor import resolve_scheduler
from labsnn.running.paths import check_data_root, check_writable_folder
from labsnn.validation import check_workers


class _Parser(argparse.ArgumentParser):
    """An ``ArgumentParser`` whose errors are one ``labsnn: error:`` line and exit status 2, without the usage."""

    def error(self, message: str) -> typing.NoReturn:
        """Prints ``labsnn: error: <message>`` and exits with status 2."""
        self.exit(2, f"labsnn: error: {message}\n")


def _print_table(frame) -> None:
    """Prints a table whole, numbers with four decimals."""
    import pandas as pd

    with pd.option_context("display.width", 200, "display.max_columns", 30, "display.float_format", "{:.4f}".format):
        print(frame.to_string(index=False))


def _check_backend(config: RunConfig) -> None:
    """Rejects ``backend compiled`` where the kernels cannot be built or on a GPU (last check: it imports torch)."""
    if config.backend == "compiled":
        from labsnn.engine import backend
        from labsnn.running.train import resolve_device

        backend.resolve("compiled", resolve_device(config.device).type)


def _train(args: argparse.Namespace) -> None:
    """Runs ``labsnn train``: one run, then its per-epoch table."""
    config = build_config(args)
    check_data_root(args.data_root)
    _check_backend(config)
    from labsnn.running.data import load_mnist
    from labsnn.running.train import train

    data = load_mnist(args.data_root)
    result = train(config, data, progress=not args.no_progress)
    columns = [
        "epoch",
        "train_loss",
        "train_acc",
        "test_acc",
        "snn_flops_train",
        "snn_flops_test",
        "ann_flops",
        "epoch_time_s",
    ]
    print(
        f"data: {data.source} ({result.data['n_train']} train / {result.data['n_test']} test); "
        f"sizes {'-'.join(map(str, config.sizes))}; status: {result.status}"
    )
    _print_table(result.frame()[columns])


def _sweep(args: argparse.Namespace) -> None:
    """Runs ``labsnn sweep``: one parameter over seeds, through the result cache, then its summary."""
    base = build_config(args)
    values = (
        [convert(args.param, v) for v in args.values] if args.param in RunConfig.__dataclass_fields__ else args.values
    )
    check_data_root(args.data_root)
    check_writable_folder(args.results, "results folder")
    scheduler = resolve_scheduler(args.scheduler, args.scheduler_file)
    workers = check_workers(args.workers)
    _check_backend(base)
    from labsnn.running.data import load_mnist
    from labsnn.running.summary import summarize
    from labsnn.running.sweep import sweep, sweep_configs

    sweep_configs(base, args.param, values, args.seeds)  # validates before the data is loaded
    data = load_mnist(args.data_root)
    frame = sweep(
        base,
        args.param,
        values,
        args.seeds,
        args.results,
        data,
        progress=not args.no_progress,
        scheduler=scheduler,
        workers=workers,
    )
    print(f"data: {data.source}; results in {args.results}")
    _print_table(summarize(frame))


def _report(args: argparse.Namespace) -> int:
    """Runs ``labsnn report``: checks its arguments (stopping there with ``--check-only``), then builds.

    Returns:
        0 when the PDF was written; 3 when only the HTML could be (no TeX: the PDF, which the command promises, is
        missing, and a script must be able to tell).
    """
    check_report(
        args.profile, args.data_root, args.results, args.out, args.scheduler, args.scheduler_file, args.workers
    )
    if args.check_only:
        log.info(f"report arguments checked (profile {args.profile}); nothing was run")
        return 0
    from labsnn.lab.report import build_report

    target = build_report(
        args.profile,
        data_root=args.data_root,
        results_dir=args.results,
        out_dir=args.out,
        force=args.force,
        scheduler=args.scheduler,
        scheduler_file=args.scheduler_file,
        workers=args.workers,
    )
    return 3 if target.suffix == ".html" else 0


def _verify(args: argparse.Namespace) -> int:
    """Runs ``labsnn verify``: retrains a sample of a cache's runs alone and prints one verdict per run.

    Returns:
        0 when every run is identical or within tolerance, else 1.
    """
    from labsnn.lab.verify import REL_TOL, verify

    if args.runs is not None and args.runs < 1:
        raise ValueError(f"--runs must be at least 1, got {args.runs}")
    verdicts = verify(
        args.results, args.runs, args.seed, args.data_root, all_runs=args.all, alone=args.alone, workers=args.workers
    )
    import pandas as pd

    frame = pd.DataFrame([vars(v) for v in verdicts], columns=["chapter", "name", "run", "verdict", "detail"])
    with pd.option_context("display.width", 250, "display.max_colwidth", 120, "display.max_rows", None):
        print(frame.to_string(index=False))
    held = sum(v.holds for v in verdicts)
    log.info(
        f"{held} of {len(verdicts)} run(s) confirmed ({sum(v.verdict == 'identical' for v in verdicts)} identical; "
        f"within tolerance: every number within {REL_TOL:.0%} on another kind of machine)"
    )
    return 0 if held == len(verdicts) else 1


def _kernels(args: argparse.Namespace) -> None:
    """Runs ``labsnn kernels``: builds the compiled CPU kernels and says where."""
    from labsnn.engine import kernel_build

    log.info(f"compiled kernels at {kernel_build.build()}")


def _export(args: argparse.Namespace) -> None:
    """Runs ``labsnn export``: writes a result cache's tidy table."""
    from labsnn.running.export import export

    rows = export(args.results_dir, args.out)
    log.info(f"wrote {args.out}: {rows} row(s), one per run and epoch")


def _export_nir(args: argparse.Namespace) -> None:
    """Runs ``labsnn export-nir``: writes a result's trained network as a NIR graph."""
    from labsnn.running.nir_export import export_nir

    log.info(f"wrote {export_nir(args.result, args.out)}")


def parser() -> argparse.ArgumentParser:
    """Builds the command line's parser.

    Returns:
        The parser of ``train``, ``sweep``, ``report``, ``verify``, ``kernels``, ``export`` and ``export-nir``; each sets
        ``run``, the function that carries it out.
    """
    main_parser = _Parser(prog="python -m labsnn", description="Spiking-neural-network lab 1: train, sweep, report.")
    main_parser.add_argument("--version", action="version", version=f"labsnn {__version__}")
    commands = main_parser.add_subparsers(dest="command", required=True, parser_class=_Parser)
    train = commands.add_parser(
        "train",
        help="train one run and print the per-epoch table",
        description="Trains one run of the lab's network and prints its per-epoch table. Nothing is kept: "
        "use sweep (or report) to cache results.",
    )
    add_config_options(train)
    train.set_defaults(run=_train)
    sweep = commands.add_parser(
        "sweep",
        help="sweep one parameter over seeds; cached, resumable",
        description="Trains one run per value and seed into the result cache (runs already cached are read, not "
        "retrained) and prints the summary table.",
    )
    sweep.add_argument("param", help="config field to vary, e.g. beta")
    sweep.add_argument("values", nargs="+", help="values of the field")
    sweep.add_argument("--seeds", type=int, default=1, help="seeds per value: seed, seed+1, ... (default: 1)")
    sweep.add_argument("--results", type=Path, default=Path("results"), help="result cache folder (default: results)")
    add_scheduler_option(sweep)
    add_config_options(sweep)
    sweep.set_defaults(run=_sweep)
    report = commands.add_parser(
        "report",
        help="run the notebooks with papermill and build the PDF report",
        description="Trains every run of the profile into the result cache, executes the four section notebooks "
        "and writes the report as HTML and, where xelatex and pandoc are installed, as PDF. Relative paths are taken "
        "from the current folder. Exit status 0 with the PDF, 3 with the HTML only (no TeX), 2 on a bad argument.",
    )
    report.add_argument(
        "--profile",
        choices=tuple(PROFILES),
        default="full",
        help="full: the whole lab; smoke: a quick check (default: full)",
    )
    report.add_argument(
        "--data-root", default=None, help="folder with MNIST/raw/... (default: resolution order of labsnn.running.data)"
    )
    report.add_argument(
        "--results", type=Path, default=None, help="result cache folder (default: results, or results/smoke for smoke)"
    )
    report.add_argument(
        "--out", type=Path, default=None, help="output folder (default: reports, or reports/smoke for smoke)"
    )
    report.add_argument(
        "--force", action="store_true", help="rebuild the PDF even when its inputs are unchanged (default: off)"
    )
    report.add_argument(
        "--check-only", action="store_true", help="check the arguments, folders and data root, then stop"
    )
    add_scheduler_option(report)
    report.set_defaults(run=_report)
    kernels = commands.add_parser(
        "kernels",
        help="build the compiled CPU kernels (set-up does this) and say where",
        description="Builds labsnn's compiled CPU kernels for this CPU, compiler and flags, once, and says where they "
        "are. Environment: LABSNN_KERNEL_CACHE (the folder they are kept in; default ~/.cache/labsnn), LABSNN_MARCH "
        "(the build target, default native, e.g. x86-64-v3) and CC (the compiler, default cc or gcc).",
    )
    kernels.set_defaults(run=_kernels)
    verify = commands.add_parser(
        "verify",
        help="retrain a sample of a report's cached runs, each alone, and compare them with the cache",
        description="Retrains cached runs, each alone from its recorded config, and compares each with its cached "
        "history and weights file: identical (bit for bit, expected on the same CPU kind, build target and backend), "
        "within tolerance (on another kind of machine) or differs (the first field and epoch that differ). "
        "Exit status 0 when every run holds, 1 otherwise, 2 on bad input (checked before any training) or a failure.",
    )
    verify.add_argument("--results", type=Path, default=Path("results"), help="result cache folder (default: results)")
    chosen = verify.add_mutually_exclusive_group()
    chosen.add_argument(
        "--runs", type=int, default=None, help="how many runs, one per chapter in turn (default: 5, or all if fewer)"
    )
    chosen.add_argument(
        "--all",
        action="store_true",
        help="retrain every cached run, in stacks of the runs that share their input (the same numbers as alone)",
    )
    verify.add_argument(
        "--alone", action="store_true", default=None, help="retrain each run alone, also with --all (default: off)"
    )
    verify.add_argument("--seed", type=int, default=0, help="seed of the choice of runs (default: 0)")
    verify.add_argument(
        "--data-root", default=None, help="folder with MNIST/raw/... (default: the location the runs recorded)"
    )
    add_workers_option(verify)
    verify.set_defaults(run=_verify)
    export = commands.add_parser(
        "export",
        help="write one tidy table (CSV) of every run in a result cache",
        description="Writes one row per run and epoch of every result in RESULTS_DIR (not its subfolders) to OUT.",
    )
    export.add_argument("results_dir", type=Path, help="a result cache folder, e.g. results")
    export.add_argument("out", type=Path, help="the CSV file to write, e.g. results.csv")
    export.set_defaults(run=_export)
    export_nir = commands.add_parser(
        "export-nir",
        help="write a run's trained network as a NIR graph",
        description="Writes the trained network of one result as a NIR file (the Neuromorphic Intermediate "
        "Representation): Affine and LIF nodes (IF where beta = 1), parameters mapped as snnTorch's exporter maps them, "
        "labsnn's subtractive reset, spike timing and surrogate in the graph's metadata. beta outside [0, 1] cannot be "
        "expressed and exits with status 2.",
    )
    export_nir.add_argument("result", type=Path, help="a result's JSON file, e.g. results/<run>.json")
    export_nir.add_argument("out", type=Path, help="the NIR file to write, e.g. network.nir")
    export_nir.set_defaults(run=_export_nir)
    return main_parser


def main(argv: Sequence[str] | None = None) -> int:
    """Runs the command line.

    Args:
        argv: the arguments, without the program's name; None reads ``sys.argv``.

    Returns:
        The exit status: 0; the command's own (``verify``: 1 when a run differs; ``report``: 3 when only the HTML
        could be written); 2 for a bad value or a failed check (one ``labsnn: error:`` line); 130 on interrupt.

    Raises:
        SystemExit: status 2 on a command line argparse rejects, 0 after ``--help``.
    """
    args = parser().parse_args(argv)
    try:
        status = args.run(args)
    except (ValueError, OSError, RuntimeError) as error:  # OSError: a folder or disk that fails mid-way
        print(f"labsnn: error: {error}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        log.warning("interrupted; finished runs are kept in the result folder")
        return 130
    return status or 0
