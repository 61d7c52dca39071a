import importlib.util
import re
import subprocess
import sys
import tomllib

import yaml

from conftest import REPO

_spec = importlib.util.spec_from_file_location("sync_environment", REPO / "tools" / "sync_environment.py")
sync = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(sync)


def _project():
    return tomllib.loads((REPO / "pyproject.toml").read_text())["project"]


def _environment_pins():
    env = yaml.safe_load((REPO / "environment.yml").read_text())
    pip_lists = [d["pip"] for d in env["dependencies"] if isinstance(d, dict) and "pip" in d]
    return env, {sync.requirement_name(r): r.split("==", 1)[1] for r in pip_lists[0] if not r.startswith("-e")}


def test_environment_yml_names_the_same_dependencies_as_pyproject_at_the_locked_versions():
    _, pinned = _environment_pins()
    assert set(pinned) == {sync.requirement_name(r) for r in sync.declared()}
    locked = sync.locked()
    moved = {name: (version, locked.get(name)) for name, version in pinned.items() if locked.get(name) != version}
    assert not moved, f"environment.yml is out of step with requirements.lock {moved}: run `make lock`"


def test_every_declared_dependency_is_locked_and_pyprojects_pins_hold_in_the_lock():
    locked = sync.locked()
    missing = [r for r in sync.declared() if sync.requirement_name(r) not in locked]
    assert not missing, f"requirements.lock lacks {missing}: run `make lock`"
    for requirement in sync.declared():
        exact = re.search(r"==\s*([\w.]+)", requirement)
        if exact:
            assert locked[sync.requirement_name(requirement)] == exact.group(1), requirement


def test_the_pythons_are_those_torch_has_wheels_for_in_both_files():
    env, _ = _environment_pins()
    assert _project()["requires-python"] == ">=3.11,<3.15"
    assert f"python{_project()['requires-python']}" in env["dependencies"]


def test_the_installed_environment_is_the_locked_one():
    frozen = subprocess.run(
        [sys.executable, "-m", "pip", "freeze", "--all", "--exclude-editable"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    installed = {
        sync.requirement_name(line.split("==")[0]): line.split("==")[1] for line in frozen.splitlines() if "==" in line
    }
    locked = sync.locked()
    missing = sorted(name for name in locked if name not in installed)
    assert not missing, f"requirements.lock names packages that are not installed {missing}: rerun make"
    drift = {name: (installed[name], locked[name]) for name in locked if installed[name] != locked[name]}
    assert not drift, (
        f"installed versions differ from requirements.lock {drift}: rerun make (it installs with -c requirements.lock)"
    )


def test_license_metadata_is_pep_639():
    project = _project()
    assert project["license"] == "MIT" and project["license-files"] == ["LICENSE"]
    assert "MIT License" in (REPO / "LICENSE").read_text()
    requires = tomllib.loads((REPO / "pyproject.toml").read_text())["build-system"]["requires"]
    assert requires == ["setuptools>=77"]


def test_design_card_packages_are_declared():
    project = _project()
    names = {sync.requirement_name(r) for r in project["dependencies"] + project["optional-dependencies"]["dev"]}
    assert {"jupyter", "nbconvert", "papermill", "torch", "torchvision", "seaborn", "pytest", "nbval"} <= names
    assert "torch==2.14.1" in project["dependencies"] and "torchvision==0.29.1" in project["dependencies"]
    assert "dask" in names  # the executor of every side-by-side and cluster run
    assert "dask-jobqueue" in {sync.requirement_name(r) for r in project["optional-dependencies"]["cluster"]}
