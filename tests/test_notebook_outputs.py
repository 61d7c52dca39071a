"""Committed notebooks keep outputs only in the cells nbval checks (tools/strip_notebooks.py)."""

import importlib.util
import json

import nbformat
import pytest

from conftest import REPO

_spec = importlib.util.spec_from_file_location("strip_notebooks", REPO / "tools" / "strip_notebooks.py")
strip_notebooks = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(strip_notebooks)

NOTEBOOKS = sorted((REPO / "notebooks").glob("*.ipynb"))


def test_the_four_notebooks_are_found():
    assert [path.name for path in NOTEBOOKS] == [
        "4.1_hyperparameters.ipynb",
        "4.2_loss_functions.ipynb",
        "4.3_flops.ipynb",
        "4.4_training_setup.ipynb",
    ]


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda path: path.name)
def test_committed_notebook_keeps_only_checked_outputs(path):
    found = strip_notebooks.file_violations(path)
    assert not found, (
        f"{path.relative_to(REPO)} is committed with outputs or run metadata that nbval does not check "
        f"({len(found)} problem(s)):\n  "
        + "\n  ".join(found)
        + f"\nFix: python tools/strip_notebooks.py notebooks/{path.name}   (from {REPO}), then commit the notebook."
    )


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda path: path.name)
def test_committed_notebook_keeps_its_parameters_cell_and_checked_cells(path):
    notebook = nbformat.read(path, as_version=4)
    assert sum("parameters" in cell.metadata.get("tags", []) for cell in notebook.cells) == 1  # papermill needs it
    checked = [cell for cell in notebook.cells if strip_notebooks.is_checked(cell)]
    assert checked and all(cell.outputs and cell.execution_count is not None for cell in checked)


def _made_up_notebook():
    v4 = nbformat.v4
    png = "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNkYPhfDwAChwGA60e6kgAAAABJRU5ErkJggg=="
    figure = v4.new_output("display_data", data={"image/png": png, "text/plain": "<Figure size 640x480 with 1 Axes>"})
    timing = {
        "iopub.execute_input": "2026-11-30T08:50:53.324043Z",
        "shell.execute_reply": "2026-11-30T08:50:53.330719Z",
    }
    notebook = v4.new_notebook(
        cells=[
            v4.new_markdown_cell("# Made up", metadata={"tags": []}),
            v4.new_code_cell(
                "profile = 'smoke'", execution_count=1, metadata={"tags": ["parameters"], "execution": timing}
            ),
            v4.new_code_cell("profile = 'full'", execution_count=2, metadata={"tags": ["injected-parameters"]}),
            v4.new_code_cell(
                "plot(); print('trained')",
                execution_count=3,
                metadata={"execution": timing},
                outputs=[figure, v4.new_output("stream", name="stdout", text="trained\n")],
            ),
            v4.new_code_cell(
                "# NBVAL_CHECK_OUTPUT\nann_flops()",
                execution_count=4,
                metadata={"execution": timing},
                outputs=[v4.new_output("execute_result", data={"text/plain": "15900"}, execution_count=4)],
            ),
        ]
    )
    notebook.metadata["papermill"] = {"parameters": {"profile": "full"}, "duration": 12.5}
    notebook.metadata["kernelspec"] = {"display_name": "Python 3", "language": "python", "name": "python3"}
    return notebook


def test_violations_find_unchecked_outputs_and_run_metadata():
    found = strip_notebooks.violations(_made_up_notebook())
    assert "cell 3: 2 output(s) in a cell not marked NBVAL_CHECK_OUTPUT" in found
    assert "cell 3: execution_count 3 in a cell not marked NBVAL_CHECK_OUTPUT" in found
    assert "cell 2: papermill's 'injected-parameters' cell" in found
    assert "notebook metadata: 'papermill' changes on every run" in found
    assert {f"cell {i}: metadata 'execution' changes on every run" for i in (1, 3, 4)} <= set(found)
    assert "cell 0: metadata 'tags' changes on every run" in found  # papermill's empty list
    # The checked cell's output is fine; its count is papermill's, shifted by the injected cell.
    assert [item for item in found if item.startswith("cell 4") and "metadata" not in item] == [
        "cell 4 (NBVAL_CHECK_OUTPUT): execution_count 4, not 3 as a fresh run numbers it"
    ]


