"""A batch's landing files: grouped per (hour, topic-partition), named by offsets, written, and the
files they supersede replaced.

File names carry the topic, a tag of the topic's id (a topic deleted and re-created restarts its
offsets at 0; the tag keeps the two incarnations apart) and the partition's offset range in the
batch: the same messages always give the same names, and overlapping ranges can be found by name.

A file's lines are in offset order. Consumed messages arrive in long runs per partition, and a
live stream stays in one hour for long stretches, so a file is usually a few contiguous runs of a
chunk's joined lines: those slices are compressed as they are, with no copy. Only a batch whose
order is badly interleaved is gathered with Arrow ``take`` first.

Files are compressed and written a few at a time (isal and fsync release the GIL); each write is
atomic and durable (LandingZone.write_file). Superseded files (see ``land``'s module doc) are
removed durably: with the zone's own ``delete_file`` if it has one, by unlinking (and syncing the
folder) in a local zone, and otherwise by overwriting them with an empty gzip file through the
atomic ``write_file`` (zero lines: the lake reads nothing from it), which works on any store.
"""

from __future__ import annotations

import os
import re
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path

import numpy as np
import pyarrow as pa
from isal import igzip, isal_zlib

from shopper_assets.ingestion.kafka.scan import Chunk
from shopper_assets.ingestion.landing import LandingZone, LocalLandingZone

EPOCH = datetime(1970, 1, 1)
COMPRESS_LEVEL = 1  # isal's fast level, as the generator: landing files are short-lived
MAX_RUNS_PER_LINE = 1 / 8  # more runs than this (per line) and a batch is gathered with take first
WRITERS = 4  # files compressed and written in parallel
EMPTY_GZIP = igzip.compress(b"", 1, mtime=0)
NAME_RE = re.compile(
    r"^kafka-(?P<topic>.+)-(?P<tag>[0-9a-f]{12})-p(?P<partition>\d+)-(?P<first>\d{12,})-(?P<last>\d{12,})\.jsonl\.gz$"
)


def hour_start(hour: int) -> datetime:
    """Naive UTC start of an epoch hour number (the lake's convention for partition hours)."""
    return EPOCH + timedelta(hours=int(hour))


def file_name(topic: str, tag: str, partition: int, first: int, last: int) -> str:
    return f"kafka-{topic}-{tag}-p{partition}-{first:012d}-{last:012d}.jsonl.gz"


@dataclass(frozen=True)
class LandedName:
    topic: str
    tag: str
    partition: int
    first: int
    last: int


def parse_name(name: str) -> LandedName | None:
    """The parts of a lander file name (bare or with its folder), None for other files."""
    m = NAME_RE.match(name.rsplit("/", 1)[-1])
    if m is None:
        return None
    return LandedName(m["topic"], m["tag"], int(m["partition"]), int(m["first"]), int(m["last"]))


@dataclass
class FileGroup:
    """The lines of one landing file: one hour of one topic-partition of the batch, as byte slices
    of the chunks' line buffers, in offset order."""

    hour: int
    tp: int  # index into the batch's topic-partitions
    slices: list[pa.Buffer]
    lines: int

    def gzip(self) -> bytes:
        """gzip of the lines, no timestamp in the header (a rewrite of the same slices is identical)."""
        compressor = isal_zlib.compressobj(COMPRESS_LEVEL, isal_zlib.DEFLATED, 31)
        parts = [compressor.compress(memoryview(s)) for s in self.slices]
        parts.append(compressor.flush())
        return b"".join(parts)


