"""Kafka ingestion: synthetic events to Kafka, and Kafka topics into the landing zone.

``produce_events`` sends the generator's events (one contract JSON event per message, keyed by
user_id). ``make_consumer`` + ``land_batch`` land the topics as gzip JSONL files in the hour folder
of each event's event_time, with exactly-once effect (kafka_land's module doc explains how crashes
are handled). Broker problems raise ``KafkaUnavailable`` (a ``KafkaLandingError``) naming the broker
address, always within bounded time, and never after a commit::

    consumer = make_consumer(settings)  # subscribed to SHOPPER_KAFKA_TOPICS, group "shopper-landing"
    try:
        report = land_batch(consumer, landing, max_messages=200_000, timeout_s=10)
    finally:
        consumer.close()
    report.hours  # naive UTC hours whose folders changed: re-materialize those partitions

Module map: kafka_produce (producer), kafka_consumer (consumer with bounded commit/close),
kafka_land (one batch, end to end), kafka_batch (message columns), kafka_scan (lines and their
hours, on a worker thread), kafka_route (files per hour and partition, names), kafka_files
(writing and replacing files), kafka_common (errors, client settings).
"""

from shopper_assets.ingestion.kafka_common import KafkaLandingError, KafkaUnavailable
from shopper_assets.ingestion.kafka_consumer import LandingConsumer, make_consumer
from shopper_assets.ingestion.kafka_land import LandingReport, land_batch
from shopper_assets.ingestion.kafka_produce import ProduceReport, produce_events

__all__ = [
    "KafkaLandingError",
    "KafkaUnavailable",
    "LandingConsumer",
    "LandingReport",
    "ProduceReport",
    "land_batch",
    "make_consumer",
    "produce_events",
]
