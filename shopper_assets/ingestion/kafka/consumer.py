"""The lander's Kafka consumer: subscribed, manual commits, every broker call bounded in time.

librdkafka can lose an offset commit issued at the moment the coordinator's connection drops; a
synchronous ``commit()`` then blocks forever, and so do ``close()`` (which waits for it) and
``seek()`` (which has no timeout). So the synchronous commit and the seeks that rewind a failed
batch run on helper threads that the caller waits for with a deadline, and ``close()`` gives up
after a deadline instead of hanging the caller (a Dagster sensor tick). A consumer whose commit
went unanswered is marked ``wedged``: land_batch refuses it (KafkaUnavailable) and it should be
closed and replaced. A commit answered after its deadline is harmless: it only covers files that
are already durable. (An asynchronous commit would need the consumer polled for its callback, and
pausing the partitions meanwhile makes librdkafka drop its prefetched messages: a third of the
throughput.)
"""

from __future__ import annotations

import concurrent.futures
import contextlib
import hashlib
import logging
import threading
from collections import deque
from collections.abc import Iterable

from confluent_kafka import Consumer, KafkaError, KafkaException, TopicCollection, TopicPartition
from confluent_kafka.admin import AdminClient

from shopper_assets.ingestion.kafka.client import DEFAULT_OP_TIMEOUT_S, base_config
from shopper_assets.settings import Settings

log = logging.getLogger(__name__)

TP = tuple[str, int]


class LandingConsumer(Consumer):
    """A Consumer that knows its broker address (for error messages), keeps the client errors it
    reported, tracks which partitions are drained (EOF events), commits and closes with a deadline,
    and looks up topic ids (to tell a re-created topic's offsets from the old ones).

    Callbacks close over plain containers, not ``self``, so no reference cycle delays the cleanup
    of the underlying client."""

    def __init__(self, config: dict, op_timeout_s: float = DEFAULT_OP_TIMEOUT_S):
        self.bootstrap = config["bootstrap.servers"]
        self.op_timeout_s = op_timeout_s
        self.topics: list[str] = []
        self.client_errors: deque[str] = deque(maxlen=20)
        self.at_end: set[TP] = set()  # partitions whose last message has been consumed (EOF events)
        self.wedged = ""  # why this consumer must be replaced, if it must
        self._admin_config = {k: v for k, v in config.items() if k in base_config("")}
        self._admin: AdminClient | None = None
        errors = self.client_errors
        super().__init__({**config, "error_cb": lambda err: errors.append(err.str())})

    def subscribe_topics(self, topics: list[str]) -> None:
        self.topics = list(topics)
        at_end = self.at_end

        def on_assign(_consumer: Consumer, partitions: list[TopicPartition]) -> None:
            at_end.difference_update((tp.topic, tp.partition) for tp in partitions)

        self.subscribe(topics, on_assign=on_assign)

    def commit_and_wait(self, offsets: list[TopicPartition], timeout_s: float | None = None) -> None:
        """Commit ``offsets`` synchronously, waiting at most the deadline for the broker's answer;
        raises KafkaException on an error or on no answer (see module doc)."""
        timeout_s = timeout_s or self.op_timeout_s
        outcome: dict = {}

        def commit() -> None:
            try:
                outcome["partitions"] = Consumer.commit(self, offsets=offsets, asynchronous=False)
            except BaseException as exc:  # handed to the waiting thread
                outcome["error"] = exc

        if not _bounded(commit, "kafka-commit", timeout_s):
            self.wedged = f"an offset commit went unanswered for {timeout_s}s"
            raise KafkaException(KafkaError(KafkaError._TIMED_OUT, f"offset commit not answered within {timeout_s}s"))
        if "error" in outcome:
            raise outcome["error"]
        for tp in outcome.get("partitions") or []:
            if tp.error is not None:
                raise KafkaException(tp.error)

    def rewind(self, offsets: dict[TP, int], timeout_s: float | None = None) -> None:
        """Seek partitions back (to replay a failed batch), within the deadline or mark the
        consumer wedged. A partition no longer assigned is skipped: its next owner starts at the
        committed offset anyway."""

        def seek() -> None:
            for (topic, partition), offset in offsets.items():
                self.at_end.discard((topic, partition))
                with contextlib.suppress(KafkaException):
                    Consumer.seek(self, TopicPartition(topic, partition, offset))

        timeout_s = timeout_s or self.op_timeout_s
        if offsets and not self.wedged and not _bounded(seek, "kafka-seek", timeout_s):
            self.wedged = f"seeking back after a failed batch did not finish within {timeout_s}s"

    def topic_tags(self, topics: Iterable[str]) -> dict[str, str]:
        """12 hex characters per topic derived from its topic id (zeros if the broker has none)."""
        if self._admin is None:
            self._admin = AdminClient({**self._admin_config, "logger": log})
        names = sorted(set(topics))
        futures = self._admin.describe_topics(TopicCollection(names), request_timeout=self.op_timeout_s)
        tags = {}
        for name, future in futures.items():
            try:
                uuid = future.result(timeout=self.op_timeout_s).topic_id
            except concurrent.futures.TimeoutError:
                raise KafkaException(KafkaError(KafkaError._TIMED_OUT, f"describing topic {name}")) from None
            bits = (uuid.get_most_significant_bits(), uuid.get_least_significant_bits()) if uuid else (0, 0)
            raw = b"".join((b % 2**64).to_bytes(8, "big") for b in bits)
            tags[name] = "0" * 12 if raw == bytes(16) else hashlib.blake2b(raw, digest_size=6).hexdigest()
        return tags

    def close(self, timeout_s: float | None = None) -> None:
        """Leave the group and free the client, giving up (with a warning) after the deadline."""
        if getattr(self, "_closed", False):
            return
        self._closed = True
        if not _bounded(super().close, "kafka-consumer-close", timeout_s or self.op_timeout_s):
            log.warning("Kafka consumer of %s did not close within the deadline; abandoning it", self.bootstrap)


