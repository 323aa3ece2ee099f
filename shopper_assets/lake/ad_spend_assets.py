"""Ad spend, the second source: a day's landed CSV files → ``lake.ad_spend`` + ``lake.ad_spend_quarantine``.

Daily partitions. A run (one day, or a range as one single-run backfill) validates each day's files
(``lake/ad_spend.py``), replaces those days of both lake tables (each day folder swapped whole, so
a re-run leaves nothing behind and a day without files becomes empty), checks the result and
publishes the tables to the warehouse, where dbt reads the source ``lake.ad_spend``. It writes the
warehouse, so it runs in the lake step's pool (``duckdb`` locally).
"""

from concurrent.futures import ThreadPoolExecutor
from datetime import datetime
from typing import NamedTuple

import pyarrow as pa
from dagster import (
    AssetExecutionContext,
    AssetKey,
    AssetsDefinition,
    AssetSpec,
    BackfillPolicy,
    DailyPartitionsDefinition,
    MaterializeResult,
    MetadataValue,
    asset,
)

from shopper_assets.contract.ad_spend import LANDING_PREFIX
from shopper_assets.contract.time_grid import days_in
from shopper_assets.ingestion.landing import LandingZone, day_folder
from shopper_assets.lake.ad_spend import ValidatedDay, validate_day
from shopper_assets.partitions import window_bounds
from shopper_assets.quality.ad_spend_checks import AD_SPEND_CHECK_SPECS, run_all
from shopper_assets.storage.lake_store import LakeSession, LakeStore

AD_SPEND = AssetKey("ad_spend")
READERS = 4  # landing files fetched in parallel (S3 round trips)


def load_ad_spend(session: LakeSession, landing: LandingZone, start: datetime, end: datetime) -> list[ValidatedDay]:
    """Validate every day of [start, end) from its landed files and replace those days of both lake tables.

    Each day's partition records the landing files (and versions) it was made from. Days are read
    one at a time, so a long backfill holds one day's files in memory, not the range's.
    """
    validated, inputs = [], {}
    with ThreadPoolExecutor(max_workers=READERS) as pool:
        for day in days_in(start, end):
            versions = landing.ad_spend_versions(day)
            names = sorted(versions)
            files = dict(zip(names, pool.map(landing.read_ad_spend, names), strict=True))
            validated.append(validate_day(session.con, day.date(), files))
            inputs[day] = versions
    con = session.con
    con.register("_ad_spend_rows", pa.concat_tables([v.rows for v in validated]))
    con.register("_ad_spend_quarantine", pa.concat_tables([v.quarantine for v in validated]))
    try:
        # quarantine first: a run that dies in between leaves rows that fail reconciliation until re-run
        session.replace_window("ad_spend_quarantine", start, end, "SELECT * FROM _ad_spend_quarantine", inputs)
        session.replace_window("ad_spend", start, end, "SELECT * FROM _ad_spend_rows", inputs)
    finally:
        con.unregister("_ad_spend_rows")
        con.unregister("_ad_spend_quarantine")
    return validated


def day_metadata(v: ValidatedDay) -> dict:
    """What the UI plots per day: rows, spend, files, quarantined rows (and why)."""
    metadata = {
        "dagster/row_count": v.kept,
        "spend_total": MetadataValue.float(v.spend_total),
        "files": v.files,
        "lines": v.lines,
        "quarantined_rows": v.quarantined,
        "blank_lines": v.blank_lines,
        "quarantined_by_reason": MetadataValue.json(v.quarantined_by_reason),
    }
    if not v.files:
        metadata["note"] = MetadataValue.text(
            f"no files under {LANDING_PREFIX}/{day_folder(v.day)}/: the day's ad spend is now empty"
        )
    return metadata


class AdSpendAssets(NamedTuple):
    landing_ad_spend: AssetSpec
    ad_spend: AssetsDefinition


def build_ad_spend_assets(daily_partitions: DailyPartitionsDefinition, pool: str = "duckdb") -> AdSpendAssets:
    """The landed ad-spend files and the ``ad_spend`` lake tables over ``daily_partitions``, in the
    concurrency pool ``pool`` (the lake step's: deployments.py ``pools_for``)."""
    landing_ad_spend = AssetSpec(
        "landing_ad_spend",
        description=(
            f"Ad-spend CSV files delivered to the landing zone ({LANDING_PREFIX}/date=/), by the generator or "
            "split by day from S3 drops under incoming/ad_spend/."
        ),
        partitions_def=daily_partitions,
        group_name="landing",
        kinds={"file", "csv"},
    )

    @asset(
        name="ad_spend",
        deps=[landing_ad_spend],
        partitions_def=daily_partitions,
        backfill_policy=BackfillPolicy.single_run(),
        pool=pool,  # it writes the lake and the warehouse: the lake step's pool (locally one writer at a time)
        group_name="lake",
        kinds={"duckdb", "parquet", "csv"},
        check_specs=AD_SPEND_CHECK_SPECS,
        description=(
            "Daily ad spend per (spend_date, campaign_id, ad_id) from the landed CSV files, validated: bad rows go "
            "to lake.ad_spend_quarantine with a reason, a repeated row is superseded by the one of the file that "
            "sorts last. Feeds the dbt source lake.ad_spend."
        ),
    )
    def ad_spend(context: AssetExecutionContext, landing: LandingZone, lake: LakeStore) -> MaterializeResult:
        """Replace the window's days of lake.ad_spend and lake.ad_spend_quarantine from the landing zone,
        check them (blocking checks stop dbt in the same run) and publish them to the warehouse."""
        start, end = window_bounds(context.partition_time_window)
        with lake.writing("ad_spend", start, end), lake.session() as session:
            validated = load_ad_spend(session, landing, start, end)
            for v in validated:
                _log_day(context, v)
                context.add_asset_metadata(day_metadata(v), partition_key=f"{v.day:%Y-%m-%d}")
            lines_by_file = {name: c.lines for v in validated for name, c in v.by_file.items()}
            checks = list(run_all(session, start, end, lines_by_file))  # an @asset always runs all its checks
        lake.publish_to_warehouse()
        if len(validated) > 1:
            context.log.info(
                f"ad_spend {validated[0].day}..{validated[-1].day}: {sum(v.kept for v in validated):,} rows kept, "
                f"{sum(v.quarantined for v in validated):,} quarantined, from {sum(v.files for v in validated)} files; "
                f"{sum(not v.files for v in validated)} days without files"
            )
        return MaterializeResult(check_results=checks)

    return AdSpendAssets(landing_ad_spend, ad_spend)


def _log_day(context: AssetExecutionContext, v: ValidatedDay) -> None:
    if not v.files:
        context.log.info(
            f"ad_spend {v.day}: no files under {LANDING_PREFIX}/{day_folder(v.day)}/: the day is now empty"
        )
        return
    reasons = ", ".join(f"{reason} {n}" for reason, n in v.quarantined_by_reason.items())
    context.log.info(
        f"ad_spend {v.day}: {v.kept:,} rows kept, {v.quarantined:,} quarantined{f' ({reasons})' if reasons else ''}, "
        f"from {v.files} files ({v.lines:,} data lines, {v.blank_lines} blank); spend {v.spend_total:,.2f}"
    )
