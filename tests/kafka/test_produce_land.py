"""Producing synthetic events and landing them: every event once, in its event hour, offsets committed."""

from __future__ import annotations

import json
import time
from collections import defaultdict

from confluent_kafka import Consumer, Producer, TopicPartition

from shopper_assets.ingestion.kafka.files import parse_name
from shopper_assets.ingestion.kafka.land import land_batch
from shopper_assets.ingestion.kafka.produce import produce_events
from shopper_assets.settings import Settings
from tests.kafka.broker import free_port
from tests.kafka.helpers import PAST_DAY, consumer_for, drain, event_ids, landed_lines

N = 3000


def test_produce_then_land_every_event_once_in_its_hour(kafka_settings, kafka_broker, landing, group_id):
    report = produce_events(kafka_settings, events=N, progress=False, start=PAST_DAY)
    assert (report.delivered, report.failed, report.requested) == (N, 0, N)
    assert report.ok and not report.errors

    consumer = consumer_for(kafka_settings, kafka_broker, group_id)
    try:
        reports = drain(consumer, landing, max_messages=700)
        committed = consumer.committed([TopicPartition(kafka_settings.kafka_topics[0], p) for p in range(3)], timeout=5)
    finally:
        consumer.close()

    assert sum(r.messages for r in reports) == N
    assert reports[-1].total_lag == 0
    assert sum(tp.offset for tp in committed) == N  # offsets start at 0: everything committed
    ids = event_ids(kafka_settings.data_dir)
    assert len(ids) == N and set(ids.values()) == {1}
    hours = set()
    for landed in landed_lines(kafka_settings.data_dir):
        event = json.loads(landed.line)
        event_hour = event["event_time"][:13]  # 2026-11-20T13
        assert landed.folder_hour.strftime("%Y-%m-%dT%H") == event_hour
        hours.add(landed.folder_hour)
    assert hours == set().union(*(r.hours for r in reports))
    assert len(hours) > 10  # a day of traffic spreads over many hours
    assert all(r.malformed == 0 and not r.errors for r in reports)


def test_one_user_stays_in_one_partition_in_time_order(kafka_settings, kafka_broker):
    produce_events(kafka_settings, events=1500, progress=False, start=PAST_DAY, seed=7)
    topic = kafka_settings.kafka_topics[0]
    conf = {"bootstrap.servers": kafka_broker.bootstrap, "group.id": "reader", "enable.partition.eof": True}
    consumer = Consumer(conf)
    consumer.assign([TopicPartition(topic, p, 0) for p in range(3)])
    seen: dict[str, list[tuple[int, int, str]]] = defaultdict(list)
    eof: set[int] = set()
    deadline = time.monotonic() + 20
    while len(eof) < 3 and time.monotonic() < deadline:
        for msg in consumer.consume(1000, 0.5):
            if msg.error():
                eof.add(msg.partition())
                continue
            event = json.loads(msg.value())
            assert msg.key().decode() == event["user_id"]
            seen[event["user_id"]].append((msg.partition(), msg.offset(), event["event_time"]))
    consumer.close()
    assert sum(len(v) for v in seen.values()) == 1500
    for events in seen.values():
        assert len({p for p, _, _ in events}) == 1
        times = [t for _, _, t in sorted(events)]
        assert times == sorted(times)


def test_lag_is_reported_until_drained(kafka_settings, kafka_broker, landing, group_id):
    topic = kafka_settings.kafka_topics[0]
    producer = Producer({"bootstrap.servers": kafka_broker.bootstrap})
    for i in range(100):  # one record batch per message: tansu's high watermark is exact then
        producer.produce(topic, json.dumps({"n": i}).encode(), key=str(i % 5).encode())
        producer.flush(5)
    consumer = consumer_for(kafka_settings, kafka_broker, group_id)
    try:
        first = land_batch(consumer, landing, max_messages=40, timeout_s=8)
        assert first.messages == 40
        assert first.total_lag == 60
        rest = drain(consumer, landing, max_messages=1000)
    finally:
        consumer.close()
    assert rest[-1].total_lag == 0
    assert first.messages + sum(r.messages for r in rest) == 100
    assert first.malformed == 40  # no event_time: landed, and left for the cleaning step to quarantine


def test_file_names_carry_partition_offsets_and_topic_tag(kafka_settings, kafka_broker, landing, group_id):
    produce_events(kafka_settings, events=500, progress=False, start=PAST_DAY)
    consumer = consumer_for(kafka_settings, kafka_broker, group_id)
    try:
        reports = drain(consumer, landing, max_messages=10_000)
    finally:
        consumer.close()
    topic = kafka_settings.kafka_topics[0]
    files = [f for r in reports for f in r.files]
    parsed = [parse_name(f) for f in files]
    assert all(p is not None and p.topic == topic for p in parsed)
    assert len({p.tag for p in parsed}) == 1 and parsed[0].tag != "0" * 12
    ranges = {(t, p): r for rep in reports for (t, p), r in rep.offsets.items()}
    for p in parsed:
        assert (p.first, p.last) == ranges[(topic, p.partition)]


def test_produce_at_a_rate_for_a_duration(kafka_settings):
    report = produce_events(kafka_settings, rate=2000, duration=0.5, progress=False)
    assert report.requested == 1000
    assert report.delivered == 1000 and report.failed == 0
    assert report.seconds >= 0.45


def test_produce_to_unreachable_broker_reports_failures_quickly(tmp_path):
    settings = Settings(data_dir=tmp_path, kafka_bootstrap_servers=f"127.0.0.1:{free_port()}")
    started = time.monotonic()
    report = produce_events(settings, events=50, progress=False, config={"message.timeout.ms": 1500})
    assert time.monotonic() - started < 15
    assert report.delivered == 0 and report.failed == 50
    assert not report.ok and report.errors


def test_several_topics_land_into_files_per_topic(kafka_settings, kafka_broker, landing, group_id):
    other = kafka_broker.create_topic(partitions=2)
    topics = [kafka_settings.kafka_topics[0], other]
    for seed, topic in enumerate(topics):
        assert produce_events(kafka_settings, events=400, topic=topic, seed=seed, progress=False, start=PAST_DAY).ok
    consumer = consumer_for(kafka_settings, kafka_broker, group_id, topics=topics)
    try:
        reports = drain(consumer, landing, max_messages=10_000)
    finally:
        consumer.close()
    ids = event_ids(kafka_settings.data_dir)
    assert len(ids) == 800 and set(ids.values()) == {1}
    by_topic = {t: 0 for t in topics}
    for landed in landed_lines(kafka_settings.data_dir):
        by_topic[parse_name(landed.file).topic] += 1
    assert by_topic == {topics[0]: 400, other: 400}
    assert {t for r in reports for t, _ in r.offsets} == set(topics)
