"""Section 4.4 as one object for the notebook and the report: the screening's decision and both setups' runs.

labsnn's runs of 4.1-4.3 and the seed-like winner's runs of the same feed the reproduction table, which scores the
seed's claims under both.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import pandas as pd

from labsnn.lab import profiles, seed_screening
from labsnn.lab.claims import reproduction_table
from labsnn.lab.seed_setup import first_class_share
from labsnn.running.data import MNISTData

SECTIONS = ("4.1", "4.2", "4.3")


@dataclass
class Study:
    """What 4.4 found.

    Attributes:
        decision: the screenings, their calibration and the winner (``seed_screening.Decision``).
        labsnn, seed_like: the raw frames of 4.1-4.3 (section -> tidy results) under labsnn's setup and under the
            winner's (None without a winner).
        tie: the accuracy a diverged run of 4.1-4.3 is scored at (``seed_setup.first_class_share``).
    """

    decision: seed_screening.Decision
    labsnn: dict[str, pd.DataFrame]
    seed_like: dict[str, pd.DataFrame] | None
    tie: float

    @property
    def winner(self) -> str | None:
        """The seed-like setup's name, or None."""
        return self.decision.winner

    def scored_seed_like(self) -> dict[str, pd.DataFrame] | None:
        """Returns the winner's frames as the reproduction table reads them (``scored``), or None without a winner."""
        return None if self.seed_like is None else {k: scored(f, self.tie) for k, f in self.seed_like.items()}

    def table(self) -> pd.DataFrame:
        """Returns the reproduction table: every claim under labsnn's setup and under the winner's."""
        return reproduction_table(self.labsnn, self.scored_seed_like())


def scored(frame: pd.DataFrame, tie: float) -> pd.DataFrame:
    """Returns ``frame`` with a diverged run's NaN accuracy at ``tie``.

    Args:
        frame, tie: tidy results; the accuracy to score them at (a NaN network leaves every output silent, and code
            without a divergence check reads the first class's share).
    """
    lost = frame["status"].eq("diverged") & frame["test_acc"].isna()
    return frame.assign(test_acc=frame["test_acc"].where(~lost, tie))


def study(
    profile_name: str,
    data: MNISTData,
    results_dir: str | Path,
    device: str = "auto",
    progress: bool = False,
    scheduler: str | None = None,
    labsnn: dict[str, pd.DataFrame] | None = None,
) -> Study:
    """Runs section 4.4's study, training what the cache lacks in the order it is decided.

    First the screening (and its fallback when the calibration disagrees), then the winner's runs of 4.1-4.3;
    ``labsnn.lab.prepare`` trains all of it beforehand for the report.

    Args:
        profile_name, data, results_dir: the profile, its data and the result cache.
        device, progress, scheduler: where and how runs train.
        labsnn: 4.1-4.3's frames under labsnn's setup when the caller has them already; None reads them.

    Returns:
        The ``Study``.
    """
    decision = seed_screening.decide(profile_name, data, results_dir, True, device, progress, scheduler)

    def frames(setup: dict | None) -> dict[str, pd.DataFrame]:
        return {
            section: profiles.run_section(
                section,
                profile_name,
                data,
                results_dir,
                device=device,
                progress=progress,
                scheduler=scheduler,
                setup=setup,
            )
            for section in SECTIONS
        }

    seed_like = None if decision.fields is None else frames(decision.fields)
    tie = first_class_share(data, profiles.profile(profile_name)["n_test"])
    return Study(decision, labsnn if labsnn is not None else frames(None), seed_like, tie)
