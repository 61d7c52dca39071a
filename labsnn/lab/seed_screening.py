"""Section 4.4's screening, calibrated before it ranks, and the decision the result cache holds.

labsnn's own setup must get the same verdicts on the seed's six failure claims under the screening as under 4.1's
full protocol (the calibration); a screening that disagrees ranks nothing, and the setups are screened again on
the next budget (4.1's own protocol, which agrees by construction: labsnn's runs there are 4.1's). The winner of
the screening that ranks is retrained on all of 4.1-4.3 (``labsnn.lab.profiles`` plans those runs).
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd

from labsnn.lab import seed_setup
from labsnn.lab.seed_grid import LABSNN_SETUP, SETUP_PROFILES, screenings, setups
from labsnn.running.config import RunConfig
from labsnn.running.data import MNISTData


@dataclass
class Screening:
    """One screening of the setups.

    Attributes:
        budget: its entry of ``seed_grid.screenings``.
        last: its final runs (``seed_setup.final_runs``).
        scores: the setups' scores (``seed_setup.score``).
        calibration: labsnn's verdicts under it and under 4.1's protocol (``calibration``).
    """

    budget: dict[str, Any]
    last: pd.DataFrame
    scores: pd.DataFrame
    calibration: pd.DataFrame

    @property
    def agrees(self) -> bool:
        """Whether labsnn's verdicts agree on every failure claim, so that the screening ranks."""
        return bool(self.calibration["same verdict"].all())


@dataclass
class Decision:
    """What the result cache decides for one profile.

    Attributes:
        profile: the profile.
        reference: labsnn's final runs under 4.1's protocol, or None while they are missing.
        tried: the screenings tried, in order.
        needed: every budget the decision has used or needs next (a missing run ends it early).
    """

    profile: str
    reference: pd.DataFrame | None = None
    tried: list[Screening] = field(default_factory=list)
    needed: list[dict[str, Any]] = field(default_factory=list)

    @property
    def ranking(self) -> Screening | None:
        """The screening that ranks: the first whose calibration agrees, or None."""
        return next((s for s in self.tried if s.agrees), None)

    @property
    def shown(self) -> Screening | None:
        """The screening the chapter's scores and figures show: the one that ranks, else the last tried."""
        return self.ranking or (self.tried[-1] if self.tried else None)

    @property
    def winner(self) -> str | None:
        """The seed-like setup of the ranking screening (``seed_setup.best_setup``), or None."""
        return None if self.ranking is None else seed_setup.best_setup(self.ranking.scores)

    @property
    def fields(self) -> dict[str, Any] | None:
        """The config fields the winner sets, or None without one."""
        return None if self.winner is None else setups(self.profile)[self.winner]


def calibration(screened: pd.DataFrame, reference: pd.DataFrame) -> pd.DataFrame:
    """Compares labsnn's verdicts on the failure claims under a screening and under 4.1's protocol.

    Args:
        screened, reference: labsnn's final runs under the screening and under 4.1's protocol.

    Returns:
        One row per failure claim: ``seed's claim``, ``screening``, ``reproduced (screening)``, ``4.1 protocol``,
        ``reproduced (4.1 protocol)``, ``same verdict``.
    """
    under, full = seed_setup.claim_values(screened), seed_setup.claim_values(reference)
    rows = []
    for claim in seed_setup.FAILURE_CLAIMS:
        first, second = seed_setup.holds(claim, under[claim]), seed_setup.holds(claim, full[claim])
        rows.append(
            {
                "seed's claim": claim,
                "screening": under[claim],
                "reproduced (screening)": first,
                "4.1 protocol": full[claim],
                "reproduced (4.1 protocol)": second,
                "same verdict": first == second,
            }
        )
    return pd.DataFrame(rows)


def screen(
    last: pd.DataFrame, reference: pd.DataFrame, budget: dict[str, Any], learns: float = seed_setup.DEFAULT_LEARNS
) -> Screening:
    """Scores a screening and calibrates it.

    Args:
        last, budget: the screening's final runs and its budget.
        reference: labsnn's final runs under 4.1's protocol.
        learns: the accuracy at which a default run counts as learning.

    Returns:
        The ``Screening``.
    """
    own = last[last["setup"] == LABSNN_SETUP]
    return Screening(budget, last, seed_setup.score(last, learns), calibration(own, reference))


