"""`shopper kpis` says clearly why it cannot read the warehouse, instead of a traceback."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from shopper_assets.demo import print_kpis
from shopper_assets.settings import Settings


def test_missing_warehouse(tmp_path: Path):
    said: list[str] = []
    assert not print_kpis(Settings(duckdb_path=tmp_path / "none.duckdb"), None, echo=said.append)
    assert "run `shopper demo` first" in said[0]


def test_warehouse_held_by_a_writer(tmp_path: Path):
    path = tmp_path / "w.duckdb"
    writer = subprocess.Popen(
        [
            sys.executable,
            "-c",
            f"import duckdb, time; c = duckdb.connect({str(path)!r}); c.execute('CREATE TABLE t (a INT)'); "
            "print('open', flush=True); time.sleep(60)",
        ],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert writer.stdout.readline().strip() == "open"
        said: list[str] = []
        assert not print_kpis(Settings(duckdb_path=path), None, echo=said.append)
        assert "a Dagster run is writing it" in said[0]
    finally:
        writer.kill()
        writer.wait()
