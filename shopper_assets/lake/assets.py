"""Hourly lake assets: landed lines → raw_events → cleaned_events + quarantined_events.

One step materializes them (``lake_step``), so a run holds the ``duckdb`` pool (locally) from reading the
landing files until its checks are done: with two steps, a dbt step waiting for the pool took it
between them (Dagster hands a freed slot to the step waiting longest, and the cleaning step was not
waiting yet), and the cleaning waited for that whole dbt step, which read the lake without it.
``raw_events`` alone, or ``cleaned_events`` with ``quarantined_events`` (written together), can be
materialized too. The step is a single-run backfill: a day (or any range) materializes in one run
that streams through its hours, not one run per hour.
"""

from datetime import UTC, datetime
from typing import NamedTuple

from dagster import (
    AssetCheckKey,
    AssetDep,
    AssetExecutionContext,
    AssetKey,
    AssetsDefinition,
    AssetSpec,
    BackfillPolicy,
    Config,
    DagsterInvalidSubsetError,
    HourlyPartitionsDefinition,
    MaterializeResult,
    MetadataValue,
    TimeWindowPartitionMapping,
    multi_asset,
)

from shopper_assets.contract.time_grid import hour_key, hours_in
from shopper_assets.ingestion.landing import LandingZone
from shopper_assets.lake.hourly_stats import hour_figures, raw_rows_per_hour
from shopper_assets.lake.pipeline import clean_window, ingest_raw
from shopper_assets.partitions import window_bounds
from shopper_assets.quality.checks import CHECK_SPECS, CheckThresholds, run_all
from shopper_assets.quality.landing_checks import LANDING_CHECK_SPEC, landing_reconciles
from shopper_assets.storage.lake_store import LakeStore

RAW, CLEANED, QUARANTINED = AssetKey("raw_events"), AssetKey("cleaned_events"), AssetKey("quarantined_events")


class CleaningConfig(Config):
    max_quarantine_ratio: float = CheckThresholds.max_quarantine_ratio
    min_quarantined_rows: int = CheckThresholds.min_quarantined_rows
    volume_history_days: int = CheckThresholds.volume_history_days
    volume_tolerance: float = CheckThresholds.volume_tolerance


def _lake_table(key: AssetKey, deps: list, description: str) -> AssetSpec:
    """One of the lake step's three hourly Parquet tables (skippable: a subset run may not write it)."""
    return AssetSpec(
        key, deps=deps, group_name="lake", kinds={"duckdb", "parquet"}, skippable=True, description=description
    )


class LakeAssets(NamedTuple):
    landing_events: AssetSpec
    lake_step: AssetsDefinition


def build_lake_assets(
    hourly_partitions: HourlyPartitionsDefinition, late_arrival_hours: int, pool: str = "duckdb"
) -> LakeAssets:
    """The landing files and the lake step over ``hourly_partitions``; an hour's raw_events read its own
    landing folder and the ``late_arrival_hours`` folders after it (SHOPPER_LATE_ARRIVAL_HOURS).

    ``pool`` is the step's concurrency pool (deployments.py ``pools_for``): locally ``duckdb``, the
    one-slot pool of every writer of the DuckDB file; in prod the lake's own pool, where hours run
    side by side (their S3 folders and Postgres rows are disjoint)."""
    landing_events = AssetSpec(
        "landing_events",
        description=(
            "Files delivered to the landing zone (landing/events/date=/hour=), by generator, Kafka or S3 drops."
        ),
        partitions_def=hourly_partitions,
        group_name="landing",
        kinds={"file"},
    )

    @multi_asset(
        name="lake_step",
        specs=[
            _lake_table(
                RAW,
                [
                    AssetDep(
                        landing_events,
                        partition_mapping=TimeWindowPartitionMapping(
                            start_offset=0, end_offset=late_arrival_hours, allow_nonexistent_upstream_partitions=True
                        ),
                    )
                ],
                "Every landed line as delivered, with its file and line number, in the hour of its event_time "
                f"(read from the hour's folder and the {late_arrival_hours} folders after it, for late arrivals).",
            ),
            _lake_table(CLEANED, [RAW], "Typed, valid events, one row per event_id, in the hour of their event_time."),
            _lake_table(
                QUARANTINED,
                [RAW],
                "Lines removed for a reason other than duplication, with the raw line and a reason code.",
            ),
        ],
        check_specs=[LANDING_CHECK_SPEC, *CHECK_SPECS],
        partitions_def=hourly_partitions,
        backfill_policy=BackfillPolicy.single_run(),
        can_subset=True,
        pool=pool,  # locally one lake/warehouse writer at a time: a partition never changes under a reader
    )
    def lake_step(context: AssetExecutionContext, config: CleaningConfig, landing: LandingZone, lake: LakeStore):
        """Land the window's lines into raw_events, then clean, deduplicate and quarantine them and
        check the result. Blocking checks stop dbt on bad data (in the same run)."""
        selected = context.selected_asset_keys
        cleaning = selected & {CLEANED, QUARANTINED}
        if cleaning and cleaning != {CLEANED, QUARANTINED}:
            raise DagsterInvalidSubsetError(
                "cleaned_events and quarantined_events are written together: select both (or neither)"
            )
        start, end = window_bounds(context.partition_time_window)
        with lake.writing("events", start, end):  # prod: no other run writes these hours meanwhile
            if RAW in selected:
                yield from _land_raw(context, landing, lake, start, end, late_arrival_hours)
            if cleaning:
                yield from _clean(context, config, lake, start, end, late_arrival_hours)

    return LakeAssets(landing_events, lake_step)


