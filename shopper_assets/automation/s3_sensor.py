"""The S3 drop sensor: files dropped under ``s3://$SHOPPER_S3_BUCKET/incoming/`` enter the lake.

Each tick lands the objects whose keys sort after the cursor (JSONL, JSONL.gz, or REES46 CSV),
each line into the hour folder of its event_time, and requests the same lake runs as the Kafka
sensor for the hours touched. Ad-spend CSV files under ``incoming/ad_spend/`` are split into the
day folders of their rows' dates, and ``ad_spend`` runs are requested for those days (one
single-run backfill per contiguous range of days). One cursor, the last key handled, covers both.
Bad files or rows never block it: they are landed as lines the cleaning step (or ``ad_spend``)
quarantines with a reason, or skipped with an error in the tick's log. Producers must write keys
that sort in arrival order (e.g. prefixed with a timestamp).
"""

from __future__ import annotations

from dagster import (
    ConfigurableResource,
    DefaultSensorStatus,
    SensorEvaluationContext,
    SensorResult,
    SkipReason,
    sensor,
)

from shopper_assets.automation.jobs import lake_job, marts_job
from shopper_assets.automation.landing_tick import LandingTick, read_cursor
from shopper_assets.contract.ad_spend import INCOMING_PREFIX as AD_SPEND_INCOMING_PREFIX
from shopper_assets.ingestion.landing import LandingZone


class S3DropsResource(ConfigurableResource):
    """Where drops arrive, and how many objects one tick may take."""

    bucket: str
    endpoint_url: str | None = None
    region: str = "us-east-1"
    prefix: str = "incoming/"
    ad_spend_prefix: str = AD_SPEND_INCOMING_PREFIX  # inside ``prefix``: ad-spend CSV files
    max_objects_per_tick: int = 20

    def client(self):
        from shopper_assets.storage.s3_client import s3_client  # boto3 loads when a tick needs it

        return s3_client(self.endpoint_url, self.region)


@sensor(
    name="s3_drop_sensor",
    minimum_interval_seconds=30,
    # two jobs, as the lake step is hourly and ad_spend daily: each request names its job
    jobs=[lake_job, marts_job],
    default_status=DefaultSensorStatus.STOPPED,
    description=(
        "Lands files dropped under s3://$SHOPPER_S3_BUCKET/incoming/ and requests lake runs for their hours "
        "(ad_spend runs for the days of ad-spend files under incoming/ad_spend/)."
    ),
)
def s3_drop_sensor(
    context: SensorEvaluationContext, s3_drops: S3DropsResource, landing: LandingZone
) -> SensorResult | SkipReason:
    from shopper_assets.ingestion.s3.drops import process_incoming

    report = process_incoming(
        s3_drops.client(),
        s3_drops.bucket,
        landing,
        after_key=read_cursor(context).get("after_key"),
        max_objects=s3_drops.max_objects_per_tick,
        prefix=s3_drops.prefix,
        ad_spend_prefix=s3_drops.ad_spend_prefix,
    )
    for error in report.errors:
        context.log.warning(error)
    tick = LandingTick.after(context, report.hours, report.ad_spend_days)
    if not tick.ready and report.objects == 0:
        return SkipReason(
            f"No new objects under s3://{s3_drops.bucket}/{s3_drops.prefix}"
            + (f"; errors: {report.errors}" if report.errors else "")
        )
    context.log.info(
        f"Landed {report.objects} objects ({report.lines:,} lines, {report.bad_rows:,} bad rows; "
        f"{report.ad_spend_rows:,} ad-spend rows) into {len(report.files)} files over {len(report.hours)} hours "
        f"and {len(report.ad_spend_days)} ad-spend days"
    )
    return tick.result(
        f"s3:{report.last_key}",
        lambda _: {"objects_in_tick": report.objects, "lines_in_tick": report.lines, "source": "s3 drops"},
        lambda _: {"objects_in_tick": report.objects, "source": "s3 drops"},
        after_key=report.last_key,
    )
