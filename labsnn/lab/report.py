"""``python -m labsnn report``: trains every run of the lab (cached), executes the notebooks and builds the PDF.

The PDF and the HTML are one notebook assembled from the executed ones (code hidden): a title and run summary, what
the report found and the reproduction table of the source report's claims (with 4.4's best source-like setup beside labsnn's),
then sections 4.1-4.4 with their figures, captions and findings, all read from this run's results.
"""

from __future__ import annotations

import re
import time
from pathlib import Path
from typing import Any

import nbformat

from labsnn.lab import setup_findings
from labsnn.lab.claims import VERDICT_RULE, reproduction_table
from labsnn.lab.context import LabContext, load_data
from labsnn.lab.findings import markdown_table
from labsnn.lab.host import PeakMemory, missing_tex
from labsnn.lab.nbcells import is_checked
from labsnn.lab.notebooks import run_notebooks
from labsnn.lab.preflight import NOTEBOOKS, ReportPlan, check_report
from labsnn.lab.profiles import base_config, prepare, run_section, training_summary
from labsnn.lab.report_inputs import (
    INPUTS_FILE,
    RESULTS_TABLE,
    inputs_digest,
    planned_results,
    report_inputs,
    up_to_date,
)
from labsnn.lab.report_summary import made_where, run_summary
from labsnn.lab.setup_search import Decision
from labsnn.log import log
from labsnn.running import atomic
from labsnn.running.export import export
from labsnn.validation import AUTO_WORKERS

_HEADING = re.compile(r"^(#{1,6} .*?)[ \t]*$", re.MULTILINE)


def _unnumbered(markdown: str) -> str:
    """Marks headings unnumbered for pandoc: their titles hold the lab's numbers, which LaTeX's would contradict."""
    return _HEADING.sub(r"\1 {.unnumbered}", markdown)


#: Cells for the reader of the notebook only: how to run it (the parameters' cell and its injected copy too).
NOTEBOOK_ONLY_TAGS = frozenset({"parameters", "injected-parameters", "how-to-run", "walkthrough"})


def _section_cells(path: Path) -> list:
    """Returns an executed notebook's cells for the report: none tagged ``NOTEBOOK_ONLY_TAGS``, no nbval-checked
    cells, no stderr outputs."""
    notebook = nbformat.read(path, as_version=4)
    keep = []
    for cell in notebook.cells:
        if set(cell.metadata.get("tags", [])) & NOTEBOOK_ONLY_TAGS:
            continue
        if cell.cell_type == "code":
            if is_checked(cell):
                continue
            cell.outputs = [out for out in cell.outputs if not (out.output_type == "stream" and out.name == "stderr")]
        keep.append(cell)
    return keep


def assemble(
    context: LabContext,
    decision: Decision,
    out_dir: Path,
    seconds: float,
    memory: PeakMemory,
    runs: tuple[int, int],
) -> nbformat.NotebookNode:
    """Assembles the report notebook: title, run summary, what it found, the reproduction table, where the numbers
    were made, then the four sections.

    Args:
        context, decision: the lab (profile, data, cache), all trained, and what 4.4's screening decided.
        out_dir: the executed notebooks' folder.
        seconds, memory, runs: for the run summary: wall time, peak memory, (runs trained now, runs in all).

    Returns:
        The notebook, its markdown headings unnumbered.
    """
    frames = {section: run_section(context, section) for section in ("4.1", "4.2", "4.3")}
    study = setup_findings.study(context, decision, labsnn=frames)
    table, best = reproduction_table(frames, study.scored_source_like()), study.winner
    report = nbformat.v4.new_notebook()
    report.metadata["title"] = "Lab 1: Spiking Neural Networks, reproduced with labsnn"
    report.cells.append(
        nbformat.v4.new_markdown_cell(
            f"A {'-'.join(map(str, base_config(context.profile).sizes))} network of leaky integrate-and-fire neurons, "
            "$V_{t+1} = \\beta V_t + I_t - S_t V_{th}$, "
            "$S_t = H(V_t - V_{th})$, trained on MNIST with a fast-sigmoid surrogate gradient of slope z. Every number and "
            "figure below was computed by the run that made this report."
        )
    )
    report.cells.append(nbformat.v4.new_markdown_cell(run_summary(context, decision, seconds, memory, runs)))
    report.cells.append(nbformat.v4.new_markdown_cell(_headline(table, best)))
    report.cells.append(nbformat.v4.new_markdown_cell(_reproduction_markdown(table, best)))
    report.cells.append(nbformat.v4.new_markdown_cell(made_where(context, decision)))
    for name in NOTEBOOKS:
        report.cells.extend(_section_cells(out_dir / f"{name}.ipynb"))
    for cell in report.cells:
        if cell.cell_type == "markdown":
            cell.source = _unnumbered(cell.source)
    return report


