"""What a report is made from, and whether its PDF is up to date: a digest of its inputs, kept beside the PDF.

The inputs are every planned run's result, the notebooks and labsnn's own source.
"""

from __future__ import annotations

import hashlib
from pathlib import Path

from labsnn.lab.context import LabContext
from labsnn.lab.preflight import NOTEBOOKS, notebook_paths
from labsnn.lab.profiles import plan
from labsnn.lab.setup_search import Decision
from labsnn.running.results import result_path

RESULTS_TABLE = "results.csv"  # every run of the report, one row per run and epoch (labsnn.running.export)
INPUTS_FILE = "lab1_report.inputs"  # digest of what the PDF was made from, written after it


def report_inputs(planned: list[Path]) -> list[Path]:
    """Returns the files a report is made from.

    Args:
        planned: every planned run's result file (``planned_results``).

    Returns:
        Those results, the notebooks, and labsnn's own source (which draws the figures and writes the captions).
    """
    return [*planned, *notebook_paths(), *sorted(Path(__file__).parents[1].rglob("*.py"))]


def planned_results(context: LabContext, decision: Decision) -> list[Path]:
    """Returns the result file of every run the profile plans, with what 4.4's screening decided, sorted.

    Args:
        context: the lab (profile, data, cache); decision: what 4.4's screening decided.
    """
    configs = plan(context.profile, device=context.device, decision=decision)
    return sorted({result_path(context.results_dir, config, context.data) for config in configs})


def inputs_digest(profile: str, data_fingerprint: str, files: list[Path]) -> str:
    """Returns the SHA-256 (hex) of the profile, the data's fingerprint and each file's name and bytes.

    Args:
        profile, data_fingerprint: the profile and ``MNISTData.fingerprint``.
        files: the inputs; a missing one counts as missing, so creating it changes the digest.
    """
    digest = hashlib.sha256(f"{profile}\n{data_fingerprint}\n".encode())
    for path in files:
        digest.update(f"{path.name}\n".encode())
        digest.update(path.read_bytes() if path.exists() else b"<missing>")
        digest.update(b"\n")
    return digest.hexdigest()


def up_to_date(out_dir: Path, digest: str, pdf: bool = True) -> bool:
    """Tells whether the report's files exist and were made from ``digest``.

    Args:
        out_dir, digest: the report's folder and ``inputs_digest`` of the current inputs.
        pdf: whether the PDF is among the files (it is made only where TeX is installed).

    Returns:
        True when the HTML (and the PDF), the results table and the executed notebooks exist and ``INPUTS_FILE``
        holds ``digest``.
    """
    outputs = [out_dir / "lab1_report.html", out_dir / RESULTS_TABLE, out_dir / INPUTS_FILE]
    outputs += [out_dir / "lab1_report.pdf"] if pdf else []
    outputs += [out_dir / f"{name}.ipynb" for name in NOTEBOOKS]
    return all(path.exists() for path in outputs) and (out_dir / INPUTS_FILE).read_text().strip() == digest
