"""Issue 16, item 3: no event is left neither cleaned nor quarantined. Kafka messages stamped before
SHOPPER_START_DATE or in 2099 are landed where a lake run reads them and quarantined with their
reason (they stayed in landing with a log line, or waited in the sensor cursor); a landed file with
another name than ``*.jsonl.gz`` is quarantined, not skipped; a late line whose hour is before the
first partition is quarantined, not routed out of every window."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

from confluent_kafka import Producer
from dagster import build_sensor_context

from shopper_assets.automation.landing_tick import landed_hours
from shopper_assets.ingestion.landing import LANDING_PREFIX, LocalLandingZone, hour_folder
from shopper_assets.partitions import first_hour
from tests.conftest import write_landing_file
from tests.faults.lake import run_window
from tests.kafka.helpers import consumer_for, drain
from tests.lake.events import event


def test_kafka_messages_no_partition_will_hold_are_quarantined(kafka_settings, kafka_broker, group_id):
    now = datetime.now(UTC).replace(tzinfo=None)
    hour = now.replace(minute=0, second=0, microsecond=0)
    soon = hour + timedelta(hours=3)  # ahead of the clock, within a day: waits for its partition
    stamped = {
        "now": event(at=now - timedelta(minutes=1)),
        "2099": event(at=datetime(2099, 6, 1, 12)),
        "before_start": event(at=first_hour() - timedelta(days=30)),
        "soon": event(at=soon + timedelta(minutes=5)),
    }
    producer = Producer({"bootstrap.servers": kafka_broker.bootstrap})
    for key, value in stamped.items():
        producer.produce(kafka_settings.kafka_topics[0], json.dumps(value).encode(), key=key.encode())
    assert producer.flush(10) == 0
    landing = LocalLandingZone(data_dir=str(kafka_settings.data_dir))
    consumer = consumer_for(kafka_settings, kafka_broker, group_id)
    try:
        reports = drain(consumer, landing, max_messages=100)
    finally:
        consumer.close()

    folders = set().union(*(r.hours for r in reports))
    assert max(folders) == soon and min(folders) >= hour - timedelta(hours=1)  # nothing in 2099 or 2025
    ready, waiting = landed_hours(build_sensor_context(), [], folders)
    assert waiting == [soon]  # the sensor's cursor keeps only the hour a day can bring

    start, end = min(ready), max(ready) + timedelta(hours=1)
    run = run_window(kafka_settings.data_dir, start, end)
    assert {r["event_id"] for r in run.cleaned} == {stamped["now"]["event_id"]}
    reasons = {q["event_id"]: q["reason"] for q in run.quarantined}
    ids = {key: e["event_id"] for key, e in stamped.items()}
    assert reasons == {ids["2099"]: "future_timestamp", ids["before_start"]: "before_start_date"}
    assert run.checks["landing_reconciles"].passed and run.checks["raw_reconciles"].passed
    assert run.checks["landing_reconciles"].metadata["lines"].value == 3


def test_a_file_with_another_name_is_quarantined_not_skipped(data_dir: Path):
    h10 = datetime(2026, 11, 20, 10)
    write_landing_file(data_dir, h10, "good.jsonl.gz", [event(at=h10)])
    write_landing_file(data_dir, h10, "misnamed.json.gz", [event(at=h10) for _ in range(500)])
    (data_dir / LANDING_PREFIX / hour_folder(h10) / ".inflight.jsonl.gz.123.tmp").write_bytes(b"partial")

    run = run_window(data_dir, h10, h10 + timedelta(hours=1))

    assert len(run.cleaned) == 1
    ((line, reason, detail),) = [(q["line_number"], q["reason"], q["detail"]) for q in run.quarantined]
    assert (line, reason) == (0, "unsupported_file") and "misnamed.json.gz is not a landing file" in detail
    landed = run.checks["landing_reconciles"]
    assert not landed.passed and landed.metadata["unreadable_file_count"].value == 1
    assert landed.metadata["files"].value == 2  # a write in flight (a dot file) is not a landed file


def test_a_late_line_of_an_hour_before_the_first_partition_is_quarantined(data_dir: Path):
    """Its folder is a partition, its event hour is not: it stays in its folder, quarantined."""
    folder = first_hour() + timedelta(hours=2)
    early = event(at=first_hour() - timedelta(hours=1))
    write_landing_file(data_dir, folder, "late.jsonl.gz", [early, event(at=folder)])

    run = run_window(data_dir, first_hour(), folder + timedelta(hours=1))

    assert [q["reason"] for q in run.quarantined] == ["before_start_date"]
    assert run.quarantined[0]["event_id"] == early["event_id"]
    assert len(run.cleaned) == 1 and run.checks["landing_reconciles"].passed
