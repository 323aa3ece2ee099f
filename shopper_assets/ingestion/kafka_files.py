"""The landing-zone side of a batch: write its files, then replace what they supersede.

Files are compressed and written a few at a time (isal and fsync release the GIL); each write is
atomic and durable (LandingZone.write_file). Superseded files (see kafka_land's module doc) are
removed durably: with the zone's own ``delete_file`` if it has one, by unlinking (and syncing the
folder) in a local zone, and otherwise by overwriting them with an empty gzip file through the
atomic ``write_file`` (zero lines: the lake reads nothing from it), which works on any store.
"""

from __future__ import annotations

import os
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from isal import igzip

from shopper_assets.ingestion.kafka_route import FileGroup, hour_start, parse_name
from shopper_assets.ingestion.landing import LandingZone, LocalLandingZone

WRITERS = 4  # files compressed and written in parallel
EMPTY_GZIP = igzip.compress(b"", 1, mtime=0)


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
