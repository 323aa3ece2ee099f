"""The Dagster CLI as CI uses it: validate the definitions, materialize a partition range."""

from __future__ import annotations

import os
import subprocess
import sys
from datetime import datetime, timedelta
from pathlib import Path

from dagster import AssetCheckKey, AssetKey, DagsterInstance
from dagster._core.storage.asset_check_execution_record import AssetCheckExecutionRecordStatus

from shopper_assets.quality.checks import CHECK_SPECS
from shopper_assets.storage.lake_store import LocalLakeStore
from tests.conftest import write_landing_file
from tests.lake.events import event

DAGSTER = str(Path(sys.executable).with_name("dagster"))


def run_cli(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([DAGSTER, *args], capture_output=True, text=True, env=os.environ.copy(), timeout=600)


def test_definitions_validate(data_dir: Path):
    result = run_cli("definitions", "validate", "-m", "shopper_assets.definitions")
    assert result.returncode == 0, result.stdout + result.stderr
    assert "Validation successful" in result.stdout + result.stderr


def test_materialize_a_partition_range_in_one_run(data_dir: Path):
    day = datetime(2026, 11, 20)
    for h in (9, 10, 11):
        hour = day + timedelta(hours=h)
        write_landing_file(
            data_dir,
            hour,
            "a.jsonl.gz",
            [event(at=hour), event("purchase", at=hour), "oops"] + [event(at=hour) for _ in range(30)],
        )
    result = run_cli(
        "asset",
        "materialize",
        "-m",
        "shopper_assets.definitions",
        "--select",
        "raw_events,cleaned_events,quarantined_events",
        "--partition-range",
        "2026-11-20-09:00...2026-11-20-11:00",
        "--config-json",
        '{"ops": {"lake_step": {"config": {"max_quarantine_ratio": 0.1}}}}',
    )
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]

    store = LocalLakeStore(data_dir=str(data_dir), duckdb_path=str(data_dir / "shopper.duckdb"))
    with store.session() as s:
        window = (day + timedelta(hours=9), day + timedelta(hours=12))
        assert s.count("cleaned_events", *window) == 3 * 32
        assert s.count("quarantined_events", *window) == 3

    instance = DagsterInstance.get()
    runs = instance.get_runs()
    assert len(runs) == 1, "a partition range must materialize in a single run"
    partitions = instance.get_materialized_partitions(AssetKey("cleaned_events"))
    assert partitions == {"2026-11-20-09:00", "2026-11-20-10:00", "2026-11-20-11:00"}
    check_keys = [AssetCheckKey(AssetKey("cleaned_events"), spec.name) for spec in CHECK_SPECS]
    latest = instance.event_log_storage.get_latest_asset_check_execution_by_key(check_keys)
    assert {k.name: r.status for k, r in latest.items()} == {
        k.name: AssetCheckExecutionRecordStatus.SUCCEEDED for k in check_keys
    }
