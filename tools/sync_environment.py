"""Write environment.yml from pyproject.toml and requirements.lock: the same dependencies,
each at the version the lock holds, for the Pythons torch 2.14.1 has wheels for.

Run by ``make lock``; ``tests/test_packaging.py`` checks that the three files agree.
"""

from __future__ import annotations

import re
import sys
import tomllib
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]


def requirement_name(requirement: str) -> str:
    """The normalised distribution name of a requirement line (``dask[distributed]`` -> ``dask``)."""
    return re.split(r"[\s<>=!~\[;]", requirement.strip(), maxsplit=1)[0].lower().replace("_", "-")


def declared() -> list[str]:
    """pyproject's dependencies and every extra's, in order, each once."""
    project = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]
    listed = project["dependencies"] + [r for extra in project["optional-dependencies"].values() for r in extra]
    return list(dict.fromkeys(listed))


def locked() -> dict[str, str]:
    """``{name: version}`` of requirements.lock."""
    pins = {}
    for line in (REPO / "requirements.lock").read_text().splitlines():
        if line and not line.startswith("#"):
            name, _, version = line.partition("==")
            pins[requirement_name(name)] = version.strip()
    return pins


def python_bound() -> str:
    return tomllib.loads((REPO / "pyproject.toml").read_text())["project"]["requires-python"]


def environment_yml() -> str:
    pins = locked()
    lines = []
    for requirement in declared():
        base = re.split(r"[\s<>=!~;]", requirement.strip(), maxsplit=1)[0]  # keeps an extra: dask[distributed]
        lines.append(f"      - {base}=={pins[requirement_name(requirement)]}")
    return (
        "# Conda environment with the dependencies of pyproject.toml at the versions of\n"
        "# requirements.lock (written by tools/sync_environment.py; make lock refreshes both).\n"
        "name: labsnn\nchannels:\n  - conda-forge\ndependencies:\n"
        f"  - python{python_bound()}\n  - pip\n  - pip:\n" + "\n".join(lines) + "\n      - -e .\n"
    )


if __name__ == "__main__":
    (REPO / "environment.yml").write_text(environment_yml())
    print("wrote environment.yml", file=sys.stderr)
