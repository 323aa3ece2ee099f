"""A broker that goes away makes land_batch fail fast and clearly; after it is back, landing resumes
without losing or duplicating what was landed. Runs on its own tansu broker (restarting the shared
one would disturb other tests); tansu keeps everything in memory, so the restarted broker is empty:
the topic is re-created (same name, a new topic id, offsets from 0 again) and events are produced
again after the restart."""

from __future__ import annotations

import time

import pytest

import shopper_assets.ingestion.kafka.land as kafka_land
from shopper_assets.ingestion.kafka.client import KafkaUnavailable
from shopper_assets.ingestion.kafka.land import land_batch
from shopper_assets.ingestion.kafka.produce import produce_events
from shopper_assets.ingestion.landing import LocalLandingZone
from shopper_assets.settings import Settings
from tests.kafka.broker import EXTERNAL_ENV, KafkaBroker, free_port
from tests.kafka.helpers import PAST_DAY, consumer_for, drain, event_ids, landed_lines

TIMEOUT_S = 1.5
BOUND_S = 20.0  # consume budget + a few bounded broker requests (3 s each in these tests)


@pytest.fixture
def own_broker(tmp_path, monkeypatch):
    monkeypatch.delenv(EXTERNAL_ENV, raising=False)
    broker = KafkaBroker(log_dir=tmp_path).start()
    try:
        yield broker
    finally:
        broker.stop()


def test_broker_down_raises_then_landing_resumes(own_broker, tmp_path, group_id, monkeypatch):
    topic = own_broker.create_topic("shopper.outage", partitions=3)
    data = tmp_path / "data"
    settings = Settings(data_dir=data, kafka_bootstrap_servers=own_broker.bootstrap, kafka_topics=(topic,))
    landing = LocalLandingZone(data_dir=str(data))
    assert produce_events(settings, events=1200, progress=False, start=PAST_DAY, seed=11).ok

    consumer = consumer_for(settings, own_broker, group_id)
    first = land_batch(consumer, landing, max_messages=500, timeout_s=8)
    assert 0 < first.messages <= 500

    # The broker dies after the next batch's files are written, before its commit.
    real_commit = kafka_land.commit_offsets
    uncommitted = []

    def commit_after_broker_died(consumer_, offsets):
        uncommitted.append(landed_lines(data))  # the batch's files are all written by now
        own_broker.stop()
        return real_commit(consumer_, offsets)

    monkeypatch.setattr(kafka_land, "commit_offsets", commit_after_broker_died)
    started = time.monotonic()
    with pytest.raises(KafkaUnavailable) as info:
        land_batch(consumer, landing, max_messages=300, timeout_s=TIMEOUT_S)
    assert time.monotonic() - started < BOUND_S
    assert own_broker.bootstrap in str(info.value)
    monkeypatch.undo()

    # Still down: this consumer (maybe wedged by the lost commit) and a new one both fail within
    # bounded time, before writing anything.
    files_before = {landed.file for landed in landed_lines(data)}
    for attempt in range(2):
        started = time.monotonic()
        with pytest.raises(KafkaUnavailable):
            land_batch(consumer, landing, max_messages=300, timeout_s=TIMEOUT_S)
        assert time.monotonic() - started < BOUND_S
        consumer.close()
        if attempt == 0:
            consumer = consumer_for(settings, own_broker, group_id)
    assert {landed.file for landed in landed_lines(data)} == files_before

    landed_before = event_ids(data)
    assert len(uncommitted[0]) > first.messages  # committed batch + the uncommitted one's files
    assert len(landed_before) == len(uncommitted[0]) and set(landed_before.values()) == {1}

    own_broker.restart()
    own_broker.create_topic(topic, partitions=3)  # same name, new incarnation: offsets restart at 0
    assert produce_events(settings, events=1000, progress=False, start=PAST_DAY, seed=12).ok
    consumer = consumer_for(settings, own_broker, group_id)
    try:
        reports = drain(consumer, landing, max_messages=400)
    finally:
        consumer.close()
    assert sum(r.messages for r in reports) == 1000
    ids = event_ids(data)
    assert set(ids.values()) == {1}, "nothing landed twice"
    assert set(landed_before) <= set(ids), "files of the old topic incarnation were not overwritten"
    assert len(ids) == len(landed_before) + 1000


def test_unreachable_broker_fails_fast(tmp_path, group_id):
    broker = KafkaBroker(port=free_port(), log_dir=tmp_path)  # never started
    settings = Settings(data_dir=tmp_path, kafka_bootstrap_servers=broker.bootstrap, kafka_topics=("nowhere",))
    consumer = consumer_for(settings, broker, group_id)
    started = time.monotonic()
    try:
        with pytest.raises(KafkaUnavailable) as info:
            land_batch(consumer, LocalLandingZone(data_dir=str(tmp_path)), max_messages=10, timeout_s=1.0)
    finally:
        consumer.close()
    assert time.monotonic() - started < 10
    assert broker.bootstrap in str(info.value)