def _headline(table, best: str | None) -> str:
    """What the report found, in two sentences: how many of the source report's claims each column reproduces."""
    measured = table[table["reproduced"] != "n/a"]
    ours = (
        f"**What this report found.** Of the source report's {len(table)} claims, labsnn's own setup reproduces "
        f"{(measured['reproduced'] == 'yes').sum()} of the {len(measured)} measured in this profile "
        f"({(measured['reproduced'] == 'tie').sum()} more a tie within seed noise)"
    )
    if best:
        there = table["there"]
        ours += (
            f"; section 4.4's source-like setup, {best}, reproduces {(there == 'yes').sum()} "
            f"({(there == 'tie').sum()} more a tie)"
        )
    return ours + ". Claim by claim: the reproduction table, next; each section below explains its claims."


def _reproduction_markdown(table, best: str | None) -> str:
    """The reproduction section: the counts, the verdict rule and the table."""
    measured = table[table["reproduced"] != "n/a"]
    return (
        "# Reproduction of the source report's claims\n\n"
        f"{(measured['reproduced'] == 'yes').sum()} of {len(measured)} measured claims reproduced, "
        f"{(measured['reproduced'] == 'tie').sum()} a tie within seed noise "
        f"({len(table) - len(measured)} not measured in this profile). Final-epoch test accuracy, mean over seeds. "
        f"{VERDICT_RULE} A verdict decided by a margin near the seeds' spread can differ when the runs are "
        "made on another kind of CPU or build (the run summary names the machines that made these). "
        + (_seed_like_sentence(table, best) if best else _no_seed_like_sentence())
        + "\n\n"
        + markdown_table(table)
    )


def _seed_like_sentence(table, best: str) -> str:
    """What the last two columns are, with their count."""
    there = table["there"]
    return (
        f"The last two columns: the same claims under section 4.4's source-like setup, {best}, retrained on every run "
        "of 4.1-4.3 as their own profile trains them (a run that diverged scored at the share of class 0 in the test "
        f"set, as in 4.4): {(there == 'yes').sum()} of {len(table)} reproduced, {(there == 'tie').sum()} a tie "
        f'within seed noise ("-": not measured there).'
    )


def _no_seed_like_sentence() -> str:
    """Says that 4.4 found no source-like setup, so the table has no column for one."""
    return (
        "Section 4.4 found no source-like setup (no screening that agrees with 4.1 on labsnn's own setup and keeps a "
        "default run learning), so there is no column for one."
    )


def _exported(exporter, report: nbformat.NotebookNode, out_dir: Path):
    """The report as ``exporter`` writes it, inputs and prompts hidden (HTML text, or PDF bytes)."""
    exporter.exclude_input = exporter.exclude_input_prompt = exporter.exclude_output_prompt = True
    return exporter.from_notebook_node(report, resources={"metadata": {"path": str(out_dir)}})[0]


def _write_documents(report: nbformat.NotebookNode, out_dir: Path, pdf: bool) -> None:
    """Writes the report notebook, the HTML report (figures embedded) and, with ``pdf``, the PDF report."""
    from nbconvert import HTMLExporter, PDFExporter

    atomic.write_text(out_dir / "lab1_report.ipynb", nbformat.writes(report))
    atomic.write_text(out_dir / "lab1_report.html", _exported(HTMLExporter(embed_images=True), report, out_dir))
    if pdf:
        atomic.write_bytes(out_dir / "lab1_report.pdf", _exported(PDFExporter(), report, out_dir))


