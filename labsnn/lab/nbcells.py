"""Which notebook cells nbval compares, one rule for the report and ``tools/strip_notebooks.py``.

The report leaves those cells out of the PDF; the committed notebooks keep their outputs alone.
"""

from __future__ import annotations

CHECK_MARKER = "NBVAL_CHECK_OUTPUT"
CHECK_TAG = "nbval-check-output"


def is_checked(cell) -> bool:
    """Tells whether nbval compares a cell's outputs.

    Args:
        cell: an nbformat cell.

    Returns:
        True for a code cell with a comment line that is exactly the marker (as nbval reads it), or nbval's tag.
    """
    if cell.cell_type != "code":
        return False
    for line in cell.source.splitlines():
        line = line.strip()
        if line.startswith("#") and line.lstrip("#").strip() == CHECK_MARKER:
            return True
    return CHECK_TAG in cell.metadata.get("tags", [])
