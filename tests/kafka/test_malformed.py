"""Malformed messages are landed as lines (one each), offsets move past them, and the real lake
steps quarantine them with the expected reasons while the good events reach cleaned_events."""

from __future__ import annotations

import datetime
import json
from collections import Counter
from datetime import timedelta

from confluent_kafka import Producer, TopicPartition

from shopper_assets.contract.events import MAX_EVENT_BYTES
from shopper_assets.ingestion.kafka.produce import produce_events
from shopper_assets.lake.pipeline import clean_window, ingest_raw
from shopper_assets.storage.lake_store import LocalLakeStore
from tests.kafka.helpers import consumer_for, drain, landed_lines

GOOD = 200


def page_view(event_id: str, when: datetime.datetime) -> dict:
    return {
        "event_id": event_id,
        "event_type": "page_view",
        "event_time": when.strftime("%Y-%m-%dT%H:%M:%S.000Z"),
        "user_id": "u-0000001",
        "session_id": "s-test-1",
        "page": "home",
        "device_type": "mobile",
        "referrer": "direct",
        "user_type": "new",
        "currency": "USD",
        "schema_version": 1,
    }


def test_malformed_messages_are_landed_and_quarantined(kafka_settings, kafka_broker, landing, group_id):
    today = datetime.datetime.now(datetime.UTC).date()
    assert produce_events(kafka_settings, events=GOOD, progress=False, start=today).ok
    noon = datetime.datetime.combine(today, datetime.time(12, 5))
    oversized = page_view("e-oversized", noon) | {"padding": "x" * (MAX_EVENT_BYTES + 10)}
    bad = {
        "not_json": b"this is not json",
        "not_utf8": b'{"event_id": "\xff\xfe\xfd"}',
        "oversized": json.dumps(oversized).encode(),
        "json_array": b"[1, 2, 3]",
        "newline_text": b"not json\nsecond line\n",
        "tombstone": None,
        "wrong_schema": json.dumps({"event_id": "e-wrong", "event_time": "2026-01-01T00:00:00Z"}).encode(),
        "pretty_json": json.dumps(page_view("e-pretty", noon), indent=2).encode(),  # newlines, still an event
    }
    producer = Producer({"bootstrap.servers": kafka_broker.bootstrap})
    topic = kafka_settings.kafka_topics[0]
    for key, value in bad.items():
        producer.produce(topic, value, key=key.encode())
    assert producer.flush(10) == 0
    total = GOOD + len(bad)

    consumer = consumer_for(kafka_settings, kafka_broker, group_id)
    try:
        reports = drain(consumer, landing, max_messages=10_000)
        committed = consumer.committed([TopicPartition(topic, p) for p in range(3)], timeout=5)
    finally:
        consumer.close()
    assert sum(r.messages for r in reports) == total
    assert sum(tp.offset for tp in committed) == total  # offsets advanced past every bad message
    assert sum(r.malformed for r in reports) == 6  # all but wrong_schema (has event_time) and pretty_json
    assert sum(r.repaired for r in reports) == 2
    lines = [landed.line for landed in landed_lines(kafka_settings.data_dir)]
    assert len(lines) == total  # one line per message: newlines did not split any
    assert b"not json\\nsecond line\\n" in lines
    assert b'{"event_id":"e-pretty"' in b"\n".join(lines)

    hours = set().union(*(r.hours for r in reports))
    start, end = min(hours), max(hours) + timedelta(hours=1)
    store = LocalLakeStore(data_dir=str(kafka_settings.data_dir), duckdb_path=str(kafka_settings.duckdb_path))
    with store.session() as session:
        raw = ingest_raw(session, landing, start, end, kafka_settings.late_arrival_hours)
        stats = clean_window(session, start, end)
        cleaned_ids = {
            row[0]
            for row in session.con.execute(
                f"SELECT event_id FROM ({session.scan('cleaned_events', start, end)})"
            ).fetchall()
        }
    assert raw.rows == total
    assert stats.cleaned_rows == GOOD + 1
    assert "e-pretty" in cleaned_ids
    assert Counter(stats.quarantined_by_reason) == Counter(
        {"invalid_json": 4, "invalid_utf8": 1, "oversized": 1, "missing_required_field": 1}
    )
