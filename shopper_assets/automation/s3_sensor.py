"""The S3 drop sensor: files dropped under ``s3://$SHOPPER_S3_BUCKET/incoming/`` enter the lake.

Each tick lands the objects whose keys sort after the cursor (JSONL, JSONL.gz, or REES46 CSV),
each line into the hour folder of its event_time, and requests the same lake runs as the Kafka
sensor for the hours touched. Bad files or rows never block it: they are landed as lines the
cleaning step quarantines with a reason, or skipped with an error in the tick's log. Producers
must write keys that sort in arrival order (e.g. prefixed with a timestamp).
"""

from __future__ import annotations

import json

from dagster import (
    AssetMaterialization,
    ConfigurableResource,
    DefaultSensorStatus,
    SensorEvaluationContext,
    SensorResult,
    SkipReason,
    sensor,
)

from shopper_assets.automation.lake_runs import LAKE_STEP, hour_key, lake_runs_for, landed_hours
from shopper_assets.ingestion.landing import LandingZone


class S3DropsResource(ConfigurableResource):
    """Where drops arrive, and how many objects one tick may take."""

    bucket: str
    endpoint_url: str | None = None
    region: str = "us-east-1"
    prefix: str = "incoming/"
    max_objects_per_tick: int = 20

    def client(self):
        from shopper_assets.ingestion.s3_landing import s3_client

        return s3_client(self.endpoint_url, self.region)


@sensor(
    name="s3_drop_sensor",
    minimum_interval_seconds=30,
    target=LAKE_STEP,
    default_status=DefaultSensorStatus.STOPPED,
    description="Lands files dropped under s3://$SHOPPER_S3_BUCKET/incoming/ and requests lake runs for their hours.",
)
def s3_drop_sensor(
    context: SensorEvaluationContext, s3_drops: S3DropsResource, landing: LandingZone
) -> SensorResult | SkipReason:
    from shopper_assets.ingestion.s3_drops import process_incoming

    state = json.loads(context.cursor) if context.cursor else {}
    report = process_incoming(
        s3_drops.client(),
        s3_drops.bucket,
        landing,
        after_key=state.get("after_key"),
        max_objects=s3_drops.max_objects_per_tick,
        prefix=s3_drops.prefix,
    )
    for error in report.errors:
        context.log.warning(error)
    ready, waiting = landed_hours(context, state.get("pending_hours", []), report.hours)
    new_state = {"after_key": report.last_key, "pending_hours": [h.isoformat() for h in waiting]}
    if not ready and report.objects == 0:
        return SkipReason(
            f"No new objects under s3://{s3_drops.bucket}/{s3_drops.prefix}"
            + (f"; errors: {report.errors}" if report.errors else "")
        )
    context.log.info(
        f"Landed {report.objects} objects ({report.lines:,} lines, {report.bad_rows:,} bad rows) "
        f"into {len(report.files)} files over {len(report.hours)} hours"
    )
    events = [
        AssetMaterialization(
            asset_key="landing_events",
            partition=hour_key(h),
            metadata={"objects_in_tick": report.objects, "lines_in_tick": report.lines, "source": "s3 drops"},
        )
        for h in sorted(set(report.hours))
        if h in ready
    ]
    return SensorResult(
        run_requests=lake_runs_for(context, ready, f"s3:{report.last_key}"),
        asset_events=events,
        cursor=json.dumps(new_state),
    )
