"""The lab's experiments, as the notebooks use them (``from labsnn import lab``):
profiles and run planning (``profiles``), findings and tables read from results
(``findings``), the seed's claims (``claims``), figures (``figures``) and section 4.4's
search for the seed's training setup (``seed_setup``, and ``seed_findings`` for reading it). They hold no
training logic; the notebooks hold none either."""

from labsnn.lab.claims import CLAIMS, LAB_ANN_FLOPS, VERDICT_RULE, Claim, discuss_subsection, flops_discussion, reproduction_table
from labsnn.lab.figures import (
    plot_flops,
    plot_setup_accuracy,
    plot_setup_diagnostics,
    plot_sweep,
    plot_sweep_diagnostics,
    save_figure,
)
from labsnn.lab.findings import (
    CHANCE,
    LEARNED,
    accuracy_table,
    caption,
    config_table,
    dataset_table,
    describe_sweep,
    diagnostics_caption,
    energy_table,
    final_accuracy,
    flops_caption,
    flops_terms,
    markdown_table,
    number_table,
    outcomes,
)
from labsnn.lab.profiles import (
    FLOPS_T,
    PROFILES,
    SECTION_LOSSES,
    base_config,
    chapter_plans,
    check_data_root,
    flops_config,
    load_data,
    notebook_folders,
    plan,
    prepare,
    profile,
    run_section,
    section_grids,
    training_seconds,
    training_summary,
)
from labsnn.sweep import summarize

__all__ = [
    "CHANCE", "CLAIMS", "FLOPS_T", "LAB_ANN_FLOPS", "LEARNED", "PROFILES", "SECTION_LOSSES", "VERDICT_RULE", "Claim",
    "accuracy_table", "base_config", "chapter_plans", "training_seconds", "training_summary", "diagnostics_caption", "discuss_subsection", "flops_discussion", "number_table", "plot_sweep_diagnostics",
    "caption", "check_data_root", "config_table", "dataset_table", "describe_sweep", "energy_table", "final_accuracy",
    "flops_caption", "flops_config", "flops_terms", "load_data", "markdown_table", "notebook_folders", "outcomes", "plan", "plot_flops",
    "plot_setup_accuracy", "plot_setup_diagnostics", "plot_sweep", "prepare", "profile", "reproduction_table", "run_section", "save_figure", "section_grids", "summarize",
]
