"""How ``labsnn.engine.kernels`` builds and finds its library: the CPU key, the compiler and the
``-march`` target in the cache name, fallback flags cached under their own name, a broken
cached file rebuilt, and ``build_info()``. Each test builds into its own cache folder."""

import ctypes
import json
import os
import platform
import shutil
import subprocess

import pytest
import torch

from labsnn.engine import backend, kernel_build, kernels, stack
from labsnn.engine.spike_events import draw_events
from labsnn.model import SNNStack, StackOutput

REAL_CC = os.environ.get("CC") or shutil.which("cc") or shutil.which("gcc")
needs_cc = pytest.mark.skipif(REAL_CC is None, reason="no C compiler: the kernels are not built here")
X86_FLAGS = "fpu vme de pse tsc msr pae mce cx8 apic sep mtrr sse sse2 ssse3 sse4_1 sse4_2 avx"
INFO_KEYS = {"backend_build", "march", "flags", "compiler", "library", "reason"}

#: csrc/input.c's SplitMix64 outputs, for the tests only
SPLITMIX64_FILL = kernels.c_function(
    "splitmix64_fill", None, [ctypes.c_uint64, ctypes.c_int64, ctypes.c_int64, ctypes.c_void_p]
)


def _x86(flags: str, cpus: int = 2, model: str = "AMD EPYC 9454 48-Core Processor") -> str:
    return "".join(
        f"processor\t: {n}\nvendor_id\t: AuthenticAMD\nmodel name\t: {model}\n"
        f"cpu MHz\t\t: {2400 + 37 * n}.000\nflags\t\t: {flags}\nbogomips\t: {4800 + n}.00\n\n"
        for n in range(cpus)
    )


def _arm(part: str, model: str | None = None) -> str:
    name = f"model name\t: {model}\n" if model else ""
    return "".join(
        f"processor\t: {n}\n{name}BogoMIPS\t: {50 + n}.00\n"
        "Features\t: fp asimd evtstrm aes pmull sha1 crc32\n"
        f"CPU implementer\t: 0x41\nCPU architecture: 8\nCPU variant\t: 0x1\nCPU part\t: {part}\n"
        "CPU revision\t: 1\n\n"
        for n in range(4)
    )


@pytest.fixture
def cache(monkeypatch, tmp_path):
    """A fresh cache folder and no library loaded in this process yet."""
    folder = tmp_path / "cache"
    monkeypatch.setenv("LABSNN_KERNEL_CACHE", str(folder))
    monkeypatch.delenv("LABSNN_MARCH", raising=False)
    monkeypatch.setattr(kernels, "_state", {})
    return folder


def _wrapper(tmp_path, version: str = "wrapped cc 1.0", refuse_openmp: bool = False):
    """A compiler script around the real one: its --version line is the file ``version``, it
    logs its arguments to ``calls``, and refuses -fopenmp while ``refuse-openmp`` exists."""
    folder = tmp_path / "wrapper"
    folder.mkdir(exist_ok=True)
    (folder / "version").write_text(version + "\n")
    if refuse_openmp:
        (folder / "refuse-openmp").touch()
    script = folder / "cc"
    script.write_text(
        f'#!/bin/sh\necho "$*" >> {folder}/calls\n'
        f'if [ "$1" = --version ]; then cat {folder}/version; exit 0; fi\n'
        f'if [ -e {folder}/refuse-openmp ]; then for a in "$@"; do\n'
        f'  [ "$a" = -fopenmp ] && echo "cc: -fopenmp: unsupported" >&2 && exit 1; done; fi\n'
        f'exec {REAL_CC} "$@"\n'
    )
    script.chmod(0o755)
    return script


def _compiles(script) -> list[str]:
    """The calls the wrapper saw that compiled (not --version)."""
    calls = script.parent / "calls"
    return [line for line in calls.read_text().splitlines() if line != "--version"] if calls.exists() else []


def test_x86_key_names_the_model_and_flags_once_and_nothing_that_changes():
    plain, with_avx2 = _x86(X86_FLAGS), _x86(X86_FLAGS + " avx2 fma")
    assert kernel_build.cpu_key(plain) == kernel_build.cpu_key(
        _x86(X86_FLAGS)
    )  # a function of the CPU's description alone
    assert kernel_build.cpu_key(plain) != kernel_build.cpu_key(with_avx2)
    assert kernel_build.cpu_key(plain) != kernel_build.cpu_key(_x86(X86_FLAGS, model="Intel(R) Xeon(R) Gold 6430"))
    key = kernel_build.cpu_key(plain)
    assert key.count("flags:") == 1 and key.count("model name:") == 1 and "avx" in key
    assert key == kernel_build.cpu_key(_x86(X86_FLAGS, cpus=16))  # one CPU's worth, whatever the clock and count
    assert "MHz" not in key and "bogomips" not in key and key.endswith(f"machine: {platform.machine()}")


