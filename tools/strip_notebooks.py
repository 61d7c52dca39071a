"""Keep the committed notebooks reviewable as text.

    python tools/strip_notebooks.py [--check] [NOTEBOOK ...]   (default: notebooks/*.ipynb)

The rule: a committed notebook keeps outputs only in the cells nbval compares (a
``# NBVAL_CHECK_OUTPUT`` comment line, or the ``nbval-check-output`` tag; nbval runs
with ``--nbval-lax``). Every other code cell has no outputs and no execution count.
Checked cells keep their outputs and their execution count (nbval skips the comparison
of a cell whose reference has no execution count), and may not hold images. Metadata
that changes on every run (nbclient's ``execution`` timestamps, papermill's records)
is dropped, and so is a cell papermill injected; tags (``parameters``) stay.

Without ``--check`` the notebooks are rewritten to the rule with ``nbformat.write``
(indent 1, as Jupyter writes them). With ``--check`` nothing is written: one line per
notebook that breaks the rule, naming the command that fixes it; exit status 1.
Checked cells' execution counts are numbered as a fresh top-to-bottom run numbers them
(nbval does not compare them), so rerunning a notebook, with papermill too, and
stripping it again leaves no diff. ``strip`` and ``violations`` are pure functions on
``nbformat`` notebooks (``tests/test_notebook_outputs.py`` loads this file by path).
"""

from __future__ import annotations

import argparse
import copy
import sys
from pathlib import Path

import nbformat

from labsnn.lab.nbcells import CHECK_MARKER, CHECK_TAG, is_checked  # noqa: F401 (one rule for the report and this tool)

REPOSITORY = Path(__file__).resolve().parents[1]
COMMAND = "python tools/strip_notebooks.py"

#: Notebook metadata that a run rewrites (papermill's parameters and timings, widget state).
TRANSIENT_NOTEBOOK_METADATA = ("papermill", "execution", "widgets")
#: Cell metadata that a run rewrites (nbclient's iopub timestamps, papermill's, the ExecuteTime extension's).
TRANSIENT_CELL_METADATA = ("execution", "papermill", "ExecuteTime")
INJECTED_TAG = "injected-parameters"  # the cell papermill adds after the parameters cell


def _is_image(mimetype: str) -> bool:
    return mimetype.startswith("image/") or mimetype == "application/pdf"


def _injected(cell) -> bool:
    return INJECTED_TAG in cell.metadata.get("tags", [])


def _counts(notebook) -> dict[int, int]:
    """Cell index -> the execution count a fresh top-to-bottom run gives each code cell
    (its place among the code cells, papermill's injected cell left out)."""
    code = [i for i, cell in enumerate(notebook.cells) if cell.cell_type == "code" and not _injected(cell)]
    return {index: count for count, index in enumerate(code, start=1)}


def _transient_metadata(cell) -> list[str]:
    keys = [key for key in TRANSIENT_CELL_METADATA if key in cell.metadata]
    if cell.metadata.get("tags", None) == []:  # papermill adds an empty list to every cell
        keys.append("tags")
    return keys


def strip(notebook):
    """A copy of ``notebook`` under the rule (the argument is not changed). Checked cells
    keep their outputs, images included (removing one would make nbval fail, so an image
    there stays a violation to fix by hand); their execution counts are numbered as a
    fresh run numbers them, so that a rerun (papermill's included) leaves no diff."""
    notebook = copy.deepcopy(notebook)
    for key in TRANSIENT_NOTEBOOK_METADATA:
        notebook.metadata.pop(key, None)
    counts = _counts(notebook)
    kept = []
    for index, cell in enumerate(notebook.cells):
        if _injected(cell):
            continue
        kept.append(cell)
        for key in _transient_metadata(cell):
            del cell.metadata[key]
        if cell.cell_type != "code":
            continue
        if not is_checked(cell):
            cell.outputs = []
            cell.execution_count = None
        elif cell.execution_count is not None:
            cell.execution_count = counts[index]
            for out in cell.outputs:
                if out.output_type == "execute_result":
                    out.execution_count = counts[index]
    notebook.cells = kept
    return notebook