def _land_raw(context: AssetExecutionContext, landing: LandingZone, lake: LakeStore, start, end, late_hours: int):
    context.log.info(f"Landing lines for [{start}, {end}) with a {late_hours} h late-arrival window")
    with lake.session() as session:
        stats = ingest_raw(session, landing, start, end, late_hours)
        landed = landing_reconciles(session, stats.versions, start, end, late_hours)
        per_hour = raw_rows_per_hour(session, start, end)
    for hour, rows in per_hour.items():  # each hour's materialization carries that hour's rows
        context.add_asset_metadata({"dagster/row_count": rows}, asset_key=RAW, partition_key=hour_key(hour))
    context.log.info(
        f"raw_events: {stats.rows:,} lines from {stats.files} files in {stats.landing_hours} folders; "
        f"read {stats.files_read} new or changed files, {stats.rows_added:,} lines added; "
        f"{stats.hours_appended} hours appended to, {stats.hours_rebuilt} rebuilt"
    )
    if not landed.passed:
        context.log.warning(f"landing_reconciles: {landed.description}")
    empty = [h for h in hours_in(start, end) if not stats.versions.get(h)]
    if empty:  # a backfill of hours nobody landed anything for succeeds with 0 lines: say so
        context.log.warning(
            f"{len(empty)} of {len(hours_in(start, end))} hours have no landing files "
            f"(first {hour_key(empty[0])}): nothing was landed for them (shopper generate, a stream or S3 drops do)"
        )
    yield MaterializeResult(
        asset_key=RAW,
        metadata={  # the run's figures (its window's); the hour's row count is added above
            "window_rows": stats.rows,
            "files": stats.files,
            "files_read": stats.files_read,
            "rows_added": stats.rows_added,
            "hours_appended": stats.hours_appended,
            "hours_rebuilt": stats.hours_rebuilt,
            "landing_folders_read": stats.landing_hours,
            "lines_from_later_folders": stats.routed_from_later_folders,
            # the landing reconciliation of the window's folders (its check has the detail)
            "landed_lines": landed.metadata["lines"].value,
            "landed_lines_waiting": landed.metadata["waiting_lines"].value,
            "unreadable_files": landed.metadata["unreadable_file_count"].value,
            "hours_without_landing_files": len(empty),
        },
    )
    if AssetCheckKey(RAW, LANDING_CHECK_SPEC.name) in context.selected_asset_check_keys:
        yield landed


def _clean(context: AssetExecutionContext, config: CleaningConfig, lake: LakeStore, start, end, late_hours: int):
    thresholds = CheckThresholds(
        max_quarantine_ratio=config.max_quarantine_ratio,
        min_quarantined_rows=config.min_quarantined_rows,
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
        figures = hour_figures(session, start, end, datetime.now(UTC).replace(tzinfo=None))
        _add_hour_figures(context, figures)
        lags = [f.lag_seconds for f in figures.values() if f.lag_seconds is not None]
        yield MaterializeResult(
            asset_key=CLEANED,
            metadata={  # the run's figures (its window's); each hour's own are added by _add_hour_figures
                "events_processed": stats.raw_rows_processed,  # landed lines this run classified
                **({"window_lag_seconds": min(lags)} if lags else {}),  # window's newest event -> now
                "window_rows": stats.cleaned_rows,
                "window_raw_rows": stats.raw_rows,
                "window_duplicates_dropped": stats.duplicates_dropped,
                "late_duplicates": stats.late_duplicates,
                "raw_parts_processed": stats.raw_parts_processed,
                "mode": "rebuilt" if stats.rebuilt else "appended",
            },
        )
        yield MaterializeResult(
            asset_key=QUARANTINED,
            metadata={
                "window_rows": stats.quarantined_rows,
                "by_reason": MetadataValue.json(stats.quarantined_by_reason),
            },
        )
        selected_checks = context.selected_asset_check_keys
        if selected_checks:
            for result in run_all(session, start, end, thresholds, late_hours):
                if AssetCheckKey(result.asset_key or CLEANED, result.check_name) in selected_checks:
                    yield result if result.asset_key else result._replace(asset_key=CLEANED)
    lake.publish_to_warehouse()


def _add_hour_figures(context: AssetExecutionContext, figures: dict) -> None:
    """Each hour's own numbers on its cleaned and quarantined materializations, for the UI's plots."""
    for hour, f in figures.items():
        key = hour_key(hour)
        cleaned = {
            "dagster/row_count": f.cleaned_rows,
            "raw_rows": f.raw_rows,
            "duplicates_dropped": f.duplicates_dropped,
            "quarantine_ratio": f.quarantine_ratio,
        }
        if f.lag_seconds is not None:
            cleaned["lag_seconds"] = f.lag_seconds
        context.add_asset_metadata(cleaned, asset_key=CLEANED, partition_key=key)
        context.add_asset_metadata(
            {"dagster/row_count": f.quarantined_rows, "quarantine_ratio": f.quarantine_ratio},
            asset_key=QUARANTINED,
            partition_key=key,
        )
