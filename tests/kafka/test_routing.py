"""No broker needed: the lander reads event_time hours as the lake does, repairs newlines, names files
so they parse back, and the producer renders exactly the simulated events."""

from __future__ import annotations

import datetime
import gzip
import json

import duckdb
import numpy as np
import pyarrow as pa
import pytest

from shopper_assets.generator import GeneratorConfig, simulate_events
from shopper_assets.ingestion.kafka.batch import Collected, build_batch
from shopper_assets.ingestion.kafka.files import file_name, group_files, hour_start, parse_name
from shopper_assets.ingestion.kafka.produce import event_messages
from shopper_assets.ingestion.kafka.scan import connect, prepare
from shopper_assets.lake.raw import routing_sql

TRICKY = [
    b'{"event_id":"a","event_time":"2026-11-20T13:45:07.123Z","page":"home"}',
    b'{"event_id":"a","event_time":"2026-11-20T13:45:07Z"}',
    b'{"event_time" : "2026-11-20T13:45:07.123Z"}',
    b'{"event_time":"2026-11-20T13:45:07.123+02:00"}',
    b'{"event_time":"2026-11-20 13:45:07"}',
    b'{"event_time":"2026-11-20T13:45:07.123456Z"}',
    b'{"event_time":"2026-11-20t13:45:07.123z"}',
    b'{"event_time":"2028-02-29T23:59:59.999Z"}',
    b'{"event_time":"2026-02-29T10:00:00.000Z"}',
    b'{"event_time":"2026-04-31T10:00:00.000Z"}',
    b'{"event_time":"2026-12-31T24:00:00.000Z"}',
    b'{"event_time":"2026-12-31T23:60:00.000Z"}',
    b'{"event_time":"2026-12-31T23:59:60.000Z"}',
    b'{"event_time":"2100-02-29T00:00:00.000Z"}',
    b'{"event_time":"2000-02-29T05:00:00.000Z"}',
    b'{"event_time":"1969-12-31T23:00:00.000Z"}',
    b'{"event_time":"1970-01-01T00:00:00.000Z"}',
    b'{"event_time":"9999-12-31T23:59:59.999Z"}',
    b'{"event_time":"0001-01-01T00:00:00.000Z"}',
    b'{"event_time":"2026-13-01T00:00:00.000Z"}',
    b'{"event_time":"2026-00-10T00:00:00.000Z"}',
    b'{"event_time":"2026-11-20T13:45:07.12Z"}',
    b'{"event_time":"2026-11-20T13:45:07.123Z',
    b'{"event_time":"2026-11-20T13:4',
    b'{"event_time":2026}',
    b'{"event_time" :"x","event_time":"2026-11-20T13:45:07.123Z"}',
    b'{"a":{"event_time":"2026-11-20T01:00:00.000Z"},"event_time":"2026-11-20T02:00:00.000Z"}',
    b'  {"event_time":"2026-11-20T13:45:07.123Z"}  ',
    b'{"event_time":"2026-11-20T13:45:07.123Z"}\n',
    b'{\n  "event_time": "2026-11-20T13:45:07.123Z"\n}',
    b"[1, 2, 3]",
    b"",
    b"not json",
    b'\xff{"event_time":"2026-11-20T13:45:07.123Z"}',
    b'{"event_time":"2026-11-20T13:45:07.123Z","name":"caf\xc3\xa9"}',
    b'{"event_time":"\xe2\x82\xac026-11-20T13:45:07.123Z"}',
]


def test_each_line_lands_in_the_hour_the_lake_routes_it_to():
    """raw_events routes a line by its event_time hint when it lies in the late-arrival window
    before its folder's hour; the lander puts every line where that routing keeps it."""
    kafka_hour = 490_000  # 2025-11-24T16: the Kafka timestamps' hour, used when no event_time is readable
    routed = prepare(TRICKY, [Timestamped(kafka_hour * 3_600_000)] * len(TRICKY), 0, connect())
    lines = [line.as_py()[:-1] for line in routed.lines]
    utf8 = [i for i, line in enumerate(lines) if _is_utf8(line)]
    assert len(utf8) == len(TRICKY) - 1
    table = pa.table(
        {
            "line": [lines[i].decode() for i in utf8],
            "landing_hour": pa.array([hour_start(routed.hours[i]) for i in utf8], pa.timestamp("us")),
            "source_file": ["f"] * len(utf8),
            "line_number": list(range(len(utf8))),
            "raw_bytes": pa.nulls(len(utf8), pa.binary()),
        }
    )
    with duckdb.connect() as con:
        con.execute("SET TimeZone = 'UTC'")
        con.register("lines", table)
        rows = con.execute(f"SELECT event_hour, landing_hour FROM ({routing_sql('lines', 6)})").fetchall()
    assert len(rows) == len(utf8)
    assert all(event_hour == landing_hour for event_hour, landing_hour in rows)
    expected = {0: 498661, 1: 498661, 2: 498661, 3: 498659, 6: kafka_hour, 15: kafka_hour, 31: kafka_hour}
    for i, hour in expected.items():
        assert routed.hours[i] == hour, TRICKY[i]


class Timestamped:
    """Stands in for a Kafka message: only its timestamp is read."""

    def __init__(self, ms: int):
        self.ms = ms

    def timestamp(self) -> tuple[int, int]:
        return (1, self.ms)


def _is_utf8(line: bytes) -> bool:
    try:
        line.decode()
    except UnicodeDecodeError:
        return False
    return True


