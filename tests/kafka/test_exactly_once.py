"""Crashes between writing landing files and committing offsets never duplicate or lose an event."""

from __future__ import annotations

import pytest
from confluent_kafka import KafkaError, KafkaException

import shopper_assets.ingestion.kafka.files as kafka_files
import shopper_assets.ingestion.kafka.land as kafka_land
from shopper_assets.ingestion.kafka.client import KafkaUnavailable
from shopper_assets.ingestion.kafka.land import land_batch
from shopper_assets.ingestion.kafka.produce import produce_events
from shopper_assets.ingestion.landing import LocalLandingZone
from tests.kafka.helpers import PAST_DAY, consumer_for, drain, event_ids, landed_lines


class Crash(Exception):
    """Stands for the process dying at that point."""


def crash(*_args, **_kwargs):
    raise Crash


def assert_exactly_once(data_dir, expected: int) -> None:
    ids = event_ids(data_dir)
    duplicated = {k: v for k, v in ids.items() if v > 1}
    assert not duplicated, f"{len(duplicated)} events landed more than once"
    assert len(ids) == expected
    assert len(landed_lines(data_dir)) == expected


def test_crash_before_commit_new_consumer_replays_exactly_once(
    kafka_settings, kafka_broker, landing, group_id, monkeypatch
):
    n = 3000
    assert produce_events(kafka_settings, events=n, progress=False, start=PAST_DAY).ok
    first = consumer_for(kafka_settings, kafka_broker, group_id)
    with monkeypatch.context() as m:
        m.setattr(kafka_land, "commit_offsets", crash)
        with pytest.raises(Crash):
            land_batch(first, landing, max_messages=n, timeout_s=8)
    first.close()  # without committing: auto-commit is off
    crashed_lines = landed_lines(kafka_settings.data_dir)
    crashed_files = {f"{line.folder_hour:%Y%m%d%H}/{line.file}" for line in crashed_lines}
    assert crashed_files, "the crashed batch wrote its files before the commit"

    second = consumer_for(kafka_settings, kafka_broker, group_id)
    try:
        # A third of what the crashed batch held (how much it got depends on the broker's timing),
        # so the new batch boundaries always differ from the crashed ones and supersede them.
        reports = drain(second, landing, max_messages=max(1, len(crashed_lines) // 3))
    finally:
        second.close()
    assert sum(r.messages for r in reports) == n  # re-consumed from the last commit (none)
    assert any(r.removed_files for r in reports)
    assert_exactly_once(kafka_settings.data_dir, n)
    crashed = {name.rsplit("/", 1)[1] for name in crashed_files}
    replaced = {name.rsplit("/", 1)[1] for r in reports for name in (*r.removed_files, *r.files)}
    assert crashed <= replaced, "each crashed file was removed or rewritten under the same name"


def test_crash_midway_through_writing_then_more_events(kafka_settings, kafka_broker, landing, group_id, monkeypatch):
    assert produce_events(kafka_settings, events=2000, progress=False, start=PAST_DAY, seed=1).ok
    written = []
    real_write = LocalLandingZone.write_file

    def write_then_die(self, hour, filename, data):
        if len(written) == 5:
            raise Crash
        written.append(filename)
        return real_write(self, hour, filename, data)

    first = consumer_for(kafka_settings, kafka_broker, group_id)
    with monkeypatch.context() as m:
        m.setattr(LocalLandingZone, "write_file", write_then_die)
        m.setattr(kafka_files, "WRITERS", 1)  # files written one by one: the crash point is exact
        with pytest.raises(Crash):
            land_batch(first, landing, max_messages=800, timeout_s=8)
    first.close()
    assert len(written) == 5
    assert produce_events(kafka_settings, events=1000, progress=False, start=PAST_DAY, seed=2).ok

    second = consumer_for(kafka_settings, kafka_broker, group_id)
    try:
        drain(second, landing, max_messages=100_000)  # one big batch covers the crashed one
    finally:
        second.close()
    assert_exactly_once(kafka_settings.data_dir, 3000)


def test_repeated_crashes_with_changing_batch_sizes(kafka_settings, kafka_broker, landing, group_id, monkeypatch):
    n = 2500
    assert produce_events(kafka_settings, events=n, progress=False, start=PAST_DAY).ok
    consumer = consumer_for(kafka_settings, kafka_broker, group_id)
    try:
        land_batch(consumer, landing, max_messages=300, timeout_s=8)  # a committed batch first
        for size in (1200, 150, 2000, 700):
            with monkeypatch.context() as m:
                m.setattr(kafka_land, "commit_offsets", crash)
                with pytest.raises(Crash):
                    land_batch(consumer, landing, max_messages=size, timeout_s=8)
            # land_batch rewound the consumer: the next batch starts at the committed offset again
        reports = drain(consumer, landing, max_messages=450)
    finally:
        consumer.close()
    assert reports[-1].total_lag == 0
    assert_exactly_once(kafka_settings.data_dir, n)


def test_failed_commit_raises_and_the_same_consumer_replays(
    kafka_settings, kafka_broker, landing, group_id, monkeypatch
):
    assert produce_events(kafka_settings, events=1000, progress=False, start=PAST_DAY).ok
    consumer = consumer_for(kafka_settings, kafka_broker, group_id)
    try:
        with monkeypatch.context() as m:

            def broker_gone(*_args):
                raise KafkaException(KafkaError(KafkaError._TRANSPORT))

            m.setattr(kafka_land, "commit_offsets", broker_gone)
            with pytest.raises(KafkaUnavailable) as info:
                land_batch(consumer, landing, max_messages=600, timeout_s=8)
        assert kafka_broker.bootstrap in str(info.value) and "commit" in str(info.value)
        reports = drain(consumer, landing, max_messages=250)
    finally:
        consumer.close()
    assert reports[0].offsets and min(first for first, _ in reports[0].offsets.values()) == 0
    assert_exactly_once(kafka_settings.data_dir, 1000)
