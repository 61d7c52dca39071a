import os
import re
import time
from pathlib import Path

import nbformat
import pytest

from conftest import write_tiny_mnist
from labsnn.lab.report import _section_cells, _unnumbered


def test_report_headings_keep_the_labs_numbers_only():
    text = "# 4.1 Hyperparameter tuning\n\nText with a # inside.\n\n### The formula term by term  \nmore"
    assert _unnumbered(text) == (
        "# 4.1 Hyperparameter tuning {.unnumbered}\n\nText with a # inside.\n\n"
        "### The formula term by term {.unnumbered}\nmore"
    )


def test_peak_memory_adds_up_this_process_and_its_running_children():
    import subprocess
    import sys

    from labsnn.lab.host import PeakMemory, tree_rss_bytes

    before = tree_rss_bytes(os.getpid())
    assert before and before > 10 * 2**20
    with PeakMemory(interval=0.1) as memory:
        block = b"x" * (400 * 2**20)  # every page written
        child = "import time; b = b'x' * (300 * 2**20); print('ready', flush=True); time.sleep(2)"
        with subprocess.Popen([sys.executable, "-c", child], stdout=subprocess.PIPE, text=True) as process:
            assert process.stdout.readline() == "ready\n"
            time.sleep(0.5)  # a few samples while both hold their memory
        del block
    assert memory.peak_bytes >= before + 600 * 2**20  # more than either holds alone (400 or 300 MiB)
    assert str(memory).endswith(" GB")


def test_report_sections_drop_parameters_checked_cells_and_stderr(tmp_path):
    v4 = nbformat.v4
    figure = v4.new_output("display_data", data={"text/plain": "<Figure 1>"})
    cells = [
        v4.new_code_cell("profile = 'full'", metadata={"tags": ["parameters"]}),
        v4.new_markdown_cell("# 4.1 Hyperparameter tuning"),
        v4.new_markdown_cell("Edit the next cell.", metadata={"tags": ["how-to-run"]}),
        v4.new_code_cell(
            "data = load()",
            outputs=[
                v4.new_output("stream", name="stderr", text="FallbackDataWarning: ..."),
                v4.new_output("stream", name="stdout", text="loaded"),
                figure,
            ],
        ),
        v4.new_code_cell(
            "# NBVAL_CHECK_OUTPUT\nann_flops()", outputs=[v4.new_output("execute_result", data={"text/plain": "15900"})]
        ),
    ]
    nbformat.write(v4.new_notebook(cells=cells), tmp_path / "section.ipynb")
    kept = _section_cells(tmp_path / "section.ipynb")
    assert [cell.source for cell in kept] == ["# 4.1 Hyperparameter tuning", "data = load()"]
    assert [out.get("name", out.output_type) for out in kept[1].outputs] == ["stdout", "display_data"]


def test_report_is_up_to_date_only_for_the_inputs_it_was_made_from(tmp_path, subset):
    from labsnn import lab
    from labsnn.lab.preflight import NOTEBOOKS
    from labsnn.lab.report_inputs import INPUTS_FILE, inputs_digest, planned_results, report_inputs, up_to_date

    results, out = tmp_path / "results", tmp_path / "reports"
    context = lab.LabContext("smoke", subset, results)
    decision = lab.setup_search.decide(context)
    files = report_inputs(planned_results(context, decision))
    runs = [path for path in files if path.parent == results]
    assert len(runs) == len(set(runs)) == len(set(lab.plan("smoke"))) and any(
        path.name == "4.3_flops.ipynb" for path in files
    )
    digest = inputs_digest("smoke", subset.fingerprint, files)
    assert digest == inputs_digest("smoke", subset.fingerprint, report_inputs(planned_results(context, decision)))
    assert digest != inputs_digest("full", subset.fingerprint, files)
    assert digest != inputs_digest("smoke", "other-data", files)

    results.mkdir()
    runs[0].write_text('{"epochs": []}')
    changed = inputs_digest("smoke", subset.fingerprint, files)
    assert changed != digest
    runs[0].write_text('{"epochs": [1]}')
    assert inputs_digest("smoke", subset.fingerprint, files) not in (digest, changed)

    out.mkdir()
    for name in ["lab1_report.html", "results.csv", *(f"{n}.ipynb" for n in NOTEBOOKS)]:
        (out / name).write_text("made")
    assert not up_to_date(out, digest, pdf=False)  # no record of its inputs
    (out / INPUTS_FILE).write_text(digest + "\n")
    assert up_to_date(out, digest, pdf=False) and not up_to_date(out, changed, pdf=False)
    assert not up_to_date(out, digest)  # made without TeX: with TeX, the PDF is made
    (out / "lab1_report.pdf").write_text("made")
    assert up_to_date(out, digest)
    (out / "results.csv").unlink()  # a deleted table is written again
    assert not up_to_date(out, digest)
    (out / "results.csv").write_text("made")
    (out / "lab1_report.pdf").unlink()
    assert not up_to_date(out, digest)