def test_strip_keeps_checked_outputs_tags_and_sources_only():
    notebook = _made_up_notebook()
    before = nbformat.writes(notebook)
    stripped = strip_notebooks.strip(notebook)
    assert nbformat.writes(notebook) == before  # pure: the argument is not changed
    assert strip_notebooks.violations(stripped) == []
    assert [cell.source for cell in stripped.cells] == [
        "# Made up",
        "profile = 'smoke'",
        "plot(); print('trained')",
        "# NBVAL_CHECK_OUTPUT\nann_flops()",
    ]
    parameters, unchecked, checked = stripped.cells[1:]
    assert parameters.metadata == {"tags": ["parameters"]} and parameters.execution_count is None
    assert unchecked.outputs == [] and unchecked.execution_count is None and unchecked.metadata == {}
    assert checked.execution_count == 3 and [
        (out.execution_count, out.data["text/plain"]) for out in checked.outputs
    ] == [(3, "15900")]
    assert stripped.cells[0].metadata == {}
    assert "papermill" not in stripped.metadata and stripped.metadata["kernelspec"]["name"] == "python3"
    assert strip_notebooks.strip(stripped) == stripped
    nbformat.validate(stripped)


def test_images_and_unrun_checked_cells_are_violations_strip_cannot_fix():
    notebook = _made_up_notebook()
    checked = notebook.cells[4]
    checked.outputs.append(
        nbformat.v4.new_output("display_data", data={"image/png": "iVBORw0KGgo=", "text/plain": "<Figure>"})
    )
    found = strip_notebooks.violations(strip_notebooks.strip(notebook))
    assert len(found) == 1 and found[0].startswith("cell 3 (NBVAL_CHECK_OUTPUT): image output (image/png)")
    checked.outputs, checked.execution_count = [], None  # nbval would skip comparing it
    assert strip_notebooks.violations(strip_notebooks.strip(notebook)) == [
        "cell 3 (NBVAL_CHECK_OUTPUT): no execution_count: nbval skips comparing it "
        "(or fails, 'Unrun reference cell has outputs'): execute the notebook, then strip it"
    ]


def test_check_reports_one_line_per_notebook_naming_the_command(tmp_path, capsys):
    dirty, clean = tmp_path / "dirty.ipynb", tmp_path / "clean.ipynb"
    notebook = _made_up_notebook()
    nbformat.write(notebook, dirty)
    nbformat.write(strip_notebooks.strip(notebook), clean)
    assert strip_notebooks.main(["--check", str(dirty), str(clean)]) == 1
    lines = capsys.readouterr().out.splitlines()
    assert len(lines) == 1 and "dirty.ipynb" in lines[0] and "python tools/strip_notebooks.py" in lines[0]
    text = dirty.read_text()
    assert strip_notebooks.main(["--check", str(clean)]) == 0 and dirty.read_text() == text  # --check writes nothing

    assert strip_notebooks.main([str(dirty)]) == 0
    assert dirty.read_text() == clean.read_text()
    assert strip_notebooks.main(["--check", str(dirty)]) == 0


def test_check_finds_a_notebook_not_written_as_nbformat_writes_it(tmp_path):
    path = tmp_path / "indented.ipynb"
    path.write_text(json.dumps(json.loads(nbformat.writes(strip_notebooks.strip(_made_up_notebook()))), indent=2))
    assert strip_notebooks.file_violations(path) == [
        "the file is not laid out as nbformat.write writes it (indent 1, sorted keys)"
    ]


def test_checked_cells_are_the_ones_nbval_compares():
    v4 = nbformat.v4
    assert strip_notebooks.is_checked(v4.new_code_cell("x = 1\n  #  NBVAL_CHECK_OUTPUT  \nx"))
    assert strip_notebooks.is_checked(v4.new_code_cell("x", metadata={"tags": ["nbval-check-output"]}))
    assert not strip_notebooks.is_checked(v4.new_code_cell("print('NBVAL_CHECK_OUTPUT')"))  # not a marker comment
    assert not strip_notebooks.is_checked(v4.new_code_cell("# NBVAL_CHECK_OUTPUT: not exactly the marker"))
    assert not strip_notebooks.is_checked(v4.new_markdown_cell("# NBVAL_CHECK_OUTPUT"))
