"""Running the lake on a window as the lake step does, and reading back what it decided, for the fault tests."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from dagster import AssetCheckResult, AssetSelection, ExecuteInProcessResult, materialize

from shopper_assets.deployments import resources_for
from shopper_assets.ingestion.landing import LocalLandingZone
from shopper_assets.lake.pipeline import CleaningStats, RawStats, clean_window, ingest_raw
from shopper_assets.quality.checks import CheckThresholds, run_all
from shopper_assets.quality.landing_checks import landing_reconciles
from shopper_assets.settings import Settings
from shopper_assets.storage.lake_store import LakeStore, LocalLakeStore
from tests.built import lake_step, landing_events

LATE = 6


@dataclass
class WindowRun:
    raw: RawStats
    cleaning: CleaningStats
    checks: dict[str, AssetCheckResult]  # by check name, landing_reconciles included
    cleaned: list[dict]
    quarantined: list[dict]


def local_store(data_dir: Path) -> LocalLakeStore:
    return LocalLakeStore(data_dir=str(data_dir), duckdb_path=str(data_dir / "shopper.duckdb"))


def run_window(data_dir: Path, start: datetime, end: datetime, store: LakeStore | None = None) -> WindowRun:
    """raw_events, cleaning, every check of the lake step, and the window's rows, as the lake step would."""
    store = store or local_store(data_dir)
    landing = LocalLandingZone(data_dir=str(data_dir))
    with store.session() as session:
        raw = ingest_raw(session, landing, start, end, LATE)
        landed = landing_reconciles(session, raw.versions, start, end, LATE)
        cleaning = clean_window(session, start, end)
        checks = {r.check_name: r for r in run_all(session, start, end, CheckThresholds(), LATE)}
        checks[landed.check_name] = landed
        cleaned = rows(session, "cleaned_events", start, end, "event_hour, event_id, _source_file, _line_number")
        quarantined = rows(session, "quarantined_events", start, end, "source_file, line_number")
    return WindowRun(raw, cleaning, checks, cleaned, quarantined)


def rows(session, table: str, start: datetime, end: datetime, order: str) -> list[dict]:
    query = f"SELECT * FROM ({session.scan(table, start, end)}) ORDER BY {order}"
    return session.con.sql(query).to_arrow_table().to_pylist()


def lake_step_run(partition_key: str = "2026-11-20-10:00") -> ExecuteInProcessResult:
    """The lake step and all its checks through Dagster, on the environment's deployment (not raising)."""
    return materialize(
        [landing_events, lake_step],
        selection=AssetSelection.assets(lake_step) | AssetSelection.checks_for_assets(lake_step),
        partition_key=partition_key,
        resources=resources_for(Settings.from_env()),
        raise_on_error=False,
    )