class _Stopped(Exception):
    """Raised where the report would start its notebooks."""


@pytest.mark.parametrize("how", ["flag", "environment", "default ./data"])
def test_the_notebooks_get_the_data_root_resolved_where_the_command_ran(tmp_path, monkeypatch, how):
    from labsnn import lab
    from labsnn.lab import report
    from labsnn.running.paths import REPOSITORY

    root = tmp_path / ("data" if how == "default ./data" else "mnist")
    write_tiny_mnist(root)
    (tmp_path / "here").mkdir()
    monkeypatch.chdir(tmp_path if how == "default ./data" else tmp_path / "here")
    monkeypatch.delenv("LABSNN_DATA", raising=False)
    if how == "environment":
        monkeypatch.setenv("LABSNN_DATA", "../mnist")
    handed = []

    def notebooks(parameters, out_dir):
        handed.append(parameters)
        raise _Stopped

    monkeypatch.setattr(report, "missing_tex", lambda: None)
    monkeypatch.setattr(report, "prepare", lambda *args, **kwargs: None)  # nothing to train: the notebook stage only
    monkeypatch.setattr(report, "planned_results", lambda *args: [])
    monkeypatch.setattr(report, "report_inputs", lambda *args: [])
    monkeypatch.setattr(report, "run_notebooks", notebooks)
    with pytest.raises(_Stopped):
        report.build_report("full", data_root="../mnist" if how == "flag" else None, results_dir="r", out_dir="o")
    assert handed[0]["data_root"] == str(root.resolve())
    assert handed[0]["results_dir"] == str(Path("r").absolute())
    monkeypatch.chdir(REPOSITORY / "notebooks")  # where papermill starts each notebook
    assert lab.load_data("full", handed[0]["data_root"]).n_train == 30


def test_each_profile_reports_into_its_own_folders():
    from labsnn.lab.preflight import check_report

    full, smoke = check_report("full", None), check_report("smoke", None)
    assert (full.results_dir, full.out_dir) == (Path("results").absolute(), Path("reports").absolute())
    assert (smoke.results_dir, smoke.out_dir) == (Path("results/smoke").absolute(), Path("reports/smoke").absolute())


