"""Consumes Kafka topics into the landing zone with exactly-once effect.

One ``land_batch`` call: consume up to N messages within a time budget, write one gzip JSONL file
per (hour, topic-partition) of the batch, make the files durable, then commit offsets. The files
are the only state; offsets are committed strictly after them, so a crash anywhere leaves Kafka
behind the landing zone, never ahead of it (at-least-once), and the naming below turns the replay
into a replacement (exactly-once effect):

* A file is named by topic, topic-id tag, partition and the partition's offset range in the batch
  (``kafka-<topic>-<tag>-p<P>-<first>-<last>.jsonl.gz``), and holds exactly the messages of that
  range whose landing hour is its folder. The hour of a message depends only on the message.
* After a crash the group re-consumes from the committed offset, maybe with other batch
  boundaries. Before committing, a batch removes every file of the same topic-partition whose
  offset range overlaps its own, in each hour folder it writes. A crashed batch's file that is not
  in such a folder holds no message of this batch (the same message lands in the same hour), and
  is removed by the later batch that re-lands its messages, before that batch commits.
* If the partition is not continuing from its own committed offset (first run, offsets expired or
  reset), only files starting at or after the batch's first offset are replaced, so data landed
  earlier is never deleted because Kafka no longer has it.

One lander per consumer group at a time (a Dagster sensor's ticks run one after another): a fenced
zombie that keeps writing after losing its partitions is not defended against. After an exception
the consumer is rewound to the start of the failed batch, so it can go on; if librdkafka left it
wedged (see ``consumer``) it is refused. Closing it and making a new one is simplest (a restarted
broker that lost its state is only picked up by a new consumer).
"""

from __future__ import annotations

import gc
import logging
import time
from dataclasses import dataclass, field
from datetime import datetime

from confluent_kafka import KafkaException, TopicPartition

from shopper_assets.ingestion.kafka.batch import Collected, build_batch, first_offsets
from shopper_assets.ingestion.kafka.client import KafkaUnavailable, as_landing_error
from shopper_assets.ingestion.kafka.consumer import TP, LandingConsumer
from shopper_assets.ingestion.kafka.files import (
    PartitionRange,
    file_name,
    group_files,
    hour_start,
    remove_landed,
    superseded,
    write_files,
)
from shopper_assets.ingestion.kafka.scan import HOUR_MS, Chunk, ChunkScanner
from shopper_assets.ingestion.landing import LandingZone

log = logging.getLogger(__name__)

CONSUME_CHUNK = 20_000  # messages per consume() call
IDLE_S = 0.25  # once messages arrived, a wait this long without a full chunk ends the batch
NO_OFFSET = -1001  # librdkafka's OFFSET_INVALID: nothing committed


@dataclass
class LandingReport:
    """What one land_batch did. ``hours`` are naive UTC hour starts whose folders changed: the
    partitions of raw_events (and downstream) to re-materialize."""

    messages: int = 0
    bytes: int = 0
    files: list[str] = field(default_factory=list)
    removed_files: list[str] = field(default_factory=list)
    hours: set[datetime] = field(default_factory=set)
    offsets: dict[TP, tuple[int, int]] = field(default_factory=dict)  # (first, last) per topic-partition
    lag: dict[TP, int] = field(default_factory=dict)  # high watermark - committed, after the batch
    malformed: int = 0
    repaired: int = 0
    errors: list[str] = field(default_factory=list)
    seconds: float = 0.0

    @property
    def total_lag(self) -> int:
        return sum(self.lag.values())

    @property
    def partition_keys(self) -> list[str]:
        """The touched hours as Dagster hourly partition keys (``YYYY-MM-DD-HH:00``)."""
        return sorted(f"{h:%Y-%m-%d-%H}:00" for h in self.hours)


def _consume(
    consumer: LandingConsumer, got: Collected, scanner: ChunkScanner, max_messages: int, timeout_s: float
) -> None:
    """Up to max_messages within timeout_s; stops early once every assigned partition is at its
    end (partition EOF events) or, after messages arrived, once the stream has gone quiet."""
    deadline = time.monotonic() + timeout_s
    while len(got) < max_messages:
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            break
        want = min(CONSUME_CHUNK, max_messages - len(got))
        msgs = consumer.consume(want, timeout=min(remaining, IDLE_S))
        scanner.submit(*got.add(msgs))
        if len(got) and len(msgs) < want:
            break
        if got.at_end and got.at_end >= {(tp.topic, tp.partition) for tp in consumer.assignment()}:
            break


def commit_offsets(consumer: LandingConsumer, offsets: list[TopicPartition]) -> None:
    """Commit and wait (bounded) for the broker's acknowledgement; raises KafkaException otherwise.
    (Tests patch this to simulate a crash between the files and the commit.)"""
    consumer.commit_and_wait(offsets)


def _lag(consumer: LandingConsumer, committed: dict[TP, int], report: LandingReport, timeout_s: float) -> None:
    """High watermark - committed offset for every assigned partition (the fetcher's cached
    watermark when it has one, else a bounded query)."""
    try:
        assigned = [(tp.topic, tp.partition) for tp in consumer.assignment()]
    except KafkaException:
        assigned = []
    ask = True  # after one failed query, do not wait on the broker again for the others
    for topic, partition in sorted(set(assigned) | set(report.offsets)):
        tp = TopicPartition(topic, partition)
        try:
            low, high = consumer.get_watermark_offsets(tp, cached=True) or (NO_OFFSET, NO_OFFSET)
            if high < 0 and ask:
                low, high = consumer.get_watermark_offsets(tp, timeout=timeout_s)
        except KafkaException as exc:
            report.errors.append(f"lag of {topic} [{partition}] unknown: {exc}")
            ask = False
            continue
        if high < 0:
            continue
        done = committed.get((topic, partition), NO_OFFSET)
        report.lag[(topic, partition)] = max(0, high - (done if done >= 0 else max(low, 0)))


