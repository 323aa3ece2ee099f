"""Just after midnight a request spans yesterday and today; the daemon must run it, not fail it.

The day in progress has only the hours begun so far. An automatic request covering it and an
earlier day becomes an asset backfill (the dbt assets have a single-run backfill policy), and
Dagster's backfill daemon fails a backfill whose partitions depend on hours that do not exist yet,
unless the day → hours mapping allows them. That failure once stopped the marts from following a
stream across midnight; this test runs the daemon's backfill iteration on such a request.
"""

from __future__ import annotations

import logging
from datetime import UTC, datetime
from pathlib import Path

from dagster import AssetMaterialization, DagsterInstance, evaluate_automation_conditions
from dagster._core.execution.backfill import BulkActionStatus, PartitionBackfill
from dagster._core.test_utils import create_test_daemon_workspace_context, freeze_time
from dagster._core.workspace.load_target import ModuleTarget
from dagster._daemon.backfill import execute_backfill_iteration

from tests.built import defs, shopper_dbt_assets

YESTERDAY, TODAY = "2026-11-29", "2026-11-30"
REPO = Path(__file__).resolve().parents[2]
JUST_AFTER_MIDNIGHT = datetime(2026, 11, 30, 0, 0, 40, tzinfo=UTC)


def test_a_request_spanning_midnight_runs_as_one_backfill_run(data_dir: Path):
    models = sorted(shopper_dbt_assets.keys)  # the daily models
    with freeze_time(JUST_AFTER_MIDNIGHT), DagsterInstance.get() as instance:
        cursor = evaluate_automation_conditions(defs=defs, instance=instance).cursor
        for hour in (f"{YESTERDAY}-23:00", f"{TODAY}-00:00"):  # a lake run wrote both hours
            instance.report_runless_asset_event(AssetMaterialization("cleaned_events", partition=hour))
        result = evaluate_automation_conditions(defs=defs, instance=instance, cursor=cursor)
        assert all(result.get_requested_partitions(key) == {YESTERDAY, TODAY} for key in models)

        # What the automation sensor submits for that request, and what the daemon then does with it.
        target = ModuleTarget("shopper_assets.definitions", None, str(REPO), "shopper_assets")
        with create_test_daemon_workspace_context(target, instance) as workspace:
            backfill = PartitionBackfill.from_asset_partitions(
                backfill_id="midnight",
                asset_graph=workspace.create_request_context().asset_graph,
                partition_names=[YESTERDAY, TODAY],
                asset_selection=models,
                backfill_timestamp=JUST_AFTER_MIDNIGHT.timestamp(),
                tags={},
                dynamic_partitions_store=instance,
                all_partitions=False,
                title=None,
                description=None,
                run_config=None,
            )
            instance.add_backfill(backfill)
            errors = [e for e in execute_backfill_iteration(workspace, logging.getLogger("backfill")) if e]

        assert not errors, errors[0].to_string()
        assert instance.get_backfill("midnight").status == BulkActionStatus.REQUESTED  # not FAILED
        runs = instance.get_runs()
        assert len(runs) == 1  # the two days in one run (single-run backfill policy)
        tags = runs[0].tags
        assert (tags["dagster/asset_partition_range_start"], tags["dagster/asset_partition_range_end"]) == (
            YESTERDAY,
            TODAY,
        )
