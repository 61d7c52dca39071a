"""The report's notebooks run side by side (``labsnn.lab.notebooks``): every one executed,
and a failing one raised, not lost."""

import nbformat
import pytest

from labsnn.lab import notebooks


def _notebook(path, code: str) -> None:
    cell = nbformat.v4.new_code_cell("x = 0")
    cell.metadata["tags"] = ["parameters"]
    nb = nbformat.v4.new_notebook(cells=[cell, nbformat.v4.new_code_cell(code)])
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    nbformat.write(nb, path)


def test_every_notebook_runs_and_a_failure_is_raised(tmp_path, monkeypatch):
    sources = tmp_path / "sources"
    sources.mkdir()
    for name, code in (("a", "y = x + 1"), ("b", "z = x + 2"), ("c", "raise ValueError('broken cell')")):
        _notebook(sources / f"{name}.ipynb", code)
    monkeypatch.setattr(notebooks, "notebook_paths", lambda: sorted(sources.glob("*.ipynb")))
    out = tmp_path / "out"
    with pytest.raises(Exception, match="broken cell"):
        notebooks.run_notebooks({"x": 5}, out)
    monkeypatch.setattr(notebooks, "notebook_paths", lambda: sorted(sources.glob("[ab].ipynb")))
    notebooks.run_notebooks({"x": 5}, out)
    for name in ("a", "b"):
        executed = nbformat.read(out / f"{name}.ipynb", as_version=4)
        assert any("x = 5" in cell.source for cell in executed.cells)  # the injected parameters