def test_arm_key_names_the_core_without_a_model_name():
    a53, a72 = _arm("0xd03"), _arm("0xd08")
    assert kernel_build.cpu_key(a53) == kernel_build.cpu_key(_arm("0xd03")) != kernel_build.cpu_key(a72)
    key = kernel_build.cpu_key(a53)
    for line in ("CPU part: 0xd03", "CPU implementer: 0x41", "CPU architecture: 8", "CPU variant: 0x1", "Features: fp"):
        assert line in key
    assert key != kernel_build.cpu_key("") and "BogoMIPS" not in key
    # 32-bit ARM kernels also print a model name that does not tell the cores apart
    assert kernel_build.cpu_key(_arm("0xd03", "ARMv7 rev 4")) != kernel_build.cpu_key(_arm("0xd08", "ARMv7 rev 4"))


def test_key_without_cpuinfo_is_the_platform_names():
    assert kernel_build.cpu_key("") == f"processor: {platform.processor()}\nmachine: {platform.machine()}"


@needs_cc
def test_compiler_version_and_resolved_path_name_the_library(cache, monkeypatch, tmp_path):
    script = _wrapper(tmp_path, "wrapped cc 1.0")
    monkeypatch.setenv("CC", str(script))
    first = kernel_build.library_path()
    link = tmp_path / "cc-link"
    link.symlink_to(script)
    monkeypatch.setenv("CC", str(link))
    assert kernel_build.library_path() == first  # the same compiler by another name
    (script.parent / "version").write_text("wrapped cc 2.0\n")
    second = kernel_build.library_path()
    assert second != first and second.parent == first.parent == cache
    assert kernels.load() is not None
    info = kernels.build_info()
    assert info["library"] == second.name and info["compiler"] == f"{script} (wrapped cc 2.0)"


def test_a_bad_march_is_a_value_error_naming_the_variable(cache, monkeypatch):
    for bad in ("native -O0", "x86-64;rm", "armv8-a+crc"):
        monkeypatch.setenv("LABSNN_MARCH", bad)
        for call in (kernel_build.target_march, kernel_build.build, kernels.load):
            with pytest.raises(ValueError, match="LABSNN_MARCH") as error:
                call()
            assert "\n" not in str(error.value)
    assert kernels._state == {} and not cache.exists()  # neither built nor settled on the torch loops
    monkeypatch.setenv("LABSNN_MARCH", "")
    assert kernel_build.target_march() == "native"


def _small_network() -> list[torch.Tensor]:
    """Spikes, membranes and gradients of a small stack run through the compiled kernels."""
    generator = torch.Generator().manual_seed(0)
    images = torch.rand(24, 784, generator=generator) * (torch.rand(24, 784, generator=generator) < 0.4)
    spikes = draw_events(images, 9, torch.Generator().manual_seed(1))
    model = SNNStack(beta=[0.3, 0.9], v_th=[1.0, 0.5], z=[2.0, 5.0], seeds=[0, 1])
    out = StackOutput(*stack.forward_events(model.params(), spikes))
    (out.firing_rates() ** 2).sum().backward()
    assert kernels.runs_compiled(torch.device("cpu"))
    return [*out.layer_spikes, *out.membranes, *(p.grad for p in model.parameters())]


@needs_cc
@pytest.mark.skipif(
    platform.machine() not in ("x86_64", "AMD64") or "avx2" not in kernel_build.cpu_key(),
    reason="x86-64-v3 needs an x86 CPU with AVX2",
)
def test_an_x86_64_v3_build_is_its_own_library_with_the_native_results(cache, monkeypatch):
    native = kernel_build.library_path()
    native_results, native_info = _small_network(), kernels.build_info()
    monkeypatch.setenv("LABSNN_MARCH", "x86-64-v3")
    monkeypatch.setattr(kernels, "_state", {})
    v3 = kernel_build.library_path()
    v3_results, v3_info = _small_network(), kernels.build_info()
    assert v3 != native and v3.exists() and native.exists()
    assert (native_info["march"], v3_info["march"]) == ("native", "x86-64-v3")
    assert "-march=x86-64-v3" in v3_info["flags"] and v3_info["library"] == v3.name
    assert kernels.load()._name != str(native)
    for a, b in zip(native_results, v3_results, strict=True):
        assert torch.equal(a, b)


@needs_cc
def test_a_garbage_file_in_the_cache_is_rebuilt_and_loads(cache, capsys):
    target = kernel_build.library_path()
    cache.mkdir()
    target.write_bytes(b"not a shared library\n" * 10)
    library = kernels.load()
    assert library is not None and target.read_bytes()[:4] == b"\x7fELF"
    out = torch.empty(3, dtype=torch.int64)
    SPLITMIX64_FILL(1234567, 0, 3, out.data_ptr())
    assert int(out[0]) % 2**64 == 6457827717110365317  # the first output of Vigna's splitmix64.c
    assert kernels.build_info()["backend_build"] == "compiled"
    err = capsys.readouterr().err
    assert f"{target} does not load" in err and "rebuilding it" in err and "unavailable" not in err
    assert sorted(p.name for p in cache.iterdir()) == [target.name]  # no temporary file left behind


