"""Hourly lake assets: landed lines → raw_events → cleaned_events + quarantined_events.

Both steps are single-run backfills: a day (or any range) materializes in one run that streams
through its hours, not one run per hour.
"""

from dagster import (
    AssetDep,
    AssetExecutionContext,
    AssetSpec,
    BackfillPolicy,
    Config,
    MaterializeResult,
    MetadataValue,
    TimeWindowPartitionMapping,
    asset,
    multi_asset,
)

from shopper_assets.ingestion.landing import LandingZone
from shopper_assets.lake.pipeline import clean_window, ingest_raw
from shopper_assets.partitions import hourly_partitions, window_bounds
from shopper_assets.quality.checks import CHECK_SPECS, CheckThresholds, run_all
from shopper_assets.settings import Settings
from shopper_assets.storage.lake_store import LakeStore

LATE_ARRIVAL_HOURS = Settings.from_env().late_arrival_hours

landing_events = AssetSpec(
    "landing_events",
    description="Files delivered to the landing zone (landing/events/date=/hour=), by generator, Kafka or S3 drops.",
    partitions_def=hourly_partitions,
    group_name="landing",
    kinds={"file"},
)


@asset(
    partitions_def=hourly_partitions,
    backfill_policy=BackfillPolicy.single_run(),
    deps=[
        AssetDep(
            landing_events,
            partition_mapping=TimeWindowPartitionMapping(
                start_offset=0, end_offset=LATE_ARRIVAL_HOURS, allow_nonexistent_upstream_partitions=True
            ),
        )
    ],
    group_name="lake",
    kinds={"duckdb", "parquet"},
    pool="duckdb",  # one lake/warehouse writer at a time: a partition never changes under a reader
    description=(
        "Every landed line as delivered, with its file and line number, in the hour of its event_time "
        f"(read from the hour's folder and the {LATE_ARRIVAL_HOURS} folders after it, for late arrivals)."
    ),
)
def raw_events(context: AssetExecutionContext, landing: LandingZone, lake: LakeStore) -> MaterializeResult:
    start, end = window_bounds(context.partition_time_window)
    context.log.info(f"Landing lines for [{start}, {end}) with a {LATE_ARRIVAL_HOURS} h late-arrival window")
    with lake.session() as session:
        stats = ingest_raw(session, landing, start, end, LATE_ARRIVAL_HOURS)
    context.log.info(
        f"raw_events: {stats.rows:,} lines from {stats.files} files in {stats.landing_hours} folders; "
        f"read {stats.files_read} new or changed files, {stats.rows_added:,} lines added; "
        f"{stats.hours_appended} hours appended to, {stats.hours_rebuilt} rebuilt"
    )
    return MaterializeResult(
        metadata={
            "dagster/row_count": stats.rows,
            "files": stats.files,
            "files_read": stats.files_read,
            "rows_added": stats.rows_added,
            "hours_appended": stats.hours_appended,
            "hours_rebuilt": stats.hours_rebuilt,
            "landing_folders_read": stats.landing_hours,
            "lines_from_later_folders": stats.routed_from_later_folders,
        }
    )


class CleaningConfig(Config):
    max_quarantine_ratio: float = CheckThresholds.max_quarantine_ratio
    volume_history_days: int = CheckThresholds.volume_history_days
    volume_tolerance: float = CheckThresholds.volume_tolerance


@multi_asset(
    specs=[
        AssetSpec(
            "cleaned_events",
            deps=["raw_events"],
            group_name="lake",
            kinds={"duckdb", "parquet"},
            description="Typed, valid events, one row per event_id, in the hour of their event_time.",
        ),
        AssetSpec(
            "quarantined_events",
            deps=["raw_events"],
            group_name="lake",
            kinds={"duckdb", "parquet"},
            description="Lines removed for a reason other than duplication, with the raw line and a reason code.",
        ),
    ],
    check_specs=CHECK_SPECS,
    partitions_def=hourly_partitions,
    backfill_policy=BackfillPolicy.single_run(),
    pool="duckdb",
)
def clean_events(context: AssetExecutionContext, config: CleaningConfig, lake: LakeStore):
    """Clean, deduplicate and quarantine one window, then check it. Blocking checks stop dbt on bad data."""
    start, end = window_bounds(context.partition_time_window)
    thresholds = CheckThresholds(
        max_quarantine_ratio=config.max_quarantine_ratio,
        volume_history_days=config.volume_history_days,
        volume_tolerance=config.volume_tolerance,
    )
    with lake.session() as session:
        stats = clean_window(session, start, end)
        context.log.info(
            f"cleaned_events: {stats.cleaned_rows:,} of {stats.raw_rows:,} raw lines; "
            f"{stats.quarantined_rows:,} quarantined; {stats.duplicates_dropped:,} duplicates dropped; "
            f"{'rebuilt from' if stats.rebuilt else 'appended the lines of'} {stats.raw_parts_processed} raw parts"
        )
        yield MaterializeResult(
            asset_key="cleaned_events",
            metadata={
                "dagster/row_count": stats.cleaned_rows,
                "raw_rows": stats.raw_rows,
                "duplicates_dropped": stats.duplicates_dropped,
                "late_duplicates": stats.late_duplicates,
                "raw_parts_processed": stats.raw_parts_processed,
                "mode": "rebuilt" if stats.rebuilt else "appended",
            },
        )
        yield MaterializeResult(
            asset_key="quarantined_events",
            metadata={
                "dagster/row_count": stats.quarantined_rows,
                "by_reason": MetadataValue.json(stats.quarantined_by_reason),
            },
        )
        yield from run_all(session, start, end, thresholds, LATE_ARRIVAL_HOURS)
    lake.publish_to_warehouse()
