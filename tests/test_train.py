import math

import pytest
import torch

from labsnn.running.config import RunConfig
from labsnn.running.results import write_result
from labsnn.running.train import resolve_device, train, train_stack

SMOKE = RunConfig(T=8, epochs=2, n_train=300, n_test=200, batch_size=50, lr=5e-3)


def _without_time(result):
    """The history without what describes the machine's work: wall time and stack size."""
    return [{k: v for k, v in row.items() if k not in ("epoch_time_s", "stacked_runs")} for row in result.epochs]


def test_same_config_and_seed_give_identical_history(subset):
    a = train(SMOKE, subset, progress=False)
    b = train(SMOKE, subset, progress=False)
    assert _without_time(a) == _without_time(b)
    assert len(a.epochs) == 2 and a.status == "ok"
    c = train(SMOKE.replace(seed=1), subset, progress=False)
    assert _without_time(c) != _without_time(a)


#: Seventeen networks, as many as the report's largest stack, that differ in every stackable field.
MATES = (
    [{"z": z} for z in (0.5, 2.0, 5.0, 10.0, 25.0)]
    + [{"beta": beta} for beta in (0.3, 0.5, 0.7, 0.9)]
    + [{"v_th": v_th} for v_th in (0.5, 0.75, 1.5, 2.0)]
    + [
        {"loss": "cross_entropy_rate"},
        {"surrogate": "scaled_fast_sigmoid"},
        {"loss": "cross_entropy_rate", "z": 5.0},
        {"beta": 0.5, "surrogate": "scaled_fast_sigmoid"},
    ]
)


def _recorded(result, folder):
    """Every number a cached result records (less wall time and stack size) and its weights' SHA-256."""
    write_result(folder / f"{len(list(folder.iterdir()))}.json", result)
    return _without_time(result), result.status, result.test_step_rates, result.weights_sha256


@pytest.mark.slow
@pytest.mark.parametrize(
    "optimizer",
    [{"lr": 1e-3}, {"lr": 1e-2}, {"optimizer": "sgd", "lr": 0.1, "momentum": 0.9}],
    ids=["adam-1e-3", "adam-1e-2", "sgd-momentum"],
)
def test_a_run_trained_in_a_stack_equals_the_run_trained_alone(subset, tmp_path, optimizer):
    runs = [RunConfig(T=25, epochs=2, **optimizer, **mate) for mate in MATES]
    seventeen = train_stack(runs, subset, progress=False)
    twelve = train_stack(runs[:12], subset, progress=False)
    learning = [result.status == "ok" and result.epochs[-1]["test_acc"] > 0.25 for result in seventeen]
    assert sum(learning) >= 8 and all(learning[k] for k in (0, 7, 16)), "too few networks learn to show a difference"
    for k in (0, 7, 16):
        alone = _recorded(train(runs[k], subset, progress=False), tmp_path)
        assert _recorded(seventeen[k], tmp_path) == alone, f"network {k} of 17 differs from the run alone"
        if k < 12:
            assert _recorded(twelve[k], tmp_path) == alone, f"network {k} of 12 differs from the run alone"


def test_history_has_every_metric(subset):
    row = train(SMOKE.replace(epochs=1), subset, progress=False).rows()[0]
    for column in (
        "train_loss",
        "train_acc",
        "test_acc",
        "rate_train_l0",
        "rate_test_l1",
        "snn_flops_train",
        "snn_flops_test",
        "ann_flops",
        "epoch_time_s",
        "data_source",
        "n_train",
        "beta",
        "config_hash",
    ):
        assert column in row
    assert row["ann_flops"] == 15900
    assert 0 < row["snn_flops_test"] < 8 * 15900


@pytest.mark.parametrize("change", [{"beta": 5.0}, {"v_th": 10.0}])
def test_lab_extremes_finish_with_a_recorded_outcome(subset, change):
    result = train(SMOKE.replace(**change), subset, progress=False)
    assert result.status in ("ok", "diverged")
    assert len(result.epochs) >= 1


def test_overflowing_membrane_is_recorded_as_diverged(subset):
    result = train(SMOKE.replace(beta=5.0, T=80, v_th=1000.0), subset, progress=False)
    assert result.status == "diverged" and result.diverged_epoch == 1
    assert math.isnan(result.epochs[-1]["test_acc"])


def test_cuda_asked_without_cuda_is_a_clear_error(monkeypatch):
    monkeypatch.setattr("torch.cuda.is_available", lambda: False)
    with pytest.raises(ValueError, match="CUDA is not available"):
        resolve_device("cuda")
    assert resolve_device("auto").type == "cpu"


def test_one_epoch_on_2000_images_learns(mnist):
    config = RunConfig(epochs=1, n_train=2000, n_test=1000, batch_size=32, lr=1e-2)
    result = train(config, mnist, progress=False)
    assert result.epochs[0]["test_acc"] > 0.6


def test_nonblank_columns_drops_exactly_the_pixels_black_in_every_image():
    from labsnn.running.batches import nonblank_columns

    images = torch.zeros(3, 8)
    images[0, 1], images[2, 5], images[1, 6] = 0.2, 1.0, 0.7
    kept, columns = nonblank_columns(images)
    assert columns.tolist() == [1, 5, 6]
    assert torch.equal(kept, images[:, [1, 5, 6]])


def test_stored_weights_give_back_the_recorded_test_accuracy(tmp_path, subset):
    """``load_model`` rebuilds the trained network from the cache: evaluated on the same
    test spikes it scores exactly what its last epoch recorded."""
    from labsnn.running.batches import BatchEngine
    from labsnn.running.results import load_model, result_path, weights_path
    from labsnn.running.sweep import run_configs
    from labsnn.running.train import _evaluate

    config = SMOKE.replace(beta=0.5, z=5.0)
    (result,) = run_configs([config], tmp_path, subset, progress=False)
    path = result_path(tmp_path, config, subset)
    assert weights_path(path).stat().st_size < 64 * 1024
    model = load_model(path)
    data = subset.subset(config.n_train, config.n_test)
    engine = BatchEngine(config, model.stack, [config.loss], torch.device("cpu"), torch.empty(config.T * 256 * 784))
    assert float(_evaluate(engine, data.test_images, data.test_labels).accuracy()[0]) == result.epochs[-1]["test_acc"]
    weights_path(path).unlink()
    assert _without_time(run_configs([config], tmp_path, subset, progress=False)[0]) == _without_time(
        result
    )  # retrained
