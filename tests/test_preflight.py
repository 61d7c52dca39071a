"""A fresh machine and bad invocations: every check runs before any set-up, data or
training, in one line and exit 2; nothing is installed; the environment is recorded."""

import json
import os
import re
import subprocess
import sys
import time

import pytest

from conftest import REPO, write_tiny_mnist
from labsnn.lab.host import missing_tex
from labsnn.running import provenance
from labsnn.running.config import RunConfig
from labsnn.running.results import read_result, result_path
from labsnn.running.train import train_stack


@pytest.fixture
def bare_path(tmp_path):
    """A PATH with no TeX and an ``apt-get`` that records being called (and does nothing)."""
    folder = tmp_path / "bin"
    folder.mkdir()
    marker = tmp_path / "apt-get-was-called"
    (folder / "apt-get").write_text(f"#!/bin/sh\ntouch {marker}\nexit 1\n")
    (folder / "apt-get").chmod(0o755)
    return folder, marker


def _labsnn(args, path_dir, cwd):
    env = {**os.environ, "PATH": str(path_dir)}
    env.pop("LABSNN_DATA", None)
    started = time.perf_counter()
    done = subprocess.run(
        [sys.executable, "-m", "labsnn", *args], cwd=cwd, env=env, capture_output=True, text=True, timeout=120
    )
    return done, time.perf_counter() - started


@pytest.mark.parametrize("case", ["full", "smoke", "full without MNIST"])
def test_a_report_without_tex_checks_first_and_installs_nothing(tmp_path, bare_path, case):
    """Without TeX on PATH: a bad data root is one line and exit 2 before any work; good arguments pass the checks
    (the report would then be written as HTML); nothing is installed or created."""
    folder, marker = bare_path
    profile = case.split()[0]
    args = ["report", "--profile", profile, "--out", str(tmp_path / "out"), "--results", str(tmp_path / "res")]
    if case == "full":
        write_tiny_mnist(tmp_path / "mnist")
        args += ["--data-root", str(tmp_path / "mnist")]
    elif case == "full without MNIST":
        args += ["--data-root", str(tmp_path / "nowhere")]
    done, _ = _labsnn([*args, "--check-only"] if case != "full without MNIST" else args, folder, tmp_path)
    assert len(done.stderr.strip().splitlines()) == 1 and "Traceback" not in done.stderr, done.stderr
    if case == "full without MNIST":
        assert done.returncode == 2 and "MNIST not found" in done.stderr
    else:
        assert done.returncode == 0 and "report arguments checked" in done.stderr, done.stderr
    assert not marker.exists() and not (tmp_path / "out").exists() and not (tmp_path / "res").exists()


def test_missing_tex_names_what_is_missing_and_how_to_install_it(monkeypatch, tmp_path):
    monkeypatch.setenv("PATH", str(tmp_path))
    assert re.search("xelatex and pandoc.*apt-get install texlive-xetex", missing_tex())
    (tmp_path / "xelatex").write_text("#!/bin/sh\n")
    (tmp_path / "xelatex").chmod(0o755)
    assert "needs pandoc, not found" in missing_tex()
    (tmp_path / "pandoc").write_text("#!/bin/sh\n")
    (tmp_path / "pandoc").chmod(0o755)
    assert missing_tex() is None


def test_the_command_line_checks_before_it_imports_torch():
    script = (
        "import sys\nfrom labsnn.cli import main\n"
        "for args in (['train', '--T', '0'], ['train', '--sizes', '784-10-5'], ['report', '--check-only', "
        "'--profile', 'smoke', '--out', sys.argv[1], '--results', sys.argv[1]]):\n"
        "    print(main(args))\n"
        "print(sorted(m for m in ('torch', 'pandas', 'nbformat', 'papermill') if m in sys.modules))"
    )
    done = subprocess.run(
        [sys.executable, "-c", script, str(REPO / "results" / "never")],
        capture_output=True,
        text=True,
        cwd=REPO,
        timeout=60,
    )
    assert done.stdout.split() == ["2", "2", "0", "[]"], done.stdout + done.stderr


