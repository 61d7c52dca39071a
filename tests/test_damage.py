"""Damaged results: weights that are missing, truncated or rewritten are found by their
checksum, reported in one line and recomputed; ``load_model`` names the file."""

import json
import shutil

import pytest

from conftest import SMOKE_RESULTS
from labsnn.running.config import RunConfig
from labsnn.running.results import ResultError, load_model, read_result, result_path, weights_path
from labsnn.running.sweep import run_configs

TINY = RunConfig(T=2, epochs=1, n_train=100, n_test=50)


@pytest.fixture
def cached(tmp_path, subset):
    """Two tiny runs in a result cache, and their result files."""
    configs = [TINY, TINY.replace(beta=0.5)]
    run_configs(configs, tmp_path, subset, progress=False)
    return configs, [result_path(tmp_path, c, subset) for c in configs]


@pytest.mark.parametrize("damage", ["five bytes", "one byte flipped", "missing"])
def test_damaged_weights_are_reported_and_recomputed_by_the_sweep(
    cached, subset, tmp_path, count_trained, caplog, damage
):
    configs, paths = cached
    weights = weights_path(paths[0])
    if damage == "missing":
        weights.unlink()
    elif damage == "five bytes":
        weights.write_bytes(b"12345")
    else:
        raw = bytearray(weights.read_bytes())
        raw[len(raw) // 2] ^= 0xFF
        weights.write_bytes(bytes(raw))
    with caplog.at_level("WARNING", logger="labsnn"):
        assert read_result(paths[0], configs[0]) is None
    assert weights.name in caplog.text and ("missing" in caplog.text or "damaged" in caplog.text)
    run_configs(configs, tmp_path, subset, progress=False)
    assert count_trained == [configs[0]]  # only the damaged run trains again
    assert load_model(paths[0]) is not None and read_result(paths[0], configs[0]) is not None


def test_a_result_made_before_checksums_is_checked_by_loading_its_weights(cached, caplog):
    configs, paths = cached
    payload = json.loads(paths[0].read_text())
    payload.pop("weights_sha256")
    paths[0].write_text(json.dumps(payload))
    assert read_result(paths[0], configs[0]) is not None
    weights_path(paths[0]).write_bytes(b"garbage")
    with caplog.at_level("WARNING", logger="labsnn"):
        assert read_result(paths[0], configs[0]) is None
    assert "cannot be read" in caplog.text


def test_load_model_names_the_file_and_what_is_wrong(cached, tmp_path):
    _, paths = cached
    with pytest.raises(ResultError, match=r"result file .*nowhere\.json does not exist"):
        load_model(tmp_path / "nowhere.json")
    weights_path(paths[0]).write_bytes(b"12345")
    with pytest.raises(
        ResultError, match=rf"{paths[0].name}: its weights file {weights_path(paths[0]).name} is damaged"
    ):
        load_model(paths[0])
    weights_path(paths[1]).unlink()
    with pytest.raises(ResultError, match="is missing"):
        load_model(paths[1])
    paths[1].write_text("{not json")
    with pytest.raises(ResultError, match="cannot be read"):
        load_model(paths[1])


@pytest.mark.slow
def test_the_smoke_report_recomputes_the_damaged_weights_files_only(subset, tmp_path, count_trained, caplog):
    """What ``labsnn report --profile smoke`` trains first (``lab.prepare``), on a copy of
    the smoke cache in which two weights files, of different stacks, were overwritten with five bytes."""
    from labsnn import lab

    lab.prepare(lab.LabContext("smoke", subset, SMOKE_RESULTS))  # the notebooks' own cache: later read back
    shutil.copytree(SMOKE_RESULTS, tmp_path / "cache", ignore=shutil.ignore_patterns("figures"))
    planned = list({config.config_hash: config for config in lab.plan("smoke")}.values())
    damaged = [planned[0], planned[-1]]
    assert damaged[0].stack_key() != damaged[1].stack_key()
    for config in damaged:
        weights_path(result_path(tmp_path / "cache", config, subset)).write_bytes(b"12345")
    count_trained.clear()
    with caplog.at_level("WARNING", logger="labsnn"):
        lab.prepare(lab.LabContext("smoke", subset, tmp_path / "cache"))
    assert sorted(config.config_hash for config in count_trained) == sorted(config.config_hash for config in damaged)
    assert caplog.text.count("; recomputing") == len(damaged)
    for config in lab.plan("smoke"):
        assert load_model(result_path(tmp_path / "cache", config, subset)) is not None
