"""`shopper kpis` reads the published marts: it says clearly when there are none, and a run writing
the warehouse does not stop it (it used to: the command opened the warehouse file itself)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import duckdb

from shopper_assets.demo import print_kpis
from shopper_assets.serving.local import LocalServing
from shopper_assets.serving.marts import SERVED
from shopper_assets.settings import Settings
from tests.transform.conftest import copy_warehouse, days


def test_nothing_published(tmp_path: Path):
    said: list[str] = []
    assert not print_kpis(Settings(data_dir=tmp_path, duckdb_path=tmp_path / "none.duckdb"), None, echo=said.append)
    assert "run `shopper demo` first" in said[0]


def test_a_writer_holding_the_warehouse_does_not_stop_it(built_db, tmp_path: Path):
    warehouse = copy_warehouse(built_db[0], tmp_path / "shopper.duckdb")
    with duckdb.connect(str(warehouse), read_only=True) as con:
        LocalServing(tmp_path / "serving").publish(con, SERVED, None, {})
    writer = subprocess.Popen(
        [
            sys.executable,
            "-c",
            "import duckdb, sys, time; c = duckdb.connect(sys.argv[1]); c.execute('CREATE TABLE t (a INT)'); "
            "print('open', flush=True); time.sleep(60)",
            str(warehouse),
        ],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert writer.stdout.readline().strip() == "open"
        said: list[str] = []
        assert print_kpis(Settings(data_dir=tmp_path, duckdb_path=warehouse), days()[1], echo=said.append)
        text = "\n".join(said)
        assert f"KPI summary for {days()[1]}" in text and "published version" in text
    finally:
        writer.kill()
        writer.wait()