def _bounded(call, name: str, timeout_s: float) -> bool:
    """Run a blocking client call on a daemon thread; False if it is still running at the deadline
    (it is then abandoned, still blocked in librdkafka)."""
    worker = threading.Thread(target=call, name=name, daemon=True)
    worker.start()
    worker.join(timeout_s)
    return not worker.is_alive()


def make_consumer(
    settings: Settings,
    group_id: str = "shopper-landing",
    *,
    topics: Iterable[str] | None = None,
    config: dict | None = None,
    op_timeout_s: float = DEFAULT_OP_TIMEOUT_S,
) -> LandingConsumer:
    """A consumer of ``topics`` (default: SHOPPER_KAFKA_TOPICS) in ``group_id``, subscribed, with
    manual commits (land_batch commits after the files are durable) and earliest reset.
    ``config`` overrides librdkafka settings (tests shorten ``session.timeout.ms``);
    ``op_timeout_s`` bounds each broker request (committed offsets, commit, metadata, close)."""
    conf = {
        **base_config(settings.kafka_bootstrap_servers, op_timeout_s),
        "logger": log,
        "group.id": group_id,
        "enable.auto.commit": False,
        "enable.auto.offset.store": False,
        "auto.offset.reset": "earliest",
        "enable.partition.eof": True,  # lets a batch end as soon as every partition is drained
        "session.timeout.ms": 6000,  # Kafka's minimum; also how long a broker may take to admit a new member
        "heartbeat.interval.ms": 2000,
        "fetch.max.bytes": 64 * 1024 * 1024,
        "max.partition.fetch.bytes": 16 * 1024 * 1024,
        "queued.min.messages": 1_000_000,  # prefetch while a batch is being written: bounded by bytes
        "queued.max.messages.kbytes": 128 * 1024,
        **(config or {}),
    }
    consumer = LandingConsumer(conf, op_timeout_s)
    consumer.subscribe_topics(list(topics or settings.kafka_topics))
    return consumer
