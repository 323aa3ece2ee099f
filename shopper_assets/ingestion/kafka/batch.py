"""The consumed messages of one batch as columns, with the offset range of each topic-partition.

Reading fields off librdkafka Message objects is the one step that must touch every message in
Python, so it is kept to ``map`` over the C getters of value, partition and offset; the topic is
read only when several topics are subscribed. Values and Message objects are handed to the chunk
scanner and not kept here, so a batch holds each message's bytes once (in its lines).
A rebalance in the middle of a batch can deliver a partition's messages again from its committed
offset, so repeated (partition, offset) pairs are dropped: every offset is landed once per batch.
"""

from __future__ import annotations

from dataclasses import dataclass
from itertools import compress, repeat
from operator import is_not

import numpy as np
import pyarrow as pa
from confluent_kafka import KafkaError, KafkaException, Message

TP = tuple[str, int]


class Collected:
    """Messages gathered chunk by chunk, and the partitions found drained (EOF events)."""

    def __init__(self, at_end: set[TP], single_topic: str | None) -> None:
        self.topics: list[str] = []  # per message, only when several topics are subscribed
        self.partitions: list[int] = []
        self.offsets: list[int] = []
        self.errors: list[str] = []
        self.at_end = at_end
        self.single_topic = single_topic

    def __len__(self) -> int:
        return len(self.offsets)

    def add(self, msgs: list[Message]) -> tuple[list[bytes | None], list[Message]]:
        """Take in a consume() chunk; returns the values and messages it added."""
        # map() over the C methods: no bytecode per message. (Never compare a KafkaError with None
        # by ==: its comparison leaves a stray exception behind.)
        flagged = list(compress(range(len(msgs)), map(is_not, map(Message.error, msgs), repeat(None))))
        drained: list[TP] = []
        chunk = msgs
        if flagged:  # EOF and error events (their value is the error text)
            chunk = [m for m in msgs if m.error() is None]
            for i in flagged:
                if (key := self._event(msgs[i])) is not None:
                    later = msgs[i + 1 :]  # drained, unless a message of that partition came after it
                    if not any(m.error() is None and (m.topic(), m.partition()) == key for m in later):
                        drained.append(key)
        values = list(map(Message.value, chunk))
        partitions = list(map(Message.partition, chunk))
        if self.at_end and chunk:
            if self.single_topic is not None:
                self.at_end -= set(zip(repeat(self.single_topic), set(partitions)))
            else:
                self.at_end -= {(m.topic(), p) for m, p in zip(chunk, partitions, strict=True)}
        self.at_end.update(drained)
        if self.single_topic is None:
            self.topics += map(Message.topic, chunk)
        self.partitions += partitions
        self.offsets += map(Message.offset, chunk)
        return values, chunk

    def _event(self, msg: Message) -> TP | None:
        """Record an event; the partition it is about if it says that partition is drained."""
        err = msg.error()
        if err.code() == KafkaError._PARTITION_EOF:
            return (msg.topic(), msg.partition())
        if err.fatal():
            raise KafkaException(err)
        self.errors.append(f"{msg.topic()} [{msg.partition()}]: {err.str()}")
        return None


@dataclass
class Batch:
    """Topic-partition index and offset of each distinct message of a batch, and the first and
    last offset of every topic-partition."""

    tp_codes: np.ndarray
    offsets: np.ndarray
    tps: list[TP]
    firsts: dict[TP, int]
    lasts: dict[TP, int]
    kept: np.ndarray | None  # rows of the collected messages kept (None: all)

    def __len__(self) -> int:
        return len(self.offsets)


def first_offsets(got: Collected) -> dict[TP, int]:
    """The lowest offset consumed per topic-partition (where to rewind a failed batch)."""
    firsts: dict[TP, int] = {}
    topics = got.topics or repeat(got.single_topic)
    for topic, partition, offset in zip(topics, got.partitions, got.offsets, strict=False):
        key = (topic, partition)
        if offset < firsts.get(key, offset + 1):
            firsts[key] = offset
    return firsts


def build_batch(got: Collected) -> Batch:
    """Partitions and offsets of the collected messages, each (topic, partition, offset) once."""
    offsets = np.array(got.offsets, dtype=np.int64)
    partitions = np.array(got.partitions, dtype=np.int64)
    if got.single_topic is not None:
        topic_names, topic_idx = [got.single_topic], np.zeros(len(offsets), dtype=np.int64)
    else:
        encoded = pa.array(got.topics, pa.string()).dictionary_encode()
        topic_names, topic_idx = encoded.dictionary.to_pylist(), encoded.indices.to_numpy().astype(np.int64)
    keys, tp_codes = np.unique(topic_idx << 32 | partitions, return_inverse=True)
    tps = [(topic_names[int(k >> 32)], int(k & 0xFFFFFFFF)) for k in keys]
    order = np.lexsort((offsets, tp_codes))
    repeated = (np.diff(tp_codes[order]) == 0) & (np.diff(offsets[order]) == 0)
    kept = None
    if repeated.any():  # a partition delivered again after a rebalance: keep the first delivery
        kept = np.sort(np.delete(order, np.flatnonzero(repeated) + 1))
        offsets, tp_codes = offsets[kept], tp_codes[kept]
    firsts, lasts = {}, {}
    for code, tp in enumerate(tps):
        mine = offsets[tp_codes == code]
        firsts[tp], lasts[tp] = int(mine.min()), int(mine.max())
    return Batch(tp_codes.astype(np.int32), offsets, tps, firsts, lasts, kept)
