"""The build target and the thread count change no result of a real training run: at the
lab's sizes (T = 25, batch 128; a one-network run, a stack of three and one at T = 100),
histories and weights are identical, bit for bit, with the kernels built for ``native``,
``x86-64-v3`` (AVX2, no AVX-512) and ``x86-64-v2`` (SSE4.2), with 1 and 2 threads. Each
target builds into its own cache folder."""

import platform

import pytest
import torch

from labsnn.engine import kernel_build, kernels
from labsnn.running.config import RunConfig
from labsnn.running.train import train_stack

X86 = platform.machine() in ("x86_64", "AMD64")
BASE = RunConfig(T=25, epochs=1, n_train=1024, n_test=256, lr=5e-3, device="cpu")  # batch 128, the lab's T
RUNS = {
    "alone": [BASE],
    "stacked": [BASE.replace(beta=0.5, z=5.0), BASE.replace(v_th=0.5), BASE.replace(loss="cross_entropy_rate")],
    "T = 100": [BASE.replace(T=100, n_train=384, n_test=128)],
}


def _needs(flag: str):
    return pytest.mark.skipif(
        kernels.load() is None or not X86 or flag not in kernel_build.cpu_key(),
        reason=f"needs the compiled kernels and an x86 CPU with {flag}",
    )


def _histories(data, threads: int) -> dict[str, list]:
    before = torch.get_num_threads()
    torch.set_num_threads(threads)
    try:
        out = {}
        for name, configs in RUNS.items():
            results = train_stack(configs, data, progress=False)
            assert all(r.environment["backend"] == "compiled" for r in results)
            out[name] = [
                ([{k: v for k, v in row.items() if k != "epoch_time_s"} for row in r.epochs], r.state) for r in results
            ]
        return out
    finally:
        torch.set_num_threads(before)


def _same(a: dict, b: dict) -> bool:
    for name in RUNS:
        for (rows_a, state_a), (rows_b, state_b) in zip(a[name], b[name], strict=True):
            if rows_a != rows_b:
                return False
            if not all(torch.equal(state_a[k].view(torch.int32), state_b[k].view(torch.int32)) for k in state_a):
                return False
    return True


@pytest.fixture(scope="module")
def built(mnist, tmp_path_factory):
    """Histories with the kernels built for ``march`` at ``threads``: one build per target, each in its own
    cache folder, and one training pass per (target, threads)."""
    folder = tmp_path_factory.mktemp("kernels")
    made: dict[tuple[str, int], dict] = {}

    def run(march: str, threads: int) -> dict:
        if (march, threads) not in made:
            with pytest.MonkeyPatch.context() as patch:
                patch.setenv("LABSNN_KERNEL_CACHE", str(folder / march))
                patch.setenv("LABSNN_MARCH", march)
                patch.setattr(kernels, "_state", {})
                made[march, threads] = _histories(mnist, threads)
                assert kernels.build_info()["march"] == march
        return made[march, threads]

    return run


@pytest.mark.slow
@_needs("avx2")
def test_an_avx2_build_trains_what_the_native_build_trains_with_any_thread_count(built):
    native = built("native", 2)
    assert _same(native, built("native", 1))
    assert _same(native, built("x86-64-v3", 2))
    assert _same(native, built("x86-64-v3", 1))


@pytest.mark.slow
@_needs("sse4_2")
def test_an_sse_build_trains_what_the_native_build_trains(built):
    assert _same(built("native", 2), built("x86-64-v2", 2))