def reference_grid(profile_name: str) -> dict[str, dict[str, Any]]:
    """Returns a grid of labsnn's own setup alone: name -> fields.

    Args:
        profile_name: the profile.
    """
    return {LABSNN_SETUP: setups(profile_name)[LABSNN_SETUP]}


def first_plan(profile_name: str, device: str = "auto") -> list[RunConfig]:
    """Returns the runs 4.4 needs before anything is decided.

    Args:
        profile_name, device: the profile and the runs' device.

    Returns:
        labsnn's diagnostic runs under 4.1's protocol (4.1's own runs, where its grid has them), then the declared
        screening's.
    """
    protocol = screenings(profile_name)[-1]
    reference = [
        c for *_, c in seed_setup.labelled_configs(profile_name, protocol, device, reference_grid(profile_name))
    ]
    return reference + seed_setup.grid_plan(profile_name, device)


_decisions: dict[tuple, tuple[tuple, Decision]] = {}  # by the cache's state: planning asks the same question many times


def _cache_state(results_dir: str | Path) -> tuple:
    """The result files in ``results_dir``: names, sizes and modification times (a new or rewritten run changes it)."""
    folder = Path(results_dir)
    if not folder.is_dir():
        return ()
    entries = [e for e in os.scandir(folder) if e.name.endswith(".json")]
    return tuple(sorted((e.name, e.stat().st_size, e.stat().st_mtime_ns) for e in entries))


def decide(
    profile_name: str,
    data: MNISTData,
    results_dir: str | Path,
    train: bool = False,
    device: str = "auto",
    progress: bool = False,
    scheduler: str | None = None,
) -> Decision:
    """Screens until a screening's calibration agrees.

    Args:
        profile_name, data, results_dir: the profile, its data and the result cache.
        train: train what is missing; else read the cache only, stopping at the first missing run.
        device, progress, scheduler: as ``seed_setup.run_setups`` takes them.

    Returns:
        The ``Decision`` (the same object again while the cache is unchanged: read it, do not change it).
    """
    key = (profile_name, data.fingerprint, str(Path(results_dir).resolve()), train, device)
    known = _decisions.get(key)
    if known is not None and known[0] == _cache_state(results_dir):
        return known[1]
    decision = _decide(profile_name, data, results_dir, train, device, progress, scheduler)
    _decisions[key] = (_cache_state(results_dir), decision)
    return decision


def _decide(profile_name, data, results_dir, train, device, progress, scheduler) -> Decision:
    """``decide``, computed."""

    def frame(budget: dict, grid: dict | None = None) -> pd.DataFrame | None:
        if train:
            return seed_setup.run_setups(profile_name, data, results_dir, device, progress, scheduler, budget, grid)
        return seed_setup.read_setups(profile_name, data, results_dir, budget, grid)

    decision = Decision(profile_name)
    budgets = screenings(profile_name)
    reference = frame(budgets[-1], reference_grid(profile_name))
    if reference is None:
        return decision
    decision.reference = seed_setup.final_runs(reference, seed_setup.first_class_share(data, budgets[-1]["n_test"]))
    for budget in budgets:
        decision.needed.append(budget)
        screened = frame(budget)
        if screened is None:
            break
        last = seed_setup.final_runs(screened, seed_setup.first_class_share(data, budget["n_test"]))
        decision.tried.append(screen(last, decision.reference, budget, SETUP_PROFILES[profile_name]["default_learns"]))
        if decision.tried[-1].agrees:
            break
    return decision


def screening_plan(decision: Decision, device: str = "auto") -> list[RunConfig]:
    """Returns every run of the screenings ``decision`` has used or needs next.

    Args:
        decision, device: the ``Decision`` and the runs' device.
    """
    return [c for budget in decision.needed for c in seed_setup.grid_plan(decision.profile, device, budget)]
