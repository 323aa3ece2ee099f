"""``data_quality_daily``: each day's data-quality score (``data_quality.py``), as numeric metadata the
UI plots per day and over time, and as lake tables (``data_quality_daily`` and, per reason of
loss, ``data_quality_losses_daily``: one step writes both assets) that the dbt marts
``dq_score_daily`` and ``dq_losses_daily`` read, and the dashboard and the API show.

Daily partitions over the day's lake hours. It writes the lake and the warehouse, so it runs in the
lake step's pool (``duckdb`` locally); declarative automation recounts a day once its hours changed, at most every
``DATA_QUALITY_EVERY`` (a stream changes today's hours every few seconds).
"""

from datetime import UTC, datetime

import pyarrow as pa
from dagster import (
    AssetDep,
    AssetExecutionContext,
    AssetKey,
    AssetsDefinition,
    AssetSpec,
    BackfillPolicy,
    DailyPartitionsDefinition,
    MaterializeResult,
    MetadataValue,
    multi_asset,
)

from shopper_assets.automation.conditions import DATA_QUALITY_EVERY, throttled_after_updates
from shopper_assets.automation.lake_runs import LAKE_STEP
from shopper_assets.contract.tables import DATA_QUALITY, DATA_QUALITY_LOSSES, LakeTable
from shopper_assets.contract.time_grid import days_in
from shopper_assets.operations.data_quality import DayQuality, day_quality
from shopper_assets.partitions import window_bounds
from shopper_assets.quality.checks import CheckThresholds
from shopper_assets.storage.lake_store import LakeSession, LakeStore
from shopper_assets.transform.assets import LAKE_HOURS_OF_DAY

SCORE, LOSSES = AssetKey(DATA_QUALITY.name), AssetKey(DATA_QUALITY_LOSSES.name)
_ARROW = {"DATE": pa.date32(), "BIGINT": pa.int64(), "INTEGER": pa.int32(), "VARCHAR": pa.string()}


def _arrow(spec: LakeTable, rows: list[dict]) -> pa.Table:
    schema = pa.schema([(name, _ARROW.get(sql_type, pa.timestamp("us"))) for name, sql_type in spec.columns])
    return pa.Table.from_pylist(rows, schema=schema)


def write_days(session: LakeSession, start: datetime, end: datetime, days: list[DayQuality], at: datetime) -> None:
    """Replace the window's days of both tables (a re-run leaves nothing behind)."""
    for spec, rows in (
        (DATA_QUALITY, [d.row(at) for d in days]),
        (DATA_QUALITY_LOSSES, [r for d in days for r in d.loss_rows()]),
    ):
        session.con.register("_dq_rows", _arrow(spec, rows))
        try:
            session.replace_window(spec.name, start, end, "SELECT * FROM _dq_rows")
        finally:
            session.con.unregister("_dq_rows")


def day_metadata(q: DayQuality) -> dict:
    """What the UI plots per day: the score, the counts, each reason's lost lines, the checks."""
    metadata: dict = {
        "landed_lines": q.landed_lines,
        "clean_events": q.clean_events,
        "quarantined_lines": q.quarantined_lines,
        "duplicate_lines": q.duplicate_lines,
        "late_events": q.late_events,
        "checks_passed": q.checks_passed,
        "checks_warned": q.checks_warned,
        "checks_failed": q.checks_failed,
        "lost_by_reason": MetadataValue.json(q.lost_by_reason),
    }
    if q.dq_score is not None:
        metadata["dq_score"] = MetadataValue.float(q.dq_score)
        metadata["dq_percent"] = MetadataValue.float(round(100 * q.dq_score, 3))
    for reason, lines in sorted(q.lost_by_reason.items()):
        metadata[f"lost_{reason}"] = lines
    if q.failed_checks:
        metadata["failed_checks"] = MetadataValue.text(", ".join(q.failed_checks))
    return metadata


def _spec(key: AssetKey, description: str) -> AssetSpec:
    return AssetSpec(
        key,
        deps=[AssetDep(lake_table, partition_mapping=LAKE_HOURS_OF_DAY) for lake_table in LAKE_STEP],
        group_name="quality",
        kinds={"duckdb", "parquet"},
        automation_condition=throttled_after_updates(DATA_QUALITY_EVERY, "data_quality_after_lake_updates"),
        description=description,
    )


def build_data_quality_asset(
    daily_partitions: DailyPartitionsDefinition, late_arrival_hours: int, pool: str = "duckdb"
) -> AssetsDefinition:
    """``data_quality_daily`` and ``data_quality_losses_daily`` over ``daily_partitions``; a day counts
    the events that arrived up to ``late_arrival_hours`` late (SHOPPER_LATE_ARRIVAL_HOURS). ``pool`` is the
    lake step's concurrency pool (deployments.py ``pools_for``)."""

    @multi_asset(
        name="data_quality",
        specs=[
            _spec(
                SCORE,
                "Each day's data quality: the share of landed lines that became clean events (dq_score), lines lost "
                "(quarantined, duplicates), late arrivals, and the lake checks run on the whole day. Numeric metadata "
                "per day (the UI plots dq_score); lake table data_quality_daily for the dbt mart dq_score_daily.",
            ),
            _spec(
                LOSSES,
                "Each day's landed lines that did not become clean events, per reason (quarantine reasons and "
                "'duplicate'); lake table data_quality_losses_daily for the dbt mart dq_losses_daily.",
            ),
        ],
        partitions_def=daily_partitions,
        backfill_policy=BackfillPolicy.single_run(),
        pool=pool,  # it writes the lake and the warehouse, like the lake step
    )
    def data_quality(context: AssetExecutionContext, lake: LakeStore):
        """Count each day of the window on the lake and replace its rows of both tables."""
        start, end = window_bounds(context.partition_time_window)
        at = datetime.now(UTC).replace(tzinfo=None)
        with lake.writing("data_quality", start, end), lake.session() as session:
            days = [day_quality(session, d.date(), late_arrival_hours, CheckThresholds()) for d in days_in(start, end)]
            write_days(session, start, end, days, at)
        lake.publish_to_warehouse()
        for q in days:
            key = q.day.isoformat()
            context.add_asset_metadata(day_metadata(q), asset_key=SCORE, partition_key=key)
            losses = {f"lost_{r}": n for r, n in sorted(q.lost_by_reason.items())}
            context.add_asset_metadata(
                {"dagster/row_count": len(q.loss_rows()), **losses},
                asset_key=LOSSES,
                partition_key=key,
            )
            score = f"{100 * q.dq_score:.2f} %" if q.dq_score is not None else "n/a (nothing landed)"
            failed = f"; failed checks: {', '.join(q.failed_checks)}" if q.failed_checks else ""
            context.log.info(
                f"{q.day}: DQ {score}: {q.clean_events:,} clean of {q.landed_lines:,} landed lines, "
                f"{q.quarantined_lines:,} quarantined, {q.duplicate_lines:,} duplicates, {q.late_events:,} late; "
                f"checks {q.checks_passed} passed, {q.checks_warned} warned, {q.checks_failed} failed{failed}"
            )
        yield MaterializeResult(asset_key=SCORE)
        yield MaterializeResult(asset_key=LOSSES)

    return data_quality
