"""The README and docs/ name only what exists: every ``--option`` a labsnn command or a benchmark script
takes, every ``make`` target in the Makefile, every ``labsnn.…`` module path (and the name after it)."""

import argparse
import importlib
import re

from conftest import REPO
from labsnn.cli import parser

PAGES = [REPO / "README.md", REPO / "reports" / "README.md", *sorted((REPO / "docs").glob("*.md"))]
#: Options of other programs that the docs show with them, each with the line's program.
OTHER_PROGRAMS = {"--nthreads": "dask worker", "--scheduler-file": "dask worker"}


def _options(command: argparse.ArgumentParser) -> set[str]:
    """Every option string of a parser and its subcommands."""
    found = set()
    for action in command._actions:
        found.update(action.option_strings)
        if isinstance(action, argparse._SubParsersAction):
            for sub in action.choices.values():
                found |= _options(sub)
    return found


def _lines():
    for page in PAGES:
        for number, line in enumerate(page.read_text().splitlines(), 1):
            yield f"{page.relative_to(REPO)}:{number}", line


def test_every_option_the_docs_name_exists():
    known = _options(parser())
    for script in (REPO / "benchmarks").glob("*.py"):
        known |= set(re.findall(r"add_argument\(\s*\"(--[a-z0-9_-]+)\"", script.read_text()))
    unknown = [
        f"{where}: {option}"
        for where, line in _lines()
        for option in re.findall(r"(?<![\w-])--[a-z][a-z0-9_-]*", line)
        if option not in known and not (option in OTHER_PROGRAMS and OTHER_PROGRAMS[option] in line)
    ]
    assert not unknown, unknown


def _make_targets_named():
    """``(where, target)`` for each ``make TARGET`` in inline code or in a fenced code block of the pages."""
    named = []
    for page in PAGES:
        fenced = False
        for number, line in enumerate(page.read_text().splitlines(), 1):
            if line.lstrip().startswith("```"):
                fenced = not fenced
                continue
            pattern = (
                r"^\s*(?:[A-Z_]+=\S+\s+)*make ([a-z][\w-]*)" if fenced else r"`(?:[A-Z_]+=\S+ )*make ([a-z][\w-]*)"
            )
            named += [(f"{page.relative_to(REPO)}:{number}", target) for target in re.findall(pattern, line)]
    return named


def test_every_make_target_the_docs_name_exists():
    targets = set(re.findall(r"^([a-z][\w-]*):", (REPO / "Makefile").read_text(), re.MULTILINE))
    named = _make_targets_named()
    assert len(named) > 10
    missing = [f"{where}: make {target}" for where, target in named if target not in targets]
    assert not missing, missing


def _resolves(path: str) -> bool:
    """Whether ``path`` is an importable module, or a module followed by names defined in it."""
    parts = path.split(".")
    for cut in range(len(parts), 0, -1):
        try:
            thing = importlib.import_module(".".join(parts[:cut]))
        except ImportError:
            continue
        for name in parts[cut:]:
            if not hasattr(thing, name):
                return False
            thing = getattr(thing, name)
        return True
    return False


def test_every_labsnn_path_the_docs_name_imports():
    named = {
        (where, path.rstrip("."))
        for where, line in _lines()
        for path in re.findall(r"(?<![\w/])labsnn(?:\.[A-Za-z_][A-Za-z0-9_]*)+", line)
    }
    assert len(named) > 10
    broken = sorted(f"{where}: {path}" for where, path in named if not _resolves(path))
    assert not broken, broken


def test_the_package_page_lists_every_module():
    page = (REPO / "docs" / "package.md").read_text()
    listed = set(re.findall(r"`([a-z_]+)(?:_\*)?`", page)) | {m + "_" for m in re.findall(r"`([a-z]+)_\*`", page)}
    modules = [path for path in (REPO / "labsnn").rglob("*.py") if path.stem not in ("__init__", "__main__")]
    missing = sorted(
        str(path.relative_to(REPO))
        for path in modules
        if path.stem not in listed
        and not any(path.stem.startswith(prefix) for prefix in listed if prefix.endswith("_"))
    )
    assert not missing, missing
