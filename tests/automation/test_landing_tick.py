"""The ingestion sensors' shared tick: what waits in the cursor, what is materialized, what runs."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

from dagster import DagsterInstance, build_sensor_context

from shopper_assets.automation.landing_tick import LandingTick
from shopper_assets.partitions import first_hour

NOW = datetime.now(UTC).replace(tzinfo=None, minute=0, second=0, microsecond=0)
AHEAD = NOW + timedelta(hours=5)  # no partition yet: waits in the cursor


def test_hours_wait_for_their_partition_and_only_landed_hours_are_materialized():
    start = first_hour()
    pending = start + timedelta(hours=3)  # kept by an earlier tick, its partition exists now
    landed = [start, start + timedelta(hours=1), AHEAD, start - timedelta(hours=1)]  # the last is too early
    cursor = json.dumps({"pending_hours": [pending.isoformat()], "offsets": {"t[0]": 7}})
    with DagsterInstance.ephemeral() as instance:
        context = build_sensor_context(instance=instance, cursor=cursor)
        tick = LandingTick.after(context, landed)
        assert tick.cursor["offsets"] == {"t[0]": 7} and tick.ready
        assert tick.hours.waiting == [AHEAD]
        result = tick.result("kafka:t[0]=9", lambda h: {"hour": h.isoformat()}, offsets={"t[0]": 9})

    assert [(e.partition, e.metadata["hour"].value) for e in result.asset_events] == [
        (f"{h:%Y-%m-%d-%H}:00", h.isoformat()) for h in landed[:2]
    ]
    assert [
        (r.tags["dagster/asset_partition_range_start"], r.tags["dagster/asset_partition_range_end"])
        for r in result.run_requests
    ] == [
        (f"{start:%Y-%m-%d-%H}:00", f"{start + timedelta(hours=1):%Y-%m-%d-%H}:00"),
        (f"{pending:%Y-%m-%d-%H}:00", f"{pending:%Y-%m-%d-%H}:00"),
    ]
    # the sensor's own fields, plus what waits; a sensor that lands no ad spend keeps no pending_days
    assert json.loads(result.cursor) == {"offsets": {"t[0]": 9}, "pending_hours": [AHEAD.isoformat()]}


def test_ad_spend_days_get_their_materializations_runs_and_cursor():
    day = first_hour().date()
    ahead = (NOW + timedelta(days=3)).date()
    with DagsterInstance.ephemeral() as instance:
        context = build_sensor_context(instance=instance, cursor=json.dumps({"pending_days": [ahead.isoformat()]}))
        tick = LandingTick.after(context, [], [day, day])
        assert tick.ready and not tick.hours.ready
        result = tick.result("s3:k", lambda _: {}, lambda d: {"day": d.isoformat()}, after_key="k")

    assert [(e.asset_key.path, e.partition) for e in result.asset_events] == [(["landing_ad_spend"], day.isoformat())]
    assert [(r.job_name, r.tags["dagster/asset_partition_range_start"]) for r in result.run_requests] == [
        ("marts_job", day.isoformat())
    ]
    assert json.loads(result.cursor) == {"after_key": "k", "pending_hours": [], "pending_days": [ahead.isoformat()]}