def build_report(
    profile: str = "full",
    data_root: str | None = None,
    results_dir: str | Path | None = None,
    out_dir: str | Path | None = None,
    force: bool = False,
    scheduler: Any = None,
    scheduler_file: str | Path | None = None,
    workers: int | str = AUTO_WORKERS,
) -> Path:
    """Runs everything and writes ``<out_dir>/lab1_report.html`` and, where TeX is installed, ``lab1_report.pdf``.

    Every argument is checked before any data is loaded, and TeX is looked for: without it one line says what to
    install, and everything but the PDF is still made. Each file a reader opens is replaced whole
    (``labsnn.running.atomic``).

    Args:
        profile: ``full`` (the lab) or ``smoke`` (a quick check).
        data_root: a folder with ``MNIST/raw/...`` (full profile only); relative paths, here and below, are taken
            from the current folder.
        results_dir, out_dir: the result cache; where the notebooks, figures, ``results.csv`` and the PDF go. None:
            the profile's own (``labsnn.lab.preflight.report_folders``).
        force: rebuild the PDF even when it was made from exactly these results, notebooks and code.
        scheduler, scheduler_file: train on a Dask cluster (``labsnn.running.executor``).
        workers: else train side by side in this many processes (``labsnn.running.executor``; auto: torch's threads).

    Returns:
        The PDF's path; without TeX, the HTML's.

    Raises:
        ValueError, FileNotFoundError, RuntimeError: a bad argument (``check_report``).
    """
    started = time.perf_counter()
    plan = check_report(profile, data_root, results_dir, out_dir, scheduler, scheduler_file, workers)
    no_pdf = missing_tex()
    if no_pdf:
        log.warning(f"{no_pdf}; the report is written as HTML only")
    with PeakMemory() as memory:
        data = load_data(profile, plan.data_root)
        context = LabContext(
            profile, data, plan.results_dir, progress=True, scheduler=plan.scheduler, workers=plan.workers
        )
        trained_since = time.time()
        decision = prepare(context)
        target = _make(plan, context, decision, force, memory, (started, trained_since), pdf=no_pdf is None)
    total = time.perf_counter() - started
    log.info(
        f"{target} (profile {profile}, data {data.source}): total wall time {total / 60:.1f} min, "
        f"peak memory {memory} (training, notebook kernels and TeX together, sampled every {memory.interval:g} s); "
        f"training per chapter: {training_summary(context, decision)}"
    )
    if no_pdf:
        log.warning(f"no PDF: {no_pdf}; open {target}")
    return target


def _make(
    plan: ReportPlan,
    context: LabContext,
    decision: Decision,
    force: bool,
    memory: PeakMemory,
    clocks: tuple[float, float],
    pdf: bool,
) -> Path:
    """Runs the notebooks on the trained cache and writes the table, the HTML and (with ``pdf``) the PDF, unless they
    are up to date; returns the PDF's path, or the HTML's without ``pdf``.

    ``clocks`` is ``(time.perf_counter() at the start, time.time() when training began)``: the wall time for the run
    summary, and the runs whose files are newer count as trained by this run.
    """
    started, trained_since = clocks
    profile, data, out_dir, results_dir = context.profile, context.data, plan.out_dir, context.results_dir
    planned = planned_results(context, decision)
    runs = (sum(path.stat().st_mtime >= trained_since for path in planned), len(planned))  # (trained now, all)
    digest = inputs_digest(profile, data.fingerprint, report_inputs(planned))
    target = out_dir / ("lab1_report.pdf" if pdf else "lab1_report.html")
    if not force and up_to_date(out_dir, digest, pdf):
        log.info(
            f"{target} is up to date (made from the same results, notebooks and labsnn code). Pass --force to rebuild it."
        )
        return target
    (out_dir / INPUTS_FILE).unlink(missing_ok=True)
    # the notebooks run in notebooks/: they read the data this process read, by its absolute path
    data_root = data.location if data.source == "mnist" else None
    parameters = {"profile": profile, "data_root": data_root, "results_dir": str(results_dir)}
    run_notebooks({**parameters, "figures_dir": str(plan.figures_dir)}, out_dir)
    export(results_dir, out_dir / RESULTS_TABLE, files=planned)
    seconds = time.perf_counter() - started
    _write_documents(assemble(context, decision, out_dir, seconds, memory, runs), out_dir, pdf)
    if not pdf and (out_dir / "lab1_report.pdf").exists():
        (out_dir / "lab1_report.pdf").unlink()  # made from other inputs: kept, it would pass for this report
        log.warning(f"removed {out_dir / 'lab1_report.pdf'}, which was made from other results or code")
    atomic.write_text(out_dir / INPUTS_FILE, digest + "\n")
    log.info(f"wrote {target}")
    return target
