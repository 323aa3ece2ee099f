"""Issue 16, item 4: the hour of a line is the hour of its top-level ``event_time``, as a JSON parser
reads it, in the local lake, the Kafka lander and S3 drops alike; an ``event_time`` inside a nested
object never decides it, and a repeated key makes the line ambiguous: quarantined, not first-wins."""

from __future__ import annotations

import json
from datetime import datetime, timedelta
from pathlib import Path

import duckdb
import pytest

from shopper_assets.contract.event_time import event_time_text_sql
from shopper_assets.ingestion.kafka.scan import HOUR_MS, connect, landable_hours, prepare
from tests.conftest import write_landing_file
from tests.faults.lake import run_window
from tests.lake.events import event

H10, H11 = datetime(2026, 11, 20, 10), datetime(2026, 11, 20, 11)
EPOCH_H11 = int((H11 - datetime(1970, 1, 1)).total_seconds()) // 3600


def nested_first(at: datetime) -> bytes:
    """A valid event whose first field is an object that holds an ``event_time`` of another hour (within
    the late-arrival window before it, where the text search used to route the line)."""
    e = event(at=at)
    return json.dumps({"context": {"event_time": "2026-11-20T08:00:00.000Z"}, **e}, separators=(",", ":")).encode()


def repeated_key(at: datetime) -> bytes:
    e = json.dumps(event(at=at), separators=(",", ":"))
    return e.replace('{"event_id"', '{"event_time":"2026-11-20T04:00:00.000Z","event_id"', 1).encode()


def test_a_nested_event_time_does_not_decide_the_hour(data_dir: Path):
    """Before issue 16 this valid event went to hour 08, was quarantined as future_timestamp and failed
    that hour's blocking checks."""
    write_landing_file(data_dir, H11, "nested.jsonl.gz", [nested_first(H11 + timedelta(minutes=7))])
    run = run_window(data_dir, H10 - timedelta(hours=8), H11 + timedelta(hours=1))
    assert run.quarantined == []
    (row,) = run.cleaned
    assert row["event_hour"] == H11 and json.loads(row["extra_fields"]) == {
        "context": {"event_time": "2026-11-20T08:00:00.000Z"}
    }
    assert all(result.passed for result in run.checks.values())


def test_a_repeated_key_is_quarantined(data_dir: Path):
    write_landing_file(data_dir, H11, "repeated.jsonl.gz", [repeated_key(H11 + timedelta(minutes=7))])
    run = run_window(data_dir, H10 - timedelta(hours=8), H11 + timedelta(hours=1))
    assert run.cleaned == []
    ((reason, detail),) = [(q["reason"], q["detail"]) for q in run.quarantined]
    assert (reason, detail) == ("invalid_json", "key event_time appears more than once")
    assert run.checks["raw_reconciles"].passed and run.checks["landing_reconciles"].passed


class Stamped:
    """Stands in for a Kafka message: only its timestamp is read."""

    def timestamp(self) -> tuple[int, int]:
        return (1, EPOCH_H11 * HOUR_MS)


def test_the_kafka_lander_lands_by_the_top_level_event_time():
    lines = [nested_first(H11 + timedelta(minutes=7)), repeated_key(H11 + timedelta(minutes=7))]
    chunk = prepare(lines, [Stamped()] * 2, EPOCH_H11, connect(), landable_hours(EPOCH_H11))
    assert chunk.hours.tolist() == [EPOCH_H11, EPOCH_H11 - 7]  # the repeated key: its first value (04:00)


TRICKY = [
    '{"event_time":"2026-11-20T13:45:07.123Z","a":1}',
    '{"a":{"event_time":"2026-11-20T01:00:00.000Z"},"event_time":"2026-11-20T02:00:00.000Z"}',
    '{"a":[{"event_time":"x"}],"event_time":"2026-11-20T02:00:00.000Z"}',
    '{"a":"{","event_time":"2026-11-20T02:00:00.000Z"}',
    '{"a":"\\"event_time\\":\\"2026-11-20T09:00:00Z\\"","event_time":"2026-11-20T02:00:00Z"}',
    '{"event_time" : "2026-11-20T05:00:00Z"}',
    '{"event_time":"2026-11-20T05:00:00\\u005a"}',
    '{"event_time":"2026-11-20T05:00:00Z","event_time":"2026-11-20T06:00:00Z"}',
    '{"b":{"c":{"event_time":"2026-11-20T01:00:00Z"}}}',
    '{"event_time":2026}',
    '{"event_time":null}',
    '  {"event_time":"2026-11-20T05:00:00Z"}',
    '[{"event_time":"2026-11-20T05:00:00Z"}]',
    '{"event_time":"' + "9" * 80 + '"}',
    "not json",
]


@pytest.mark.parametrize("line", TRICKY)
def test_the_fast_path_reads_what_a_json_parser_reads(line: str):
    """The substring search is taken only where it finds what parsing finds (duplicate keys: the first)."""
    with duckdb.connect() as con:
        found, parsed = con.execute(
            f"SELECT {event_time_text_sql('$1')}, try(json_extract_string($1, '$.event_time'))", [line]
        ).fetchall()[0]
    assert found == parsed
