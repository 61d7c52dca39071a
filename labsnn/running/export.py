"""Every run of a result cache as one tidy table (CSV or Parquet), for pandas, R or a spreadsheet.

A result cache is a folder of ``<config hash>-<data hash>.json`` files, one per run, as
``labsnn.running.results.write_result`` writes them. Only that folder's own files are read, not
its subfolders (``smoke/``, a separate cache, nor ``figures/``); hidden files (the cache's
``.*.tmp`` temporaries and ``.*.lock`` locks) and files not ending in ``.json`` are
ignored. Results of an older ``RESULTS_VERSION`` still in the folder are exported too
(their ``result_file`` names a different data hash).

labsnn itself is imported only when a table is built: ``labsnn.running.results`` loads torch.
"""

from __future__ import annotations

import json
import logging
import os
import tempfile
from collections.abc import Iterable
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import pandas as pd

log = logging.getLogger("labsnn")

#: The run's fields besides its config, its data and its epochs, as ``RunResult.rows`` adds them.
RUN_FIELDS = ("config_hash", "status", "diverged_epoch")
#: The column naming the result file each row comes from.
FILE_COLUMN = "result_file"


def _folder(results_dir: str | os.PathLike) -> Path:
    path = Path(results_dir)
    if not path.exists():
        raise ValueError(f"results folder {path} does not exist")
    if not path.is_dir():
        raise ValueError(f"results folder {path} is not a folder")
    return path


def result_files(results_dir: str | os.PathLike) -> list[Path]:
    """The result files of a cache folder, sorted by name: its own non-hidden ``*.json``
    files, not those of its subfolders.

    Parameters
    ----------
    results_dir:
        The result cache folder.

    Returns
    -------
    The files' paths, sorted by file name. A ``ValueError`` when the folder is missing,
    is not a folder or cannot be listed.
    """
    folder = _folder(results_dir)
    try:
        entries = list(folder.iterdir())
    except OSError as error:
        raise ValueError(f"results folder {folder} cannot be read ({type(error).__name__}: {error})") from None
    return sorted(
        (p for p in entries if p.suffix == ".json" and not p.name.startswith(".") and p.is_file()), key=lambda p: p.name
    )


def _merge_order(order: list[str], keys: Iterable[str]) -> None:
    """Add the ``keys`` not yet in ``order`` to it, each right after the key before it in
    ``keys`` (so a deeper network's ``rate_train_l2`` lands beside ``rate_test_l1``)."""
    previous = None
    for key in keys:
        if key not in order:
            order.insert(order.index(previous) + 1 if previous is not None else len(order), key)
        previous = key


def _cell(value: Any) -> Any:
    """A value as a table cell: lists, tuples and dicts become JSON strings (CSV-safe)."""
    if isinstance(value, (list, tuple, dict)):
        return json.dumps(value)
    return value


def _epoch_key(row: dict[str, Any]) -> float:
    epoch = row.get("epoch")
    return float(epoch) if isinstance(epoch, (int, float)) and not isinstance(epoch, bool) else float("inf")


def results_table(results_dir: str | os.PathLike, files: Iterable[Path] | None = None) -> pd.DataFrame:
    """One row per run and epoch of every result in ``results_dir`` (not its subfolders).

    Parameters:
        results_dir: the result cache folder.
        files: only these result files (missing ones left out); default: all of the folder's.

    Returns:
        ``RunResult.rows()``, the environment that made each run (``env_*``), and
        ``result_file``, sorted by file then epoch; columns: the
        config fields in ``RunConfig`` order, the data and run fields, ``result_file``, then
        ``epoch`` and the metrics (empty where a run lacks one); list cells as JSON. A file
        that is not a result is skipped with a one-line warning. An empty ``DataFrame``
        when nothing is readable; ``ValueError`` when the folder is missing.
    """
    files = result_files(results_dir) if files is None else [Path(f) for f in files if Path(f).is_file()]
    import pandas as pd

    import labsnn.log  # noqa: F401  (the labsnn logger's handler: "labsnn: <message>" on stderr)
    from labsnn.running.config import field_names
    from labsnn.running.results import RunResult

    config_columns = field_names()
    run_columns: list[str] = []
    metric_columns: list[str] = []
    rows: list[dict[str, Any]] = []
    for path in files:
        try:
            result = RunResult.from_json(json.loads(path.read_text()))
            machine = {f"env_{key}": value for key, value in result.environment.items()}
            run_rows = [{**row, **machine} for row in result.rows()]
        except Exception as error:  # any damage: this file is not a result, the others still are
            reason = (str(error).splitlines() or [""])[0]
            log.warning("skipped unreadable result file %s (%s: %s)", path, type(error).__name__, reason)
            continue
        fixed = [*result.data, *RUN_FIELDS, *machine]
        _merge_order(run_columns, (k for k in fixed if k not in config_columns))
        for row in run_rows:
            _merge_order(metric_columns, (k for k in row if k not in config_columns and k not in fixed))
            rows.append({**{k: _cell(v) for k, v in row.items()}, FILE_COLUMN: path.name})
    if not rows:
        return pd.DataFrame()
    rows.sort(key=lambda row: (row[FILE_COLUMN], _epoch_key(row)))  # stable: ties keep the file's order
    present = {key for row in rows for key in row}
    metric_columns = [k for k in metric_columns if k not in run_columns and k != FILE_COLUMN]
    columns = [k for k in (*config_columns, *run_columns, FILE_COLUMN, *metric_columns) if k in present]
    return pd.DataFrame(rows, columns=columns)


def _pyarrow_available() -> bool:
    try:
        import pyarrow  # noqa: F401
    except ImportError:
        return False
    return True


def export(results_dir: str | os.PathLike, out_path: str | os.PathLike, files: Iterable[Path] | None = None) -> int:
    """Write ``results_table(results_dir, files)`` to ``out_path``, atomically.

    CSV (compressed as pandas infers from the name), or Parquet for ``.parquet`` (needs
    pyarrow); written to a temporary beside ``out_path`` and renamed onto it.

    Returns:
        The number of rows. ``ValueError`` (one line) for a missing folder, a folder with no
        readable result, an ``out_path`` that is a folder, or Parquet without pyarrow.
    """
    out = Path(out_path)
    parquet = out.suffix.lower() == ".parquet"
    if parquet and not _pyarrow_available():
        raise ValueError(f"writing {out.name} needs pyarrow: install it (pip install pyarrow) or export to .csv")
    if out.is_dir():
        raise ValueError(f"output {out} is a folder, not a file")
    table = results_table(results_dir, files)
    if table.empty:
        raise ValueError(f"no results in {Path(results_dir)}")

    from labsnn.running.atomic import umask
    from labsnn.running.paths import check_writable_folder

    folder = check_writable_folder(out.absolute().parent, "output folder")
    folder.mkdir(parents=True, exist_ok=True)
    # The temporary keeps out's suffix (pandas infers compression from it) and does not end
    # in .tmp, so a sweep cleaning stale ``.*.tmp`` files from a results folder leaves it be.
    handle, temporary = tempfile.mkstemp(dir=folder, prefix=f".{out.name}.", suffix=f".tmp{out.suffix}")
    os.close(handle)
    try:
        if parquet:
            table.to_parquet(temporary, engine="pyarrow", index=False)
        else:
            table.to_csv(temporary, index=False)
        with open(temporary, "rb+") as stream:
            os.fsync(stream.fileno())
        os.chmod(temporary, 0o666 & ~umask())  # mkstemp makes it 0600
        os.replace(temporary, folder / out.name)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise
    return len(table)