@pytest.mark.parametrize(
    "message",
    [b"plain text\nwith newline", b'{\n"event_time": "2026-11-20T13:45:07.123Z"\n}', b"\xff\n\xfe"],
)
def test_newlines_are_repaired_into_one_line(message):
    routed = prepare([message], [Timestamped(3_600_000)], 0, connect())
    line = routed.lines[0].as_py()[:-1]
    assert b"\n" not in line
    assert routed.repaired == 1
    if message.startswith(b"{"):  # JSON: re-serialised compactly, still routed by its event_time
        assert json.loads(line) == json.loads(message) and not routed.malformed[0]
        assert routed.hours[0] == 498661
    else:  # newlines escaped; no event_time: the hour of the Kafka timestamp
        assert line == message.replace(b"\n", b"\\n") and routed.malformed[0]
        assert routed.hours[0] == 1


def test_file_names_round_trip():
    name = file_name("shopper.events-p3", "0123456789ab", 7, 42, 1_000_000_000_123)
    parsed = parse_name(f"date=2026-11-20/hour=13/{name}")
    assert (parsed.topic, parsed.tag, parsed.partition, parsed.first, parsed.last) == (
        "shopper.events-p3",
        "0123456789ab",
        7,
        42,
        1_000_000_000_123,
    )
    assert parse_name("gen-s42-2026112013-000.jsonl.gz") is None


def test_produced_messages_are_the_simulated_events():
    """produce_events sends simulate_events' events, rendered by the generator's encoder."""
    start, n = datetime.date(2026, 11, 20), 1500
    messages = [json.loads(v) for values, _ in event_messages(start, n, 7, n) for v in values]
    keys = [k for _, keys in event_messages(start, n, 7, n) for k in keys]
    rows = []
    for table in simulate_events(GeneratorConfig(start=start, days=2, events_per_day=n, seed=7)):
        rows += table.to_pylist()
        if len(rows) >= n:
            break
    assert len(messages) == n
    for message, key, row in zip(messages, keys, rows[:n], strict=True):
        assert message["event_id"] == row["event_id"] and key.decode() == row["user_id"]
        assert message["event_time"] == row["event_time"].strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"
        assert {k: v for k, v in row.items() if v is not None and k != "event_time"} == {
            k: v for k, v in message.items() if k != "event_time"
        }


def event(i: int, hour: int) -> bytes:
    return json.dumps({"event_id": f"e{i}", "event_time": f"2026-11-20T{hour:02d}:00:00.000Z"}).encode()


def lines_of_group(group) -> list[bytes]:
    return gzip.decompress(group.gzip()).split(b"\n")[:-1]


def test_interleaved_hours_are_gathered_in_offset_order():
    """Every other message in another hour: too many runs to slice, so the batch is gathered."""
    values = [event(i, 10 + i % 2) for i in range(300)]
    chunk = prepare(values, [Timestamped(0)] * 300, 0, connect())
    groups = group_files([chunk], np.zeros(300, np.int32), np.arange(300, dtype=np.int64))
    assert [len(g.slices) for g in groups] == [1, 1]
    for group, parity in zip(groups, (0, 1), strict=True):
        assert lines_of_group(group) == [values[i] for i in range(parity, 300, 2)]


def test_runs_across_chunks_and_partitions_are_sliced_without_copies():
    values = [event(i, 10 + i // 100) for i in range(400)]  # hours 10..13, 100 messages each
    chunks = [
        prepare(values[:260], [Timestamped(0)] * 260, 0, connect()),
        prepare(values[260:], [Timestamped(0)] * 140, 0, connect()),
    ]
    tp_codes = np.array([(i // 25) % 2 for i in range(400)], dtype=np.int32)  # two partitions, runs of 25
    offsets = np.array([int((tp_codes[:i] == tp_codes[i]).sum()) for i in range(400)], dtype=np.int64)
    groups = group_files(chunks, tp_codes, offsets)
    assert sorted((g.tp, g.hour - 498_658) for g in groups) == [(tp, h) for tp in (0, 1) for h in range(4)]
    # (partition 0, hour 12) = rows 200-224 and 250-274, the second run cut by the chunk boundary
    assert sorted(len(g.slices) for g in groups) == [2] * 7 + [3]
    for g in groups:
        mine = [i for i in range(400) if tp_codes[i] == g.tp and 10 + i // 100 == g.hour - 498_648]
        assert lines_of_group(g) == [values[i] for i in mine]


def test_a_partition_delivered_twice_in_a_batch_is_landed_once():
    """After a rebalance inside a batch, a partition restarts at its committed offset."""
    got = Collected(set(), "t")
    got.partitions = [0] * 6 + [1] * 2
    got.offsets = [0, 1, 2, 1, 2, 3, 0, 1]  # partition 0: offsets 1 and 2 came twice
    batch = build_batch(got)
    assert batch.kept.tolist() == [0, 1, 2, 5, 6, 7]
    assert (batch.firsts, batch.lasts) == ({("t", 0): 0, ("t", 1): 0}, {("t", 0): 3, ("t", 1): 1})
    values = [event(i, 10) for i in range(8)]
    chunk = prepare(values, [Timestamped(0)] * 8, 0, connect()).take(batch.kept)
    groups = group_files([chunk], batch.tp_codes, batch.offsets)
    assert [lines_of_group(g) for g in groups] == [[values[i] for i in (0, 1, 2, 5)], [values[6], values[7]]]
