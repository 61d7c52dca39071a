"""Pins a tiny seeded run's history to ``labsnn.running.results.RESULTS_VERSION``: a change that
moves the numbers (or adds or drops a per-epoch field) without bumping the version would
let old cached results pass for new ones, so it fails here.

After a deliberate change: bump ``RESULTS_VERSION`` (with its reason in the comment
above it), then re-pin with ``.venv/bin/python tests/test_results_version.py``.
"""

import json
import math
from pathlib import Path

import pytest

from labsnn.engine import kernels
from labsnn.running.config import RunConfig
from labsnn.running.data import load_subset
from labsnn.running.results import RESULTS_VERSION
from labsnn.running.train import train_stack

PINNED = Path(__file__).with_name("pinned_history.json")
TINY = RunConfig(T=8, epochs=1, n_train=64, n_test=32, batch_size=16, lr=1e-2, v_th=0.5, device="cpu")
RUNS = [TINY, TINY.replace(beta=0.5, z=5.0, loss="cross_entropy_rate")]  # stacked, as the report trains
DENSE = TINY.replace(encoder="repeat")  # the dense first layer's path, a stack of its own
MACHINE_FIELDS = ("epoch_time_s",)


def histories(data) -> list[list[dict]]:
    results = [*train_stack(RUNS, data, progress=False), *train_stack([DENSE], data, progress=False)]
    return [[{k: v for k, v in row.items() if k not in MACHINE_FIELDS} for row in r.epochs] for r in results]


def _same(a, b) -> bool:
    if isinstance(a, float) or isinstance(b, float):
        return (math.isnan(a) and math.isnan(b)) or math.isclose(a, b, rel_tol=1e-6, abs_tol=1e-9)
    return a == b


def test_numbers_change_only_with_a_results_version_bump():
    if kernels.load() is None:
        pytest.skip(
            "the pin holds the compiled kernels' numbers; without a C compiler the torch loops differ in rounding"
        )
    pinned = json.loads(PINNED.read_text())
    advice = (
        "bump labsnn.running.results.RESULTS_VERSION (say why beside it), then re-pin with "
        "`.venv/bin/python tests/test_results_version.py`"
    )
    assert pinned["results_version"] == RESULTS_VERSION, (
        f"RESULTS_VERSION is {RESULTS_VERSION} but the pin is of "
        f"version {pinned['results_version']}: re-pin with `.venv/bin/python tests/test_results_version.py`"
    )
    now = histories(load_subset())
    assert len(now) == len(pinned["histories"]), f"the pinned runs changed: {advice}"
    for run, (old, new) in enumerate(zip(pinned["histories"], now)):
        for epoch, (old_row, new_row) in enumerate(zip(old, new)):
            assert set(old_row) == set(new_row), f"per-epoch fields changed ({set(old_row) ^ set(new_row)}): {advice}"
            moved = [k for k in old_row if not _same(old_row[k], new_row[k])]
            assert not moved, f"run {run}, epoch {epoch + 1}: {moved} changed without a RESULTS_VERSION bump: {advice}"


if __name__ == "__main__":
    PINNED.write_text(
        json.dumps({"results_version": RESULTS_VERSION, "histories": histories(load_subset())}, indent=1) + "\n"
    )
    print(f"pinned version {RESULTS_VERSION} in {PINNED}")