@pytest.mark.slow
def test_the_smoke_report_is_built_from_the_smoke_cache(subset, tmp_path, monkeypatch, capfd):
    """``build_report`` end to end on the smoke cache the notebooks use, as on a machine without TeX: notebooks, run
    summary, reproduction table, results table and the HTML report; then the PDF from the same report where TeX is."""
    import shutil

    from conftest import SMOKE_RESULTS
    from labsnn import lab
    from labsnn.lab import report

    context = lab.LabContext("smoke", subset, SMOKE_RESULTS)
    decision = lab.prepare(context)  # what nbval reads back later
    monkeypatch.setattr(report, "missing_tex", lambda: "the PDF needs xelatex and pandoc, not found on PATH")
    out = tmp_path / "reports"
    target = report.build_report("smoke", results_dir=SMOKE_RESULTS, out_dir=out, workers=1)
    assert target == out / "lab1_report.html" and not (out / "lab1_report.pdf").exists()
    assert "without encryption" not in capfd.readouterr().err  # the notebook kernels' warning
    assembled = nbformat.read(out / "lab1_report.ipynb", as_version=4)
    text = "\n".join(cell.source for cell in assembled.cells if cell.cell_type == "markdown")
    assert assembled.metadata["title"].startswith("Lab 1: Spiking Neural Networks")
    for heading in ("# 4.1", "# 4.2", "# 4.3", "# 4.4", "# Reproduction of the source report's claims"):
        assert heading in text, heading
    planned = len(report.planned_results(context, decision))
    assert f"| runs | {planned}: " in text and "| profile | smoke |" in text and "Not full MNIST" in text
    assert f"python -m labsnn verify --results {SMOKE_RESULTS}" in text
    claims = re.search(r"(\d+) of (\d+) measured claims reproduced", text)
    assert claims and int(claims[1]) <= int(claims[2]) <= 17
    assert len(list((out / "figures").glob("*.png"))) >= 10
    table = (out / "results.csv").read_text().splitlines()
    assert len(table) > planned and "config_hash" in table[0]
    html = target.read_text()
    assert "<title>Lab 1: Spiking Neural Networks" in html and "Reproduction of the source report" in html
    assert "| runs |" not in html and "<table" in html and f">{planned}: " in html
    assert html.count('src="data:image/png;base64,') >= 10 and "Run summary" in html
    assert not re.search(r'<img[^>]+src="(?!data:)', html), "an image that is not embedded"
    assert report.up_to_date(out, (out / report.INPUTS_FILE).read_text().strip(), pdf=False)
    if shutil.which("xelatex") and shutil.which("pandoc"):
        report._write_documents(assembled, out, pdf=True)
        assert (out / "lab1_report.pdf").read_bytes().startswith(b"%PDF-")


def test_without_tex_the_report_says_so_before_any_data_and_drops_a_stale_pdf(tmp_path, monkeypatch, caplog):
    from labsnn.lab import report

    out = tmp_path / "reports"
    out.mkdir()
    (out / "lab1_report.pdf").write_bytes(b"%PDF- of other results")
    events = []
    monkeypatch.setattr(report, "missing_tex", lambda: "the PDF needs xelatex, not found on PATH")
    monkeypatch.setattr(report, "load_data", lambda *args: events.append(caplog.text) or pytest.fail("stop"))
    with caplog.at_level("WARNING", logger="labsnn"), pytest.raises(pytest.fail.Exception):
        report.build_report("smoke", results_dir=tmp_path / "results", out_dir=out)
    assert "the PDF needs xelatex" in events[0] and "written as HTML only" in events[0]
    monkeypatch.undo()
    monkeypatch.setattr(report, "run_notebooks", lambda parameters, out_dir: None)
    monkeypatch.setattr(report, "export", lambda *args, **kwargs: None)
    monkeypatch.setattr(report, "assemble", lambda *args: nbformat.v4.new_notebook())
    monkeypatch.setattr(report, "_write_documents", lambda notebook, out_dir, pdf: None)
    monkeypatch.setattr(report, "prepare", lambda *args, **kwargs: None)
    monkeypatch.setattr(report, "planned_results", lambda *args: [])
    monkeypatch.setattr(report, "report_inputs", lambda *args: [])
    monkeypatch.setattr(report, "missing_tex", lambda: "the PDF needs xelatex, not found on PATH")
    assert report.build_report("smoke", results_dir=tmp_path / "results", out_dir=out).name == "lab1_report.html"
    assert not (out / "lab1_report.pdf").exists()


def test_the_report_command_exits_3_when_only_the_html_is_written(tmp_path, monkeypatch):
    from labsnn.cli import main
    from labsnn.lab import report

    for written, status in (("lab1_report.html", 3), ("lab1_report.pdf", 0)):
        monkeypatch.setattr(report, "build_report", lambda *args, written=written, **kwargs: tmp_path / written)
        assert (
            main(["report", "--profile", "smoke", "--out", str(tmp_path / "o"), "--results", str(tmp_path)]) == status
        )
