"""The lab's experiments, as the notebooks use them (``from labsnn import lab``).

Submodules: run planning (``profiles``, ``preflight``), findings and tables read from results (``findings``,
``discussion``), the seed's claims (``claims``), figures (``figures``, ``raster``), the report (``report`` and its
helpers) and section 4.4's search for the seed's training setup (``seed_grid``, ``seed_setup``, ``seed_screening``,
``seed_study``, ``seed_findings``, ``seed_explain``). They hold no training logic; the notebooks hold none either.
"""

from __future__ import annotations

import importlib
from typing import Any

# imported on first use: the command line's checks import labsnn.lab.preflight before torch
_EXPORTS = {
    "CLAIMS": "labsnn.lab.claims",
    "LAB_ANN_FLOPS": "labsnn.lab.claims",
    "VERDICT_RULE": "labsnn.lab.claims",
    "Claim": "labsnn.lab.claims",
    "discuss_subsection": "labsnn.lab.claims",
    "flops_discussion": "labsnn.lab.claims",
    "reproduction_table": "labsnn.lab.claims",
    "plot_flops": "labsnn.lab.figures",
    "plot_setup_accuracy": "labsnn.lab.figures",
    "plot_setup_diagnostics": "labsnn.lab.figures",
    "plot_sweep": "labsnn.lab.figures",
    "plot_sweep_diagnostics": "labsnn.lab.figures",
    "plot_sweep_pair": "labsnn.lab.figures",
    "save_figure": "labsnn.lab.figures",
    "CHANCE": "labsnn.lab.findings",
    "LEARNED": "labsnn.lab.findings",
    "accuracy_table": "labsnn.lab.findings",
    "caption": "labsnn.lab.findings",
    "config_table": "labsnn.lab.findings",
    "dataset_table": "labsnn.lab.findings",
    "describe_sweep": "labsnn.lab.findings",
    "diagnostics_caption": "labsnn.lab.findings",
    "energy_table": "labsnn.lab.findings",
    "final_accuracy": "labsnn.lab.findings",
    "flops_caption": "labsnn.lab.findings",
    "flops_terms": "labsnn.lab.findings",
    "markdown_table": "labsnn.lab.findings",
    "number_table": "labsnn.lab.findings",
    "outcomes": "labsnn.lab.findings",
    "FLOPS_T": "labsnn.lab.profiles",
    "PROFILES": "labsnn.lab.profiles",
    "SECTION_LOSSES": "labsnn.lab.profiles",
    "base_config": "labsnn.lab.profiles",
    "chapter_plans": "labsnn.lab.profiles",
    "check_data_root": "labsnn.lab.profiles",
    "flops_config": "labsnn.lab.profiles",
    "load_data": "labsnn.lab.profiles",
    "notebook_folders": "labsnn.lab.profiles",
    "plan": "labsnn.lab.profiles",
    "prepare": "labsnn.lab.profiles",
    "profile": "labsnn.lab.profiles",
    "run_section": "labsnn.lab.profiles",
    "section_grids": "labsnn.lab.profiles",
    "check_grid": "labsnn.lab.profiles",
    "profile_sizes": "labsnn.lab.profiles",
    "training_seconds": "labsnn.lab.profiles",
    "training_summary": "labsnn.lab.profiles",
    "summarize": "labsnn.running.summary",
}
_MODULES = (
    "claims",
    "discussion",
    "figures",
    "findings",
    "host",
    "nbcells",
    "notebooks",
    "preflight",
    "profiles",
    "raster",
    "report",
    "report_inputs",
    "report_summary",
    "seed_explain",
    "seed_findings",
    "seed_grid",
    "seed_screening",
    "seed_setup",
    "seed_study",
)
__all__ = sorted([*_EXPORTS, *_MODULES])


def __getattr__(name: str) -> Any:
    """Imports an exported name's module, or a submodule, on first use.

    Args:
        name: an entry of ``__all__``.

    Returns:
        The exported object or the submodule.

    Raises:
        AttributeError: a name ``labsnn.lab`` does not export.
    """
    if name in _EXPORTS:
        return getattr(importlib.import_module(_EXPORTS[name]), name)
    if name in _MODULES:
        return importlib.import_module(f"labsnn.lab.{name}")
    raise AttributeError(f"module 'labsnn.lab' has no attribute {name!r}")


def __dir__() -> list[str]:
    """Returns ``__all__``: the exported names and the submodules."""
    return __all__