RULES = [
    (["--sizes", "100-10-10"], "sizes must start with 784"),
    (["--sizes", "784-10-5"], "sizes must end with 10"),
    (["--n-train", "70000"], "n_train must be at most 60,000"),
    (["--n-test", "10001"], "n_test must be at most 10,000"),
    (["--encoder", "threshold", "--threshold", "2"], "threshold must be below 1"),
    (["--optimizer", "sgd", "--momentum", "1"], "momentum must be below 1"),
    (["--seed", str(2**61)], "seed must be below 2**60"),
    (["--data-root", "/nonexistent/labsnn"], "MNIST not found"),
]


@pytest.mark.parametrize("args, message", RULES, ids=[" ".join(a) for a, _ in RULES])
def test_a_runs_shape_and_ranges_are_checked_before_data_is_loaded(args, message, capsys, monkeypatch):
    from labsnn.cli import main

    def no_data(*_, **__):
        raise AssertionError("data was loaded")

    monkeypatch.setattr("labsnn.running.data.load_mnist", no_data)
    for command in (["train"], ["sweep", "beta", "0.1", "--results", "/nonexistent/never"]):
        code = main([*command, *args])
        err = capsys.readouterr().err
        assert code == 2 and message in err and len(err.strip().splitlines()) == 1, err


def test_more_images_than_the_data_holds_uses_all_and_records_it(subset, caplog):
    config = RunConfig(T=2, epochs=1, n_train=subset.n_train + 500, n_test=50, batch_size=500)
    with caplog.at_level("WARNING", logger="labsnn"):
        (result,) = train_stack([config], subset, progress=False)
    assert result.data["n_train"] == subset.n_train
    assert f"n_train {config.n_train:,} exceeds the {subset.n_train:,} images" in caplog.text


def test_every_result_records_its_environment_and_keeps_its_cache_key(subset, tmp_path):
    from labsnn.running.results import write_result

    config = RunConfig(T=2, epochs=1, n_train=100, n_test=50, device="cpu")
    path = result_path(tmp_path, config, subset)
    (result,) = train_stack([config], subset, progress=False)
    write_result(path, result)
    env = read_result(path, config).environment
    assert {"labsnn", "commit", "torch", "cpu", "kernels", "threads", "device"} <= set(env)
    assert env["torch"] == __import__("torch").__version__ and env["device"] == "cpu"
    assert env["kernels"] in ("compiled", "torch loops")
    assert json.loads(path.read_text())["environment"] == env
    assert path.name.startswith(config.config_hash)  # the environment does not key the cache
    line = provenance.describe(env)
    assert env["cpu"] in line and f"torch {env['torch']}" in line


def test_the_cpu_model_of_x86_and_arm_cpuinfo():
    assert provenance.cpu_model("processor\t: 0\nmodel name\t: AMD EPYC 9R14\nflags\t: avx2\n") == "AMD EPYC 9R14"
    arm = "processor\t: 0\nFeatures\t: fp asimd\nCPU implementer\t: 0x41\nCPU part\t: 0xd0c\n"
    assert provenance.cpu_model(arm) == "ARM implementer 0x41 part 0xd0c"


def test_an_atomic_write_that_fails_leaves_the_old_file_and_no_temporary(tmp_path):
    from labsnn.running import atomic

    target = tmp_path / "lab1_report.pdf"
    atomic.write_bytes(target, b"old")

    def torn(stream):
        stream.write(b"half of the new")
        raise OSError("disk full")

    with pytest.raises(OSError):
        atomic.write_atomically(target, torn, binary=True)
    assert target.read_bytes() == b"old" and sorted(p.name for p in tmp_path.iterdir()) == ["lab1_report.pdf"]
    atomic.write_bytes(target, b"new")
    assert target.read_bytes() == b"new"