def land_batch(
    consumer: LandingConsumer,
    landing: LandingZone,
    *,
    max_messages: int = 200_000,
    timeout_s: float = 10.0,
) -> LandingReport:
    """Land one batch (see module doc). Raises KafkaUnavailable (broker unreachable) or
    KafkaLandingError (broker refused a step) without committing; files already written for the
    batch are replaced when it is consumed again.

    The cyclic garbage collector is paused meanwhile: a batch creates hundreds of thousands of
    objects that all stay alive until it ends, so collections during it free nothing and cost ~10%.
    """
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        return _land_batch(consumer, landing, max_messages, timeout_s)
    finally:
        if was_enabled:
            gc.enable()


class _Run:
    """The step a batch is at (named in errors) and where to rewind its partitions on failure."""

    def __init__(self, consumer: LandingConsumer) -> None:
        self.consumer = consumer
        self.step = "consume"
        self.firsts: dict[TP, int] = {}


def _land_batch(consumer: LandingConsumer, landing: LandingZone, max_messages: int, timeout_s: float) -> LandingReport:
    t0 = time.perf_counter()
    if not isinstance(consumer, LandingConsumer):
        raise TypeError("land_batch needs a consumer from make_consumer() (bounded commits, topic ids)")
    if consumer.wedged:
        raise KafkaUnavailable(consumer.bootstrap, "start", f"{consumer.wedged}; close this consumer, make a new one")
    topics = consumer.topics
    single = topics[0] if len(topics) == 1 and not topics[0].startswith("^") else None  # "^...": a pattern
    got = Collected(consumer.at_end, single)
    scanner = ChunkScanner(batch_hour=int(time.time() * 1000) // HOUR_MS)
    run = _Run(consumer)
    try:
        _consume(consumer, got, scanner, max_messages, timeout_s)
        report = LandingReport(errors=got.errors)
        if len(got):
            committed = _land(run, landing, got, scanner, report)
        else:  # nothing new: still prove the broker is there, and report the lag
            run.step = "read committed offsets"
            committed = _committed(consumer, [])
    except BaseException as exc:  # nothing was committed: make this consumer replay the batch
        consumer.rewind(run.firsts or first_offsets(got))
        if isinstance(exc, KafkaException):
            raise as_landing_error(exc, consumer.bootstrap, run.step) from exc
        raise
    finally:
        scanner.close()
    _lag(consumer, committed, report, consumer.op_timeout_s)
    report.seconds = time.perf_counter() - t0
    if report.messages:
        log.info(
            "landed %d messages (%d malformed) into %d files over %d hours in %.2fs",
            report.messages,
            report.malformed,
            len(report.files),
            len(report.hours),
            report.seconds,
        )
    return report


def _land(run: _Run, landing: LandingZone, got: Collected, scanner: ChunkScanner, report: LandingReport) -> dict:
    """Write the batch's files, replace what they supersede, commit; the committed offsets after."""
    consumer = run.consumer
    batch = build_batch(got)
    run.firsts, lasts = batch.firsts, batch.lasts
    report.messages = len(batch)
    run.step = "read committed offsets"
    committed = _committed(consumer, list(batch.firsts))
    run.step = "look up topic ids"
    tags = consumer.topic_tags(t for t, _ in batch.tps)
    run.step = "write landing files"
    chunks = scanner.chunks()
    if batch.kept is not None:
        chunks = [Chunk.concat(chunks).take(batch.kept)]
    report.bytes = sum(c.message_bytes for c in chunks)
    report.malformed = sum(int(c.malformed.sum()) for c in chunks)
    report.repaired = sum(c.repaired for c in chunks)
    groups = group_files(chunks, batch.tp_codes, batch.offsets)
    names = {i: file_name(t, tags[t], p, run.firsts[(t, p)], lasts[(t, p)]) for i, (t, p) in enumerate(batch.tps)}
    report.files = write_files(landing, groups, names)
    report.hours = {hour_start(g.hour) for g in groups}
    run.step = "replace superseded files"
    ranges = {
        tp: PartitionRange(tags[tp[0]], first, lasts[tp], committed.get(tp, NO_OFFSET) == first)
        for tp, first in run.firsts.items()
    }
    for hour, name in superseded(landing, {(g.hour, names[g.tp]) for g in groups}, ranges):
        remove_landed(landing, hour, name)
        report.removed_files.append(name)
    report.offsets = {tp: (first, lasts[tp]) for tp, first in run.firsts.items()}
    run.step = "commit offsets"
    commit_offsets(consumer, [TopicPartition(t, p, last + 1) for (t, p), last in lasts.items()])
    return committed | {tp: last + 1 for tp, last in lasts.items()}


def _committed(consumer: LandingConsumer, partitions: list[TP]) -> dict[TP, int]:
    """Committed offsets of these and of all assigned partitions (a bounded broker request);
    with nothing assigned yet, a metadata request instead, so a dead broker is still noticed."""
    wanted = dict.fromkeys([*partitions, *((tp.topic, tp.partition) for tp in consumer.assignment())])
    if not wanted:
        consumer.list_topics(timeout=consumer.op_timeout_s)
        return {}
    asked = [TopicPartition(t, p) for t, p in wanted]
    return {(t.topic, t.partition): t.offset for t in consumer.committed(asked, timeout=consumer.op_timeout_s)}