@needs_cc
def test_a_library_without_the_kernels_is_rebuilt(cache, tmp_path):
    target = kernel_build.library_path()
    cache.mkdir()
    source = tmp_path / "other.c"
    source.write_text("int unrelated(void) { return 1; }\n")
    subprocess.run([REAL_CC, "-shared", "-fPIC", str(source), "-o", str(target)], check=True)
    library = kernels.load()
    assert library is not None and library.lif_forward is not None
    assert kernels.build_info()["library"] == target.name and b"lif_forward" in target.read_bytes()


@needs_cc
def test_a_library_that_neither_loads_nor_rebuilds_leaves_the_torch_loops_and_says_why(
    cache, monkeypatch, tmp_path, capsys
):
    script = _wrapper(tmp_path)
    monkeypatch.setenv("CC", str(script))
    target = kernel_build.library_path()
    cache.mkdir()
    target.write_bytes(b"garbage")
    script.write_text(script.read_text().replace(f"exec {REAL_CC}", "echo 'cc: out of order' >&2; exit 1; exec"))
    assert kernels.load() is None and kernels.load() is None
    info = kernels.build_info()
    assert set(info) == INFO_KEYS and all(isinstance(v, str) for v in info.values())
    assert info["backend_build"] == "torch loops" and target.name in info["reason"]
    assert "cc: out of order" in info["reason"] and "does not load" in info["reason"]
    assert backend.resolve("auto") == "torch" and backend.resolve("auto") == "torch"
    said = [line for line in capsys.readouterr().err.splitlines() if "compiled kernels unavailable" in line]
    assert len(said) == 1 and said[0].startswith("labsnn: ") and "cc: out of order" in said[0]


@needs_cc
def test_a_fallback_build_is_cached_under_its_own_flags_and_a_new_compiler_retries(cache, monkeypatch, tmp_path):
    script = _wrapper(tmp_path, "wrapped cc 1.0", refuse_openmp=True)
    monkeypatch.setenv("CC", str(script))
    full = kernel_build.library_path()
    assert kernels.load() is not None
    info = kernels.build_info()
    assert "-fopenmp" not in info["flags"] and "-march=native" in info["flags"]
    fallback = cache / info["library"]
    assert fallback != full and fallback.exists() and not full.exists()
    assert fallback == kernel_build.library_path(info["flags"].split(), info["compiler"])
    assert "-fopenmp: unsupported" in (cache / f"{full.name}.failed").read_text()
    assert json.loads(fallback.with_suffix(".json").read_text())["flags"] == info["flags"]
    assert [("-fopenmp" in call) for call in _compiles(script)] == [True, False]

    monkeypatch.setattr(kernels, "_state", {})  # a later process: neither flags compiled again
    assert kernels.load() is not None and kernels.build_info()["library"] == fallback.name
    assert len(_compiles(script)) == 2

    (script.parent / "refuse-openmp").unlink()  # the same path, a new compiler that takes OpenMP
    (script.parent / "version").write_text("wrapped cc 2.0\n")
    monkeypatch.setattr(kernels, "_state", {})
    assert kernels.load() is not None
    info = kernels.build_info()
    assert "-fopenmp" in info["flags"] and info["library"] == kernel_build.library_path().name != fallback.name
    assert len(_compiles(script)) == 3


@needs_cc
def test_the_full_flags_library_is_preferred_to_a_cached_fallback(cache, monkeypatch, tmp_path):
    script = _wrapper(tmp_path, refuse_openmp=True)
    monkeypatch.setenv("CC", str(script))
    assert kernels.load() is not None
    fallback = cache / kernels.build_info()["library"]
    shutil.copy(fallback, kernel_build.library_path())  # as though built with the full flags after all
    monkeypatch.setattr(kernels, "_state", {})
    assert kernels.load() is not None
    assert kernels.build_info()["library"] == kernel_build.library_path().name != fallback.name
    assert "-fopenmp" in kernels.build_info()["flags"]


@needs_cc
def test_build_info_of_a_compiled_build(cache):
    info = kernels.build_info()
    assert set(info) == INFO_KEYS and all(isinstance(v, str) for v in info.values())
    assert info["backend_build"] == "compiled" and info["reason"] == "" and info["march"] == "native"
    assert info["library"] == kernel_build.library_path().name and (cache / info["library"]).exists()
    assert info["compiler"].startswith(os.path.realpath(shutil.which(REAL_CC) or REAL_CC) + " (")
    assert info["flags"].split() == kernel_build.candidate_flags("native")[0]


def test_build_info_without_a_compiler(cache, monkeypatch, tmp_path):
    monkeypatch.setenv("CC", str(tmp_path / "no-such-compiler"))
    info = kernels.build_info()
    assert set(info) == INFO_KEYS and info["backend_build"] == "torch loops"
    assert "no-such-compiler" in info["reason"] and info["library"] == ""


def test_cc_may_name_a_launcher_and_a_compiler(cache, monkeypatch):
    if shutil.which("env") is None or shutil.which("gcc") is None:
        pytest.skip("needs env and gcc")
    monkeypatch.setenv("CC", "env gcc")  # as "ccache gcc" would be written
    assert kernels.load() is not None
    assert kernels.build_info()["compiler"].startswith(os.path.realpath(shutil.which("gcc")))