def violations(notebook) -> list[str]:
    """What in ``notebook`` breaks the rule, one sentence each; [] when nothing does."""
    found = [
        f"notebook metadata: {key!r} changes on every run"
        for key in TRANSIENT_NOTEBOOK_METADATA
        if key in notebook.metadata
    ]
    counts = _counts(notebook)
    for index, cell in enumerate(notebook.cells):
        where = f"cell {index}"
        if _injected(cell):
            found.append(f"{where}: papermill's {INJECTED_TAG!r} cell")
            continue
        transient = _transient_metadata(cell)
        if transient:
            found.append(f"{where}: metadata {', '.join(map(repr, transient))} changes on every run")
        if cell.cell_type != "code":
            continue
        if not is_checked(cell):
            if cell.outputs:
                found.append(f"{where}: {len(cell.outputs)} output(s) in a cell not marked {CHECK_MARKER}")
            if cell.execution_count is not None:
                found.append(f"{where}: execution_count {cell.execution_count} in a cell not marked {CHECK_MARKER}")
            continue
        images = sorted({mime for out in cell.outputs for mime in out.get("data", {}) if _is_image(mime)})
        if images:
            found.append(
                f"{where} ({CHECK_MARKER}): image output ({', '.join(images)}); a checked cell may not "
                "hold an image: show it from an unchecked cell (fix by hand)"
            )
        numbers = {cell.execution_count} | {
            out.execution_count for out in cell.outputs if out.output_type == "execute_result"
        }
        if cell.execution_count is not None and numbers != {counts[index]}:
            found.append(
                f"{where} ({CHECK_MARKER}): execution_count {cell.execution_count}, not {counts[index]} "
                "as a fresh run numbers it"
            )
        if cell.execution_count is None:
            found.append(
                f"{where} ({CHECK_MARKER}): no execution_count: nbval skips comparing it "
                "(or fails, 'Unrun reference cell has outputs'): execute the notebook, then strip it"
            )
    return found


def written(notebook) -> str:
    """The text ``nbformat.write`` writes for ``notebook``."""
    text = nbformat.writes(notebook)
    return text if text.endswith("\n") else text + "\n"


def file_violations(path: Path) -> list[str]:
    """``violations`` of the notebook at ``path``, and whether the file differs from what
    this tool writes for it (another JSON layout)."""
    text = Path(path).read_text(encoding="utf-8")
    notebook = nbformat.reads(text, as_version=4)
    found = violations(notebook)
    if not found and written(strip(notebook)) != text:
        found.append("the file is not laid out as nbformat.write writes it (indent 1, sorted keys)")
    return found


def _shown(path: Path) -> str:
    try:
        return str(Path(path).resolve().relative_to(Path.cwd()))
    except ValueError:
        return str(path)


def advice(path: Path, found: list[str]) -> str:
    """One line: the notebook, what is wrong (the first few), and the command that fixes it."""
    order = ("fix by hand", "execute the notebook", "output(s)", "execution_count", "papermill", "metadata")
    ranked = sorted(found, key=lambda item: next((i for i, word in enumerate(order) if word in item), len(order)))
    head = "; ".join(ranked[:3]) + (f"; and {len(found) - 3} more" if len(found) > 3 else "")
    fix = f"run `{COMMAND} {_shown(path)}`"
    if any("execute the notebook" in item for item in found):
        fix = (
            f"run `jupyter nbconvert --to notebook --execute --inplace {_shown(path)}`, then `{COMMAND} {_shown(path)}`"
        )
    if any("fix by hand" in item for item in found):
        fix += ", and fix by hand what it still reports"
    return f"{_shown(path)}: {len(found)} problem(s) with committed outputs: {head}. To fix: {fix}."


def default_paths() -> list[Path]:
    return sorted((REPOSITORY / "notebooks").glob("*.ipynb"))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__.split("\n\n")[1], formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("paths", nargs="*", type=Path, help="notebooks (default: notebooks/*.ipynb of this checkout)")
    parser.add_argument("--check", action="store_true", help="write nothing; report violations, exit 1 if any")
    args = parser.parse_args(argv)
    paths = args.paths or default_paths()
    status = 0
    for path in paths:
        if args.check:
            found = file_violations(path)
            if found:
                print(advice(path, found))
                status = 1
            continue
        text = path.read_text(encoding="utf-8")
        stripped = strip(nbformat.reads(text, as_version=4))
        if written(stripped) != text:
            nbformat.write(stripped, path)
            print(f"{_shown(path)}: stripped")
        left = violations(stripped)
        if left:  # only what strip cannot decide (images in checked cells, unrun checked cells)
            print(f"{_shown(path)}: still {len(left)} problem(s), to fix by hand: " + "; ".join(left))
            status = 1
    return status


if __name__ == "__main__":
    sys.exit(main())
