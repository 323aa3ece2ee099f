"""Issue 16, item 6: values that reach SQL text are quoted. A data dir holding a quote broke every
run, and a crafted one ran the statement it carried; now it is just a folder name."""

from __future__ import annotations

import os
from datetime import datetime
from pathlib import Path

import duckdb
import pytest

from shopper_assets.settings import Settings
from shopper_assets.storage.lake_store import LocalLakeStore
from tests.conftest import write_landing_file
from tests.faults.lake import lake_step_run
from tests.lake.events import event

H10 = datetime(2026, 11, 20, 10)
CRAFTED = "it's [a] {b}*; x'); COPY (SELECT 'pwned' AS p) TO 'injected.csv' (FORMAT csv); --"


@pytest.fixture
def crafted_data_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    root = tmp_path / CRAFTED / "data"
    root.mkdir(parents=True)
    monkeypatch.setenv("SHOPPER_DATA_DIR", str(root))
    monkeypatch.setenv("SHOPPER_DUCKDB_PATH", str(root / "shopper.duckdb"))
    monkeypatch.chdir(tmp_path)  # where the injected COPY would have written
    return root


def injected(tmp_path: Path) -> list[Path]:
    return [p for p in tmp_path.rglob("injected*")]


def test_a_quote_in_the_data_dir_is_a_folder_name_not_sql(crafted_data_dir: Path, tmp_path: Path):
    write_landing_file(crafted_data_dir, H10, "a.jsonl.gz", [event(at=H10) for _ in range(20)])
    result = lake_step_run()
    assert result.success
    assert all(c.passed for c in result.get_asset_check_evaluations())
    with duckdb.connect(str(crafted_data_dir / "shopper.duckdb"), read_only=True) as con:
        assert con.execute("SELECT count(*) FROM lake.cleaned_events").fetchone()[0] == 20  # the view's glob
    assert not injected(tmp_path)
    assert not list((crafted_data_dir / "lake" / "_staging").iterdir())


def test_a_configured_memory_limit_is_a_value_not_sql(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    monkeypatch.chdir(tmp_path)
    store = LocalLakeStore(
        data_dir=str(tmp_path / "data"),
        duckdb_path=str(tmp_path / "data" / "shopper.duckdb"),
        memory_limit="1GB'; COPY (SELECT 1) TO 'injected.csv'; SET memory_limit = '2GB",
    )
    with pytest.raises(duckdb.Error), store.session():
        pass
    assert not injected(tmp_path)
    assert os.listdir(tmp_path / "data" / "lake" / "_staging") == []  # the failed session left nothing


@pytest.mark.parametrize("character", ["?", "\\"])
def test_a_data_dir_duckdb_cannot_open_is_refused_clearly(tmp_path: Path, character: str):
    """DuckDB reads "?" in a database path as the start of options (and "\\" as a separator): a clear
    error at start rather than a run failing on a missing write-ahead-log file."""
    with pytest.raises(ValueError, match="SHOPPER_DATA_DIR must not contain"):
        Settings.from_env({"SHOPPER_DATA_DIR": str(tmp_path / f"a{character}b")})
