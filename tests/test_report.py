import os
import time

import nbformat

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
    from labsnn.lab.report import INPUTS_FILE, NOTEBOOKS, inputs_digest, report_inputs, up_to_date

    results, out = tmp_path / "results", tmp_path / "reports"
    files = report_inputs("smoke", subset, results)
    runs = [path for path in files if path.parent == results]
    assert len(runs) == len(set(runs)) == len(set(lab.plan("smoke"))) and any(
        path.name == "4.3_flops.ipynb" for path in files
    )
    digest = inputs_digest("smoke", subset.fingerprint, files)
    assert digest == inputs_digest("smoke", subset.fingerprint, report_inputs("smoke", subset, results))
    assert digest != inputs_digest("full", subset.fingerprint, files)
    assert digest != inputs_digest("smoke", "other-data", files)

    results.mkdir()
    runs[0].write_text('{"epochs": []}')
    changed = inputs_digest("smoke", subset.fingerprint, files)
    assert changed != digest
    runs[0].write_text('{"epochs": [1]}')
    assert inputs_digest("smoke", subset.fingerprint, files) not in (digest, changed)

    out.mkdir()
    for name in ["lab1_report.pdf", "results.csv", *(f"{n}.ipynb" for n in NOTEBOOKS)]:
        (out / name).write_text("made")
    assert not up_to_date(out, digest)  # no record of its inputs
    (out / INPUTS_FILE).write_text(digest + "\n")
    assert up_to_date(out, digest) and not up_to_date(out, changed)
    (out / "results.csv").unlink()  # a deleted table is written again
    assert not up_to_date(out, digest)
    (out / "results.csv").write_text("made")
    (out / "lab1_report.pdf").unlink()
    assert not up_to_date(out, digest)
