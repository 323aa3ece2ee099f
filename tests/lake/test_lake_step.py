"""The lake step through Dagster: one step lands, cleans and checks a window; its subsets behave."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path

import pytest
from dagster import AssetKey, AssetSelection, DagsterInvalidSubsetError, materialize

from shopper_assets.deployments import resources_for
from shopper_assets.lake.assets import lake_step, landing_events
from shopper_assets.quality.checks import CHECK_SPECS
from shopper_assets.quality.landing_checks import LANDING_CHECK_SPEC
from shopper_assets.settings import Settings
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
