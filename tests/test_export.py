import json
import logging
import math
import shutil
import sys

import pandas as pd
import pytest

from labsnn.running.config import RunConfig, field_names
from labsnn.running.export import export, results_table
from labsnn.running.results import RunResult
from labsnn.running.sweep import run_configs

TINY = RunConfig(T=4, epochs=1, n_train=200, n_test=100, batch_size=50)
RUNS = [TINY, TINY.replace(beta=0.5, epochs=2)]  # 3 rows in all


@pytest.fixture(scope="module")
def cache(tmp_path_factory, subset):
    """A result cache of two tiny runs (trained once for the module); copy it before damaging it."""
    folder = tmp_path_factory.mktemp("cache")
    run_configs(RUNS, folder, subset, progress=False)
    return folder


@pytest.fixture
def results(cache, tmp_path):
    folder = tmp_path / "results"
    shutil.copytree(cache, folder)
    return folder


def _cached(folder):
    return {path.name: RunResult.from_json(json.loads(path.read_text())) for path in sorted(folder.glob("*.json"))}


def _same(cell, value) -> bool:
    """A CSV cell read back by pandas equals the cache's value exactly (None and NaN read back empty)."""
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return pd.isna(cell)
    if isinstance(value, float):
        return float(cell) == value  # exact: pandas writes floats at repr precision
    return cell == value


def test_csv_holds_every_run_and_epoch_exactly(results, tmp_path):
    out = tmp_path / "out" / "results.csv"
    n = export(results, out)
    table = pd.read_csv(out)
    cached = _cached(results)
    assert len(cached) == 2
    assert n == len(table) == sum(len(r.epochs) for r in cached.values()) == 3
    assert list(table.columns) == list(results_table(results).columns)
    assert list(table.columns[: len(field_names())]) == field_names()
    assert "result_file" in table.columns and "test_step_rates" not in table.columns
    assert list(zip(table["result_file"], table["epoch"])) == sorted(zip(table["result_file"], table["epoch"]))
    for _, row in table.iterrows():
        result = cached[row["result_file"]]
        expected = {**result.rows()[row["epoch"] - 1], **{f"env_{k}": v for k, v in result.environment.items()}}
        assert set(expected) | {"result_file"} == set(table.columns)
        assert {"env_cpu", "env_torch", "env_backend", "env_kernels_march"} <= set(expected)
        for key, value in expected.items():
            text = "" if pd.isna(row[key]) else str(row[key])  # CSV reads "2" as 2 and "" as empty
            same = text == value if key.startswith("env_") else _same(row[key], value)
            assert same, (key, row[key], value)
    assert table["test_acc"].tolist() == [e["test_acc"] for r in cached.values() for e in r.epochs]
    assert set(table["beta"]) == {0.1, 0.5} and set(table["sizes"]) == {"784-10-10"}
    assert [p.name for p in out.parent.iterdir()] == ["results.csv"]  # no temporary left


def test_only_the_folders_own_result_files_are_read(results, tmp_path, caplog):
    (results / "smoke").mkdir()
    shutil.copy(sorted(results.glob("*.json"))[0], results / "smoke" / "0123456789abcdef-01234567.json")
    (results / "figures").mkdir()
    (results / "figures" / "figure1.png").write_bytes(b"\x89PNG")
    (results / ".0123456789abcdef-01234567.x1y2.tmp").write_text('{"config": ')
    assert list(results.glob(".*.lock"))  # the sweep's locks are there too
    with caplog.at_level(logging.WARNING, logger="labsnn"):
        assert export(results, tmp_path / "table.csv") == 3
    assert not caplog.records
    assert set(pd.read_csv(tmp_path / "table.csv")["result_file"]) == {p.name for p in results.glob("*.json")}


