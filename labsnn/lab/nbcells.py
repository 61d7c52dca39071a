"""Which notebook cells nbval compares: those the report leaves out of the PDF and whose
outputs alone the committed notebooks keep (``tools/strip_notebooks.py``)."""

from __future__ import annotations

CHECK_MARKER = "NBVAL_CHECK_OUTPUT"
CHECK_TAG = "nbval-check-output"


def is_checked(cell) -> bool:
    """True for a code cell whose outputs nbval compares.

    Args:
        cell: an nbformat cell.

    Returns:
        Whether it has a comment line that is exactly the marker (as nbval reads it), or
        nbval's tag.
    """
    if cell.cell_type != "code":
        return False
    for line in cell.source.splitlines():
        line = line.strip()
        if line.startswith("#") and line.lstrip("#").strip() == CHECK_MARKER:
            return True
    return CHECK_TAG in cell.metadata.get("tags", [])