def group_files(chunks: list[Chunk], tp_codes: np.ndarray, offsets: np.ndarray) -> list[FileGroup]:
    """Lines grouped by (topic-partition, hour), each group in offset order."""
    n = offsets.shape[0]
    if n == 0:
        return []
    hours = np.concatenate([c.hours for c in chunks])
    order = np.lexsort((offsets, hours, tp_codes))
    new_group = np.concatenate(([True], (np.diff(tp_codes[order]) != 0) | (np.diff(hours[order]) != 0)))
    storage = [c.lines for c in chunks]
    pos = order  # where each line, in file order, sits in the storage arrays
    chunk_of = np.repeat(np.arange(len(storage)), [len(s) for s in storage])
    runs = new_group.copy()
    runs[1:] |= (np.diff(pos) != 1) | (np.diff(chunk_of[pos]) != 0)
    if np.count_nonzero(runs) > max(64, n * MAX_RUNS_PER_LINE):  # badly interleaved: gather once
        storage = [Chunk.concat(chunks).lines.take(pa.array(order))]
        pos, chunk_of, runs = np.arange(n), np.zeros(n, dtype=np.int64), new_group
    first_row = np.concatenate(([0], np.cumsum([len(s) for s in storage])))
    line_offsets = [np.frombuffer(s.buffers()[1], dtype=np.int64)[s.offset : s.offset + len(s) + 1] for s in storage]
    run_starts = np.flatnonzero(runs)
    run_ends = np.append(run_starts[1:], n)
    groups: list[FileGroup] = []
    for rs, re_ in zip(run_starts.tolist(), run_ends.tolist(), strict=True):
        at = int(pos[rs])
        c = int(chunk_of[at])
        local = at - int(first_row[c])
        lo, hi = int(line_offsets[c][local]), int(line_offsets[c][local + re_ - rs])
        piece = storage[c].buffers()[2].slice(lo, hi - lo)
        if new_group[rs]:
            row = int(order[rs])
            groups.append(FileGroup(int(hours[row]), int(tp_codes[row]), [piece], re_ - rs))
        else:
            groups[-1].slices.append(piece)
            groups[-1].lines += re_ - rs
    return groups


@dataclass(frozen=True)
class PartitionRange:
    """What a batch holds of one topic-partition, to find the files it supersedes."""

    tag: str  # topic-id tag in the file names
    first: int
    last: int
    continuing: bool  # the batch starts at the group's committed offset


def write_files(landing: LandingZone, groups: list[FileGroup], names: dict[int, str]) -> list[str]:
    """Compress and durably write every file of a batch; ``names`` by topic-partition index."""

    def write(group: FileGroup) -> str:
        return landing.write_file(hour_start(group.hour), names[group.tp], group.gzip())

    with ThreadPoolExecutor(max_workers=min(WRITERS, max(1, len(groups)))) as pool:
        return list(pool.map(write, groups))


def superseded(
    landing: LandingZone, written: set[tuple[int, str]], ranges: dict[tuple[str, int], PartitionRange]
) -> list[tuple[datetime, str]]:
    """Files in the hour folders the batch wrote (``written``: (epoch hour, file name)), other than
    its own, of the batch's topic-partitions (same topic id), whose offset ranges overlap the
    batch's; if the batch does not continue from its group's commit, only those starting at or
    after its first offset (earlier data may be gone from Kafka: never delete it)."""
    found = []
    for h in sorted({h for h, _ in written}):
        hour = hour_start(h)
        for name in landing.list_files(hour):
            parsed = parse_name(name)
            if parsed is None or (h, name.rsplit("/", 1)[-1]) in written:
                continue
            spec = ranges.get((parsed.topic, parsed.partition))
            if spec is None or spec.tag != parsed.tag:
                continue
            overlaps = parsed.first <= spec.last and parsed.last >= spec.first
            if overlaps and (spec.continuing or parsed.first >= spec.first):
                found.append((hour, name))
    return found


def remove_landed(landing: LandingZone, hour: datetime, name: str) -> None:
    """Durably remove a landed file (see module doc for how, per kind of landing zone)."""
    delete = getattr(landing, "delete_file", None)
    if callable(delete):
        delete(name)
    elif isinstance(landing, LocalLandingZone):
        path = Path(landing.root) / name
        path.unlink(missing_ok=True)
        fd = os.open(path.parent, os.O_RDONLY)
        try:
            os.fsync(fd)  # the removal is durable before the batch commits
        finally:
            os.close(fd)
    elif landing.read_bytes(name) != EMPTY_GZIP:
        landing.write_file(hour, name.rsplit("/", 1)[-1], EMPTY_GZIP)