def test_damaged_result_file_is_skipped_with_a_warning(results, tmp_path, caplog):
    victim, kept = sorted(results.glob("*.json"), key=lambda p: len(_cached(results)[p.name].epochs))
    victim.write_text(victim.read_text()[:100])
    with caplog.at_level(logging.WARNING, logger="labsnn"):
        n = export(results, tmp_path / "table.csv")
    assert n == 2
    assert set(pd.read_csv(tmp_path / "table.csv")["result_file"]) == {kept.name}
    (record,) = caplog.records
    message = record.getMessage()
    assert record.name == "labsnn" and record.levelno == logging.WARNING
    assert victim.name in message and "\n" not in message and not message.startswith("labsnn")  # the handler adds it


def test_list_cells_are_json_and_missing_metrics_empty(results, tmp_path):
    first, second = sorted(results.glob("*.json"))
    payload = json.loads(first.read_text())
    for epoch in payload["epochs"]:
        epoch["step_rates"] = [0.25, None]  # str() would write None, not JSON null
    first.write_text(json.dumps(payload))
    n = export(results, tmp_path / "table.csv")
    table = pd.read_csv(tmp_path / "table.csv")
    assert n == 3
    mine = table[table["result_file"] == first.name]["step_rates"]
    assert len(mine) and all(json.loads(cell) == [0.25, None] for cell in mine)
    assert table[table["result_file"] == second.name]["step_rates"].isna().all()
    columns = list(table.columns)
    assert columns.index("step_rates") > columns.index("epoch") > columns.index("result_file") > columns.index("status")


def test_bad_results_folder_is_a_value_error(tmp_path):
    out = tmp_path / "out" / "table.csv"
    a_file = tmp_path / "a_file.json"
    a_file.write_text("{}")
    only_subfolders = tmp_path / "only_subfolders"
    (only_subfolders / "smoke").mkdir(parents=True)
    cases = [(tmp_path / "missing", "does not exist"), (a_file, "is not a folder"), (only_subfolders, "no results in")]
    for folder, message in cases:
        with pytest.raises(ValueError, match=message) as error:
            export(folder, out)
        assert "\n" not in str(error.value)
    assert not out.parent.exists()


def test_failed_write_keeps_the_old_file(results, tmp_path, monkeypatch):
    out = tmp_path / "table.csv"
    out.write_text("old\n")

    def broken(self, *args, **kwargs):
        raise OSError("disk full")

    monkeypatch.setattr(pd.DataFrame, "to_csv", broken)
    with pytest.raises(OSError, match="disk full"):
        export(results, out)
    assert out.read_text() == "old\n"
    assert [p.name for p in tmp_path.iterdir() if p.name != "results"] == ["table.csv"]


def test_compressed_csv_round_trips(results, tmp_path):
    out = tmp_path / "table.csv.gz"
    assert export(results, out) == 3
    assert out.read_bytes()[:2] == b"\x1f\x8b"
    export(results, tmp_path / "plain.csv")
    pd.testing.assert_frame_equal(pd.read_csv(out), pd.read_csv(tmp_path / "plain.csv"))


def test_parquet_without_pyarrow_is_a_value_error(results, tmp_path, monkeypatch):
    monkeypatch.setitem(sys.modules, "pyarrow", None)  # import pyarrow then raises ImportError
    with pytest.raises(ValueError, match="install it") as error:
        export(results, tmp_path / "table.parquet")
    assert "pyarrow" in str(error.value) and "\n" not in str(error.value)
    assert not (tmp_path / "table.parquet").exists()


def test_parquet_round_trips(results, tmp_path):
    pytest.importorskip("pyarrow")
    assert export(results, tmp_path / "table.parquet") == 3
    back = pd.read_parquet(tmp_path / "table.parquet")
    pd.testing.assert_frame_equal(back, results_table(results))


def test_the_export_command_writes_the_table_and_says_so(results, tmp_path, capsys):
    from labsnn.cli import main

    out = tmp_path / "runs.csv"
    assert main(["export", str(results), str(out)]) == 0
    assert len(pd.read_csv(out)) == 3 and list(pd.read_csv(out).columns) == list(results_table(results).columns)
    assert "wrote" in capsys.readouterr().err
    assert main(["export", str(tmp_path / "nowhere"), str(out)]) == 2
    err = capsys.readouterr().err
    assert err.startswith("labsnn: error: results folder") and len(err.strip().splitlines()) == 1
