"""The S3 drop sensor through Dagster: dropped JSONL.gz and REES46 CSV objects are landed, the
sensor's run requests are executed on S3 + Postgres, and a re-dropped file adds nothing."""

from __future__ import annotations

import gzip
import json
from datetime import date

import psycopg
from dagster import SensorResult, SkipReason, materialize

from shopper_assets.generator import GeneratorConfig, simulate_events
from tests.built import lake_step, landing_events
from tests.prod.helpers import tick

REES46_CSV = (
    "event_time,event_type,product_id,category_id,category_code,brand,price,user_id,user_session\n"
    "2026-11-20 10:00:01 UTC,view,1004237,2053013555631882655,electronics.smartphone,apple,1081.98,535871217,s-a\n"
    "2026-11-20 10:00:05 UTC,cart,1004237,2053013555631882655,electronics.smartphone,apple,1081.98,535871217,s-a\n"
    "2026-11-20 10:01:00 UTC,purchase,1004237,2053013555631882655,electronics.smartphone,apple,1081.98,535871217,s-a\n"
    "2026-11-20 10:02:00 UTC,purchase,3601485,2053013563810775923,,,299.00,535871217,s-a\n"
    "2026-11-20 10:03:00 UTC,teleport,1,2053013563810775923,,,1.00,1,s-b\n"
)


def jsonl_gz_of_one_hour() -> tuple[bytes, int]:
    table = next(iter(simulate_events(GeneratorConfig(start=date(2026, 11, 20), events_per_day=5_000, seed=3))))
    rows = table.to_pylist()
    lines = []
    for row in rows:
        row["event_time"] = row["event_time"].strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"
        lines.append(json.dumps({k: v for k, v in row.items() if v is not None}))
    return gzip.compress(("\n".join(lines) + "\n").encode()), len(rows)


def execute(resources, instance, result: SensorResult) -> None:
    for request in result.run_requests:
        run = materialize(
            [landing_events, lake_step],
            resources=resources,
            instance=instance,
            selection=request.asset_selection,
            tags=request.tags,
            # the tiny REES46 sample is 1 bad row in 5: above the default 5% threshold
            run_config={"ops": {"lake_step": {"config": {"max_quarantine_ratio": 0.5}}}},
        )
        assert run.success


def test_dropped_files_flow_into_postgres_once(prod, s3, bucket, pg_url):
    resources, instance = prod
    payload, n_json = jsonl_gz_of_one_hour()
    s3.put_object(Bucket=bucket, Key="incoming/2026-11-21T08-00-00-events.jsonl.gz", Body=payload)
    s3.put_object(Bucket=bucket, Key="incoming/2026-11-21T08-00-01-rees46.csv", Body=REES46_CSV.encode())

    first = tick(resources, instance, None)
    assert isinstance(first, SensorResult) and first.run_requests
    execute(resources, instance, first)
    assert isinstance(tick(resources, instance, first.cursor), SkipReason)  # cursor moved past both

    with psycopg.connect(pg_url) as conn:
        cleaned = conn.execute("SELECT count(*), count(DISTINCT event_id) FROM lake.cleaned_events").fetchone()
        orders = conn.execute(
            "SELECT count(DISTINCT order_id) FROM lake.cleaned_events WHERE _source_file LIKE '%rees46%' "
            "AND event_type = 'purchase'"
        ).fetchone()[0]
        reasons = conn.execute("SELECT reason FROM lake.quarantined_events").fetchall()
    assert cleaned == (n_json + 4, n_json + 4)
    assert orders == 1  # the purchases of one user_session form one order
    assert reasons == [("unknown_event_type",)]

    # The same file dropped again (a producer retry) lands under new names but the same event ids.
    s3.put_object(Bucket=bucket, Key="incoming/2026-11-21T09-00-00-rees46-retry.csv", Body=REES46_CSV.encode())
    again = tick(resources, instance, first.cursor)
    execute(resources, instance, again)
    with psycopg.connect(pg_url) as conn:
        assert conn.execute("SELECT count(*) FROM lake.cleaned_events").fetchone()[0] == n_json + 4
