"""Reading back what the lander wrote, and draining a topic, for the Kafka tests."""

from __future__ import annotations

import gzip
import json
from collections import Counter
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

from shopper_assets.ingestion.kafka.consumer import make_consumer
from shopper_assets.ingestion.kafka.land import LandingReport, land_batch
from shopper_assets.ingestion.landing import LANDING_PREFIX, LocalLandingZone
from shopper_assets.settings import Settings
from tests.kafka.broker import KafkaBroker

#: The day the Kafka tests replay (``produce_events(start=...)``): a whole day of events spread over its
#: hours, none of them in an hour that has not begun. (Without ``start``, events are stamped at now.)
PAST_DAY = (datetime.now(UTC) - timedelta(days=1)).date()


@dataclass
class Landed:
    folder_hour: datetime
    file: str
    line: bytes


def landed_lines(data_dir: Path) -> list[Landed]:
    """Every line of every landed file, with the hour of its folder."""
    out = []
    for path in sorted((Path(data_dir) / LANDING_PREFIX).glob("date=*/hour=*/*.jsonl.gz")):
        day = path.parent.parent.name.removeprefix("date=")
        hour = datetime.fromisoformat(f"{day}T{path.parent.name.removeprefix('hour=')}:00")
        body = gzip.decompress(path.read_bytes())
        lines = body.split(b"\n")
        assert lines[-1] == b"", f"{path} does not end with a newline"
        out += [Landed(hour, path.name, line) for line in lines[:-1]]
    return out


def event_ids(data_dir: Path) -> Counter:
    """How many times each event_id was landed (lines that are JSON objects with one)."""
    ids: Counter = Counter()
    for landed in landed_lines(data_dir):
        try:
            obj = json.loads(landed.line)
        except ValueError:
            continue
        if isinstance(obj, dict) and "event_id" in obj:
            ids[obj["event_id"]] += 1
    return ids


def consumer_for(settings: Settings, broker: KafkaBroker, group_id: str, **kwargs):
    return make_consumer(settings, group_id, config=broker.consumer_config, op_timeout_s=3.0, **kwargs)


def drain(consumer, landing: LocalLandingZone, max_messages: int, rounds: int = 100) -> list[LandingReport]:
    """land_batch until a batch finds nothing new and the lag is zero."""
    reports = []
    for _ in range(rounds):
        report = land_batch(consumer, landing, max_messages=max_messages, timeout_s=8.0)
        reports.append(report)
        if report.messages == 0 and report.lag and report.total_lag == 0:
            return reports
    raise AssertionError(f"not drained after {rounds} batches: {reports[-1]}")
