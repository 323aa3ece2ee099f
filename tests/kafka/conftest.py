"""Kafka fixtures: one real broker per session (tansu, or $SHOPPER_TEST_KAFKA_BOOTSTRAP), a fresh
topic per test, and settings/landing zone pointing at a temporary data root."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from shopper_assets.ingestion.landing import LocalLandingZone
from shopper_assets.settings import Settings
from tests.kafka.broker import KafkaBroker


@pytest.fixture(scope="session")
def kafka_broker(tmp_path_factory: pytest.TempPathFactory) -> Iterator[KafkaBroker]:
    broker = KafkaBroker.from_env(log_dir=tmp_path_factory.mktemp("tansu"))
    broker.start()
    try:
        yield broker
    finally:
        broker.stop()


@pytest.fixture
def kafka_topic(kafka_broker: KafkaBroker) -> str:
    """A new topic with 3 partitions, unique to the test."""
    return kafka_broker.create_topic(partitions=3)


@pytest.fixture
def kafka_settings(kafka_broker: KafkaBroker, kafka_topic: str, tmp_path: Path) -> Settings:
    data = tmp_path / "data"
    data.mkdir()
    return Settings(
        data_dir=data,
        duckdb_path=data / "shopper.duckdb",
        kafka_bootstrap_servers=kafka_broker.bootstrap,
        kafka_topics=(kafka_topic,),
    )


@pytest.fixture
def landing(kafka_settings: Settings) -> LocalLandingZone:
    return LocalLandingZone(data_dir=str(kafka_settings.data_dir))


@pytest.fixture
def group_id() -> str:
    return f"landing-{uuid.uuid4().hex[:8]}"
