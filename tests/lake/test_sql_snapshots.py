"""Snapshots of the SQL the lake renders, so that a change to it is reviewed as a diff.

Each test renders one query from fixed inputs and compares it with its file under ``snapshots/``.
After an intended change, run ``SHOPPER_UPDATE_SNAPSHOTS=1 pytest tests/lake/test_sql_snapshots.py``
and commit the rewritten files with the change; without the variable a difference fails the test.
"""

from __future__ import annotations

import os
from datetime import datetime
from pathlib import Path

import duckdb
import pytest

from shopper_assets.lake.cleaning import (
    classified_sql,
    cleaned_rows_sql,
    leftover_keys_sql,
    leftovers_sql,
    rejected_rows_sql,
)
from shopper_assets.lake.raw import routing_sql
from shopper_assets.storage.lake_store import LakeSession, partition_path
from shopper_assets.storage.scratch import Scratch

SNAPSHOTS = Path(__file__).parent / "snapshots"
UPDATE = os.environ.get("SHOPPER_UPDATE_SNAPSHOTS") == "1"
HOUR = datetime(2026, 3, 1, 10)


def assert_snapshot(name: str, sql: str) -> None:
    """``sql`` equals the stored snapshot ``name`` (rewritten instead when SHOPPER_UPDATE_SNAPSHOTS=1)."""
    path = SNAPSHOTS / name
    text = "\n".join(line.rstrip() for line in sql.strip().splitlines()) + "\n"
    if UPDATE:
        path.write_text(text)
        return
    assert path.exists(), f"no snapshot {path.name}: run with SHOPPER_UPDATE_SNAPSHOTS=1 to write it"
    assert text == path.read_text(), f"{path.name} changed: review the diff, then SHOPPER_UPDATE_SNAPSHOTS=1"


@pytest.fixture(autouse=True)
def fixed_start(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SHOPPER_START_DATE", "2026-01-01")  # the rules name the first partition's day


def test_classification_query() -> None:
    classified = classified_sql("SELECT * FROM raw_lines")
    assert_snapshot("classified.sql", classified)
    assert_snapshot("cleaned_rows.sql", cleaned_rows_sql("SELECT * FROM classified"))
    assert_snapshot("rejected_rows.sql", rejected_rows_sql("SELECT * FROM classified"))
    assert_snapshot("leftover_keys.sql", leftover_keys_sql("SELECT * FROM raw", "SELECT * FROM cleaned"))
    assert_snapshot("leftovers.sql", leftovers_sql("SELECT * FROM raw", "SELECT * FROM leftover_keys"))


def test_routing_query() -> None:
    assert_snapshot("routing.sql", routing_sql("landed_lines", late_hours=2))


def test_scan_query(tmp_path: Path) -> None:
    """A scan names the window's part files, typed as the table declares (the root is shown as <lake>)."""
    root = tmp_path / "lake"
    for hour, parts in ((HOUR, ["part-a-0.parquet", "part-b-0.parquet"]), (HOUR.replace(hour=11), [])):
        folder = root / partition_path("cleaned_events", hour)
        folder.mkdir(parents=True)
        for name in parts:
            (folder / name).touch()
    with Scratch(root) as scratch, duckdb.connect() as con:
        session = LakeSession(con, root, scratch)
        scanned = session.scan("cleaned_events", HOUR, HOUR.replace(hour=12))
        empty = session.scan("cleaned_events", HOUR.replace(hour=11), HOUR.replace(hour=12))
    assert_snapshot("scan.sql", scanned.replace(str(root), "<lake>"))
    assert_snapshot("scan_empty.sql", empty)
