"""The lake step through Dagster: one step lands, cleans and checks a window; its subsets behave."""

from __future__ import annotations

from datetime import datetime, timedelta
from pathlib import Path

import pytest
from dagster import AssetKey, AssetSelection, DagsterInstance, DagsterInvalidSubsetError, materialize

from shopper_assets.demo import partition_range_tags
from shopper_assets.deployments import resources_for
from shopper_assets.lake.pipeline import _chunks
from shopper_assets.quality.checks import CHECK_SPECS
from shopper_assets.quality.landing_checks import LANDING_CHECK_SPEC
from shopper_assets.settings import Settings
from tests.built import lake_step, landing_events
from tests.conftest import write_landing_file
from tests.lake.events import event

HOUR = datetime(2026, 11, 20, 10)
PARTITION = "2026-11-20-10:00"
RAW, CLEANED, QUARANTINED = AssetKey("raw_events"), AssetKey("cleaned_events"), AssetKey("quarantined_events")


def run(selection, instance=None, raise_on_error=True):
    return materialize(
        [landing_events, lake_step],
        selection=selection,
        partition_key=PARTITION,
        resources=resources_for(Settings.from_env()),
        instance=instance,
        raise_on_error=raise_on_error,
    )


def materialized(result) -> set[AssetKey]:
    return {e.asset_key for e in result.get_asset_materialization_events()}


def test_one_step_lands_cleans_and_checks_the_hour(data_dir: Path):
    write_landing_file(data_dir, HOUR, "a.jsonl.gz", [event(at=HOUR) for _ in range(29)] + ["not json"])
    result = run(AssetSelection.assets(lake_step) | AssetSelection.checks_for_assets(lake_step))

    assert len(result.get_step_success_events()) == 1  # raw, clean and checks: one step, one pool slot
    assert materialized(result) == {RAW, CLEANED, QUARANTINED}
    checks = result.get_asset_check_evaluations()
    assert {c.check_name for c in checks} == {s.name for s in [LANDING_CHECK_SPEC, *CHECK_SPECS]}
    assert all(c.passed for c in checks)
    rows = {
        e.asset_key: e.materialization.metadata["dagster/row_count"].value
        for e in result.get_asset_materialization_events()
    }
    assert rows == {RAW: 30, CLEANED: 29, QUARANTINED: 1}


def test_raw_alone_then_cleaning_without_its_checks(data_dir: Path):
    write_landing_file(data_dir, HOUR, "a.jsonl.gz", [event(at=HOUR)])
    assert materialized(run(AssetSelection.assets(RAW))) == {RAW}

    cleaning = run(AssetSelection.assets(CLEANED, QUARANTINED).without_checks())
    assert materialized(cleaning) == {CLEANED, QUARANTINED}
    assert cleaning.get_asset_check_evaluations() == []  # the checks were not selected, so none ran


def test_cleaned_without_quarantined_is_refused(data_dir: Path):
    write_landing_file(data_dir, HOUR, "a.jsonl.gz", [event(at=HOUR)])
    with pytest.raises(DagsterInvalidSubsetError, match="written together"):
        run(AssetSelection.assets(CLEANED))


def test_each_hour_of_a_range_run_carries_its_own_figures(data_dir: Path):
    """A run over two hours: each hour's materializations have that hour's rows, duplicates,
    quarantine ratio and lag (plotted per partition in the UI), not the run's totals."""
    h10, h11 = HOUR, HOUR.replace(hour=11)
    twice = event(at=h11)
    write_landing_file(data_dir, h10, "a.jsonl.gz", [event(at=h10) for _ in range(7)] + ["not json"])
    write_landing_file(data_dir, h11, "b.jsonl.gz", [event(at=h11) for _ in range(3)] + [twice, twice])
    result = materialize(
        [landing_events, lake_step],
        selection=AssetSelection.assets(lake_step) | AssetSelection.checks_for_assets(lake_step),
        tags=partition_range_tags("2026-11-20-10:00", "2026-11-20-11:00"),
        resources=resources_for(Settings.from_env()),
        raise_on_error=False,  # 1 line in 13 quarantined fails the (blocking) ratio check, as it should
    )
    meta = {
        (e.asset_key, e.partition): {k: v.value for k, v in e.materialization.metadata.items()}
        for e in result.get_asset_materialization_events()
    }
    p10, p11 = "2026-11-20-10:00", "2026-11-20-11:00"
    assert meta[RAW, p10]["dagster/row_count"] == 8 and meta[RAW, p11]["dagster/row_count"] == 5
    assert meta[CLEANED, p10]["dagster/row_count"] == 7 and meta[CLEANED, p11]["dagster/row_count"] == 4
    assert meta[CLEANED, p10]["quarantine_ratio"] == 1 / 8 and meta[CLEANED, p11]["quarantine_ratio"] == 0
    assert meta[CLEANED, p10]["duplicates_dropped"] == 0 and meta[CLEANED, p11]["duplicates_dropped"] == 1
    assert meta[QUARANTINED, p10]["dagster/row_count"] == 1 and meta[QUARANTINED, p11]["dagster/row_count"] == 0
    assert meta[CLEANED, p10]["lag_seconds"] > meta[CLEANED, p11]["lag_seconds"] > 0
    assert meta[CLEANED, p10]["window_rows"] == 11  # the run's figures keep their own names
    checks = {c.check_name: c for c in result.get_asset_check_evaluations()}
    assert not checks["quarantine_ratio"].passed and checks["quarantine_ratio"].metadata["ratio"].value == 1 / 13
    assert all(c.metadata["window_hours"].value == 2 for c in checks.values())


def test_a_window_without_landing_files_says_so(data_dir: Path):
    """A backfill of hours nobody landed anything for succeeds with 0 lines; its run says why."""
    write_landing_file(data_dir, HOUR, "a.jsonl.gz", [event(at=HOUR)])
    with DagsterInstance.ephemeral() as instance:
        result = materialize(
            [landing_events, lake_step],
            selection=AssetSelection.assets(RAW),
            tags=partition_range_tags("2026-11-20-10:00", "2026-11-20-12:00"),
            resources=resources_for(Settings.from_env()),
            instance=instance,
        )
        logged = [entry.user_message for entry in instance.all_logs(result.run_id)]
    raw = result.get_asset_materialization_events()
    assert {e.materialization.metadata["hours_without_landing_files"].value for e in raw} == {2}
    assert any("2 of 3 hours have no landing files (first 2026-11-20-11:00)" in m for m in logged)


def test_a_rebuild_cleans_an_hour_with_lines_at_a_time_and_groups_the_empty_hours():
    """Hours are cleaned one hour with lines at a time (bounded memory); the empty hours before each go with it."""
    hours = [datetime(2026, 11, 20) + timedelta(hours=i) for i in range(6)]
    with_lines = {hours[1], hours[2], hours[5]}
    raw_parts = {h: ({"part-a.parquet": ""} if h in with_lines else {}) for h in hours}
    end = hours[5] + timedelta(hours=1)
    assert _chunks(hours, raw_parts) == [(hours[0], hours[2]), (hours[2], hours[5]), (hours[5], end)]
    assert _chunks(hours, {h: {} for h in hours}) == [(hours[0], end)]
